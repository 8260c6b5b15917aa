/**
 * Errors nobody catches never become raw stacks (issue 13, defects 1 and 2): an input file klv
 * may not read is a usage error before anything else, and the last line of defence turns any
 * uncaught exception or unhandled rejection into one scrubbed klv error with exit 1.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, runKlv } from '../helpers/cli.js';

const KEY = 'pk_live_lastresort_0123456789abcdef';
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'klv-last-resort-'));
  chmodSync(work, 0o755);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const env = (extra: NodeJS.ProcessEnv = {}) =>
  cleanEnv({ HOME: work, XDG_CONFIG_HOME: join(work, 'xdg'), KLAVIYO_PRIVATE_API_KEY: KEY, KLAVIYO_BASE_URL: 'http://127.0.0.1:9', ...extra });

describe('an input file klv may not read', () => {
  it('is exit 2 with the reason, before any request, and no stack', async () => {
    const file = join(work, 'locked.csv');
    writeFileSync(file, 'Email\nann@example.com\n');
    chmodSync(file, 0o000);
    // Root reads any file: run as nobody there, so that the permission applies.
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const r = await runKlv(['import', 'profiles', 'locked.csv', '--op', 'upsert'], { cwd: work, env: env(), ...asNobody });
    expect(r.stderr).toMatch(/^error: Cannot read locked\.csv: permission denied \(EACCES\)\.\nhint: Check the file's permissions/m);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).not.toMatch(/Unhandled 'error' event|at .*\.js:\d+|node:events/);
  });
});

describe('the last line of defence', () => {
  // A preload that fails the way a library's stray 'error' event or a forgotten promise would,
  // with the key in its message, once the command runs (at its first write to stdout).
  const failing = (how: string) => [
    '--import',
    `data:text/javascript,const write = process.stdout.write.bind(process.stdout); process.stdout.write = (...a) => { process.stdout.write = write; setImmediate(() => { ${how} }); return write(...a); };`,
  ];

  it.each([
    ['an uncaught exception', `throw new Error('boom with ${KEY} inside')`],
    ['an unhandled rejection', `Promise.reject(new Error('boom with ${KEY} inside'))`],
  ])('turns %s into one scrubbed klv error and exit 1', async (_what, how) => {
    const r = await runKlv(['objects'], { cwd: work, env: env(), nodeArgs: failing(how) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: unexpected failure: boom with pk_live…cdef inside\nhint: This is a bug in klv/m);
    expect(r.stderr).not.toContain(KEY);
    expect(r.stderr).not.toMatch(/at .*:\d+:\d+/);
  });

  it('shows the stack with KLV_DEBUG, still without the key', async () => {
    const r = await runKlv(['objects'], { cwd: work, env: env({ KLV_DEBUG: '1' }), nodeArgs: failing(`throw new Error('boom with ${KEY} inside')`) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/at .*:\d+:\d+/);
    expect(r.stderr).not.toContain(KEY);
  });
});
