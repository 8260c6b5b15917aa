/**
 * `klv export` as users run it: the built CLI in a child process, against the built-in demo
 * emulator (--demo) and against an emulator in this test process whose account the rows are
 * compared with (GET /_emulator/state) and whose request counts prove what was sent
 * (GET /_emulator/requests). Every exchange is checked against Klaviyo's OpenAPI spec.
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { runAndInterrupt, type OutputSoFar } from '../helpers/midway.js';
import { withRecording } from '../helpers/recording.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import type { AccountSnapshot, StoredResource } from '../../src/emulator/store/types.js';

const KEY = 'pk_export_e2e_0123456789abcdef012345';
const PROFILES = 300;

const recording = withRecording();
let emulator: RunningEmulator;
let root: string;
let state: AccountSnapshot;

beforeAll(async () => {
  emulator = await startEmulator({ data: 'demo', profiles: PROFILES, rateLimits: 'off', seed: 1, record: recording.file });
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-export-')));
  mkdirSync(join(root, 'work'));
  state = (await (await fetch(`${emulator.url}/_emulator/state`)).json()) as AccountSnapshot;
});

afterAll(async () => {
  await emulator?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

beforeEach(async () => {
  await fetch(`${emulator.url}/_emulator/requests`, { method: 'DELETE' });
});

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return cleanEnv({
    HOME: root,
    XDG_CONFIG_HOME: join(root, 'xdg'),
    KLAVIYO_BASE_URL: emulator.url,
    KLAVIYO_PRIVATE_API_KEY: KEY,
    ...extra,
  });
}

async function klv(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const r = await runKlv(['export', ...args], { cwd: join(root, 'work'), env: env(extra) });
  for (const text of [r.stdout, r.stderr]) expect(text).not.toContain(KEY.slice(0, 16));
  return r;
}

async function requestCount(): Promise<{ total: number; byOperation: Record<string, number> }> {
  return (await (await fetch(`${emulator.url}/_emulator/requests`)).json()) as { total: number; byOperation: Record<string, number> };
}

function resources(type: string): StoredResource[] {
  return state.resources[type] ?? [];
}

function attrs(r: StoredResource): Record<string, unknown> {
  return (r.attributes ?? {}) as Record<string, unknown>;
}

/** The exchanges recorded from now on: call before a run, read after it. */
function exchangesFrom(): () => Array<{ query: Record<string, string>; path: string }> {
  const offset = readFileSync(recording.file, 'utf8').length;
  return () =>
    readFileSync(recording.file, 'utf8')
      .slice(offset)
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { query: Record<string, string>; path: string });
}

function csv(text: string): Record<string, string>[] {
  return parse(text, { columns: true, bom: true }) as Record<string, string>[];
}

