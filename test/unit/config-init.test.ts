/**
 * `klv config init` in-process: flags only when not on a terminal, questions on a terminal
 * (the key typed without echo), the file written 0600, never the key in any output.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parse } from 'yaml';
import { CommandContext, type GlobalOptions } from '../../src/cli/context.js';
import { run } from '../../src/cli/commands/config-init.js';
import { UsageError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-code.js';
import { testContext, type TestIO } from '../helpers/io.js';

const KEY = 'pk_init_test_0123456789abcdef012345';
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

interface Harness {
  ctx: CommandContext;
  home: string;
  userFile: string;
  stdin: PassThrough;
  stdout: () => string;
  stderr: () => string;
  answer: TestIO['answer'];
}

function harness(o: { tty?: boolean; globals?: Partial<GlobalOptions>; env?: NodeJS.ProcessEnv } = {}): Harness {
  const home = mkdtempSync(join(tmpdir(), 'klv-init-'));
  roots.push(home);
  const t = testContext({ cwd: home, env: { HOME: home, ...o.env }, tty: o.tty, globals: o.globals });
  return { ...t, home, userFile: join(home, '.config', 'klv', 'config.yaml') };
}

/** Plays a person at the terminal: waits for each prompt on stderr, then types the answer and Enter. */
function answer(h: Harness, script: Array<[prompt: string, typed: string]>): void {
  h.answer(script.map(([prompt, typed]) => [prompt, `${typed}\r`] as const));
}

describe('non-interactive (flags only)', () => {
  it('writes the profile with mode 0600 and says how to check it', async () => {
    const h = harness({ env: { MY_KEY: KEY } });
    const code = await run(h.ctx, [], { privateKeyEnv: 'MY_KEY', publicKey: 'AbC123', revision: '2026-07-15' });
    expect(code).toBe(0);
    expect(parse(readFileSync(h.userFile, 'utf8'))).toEqual({
      profiles: { default: { privateKeyEnv: 'MY_KEY', publicKey: 'AbC123', revision: '2026-07-15' } },
    });
    if (process.platform !== 'win32') expect(statSync(h.userFile).mode & 0o777).toBe(0o600);
    expect(h.stderr()).toContain(`Wrote profile 'default' in ${h.userFile} (mode 0600).`);
    expect(h.stderr()).toContain('klv doctor');
    expect(h.stdout()).toBe('');
  });

  it('fails with a usage error listing the flags when no key source is given', async () => {
    const h = harness();
    const err = await run(h.ctx, [], {}).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.exitCode).toBe(ExitCode.Usage);
    expect(err.hint).toContain('--private-key-env');
    expect(err.hint).toContain('--private-key-file');
    expect(err.hint).toContain('--private-key-stdin');
  });

  it('refuses two key sources at once', async () => {
    const h = harness();
    const err = await run(h.ctx, [], { privateKeyEnv: 'A', privateKeyFile: '/k' }).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('give only one');
  });

  it('refuses to overwrite an existing profile without --force, keeps others with it', async () => {
    const h = harness({ globals: { profile: 'staging' } });
    await run(h.ctx, [], { privateKeyEnv: 'A' });
    const other = harness({ globals: { profile: 'prod' } });
    // Same home for the second and third runs.
    const path = join(h.home, 'team.yaml');
    writeFileSync(path, '# keep me\nprofiles:\n  prod:\n    privateKeyEnv: PROD\n');
    const refused = await run(other.ctx, [], { privateKeyEnv: 'B', path }).catch((e) => e);
    expect(refused).toBeInstanceOf(UsageError);
    expect(refused.message).toBe(`Profile 'prod' already exists in ${path}`);
    expect(refused.hint).toContain('--force');
    expect(await run(other.ctx, [], { privateKeyEnv: 'B', path, force: true })).toBe(0);
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('# keep me');
    expect(parse(text).profiles.prod).toEqual({ privateKeyEnv: 'B' });
    expect(other.stderr()).toContain("Replaced profile 'prod'");
  });

  it('--private-key-stdin stores the key from a pipe and never prints it', async () => {
    const h = harness({ globals: { json: true } });
    h.ctx.io.json = true;
    h.stdin.end(`${KEY}\n`);
    const path = join(h.home, '.klaviyorc.yaml');
    expect(await run(h.ctx, [], { privateKeyStdin: true, path })).toBe(0);
    expect(parse(readFileSync(path, 'utf8')).profiles.default).toEqual({ privateKey: KEY });
    expect(JSON.parse(h.stdout())).toEqual({ path, profile: 'default', replaced: false, keySetting: 'privateKey', mode: '0600' });
    expect(h.stderr()).toContain('keep it out of version control');
    for (const text of [h.stdout(), h.stderr()]) {
      expect(text).not.toContain(KEY);
      expect(text).not.toContain(KEY.slice(0, 12));
    }
  });

  it('validates what it writes, without echoing a key given in the wrong flag', async () => {
    const h = harness();
    let err = await run(h.ctx, [], { privateKeyEnv: KEY }).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('was given a key');
    expect(`${err.message}${err.hint}`).not.toContain(KEY.slice(0, 12));
    err = await run(h.ctx, [], { privateKeyEnv: 'K', baseUrl: 'http://example.com' }).catch((e) => e);
    expect(err.exitCode).toBe(ExitCode.Usage);
    expect(err.message).toContain('--base-url');
    err = await run(h.ctx, [], { privateKeyEnv: 'K', revision: 'latest' }).catch((e) => e);
    expect(err.message).toContain('--revision');
    h.stdin.end('AbC123\n');
    err = await run(h.ctx, [], { privateKeyStdin: true }).catch((e) => e);
    expect(err.message).toContain('Public API Key');
  });

  it('makes a relative --private-key-file absolute (config paths are relative to the config file)', async () => {
    const h = harness();
    await run(h.ctx, [], { privateKeyFile: 'keys/klaviyo' });
    expect(parse(readFileSync(h.userFile, 'utf8')).profiles.default).toEqual({ privateKeyFile: join(h.home, 'keys/klaviyo') });
    expect(h.stderr()).toContain('does not exist yet');
  });
});

