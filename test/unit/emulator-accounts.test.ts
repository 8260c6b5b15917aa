/**
 * The emulator serves one Klaviyo account: every private key of the account shares its rate-limit
 * windows (Klaviyo: "private key integrations share the same rate limit quota per account"), and
 * a key may carry scopes that restrict the endpoints it can call (403 permission_denied).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { emulatorOptionsFrom } from '../../src/cli/commands/emulator.js';
import type { EmulatorFlags } from '../../src/cli/flags.js';
import { UsageError } from '../../src/core/errors.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';

const KEY_A = 'pk_account_key_a_0123456789';
const KEY_B = 'pk_account_key_b_0123456789';
const REVISION = '2026-07-15';
/** Mid-second, so that every request of a test falls into the same burst window. */
const T0 = Date.UTC(2026, 2, 1, 12, 0, 30, 250);

let emu: RunningEmulator;
let clockMs = T0;

beforeAll(async () => {
  emu = await startEmulator({ data: 'empty', rateLimits: 'spec', clock: () => new Date(clockMs) });
});

afterAll(async () => {
  await emu.close();
});

beforeEach(async () => {
  clockMs = T0;
  await admin('POST', '/_emulator/rate-limits', { mode: 'spec', reset: true });
});

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(emu.url + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

async function get(path: string, key: string, base = emu.url) {
  const res = await fetch(base + path, { headers: { authorization: `Klaviyo-API-Key ${key}`, revision: REVISION } });
  const text = await res.text();
  return { status: res.status, text, body: (text ? JSON.parse(text) : null) as any };
}

describe('rate limits are per account', () => {
  it('two keys of the account share one burst window', async () => {
    // GET /api/accounts allows 1 request per second.
    expect((await get('/api/accounts', KEY_A)).status).toBe(200);
    const second = await get('/api/accounts', KEY_B);
    expect(second.status).toBe(429);
    expect(second.body.errors[0].code).toBe('throttled');
    clockMs += 1000;
    expect((await get('/api/accounts', KEY_B)).status).toBe(200);
  });

  it('POST /_emulator/rate-limits {"reset": true} empties every window, keeping the mode', async () => {
    expect((await get('/api/accounts', KEY_A)).status).toBe(200);
    expect((await get('/api/accounts', KEY_A)).status).toBe(429);
    const reset = await admin('POST', '/_emulator/rate-limits', { reset: true });
    expect(reset).toEqual({ status: 200, body: { mode: 'spec', reset: true } });
    expect((await get('/api/accounts', KEY_A)).status).toBe(200);
    expect((await get('/api/accounts', KEY_B)).status).toBe(429);
  });

  it('refuses a rate-limits body that asks for nothing or for something unknown', async () => {
    for (const body of [{}, { mode: 'fast' }, { reset: 'yes' }, { reset: true, extra: 1 }, null]) {
      const r = await admin('POST', '/_emulator/rate-limits', body);
      expect(r.status).toBe(400);
      expect(r.body.errors[0].detail).toContain('{"reset": true}');
    }
  });
});

describe('scopes', () => {
  let scoped: RunningEmulator;
  const SCOPED_KEY = 'pk_scoped_key_0123456789';

  beforeAll(async () => {
    scoped = await startEmulator({ data: 'empty', rateLimits: 'spec', clock: () => new Date(clockMs), key: SCOPED_KEY, scopes: ['profiles:read', 'lists:write'] });
  });

  afterAll(async () => {
    await scoped.close();
  });

  beforeEach(async () => {
    await fetch(`${scoped.url}/_emulator/rate-limits`, { method: 'POST', body: JSON.stringify({ reset: true }) });
  });

  it('answers 403 permission_denied, Klaviyo-shaped, naming the scope the key lacks', async () => {
    const r = await get('/api/accounts', SCOPED_KEY, scoped.url);
    expect(r.status).toBe(403);
    expect(r.body.errors).toHaveLength(1);
    const e = r.body.errors[0];
    expect(e).toMatchObject({
      status: 403,
      code: 'permission_denied',
      title: 'You do not have permission to perform this action.',
      source: { pointer: '/data/' },
    });
    expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(e.detail).toContain('accounts:read');
    expect(r.text).not.toContain(SCOPED_KEY);
  });

  it('lets the key call what its scopes cover; a :write scope includes :read of the same resource', async () => {
    expect((await get('/api/profiles?page[size]=1', SCOPED_KEY, scoped.url)).status).toBe(200);
    expect((await get('/api/lists', SCOPED_KEY, scoped.url)).status).toBe(200);
    // Needs lists:read and profiles:read: lists:read comes with lists:write.
    expect((await get('/api/profile-bulk-import-jobs', SCOPED_KEY, scoped.url)).status).toBe(200);
    const segments = await get('/api/segments', SCOPED_KEY, scoped.url);
    expect(segments.status).toBe(403);
    expect(segments.body.errors[0].detail).toContain('segments:read');
  });

  it('names only the missing scopes of an operation that needs several', async () => {
    // GET /api/push-tokens needs profiles:read and push-tokens:read.
    const r = await get('/api/push-tokens', SCOPED_KEY, scoped.url);
    expect(r.status).toBe(403);
    expect(r.body.errors[0].detail).toBe(
      'This API key lacks the scope push-tokens:read, which GET /api/push-tokens needs. Use a key created with that access (Klaviyo > Settings > API keys).',
    );
  });

  it('refuses before rate limiting: a 403 leaves the window untouched', async () => {
    const account = 'pk_account_reader_0123456789';
    await fetch(`${scoped.url}/_emulator/keys`, { method: 'POST', body: JSON.stringify({ key: account, scopes: ['accounts:read'] }) });
    expect((await get('/api/accounts', SCOPED_KEY, scoped.url)).status).toBe(403);
    expect((await get('/api/accounts', account, scoped.url)).status).toBe(200);
  });

  it('accepts only the --key key and registered keys, each with its own scopes', async () => {
    const other = 'pk_other_key_0123456789';
    const refused = await get('/api/profiles', other, scoped.url);
    expect(refused.status).toBe(401);
    expect(refused.body.errors[0].detail).toContain('POST /_emulator/keys');
    const registered = await fetch(`${scoped.url}/_emulator/keys`, { method: 'POST', body: JSON.stringify({ key: other, scopes: ['lists:read'] }) });
    const text = await registered.text();
    expect(registered.status).toBe(200);
    expect(JSON.parse(text)).toEqual({ registered: true, scopes: ['lists:read'] });
    expect(text).not.toContain(other);
    expect((await get('/api/lists', other, scoped.url)).status).toBe(200);
    expect((await get('/api/profiles', other, scoped.url)).status).toBe(403);
    // Registered again without scopes: every scope.
    await fetch(`${scoped.url}/_emulator/keys`, { method: 'POST', body: JSON.stringify({ key: other }) });
    expect((await get('/api/profiles?page[size]=1', other, scoped.url)).status).toBe(200);
  });

  it('keeps accepting any private key, with every scope, when no --key was given', async () => {
    const limited = 'pk_limited_key_0123456789';
    const r = await admin('POST', '/_emulator/keys', { key: limited, scopes: ['profiles:read'] });
    expect(r.status).toBe(200);
    expect((await get('/api/lists', limited)).status).toBe(403);
    expect((await get('/api/lists', 'pk_anything_else_0123456789')).status).toBe(200);
  });

  it('refuses a key registration with an unknown scope, a bad key or unknown fields, never echoing the key', async () => {
    const unknown = await admin('POST', '/_emulator/keys', { key: 'pk_new_key_0123456789', scopes: ['profiles:read', 'profiles:full'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors[0].detail).toMatch(/unknown scope "profiles:full".*accounts:read/);
    const badKey = await admin('POST', '/_emulator/keys', { key: 'xx_secret_value_123', scopes: [] });
    expect(badKey.status).toBe(400);
    expect(JSON.stringify(badKey.body)).not.toContain('xx_secret_value_123');
    expect((await admin('POST', '/_emulator/keys', { key: 'pk_new_key_0123456789', scope: ['profiles:read'] })).status).toBe(400);
    expect((await admin('POST', '/_emulator/keys', { key: 'pk_new_key_0123456789', scopes: 'profiles:read' })).status).toBe(400);
  });

  it('refuses scopes the spec does not use, and scopes without a key, at start', async () => {
    await expect(startEmulator({ data: 'empty', key: SCOPED_KEY, scopes: ['lists:full'] })).rejects.toThrow(/Unknown scope lists:full/);
    await expect(startEmulator({ data: 'empty', scopes: ['lists:read'] })).rejects.toThrow(/key/);
  });
});

describe('klv emulator --scopes', () => {
  const parse = (options: Partial<EmulatorFlags>) => emulatorOptionsFrom(options, process.cwd());
  const usage = (options: Partial<EmulatorFlags>): UsageError => {
    try {
      parse(options);
    } catch (err) {
      if (err instanceof UsageError) return err;
      throw err;
    }
    throw new Error('expected a usage error');
  };

  it('gives the --key key the listed scopes, spaces and empty items ignored', () => {
    expect(parse({ key: KEY_A, scopes: 'profiles:read, lists:write,' }).scopes).toEqual(['profiles:read', 'lists:write']);
    expect(parse({ key: KEY_A }).scopes).toBeUndefined();
  });

  it('refuses --scopes without --key, an empty list and scope names the spec does not use', () => {
    expect(usage({ scopes: 'profiles:read' }).message).toMatch(/--scopes names the scopes of the --key key/);
    expect(usage({ key: KEY_A, scopes: ' , ' }).message).toMatch(/--scopes is empty/);
    const unknown = usage({ key: KEY_A, scopes: 'profiles:read,profiles:full,lists' });
    expect(unknown.message).toBe('--scopes: unknown scopes profiles:full, lists.');
    expect(unknown.hint).toContain('accounts:read');
  });
});
