/**
 * Issue 8's fault matrix for `klv import`: 20,000 profiles upserted through bulk import jobs
 * against `klv emulator` (a separate process, the spec's rate limits on, as against Klaviyo)
 * that injects every kind of fault: 500/502/503, connections dropped before and after the
 * request is handled, responses slower than klv's KLV_TIMEOUT (so they time out), 429 storms,
 * and bulk import jobs cancelled half-way. Once in one run, once stopped by SIGINT and resumed,
 * once killed by SIGKILL while a cancelled job's rows were waiting to be sent again, and resumed.
 *
 * What every profile scenario proves, over the final logs and the emulator's account:
 *  - every input row is in exactly one of the two logs (none missing, none twice, none in both);
 *  - the deliberately invalid rows are in the error log with a reason naming the bad email;
 *  - every other row is in the success log with its profile's Id, except rows that three bulk
 *    import jobs in a row stopped before importing: klv sends a cancelled job's missing rows
 *    again, twice at most. The emulator's cancelled job imports its first half, so the last
 *    eighth of a batch is left out when its job and both re-sends are cancelled (rate^3, about
 *    one batch in 23 at the rate used here): such rows are in the error log as `job_cancelled`,
 *    naming three jobs that the recording shows cancelled with that row in them, and absent from
 *    the account. Their message says to re-run the import with the error log as input: the test
 *    does so (job faults off), and checks that it imports exactly them;
 *  - the account then holds every valid email exactly once, with the CSV's attributes;
 *  - the exit code is 3 (the invalid rows), and no output or log shows the API key.
 * After an interruption, the emulator's recording shows that the resumed run sent no row that
 * the interrupted run had logged.
 *
 * Beside them, a small non-idempotent case on a second emulator: Lists inserts whose responses
 * are lost after the list was created (drop-after) or come after klv's timeout (slow). Such rows
 * can only be `unknown_outcome`, and must never be sent twice. It runs alongside the profile
 * scenarios: it spends its time waiting for create_list's rate limit (10/s).
 *
 * Every scenario counts the faults its own runs met (a delta of the emulator's counters); once all
 * three ran, afterAll checks that together they met every fault kind, 429 storms that caught
 * requests in flight, cancelled jobs and rows of cancelled jobs sent again: otherwise the file
 * would prove nothing. No single scenario can promise all of that (a few faults each, at this
 * rate), nor can the order they run in matter. The Lists run has an emulator of its own: its
 * test checks that emulator's counters, which count only that run.
 *
 * The signals are sent when the run's files (and the recording) say it is mid-way: a condition
 * polled with a bound (test/helpers/faults.ts), never a fixed sleep.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { resetRateLimits, spawnEmulator, type EmulatorProcess } from '../helpers/emulator.js';
import { ALL_FAULT_KINDS, faultDelta, FaultTally, getFaults, kindsMissing, setFaults, type FaultCounts } from '../helpers/faults.js';
import { runAndInterrupt } from '../helpers/midway.js';
import { withRecording } from '../helpers/recording.js';
import type { AccountSnapshot } from '../../src/emulator/store/types.js';

const SEED = 8;
const ROWS = 20_000;
const BATCH = 2_000;
/** Rows with a malformed email: 20 of them, spread over the file (the first in the first batch). */
const INVALID: ReadonlySet<number> = new Set(Array.from({ length: ROWS / 1_000 }, (_, k) => k * 1_000 + 7));
/** klv's per-request timeout, seconds; slow faults hold responses longer, so they time out. */
const KLV_TIMEOUT = '1.5';
const FAULTS = { rate: 0.03, kinds: ALL_FAULT_KINDS, slowMs: 2_000, stormMs: 1_000, jobFailRate: 0.35 };
/** Lists: only the faults that lose the outcome of a write that was applied. */
const LIST_FAULTS = { rate: 0.1, kinds: ['drop-after', 'slow'] as const, slowMs: 2_000 };
/** Under Klaviyo's daily cap of 150 new lists per account (the emulator's too), so that no row meets it. */
const LISTS = 140;
/** Rows the success log holds when SIGINT is sent / before SIGKILL may be sent. */
const MIDWAY_ROWS = 4_000;
const RUN_TIMEOUT_MS = 120_000;