describe('interactive (a terminal)', { timeout: 10_000 }, () => {
  it('asks, stores the typed key without echoing it', async () => {
    const h = harness({ tty: true, globals: { profile: 'live' } });
    answer(h, [
      ['Choose 1, 2 or 3 [1]: ', '3'],
      ['Private API Key (pk_..., input hidden): ', KEY],
      ['Public API Key (site id, 6 characters; Enter to skip): ', 'XyZ789'],
    ]);
    expect(await run(h.ctx, [], {})).toBe(0);
    expect(parse(readFileSync(h.userFile, 'utf8')).profiles.live).toEqual({ privateKey: KEY, publicKey: 'XyZ789' });
    expect(h.stderr()).not.toContain(KEY.slice(0, 12));
    expect(h.stderr()).toContain('XyZ789'); // ordinary answers are echoed
    expect(h.stderr()).toContain("Wrote profile 'live'");
  });

  it('defaults to an environment variable', async () => {
    const h = harness({ tty: true });
    answer(h, [
      ['Choose 1, 2 or 3 [1]: ', ''],
      ['Environment variable [KLAVIYO_PRIVATE_API_KEY]: ', ''],
      ['Enter to skip): ', ''],
    ]);
    expect(await run(h.ctx, [], {})).toBe(0);
    expect(parse(readFileSync(h.userFile, 'utf8')).profiles.default).toEqual({ privateKeyEnv: 'KLAVIYO_PRIVATE_API_KEY' });
  });

  it('asks only what the flags did not say', async () => {
    const h = harness({ tty: true });
    answer(h, [['Enter to skip): ', 'AbC123']]);
    expect(await run(h.ctx, [], { privateKeyEnv: 'K' })).toBe(0);
    expect(h.stderr()).not.toContain('Choose 1, 2 or 3');
    expect(parse(readFileSync(h.userFile, 'utf8')).profiles.default).toEqual({ privateKeyEnv: 'K', publicKey: 'AbC123' });
  });

  it('input that ends before the answers is a usage error', async () => {
    const h = harness({ tty: true });
    h.stdin.end();
    const err = await run(h.ctx, [], {}).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('ended before the questions were answered');
  });
});
