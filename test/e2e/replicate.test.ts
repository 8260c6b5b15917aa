/**
 * Must-shows of `klv replicate` (issue 6), against `klv emulator` as a separate process with the
 * demo account, the built CLI, and SQLite files read back with better-sqlite3:
 *   1. every table's row count equals the emulator's own account (GET /_emulator/state);
 *   2. after 10 templates, 5 campaigns and 3 suppressions changed through `klv import`, the next
 *      run changes exactly those rows, with a small fraction of the first run's requests;
 *   3. a run killed (SIGKILL) once some tables are written, then run again, leaves the same tables
 *      as a clean replication into another file;
 *   4. a list deleted in the emulator gets `_klv_deleted_at` on the next run, and so do its rows
 *      in list_members (in the same run, not the next daily membership sweep);
 *   5. Klaviyo listing no list at all is refused (exit 3, nothing marked) until
 *      --allow-mass-deletes; the run's counts tell updated (values changed) from unchanged rows.
 * 1 and 4 also into PostgreSQL and MariaDB (describeDb: skipped when unreachable, failing under
 * KLV_REQUIRE_DB=1), each in a schema / database of its own, dropped at the end.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { SpawnedEmulators } from '../helpers/emulator.js';
import { runAndInterrupt } from '../helpers/midway.js';
import { withRecording } from '../helpers/recording.js';
import { adminQuery, describeDb, dropTestSchema, mysqlUrl, pgUrl, uniqueName } from '../helpers/databases.js';

const KEY = 'pk_replicate_e2e_0123456789abcdef01';
/** A demo account larger than the default, so that the first run's cost is that of a real account. */
const PROFILES = '12000';

const recording = withRecording({ setEnv: false });
let root: string;
const emulators = new SpawnedEmulators();

function startEmulator(extra: string[] = [], profiles = PROFILES): Promise<string> {
  return emulators.start(['--port', '0', '--rate-limits', 'off', '--profiles', profiles, ...extra], recording.env, { cwd: root });
}

function envFor(url: string): NodeJS.ProcessEnv {
  return cleanEnv({ KLAVIYO_BASE_URL: url, KLAVIYO_PRIVATE_API_KEY: KEY, HOME: root, XDG_CONFIG_HOME: join(root, '.config') });
}

function klv(url: string, args: string[]): Promise<RunResult> {
  return runKlv(args, { env: envFor(url), cwd: root, timeoutMs: 120_000 });
}

function expectOk(r: RunResult): void {
  if (r.code !== 0) throw new Error(`klv exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

async function emulatorState(url: string): Promise<any> {
  return (await fetch(`${url}/_emulator/state`)).json();
}

async function requestCount(url: string): Promise<number> {
  return ((await (await fetch(`${url}/_emulator/requests`)).json()) as { total: number }).total;
}

/** Every replicated table, as sorted JSON rows without `_klv_synced_at`. */
function tables(file: string): Record<string, string[]> {
  const db = new Database(file, { readonly: true });
  try {
    const names = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_klv_state' ORDER BY name`).all() as Array<{ name: string }>).map((r) => r.name);
    const out: Record<string, string[]> = {};
    for (const name of names) {
      const rows = db.prepare(`SELECT * FROM "${name}"`).all() as Array<Record<string, unknown>>;
      out[name] = rows
        .map((r) => {
          const { _klv_synced_at: _ignored, ...rest } = r;
          return JSON.stringify(rest);
        })
        .sort();
    }
    return out;
  } finally {
    db.close();
  }
}

