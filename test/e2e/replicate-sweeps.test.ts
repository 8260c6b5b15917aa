/**
 * Deletion sweeps that must not mark anything, and archived flows, with the built CLI against
 * `klv emulator` (a small demo account) behind a loopback proxy (test/helpers/klaviyo-proxy.ts)
 * that changes the one answer each scenario needs:
 *   1. Klaviyo lists archived flows only when the filter names archived (as its app hides them;
 *      the proxy does it until the emulator has such a quirk): `klv export flows` leaves them
 *      out, `--include-archived` and `klv replicate` read them, and a flow archived between two
 *      runs is updated in the replica, not marked deleted;
 *   2. a list deleted while the ListMembers sweep reads its members (404): nothing is marked, a
 *      warning names the list on stderr and in --json, exit 0, the last sweep time stays; the
 *      next run's complete sweep marks what is really gone.
 * Accounts are changed between runs with GET /_emulator/state and POST /_emulator/load.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { spawnEmulator, type EmulatorProcess } from '../helpers/emulator.js';
import { startKlaviyoProxy, type KlaviyoProxy } from '../helpers/klaviyo-proxy.js';

const KEY = 'pk_sweeps_e2e_0123456789abcdef0123';

let root: string;
const emulators: EmulatorProcess[] = [];
const proxies: KlaviyoProxy[] = [];

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-sweeps-')));
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  for (const e of emulators) await e.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

async function emulator(): Promise<string> {
  const e = spawnEmulator(['--port', '0', '--rate-limits', 'off', '--profiles', '60'], cleanEnv());
  emulators.push(e);
  return e.url;
}

function klv(url: string, args: string[]): Promise<RunResult> {
  return runKlv(args, {
    env: cleanEnv({ KLAVIYO_BASE_URL: url, KLAVIYO_PRIVATE_API_KEY: KEY, HOME: root, XDG_CONFIG_HOME: join(root, '.config') }),
    cwd: root,
    timeoutMs: 120_000,
  });
}

function expectOk(r: RunResult): void {
  if (r.code !== 0) throw new Error(`klv exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

async function state(url: string): Promise<any> {
  return (await fetch(`${url}/_emulator/state`)).json();
}

async function load(url: string, snapshot: unknown): Promise<void> {
  const res = await fetch(`${url}/_emulator/load`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(snapshot) });
  if (!res.ok) throw new Error(`POST /_emulator/load answered ${res.status}: ${await res.text()}`);
}

function rows(file: string, sql: string, ...params: unknown[]): Array<Record<string, unknown>> {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}

const ndjson = (text: string) => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('archived flows', () => {
  let emu: string;
  let url: string;

  beforeAll(async () => {
    emu = await emulator();
    // GET /api/flows without an archived condition leaves archived flows out.
    const proxy = await startKlaviyoProxy(emu, {
      rewrite: (req, body) => {
        if (req.path.replace(/\/$/, '') !== '/api/flows' || (req.query.get('filter') ?? '').includes('archived')) return body;
        return { ...body, data: body.data.filter((f: any) => f.attributes?.archived !== true) };
      },
    });
    proxies.push(proxy);
    url = proxy.url;
  });

  it('export leaves them out unless --include-archived; replicate reads them; a flow archived between runs is updated, not deleted', async () => {
    const account = await state(emu);
    const flows = account.resources.flow as Array<{ id: string; attributes: Record<string, unknown> }>;
    const archived = flows.filter((f) => f.attributes.archived === true).map((f) => f.id);
    const shown = flows.filter((f) => f.attributes.archived !== true).map((f) => f.id);
    expect(archived.length).toBeGreaterThan(0);
    expect(shown.length).toBeGreaterThan(1);

    const plain = await klv(url, ['export', 'flows', '--format', 'ndjson']);
    expectOk(plain);
    expect(ndjson(plain.stdout).map((r) => r.Id).sort()).toEqual([...shown].sort());
    const all = await klv(url, ['export', 'flows', '--format', 'ndjson', '--include-archived']);
    expectOk(all);
    expect(ndjson(all.stdout).map((r) => r.Id).sort()).toEqual(flows.map((f) => f.id).sort());

    const db = join(root, 'flows.db');
    expectOk(await klv(url, ['replicate', 'flows', '--to', `sqlite:${db}`]));
    expect(rows(db, 'SELECT Id, Archived FROM flows ORDER BY Id')).toEqual(
      flows.map((f) => ({ Id: f.id, Archived: f.attributes.archived ? 1 : 0 })).sort((a, b) => (a.Id < b.Id ? -1 : 1)),
    );

    // Archived in Klaviyo's app: it leaves GET /api/flows unless the filter names archived.
    const target = account.resources.flow.find((f: any) => f.id === shown[0]);
    target.attributes.archived = true;
    target.attributes.updated = new Date(Date.now() - 60_000).toISOString().replace('Z', '+00:00');
    await load(emu, account);

    const second = await klv(url, ['replicate', 'flows', '--to', `sqlite:${db}`, '--json']);
    expectOk(second);
    expect(JSON.parse(second.stdout).objects[0]).toMatchObject({ object: 'Flows', deleted: 0, swept: true, updated: 1, sweepIncomplete: null });
    expect(rows(db, 'SELECT Archived, _klv_deleted_at FROM flows WHERE Id = ?', shown[0])).toEqual([{ Archived: 1, _klv_deleted_at: null }]);
    expect(rows(db, 'SELECT COUNT(*) AS n FROM flows WHERE _klv_deleted_at IS NULL')).toEqual([{ n: flows.length }]);
  }, 120_000);
});

describe('a list deleted while the ListMembers sweep reads its members', () => {
  it('marks nothing, warns on stderr and in --json, exits 0 and keeps the last sweep time; the next complete sweep marks what is gone', async () => {
    const emu = await emulator();
    let vanished: string | undefined;
    // The sweep's id-only read asks for joined_group_at alone; the list is gone by then.
    const proxy = await startKlaviyoProxy(emu, {
      answer: (req) => {
        const m = /^\/api\/lists\/([^/]+)\/profiles\/?$/.exec(req.path);
        if (!m || m[1] !== vanished || req.query.get('fields[profile]') !== 'joined_group_at') return undefined;
        return { status: 404, body: { errors: [{ id: 'e404', status: 404, code: 'not_found', title: 'Not found.', detail: `A list with id ${vanished} does not exist.`, source: {} }] } };
      },
    });
    proxies.push(proxy);
    const db = join(root, 'members.db');
    expectOk(await klv(proxy.url, ['replicate', 'list-members', '--to', `sqlite:${db}`]));
    const live = () => rows(db, 'SELECT COUNT(*) AS n FROM list_members WHERE _klv_deleted_at IS NULL')[0]!.n as number;
    const before = live();
    expect(before).toBeGreaterThan(1);
    const sweptAt = async () => JSON.parse((await klv(proxy.url, ['replicate', 'state', '--to', `sqlite:${db}`, '--json'])).stdout).find((s: any) => s.object === 'ListMembers').lastSweepAt;
    const firstSweep = await sweptAt();

    // One membership really ends (a complete sweep would mark it), and another list vanishes mid-sweep.
    const account = await state(emu);
    const lists = Object.entries(account.listMembers as Record<string, Record<string, unknown>>).filter(([, m]) => Object.keys(m).length > 0);
    expect(lists.length).toBeGreaterThan(1);
    const [leftList, leftMembers] = lists[0]!;
    const left = Object.keys(leftMembers)[0]!;
    delete account.listMembers[leftList][left];
    await load(emu, account);
    vanished = lists[1]![0];

    const r = await klv(proxy.url, ['replicate', 'list-members', '--to', `sqlite:${db}`, '--sweep-deletes', 'always', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `warning: ListMembers: deletions not checked this run, nothing marked deleted in list_members: the id-only read of ListMembers was incomplete (the members of list ${vanished}: Klaviyo answered 404 Not Found for them: the list was deleted while klv read it)`,
    );
    expect(r.stderr).toMatch(/ListMembers -> list_members: .*deletions not checked/);
    const summary = JSON.parse(r.stdout);
    expect(summary.sweepsIncomplete).toEqual(['ListMembers']);
    expect(summary.objects[0]).toMatchObject({ object: 'ListMembers', deleted: 0, swept: false, sweepIncomplete: expect.stringContaining(`the members of list ${vanished}`) });
    expect(live()).toBe(before);
    expect(await sweptAt()).toBe(firstSweep);

    vanished = undefined;
    const next = await klv(proxy.url, ['replicate', 'list-members', '--to', `sqlite:${db}`, '--sweep-deletes', 'always', '--json']);
    expectOk(next);
    expect(JSON.parse(next.stdout).objects[0]).toMatchObject({ deleted: 1, swept: true, sweepIncomplete: null });
    expect(rows(db, 'SELECT ListId, ProfileId FROM list_members WHERE _klv_deleted_at IS NOT NULL')).toEqual([{ ListId: leftList, ProfileId: left }]);
  }, 120_000);
});
