/**
 * The export matrix of issue 8: `klv export profiles` on 20,000 profiles against `klv emulator`
 * run as a separate process, with Klaviyo's rate limits on and every fault kind the emulator
 * injects (5xx, dropped connections before and after handling, slow answers past klv's timeout,
 * 429 storms), plus Ctrl-C, SIGKILL and a failure no retry can fix.
 *
 * What it proves, for each run: the exit code tells the truth, the rows are exactly the
 * account's (every profile once, every value as a fault-free export has it: faults never change
 * data), a file output is either complete under its name or absent (the previous file kept
 * byte for byte, what was written left in `<file>.partial` and named), and no key is printed.
 *
 * The reference is a fault-free export taken first. It has exactly the emulator's profiles:
 * klv can only export ids the emulator sent, and it exports 20,000 distinct ones from an account
 * made with --profiles 20000, so the sets are equal without fetching the account's 40 MB state.
 *
 * Each test has an emulator of its own, started with the same seed and KLV_NOW as the
 * reference's, so it serves the same account (to the millisecond), its fault counters count only
 * that test's runs, and its faults are drawn from the start of the seeded stream, whatever ran
 * before. Faults are deterministic in number: the emulator draws once per request outside a
 * storm, and hands the hits' kinds out round-robin. With SEED 12 and RATE 0.04 the first 200
 * draws hold 8 hits, the 7th at draw 146 (the emulator's mulberry32); a full export draws at
 * least 200 times (each of its 200 pages was a draw that missed), so every export under faults
 * sees every kind, whatever order the concurrent requests arrive in. Whether a 429 storm catches
 * other requests in flight (`throttled`) depends on timing: the file claims it once over all its
 * runs, in afterAll. Slow answers (SLOW_MS) outlast KLV_TIMEOUT, so klv sees them as timeouts and
 * retries them.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { resetRateLimits, SpawnedEmulators } from '../helpers/emulator.js';
import { addFaults, ALL_FAULT_KINDS, faultsDuring, FaultTally, kindsMissing, setFaults, type FaultCounts } from '../helpers/faults.js';
import { runAndAct, runAndInterrupt } from '../helpers/midway.js';

const PROFILES = 20_000;
const SEED = 12;
const RATE = 0.04;
/** klv's per-request timeout (s): above the emulator's answer time on a busy 2-core machine. */
const KLV_TIMEOUT_S = 2;
/** A slow answer comes after klv gave up on it: a timeout, retried. */
const SLOW_MS = 3_000;
/** Short storms: each costs every cursor a Retry-After of 1 s. */
const STORM_MS = 1_000;
/** A run is provably mid-way once its .partial holds this much (~5,000 of the ~8 MB of rows). */
const MID_WAY_BYTES = 2_000_000;
const RUN_TIMEOUT_MS = 90_000;
/** Every emulator's "now": the same demo account in each (see the header). */
const EMULATOR_NOW = '2026-07-15T12:00:00Z';

const emulators = new SpawnedEmulators();
/** The emulator of the running test (or of the reference, in beforeAll). */
let url: string;
let root: string;
let reference: Reference;

const KEY = 'pk_faults_export_0123456789abcdef';

function env(key: string): NodeJS.ProcessEnv {
  return cleanEnv({
    HOME: root,
    XDG_CONFIG_HOME: join(root, 'xdg'),
    KLAVIYO_BASE_URL: url,
    KLAVIYO_PRIVATE_API_KEY: key,
    KLV_TIMEOUT: String(KLV_TIMEOUT_S),
  });
}

function expectNoKey(r: RunResult, key: string): void {
  for (const text of [r.stdout, r.stderr]) {
    expect(text).not.toContain(key);
    // Nor a recognisable piece of it (the redacted form keeps only its first 7 and last 4 characters).
    expect(text).not.toContain(key.slice(0, 20));
  }
}

/** One export; every run starts with full rate-limit windows (the emulator counts per account). */
async function exportRun(args: string[]): Promise<RunResult> {
  await resetRateLimits(url);
  const r = await runKlv(['export', 'profiles', ...args], { cwd: root, env: env(KEY), timeoutMs: RUN_TIMEOUT_MS });
  expectNoKey(r, KEY);
  return r;
}

// --- the reference and comparisons against it ---------------------------------------------

interface Reference {
  header: string;
  columns: string[];
  /** Id -> the row's CSV line. */
  lines: Map<string, string>;
  /** Id -> the row's cells. */
  cells: Map<string, string[]>;
}

