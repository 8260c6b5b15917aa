/**
 * Must-show 4 for idempotent bulk operations: an import killed mid-way (SIGINT, and SIGKILL),
 * then `--resume`: every row in Klaviyo exactly once, both logs complete.
 *
 * import.test.ts proves it for EmailTemplates inserts, where a row in flight at a SIGKILL can
 * only be logged `unknown_outcome`. Here the operations are idempotent (Profiles upsert through
 * bulk import jobs; ListMembers insert through list relationships and jobs), so "exactly once"
 * can hold without exception: a row the killed run was sending is simply sent again.
 *
 * Against `klv emulator` as a separate process (the built CLI, an empty account, some latency
 * so that the run can be stopped mid-way), whose account shows what reached "Klaviyo" and whose
 * recording shows every request body: that is how the tests see that no row already logged was
 * ever sent again. The signal is sent once the logs (and, for SIGKILL, the journal) say the run
 * is mid-way: a condition polled with a bound, never a fixed sleep.
 *
 * Around the resume: a plain re-run refuses while the journal is there; the resumed run exits 3
 * for the rows the interrupted run failed too (that run exited 130, so nobody else reports them);
 * a second --resume once complete sends nothing and leaves the logs as they are.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { withRecording } from '../helpers/recording.js';
import { runAndInterrupt } from '../helpers/midway.js';
import { spawnEmulator, type EmulatorProcess } from '../helpers/emulator.js';
import type { AccountSnapshot } from '../../src/emulator/store/types.js';

const KEY = 'pk_resume_e2e_0123456789abcdef0123';
const BATCH = 200;
/** The run is stopped once this many rows have succeeded (two batches): mid-way, far from the end. */
const KILL_AFTER = 2 * BATCH;
/** Bound on waiting for the run to be mid-way. */
const MIDWAY_TIMEOUT_MS = 20_000;

const recording = withRecording({ setEnv: false });
let emulator: EmulatorProcess | undefined;
let url = '';
let root: string;
let work: string;
let k = 0;

beforeAll(async () => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-resume-')));
  // Each response takes 20 ms: a few thousand rows take seconds, so a signal lands mid-import.
  // The spec's rate limits stay on, as against Klaviyo.
  emulator = spawnEmulator(['--port', '0', '--data', 'empty', '--latency', '20'], recording.env);
  url = await emulator.url;
});

