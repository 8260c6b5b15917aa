/**
 * `klv doctor` as a user runs it: the built CLI in a child process against the emulator on
 * loopback (in this test process, or the built-in one with --demo), with a throwaway HOME and a
 * clean environment. Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';

const RIGHT_KEY = 'pk_right_0123456789abcdef0123456789ab';
const WRONG_KEY = 'pk_wrong_9876543210fedcba9876543210fe';

let emulator: RunningEmulator;
let root: string;
let accountPublicKey: string;

beforeAll(async () => {
  emulator = await startEmulator({ data: 'empty', key: RIGHT_KEY, rateLimits: 'off', seed: 3 });
  accountPublicKey = String((emulator.store.account.attributes as Record<string, unknown>).public_api_key);
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-doctor-')));
  mkdirSync(join(root, 'home', 'project'), { recursive: true });
  writeFileSync(join(root, 'home', 'project', 'package.json'), '{"name":"p"}');
});

afterAll(async () => {
  await emulator?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

function doctor(args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return runKlv(['doctor', ...args], {
    cwd: join(root, 'home', 'project'),
    env: cleanEnv({ HOME: join(root, 'home'), XDG_CONFIG_HOME: join(root, 'xdg'), ...env }),
  });
}

function expectAbsent(r: RunResult, key: string): void {
  for (const text of [r.stdout, r.stderr]) {
    expect(text).not.toContain(key);
    expect(text).not.toContain(key.slice(0, 12));
  }
}

describe('klv doctor --demo', () => {
  it('exits 0 and reports the demo account', async () => {
    const r = await doctor(['--demo'], {});
    expect(r.stderr).toContain('Juniper & Pine Outfitters');
    expect(r.stderr).toMatch(/Public key\s+ok KlvDmo matches the account/);
    expect(r.stderr).toMatch(/Private key\s+pk_demo…0000 from demo emulator/);
    expect(r.stderr).toContain('All checks passed.');
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);
  });

  it('--json prints one JSON object to stdout', async () => {
    const r = await doctor(['--demo', '--json'], {});
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(true);
    expect(report.account).toMatchObject({ organizationName: 'Juniper & Pine Outfitters', currency: 'USD', testAccount: false });
    expect(report.publicKey.status).toBe('ok');
    expect(report.revision.status).toBe('stable');
    expect(report.rateLimit.spec).toEqual({ burstPerSecond: 1, steadyPerMinute: 15 });
  });
});

describe('klv doctor against an emulator', () => {
  const env = (key: string, extra: NodeJS.ProcessEnv = {}) => ({
    KLAVIYO_BASE_URL: emulator.url,
    KLAVIYO_PRIVATE_API_KEY: key,
    ...extra,
  });

  it('the right key: exit 0, the account, the rate-limit headers', async () => {
    const r = await doctor([], env(RIGHT_KEY, { KLAVIYO_PUBLIC_API_KEY: accountPublicKey }));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`Base URL\\s+${emulator.url.replace(/[.]/g, '\\.')} \\(env KLAVIYO_BASE_URL\\)`));
    expect(r.stderr).toMatch(/Private key\s+pk_righ…89ab from env KLAVIYO_PRIVATE_API_KEY/);
    expect(r.stderr).toContain(`ok ${accountPublicKey} matches the account`);
    expect(r.stderr).toMatch(/Rate limit\s+(\d+ of \d+ left in this window|no RateLimit headers)/);
    expectAbsent(r, RIGHT_KEY);
  });

  it('a wrong key: exit 4, what to check, and the key nowhere in the output even with --verbose', async () => {
    for (const args of [[], ['--verbose']]) {
      const r = await doctor(args, env(WRONG_KEY));
      expect(r.code, r.stderr).toBe(4);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain("Klaviyo refused the Private API Key of profile 'default'");
      expect(r.stderr).toContain('Incorrect authentication credentials');
      expect(r.stderr).toContain('pk_wron…10fe (from env KLAVIYO_PRIVATE_API_KEY)');
      expect(r.stderr).toContain('klv config show');
      expectAbsent(r, WRONG_KEY);
    }
  });

  it('a public key from another account: exit 1 and both keys named', async () => {
    const r = await doctor([], env(RIGHT_KEY, { KLAVIYO_PUBLIC_API_KEY: 'Zz9Zz9' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`mismatch configured Zz9Zz9, account has ${accountPublicKey}`);
  });

  it('no public key configured: exit 0 with a suggestion', async () => {
    const r = await doctor([], env(RIGHT_KEY));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('No Public API Key is configured');
    expect(r.stderr).toContain(`KLAVIYO_PUBLIC_API_KEY=${accountPublicKey}`);
  });

  it('judges the revision by KLV_NOW: deprecated warns (exit 0), retired fails (exit 1)', async () => {
    const base = env(RIGHT_KEY, { KLAVIYO_PUBLIC_API_KEY: accountPublicKey, KLAVIYO_REVISION: '2026-01-15' });
    let r = await doctor([], { ...base, KLV_NOW: '2027-03-01' });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: API revision 2026-01-15 is deprecated since 2027-01-15 and will be retired on 2028-01-15');
    r = await doctor([], { ...base, KLV_NOW: '2028-02-01' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: API revision 2026-01-15 was retired on 2028-01-15');
  });
});

describe('klv doctor: the scopes each command needs, against a key that lacks some', () => {
  // Registered on the emulator with these scopes only (POST /_emulator/keys).
  const SCOPED_KEY = 'pk_scoped_0123456789abcdef0123456789';
  const env = (key: string) => ({ KLAVIYO_BASE_URL: emulator.url, KLAVIYO_PRIVATE_API_KEY: key, KLAVIYO_PUBLIC_API_KEY: accountPublicKey });
  const admin = async (method: string, path: string, body?: unknown) =>
    (await fetch(emulator.url + path, { method, body: body === undefined ? undefined : JSON.stringify(body) })).json() as Promise<any>;

  beforeAll(async () => {
    await admin('POST', '/_emulator/keys', { key: SCOPED_KEY, scopes: ['accounts:read', 'profiles:read', 'lists:write'] });
  });

  it('names the missing read scopes and what klv cannot do without them; exit 0 (warnings)', async () => {
    const r = await doctor([], env(SCOPED_KEY));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Scopes\s+2 of \d+ read scopes granted; missing: campaigns:read, .*segments:read/);
    expect(r.stderr).toMatch(/^ {2}lists:read +ok +export Lists, ListMembers/m);
    expect(r.stderr).toMatch(/^ {2}segments:read +missing +export Segments, SegmentMembers$/m);
    expect(r.stderr).toMatch(/^ {2}templates:write +missing +import EmailTemplates \(insert, update, delete\); sync EmailTemplates$/m);
    expect(r.stderr).toMatch(/^ {2}profiles:write +unchecked +import /m);
    expect(r.stderr).toContain('warning: The key lacks segments:read: klv cannot export, query or replicate Segments, SegmentMembers');
    expect(r.stderr).toContain('Give a key Read access to Segments in Klaviyo');
    expect(r.stderr).toContain('note: Write scopes are not checked (that would mean writing): lists:write, profiles:write');
    expectAbsent(r, SCOPED_KEY);
  });

  it('--json: every read scope checked with one request, and each command with the scopes it lacks', async () => {
    await admin('DELETE', '/_emulator/requests');
    const r = await doctor(['--json'], env(SCOPED_KEY));
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    const status = Object.fromEntries(report.scopes.checked.map((c: any) => [c.scope, c.status]));
    expect(status).toMatchObject({ 'lists:read': 'granted', 'profiles:read': 'granted', 'campaigns:read': 'missing', 'templates:read': 'missing' });
    expect(report.scopes.commands).toContainEqual({ command: 'export', object: 'Lists', operation: null, when: null, scopes: ['lists:read'], missing: [] });
    expect(report.scopes.commands).toContainEqual({
      command: 'sync',
      object: 'Campaigns',
      operation: null,
      when: null,
      scopes: ['campaigns:write', 'templates:read'],
      missing: ['campaigns:write', 'templates:read'],
    });
    // GET /api/accounts, then one request per read scope checked.
    const requests = await admin('GET', '/_emulator/requests');
    expect(requests.total).toBe(1 + report.scopes.checked.filter((c: any) => c.operationId).length);
    for (const c of report.scopes.checked.filter((x: any) => x.operationId)) expect(requests.byOperation[c.operationId], c.operationId).toBe(1);
  });

  it('a key with every scope: every read scope granted, no scope warning', async () => {
    const r = await doctor(['--json'], env(RIGHT_KEY));
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.scopes.checked.filter((c: any) => c.status !== 'granted')).toEqual([]);
    expect(report.findings.filter((f: any) => f.level === 'warning')).toEqual([]);
  });
});
