/**
 * Fault matrix of `klv replicate` (issue 8), against `klv emulator` as a separate process with a
 * demo account of 20,000 profiles, the spec's rate limits on (as Klaviyo enforces them), and
 * every fault kind: 500, 502, 503, dropped connections before and after the request was handled,
 * responses slower than klv's KLV_TIMEOUT (so they time out and are retried), and short 429 storms.
 * Profiles, Lists and EmailTemplates go into SQLite files read back with better-sqlite3, and once
 * into PostgreSQL.
 *
 * After every scenario each table holds exactly the emulator's records (GET /_emulator/state):
 * every id once, none missing, none extra, none marked deleted, and a few columns equal to the
 * account's values across all rows. The exit code tells the truth and no output holds the key.
 *   1. a full run under faults: exit 0; 2. every fault kind was injected during that run at least
 *      once (deterministic: see test 1, which checks it on its own counters);
 *   3. SIGINT once the table has thousands of rows: exit 130, no state saved for Profiles; a run
 *      under faults then converges;
 *   4. SIGKILL mid-way through an incremental run (state rewound): the state stays where it was;
 *      a run under faults then converges;
 *   5. 300 profiles changed through `klv import profiles --op update` (faults off), then an
 *      incremental run under faults: exactly those rows change, in exactly those columns;
 *   6. a failure retries cannot fix (every request answered 503 from mid-way on): exit 1 with a
 *      message naming the object, the failure and what to do; the state is not advanced for the
 *      failed object (Lists, done before it, is saved); a fault-free run then converges;
 *   7. PostgreSQL: a run under faults killed mid-way (SIGKILL), then a run under faults: exact.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { resetRateLimits, spawnEmulator, type EmulatorProcess } from '../helpers/emulator.js';
import { ALL_FAULT_KINDS, faultDelta, getFaults, kindsMissing, setFaults, type FaultReport } from '../helpers/faults.js';
import { runAndInterrupt, waitUntil } from '../helpers/midway.js';
import { describeDb, dropTestSchema, pgUrl, uniqueName } from '../helpers/databases.js';
import { mulberry32 } from '../../src/emulator/http/faults.js';

const PROFILES = 20_000;
/** Seeds the demo data and the emulator's fault draws (see test 1). */
const SEED = 7;
const FAULT_RATE = 0.05;
/**
 * klv's per-request timeout (seconds): a slow fault (SLOW_MS) outlasts it, so klv sees a timed-out
 * request. Not lower: 16 cursors in flight on a busy two-core machine wait well over a second for
 * the emulator at times, and a timeout that fires on a sound response only measures the machine.
 */
const KLV_TIMEOUT = '3';
const SLOW_MS = 4_000;
/** Short storms: klv still waits Retry-After (at least 1 s) each time. */
const STORM_MS = 300;
/** A run is "mid-way" once this many of the 20,000 profile rows are written. */
const MID_WAY = 3_000;
/** Profiles first: the large object, where an interruption lands. Lists and templates are cheap. */
const OBJECTS = ['profiles', 'lists', 'email-templates'];
const REWOUND_TO = '2000-01-01T00:00:00.000Z';

const KEY = 'pk_faults_replicate_0123456789abcdef';

let root: string;
let emulator: EmulatorProcess | undefined;
let url: string;

// ---- the emulator's account, the reference every table is compared with -----------------------

/** The columns compared across all rows, in one normalised form for SQLite, PostgreSQL and the emulator. */
interface ProfileValues {
  Email: string | null;
  FirstName: string | null;
  City: string | null;
  /** Milliseconds since the epoch. */
  Updated: number | null;
  /** Canonical JSON (sorted keys: PostgreSQL's JSONB reorders them). */
  Properties: string | null;
}

interface Reference {
  profiles: Map<string, ProfileValues>;
  lists: Set<string>;
  templates: Set<string>;
  /** The cursor a complete run must record: the largest Updated of the account. */
  profilesCursor: string;
}

function canonicalJson(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const parsed = typeof value === 'string' ? JSON.parse(value) : value;
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sort(parsed));
}

function instant(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value.getTime() : Date.parse(String(value));
}

const text = (v: unknown) => (v === null || v === undefined ? null : String(v));