afterAll(async () => {
  await emulator?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

beforeEach(async () => {
  k++;
  work = join(root, `w${k}`);
  mkdirSync(work);
  await fetch(`${url}/_emulator/reset`, { method: 'POST' });
  await fetch(`${url}/_emulator/requests`, { method: 'DELETE' });
  recording.clear();
});

const env = (): NodeJS.ProcessEnv =>
  cleanEnv({ HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), KLAVIYO_BASE_URL: url, KLAVIYO_PRIVATE_API_KEY: KEY });

async function klv(args: string[]): Promise<RunResult> {
  const r = await runKlv(args, { cwd: work, env: env() });
  for (const text of [r.stdout, r.stderr]) expect(text).not.toContain(KEY.slice(0, 16));
  return r;
}

async function requestCount(): Promise<number> {
  return ((await (await fetch(`${url}/_emulator/requests`)).json()) as { total: number }).total;
}

async function account(): Promise<AccountSnapshot> {
  return (await (await fetch(`${url}/_emulator/state`)).json()) as AccountSnapshot;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

function log(name: string): Array<Record<string, string>> {
  return parse(readFileSync(join(work, name), 'utf8'), { columns: true }) as Array<Record<string, string>>;
}

// ---------------------------------------------------------------------------------------------
// Reading a run's files while it runs (or after a kill): only complete lines count, as for --resume.

function completeLines(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').slice(0, -1);
}

/** Row numbers in a log (the cells of these tests hold no quotes, commas or line breaks). */
function rowsIn(path: string): number[] {
  return completeLines(path)
    .slice(1)
    .map((l) => Number(l.slice(0, l.indexOf(','))));
}

/** Row numbers the journal says were sent. */
function journaled(path: string): number[] {
  return completeLines(path)
    .filter((l) => l.startsWith('{"sent"'))
    .flatMap((l) => (JSON.parse(l) as { sent: number[] }).sent);
}

interface Files {
  success: string;
  errors: string;
  journal: string;
}

function filesOf(prefix: string): Files {
  return { success: join(work, `${prefix}.success.csv`), errors: join(work, `${prefix}.errors.csv`), journal: join(work, `${prefix}.errors.csv.journal`) };
}

/** What the run's files say: rows logged, and rows sent with no outcome logged (in doubt). */
function progressOf(f: Files): { logged: Set<number>; inDoubt: Set<number>; succeeded: number } {
  const success = rowsIn(f.success);
  const logged = new Set([...success, ...rowsIn(f.errors)]);
  const inDoubt = new Set(journaled(f.journal).filter((r) => !logged.has(r)));
  return { logged, inDoubt, succeeded: success.length };
}

/**
 * Runs klv and stops it with `signal` once `midway()` holds (polled every 5 ms, at most
 * MIDWAY_TIMEOUT_MS); resolves with its result. Neither output may hold the key.
 */
async function interrupt(args: string[], signal: 'SIGINT' | 'SIGKILL', midway: () => boolean): Promise<RunResult> {
  const result = await runAndInterrupt(args, { cwd: work, env: env(), signal, when: midway, timeoutMs: MIDWAY_TIMEOUT_MS, what: 'the import to be mid-way' });
  for (const text of [result.stdout, result.stderr]) expect(text).not.toContain(KEY.slice(0, 16));
  return result;
}

/** The condition for each signal: for SIGKILL, batches must also be in flight (journaled, not logged). */
function midwayFor(signal: 'SIGINT' | 'SIGKILL', f: Files): () => boolean {
  return () => {
    const p = progressOf(f);
    return p.succeeded >= KILL_AFTER && (signal === 'SIGINT' || p.inDoubt.size > 0);
  };
}

// ---------------------------------------------------------------------------------------------
// What the emulator was sent, from its recording

interface Exchange {
  operationId: string | null;
  path: string;
  requestBody: any;
  status: number;
}

function exchanges(fromLine = 0): Exchange[] {
  return readFileSync(recording.file, 'utf8')
    .split('\n')
    .slice(fromLine)
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Exchange);
}

function recordingLines(): number {
  return readFileSync(recording.file, 'utf8').split('\n').filter((l) => l !== '').length;
}

/** How many times each email was sent in a profile bulk import job (since `fromLine`). */
function emailsSentInJobs(fromLine = 0): Map<string, number> {
  const sent = new Map<string, number>();
  for (const x of exchanges(fromLine)) {
    if (x.operationId !== 'bulk_import_profiles') continue;
    for (const p of x.requestBody.data.attributes.profiles.data as Array<{ attributes: { email?: string } }>) {
      const email = String(p.attributes.email).toLowerCase();
      sent.set(email, (sent.get(email) ?? 0) + 1);
    }
  }
  return sent;
}

/** How many times each profile id was sent to add_profiles_to_list (since `fromLine`). */
function idsAddedToLists(fromLine = 0): Map<string, number> {
  const sent = new Map<string, number>();
  for (const x of exchanges(fromLine)) {
    if (x.operationId !== 'add_profiles_to_list') continue;
    for (const p of x.requestBody.data as Array<{ id: string }>) sent.set(p.id, (sent.get(p.id) ?? 0) + 1);
  }
  return sent;
}

/** Profiles of the account by email: every email must map to exactly one. */
function profilesByEmail(state: AccountSnapshot): Map<string, string[]> {
  const byEmail = new Map<string, string[]>();
  for (const p of state.resources.profile ?? []) {
    const email = String((p.attributes as { email?: string }).email).toLowerCase();
    byEmail.set(email, [...(byEmail.get(email) ?? []), p.id]);
  }
  return byEmail;
}

// ---------------------------------------------------------------------------------------------
// The checks shared by every scenario

/** The logs complete (every row once, in one log), the invalid rows in the error log with their reasons, no journal left. */
function expectLogsComplete(f: Files, prefix: string, total: number, invalid: ReadonlySet<number>): { success: Array<Record<string, string>> } {
  const success = log(`${prefix}.success.csv`);
  const errors = log(`${prefix}.errors.csv`);
  const rows = [...success, ...errors].map((r) => Number(r.Row)).sort((a, b) => a - b);
  // (a) every input row exactly once across both logs
  expect(rows).toEqual(range(total));
  expect(errors.map((e) => Number(e.Row)).sort((a, b) => a - b)).toEqual([...invalid].sort((a, b) => a - b));
  for (const e of errors) {
    expect(e.ErrorCode).toBe('invalid_value');
    expect(e.ErrorMessage).toMatch(/is not an email address/);
  }
  expect(success.every((s) => s.Id !== '')).toBe(true);
  expect(existsSync(f.journal), 'a completed run removes its journal').toBe(false);
  return { success };
}

/**
 * A second --resume after completion: nothing to do, nothing sent, logs untouched; and, as the
 * logs hold failed rows, exit 3 again (the import's outcome, not this run's: it failed no row).
 */
async function expectSecondResumeSendsNothing(args: string[], f: Files, total: number, failed: number): Promise<void> {
  const before = { success: readFileSync(f.success, 'utf8'), errors: readFileSync(f.errors, 'utf8'), requests: await requestCount() };
  const again = await klv([...args, '--resume']);
  // The completed run removed its journal: the logs alone say every row is done.
  expect(again.code, again.stderr).toBe(3);
  const n = total.toLocaleString('en-US');
  expect(again.stderr).toMatch(new RegExp(`Resuming: ${n} rows are in the logs and are skipped\\.`));
  expect(again.stderr).toMatch(new RegExp(`0 succeeded, 0 failed, ${n} already done by the interrupted run \\(skipped, ${failed} of them failed`));
  expect(await requestCount()).toBe(before.requests);
  expect(readFileSync(f.success, 'utf8')).toBe(before.success);
  expect(readFileSync(f.errors, 'utf8')).toBe(before.errors);
  expect(existsSync(f.journal)).toBe(false);
}

/** The first run's exit, and the facts --resume must then act on. */
function expectStoppedMidway(first: RunResult, signal: 'SIGINT' | 'SIGKILL', f: Files, total: number, resumeLine: RegExp) {
  const p = progressOf(f);
  if (signal === 'SIGINT') {
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).toMatch(/Import interrupted: the batches in flight finished/);
    expect(first.stderr).toMatch(resumeLine);
    // Ctrl-C lets the batches in flight finish: nothing is in doubt.
    expect([...p.inDoubt]).toEqual([]);
  } else {
    expect(first.signal).toBe('SIGKILL');
    // Killed while batches were in flight: --resume must send them again.
    expect(p.inDoubt.size).toBeGreaterThan(0);
  }
  expect(existsSync(f.journal), 'an interrupted run leaves its journal').toBe(true);
  expect(p.succeeded).toBeGreaterThanOrEqual(KILL_AFTER);
  expect(p.logged.size, 'the run was stopped before its end').toBeLessThan(total);
  return p;
}