function ndjson(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('klv export --demo (the built-in emulator)', () => {
  it('campaigns: a header and the 25 demo campaigns, exit 0', async () => {
    const r = await runKlv(['export', 'campaigns', '--demo'], { cwd: join(root, 'work'), env: cleanEnv({ HOME: root, KLV_EMULATOR_RECORD: recording.file }) });
    expect(r.stderr).toMatch(/Exported 25 campaigns in [\d.]+ s \(\d+ requests?, .*\) to stdout/);
    expect(r.code).toBe(0);
    const header = r.stdout.split('\n')[0].split(',');
    expect(header).toEqual(expect.arrayContaining(['Id', 'Name', 'Status', 'Channel', 'Archived', 'Subject', 'FromEmail', 'TemplateId', 'IncludedListIds', 'CreatedAt', 'UpdatedAt', 'ScheduledAt', 'SendTime']));
    expect(csv(r.stdout)).toHaveLength(25);
  });

  // The demo account's size is fixed (src/emulator/demo-data): 2,000 profiles, 4 lists, 62 templates, 10 metrics.
  it.each([
    ['profiles', 2_000],
    ['lists', 4],
    ['email-templates', 62],
    ['metrics', 10],
  ])('%s: exit 0, the demo account\'s %i rows on stdout, each once; the summary on stderr', async (object, count) => {
    const r = await runKlv(['export', object, '--demo', '--format', 'ndjson'], { cwd: join(root, 'work'), env: cleanEnv({ HOME: root, KLV_EMULATOR_RECORD: recording.file }) });
    expect(r.code).toBe(0);
    const rows = ndjson(r.stdout);
    expect(rows).toHaveLength(count);
    expect(new Set(rows.map((x) => x.Id)).size).toBe(count);
    expect(r.stderr).toContain(`Exported ${count.toLocaleString('en-US')} `);
  });
});

describe('klv export against an emulator: exactly its rows', () => {
  it('profiles (CSV): every profile once, with its email and ISO UTC times', async () => {
    const r = await klv(['profiles']);
    expect(r.code).toBe(0);
    const rows = csv(r.stdout);
    const expected = resources('profile');
    expect(rows).toHaveLength(expected.length);
    expect(new Set(rows.map((x) => x.Id))).toEqual(new Set(expected.map((p) => p.id)));
    const byId = new Map(rows.map((x) => [x.Id, x]));
    for (const p of expected) {
      const row = byId.get(p.id)!;
      expect(row.Email).toBe(attrs(p).email ?? '');
      expect(row.Created).toBe(new Date(String(attrs(p).created)).toISOString().replace('.000Z', 'Z'));
      expect(row.Created).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    }
    const header = r.stdout.split('\n')[0].split(',');
    expect(header).toEqual(expect.arrayContaining(['Id', 'Email', 'PhoneNumber', 'ExternalId', 'FirstName', 'LastName', 'Organization', 'Title', 'Locale', 'Address1', 'Address2', 'City', 'Region', 'Country', 'Zip', 'Timezone', 'Properties', 'Created', 'Updated']));
    expect(r.stderr).toContain(`Exported ${expected.length} profiles`);
  });

  it.each([
    ['lists', 'list', (a: Record<string, unknown>) => ({ Name: a.name, OptInProcess: a.opt_in_process })],
    ['email-templates', 'template', (a: Record<string, unknown>) => ({ Name: a.name, EditorType: a.editor_type, Html: a.html ?? null })],
    ['metrics', 'metric', (a: Record<string, unknown>) => ({ Name: a.name })],
  ])('%s (NDJSON): the same records and values as the account', async (object, type, expectedValues) => {
    const r = await klv([object, '--format', 'ndjson']);
    expect(r.code).toBe(0);
    const rows = ndjson(r.stdout);
    const expected = resources(type);
    expect(rows.map((x) => x.Id).sort()).toEqual(expected.map((x) => x.id).sort());
    const byId = new Map(rows.map((x) => [x.Id, x]));
    for (const res of expected) expect(byId.get(res.id)).toMatchObject(expectedValues(attrs(res)));
  });

  it('flows: those not archived, as Klaviyo\'s app shows them; --include-archived adds the archived ones', async () => {
    const all = resources('flow');
    const archived = all.filter((f) => attrs(f).archived === true).map((f) => f.id);
    expect(archived.length).toBeGreaterThan(0);
    const shown = ndjson((await klv(['flows', '--format', 'ndjson'])).stdout);
    expect(shown.map((x) => x.Id).sort()).toEqual(all.map((f) => f.id).filter((id) => !archived.includes(id)).sort());
    const r = await klv(['flows', '--format', 'ndjson', '--include-archived']);
    expect(r.code).toBe(0);
    const rows = ndjson(r.stdout);
    expect(rows.map((x) => x.Id).sort()).toEqual(all.map((f) => f.id).sort());
    expect(rows.filter((x) => x.Archived === true).map((x) => x.Id).sort()).toEqual(archived.sort());
  });

  it.each([
    ['segments', 'segment'],
    ['tags', 'tag'],
    ['coupons', 'coupon'],
    ['coupon-codes', 'coupon-code'],
    ['catalog-items', 'catalog-item'],
    ['events', 'event'],
  ])('%s: as many rows as the account holds, each once', async (object, type) => {
    const r = await klv([object, '--format', 'ndjson']);
    expect(r.code).toBe(0);
    const rows = ndjson(r.stdout);
    expect(rows).toHaveLength(resources(type).length);
    expect(new Set(rows.map((x) => x.Id)).size).toBe(rows.length);
  });

  it('list-members: every membership of every list', async () => {
    const r = await klv(['list-members', '--format', 'ndjson']);
    expect(r.code).toBe(0);
    const rows = ndjson(r.stdout);
    const expected = Object.entries(state.listMembers).flatMap(([list, members]) => Object.keys(members).map((p) => `${list}/${p}`));
    expect(rows.map((x) => `${x.ListId}/${x.ProfileId}`).sort()).toEqual(expected.sort());
  });

  it('--format json is one JSON array with native types', async () => {
    const r = await klv(['lists', '--format', 'json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(resources('list').length);
    expect(Object.keys(rows[0]).slice(0, 3)).toEqual(['Id', 'Name', 'OptInProcess']);
  });

  it('every object of the catalog exports with exit 0 (ListSubscribe with an Email filter)', async () => {
    const objects = JSON.parse((await runKlv(['objects', '--json'], { cwd: join(root, 'work'), env: env() })).stdout || '[]') as Array<{ name?: string }>;
    const names = objects.map((o) => o.name).filter((n): n is string => typeof n === 'string');
    expect(names.length).toBeGreaterThanOrEqual(17);
    const email = String(attrs(resources('profile')[0]).email);
    for (const name of names) {
      const extra = name === 'ListSubscribe' ? ['--where', `Email = '${email}'`] : [];
      const r = await klv([name, '--format', 'ndjson', ...extra]);
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
    }
  });
});

describe('klv export: output, columns, filters, limits', () => {
  it('-o FILE: written as FILE.partial and renamed when complete; nothing on stdout', async () => {
    const out = join(root, 'work', 'profiles.csv');
    const r = await klv(['profiles', '-o', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(existsSync(`${out}.partial`)).toBe(false);
    expect(csv(readFileSync(out, 'utf8'))).toHaveLength(PROFILES);
    expect(r.stderr).toContain(`to ${out}`);
  });

  it('-o FILE.json infers the format; --json prints the summary as JSON on stdout', async () => {
    const out = join(root, 'work', 'lists.json');
    const r = await runKlv(['--json', 'export', 'lists', '-o', out], { cwd: join(root, 'work'), env: env() });
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toHaveLength(resources('list').length);
    expect(JSON.parse(r.stdout)).toMatchObject({ object: 'Lists', rows: resources('list').length, format: 'json', output: out });
  });

  it('--columns selects and orders columns and asks Klaviyo for just those fields', async () => {
    const exchanges = exchangesFrom();
    const r = await klv(['profiles', '--columns', 'Email,FirstName', '--limit', '3']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('Email,FirstName');
    expect(lines).toHaveLength(4);
    expect(exchanges().length).toBeGreaterThan(0);
    for (const e of exchanges()) expect(e.query['fields[profile]']).toBe('email,first_name');
  });

  it("--where \"Email = '...'\" on profiles is one API request, with the filter pushed down", async () => {
    const email = String(attrs(resources('profile')[7]).email);
    const exchanges = exchangesFrom();
    const r = await klv(['profiles', '--where', `Email = '${email}'`, '--format', 'ndjson']);
    expect(r.code).toBe(0);
    expect(ndjson(r.stdout).map((x) => x.Email)).toEqual([email]);
    expect((await requestCount()).total).toBe(1);
    const [exchange] = exchanges();
    expect(exchange.query.filter).toBe(`equals(email,'${email}')`);
  });

  it('--explain shows the pushed-down filter and an estimate, and sends nothing', async () => {
    const r = await klv(['profiles', '--where', "Email = 'x@example.com'", '--explain']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("equals(email,'x@example.com')");
    expect(r.stdout).toContain('GET /api/profiles');
    expect(r.stdout).toContain('Filtered locally: nothing');
    expect(r.stdout).toMatch(/Estimate/);
    expect((await requestCount()).total).toBe(0);
  });

  it('--explain --json is the plan as JSON', async () => {
    const r = await runKlv(['--json', 'export', 'lists', '--where', "Name contains 'VIP'", '--explain'], { cwd: join(root, 'work'), env: env() });
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.object).toBe('Lists');
    expect(plan.requests[0]).toMatchObject({ method: 'GET', path: '/api/lists' });
    expect(plan.estimates.length).toBe(2);
    expect((await requestCount()).total).toBe(0);
  });

  it('--limit 5: five rows, paging stops early', async () => {
    const r = await klv(['profiles', '--limit', '5', '--format', 'ndjson']);
    expect(r.code).toBe(0);
    expect(ndjson(r.stdout)).toHaveLength(5);
    expect((await requestCount()).total).toBeLessThanOrEqual(3);
  });

  it('--where on a column Klaviyo cannot filter is applied locally, with the same rows as the account', async () => {
    // Case-sensitive, as Klaviyo's own filters are: the same condition selects the same rows
    // whether Klaviyo or klv checks it.
    const r = await klv(['lists', '--where', "Name contains 'VIP'", '--format', 'ndjson']);
    expect(r.code).toBe(0);
    const expected = resources('list').filter((l) => String(attrs(l).name).includes('VIP'));
    expect(expected.length).toBeGreaterThan(0);
    expect(ndjson(r.stdout).map((x) => x.Id).sort()).toEqual(expected.map((x) => x.id).sort());
    const lower = await klv(['lists', '--where', "Name contains 'vip'", '--format', 'ndjson']);
    const expectedLower = resources('list').filter((l) => String(attrs(l).name).includes('vip'));
    expect(ndjson(lower.stdout).map((x) => x.Id).sort()).toEqual(expectedLower.map((x) => x.id).sort());
  });

  it('--safe-csv defuses cells a spreadsheet would run (phone numbers start with +)', async () => {
    const plain = csv((await klv(['profiles', '--columns', 'Id,PhoneNumber'])).stdout);
    const safe = csv((await klv(['profiles', '--columns', 'Id,PhoneNumber', '--safe-csv'])).stdout);
    const phones = plain.filter((x) => x.PhoneNumber.startsWith('+'));
    expect(phones.length).toBeGreaterThan(0);
    const safeById = new Map(safe.map((x) => [x.Id, x.PhoneNumber]));
    for (const p of phones) expect(safeById.get(p.Id)).toBe(`'${p.PhoneNumber}`);
  });

  it('--delimiter tab, --no-header, --bom', async () => {
    const r = await klv(['lists', '--columns', 'Id,Name', '--delimiter', '\\t', '--no-header', '--bom']);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('\uFEFF')).toBe(true);
    const lines = r.stdout.slice(1).trimEnd().split('\n');
    expect(lines).toHaveLength(resources('list').length);
    expect(lines[0].split('\t')).toHaveLength(2);
  });

  it('ListSubscribe without an Email or PhoneNumber filter: exit 2 saying what to add, nothing sent', async () => {
    const r = await klv(['list-subscribe']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--where "Email = /);
    expect((await requestCount()).total).toBe(0);
  });
});

describe('klv export: usage errors exit 2 before any request', () => {
  it.each([
    [['nothing-like-it'], /Unknown object 'nothing-like-it'/],
    [['profiles', '--columns', 'Emial'], /Profiles has no column 'Emial'/],
    [['profiles', '--where', 'Email ~ 3'], /Cannot read --where/],
    [['profiles', '--since', 'last week'], /--since 'last week' is not a date/],
    [['tags', '--since', '7d'], /Tags cannot be read incrementally/],
    [['profiles', '--format', 'xml'], /Unknown format 'xml'/],
    [['profiles', '--format', 'json', '--delimiter', ';'], /apply to CSV output only/],
    [['profiles', '--limit', '0'], /--limit '0'/],
    [['profiles', '-o', 'no/such/folder/out.csv'], /Cannot write the export to 'no\/such\/folder\/out.csv'/],
  ])('%j', async (args, message) => {
    const r = await klv(args as string[]);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect((await requestCount()).total).toBe(0);
  });

  it('a refused key exits 4 and leaves no file under the real name', async () => {
    const strict = await startEmulator({ data: 'empty', rateLimits: 'off', key: 'pk_only_this_one_0123456789abcdef', record: recording.file });
    try {
      const out = join(root, 'work', 'refused.csv');
      writeFileSync(out, 'yesterday\n');
      const r = await runKlv(['export', 'lists', '-o', out], { cwd: join(root, 'work'), env: env({ KLAVIYO_BASE_URL: strict.url }) });
      expect(r.code).toBe(4);
      expect(readFileSync(out, 'utf8')).toBe('yesterday\n');
      expect(r.stderr).toContain(`${out}.partial`);
    } finally {
      await strict.close();
    }
  });
});

describe('spec conformance', () => {
  it('every exchange of these exports follows Klaviyo\'s OpenAPI spec', () => {
    // The refused key's 401 is provoked on purpose: Klaviyo's spec documents it too.
    recording.expectConformant({ minExchanges: 1 });
  });
});

describe('klv export: Ctrl-C', () => {
  let slow: RunningEmulator;
  beforeAll(async () => {
    // Slow pages, so that the export is certainly still running when the signal arrives.
    slow = await startEmulator({ data: 'demo', profiles: 5_000, rateLimits: 'off', latencyMs: 200, seed: 2, record: recording.file });
  });
  afterAll(() => slow?.close());

  /** Runs an export and sends SIGINT once `ready` sees the output it waits for. */
  function interrupt(args: string[], ready: (output: OutputSoFar) => boolean, what: string): Promise<RunResult> {
    return runAndInterrupt(['export', ...args], { cwd: join(root, 'work'), env: env({ KLAVIYO_BASE_URL: slow.url }), signal: 'SIGINT', when: ready, what });
  }

  it('to stdout: exit 130, the rows already written stay, and it says how many', async () => {
    const r = await interrupt(['profiles', '--format', 'ndjson'], ({ stdout }) => stdout.includes('\n'), 'a first row on stdout');
    expect(r.code).toBe(130);
    const rows = ndjson(r.stdout.slice(0, r.stdout.lastIndexOf('\n') + 1));
    // At least the row the signal waited for; not all of the 5,000 (pages take 200 ms each).
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.length).toBeLessThan(5_000);
    expect(new Set(rows.map((x) => x.Id)).size).toBe(rows.length);
    expect(r.stderr).toContain(`Export interrupted: ${rows.length.toLocaleString('en-US')} profiles were written to standard output before that.`);
  });

  it('to a file: exit 130, FILE.partial kept with every row it reports, FILE untouched', async () => {
    const out = join(root, 'work', 'interrupted.ndjson');
    writeFileSync(out, 'yesterday\n');
    // --verbose journals each request on stderr: interrupt once a first page has arrived.
    const r = await interrupt(['profiles', '-o', out, '--verbose'], ({ stderr }) => (stderr.match(/-> 200/g) ?? []).length >= 1, 'a first page journaled');
    expect(r.code).toBe(130);
    expect(readFileSync(out, 'utf8')).toBe('yesterday\n');
    const kept = ndjson(readFileSync(`${out}.partial`, 'utf8'));
    const m = /Export interrupted: the ([\d,]+) profiles? written so far (?:is|are) in (.+)\.partial; /.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(Number(m![1].replace(/,/g, ''))).toBe(kept.length);
    expect(m![2]).toBe(out);
  });
});