async function fetchReference(): Promise<Reference> {
  const state = (await (await fetch(`${url}/_emulator/state`)).json()) as {
    resources: Record<string, Array<{ id: string; attributes: Record<string, any> }>>;
  };
  const profiles = new Map<string, ProfileValues>();
  let maxUpdated = -Infinity;
  for (const p of state.resources.profile!) {
    const a = p.attributes;
    const values: ProfileValues = {
      Email: text(a.email),
      FirstName: text(a.first_name),
      City: text(a.location?.city),
      Updated: instant(a.updated),
      Properties: canonicalJson(a.properties),
    };
    profiles.set(p.id, values);
    maxUpdated = Math.max(maxUpdated, values.Updated ?? -Infinity);
  }
  return {
    profiles,
    lists: new Set(state.resources.list!.map((l) => l.id)),
    templates: new Set(state.resources.template!.map((t) => t.id)),
    profilesCursor: new Date(maxUpdated).toISOString(),
  };
}

// ---- what a destination holds ---------------------------------------------------------------

interface ProfileRow extends ProfileValues {
  Id: string;
  deletedAt: unknown;
}

interface KeyRow {
  Id: string;
  deletedAt: unknown;
}

interface Tables {
  profiles: ProfileRow[];
  lists?: KeyRow[];
  email_templates?: KeyRow[];
}

function profileRow(r: Record<string, unknown>): ProfileRow {
  return {
    Id: String(r.Id),
    Email: text(r.Email),
    FirstName: text(r.FirstName),
    City: text(r.City),
    Updated: instant(r.Updated),
    Properties: canonicalJson(r.Properties),
    deletedAt: r._klv_deleted_at,
  };
}

function sqliteTables(file: string, tables: readonly string[]): Tables {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const out: Tables = {
      profiles: (db.prepare('SELECT Id, Email, FirstName, City, Updated, Properties, _klv_deleted_at FROM profiles').all() as Record<string, unknown>[]).map(profileRow),
    };
    for (const t of tables) {
      if (t === 'lists' || t === 'email_templates') {
        out[t] = (db.prepare(`SELECT Id, _klv_deleted_at FROM "${t}"`).all() as Record<string, unknown>[]).map((r) => ({ Id: String(r.Id), deletedAt: r._klv_deleted_at }));
      }
    }
    return out;
  } finally {
    db.close();
  }
}

/** Rows, distinct ids, and every way the table can differ from the account, with a few examples. */
function compareProfiles(rows: ProfileRow[], ref: Reference) {
  const seen = new Set<string>();
  const examples: string[] = [];
  let duplicated = 0;
  let extra = 0;
  let differing = 0;
  let deleted = 0;
  const example = (s: string) => examples.length < 5 && examples.push(s);
  for (const row of rows) {
    if (seen.has(row.Id)) {
      duplicated++;
      example(`duplicated ${row.Id}`);
    }
    seen.add(row.Id);
    if (row.deletedAt !== null && row.deletedAt !== undefined) {
      deleted++;
      example(`marked deleted ${row.Id}`);
    }
    const want = ref.profiles.get(row.Id);
    if (!want) {
      extra++;
      example(`not in the account ${row.Id}`);
      continue;
    }
    const { Id: _id, deletedAt: _d, ...got } = row;
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      differing++;
      example(`${row.Id}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
    }
  }
  let missing = 0;
  for (const id of ref.profiles.keys()) {
    if (!seen.has(id)) {
      missing++;
      example(`missing ${id}`);
    }
  }
  return { rows: rows.length, distinctIds: seen.size, missing, extra, duplicated, differing, deleted, examples };
}

function compareKeys(rows: KeyRow[]) {
  const ids = rows.map((r) => r.Id).sort();
  return { ids, deleted: rows.filter((r) => r.deletedAt !== null && r.deletedAt !== undefined).map((r) => r.Id) };
}

/** Each table holds exactly the account's records, once each, with the account's values, none deleted. */
function expectExact(tables: Tables, ref: Reference): void {
  expect(compareProfiles(tables.profiles, ref)).toEqual({
    rows: PROFILES,
    distinctIds: PROFILES,
    missing: 0,
    extra: 0,
    duplicated: 0,
    differing: 0,
    deleted: 0,
    examples: [],
  });
  if (tables.lists) expect(compareKeys(tables.lists)).toEqual({ ids: [...ref.lists].sort(), deleted: [] });
  if (tables.email_templates) expect(compareKeys(tables.email_templates)).toEqual({ ids: [...ref.templates].sort(), deleted: [] });
}

interface StateRow {
  object: string;
  cursor: string | null;
  last_complete_run_at: string | null;
  last_sweep_at: string | null;
}

function sqliteState(file: string): Record<string, StateRow> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_klv_state'`).get();
    if (!exists) return {};
    const rows = db.prepare('SELECT object, cursor, last_complete_run_at, last_sweep_at FROM _klv_state').all() as StateRow[];
    return Object.fromEntries(rows.map((r) => [r.object, r]));
  } finally {
    db.close();
  }
}