/**
 * Without --resume, the journal makes a new run refuse (exit 2) before it sends or overwrites
 * anything. Requests are counted only after a SIGINT: a SIGKILLed run's last requests may still
 * be reaching the emulator.
 */
async function expectPlainRerunRefused(args: string[], f: Files, signal: 'SIGINT' | 'SIGKILL'): Promise<void> {
  const before = { success: readFileSync(f.success, 'utf8'), errors: readFileSync(f.errors, 'utf8'), requests: await requestCount() };
  const r = await klv(args);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/An interrupted import left .*\.journal/);
  expect(r.stderr).toMatch(/Add --resume to continue it without sending any row twice/);
  if (signal === 'SIGINT') expect(await requestCount()).toBe(before.requests);
  expect(readFileSync(f.success, 'utf8')).toBe(before.success);
  expect(readFileSync(f.errors, 'utf8')).toBe(before.errors);
}

/** What --resume says it does with the rows the interrupted run logged, and with those in doubt. */
function expectResumeMessage(second: RunResult, p: { logged: Set<number>; inDoubt: Set<number> }, invalid: ReadonlySet<number>): void {
  const n = p.logged.size.toLocaleString('en-US');
  const skipped = `Resuming: ${n} rows are in the logs and are skipped`;
  if (p.inDoubt.size === 0) expect(second.stderr).toContain(`${skipped}.`);
  else expect(second.stderr).toContain(`${skipped}; ${p.inDoubt.size.toLocaleString('en-US')} were being sent when the run stopped: they are sent again (safe: this operation is idempotent).`);
  // The interrupted run's failures (row 5 at least) are the import's failures: they count.
  const failedBefore = [...invalid].filter((r) => p.logged.has(r)).length;
  expect(failedBefore).toBeGreaterThan(0);
  expect(second.stderr).toContain(`${n} already done by the interrupted run (skipped, ${failedBefore} of them failed`);
}

