/**
 * `klv emulator` as a user runs it: the built CLI in its own process, real HTTP on loopback.
 * Needs the build (`npm test` runs it first; otherwise `npx tsc -p tsconfig.json`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, runKlv } from '../helpers/cli.js';
import { spawnEmulator, type EmulatorProcess } from '../helpers/emulator.js';

const KEY = 'pk_e2e_emulator_0123456789';
const HEADERS = { authorization: `Klaviyo-API-Key ${KEY}`, revision: '2026-07-15' };

/** A running `klv emulator`, its address known. */
type Running = Omit<EmulatorProcess, 'url'> & { url: string };

/** Starts `klv emulator ARGS` and resolves once it printed its address. */
async function startCli(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<Running> {
  const emulator = spawnEmulator(args, env);
  try {
    return { ...emulator, url: await emulator.url };
  } catch (err) {
    await emulator.stop();
    throw err;
  }
}

async function get(url: string, headers: Record<string, string> = HEADERS) {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe('klv emulator (spawned CLI)', () => {
  let emu: Running;
  beforeAll(async () => {
    emu = await startCli(['--port', '0', '--rate-limits', 'off', '--profiles', '250']);
  });
  afterAll(() => emu?.stop());

  it('serves GET /api/accounts shaped like the spec', async () => {
    const r = await get(`${emu.url}/api/accounts`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/vnd.api+json');
    expect(r.body.data[0].type).toBe('account');
    expect(r.body.data[0].attributes.public_api_key).toBe('KlvDmo');
    expect(r.body.data[0].links.self).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/accounts\/KlvDmo\/$/);
  });

  it('refuses a request without a revision header (400)', async () => {
    const r = await get(`${emu.url}/api/accounts`, { authorization: HEADERS.authorization });
    expect(r.status).toBe(400);
    expect(r.body.errors[0].source).toEqual({ parameter: 'revision' });
  });

  it('refuses a bad key (401) without echoing it', async () => {
    const r = await get(`${emu.url}/api/accounts`, { ...HEADERS, authorization: 'Klaviyo-API-Key not_a_private_key_123' });
    expect(r.status).toBe(401);
    expect(JSON.stringify(r.body)).not.toContain('not_a_private_key_123');
  });

  it('refuses page[size]=101 on /api/profiles (400 naming the parameter)', async () => {
    const r = await get(`${emu.url}/api/profiles?page[size]=101`);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].source).toEqual({ parameter: 'page[size]' });
  });

  it('refuses a filter on a field the endpoint does not allow (400)', async () => {
    const r = await get(`${emu.url}/api/profiles?filter=${encodeURIComponent("equals(first_name,'Ann')")}`);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].detail).toContain("'first_name' is not a filterable field");
  });

  it('pages through all profiles via links.next, each exactly once', async () => {
    const ids: string[] = [];
    let url: string | undefined = `${emu.url}/api/profiles?page[size]=100&fields[profile]=email`;
    while (url) {
      const r = await get(url);
      expect(r.status).toBe(200);
      ids.push(...r.body.data.map((p: { id: string }) => p.id));
      url = r.body.links.next;
    }
    expect(ids).toHaveLength(250);
    expect(new Set(ids).size).toBe(250);
  });

  it('counts requests in /_emulator/requests and clears them', async () => {
    await fetch(`${emu.url}/_emulator/requests`, { method: 'DELETE' });
    await get(`${emu.url}/api/accounts`);
    await get(`${emu.url}/api/lists`);
    await get(`${emu.url}/api/lists`, {});
    const counts = (await (await fetch(`${emu.url}/_emulator/requests`)).json()) as any;
    expect(counts).toEqual({ total: 3, byOperation: { get_accounts: 1, get_lists: 2 } });
  });

  it('serves a snapshot given with --data FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klv-emu-e2e-'));
    let other: Running | undefined;
    try {
      const state = (await (await fetch(`${emu.url}/_emulator/state`)).json()) as any;
      state.resources.profile = state.resources.profile.slice(0, 3);
      const kept = new Set(state.resources.profile.map((p: { id: string }) => p.id));
      state.resources.event = state.resources.event.filter((e: any) => kept.has(e.relationships.profile?.id));
      for (const members of [state.listMembers, state.segmentMembers]) {
        for (const group of Object.values(members) as Array<Record<string, string>>) {
          for (const id of Object.keys(group)) if (!kept.has(id)) delete group[id];
        }
      }
      const file = join(dir, 'account.json');
      writeFileSync(file, JSON.stringify(state));
      other = await startCli(['--port', '0', '--rate-limits', 'off', '--data', file]);
      const r = await get(`${other.url}/api/profiles`);
      expect(r.body.data.map((p: { id: string }) => p.id)).toEqual([...kept]);
    } finally {
      await other?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('klv emulator rate limits (spec mode)', () => {
  let emu: Running;
  beforeAll(async () => {
    emu = await startCli(['--port', '0', '--profiles', '10', '--key', KEY]);
  });
  afterAll(() => emu?.stop());

  it('answers 429 with Retry-After when /api/accounts (1/s, 15/min) is called 20 times quickly', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => fetch(`${emu.url}/api/accounts`, { headers: HEADERS })));
    const throttled = results.filter((r) => r.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    for (const r of throttled) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await r.json()) as any).errors[0].code).toBe('throttled');
    }
    const ok = results.find((r) => r.status === 200)!;
    expect(ok.headers.get('ratelimit-limit')).toBe('15');
    await Promise.all(results.filter((r) => !r.bodyUsed).map((r) => r.body?.cancel()));
  });

  it('counts profile_count reads in their own 1/s tier, apart from plain list reads', async () => {
    const lists = (await (await fetch(`${emu.url}/api/lists`, { headers: HEADERS })).json()) as any;
    const listUrl = `${emu.url}/api/lists/${lists.data[0].id}`;
    const counted = await Promise.all(
      Array.from({ length: 3 }, () => fetch(`${listUrl}?additional-fields[list]=profile_count`, { headers: HEADERS })),
    );
    expect(counted.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(2);
    const plain = await Promise.all(Array.from({ length: 3 }, () => fetch(listUrl, { headers: HEADERS })));
    expect(plain.map((r) => r.status)).toEqual([200, 200, 200]);
    await Promise.all([...counted, ...plain].map((r) => r.body?.cancel()));
  });

  it('accepts only the --key key', async () => {
    const r = await get(`${emu.url}/api/profiles`, { ...HEADERS, authorization: 'Klaviyo-API-Key pk_some_other_key_1' });
    expect(r.status).toBe(401);
  });
});