function loadReference(text: string): Reference {
  const lines = text.split('\n');
  expect(lines.pop(), 'the export ends with a line break').toBe('');
  const header = lines.shift()!;
  expect(lines.length, 'the reference has one row per profile').toBe(PROFILES);
  const byId = new Map<string, string>();
  for (const line of lines) byId.set(idOf(line), line);
  const records = parse(text, { columns: false, skip_empty_lines: true }) as string[][];
  const columns = records.shift()!;
  const cells = new Map(records.map((r) => [r[0]!, r]));
  return { header, columns, lines: byId, cells };
}

/** Ids are Klaviyo's 26-character ids: the first cell, never quoted. */
function idOf(line: string): string {
  const comma = line.indexOf(',');
  return comma < 0 ? line : line.slice(0, comma);
}

const first = <T>(items: Iterable<T>, n = 5): T[] => [...items].slice(0, n);

interface Comparison {
  header: boolean;
  rows: number;
  /** Ids seen more than once (first few). */
  duplicated: string[];
  /** Ids the reference does not have (first few). */
  unexpected: string[];
  /** Rows whose values differ from the reference's (ids, first few). */
  changed: string[];
  missing: number;
}

const exact = (rows = PROFILES): Comparison => ({ header: true, rows, duplicated: [], unexpected: [], changed: [], missing: PROFILES - rows });

/** Compares CSV rows with the reference, line by line (the encoder is deterministic). */
function compareCsv(text: string): Comparison {
  const lines = text.split('\n');
  expect(lines.pop(), 'the CSV ends with a complete line').toBe('');
  const header = lines.shift() === reference.header;
  return compareRows(lines.map((line) => [idOf(line), (ref: string) => reference.lines.get(ref) === line] as const), header);
}

/** JSON values as the CSV writes them: null empty, objects as compact JSON, the rest as text. */
function cellOf(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Compares NDJSON rows with the reference: same columns in the same order, same values. */
function compareNdjson(text: string): Comparison {
  const lines = text.split('\n');
  expect(lines.pop(), 'the NDJSON ends with a complete line').toBe('');
  let header = true;
  const rows = lines.map((line) => {
    const record = JSON.parse(line) as Record<string, unknown>;
    if (Object.keys(record).join(',') !== reference.columns.join(',')) header = false;
    const cells = reference.columns.map((c) => cellOf(record[c]));
    return [String(record.Id), (id: string) => reference.cells.get(id)!.join('\u0000') === cells.join('\u0000')] as const;
  });
  return compareRows(rows, header);
}

function compareRows(rows: ReadonlyArray<readonly [string, (id: string) => boolean]>, header: boolean): Comparison {
  const seen = new Set<string>();
  const duplicated: string[] = [];
  const unexpected: string[] = [];
  const changed: string[] = [];
  for (const [id, same] of rows) {
    if (seen.has(id)) duplicated.push(id);
    seen.add(id);
    if (!reference.lines.has(id)) unexpected.push(id);
    else if (!same(id)) changed.push(id);
  }
  return {
    header,
    rows: rows.length,
    duplicated: first(duplicated),
    unexpected: first(unexpected),
    changed: first(changed),
    missing: [...reference.lines.keys()].filter((id) => !seen.has(id)).length,
  };
}

// --- fault accounting ---------------------------------------------------------------------

type Counts = FaultCounts;

/** The runs under faults, each counted by its test; afterAll claims what only the whole matrix can. */
const matrix = new FaultTally(['csv', 'ndjson', 'sigint', 'sigkill']);

const sum = (counts: Counts, kinds: readonly string[]) => kinds.reduce((s, k) => s + (counts[k] ?? 0), 0);

/** The parts of `--json`'s summary these checks read. */
interface SummaryJson {
  object: string;
  rows: number;
  retries: number;
}

/**
 * Every request the emulator failed on purpose (a fault drawn, or a 429 inside a storm) was one
 * attempt of this klv, the emulator's only client, that failed: klv saw the fault, or gave up
 * first after KLV_TIMEOUT. In a run that succeeds, each failed attempt was retried, so klv
 * retried at least that many times (more when it timed out on a merely slow machine). A slow
 * answer that klv waited for instead of timing out is a success without a retry: too few.
 */
function expectFaultsRetried(summary: SummaryJson, injected: Counts): void {
  expect(sum(injected, ALL_FAULT_KINDS), 'faults were injected during the run').toBeGreaterThan(0);
  const failedAttempts = sum(injected, [...ALL_FAULT_KINDS, 'throttled']);
  expect(summary.retries, `klv retried every failed request (injected: ${JSON.stringify(injected)})`).toBeGreaterThanOrEqual(failedAttempts);
}

/** Runs an export under faults and returns what it needs checked, with the faults it met. */
async function exportUnderFaults(args: string[]): Promise<{ r: RunResult; summary: SummaryJson; injected: Counts }> {
  const { result: r, injected } = await faultsDuring(url, () => exportRun(['--json', ...args]));
  expect(r.code, r.stderr).toBe(0);
  // The JSON summary: on stdout when rows went to a file, else the last line of stderr.
  const usesFile = args.includes('-o');
  const line = usesFile ? r.stdout.trim() : r.stderr.trim().split('\n').pop()!;
  const summary = JSON.parse(line) as SummaryJson;
  expect(summary).toMatchObject({ object: 'Profiles', rows: PROFILES });
  expectFaultsRetried(summary, injected);
  return { r, summary, injected };
}

const sizeOf = (path: string) => (existsSync(path) ? statSync(path).size : 0);

function cleanOutputs(name: string): { out: string; partial: string } {
  const out = join(root, name);
  const partial = `${out}.partial`;
  rmSync(out, { force: true });
  rmSync(partial, { force: true });
  return { out, partial };
}

// --- the matrix ---------------------------------------------------------------------------

/** Starts an emulator for the running test (see the header) and points `url` at it. */
async function ownEmulator(faultRate: number): Promise<void> {
  url = await emulators.start(
    [
      '--port', '0',
      '--profiles', String(PROFILES),
      '--seed', String(SEED),
      '--rate-limits', 'spec',
      '--faults', String(faultRate),
      '--fault-kinds', 'all',
      '--slow-ms', String(SLOW_MS),
      '--storm-ms', String(STORM_MS),
    ],
    cleanEnv({ KLV_NOW: EMULATOR_NOW }),
  );
}

beforeAll(async () => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-faults-export-')));
  await ownEmulator(0);
  // The reference, fault-free.
  const { result: r, injected } = await faultsDuring(url, () => exportRun(['-o', 'reference.csv']));
  expect(r.code, r.stderr).toBe(0);
  reference = loadReference(readFileSync(join(root, 'reference.csv'), 'utf8'));
  expect(reference.lines.size, 'each profile once').toBe(PROFILES);
  expect(reference.cells.size).toBe(PROFILES);
  expect(sum(injected, ALL_FAULT_KINDS), 'the reference ran without faults').toBe(0);
  await emulators.stopAll();
}, 120_000);

