/**
 * Custom properties in `klv query`, as users run it (the built CLI in a child process) against an
 * emulator with the demo data (its profiles carry loyalty_tier, lifetime_orders,
 * accepts_marketing, birthday ... as custom properties). Each query's rows are compared with what
 * `klv export profiles --properties ...` gives, filtered, grouped or sorted by hand here; the
 * recorded requests prove that nothing about a property was sent as a filter (no Klaviyo endpoint
 * filters custom properties) while the properties were asked for; writes name property columns
 * and the values read back are the ones written; every exchange is checked against the spec.
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { withRecording } from '../helpers/recording.js';
import type { RecordedExchange } from '../helpers/spec-validator.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';

const KEY = 'pk_query_properties_e2e_0123456789abcd';
const PROFILES = 300;
const PROPS = ['loyalty_tier', 'lifetime_orders', 'accepts_marketing', 'birthday'];

const recording = withRecording();
let emulator: RunningEmulator;
let root: string;
/** `klv export profiles --properties ...` as CSV (cells as text) and as JSON (typed values). */
let exportedCsv: Row[];
let exportedJson: Array<Record<string, unknown>>;

type Row = Record<string, string>;

function env(): NodeJS.ProcessEnv {
  return cleanEnv({ HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), KLAVIYO_BASE_URL: emulator.url, KLAVIYO_PRIVATE_API_KEY: KEY });
}

async function klv(args: string[]): Promise<RunResult> {
  const r = await runKlv(args, { cwd: join(root, 'work'), env: env() });
  for (const text of [r.stdout, r.stderr]) expect(text).not.toContain(KEY.slice(0, 16));
  return r;
}

const csv = (text: string): Row[] => parse(text, { columns: true, bom: true }) as Row[];

async function query(sql: string): Promise<Row[]> {
  const r = await klv(['query', sql, '--format', 'csv']);
  expect(r.code, r.stderr).toBe(0);
  return csv(r.stdout);
}