function liveCount(file: string, table: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM "${table}" WHERE _klv_deleted_at IS NULL`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** What each table must hold, counted from the emulator's account itself. */
function expectedCounts(state: any): Record<string, number> {
  const r = state.resources;
  const sum = (groups: Record<string, Record<string, unknown>>) => Object.values(groups).reduce((n, g) => n + Object.keys(g).length, 0);
  let suppressions = 0;
  let listSuppressions = 0;
  for (const p of r.profile) {
    const m = p.attributes.subscriptions?.email?.marketing;
    suppressions += m?.suppression?.length ?? 0;
    listSuppressions += m?.list_suppressions?.length ?? 0;
  }
  return {
    campaigns: r.campaign.length,
    email_templates: r.template.length,
    lists: r.list.length,
    list_members: sum(state.listMembers),
    people_exclusions: suppressions,
    list_exclusions: listSuppressions,
    profiles: r.profile.length,
    metrics: r.metric.length,
    events: r.event.length,
    segments: r.segment.length,
    segment_members: sum(state.segmentMembers),
    flows: r.flow.length,
    tags: r.tag.length,
    coupons: r.coupon.length,
    coupon_codes: r['coupon-code'].length,
    catalog_items: r['catalog-item'].length,
  };
}

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-replicate-')));
});

afterAll(async () => {
  await emulators.stopAll();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('klv replicate into SQLite', () => {
  let url: string;
  let firstRequests = 0;

  beforeAll(async () => {
    url = await startEmulator();
  });

  it('1. loads every object: each table holds as many rows as the emulator has', async () => {
    await fetch(`${url}/_emulator/requests`, { method: 'DELETE' });
    const r = await klv(url, ['replicate', '--to', 'sqlite:./k.db', '--json']);
    expectOk(r);
    firstRequests = await requestCount(url);
    const summary = JSON.parse(r.stdout);
    expect(summary.ok).toBe(true);
    expect(summary.objects.every((o: { full: boolean }) => o.full)).toBe(true);
    expect(r.stderr).toMatch(/Profiles -> profiles: 12,000 inserted, 0 updated, 0 unchanged, 0 deleted/);
    const expected = expectedCounts(await emulatorState(url));
    const actual: Record<string, number> = {};
    for (const t of Object.keys(expected)) actual[t] = liveCount(join(root, 'k.db'), t);
    expect(actual).toEqual(expected);
    expect(Object.keys(tables(join(root, 'k.db'))).sort()).toEqual(Object.keys(expected).sort());
    expect(expected.profiles).toBe(12000);
    expect(expected.people_exclusions).toBeGreaterThan(0);

    // The state table: one row per object, each with a complete run.
    const st = await klv(url, ['replicate', 'state', '--to', 'sqlite:./k.db', '--json']);
    expectOk(st);
    const states = JSON.parse(st.stdout) as Array<{ object: string; lastCompleteRunAt: string | null; cursor: string | null }>;
    expect(states).toHaveLength(Object.keys(expected).length);
    expect(states.every((s) => s.lastCompleteRunAt)).toBe(true);
    expect(states.find((s) => s.object === 'Profiles')!.cursor).toMatch(/^\d{4}-/);
  }, 120_000);

  it('2. after 10 templates, 5 campaigns and 3 suppressions changed, the next run changes exactly those rows, with a fraction of the requests', async () => {
    const db = join(root, 'k.db');
    const before = tables(db);
    const state = await emulatorState(url);
    const templates = state.resources.template.slice(0, 10).map((t: { id: string }) => t.id);
    const campaigns = state.resources.campaign
      .filter((c: any) => ['Draft', 'Cancelled'].includes(c.attributes.status) && !c.attributes.archived)
      .slice(0, 5)
      .map((c: { id: string }) => c.id);
    expect(campaigns).toHaveLength(5);
    const suppressedIds = new Set<string>();
    for (const p of state.resources.profile) if (p.attributes.subscriptions?.email?.marketing?.suppression?.length) suppressedIds.add(p.id);
    const toSuppress = state.resources.profile.filter((p: any) => p.attributes.email && !suppressedIds.has(p.id)).slice(0, 3);

    writeFileSync(join(root, 'templates.csv'), `Id,Name\n${templates.map((id: string, i: number) => `${id},Renamed template ${i}`).join('\n')}\n`);
    writeFileSync(join(root, 'campaigns.csv'), `Id,Name\n${campaigns.map((id: string, i: number) => `${id},Renamed campaign ${i}`).join('\n')}\n`);
    writeFileSync(join(root, 'suppress.csv'), `Email\n${toSuppress.map((p: any) => p.attributes.email).join('\n')}\n`);
    expectOk(await klv(url, ['import', 'email-templates', 'templates.csv', '--op', 'update']));
    expectOk(await klv(url, ['import', 'campaigns', 'campaigns.csv', '--op', 'update']));
    expectOk(await klv(url, ['import', 'people-exclusions', 'suppress.csv', '--op', 'insert']));

    await fetch(`${url}/_emulator/requests`, { method: 'DELETE' });
    const r = await klv(url, ['replicate', '--to', 'sqlite:./k.db', '--json']);
    expectOk(r);
    const secondRequests = await requestCount(url);
    const after = tables(db);

    const changed: Record<string, { removed: string[]; added: string[] }> = {};
    for (const t of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const b = new Set(before[t] ?? []);
      const a = new Set(after[t] ?? []);
      const removed = [...b].filter((x) => !a.has(x));
      const added = [...a].filter((x) => !b.has(x));
      if (removed.length || added.length) changed[t] = { removed, added };
    }
    const ids = (rows: string[], key: string) => rows.map((x) => JSON.parse(x)[key]).sort();
    // Suppressing someone changes their profile too (Klaviyo moves its `updated`): those three
    // profile rows change, and nothing else.
    expect(Object.keys(changed).sort()).toEqual(['campaigns', 'email_templates', 'people_exclusions', 'profiles']);
    const newlySuppressed = toSuppress.map((p: any) => p.id).sort();
    expect(ids(changed.profiles!.added, 'Id')).toEqual(newlySuppressed);
    expect(ids(changed.profiles!.removed, 'Id')).toEqual(newlySuppressed);
    for (const row of changed.profiles!.added) {
      const old = JSON.parse(changed.profiles!.removed.find((x) => JSON.parse(x).Id === JSON.parse(row).Id)!);
      const diff = Object.keys(old).filter((k) => JSON.stringify(old[k]) !== JSON.stringify(JSON.parse(row)[k]));
      expect(diff).toEqual(['Updated']);
    }
    expect(ids(changed.email_templates!.added, 'Id')).toEqual([...templates].sort());
    expect(ids(changed.email_templates!.removed, 'Id')).toEqual([...templates].sort());
    expect(ids(changed.campaigns!.added, 'Id')).toEqual([...campaigns].sort());
    expect(ids(changed.people_exclusions!.added, 'ProfileId')).toEqual(toSuppress.map((p: any) => p.id).sort());
    expect(changed.people_exclusions!.removed).toEqual([]);
    for (const row of changed.email_templates!.added) expect(JSON.parse(row).Name).toMatch(/^Renamed template /);

    const summary = JSON.parse(r.stdout);
    expect(summary.inserted).toBe(3); // the three suppressions
    expect(summary.deleted).toBe(0);
    // Updated: exactly the rows whose stored values changed (10 templates, 5 campaigns, 3
    // profiles); everything read again (lookback windows, objects read in full) is unchanged.
    const changedRows = Object.values(changed).reduce((n, c) => n + c.removed.length, 0);
    expect(changedRows).toBe(18);
    expect(summary.updated).toBe(changedRows);
    const byObject = Object.fromEntries(summary.objects.map((o: any) => [o.object, o]));
    expect(byObject.EmailTemplates).toMatchObject({ updated: 10 });
    expect(byObject.Campaigns).toMatchObject({ updated: 5 });
    expect(byObject.Profiles).toMatchObject({ updated: 3 });
    expect(byObject.Metrics.unchanged).toBe(byObject.Metrics.rowsRead); // read in full, nothing new
    expect(summary.unchanged).toBe(summary.objects.reduce((n: number, o: any) => n + o.rowsRead, 0) - summary.inserted - summary.updated);
    expect(r.stderr).toMatch(/EmailTemplates -> email_templates: 0 inserted, 10 updated, \d+ unchanged, 0 deleted/);
    // An incremental run costs a few requests per object, however large the account: here a
    // small fraction of the first run's.
    console.info(`replicate requests: first run ${firstRequests}, incremental run ${secondRequests}`);
    expect(secondRequests).toBeLessThan(firstRequests * 0.15);
    expect(secondRequests).toBeLessThanOrEqual(4 * summary.objects.length);
    expect(summary.objects.find((o: any) => o.object === 'Profiles').full).toBe(false);
  }, 120_000);

  it('4. a list deleted in the emulator is marked _klv_deleted_at after the next run', async () => {
    const state = await emulatorState(url);
    const list = state.resources.list[state.resources.list.length - 1];
    writeFileSync(join(root, 'delete-list.csv'), `Id\n${list.id}\n`);
    expectOk(await klv(url, ['import', 'lists', 'delete-list.csv', '--op', 'delete', '--yes']));
    const members = Object.keys(state.listMembers[list.id] ?? {}).length;
    expect(members).toBeGreaterThan(0);
    const r = await klv(url, ['replicate', 'lists', '--to', 'sqlite:./k.db', '--json']);
    expectOk(r);
    expect(JSON.parse(r.stdout).objects[0]).toMatchObject({ object: 'Lists', deleted: 1, swept: true, cascaded: [{ table: 'list_members', deleted: members }] });
    expect(JSON.parse(r.stdout).deleted).toBe(1 + members);
    expect(r.stderr).toContain(`${members.toLocaleString('en-US')} list_members rows deleted with them`);
    const db = new Database(join(root, 'k.db'), { readonly: true });
    const row = db.prepare(`SELECT _klv_deleted_at FROM lists WHERE Id = ?`).get(list.id) as { _klv_deleted_at: string | null };
    const others = db.prepare(`SELECT COUNT(*) AS n FROM lists WHERE _klv_deleted_at IS NULL`).get() as { n: number };
    const memberMarks = db.prepare(`SELECT _klv_deleted_at AS d, COUNT(*) AS n FROM list_members WHERE ListId = ? GROUP BY _klv_deleted_at`).all(list.id) as Array<{ d: string | null; n: number }>;
    const othersLive = db.prepare(`SELECT COUNT(*) AS n FROM list_members WHERE ListId <> ? AND _klv_deleted_at IS NULL`).get(list.id) as { n: number };
    db.close();
    expect(row._klv_deleted_at).not.toBeNull();
    expect(others.n).toBe(state.resources.list.length - 1);
    // The list's memberships, marked in the same run with the list's own deletion time.
    expect(memberMarks).toEqual([{ d: row._klv_deleted_at, n: members }]);
    expect(othersLive.n).toBe(Object.entries(state.listMembers).filter(([id]) => id !== list.id).reduce((n, [, m]) => n + Object.keys(m as object).length, 0));
  }, 60_000);

  it('5. Klaviyo listing no list at all is refused (exit 3, nothing marked) until --allow-mass-deletes', async () => {
    const state = await emulatorState(url);
    const remaining = state.resources.list.map((l: { id: string }) => l.id);
    expect(remaining.length).toBeGreaterThan(0);
    writeFileSync(join(root, 'delete-all-lists.csv'), `Id\n${remaining.join('\n')}\n`);
    expectOk(await klv(url, ['import', 'lists', 'delete-all-lists.csv', '--op', 'delete', '--yes']));
    const db = join(root, 'k.db');
    const before = tables(db);

    const refused = await klv(url, ['replicate', 'lists', 'tags', '--to', 'sqlite:./k.db', '--json']);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toMatch(
      new RegExp(`warning: Lists: deletion check refused, nothing marked deleted in lists: Klaviyo listed no record at all, and the table has ${remaining.length} live rows\\. It would have marked ${remaining.length} of ${remaining.length} live rows`),
    );
    expect(refused.stderr).toMatch(/run again with --allow-mass-deletes/);
    expect(refused.stderr).toMatch(/Tags -> tags: /); // the other object is done
    const summary = JSON.parse(refused.stdout);
    expect(summary.sweepsRefused).toEqual(['Lists']);
    expect(summary.objects[0]).toMatchObject({ object: 'Lists', deleted: 0, swept: false, sweepRefused: { liveRows: remaining.length, liveKeys: 0, absent: remaining.length } });
    expect(tables(db)).toEqual(before);

    const allowed = await klv(url, ['replicate', 'lists', '--to', 'sqlite:./k.db', '--json', '--allow-mass-deletes']);
    expectOk(allowed);
    const lists = JSON.parse(allowed.stdout).objects[0];
    expect(lists).toMatchObject({ object: 'Lists', deleted: remaining.length, swept: true, sweepRefused: null });
    expect(liveCount(db, 'lists')).toBe(0);
    expect(liveCount(db, 'list_members')).toBe(0);
    expect(lists.cascaded[0].deleted).toBeGreaterThan(0);
  }, 60_000);

  it('shows, rewinds and resets the state', async () => {
    expectOk(await klv(url, ['replicate', 'state', 'rewind', 'events', '2025-01-01T00:00:00Z', '--to', 'sqlite:./k.db']));
    let st = JSON.parse((await klv(url, ['replicate', 'state', '--to', 'sqlite:./k.db', '--json'])).stdout);
    expect(st.find((s: any) => s.object === 'Events').cursor).toBe('2025-01-01T00:00:00.000Z');
    expectOk(await klv(url, ['replicate', 'state', 'reset', 'tags', '--to', 'sqlite:./k.db']));
    st = JSON.parse((await klv(url, ['replicate', 'state', '--to', 'sqlite:./k.db', '--json'])).stdout);
    expect(st.find((s: any) => s.object === 'Tags')).toBeUndefined();
    const bad = await klv(url, ['replicate', 'list-subscribe', '--to', 'sqlite:./k.db']);
    expect(bad.code).toBe(2);
    const badSweep = await klv(url, ['replicate', '--sweep-deletes', 'sometimes', '--to', 'sqlite:./k.db']);
    expect(badSweep.code).toBe(2);
  }, 60_000);
});

describe('klv replicate killed mid-run', () => {
  it('3. SIGKILL once some tables are written, then run again: the tables equal a clean replication', async () => {
    // Each response takes a few ms, so that the run can be caught mid-way.
    const url = await startEmulator(['--latency', '5'], '2000');
    const killedDb = join(root, 'killed.db');
    const objectsDone = (stderr: string) => (stderr.match(/ -> /g) ?? []).length;
    // Killed once a few objects are complete: their summary lines are on stderr.
    const run = await runAndInterrupt(['replicate', '--to', `sqlite:${killedDb}`], {
      cwd: root,
      env: envFor(url),
      signal: 'SIGKILL',
      when: ({ stderr }) => objectsDone(stderr) >= 4,
      what: '4 objects replicated',
    });
    expect(run.signal).toBe('SIGKILL');
    expect(objectsDone(run.stderr)).toBeLessThan(16);

    expectOk(await klv(url, ['replicate', '--to', `sqlite:${killedDb}`]));
    const cleanDb = join(root, 'clean.db');
    expectOk(await klv(url, ['replicate', '--to', `sqlite:${cleanDb}`]));
    const killed = tables(killedDb);
    const clean = tables(cleanDb);
    expect(Object.keys(killed)).toEqual(Object.keys(clean));
    for (const t of Object.keys(clean)) expect({ table: t, rows: killed[t] }).toEqual({ table: t, rows: clean[t] });
  }, 180_000);

});

/** Live rows per table in a PostgreSQL schema or a MySQL database. */
async function serverCounts(url: string, schema: string, tablesWanted: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const postgres = /^postgres/i.test(url);
  for (const t of tablesWanted) {
    const table = postgres ? `"${schema}"."${t}"` : `\`${schema}\`.\`${t}\``;
    const [row] = await adminQuery(url, `SELECT COUNT(*) AS n FROM ${table} WHERE _klv_deleted_at IS NULL`);
    out[t] = Number(row!.n);
  }
  return out;
}