afterEach(() => emulators.stopAll());

afterAll(async () => {
  await emulators.stopAll();
  if (root) rmSync(root, { recursive: true, force: true });
  // Over all the runs under faults, once they all ran: storms caught requests in flight.
  if (matrix.complete) expect(matrix.counts.throttled, `requests answered 429 inside storms, over the matrix: ${JSON.stringify(matrix.counts)}`).toBeGreaterThan(0);
});

describe(`klv export profiles, ${PROFILES.toLocaleString('en-US')} profiles, every fault kind, spec rate limits`, () => {
  it('-o out.csv under faults: exit 0, every profile exactly once with the reference values, every fault kind met', async () => {
    await ownEmulator(RATE);
    const { out, partial } = cleanOutputs('out.csv');
    const { r, injected } = await exportUnderFaults(['-o', 'out.csv']);
    matrix.add('csv', injected);
    expect(compareCsv(readFileSync(out, 'utf8'))).toEqual(exact());
    expect(existsSync(partial), 'the .partial was renamed into place').toBe(false);
    expect(r.stderr).not.toMatch(/error|warning/i);
    // Deterministic with SEED (see the header): an export under faults meets them all.
    expect(kindsMissing(injected, ALL_FAULT_KINDS), `fault kinds this export did not meet: ${JSON.stringify(injected)}`).toEqual([]);
  }, RUN_TIMEOUT_MS);

  // NDJSON on stdout: one run covers both the other encoder and the output that cannot be
  // taken back (a page written twice after a retry would stay written).
  it('to stdout as NDJSON under faults: exit 0, every profile exactly once with the reference values', async () => {
    await ownEmulator(RATE);
    const { r, injected } = await exportUnderFaults(['--format', 'ndjson']);
    matrix.add('ndjson', injected);
    expect(compareNdjson(r.stdout)).toEqual(exact());
    expect(kindsMissing(injected, ALL_FAULT_KINDS), `fault kinds this export did not meet: ${JSON.stringify(injected)}`).toEqual([]);
  }, RUN_TIMEOUT_MS);

  it('SIGINT mid-way: exit 130, no out.csv, the rows so far in out.csv.partial and named; a re-run gives the reference', async () => {
    await ownEmulator(RATE);
    const { out, partial } = cleanOutputs('interrupted.csv');
    await resetRateLimits(url);
    const { result: r, injected } = await faultsDuring(url, () =>
      runAndInterrupt(['export', 'profiles', '-o', 'interrupted.csv'], {
        cwd: root,
        env: env(KEY),
        signal: 'SIGINT',
        when: () => sizeOf(partial) > MID_WAY_BYTES,
        timeoutMs: RUN_TIMEOUT_MS,
        what: `interrupted.csv.partial to pass ${MID_WAY_BYTES} bytes`,
      }),
    );
    expectNoKey(r, KEY);
    expect(r.code, r.stderr).toBe(130);
    expect(existsSync(out), 'no interrupted.csv: it would look complete').toBe(false);
    const said = /Export interrupted: the ([\d,]+) profiles written so far are in (\S+\.partial); interrupted\.csv was not changed\./.exec(r.stderr);
    expect(said, r.stderr).not.toBeNull();
    expect(said![2]).toBe(partial);
    // What was kept is a clean prefix of the export: whole rows, each once, the reference's values.
    const kept = compareCsv(readFileSync(partial, 'utf8'));
    const rows = Number(said![1]!.replace(/,/g, ''));
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThan(PROFILES);
    expect(kept).toEqual(exact(rows));

    const rerun = await faultsDuring(url, () => exportRun(['-o', 'interrupted.csv']));
    matrix.add('sigint', addFaults(injected, rerun.injected));
    const again = rerun.result;
    expect(again.code, again.stderr).toBe(0);
    expect(compareCsv(readFileSync(out, 'utf8'))).toEqual(exact());
    expect(existsSync(partial), 'the re-run renamed its .partial into place').toBe(false);
  }, 2 * RUN_TIMEOUT_MS);

  it('SIGKILL mid-way: the previous out.csv byte for byte; a re-run gives the reference', async () => {
    await ownEmulator(RATE);
    const { out, partial } = cleanOutputs('killed.csv');
    // A previous export under the same name, as a cron job would have left it.
    const previous = `${reference.header}\n${first(reference.lines.values(), 3).join('\n')}\n`;
    writeFileSync(out, previous);
    await resetRateLimits(url);
    const { result: r, injected } = await faultsDuring(url, () =>
      runAndInterrupt(['export', 'profiles', '-o', 'killed.csv'], {
        cwd: root,
        env: env(KEY),
        signal: 'SIGKILL',
        when: () => sizeOf(partial) > MID_WAY_BYTES,
        timeoutMs: RUN_TIMEOUT_MS,
        what: `killed.csv.partial to pass ${MID_WAY_BYTES} bytes`,
      }),
    );
    expectNoKey(r, KEY);
    expect(r.signal).toBe('SIGKILL');
    expect(readFileSync(out, 'utf8'), 'the previous killed.csv is untouched').toBe(previous);
    expect(existsSync(partial)).toBe(true);

    const rerun = await faultsDuring(url, () => exportRun(['-o', 'killed.csv']));
    matrix.add('sigkill', addFaults(injected, rerun.injected));
    const again = rerun.result;
    expect(again.code, again.stderr).toBe(0);
    expect(compareCsv(readFileSync(out, 'utf8'))).toEqual(exact());
    expect(existsSync(partial)).toBe(false);
  }, 2 * RUN_TIMEOUT_MS);

  it('503 on every request from mid-way on: exit 1, the status, Klaviyo\'s detail and what to do; no out.csv, the .partial named', async () => {
    await ownEmulator(0);
    const { out, partial } = cleanOutputs('failed.csv');
    const previous = 'a previous export\n';
    writeFileSync(out, previous);
    await resetRateLimits(url);
    const r = await runAndAct(['export', 'profiles', '-o', 'failed.csv'], {
      cwd: root,
      env: env(KEY),
      when: () => sizeOf(partial) > MID_WAY_BYTES,
      act: async () => void (await setFaults(url, { rate: 1, kinds: ['503'] })),
      timeoutMs: RUN_TIMEOUT_MS,
      what: `failed.csv.partial to pass ${MID_WAY_BYTES} bytes`,
    });
    expectNoKey(r, KEY);
    expect(r.code, r.stderr).toBe(1);
    // What failed: the request, the status and Klaviyo's own error detail...
    expect(r.stderr).toMatch(/error: GET \/api\/profiles failed: 503 service_unavailable: Injected fault \(--faults\): the emulator answered 503 on purpose/);
    // ...that klv retried it, and what to do next.
    expect(r.stderr).toMatch(/hint: Klaviyo is failing after \d+ attempts\. Try again later/);
    const said = /The export of Profiles stopped early: the ([\d,]+) profiles written so far are in (\S+\.partial); failed\.csv was not changed\./.exec(r.stderr);
    expect(said, r.stderr).not.toBeNull();
    expect(said![2]).toBe(partial);
    expect(readFileSync(out, 'utf8'), 'the previous failed.csv is untouched').toBe(previous);
    const rows = Number(said![1]!.replace(/,/g, ''));
    expect(compareCsv(readFileSync(partial, 'utf8'))).toEqual(exact(rows));
    expect(r.stdout).toBe('');
  }, RUN_TIMEOUT_MS);
});
