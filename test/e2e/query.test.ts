/**
 * `klv query` as users run it (the built CLI in a child process) against an emulator in this
 * test process. Each query's rows are compared with what `klv export` gives for the same objects,
 * filtered, joined, grouped or sorted by hand here; request counts (/_emulator/requests) prove
 * the push-down; every exchange is checked against Klaviyo's OpenAPI spec.
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { withRecording } from '../helpers/recording.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';

const KEY = 'pk_query_e2e_0123456789abcdef0123456';
const PROFILES = 300;

const recording = withRecording();
let emulator: RunningEmulator;
let root: string;
let profiles: Row[];
let lists: Row[];
let members: Row[];

type Row = Record<string, string>;

function env(): NodeJS.ProcessEnv {
  return cleanEnv({ HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), KLAVIYO_BASE_URL: emulator.url, KLAVIYO_PRIVATE_API_KEY: KEY });
}

async function klv(args: string[], input?: string): Promise<RunResult> {
  const r = await runKlv(args, { cwd: join(root, 'work'), env: env(), input });
  for (const text of [r.stdout, r.stderr]) expect(text).not.toContain(KEY.slice(0, 16));
  return r;
}

function csv(text: string): Row[] {
  return parse(text, { columns: true, bom: true }) as Row[];
}

async function exported(object: string): Promise<Row[]> {
  const r = await klv(['export', object]);
  expect(r.code, r.stderr).toBe(0);
  return csv(r.stdout);
}

async function query(sql: string, ...flags: string[]): Promise<Row[]> {
  const r = await klv(['query', sql, '--format', 'csv', ...flags]);
  expect(r.code, r.stderr).toBe(0);
  return csv(r.stdout);
}

async function requests(): Promise<{ total: number; byOperation: Record<string, number> }> {
  return (await (await fetch(`${emulator.url}/_emulator/requests`)).json()) as { total: number; byOperation: Record<string, number> };
}

const pick = (row: Row, cols: string[]): Row => Object.fromEntries(cols.map((c) => [c, row[c]]));
const key = (r: Row) => JSON.stringify(r);
const sorted = (rows: Row[]) => [...rows].sort((a, b) => key(a).localeCompare(key(b)));

beforeAll(async () => {
  emulator = await startEmulator({ data: 'demo', profiles: PROFILES, rateLimits: 'off', seed: 1, record: recording.file });
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-query-')));
  mkdirSync(join(root, 'work'));
  [profiles, lists, members] = await Promise.all([exported('profiles'), exported('lists'), exported('list-members')]);
}, 60_000);

afterAll(async () => {
  await emulator?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

beforeEach(async () => {
  await fetch(`${emulator.url}/_emulator/requests`, { method: 'DELETE' });
});

describe('klv query returns what exporting and filtering by hand gives', () => {
  it('filters with =, pushed down', async () => {
    const country = profiles.find((p) => p.Country !== '')!.Country;
    const want = profiles.filter((p) => p.Country === country).map((p) => pick(p, ['Id', 'Email', 'Country']));
    expect(want.length).toBeGreaterThan(0);
    const got = await query(`SELECT Id, Email, Country FROM Profiles WHERE Country = '${country}'`);
    expect(sorted(got)).toEqual(sorted(want));
  });

  it('filters with IN', async () => {
    const names = lists.slice(0, 2).map((l) => l.Name);
    const want = lists.filter((l) => names.includes(l.Name)).map((l) => pick(l, ['Id', 'Name']));
    const got = await query(`SELECT Id, Name FROM lists WHERE Name IN (${names.map((n) => `'${n}'`).join(', ')})`);
    expect(want.length).toBe(2);
    expect(sorted(got)).toEqual(sorted(want));
  });

  it('filters with LIKE (starts-with and contains), with an OR that stays local', async () => {
    const want = profiles.filter((p) => p.Email.startsWith('a')).map((p) => pick(p, ['Email', 'FirstName']));
    expect(want.length).toBeGreaterThan(0);
    expect(sorted(await query(`SELECT Email, FirstName FROM Profiles WHERE Email LIKE 'a%'`))).toEqual(sorted(want));
    const want2 = profiles.filter((p) => p.Email.includes('an') || p.City === 'Paris').map((p) => pick(p, ['Email']));
    expect(sorted(await query(`SELECT Email FROM Profiles WHERE Email LIKE '%an%' OR City = 'Paris'`))).toEqual(sorted(want2));
  });

  it('joins ListMembers with Lists', async () => {
    const names = new Map(lists.map((l) => [l.Id, l.Name]));
    const want = members.map((m) => ({ ProfileId: m.ProfileId, Email: m.Email, ListName: names.get(m.ListId)! }));
    expect(want.length).toBeGreaterThan(0);
    const got = await query('SELECT m.ProfileId, m.Email, l.Name AS ListName FROM list_members m JOIN Lists l ON l.Id = m.ListId');
    expect(sorted(got)).toEqual(sorted(want));
  });

  it('groups with COUNT and HAVING', async () => {
    const counts = new Map<string, number>();
    for (const p of profiles) counts.set(p.Country, (counts.get(p.Country) ?? 0) + 1);
    const want = [...counts].filter(([, n]) => n > 1).map(([Country, n]) => ({ Country, n: String(n) }));
    const got = await query('SELECT Country, COUNT(*) AS n FROM Profiles GROUP BY Country HAVING COUNT(*) > 1');
    expect(sorted(got)).toEqual(sorted(want));
  });

  it('orders with LIMIT and OFFSET', async () => {
    const want = [...profiles]
      .sort((a, b) => b.Created.localeCompare(a.Created) || a.Id.localeCompare(b.Id))
      .slice(2, 9)
      .map((p) => pick(p, ['Id', 'Created']));
    const got = await query('SELECT Id, Created FROM Profiles ORDER BY Created DESC, Id LIMIT 7 OFFSET 2');
    expect(got).toEqual(want);
  });

  it('runs a subquery, reading the SQL from a file and from stdin', async () => {
    const inList = new Set(members.map((m) => m.ProfileId));
    const want = String(profiles.filter((p) => !inList.has(p.Id)).length);
    const sql = 'SELECT COUNT(*) AS n FROM Profiles WHERE Id NOT IN (SELECT ProfileId FROM ListMembers)';
    writeFileSync(join(root, 'work', 'q.sql'), `${sql};\n`);
    expect(await query('', '-f', 'q.sql')).toEqual([{ n: want }]);
    const r = await klv(['query', '--format', 'csv'], sql);
    expect(r.code, r.stderr).toBe(0);
    expect(csv(r.stdout)).toEqual([{ n: want }]);
  });
});

describe('push-down', () => {
  it("SELECT * FROM Profiles WHERE Email = '...' makes one request, and --explain shows the filter", async () => {
    const email = profiles[5].Email;
    const got = await query(`SELECT * FROM Profiles WHERE Email = '${email}'`);
    expect(got).toEqual([profiles[5]]);
    expect((await requests()).total).toBe(1);

    const r = await klv(['query', '--explain', `SELECT * FROM Profiles WHERE Email = '${email}'`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`equals(email,'${email}')`);
    expect((await requests()).total).toBe(1);
  });

  it('LIMIT without ORDER BY stops paging: one page for LIMIT 3', async () => {
    const got = await query('SELECT Email FROM Profiles LIMIT 3');
    expect(got).toHaveLength(3);
    expect((await requests()).total).toBe(1);
  });

  it('--explain names what SQLite does for a join', async () => {
    const r = await klv(['query', '--explain', 'SELECT l.Name, COUNT(*) FROM ListMembers m JOIN Lists l ON l.Id = m.ListId GROUP BY l.Name ORDER BY 2 DESC']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('== ListMembers');
    expect(r.stdout).toContain('== Lists');
    expect(r.stdout).toMatch(/SQLite.*join.*group by.*order by/);
    expect((await requests()).total).toBe(0);
  });
});

describe('errors', () => {
  it('a syntax error shows the position with a caret; exit 2, nothing sent', async () => {
    const r = await klv(['query', 'SELECT Name FROM Lists WHER Name = 1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/line 1, column \d+/);
    expect(r.stderr).toContain('SELECT Name FROM Lists WHER Name = 1\n');
    expect(r.stderr).toMatch(/\n\s+\^/);
    expect((await requests()).total).toBe(0);
  });

  it('an unknown object or column names the nearest ones', async () => {
    const a = await klv(['query', 'SELECT * FROM Profils']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('Profiles');
    const b = await klv(['query', 'SELECT Emial FROM Profiles']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("'Email'");
  });
});

describe('spec conformance', () => {
  it('every exchange stayed within the spec', () => {
    recording.expectConformant();
  });
});