/**
 * A read-only count on a SQLite file another process is writing, for `runAndInterrupt`'s
 * synchronous condition: 0 until the file and the table exist.
 */
function sqliteCounter(file: string, sql: string, params: unknown[] = []): { count: () => number; close: () => void } {
  let db: Database.Database | undefined;
  let stmt: Database.Statement | undefined;
  return {
    count() {
      try {
        if (!db) {
          if (!existsSync(file)) return 0;
          db = new Database(file, { readonly: true, fileMustExist: true });
        }
        stmt ??= db.prepare(sql);
        return (stmt.get(...params) as { n: number }).n;
      } catch {
        return 0; // the table is not created yet
      }
    },
    close() {
      db?.close();
    },
  };
}

// ---- running klv ------------------------------------------------------------------------------

/**
 * The environment of one run, which starts with full rate-limit windows: the emulator counts per
 * account, as Klaviyo does, and a run must not inherit the windows the previous one used up.
 */
async function freshEnv(): Promise<NodeJS.ProcessEnv> {
  await resetRateLimits(url);
  return cleanEnv({
    KLAVIYO_BASE_URL: url,
    KLAVIYO_PRIVATE_API_KEY: KEY,
    HOME: root,
    XDG_CONFIG_HOME: join(root, '.config'),
    KLV_TIMEOUT,
  });
}

async function klv(args: string[]): Promise<RunResult> {
  const r = await runKlv(args, { env: await freshEnv(), cwd: root, timeoutMs: 120_000 });
  expectNoKey(r);
  return r;
}

function expectNoKey(r: RunResult): void {
  expect(r.stdout.includes(KEY) || r.stderr.includes(KEY), 'the API key appeared in klv output').toBe(false);
}