const recording = withRecording({ setEnv: false });
const listsRecording = withRecording({ setEnv: false });
let emulator: EmulatorProcess;
let listsEmulator: EmulatorProcess;
let url = '';
let root: string;
let work: string;
let scenario = 0;
const KEY = 'pk_faults_import_0123456789abcdef';
/** The Lists run, started in beforeAll: it spends its time waiting for the rate limit, so it overlaps the profile scenarios. */
let listsRun: Promise<{ result: RunResult; dir: string; url: string }>;

beforeAll(async () => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-faults-import-')));
  emulator = spawnEmulator(
    [
      '--port', '0', '--data', 'empty', '--seed', String(SEED),
      '--faults', String(FAULTS.rate), '--fault-kinds', 'all', '--slow-ms', String(FAULTS.slowMs),
      '--storm-ms', String(FAULTS.stormMs), '--job-faults', String(FAULTS.jobFailRate),
    ],
    { ...recording.env },
  );
  listsEmulator = spawnEmulator(
    ['--port', '0', '--data', 'empty', '--seed', String(SEED), '--faults', String(LIST_FAULTS.rate), '--fault-kinds', LIST_FAULTS.kinds.join(','), '--slow-ms', String(LIST_FAULTS.slowMs)],
    { ...listsRecording.env },
  );
  url = await emulator.url;
  const listsUrl = await listsEmulator.url;
  const dir = join(root, 'lists');
  mkdirSync(dir);
  writeFileSync(join(dir, 'lists.csv'), `Name\n${range(LISTS).map(listName).join('\n')}\n`);
  listsRun = runKlv(['import', 'lists', 'lists.csv', '--op', 'insert'], { cwd: dir, env: envFor(listsUrl), timeoutMs: RUN_TIMEOUT_MS }).then((result) => ({ result, dir, url: listsUrl }));
  // Awaited by its test; a failure must not surface as an unhandled rejection before that.
  listsRun.catch(() => undefined);
});

/** The profile scenarios' faults, each counted by its scenario (see the header). */
const matrix = new FaultTally(['one run', 'sigint', 'sigkill']);

afterAll(async () => {
  await listsRun?.catch(() => undefined);
  await Promise.all([emulator?.stop(), listsEmulator?.stop()]);
  if (root) rmSync(root, { recursive: true, force: true });
  if (!matrix.complete) return; // a filter ran only some scenarios: no matrix to judge
  const met = JSON.stringify(matrix.counts);
  expect(kindsMissing(matrix.counts, ALL_FAULT_KINDS), `fault kinds no profile scenario met: ${met}`).toEqual([]);
  expect(matrix.counts.throttled, `requests answered 429 inside storms: ${met}`).toBeGreaterThan(0);
  expect(matrix.counts['job-cancelled'], `bulk import jobs cancelled: ${met}`).toBeGreaterThan(2);
  expect(matrix.counts[ROWS_SENT_AGAIN], `rows of cancelled jobs sent again: ${met}`).toBeGreaterThan(0);
});

/**
 * An admin request, sent again once if the connection was closed under it: after seconds of
 * synchronous checks in this process, a pooled keep-alive connection the emulator has meanwhile
 * closed can be picked before its close is seen. Admin requests are safe to repeat.
 */
async function admin<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    if (!(err instanceof TypeError && /fetch failed/.test(err.message))) throw err;
    return send();
  }
}

beforeEach(async () => {
  scenario++;
  work = join(root, `s${scenario}`);
  mkdirSync(work);
  await admin(() => fetch(`${url}/_emulator/reset`, { method: 'POST' }));
  await setFaults(url, FAULTS);
  recording.clear();
});

function envFor(base = url): NodeJS.ProcessEnv {
  return cleanEnv({ HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), KLAVIYO_BASE_URL: base, KLAVIYO_PRIVATE_API_KEY: KEY, KLV_TIMEOUT });
}