// ---------------------------------------------------------------------------------------------

const SIGNALS = ['SIGINT', 'SIGKILL'] as const;

describe('Profiles --op upsert (bulk import jobs), stopped mid-way, then --resume', () => {
  const TOTAL = 3000;
  /** Rows with an invalid email: one before the interruption, one after, and the last row. */
  const INVALID = new Set([5, 1777, TOTAL]);
  const email = (i: number) => `person${i}@example.com`;

  function writeInput(): void {
    const lines = ['Email,FirstName,Properties.n'];
    for (let i = 1; i <= TOTAL; i++) lines.push(`${INVALID.has(i) ? `person${i}-at-example.com` : email(i)},P${i},${i}`);
    writeFileSync(join(work, 'people.csv'), `${lines.join('\n')}\n`);
  }

  it.each(SIGNALS)('%s: every profile in Klaviyo exactly once, no logged row sent again, logs complete; a second --resume sends nothing', async (signal) => {
    writeInput();
    const f = filesOf('people');
    const args = ['import', 'profiles', 'people.csv', '--op', 'upsert', '--batch-size', String(BATCH)];

    const first = await interrupt(args, signal, midwayFor(signal, f));
    const p = expectStoppedMidway(first, signal, f, TOTAL, /klv import profiles people\.csv --op upsert --batch-size 200 --resume/);
    await expectPlainRerunRefused(args, f, signal);

    const second = await klv([...args, '--resume']);
    // Invalid rows: row 5, which the first run logged, and rows it never reached.
    expect(second.code, second.stderr).toBe(3);
    expectResumeMessage(second, p, INVALID);

    const { success } = expectLogsComplete(f, 'people', TOTAL, INVALID);
    expect(success.every((s) => ['created', 'updated'].includes(s.Status))).toBe(true);

    // (b) every valid email exactly once in the account, and nothing else (it started empty):
    // (c) no more profiles created than rows, none twice.
    const state = await account();
    const byEmail = profilesByEmail(state);
    expect(state.resources.profile).toHaveLength(TOTAL - INVALID.size);
    for (const i of range(TOTAL)) {
      if (INVALID.has(i)) continue;
      expect(byEmail.get(email(i)), email(i)).toHaveLength(1);
    }
    // The success log's ids are those profiles.
    for (const s of success) expect(byEmail.get(s.Email.toLowerCase())).toEqual([s.Id]);

    // Sent exactly once across both runs, but for the rows in flight at a SIGKILL (at most twice);
    // an invalid row never.
    const sent = emailsSentInJobs();
    for (const i of range(TOTAL)) {
      const n = sent.get(email(i)) ?? 0;
      if (INVALID.has(i)) expect(n, `row ${i}`).toBe(0);
      else if (p.inDoubt.has(i)) expect(n, `row ${i} (in flight when killed)`).toBeGreaterThanOrEqual(1);
      else expect(n, `row ${i}`).toBe(1);
      if (p.inDoubt.has(i)) expect(n, `row ${i} (in flight when killed)`).toBeLessThanOrEqual(2);
    }
    expect([...sent.keys()].every((e) => /^person\d+@example\.com$/.test(e))).toBe(true);

    // (d) a second --resume after completion.
    await expectSecondResumeSendsNothing(args, f, TOTAL, INVALID.size);

    recording.expectConformant({ minExchanges: 20 });
  });
});