function expectCode(r: RunResult, code: number): void {
  if (r.code !== code) throw new Error(`klv exited ${r.code} (signal ${r.signal}), expected ${code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

function faultsOn(): Promise<FaultReport> {
  return setFaults(url, { rate: FAULT_RATE, kinds: ALL_FAULT_KINDS, slowMs: SLOW_MS, stormMs: STORM_MS });
}

function faultsOff(): Promise<FaultReport> {
  return setFaults(url, { rate: 0, kinds: ALL_FAULT_KINDS });
}

/** How many of the first `draws` requests the emulator's fault stream hits at `rate` (its own PRNG). */
function hitsInFirstDraws(seed: number, rate: number, draws: number): number {
  const random = mulberry32(seed);
  let hits = 0;
  for (let i = 0; i < draws; i++) if (random() < rate) hits++;
  return hits;
}

let reference: Reference;

beforeAll(async () => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-faults-replicate-')));
  emulator = spawnEmulator(
    [
      '--port', '0',
      '--profiles', String(PROFILES),
      '--seed', String(SEED),
      '--rate-limits', 'spec',
      '--faults', String(FAULT_RATE),
      '--fault-kinds', 'all',
      '--slow-ms', String(SLOW_MS),
      '--storm-ms', String(STORM_MS),
    ],
    cleanEnv(),
  );
  url = await emulator.url;
  // An admin endpoint: it draws no fault, so scenario 1's requests are the stream's first draws.
  reference = await fetchReference();
  expect(reference.profiles.size).toBe(PROFILES);
}, 60_000);

afterAll(async () => {
  await emulator?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('klv replicate under faults, into SQLite', () => {
  it('1, 2. a full run under every kind of fault: exit 0, every record exactly once; every fault kind met', async () => {
    const before = await getFaults(url);
    expect(before.kinds).toEqual([...ALL_FAULT_KINDS]);
    expect(Object.values(before.injected).every((n) => n === 0)).toBe(true);

    const db = join(root, 's1.db');
    const r = await klv(['replicate', ...OBJECTS, '--to', `sqlite:${db}`, '--json']);
    expectCode(r, 0);
    // Scenario 4 starts from this complete replication (klv has closed the file).
    copyFileSync(db, join(root, 's4.db'));
    if (existsSync(`${db}-wal`)) copyFileSync(`${db}-wal`, join(root, 's4.db-wal'));
    const summary = JSON.parse(r.stdout);
    expect(summary.ok).toBe(true);
    expect(summary.objects.map((o: { object: string; full: boolean }) => [o.object, o.full])).toEqual([
      ['Profiles', true],
      ['Lists', true],
      ['EmailTemplates', true],
    ]);
    expectExact(sqliteTables(db, ['lists', 'email_templates']), reference);
    // The cursor is the largest Updated of the account: not beyond what was written.
    expect(sqliteState(db).Profiles?.cursor).toBe(reference.profilesCursor);

    // Every fault kind, during this run. Deterministic, not luck: the emulator draws once per
    // request from a PRNG seeded with SEED and hands the kinds out in turn. This run makes at
    // least 200 requests (20,000 profiles, 100 a page) and they are the stream's first draws (the
    // counters were all zero before it); at this seed and rate those first 200 draws already hold
    // more hits than there are kinds.
    expect(hitsInFirstDraws(SEED, FAULT_RATE, 200)).toBeGreaterThanOrEqual(ALL_FAULT_KINDS.length);
    const injected = faultDelta(before.injected, (await getFaults(url)).injected);
    expect(kindsMissing(injected, ALL_FAULT_KINDS), `fault kinds this run did not meet: ${JSON.stringify(injected)}`).toEqual([]);
  }, 120_000);

  it('3. SIGINT mid-way: exit 130, no state for Profiles; a run under faults then converges', async () => {
    await faultsOn();
    const db = join(root, 's3.db');
    const rows = sqliteCounter(db, 'SELECT COUNT(*) AS n FROM profiles');
    let r: RunResult;
    try {
      // Smaller transactions than the default 500: more commits for the signal to land between.
      r = await runAndInterrupt(['replicate', ...OBJECTS, '--to', `sqlite:${db}`, '--batch-size', '250'], {
        cwd: root,
        env: await freshEnv(),
        signal: 'SIGINT',
        when: () => rows.count() >= MID_WAY,
        what: `${MID_WAY} profile rows in ${db}`,
      });
    } finally {
      rows.close();
    }
    expectNoKey(r);
    expectCode(r, 130);
    const written = sqliteTables(db, []).profiles.length;
    expect(written).toBeGreaterThanOrEqual(MID_WAY);
    expect(written).toBeLessThan(PROFILES);
    expect(sqliteState(db).Profiles).toBeUndefined();

    const again = await klv(['replicate', ...OBJECTS, '--to', `sqlite:${db}`, '--batch-size', '250']);
    expectCode(again, 0);
    expectExact(sqliteTables(db, ['lists', 'email_templates']), reference);
    expect(sqliteState(db).Profiles?.cursor).toBe(reference.profilesCursor);
  }, 120_000);

  it('4. SIGKILL mid-way through an incremental run: the state stays; a run under faults then converges', async () => {
    await faultsOn();
    const db = join(root, 's4.db');
    const rewind = await klv(['replicate', 'state', 'rewind', 'profiles', REWOUND_TO, '--to', `sqlite:${db}`]);
    expectCode(rewind, 0);
    const stateBefore = sqliteState(db).Profiles!;
    expect(stateBefore.cursor).toBe(REWOUND_TO);

    // The table is full already: "mid-way" is thousands of rows written by this run.
    const since = new Date().toISOString();
    const rewritten = sqliteCounter(db, 'SELECT COUNT(*) AS n FROM profiles WHERE _klv_synced_at >= ?', [since]);
    let r: RunResult;
    try {
      r = await runAndInterrupt(['replicate', ...OBJECTS, '--to', `sqlite:${db}`], {
        cwd: root,
        env: await freshEnv(),
        signal: 'SIGKILL',
        when: () => rewritten.count() >= MID_WAY,
        what: `${MID_WAY} profile rows rewritten in ${db}`,
      });
      expect(rewritten.count()).toBeLessThan(PROFILES);
    } finally {
      rewritten.close();
    }
    expectNoKey(r);
    expect(r.signal).toBe('SIGKILL');
    expect(sqliteState(db).Profiles).toEqual(stateBefore);

    const again = await klv(['replicate', ...OBJECTS, '--to', `sqlite:${db}`, '--json']);
    expectCode(again, 0);
    const profiles = JSON.parse(again.stdout).objects[0];
    expect(profiles).toMatchObject({ object: 'Profiles', full: false, rowsRead: PROFILES, inserted: 0, updated: 0, unchanged: PROFILES });
    expectExact(sqliteTables(db, ['lists', 'email_templates']), reference);
    expect(sqliteState(db).Profiles?.cursor).toBe(reference.profilesCursor);
  }, 120_000);

  it('5. 300 profiles changed, then an incremental run under faults: exactly those rows change', async () => {
    const db = join(root, 's1.db');
    const snapshot = () => {
      const d = new Database(db, { readonly: true, fileMustExist: true });
      try {
        const rows = d.prepare('SELECT * FROM profiles').all() as Array<Record<string, unknown>>;
        return new Map(rows.map(({ _klv_synced_at: _s, ...rest }) => [String(rest.Id), rest]));
      } finally {
        d.close();
      }
    };
    const before = snapshot();
    const ids = [...reference.profiles.keys()].sort();
    const chosen = ids.filter((_, i) => i % Math.floor(PROFILES / 300) === 0).slice(0, 300);
    expect(chosen).toHaveLength(300);
    const newName = (i: number) => `Changed ${i}`;
    writeFileSync(join(root, 'changes.csv'), `Id,FirstName\n${chosen.map((id, i) => `${id},${newName(i)}`).join('\n')}\n`);

    await faultsOff();
    const imported = await klv(['import', 'profiles', 'changes.csv', '--op', 'update']);
    expectCode(imported, 0);
    const changedRef = await fetchReference();
    chosen.forEach((id, i) => expect(changedRef.profiles.get(id)?.FirstName).toBe(newName(i)));

    await faultsOn();
    const r = await klv(['replicate', ...OBJECTS, '--to', `sqlite:${db}`, '--json']);
    expectCode(r, 0);
    const summary = JSON.parse(r.stdout);
    expect(summary.objects[0]).toMatchObject({ object: 'Profiles', full: false, inserted: 0 });
    expect(summary.inserted).toBe(0);

    const after = snapshot();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const changed: Record<string, string[]> = {};
    for (const [id, row] of after) {
      const old = before.get(id)!;
      const columns = Object.keys(row).filter((c) => JSON.stringify(row[c]) !== JSON.stringify(old[c]));
      if (columns.length) changed[id] = columns;
    }
    expect(Object.keys(changed).sort()).toEqual([...chosen].sort());
    for (const [id, columns] of Object.entries(changed)) {
      expect({ id, columns: columns.filter((c) => c !== 'Updated') }).toEqual({ id, columns: ['FirstName'] });
      expect(after.get(id)!.FirstName).toBe(newName(chosen.indexOf(id)));
    }
    expectExact(sqliteTables(db, ['lists', 'email_templates']), changedRef);
    expect(sqliteState(db).Profiles?.cursor).toBe(changedRef.profilesCursor);
    reference = changedRef;
  }, 120_000);

  it('6. a failure retries cannot fix: exit 1 naming it, the state not advanced; a fault-free run converges', async () => {
    await faultsOn();
    const db = join(root, 's6.db');
    const rows = sqliteCounter(db, 'SELECT COUNT(*) AS n FROM profiles');
    let done = false;
    // Lists first: it completes, then Profiles fails mid-way.
    const run = klv(['replicate', 'lists', 'profiles', '--to', `sqlite:${db}`]).finally(() => (done = true));
    try {
      await waitUntil(() => done || rows.count() >= MID_WAY, `${MID_WAY} profile rows in ${db}`, 60_000);
      if (done) throw new Error(`klv ended before ${MID_WAY} profile rows were written:\n${(await run).stderr}`);
      // From here on every request is answered 503: more than the retry budget can absorb.
      await setFaults(url, { rate: 1, kinds: ['503'] });
    } finally {
      rows.close();
    }
    const r = await run;
    await faultsOff();
    expectCode(r, 1);
    expect(r.stderr).toMatch(/Lists -> lists: \d+ inserted/);
    expect(r.stderr).toMatch(/error: Profiles: GET \/api\/profiles failed: 503/);
    expect(r.stderr).toMatch(/Replication failed for Profiles: /);
    expect(r.stderr).toMatch(/The other objects are up to date\. The failed object keeps its previous state, so the next run reads it again from there/);
    expect(r.stderr).toMatch(/Try again later/);

    const written = sqliteTables(db, []).profiles.length;
    expect(written).toBeGreaterThanOrEqual(MID_WAY);
    expect(written).toBeLessThan(PROFILES);
    const state = sqliteState(db);
    expect(state.Lists?.last_complete_run_at).toBeTruthy();
    expect(state.Profiles).toBeUndefined();

    const again = await klv(['replicate', 'lists', 'profiles', '--to', `sqlite:${db}`]);
    expectCode(again, 0);
    expectExact(sqliteTables(db, ['lists']), reference);
    expect(sqliteState(db).Profiles?.cursor).toBe(reference.profilesCursor);
  }, 120_000);
});

await describeDb('klv replicate under faults, into PostgreSQL', pgUrl(), (pgConnection) => {
  const schema = uniqueName('faults_replicate');

  afterAll(async () => {
    await dropTestSchema(pgConnection, schema);
  });

  it('7. a run under faults killed mid-way (SIGKILL), then a run under faults: exact', async () => {
    await faultsOn();
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: pgConnection });
    await client.connect();
    const table = `"${schema}"."profiles"`;
    // runAndInterrupt's condition is synchronous: a loop keeps the committed row count fresh.
    let rows = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          rows = (await client.query(`SELECT COUNT(*)::int AS n FROM ${table}`)).rows[0].n;
        } catch {
          // the schema or table is not created yet
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const to = ['--to', pgConnection, '--schema', schema];
    try {
      const r = await runAndInterrupt(['replicate', ...OBJECTS, ...to], {
        cwd: root,
        env: await freshEnv(),
        signal: 'SIGKILL',
        when: () => rows >= MID_WAY,
        what: `${MID_WAY} profile rows in ${table}`,
      });
      expectNoKey(r);
      expect(r.signal).toBe('SIGKILL');
      polling = false;
      await poller;
      const written = (await client.query(`SELECT COUNT(*)::int AS n FROM ${table}`)).rows[0].n;
      expect(written).toBeGreaterThanOrEqual(MID_WAY);
      expect(written).toBeLessThan(PROFILES);
      const state = await client.query(`SELECT object FROM "${schema}"."_klv_state"`).catch(() => ({ rows: [] }));
      expect(state.rows.map((s: { object: string }) => s.object)).not.toContain('Profiles');

      const again = await klv(['replicate', ...OBJECTS, ...to]);
      expectCode(again, 0);
      const read = async (t: string, columns: string) => (await client.query(`SELECT ${columns} FROM "${schema}"."${t}"`)).rows as Record<string, unknown>[];
      expectExact(
        {
          profiles: (await read('profiles', `"Id", "Email", "FirstName", "City", "Updated", "Properties", _klv_deleted_at`)).map(profileRow),
          lists: (await read('lists', `"Id", _klv_deleted_at`)).map((r) => ({ Id: String(r.Id), deletedAt: r._klv_deleted_at })),
          email_templates: (await read('email_templates', `"Id", _klv_deleted_at`)).map((r) => ({ Id: String(r.Id), deletedAt: r._klv_deleted_at })),
        },
        reference,
      );
      const cursor = await client.query(`SELECT cursor FROM "${schema}"."_klv_state" WHERE object = 'Profiles'`);
      expect(cursor.rows[0]?.cursor).toBe(reference.profilesCursor);
    } finally {
      polling = false;
      await poller;
      await client.end();
    }
  }, 120_000);
});