describe('klv emulator lifecycle and flags', () => {
  it('stops on SIGTERM and frees the port', async () => {
    const emu = await startCli(['--port', '0', '--rate-limits', 'off', '--profiles', '5']);
    emu.child.kill('SIGTERM');
    // Stopping is the emulator's normal end: exit 0, not 130, and no "Interrupted" error.
    expect(await emu.exited).toBe(0);
    expect(emu.stderr()).toContain('emulator stopped');
    expect(emu.stderr()).not.toMatch(/error:|Interrupted/);
    await expect(fetch(`${emu.url}/api/accounts`, { headers: HEADERS })).rejects.toThrow();
  });

  it('refuses a non-loopback --host with exit 2', async () => {
    const r = await runKlv(['emulator', '--host', '0.0.0.0', '--port', '0'], { timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not a loopback address');
  });
});

describe('klv emulator under KLV_NOW', () => {
  const NOW = '2026-07-15T12:00:00Z';
  const state = async (emu: Running) => (await fetch(`${emu.url}/_emulator/state`)).text();
  const args = ['--port', '0', '--rate-limits', 'off', '--profiles', '40'];

  it('serves the demo account as of KLV_NOW: two emulators started apart serve the same account', async () => {
    const first = await startCli(args, cleanEnv({ KLV_NOW: NOW }));
    let second: Running | undefined;
    try {
      const before = await state(first);
      second = await startCli(args, cleanEnv({ KLV_NOW: NOW }));
      expect(await state(second)).toBe(before);
      // Built as of KLV_NOW: nothing in the account is later, and its newest profile is recent.
      const profiles = (JSON.parse(before) as { resources: { profile: Array<{ attributes: { created: string } }> } }).resources.profile;
      const newest = Math.max(...profiles.map((p) => Date.parse(p.attributes.created)));
      expect(newest).toBeLessThanOrEqual(Date.parse(NOW));
      expect(Date.parse(NOW) - newest).toBeLessThan(365 * 86_400_000);
    } finally {
      await Promise.all([first.stop(), second?.stop()]);
    }
  });

  it('refuses a KLV_NOW that is not an ISO date (exit 2)', async () => {
    const r = await runKlv(['emulator', ...args], { env: cleanEnv({ KLV_NOW: 'next tuesday' }), timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("KLV_NOW 'next tuesday' is not an ISO date");
  });
});