describe('ListMembers --op insert (list relationships and bulk import jobs), stopped mid-way, then --resume', () => {
  const TOTAL = 2000;
  const INVALID = new Set([5, 1111, TOTAL]);
  const email = (i: number) => `member${i}@example.com`;
  /** A third of the people have a profile already: they are added by id, the others created in the list by a job. */
  const existing = (i: number) => i % 3 === 0;

  /** An empty list, and the profiles of a third of the rows; returns the list's id. */
  async function setUp(): Promise<string> {
    writeFileSync(join(work, 'list.csv'), 'Name\nResume members\n');
    const list = await klv(['import', 'lists', 'list.csv', '--op', 'insert']);
    expect(list.code, list.stderr).toBe(0);
    const listId = log('list.success.csv')[0].Id;
    const pre = ['Email'];
    for (let i = 1; i <= TOTAL; i++) if (existing(i) && !INVALID.has(i)) pre.push(email(i));
    writeFileSync(join(work, 'existing.csv'), `${pre.join('\n')}\n`);
    const made = await klv(['import', 'profiles', 'existing.csv', '--op', 'upsert']);
    expect(made.code, made.stderr).toBe(0);

    const lines = ['ListId,Email,FirstName'];
    for (let i = 1; i <= TOTAL; i++) lines.push(`${listId},${INVALID.has(i) ? `member${i}-at-example.com` : email(i)},M${i}`);
    writeFileSync(join(work, 'members.csv'), `${lines.join('\n')}\n`);
    return listId;
  }

  it.each(SIGNALS)('%s: every person in the list exactly once, no profile twice, no logged row sent again, logs complete; a second --resume sends nothing', async (signal) => {
    const listId = await setUp();
    const profilesBefore = new Map([...profilesByEmail(await account())].map(([e, ids]) => [e, ids[0]]));
    const from = recordingLines();
    const f = filesOf('members');
    const args = ['import', 'list-members', 'members.csv', '--op', 'insert', '--batch-size', String(BATCH)];

    const first = await interrupt(args, signal, midwayFor(signal, f));
    const p = expectStoppedMidway(first, signal, f, TOTAL, /klv import list-members members\.csv --op insert --batch-size 200 --resume/);
    await expectPlainRerunRefused(args, f, signal);

    const second = await klv([...args, '--resume']);
    expect(second.code, second.stderr).toBe(3);
    expectResumeMessage(second, p, INVALID);

    const { success } = expectLogsComplete(f, 'members', TOTAL, INVALID);

    const state = await account();
    const byEmail = profilesByEmail(state);
    const members = new Set(Object.keys(state.listMembers[listId] ?? {}));
    // (b)(c) one profile per person, the existing ones kept, nobody created twice; every valid
    // row's person in the list, and nobody else.
    expect(state.resources.profile).toHaveLength(TOTAL - INVALID.size);
    expect(members.size).toBe(TOTAL - INVALID.size);
    for (const i of range(TOTAL)) {
      if (INVALID.has(i)) {
        expect(byEmail.has(`member${i}-at-example.com`)).toBe(false);
        continue;
      }
      const ids = byEmail.get(email(i));
      expect(ids, email(i)).toHaveLength(1);
      if (existing(i)) expect(ids![0]).toBe(profilesBefore.get(email(i)));
      expect(members.has(ids![0]), `${email(i)} in the list`).toBe(true);
    }
    for (const s of success) {
      const i = Number(s.Row);
      expect(byEmail.get(email(i))).toEqual([s.Id]);
      // A row resent after a SIGKILL finds the member its first sending made: unchanged.
      const expected = p.inDoubt.has(i) ? ['unchanged', existing(i) ? 'added' : 'created'] : [existing(i) ? 'added' : 'created'];
      expect(expected, `row ${i}`).toContain(s.Status);
    }

    // Each person sent exactly once (created by a job, or added by id), but those in flight at a
    // SIGKILL; an invalid row never. A resent member already in the list is not added again.
    const inJobs = emailsSentInJobs(from);
    const added = idsAddedToLists(from);
    for (const i of range(TOTAL)) {
      if (INVALID.has(i)) {
        expect(inJobs.has(`member${i}-at-example.com`)).toBe(false);
        continue;
      }
      const id = byEmail.get(email(i))![0];
      const n = (inJobs.get(email(i)) ?? 0) + (added.get(id) ?? 0);
      if (p.inDoubt.has(i)) expect(n, `row ${i} (in flight when killed)`).toBeGreaterThanOrEqual(1);
      else expect(n, `row ${i}`).toBe(1);
      expect(added.get(id) ?? 0, `row ${i} added by id at most once`).toBeLessThanOrEqual(1);
      expect(inJobs.get(email(i)) ?? 0, `row ${i} in at most two jobs`).toBeLessThanOrEqual(p.inDoubt.has(i) ? 2 : 1);
      if (existing(i)) expect(inJobs.has(email(i)), `row ${i} has a profile: added by id, not imported`).toBe(false);
    }

    await expectSecondResumeSendsNothing(args, f, TOTAL, INVALID.size);

    recording.expectConformant({ minExchanges: 20 });
  });
});