/**
 * The environment of one run, which starts with full rate-limit windows: the emulator counts per
 * account, as Klaviyo does, and a second run of a scenario must not inherit the first one's.
 */
async function freshRun(base = url): Promise<NodeJS.ProcessEnv> {
  await resetRateLimits(base);
  return envFor(base);
}

function expectNoKey(...texts: string[]): void {
  for (const text of texts) expect(text.includes(KEY.slice(3)), 'the API key shows in an output or a log').toBe(false);
}

async function klv(args: string[]): Promise<RunResult> {
  const r = await runKlv(args, { cwd: work, env: await freshRun(), timeoutMs: RUN_TIMEOUT_MS });
  expectNoKey(r.stdout, r.stderr);
  return r;
}

async function account(base = url): Promise<AccountSnapshot> {
  return admin(async () => (await (await fetch(`${base}/_emulator/state`)).json()) as AccountSnapshot);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const byNumber = (a: number, b: number) => a - b;

function log(name: string, dir = work): Array<Record<string, string>> {
  return parse(readFileSync(join(dir, name), 'utf8'), { columns: true }) as Array<Record<string, string>>;
}

const listName = (i: number) => `Matrix list ${String(i).padStart(3, '0')}`;

// ---------------------------------------------------------------------------------------------
// The input

const email = (i: number) => (INVALID.has(i) ? `person${i}-at-example.com` : `person${i}@example.com`);
const firstName = (i: number) => `F${i}`;
const city = (i: number) => `City${i % 97}`;
const tier = (i: number) => `t${i % 5}`;
/** person123@example.com -> 123. */
const rowOfEmail = (e: string) => Number(/^person(\d+)[@-]/.exec(e)?.[1]);

function writeProfilesInput(): void {
  const lines = ['Email,FirstName,City,Properties.tier'];
  for (let i = 1; i <= ROWS; i++) lines.push(`${email(i)},${firstName(i)},${city(i)},${tier(i)}`);
  writeFileSync(join(work, 'people.csv'), `${lines.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------
// Following a run while it runs (or after a kill): only complete lines count, as for --resume.

/** The complete lines appended to a file since the last call (the file may not exist yet). */
class Tail {
  #fd: number | undefined;
  #offset = 0;
  #rest = '';
  constructor(readonly path: string) {}

  read(): string[] {
    if (this.#fd === undefined) {
      if (!existsSync(this.path)) return [];
      this.#fd = openSync(this.path, 'r');
    }
    const size = fstatSync(this.#fd).size;
    if (size <= this.#offset) return [];
    const buf = Buffer.alloc(size - this.#offset);
    const n = readSync(this.#fd, buf, 0, buf.length, this.#offset);
    this.#offset += n;
    const parts = (this.#rest + buf.subarray(0, n).toString('utf8')).split('\n');
    this.#rest = parts.pop()!;
    return parts;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

interface Files {
  success: string;
  errors: string;
  journal: string;
}

const files = (prefix: string): Files => ({
  success: join(work, `${prefix}.success.csv`),
  errors: join(work, `${prefix}.errors.csv`),
  journal: join(work, `${prefix}.errors.csv.journal`),
});

/** Row number of a log line (the first cell; no quotes in it). */
const rowOfLine = (line: string) => Number(line.slice(0, line.indexOf(',')));

/**
 * What a run's files and the emulator's recording say, read incrementally: rows logged, rows
 * journaled (sent), and the rows of bulk import jobs the emulator answered `cancelled`.
 */
class Progress {
  readonly success = new Set<number>();
  readonly errors = new Set<number>();
  readonly journaled = new Set<number>();
  /** Rows (by their email) in each job klv got an id for. */
  readonly #jobRows = new Map<string, number[]>();
  readonly cancelledRows = new Set<number>();
  readonly #tails: { success: Tail; errors: Tail; journal: Tail; recording: Tail };

  constructor(f: Files) {
    this.#tails = { success: new Tail(f.success), errors: new Tail(f.errors), journal: new Tail(f.journal), recording: new Tail(recording.file) };
  }

  update(): this {
    for (const [tail, set] of [[this.#tails.success, this.success], [this.#tails.errors, this.errors]] as const) {
      for (const line of tail.read()) if (!line.startsWith('Row,')) set.add(rowOfLine(line));
    }
    for (const line of this.#tails.journal.read()) {
      if (line.startsWith('{"sent"')) for (const r of (JSON.parse(line) as { sent: number[] }).sent) this.journaled.add(r);
      // Rows journaled, then held back by a fatal stop: never sent.
      else if (line.startsWith('{"unsent"')) for (const r of (JSON.parse(line) as { unsent: number[] }).unsent) this.journaled.delete(r);
    }
    for (const line of this.#tails.recording.read()) {
      const job = jobOf(line);
      if (job?.posted) this.#jobRows.set(job.id, job.posted.map(rowOfEmail));
      else if (job?.status === 'cancelled') for (const r of this.#jobRows.get(job.id) ?? []) this.cancelledRows.add(r);
    }
    return this;
  }

  isLogged(row: number): boolean {
    return this.success.has(row) || this.errors.has(row);
  }

  /** Rows sent (journaled) whose outcome no log holds yet. */
  inDoubt(): number[] {
    return [...this.journaled].filter((r) => !this.isLogged(r));
  }

  close(): void {
    for (const t of Object.values(this.#tails)) t.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The emulator's recording

interface Exchange {
  operationId: string | null;
  path: string;
  requestBody: any;
  status: number;
  responseBody: any;
  dropped?: true;
}

/**
 * A bulk import job line of the recording: a POST the emulator accepted (the job's id and the
 * emails sent in it) or a GET of one job (its status). Other lines are not parsed (they are
 * large and many).
 */
function jobOf(line: string): { id: string; posted?: string[]; status?: string } | undefined {
  if (line.startsWith('{"operationId":"bulk_import_profiles"')) {
    const x = JSON.parse(line) as Exchange;
    if (x.status !== 202) return undefined;
    return { id: x.responseBody.data.id, posted: x.requestBody.data.attributes.profiles.data.map((p: any) => String(p.attributes.email).toLowerCase()) };
  }
  if (line.startsWith('{"operationId":"get_bulk_import_profiles_job"')) {
    const x = JSON.parse(line) as Exchange;
    if (x.status !== 200) return undefined;
    return { id: x.responseBody.data.id, status: x.responseBody.data.attributes.status };
  }
  return undefined;
}

function recordingLines(): string[] {
  return readFileSync(recording.file, 'utf8').split('\n').filter((l) => l !== '');
}

/** Every bulk import job of the recording (from line `from`): the emails sent in it, whether it was accepted, and its last status seen. */
function jobsInRecording(from = 0): { sends: Array<{ emails: string[] }>; jobs: Map<string, { emails: string[]; status?: string }> } {
  const sends: Array<{ emails: string[] }> = [];
  const jobs = new Map<string, { emails: string[]; status?: string }>();
  for (const line of recordingLines().slice(from)) {
    if (line.startsWith('{"operationId":"bulk_import_profiles"')) {
      // Every attempt counts as sent, answered or not (a dropped or faulted one may have been applied).
      const x = JSON.parse(line) as Exchange;
      const emails = (x.requestBody?.data?.attributes?.profiles?.data ?? []).map((p: any) => String(p.attributes.email).toLowerCase());
      sends.push({ emails });
      if (x.status === 202) jobs.set(x.responseBody.data.id, { emails });
      continue;
    }
    const job = jobOf(line);
    if (job?.status && jobs.has(job.id)) jobs.get(job.id)!.status = job.status;
  }
  return { sends, jobs };
}

// ---------------------------------------------------------------------------------------------
// The checks of every profile scenario

function profilesByEmail(state: AccountSnapshot): Map<string, Array<{ id: string; attributes: any }>> {
  const byEmail = new Map<string, Array<{ id: string; attributes: any }>>();
  for (const p of state.resources.profile ?? []) {
    const e = String((p.attributes as { email?: string }).email).toLowerCase();
    byEmail.set(e, [...(byEmail.get(e) ?? []), { id: p.id, attributes: p.attributes }]);
  }
  return byEmail;
}

/** What is wrong with row i's profile attributes, if anything (the CSV's values). */
function attributeProblem(i: number, attributes: any): string | undefined {
  const got = { first_name: attributes.first_name, city: attributes.location?.city, tier: attributes.properties?.tier };
  const want = { first_name: firstName(i), city: city(i), tier: tier(i) };
  return JSON.stringify(got) === JSON.stringify(want) ? undefined : `row ${i}'s profile has ${JSON.stringify(got)}, the CSV says ${JSON.stringify(want)}`;
}

/**
 * Collects what is wrong (20,000 rows checked one by one through expect() would take seconds),
 * then fails once, showing the first problems.
 */
class Problems {
  readonly list: string[] = [];
  check(ok: boolean, problem: () => string): void {
    if (!ok) this.list.push(problem());
  }
  expectNone(what: string): void {
    expect(this.list.slice(0, 15), `${this.list.length} problem(s) with ${what}`).toEqual([]);
  }
}

/** Job ids a job_cancelled message names: `01ABC... (cancelled)`. */
function jobIdsIn(message: string): string[] {
  return [...message.matchAll(/(\w+) \((?:cancelled|failed)\)/g)].map((m) => m[1]!);
}

/**
 * The final logs and account of a profile import (see the header): returns the rows that three
 * cancelled jobs left out, after importing them as their message says.
 */
async function expectImportComplete(f: Files): Promise<{ exhausted: number[]; success: number }> {
  const successLog = log('people.success.csv');
  const errorLog = log('people.errors.csv');
  expectNoKey(readFileSync(f.success, 'utf8'), readFileSync(f.errors, 'utf8'));
  // Every input row exactly once, in one log.
  expect([...successLog, ...errorLog].map((r) => Number(r.Row)).sort(byNumber)).toEqual(range(ROWS));
  expect(existsSync(f.journal), 'a completed run removes its journal').toBe(false);

  const { jobs } = jobsInRecording();
  const exhausted: number[] = [];
  const logs = new Problems();
  for (const e of errorLog) {
    const i = Number(e.Row);
    logs.check(e.Email === email(i), () => `error log row ${i} has Email ${e.Email}`);
    if (INVALID.has(i)) {
      logs.check(e.ErrorCode === 'invalid_value' && e.ErrorMessage.includes(`Email: '${email(i)}' is not an email address`), () => `row ${i}: ${e.ErrorCode} ${e.ErrorMessage}`);
      continue;
    }
    // Not imported by three jobs that stopped: each named job was cancelled, with this row in it.
    exhausted.push(i);
    const named = jobIdsIn(e.ErrorMessage);
    logs.check(
      e.ErrorCode === 'job_cancelled' && /klv sent it 3 times.*re-running klv import with the error log as input/.test(e.ErrorMessage) && new Set(named).size === 3,
      () => `row ${i}: ${e.ErrorCode} ${e.ErrorMessage}`,
    );
    for (const id of named) {
      const job = jobs.get(id);
      logs.check(job?.status === 'cancelled' && job.emails.includes(email(i)), () => `row ${i}: job ${id} is ${job?.status} and has ${job?.emails.includes(email(i)) ? '' : 'not '}the row`);
    }
  }
  logs.check(errorLog.length - exhausted.length === INVALID.size, () => `${errorLog.length - exhausted.length} invalid rows in the error log, expected ${INVALID.size}`);
  for (const s of successLog) {
    const i = Number(s.Row);
    logs.check(s.Email === email(i) && ['created', 'updated'].includes(s.Status) && s.Id !== '', () => `success log row ${i}: ${JSON.stringify(s)}`);
  }
  logs.expectNone('the logs');

  // The account: each success row's profile once, with its attributes and the logged Id; rows
  // left out are not in it; nothing else is.
  const acc = await account();
  const byEmail = profilesByEmail(acc);
  const state = new Problems();
  for (const s of successLog) {
    const i = Number(s.Row);
    const found = byEmail.get(email(i)) ?? [];
    state.check(found.length === 1 && found[0]!.id === s.Id, () => `row ${i}: profiles ${JSON.stringify(found.map((p) => p.id))} have ${email(i)}, the success log says ${s.Id}`);
    const wrong = found[0] && attributeProblem(i, found[0].attributes);
    state.check(!wrong, () => wrong!);
  }
  for (const i of exhausted) state.check(!byEmail.has(email(i)), () => `row ${i} is in the error log but its profile exists`);
  state.check(byEmail.size === successLog.length, () => `${byEmail.size} profiles in the account, ${successLog.length} rows in the success log`);
  state.expectNone('the account');

  if (exhausted.length > 0) {
    await importTheErrorLog(exhausted);
    // Now every valid email, exactly once.
    const final = profilesByEmail(await account());
    const after = new Problems();
    after.check(final.size === ROWS - INVALID.size, () => `${final.size} profiles, expected ${ROWS - INVALID.size}`);
    for (const i of exhausted) {
      const found = final.get(email(i)) ?? [];
      after.check(found.length === 1, () => `row ${i}: ${found.length} profiles after importing the error log`);
      const wrong = found[0] && attributeProblem(i, found[0].attributes);
      after.check(!wrong, () => wrong!);
    }
    after.expectNone('the account after importing the error log');
  }
  return { exhausted, success: successLog.length };
}

/** What the job_cancelled message says to do: the error log as input (job faults off, the others on). */
async function importTheErrorLog(exhausted: number[]): Promise<void> {
  await setFaults(url, { jobFailRate: 0 });
  try {
    const r = await klv(['import', 'profiles', 'people.errors.csv', '--op', 'upsert', '--batch-size', String(BATCH)]);
    // The invalid rows fail again.
    expect(r.code, r.stderr).toBe(3);
    expect(log('people.errors.success.csv').map((s) => rowOfEmail(s.Email)).sort(byNumber)).toEqual([...exhausted].sort(byNumber));
    expect(log('people.errors.errors.csv').map((e) => rowOfEmail(e.Email)).sort(byNumber)).toEqual([...INVALID].sort(byNumber));
  } finally {
    await setFaults(url, { jobFailRate: FAULTS.jobFailRate });
  }
}

/** After an interruption: the resumed run (recording lines from `from`) sent none of the rows the interrupted run logged. */
function expectNoLoggedRowSentAgain(from: number, loggedBefore: ReadonlySet<number>): void {
  const { sends } = jobsInRecording(from);
  expect(sends.length, 'the resumed run sent jobs').toBeGreaterThan(0);
  const again = new Set<number>();
  for (const s of sends) for (const e of s.emails) if (loggedBefore.has(rowOfEmail(e))) again.add(rowOfEmail(e));
  expect([...again].sort(byNumber).slice(0, 20), 'rows logged by the interrupted run, sent again by --resume').toEqual([]);
}

/** The tally's count of rows of cancelled jobs that a scenario sent again in another job. */
const ROWS_SENT_AGAIN = 'rows-sent-again';

/** What one scenario met since `before` (the emulator's report at its start), for the tally. */
async function scenarioCounts(before: FaultCounts): Promise<FaultCounts> {
  return { ...faultDelta(before, (await getFaults(url)).injected), [ROWS_SENT_AGAIN]: rowsOfCancelledJobsSentAgain() };
}

/** Rows of a job the emulator cancelled that were sent in another accepted job too (this scenario). */
function rowsOfCancelledJobsSentAgain(): number {
  const jobs = [...jobsInRecording().jobs.values()];
  const inJobs = new Map<string, number>();
  for (const { emails } of jobs) for (const e of emails) inJobs.set(e, (inJobs.get(e) ?? 0) + 1);
  const again = new Set<string>();
  for (const { emails, status } of jobs) if (status === 'cancelled') for (const e of emails) if (inJobs.get(e)! > 1) again.add(e);
  return again.size;
}

const ARGS = ['import', 'profiles', 'people.csv', '--op', 'upsert', '--batch-size', String(BATCH)];

// ---------------------------------------------------------------------------------------------

describe(`Profiles upsert of ${ROWS.toLocaleString('en-US')} rows under every fault`, () => {
  it('one run: every row in one log, every valid email once in the account, exit 3', { timeout: RUN_TIMEOUT_MS }, async () => {
    const { injected: before } = await getFaults(url);
    writeProfilesInput();
    const r = await klv(ARGS);
    expect(r.code, r.stderr).toBe(3);
    const { exhausted } = await expectImportComplete(files('people'));
    expect(r.stderr).toContain(`${(ROWS - INVALID.size - exhausted.length).toLocaleString('en-US')} succeeded`);
    expect(r.stderr).toContain(`${INVALID.size + exhausted.length} failed`);
    matrix.add('one run', await scenarioCounts(before));
  });

  it('SIGINT mid-way, exit 130, then --resume under faults: the same, and no logged row sent again', { timeout: 2 * RUN_TIMEOUT_MS }, async () => {
    const { injected: before } = await getFaults(url);
    writeProfilesInput();
    const f = files('people');
    const progress = new Progress(f);
    const first = await runAndInterrupt(ARGS, {
      cwd: work,
      env: await freshRun(),
      signal: 'SIGINT',
      when: () => progress.update().success.size >= MIDWAY_ROWS,
      timeoutMs: RUN_TIMEOUT_MS,
      what: `${MIDWAY_ROWS} rows in the success log`,
    });
    expectNoKey(first.stdout, first.stderr);
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).toMatch(/Import interrupted: the batches in flight finished/);
    progress.update();
    progress.close();
    // Ctrl-C lets the batches in flight finish (with their jobs sent again): nothing in doubt.
    expect(progress.inDoubt()).toEqual([]);
    expect(progress.success.size + progress.errors.size).toBeLessThan(ROWS);
    const loggedBefore = new Set([...progress.success, ...progress.errors]);
    const from = recordingLines().length;

    const second = await klv([...ARGS, '--resume']);
    expect(second.code, second.stderr).toBe(3);
    expect(second.stderr).toContain(`Resuming: ${loggedBefore.size.toLocaleString('en-US')} rows are in the logs and are skipped.`);
    await expectImportComplete(f);
    expectNoLoggedRowSentAgain(from, loggedBefore);
    matrix.add('sigint', await scenarioCounts(before));
  });

  it('SIGKILL while a cancelled job\'s rows wait to be sent again, then --resume under faults: the same, and no logged row sent again', { timeout: 2 * RUN_TIMEOUT_MS }, async () => {
    const { injected: before } = await getFaults(url);
    writeProfilesInput();
    const f = files('people');
    const progress = new Progress(f);
    /** Rows of a cancelled job, sent (journaled) and not yet logged: between two jobs of one batch. */
    const betweenJobs = () => [...progress.cancelledRows].filter((r) => progress.journaled.has(r) && !progress.isLogged(r));
    // Mid-way, every new job is cancelled, so that the kill surely finds a batch between two jobs
    // (left to chance, no job of the second half of the run might be cancelled).
    let steered: Promise<unknown> | undefined;
    const first = await runAndInterrupt(ARGS, {
      cwd: work,
      env: await freshRun(),
      signal: 'SIGKILL',
      when: () => {
        if (progress.update().success.size < MIDWAY_ROWS) return false;
        steered ??= setFaults(url, { jobFailRate: 1 });
        return betweenJobs().length > 0;
      },
      timeoutMs: RUN_TIMEOUT_MS,
      what: `${MIDWAY_ROWS} rows in the success log and a cancelled job's rows in flight`,
    });
    expect(first.signal).toBe('SIGKILL');
    expectNoKey(first.stdout, first.stderr);
    await steered;
    await setFaults(url, { jobFailRate: FAULTS.jobFailRate });
    progress.update();
    progress.close();
    const waiting = betweenJobs();
    // Killed with a batch between two of its jobs: the journal has its rows, no log does.
    expect(waiting.length).toBeGreaterThan(0);
    expect(existsSync(f.journal)).toBe(true);
    const loggedBefore = new Set([...progress.success, ...progress.errors]);
    const inDoubt = progress.inDoubt();
    expect(loggedBefore.size).toBeLessThan(ROWS);
    const from = recordingLines().length;

    const second = await klv([...ARGS, '--resume']);
    expect(second.code, second.stderr).toBe(3);
    expect(second.stderr).toContain(
      `Resuming: ${loggedBefore.size.toLocaleString('en-US')} rows are in the logs and are skipped; ${inDoubt.length.toLocaleString('en-US')} were being sent when the run stopped: they are sent again (safe: this operation is idempotent).`,
    );
    await expectImportComplete(f);
    expectNoLoggedRowSentAgain(from, loggedBefore);
    // The rows waiting between two jobs landed in one log once (checked above), and were sent again.
    const resent = new Set(jobsInRecording(from).sends.flatMap((s) => s.emails.map(rowOfEmail)));
    for (const r of waiting) expect(resent.has(r), `row ${r}, in flight at the kill, sent again`).toBe(true);
    matrix.add('sigkill', await scenarioCounts(before));
  });
});

// ---------------------------------------------------------------------------------------------

describe('Lists insert (not idempotent) with responses lost after the write, or too late', () => {
  it(`${LISTS} rows, run alongside the profile scenarios: every row in one log; a success row's list exists once and was sent once; lost outcomes are unknown_outcome, never sent twice; exit 3`, { timeout: RUN_TIMEOUT_MS }, async () => {
    const { result: r, dir, url: listsUrl } = await listsRun;
    expectNoKey(r.stdout, r.stderr);
    const success = log('lists.success.csv', dir);
    const errors = log('lists.errors.csv', dir);
    expectNoKey(readFileSync(join(dir, 'lists.success.csv'), 'utf8'), readFileSync(join(dir, 'lists.errors.csv'), 'utf8'));
    expect([...success, ...errors].map((x) => Number(x.Row)).sort(byNumber)).toEqual(range(LISTS));

    // How often each name was sent (every attempt the emulator handled), and how many lists have it.
    const sent = new Map<string, number>();
    for (const line of readFileSync(listsRecording.file, 'utf8').split('\n')) {
      if (!line.startsWith('{"operationId":"create_list"')) continue;
      const n = String((JSON.parse(line) as Exchange).requestBody?.data?.attributes?.name);
      sent.set(n, (sent.get(n) ?? 0) + 1);
    }
    const lists = new Map<string, string[]>();
    for (const l of (await account(listsUrl)).resources.list ?? []) {
      const n = String((l.attributes as { name?: string }).name);
      lists.set(n, [...(lists.get(n) ?? []), l.id]);
    }
    for (const s of success) {
      expect(s.Status).toBe('created');
      expect(lists.get(s.Name), s.Name).toEqual([s.Id]);
      expect(sent.get(s.Name), s.Name).toBe(1);
    }
    // A lost or late response: the list was created, but klv cannot know it. It says so, and
    // never sends the row again (a second list would be a duplicate).
    expect(errors.length, 'some responses were lost (drop-after) or late (slow)').toBeGreaterThan(0);
    for (const e of errors) {
      expect(e.ErrorCode, `${e.Name}: ${e.ErrorMessage}`).toBe('unknown_outcome');
      expect(e.ErrorMessage).toMatch(/the outcome is unknown.*Check in Klaviyo whether it was applied/);
      expect(sent.get(e.Name) ?? 0, e.Name).toBeLessThanOrEqual(1);
      expect((lists.get(e.Name) ?? []).length, e.Name).toBeLessThanOrEqual(1);
    }
    expect([...lists.values()].flat()).toHaveLength(new Set([...lists.values()].flat()).size);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`${success.length} succeeded`);
    expect(r.stderr).toContain(`${errors.length} failed`);
    // The run met both faults it is about: its emulator served nothing else, from its start.
    const { injected } = await getFaults(listsUrl);
    expect(kindsMissing(injected, LIST_FAULTS.kinds), `faults on list creation: ${JSON.stringify(injected)}`).toEqual([]);
  });
});