async function exportProfiles(format: 'csv' | 'json'): Promise<string> {
  const r = await klv(['export', 'profiles', '--properties', PROPS.join(','), '--format', format]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** The exchanges recorded since the last clear(). */
function exchanges(): RecordedExchange[] {
  return readFileSync(recording.file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RecordedExchange);
}

const pick = (row: Row, cols: string[], as: string[] = cols): Row => Object.fromEntries(cols.map((c, i) => [as[i], row[c]]));
const key = (r: unknown) => JSON.stringify(r);
const sorted = <T>(rows: T[]) => [...rows].sort((a, b) => key(a).localeCompare(key(b)));

beforeAll(async () => {
  emulator = await startEmulator({ data: 'demo', profiles: PROFILES, rateLimits: 'off', seed: 3, record: recording.file });
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-query-properties-')));
  mkdirSync(join(root, 'work'));
  const [c, j] = await Promise.all([exportProfiles('csv'), exportProfiles('json')]);
  exportedCsv = csv(c);
  exportedJson = JSON.parse(j) as Array<Record<string, unknown>>;
  expect(exportedCsv).toHaveLength(PROFILES);
  expect(Object.keys(exportedCsv[0])).toEqual(expect.arrayContaining(PROPS.map((p) => `Properties.${p}`)));
}, 60_000);

afterAll(async () => {
  await emulator?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

beforeEach(() => recording.clear());

describe('klv query on custom properties returns what export --properties filtered by hand gives', () => {
  const gold = () => exportedCsv.filter((p) => p['Properties.loyalty_tier'] === 'gold').map((p) => pick(p, ['Email', 'Properties.loyalty_tier']));

  it('every spelling: bare, "double-quoted", `backquoted`, qualified', async () => {
    const want = gold();
    expect(want.length).toBeGreaterThan(0);
    expect(want.length).toBeLessThan(PROFILES);
    const forms = [
      "SELECT Email, Properties.loyalty_tier FROM Profiles WHERE Properties.loyalty_tier = 'gold'",
      `SELECT Email, "Properties.loyalty_tier" FROM Profiles WHERE "Properties.loyalty_tier" = 'gold'`,
      "SELECT Email, `Properties.loyalty_tier` FROM Profiles WHERE `Properties.loyalty_tier` = 'gold'",
      "SELECT p.Email, p.Properties.loyalty_tier FROM Profiles p WHERE p.Properties.loyalty_tier = 'gold'",
    ];
    for (const sql of forms) expect(sorted(await query(sql)), sql).toEqual(sorted(want));
  });

  it('the properties are asked for, and no request filters on one (Klaviyo cannot)', async () => {
    const want = exportedCsv.filter((p) => p['Properties.loyalty_tier'] === 'gold' && p.Created > '2001-01-01').map((p) => pick(p, ['Email']));
    expect(sorted(await query("SELECT Email FROM Profiles WHERE Properties.loyalty_tier = 'gold' AND Created > '2001-01-01'"))).toEqual(sorted(want));
    const reads = exchanges().filter((e) => e.operationId === 'get_profiles');
    expect(reads.length).toBeGreaterThan(0);
    for (const e of reads) {
      expect(e.query['fields[profile]']).toContain('properties');
      expect(e.query.filter ?? '').not.toContain('properties');
      // The condition on Created is still pushed down.
      expect(e.query.filter).toContain('greater-than(created,');
    }
  });

  it('GROUP BY and ORDER BY a property', async () => {
    const counts = new Map<string, number>();
    for (const p of exportedCsv) counts.set(p['Properties.loyalty_tier'], (counts.get(p['Properties.loyalty_tier']) ?? 0) + 1);
    const want = [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([tier, n]) => ({ tier, n: String(n) }));
    expect(want.length).toBeGreaterThan(2);
    const got = await query('SELECT Properties.loyalty_tier AS tier, COUNT(*) AS n FROM Profiles GROUP BY Properties.loyalty_tier ORDER BY Properties.loyalty_tier');
    expect(got).toEqual(want);
  });

  it('numbers compare and sort as numbers', async () => {
    const orders = (p: Row) => Number(p['Properties.lifetime_orders']);
    const want = exportedCsv
      .filter((p) => p['Properties.lifetime_orders'] !== '' && orders(p) >= 3)
      .sort((a, b) => orders(b) - orders(a) || (a.Email < b.Email ? -1 : 1))
      .map((p) => pick(p, ['Email', 'Properties.lifetime_orders']));
    // Both one- and two-digit counts, so that comparing them as text would give other rows and order.
    expect(want.some((p) => orders(p) < 10) && want.some((p) => orders(p) >= 10)).toBe(true);
    const got = await query('SELECT Email, Properties.lifetime_orders FROM Profiles WHERE Properties.lifetime_orders >= 3 ORDER BY Properties.lifetime_orders DESC, Email');
    expect(got).toEqual(want);
  });

  it('booleans: TRUE matches, and JSON output carries true, as the export does', async () => {
    const want = exportedJson.filter((p) => p['Properties.accepts_marketing'] === true).map((p) => ({ Id: p.Id, 'Properties.accepts_marketing': true, 'Properties.birthday': p['Properties.birthday'] }));
    expect(want.length).toBeGreaterThan(0);
    expect(want.length).toBeLessThan(PROFILES);
    const r = await klv(['query', 'SELECT Id, Properties.accepts_marketing, Properties.birthday FROM Profiles WHERE Properties.accepts_marketing = TRUE', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(sorted(JSON.parse(r.stdout) as unknown[])).toEqual(sorted(want));
  });

  it('a plain scan of properties streams them, as export does', async () => {
    const want = exportedCsv.map((p) => pick(p, ['Id', 'Properties.birthday', 'Properties.lifetime_orders'], ['Id', 'birthday', 'Properties.lifetime_orders']));
    expect(sorted(await query('SELECT Id, Properties.birthday AS birthday, "Properties.lifetime_orders" FROM Profiles'))).toEqual(sorted(want));
  });
});

describe('--explain and usage errors', () => {
  it('--explain lists the property condition as checked locally and the pushed filter; nothing is sent', async () => {
    const r = await klv(['query', '--explain', "SELECT Email FROM Profiles WHERE Properties.loyalty_tier = 'gold' AND Email = 'ann@example.com'"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/filter +equals\(email,'ann@example\.com'\)\n/);
    expect(r.stdout).toContain(`WHERE conditions SQLite checks on the rows read (no Klaviyo filter expresses them):\n  "Properties.loyalty_tier" = 'gold'   (a custom property: no Klaviyo endpoint filters on custom properties)`);
    expect(exchanges()).toEqual([]);
  });

  it('Properties.x of an object without custom properties: exit 2 naming the object and its columns, nothing sent', async () => {
    const r = await klv(['query', "SELECT Name, Properties.tier FROM Lists WHERE Properties.tier = 'gold'"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Lists has no custom properties, so there is no column 'Properties.tier'.");
    expect(r.stderr).toContain("Lists's columns: Id, Name, ");
    expect(exchanges()).toEqual([]);
  });
});

describe('writes name property columns', () => {
  it('INSERT sets them, UPDATE changes one, and a SELECT reads back what was written', async () => {
    const email = 'properties.e2e@example.com';
    const ins = await klv(['query', `INSERT INTO Profiles (Email, Properties.loyalty_tier, \`Properties.lifetime_orders\`) VALUES ('${email}', 'diamond', 42)`]);
    expect(ins.code, ins.stderr).toBe(0);
    expect(await query(`SELECT Email, Properties.loyalty_tier, Properties.lifetime_orders FROM Profiles WHERE Email = '${email}'`)).toEqual([
      { Email: email, 'Properties.loyalty_tier': 'diamond', 'Properties.lifetime_orders': '42' },
    ]);
    // The target rows found by a property condition (checked by klv on the rows it reads).
    const upd = await klv(['query', `UPDATE Profiles SET "Properties.loyalty_tier" = 'emerald' WHERE Properties.lifetime_orders = 42 AND Email = '${email}'`]);
    expect(upd.code, upd.stderr).toBe(0);
    const after = csv(await exportProfiles('csv')).filter((p) => p.Email === email);
    expect(after.map((p) => pick(p, ['Properties.loyalty_tier', 'Properties.lifetime_orders']))).toEqual([{ 'Properties.loyalty_tier': 'emerald', 'Properties.lifetime_orders': '42' }]);
  });
});

describe('spec conformance', () => {
  it('every exchange stayed within the spec', async () => {
    await query("SELECT Email FROM Profiles WHERE Properties.loyalty_tier = 'platinum' LIMIT 3");
    recording.expectConformant();
  });
});