for (const [name, dbUrl] of [
  ['PostgreSQL', pgUrl()],
  ['MariaDB', mysqlUrl()],
] as const) {
  await describeDb(`klv replicate into ${name}`, dbUrl, (url) => {
    const schema = uniqueName('replicate');
    let emulatorUrl: string;
    beforeAll(async () => {
      emulatorUrl = await startEmulator([], '2000');
    });
    afterAll(async () => {
      await dropTestSchema(url, schema);
    });

    it(`1. each table holds as many rows as the emulator has; 4. a deleted list is marked deleted`, async () => {
      const first = await klv(emulatorUrl, ['replicate', '--to', url, '--schema', schema, '--json']);
      expectOk(first);
      const state = await emulatorState(emulatorUrl);
      const expected = expectedCounts(state);
      expect(await serverCounts(url, schema, Object.keys(expected))).toEqual(expected);

      const list = state.resources.list[0];
      writeFileSync(join(root, `delete-${name}.csv`), `Id\n${list.id}\n`);
      expectOk(await klv(emulatorUrl, ['import', 'lists', `delete-${name}.csv`, '--op', 'delete', '--yes']));
      const second = await klv(emulatorUrl, ['replicate', '--to', url, '--schema', schema, '--json']);
      expectOk(second);
      const summary = JSON.parse(second.stdout);
      const members = Object.keys(state.listMembers[list.id] ?? {}).length;
      expect(summary.objects.find((o: any) => o.object === 'Lists')).toMatchObject({ deleted: 1, inserted: 0, updated: 0, cascaded: [{ table: 'list_members', deleted: members }] });
      // Nothing else changed in the account: every row read again is unchanged.
      expect(summary.updated).toBe(0);
      expect(summary.unchanged).toBeGreaterThan(0);
      expect(await serverCounts(url, schema, ['lists', 'list_members'])).toEqual({ lists: expected.lists - 1, list_members: expected.list_members - members });
    }, 180_000);
  });
}

describe('klv replicate and the spec', () => {
  it('every exchange of every run above stayed within the spec', () => {
    recording.expectConformant({ minExchanges: 100 });
  });
});
