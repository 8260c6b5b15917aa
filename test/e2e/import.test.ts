/**
 * `klv import` as users run it: the built CLI in a child process against an emulator in this
 * test process, whose account shows what reached "Klaviyo" and whose request counts show what
 * was sent. Properties of the run itself (the per-object behaviour has its own e2e tests):
 * - 1,000 profiles, some invalid, upserted: every row in exactly one log, the invalid ones with
 *   their reasons, the valid ones read back through `klv export profiles`; the error log,
 *   corrected, imports as is;
 * - a dry run sends only reads;
 * - an import interrupted by SIGINT, and one killed by SIGKILL, then `--resume`: every row in
 *   Klaviyo at most once (exactly once unless logged unknown_outcome), both logs complete;
 * - a broken line mid-file, fixed, then `--resume`;
 * - usage errors before anything is read or sent; standard input.
 * Every exchange is checked against Klaviyo's OpenAPI spec, request bodies included.
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { runAndInterrupt } from '../helpers/midway.js';
import { withRecording } from '../helpers/recording.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import type { AccountSnapshot } from '../../src/emulator/store/types.js';

const KEY = 'pk_import_e2e_0123456789abcdef0123';

const recording = withRecording();
let emulator: RunningEmulator;
let slow: RunningEmulator;
let root: string;
let work: string;
let k = 0;

beforeAll(async () => {
  emulator = await startEmulator({ data: 'demo', profiles: 50, rateLimits: 'off', seed: 1, record: recording.file });
  // For interruptions: each response takes a while, so a signal lands mid-import.
  slow = await startEmulator({ data: 'demo', profiles: 50, rateLimits: 'off', seed: 1, latencyMs: 40, record: recording.file });
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-import-')));
});

afterAll(async () => {
  await emulator?.close();
  await slow?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

beforeEach(async () => {
  k++;
  work = join(root, `w${k}`);
  mkdirSync(work);
  for (const e of [emulator, slow]) {
    await fetch(`${e.url}/_emulator/reset`, { method: 'POST' });
    await fetch(`${e.url}/_emulator/requests`, { method: 'DELETE' });
  }
});

function env(e: RunningEmulator = emulator): NodeJS.ProcessEnv {
  return cleanEnv({ HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), KLAVIYO_BASE_URL: e.url, KLAVIYO_PRIVATE_API_KEY: KEY });
}

async function klv(args: string[], o: { e?: RunningEmulator; input?: string } = {}): Promise<RunResult> {
  const r = await runKlv(args, { cwd: work, env: env(o.e), input: o.input });
  for (const text of [r.stdout, r.stderr]) expect(text).not.toContain(KEY.slice(0, 16));
  return r;
}

async function requests(e: RunningEmulator = emulator): Promise<{ total: number; byOperation: Record<string, number> }> {
  return (await (await fetch(`${e.url}/_emulator/requests`)).json()) as { total: number; byOperation: Record<string, number> };
}

async function state(e: RunningEmulator): Promise<AccountSnapshot> {
  return (await (await fetch(`${e.url}/_emulator/state`)).json()) as AccountSnapshot;
}

function log(name: string): Array<Record<string, string>> {
  return parse(readFileSync(join(work, name), 'utf8'), { columns: true }) as Array<Record<string, string>>;
}

/** Row numbers across both logs, sorted: each must appear once. */
function loggedRows(prefix: string): number[] {
  return [...log(`${prefix}.success.csv`), ...log(`${prefix}.errors.csv`)].map((r) => Number(r.Row)).sort((a, b) => a - b);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('1,000 profiles, some invalid, upserted', () => {
  it('every row in exactly one log; the invalid ones with reasons; the valid ones in klv export; the corrected error log imports', async () => {
    const lines = ['email,first_name,phone_number,Properties.tier'];
    const invalid = new Map<number, RegExp>();
    for (let i = 1; i <= 1000; i++) {
      if (i % 97 === 0) {
        lines.push(`person${i}-at-example.com,P${i},,gold`);
        invalid.set(i, /is not an email address/);
      } else if (i % 101 === 0) {
        lines.push(`person${i}@example.com,P${i},555-${String(i).padStart(4, '0')},gold`);
        invalid.set(i, /E\.164/);
      } else {
        lines.push(`person${i}@example.com,P${i},,${i % 2 ? 'gold' : 'silver'}`);
      }
    }
    writeFileSync(join(work, 'people.csv'), `${lines.join('\n')}\n`);

    const r = await klv(['import', 'profiles', 'people.csv', '--op', 'upsert', '--json']);
    expect(r.code, r.stderr).toBe(3);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ object: 'Profiles', operation: 'upsert', rowsRead: 1000, succeeded: 1000 - invalid.size, failed: invalid.size, completed: true, exitCode: 3 });
    expect(summary.requests).toBeGreaterThan(0);

    const success = log('people.success.csv');
    const errors = log('people.errors.csv');
    expect(success.length + errors.length).toBe(1000);
    expect(loggedRows('people')).toEqual(range(1000));
    expect(errors.map((e) => Number(e.Row))).toEqual([...invalid.keys()].sort((a, b) => a - b));
    for (const e of errors) {
      expect(e.ErrorCode).toBe('invalid_value');
      expect(e.ErrorMessage).toMatch(invalid.get(Number(e.Row))!);
    }
    expect(success.every((s) => s.Id !== '' && ['created', 'updated'].includes(s.Status))).toBe(true);
    expect(existsSync(join(work, 'people.errors.csv.journal'))).toBe(false);
    // Nothing invalid was sent: at most a handful of bulk requests for 1,000 rows.
    const sent = await requests();
    expect(sent.total).toBeLessThan(30);

    // Read back through klv's own export.
    const exported = await klv(['export', 'profiles', '--columns', 'Id,Email,FirstName', '--properties', 'tier', '-o', 'out.csv']);
    expect(exported.code, exported.stderr).toBe(0);
    const byEmail = new Map((parse(readFileSync(join(work, 'out.csv'), 'utf8'), { columns: true }) as Array<Record<string, string>>).map((p) => [p.Email, p]));
    for (const s of success) {
      const p = byEmail.get(s.email);
      expect(p, s.email).toBeDefined();
      expect(p).toMatchObject({ Id: s.Id, FirstName: s.first_name, 'Properties.tier': s['Properties.tier'] });
    }
    for (const e of errors) expect(byEmail.has(e.email)).toBe(false);

    // The error log, corrected, is a valid input.
    const fixed = readFileSync(join(work, 'people.errors.csv'), 'utf8').replace(/-at-example\.com/g, '@example.com').replace(/,555-(\d{4}),/g, ',+1500555$1,');
    writeFileSync(join(work, 'people.errors.csv'), fixed);
    const retry = await klv(['import', 'profiles', 'people.errors.csv', '--op', 'upsert']);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stderr).not.toMatch(/warning/);
    expect(retry.stderr).toMatch(new RegExp(`${invalid.size} succeeded`));
    expect(log('people.errors.success.csv').map((s) => s.Row)).toEqual(range(invalid.size).map(String));
  });
});

describe('--dry-run', () => {
  it('validates every row and sends only reads; its own logs', async () => {
    writeFileSync(join(work, 'p.csv'), 'Email,FirstName\nann@example.com,Ann\nnot-an-email,Bob\n');
    const r = await klv(['import', 'profiles', 'p.csv', '--op', 'upsert', '--dry-run']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/Dry run of 2 rows of profiles .*1 valid.*1 invalid; nothing was written to Klaviyo/);
    const sent = await requests();
    for (const op of Object.keys(sent.byOperation)) expect(op, `a dry run sent ${op}`).toMatch(/^get_/);
    expect(log('p.dry-run.success.csv')).toHaveLength(1);
    expect(log('p.dry-run.errors.csv').map((e) => e.Row)).toEqual(['2']);
    expect(existsSync(join(work, 'p.success.csv'))).toBe(false);
  });
});

describe('usage errors come first', () => {
  it('an unsupported operation: exit 2 naming the supported ones, before the file is read', async () => {
    const r = await klv(['import', 'lists', 'no-such-file.csv', '--op', 'upsert']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Lists does not support --op upsert/);
    expect(r.stderr).toMatch(/Lists supports --op insert, update, delete/);
    expect((await requests()).total).toBe(0);
  });

  it('a delete needs --yes when klv cannot ask; an object that is not written says so', async () => {
    writeFileSync(join(work, 'l.csv'), 'Id\nXYZ\n');
    const r = await klv(['import', 'lists', 'l.csv', '--op', 'delete']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs confirmation/);
    expect(r.stderr).toMatch(/--yes/);
    const m = await klv(['import', 'metrics', 'l.csv', '--op', 'insert']);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/Metrics cannot be imported/);
    expect((await requests()).total).toBe(0);
    expect(existsSync(join(work, 'l.errors.csv'))).toBe(false);
  });
});

describe('standard input', () => {
  it('reads the CSV from -, logs in the current folder', async () => {
    const r = await klv(['import', 'email-templates', '-', '--op', 'insert', '--success-log', 'ok.csv', '--error-log', 'ko.csv'], {
      input: 'Name,EditorType,Html\nFrom stdin,CODE,<html><body>hi</body></html>\n',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(log('ok.csv')).toMatchObject([{ Row: '1', Name: 'From stdin', Status: 'created' }]);
    expect(log('ko.csv')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Interruptions

const TEMPLATES = 60;

function templatesCsv(name: string): void {
  const lines = ['Name,EditorType,Html'];
  for (let i = 1; i <= TEMPLATES; i++) lines.push(`Resume test ${i},CODE,<html><body>${i}</body></html>`);
  writeFileSync(join(work, name), `${lines.join('\n')}\n`);
}

/**
 * Runs the import and sends `signal` once the journal holds `batches` sent batches: a condition
 * (the journal's size), not a time, so that the signal lands mid-import however fast the machine
 * is; the tests only check invariants that hold wherever it lands.
 */
function interruptImport(args: string[], journal: string, batches: number, signal: 'SIGINT' | 'SIGKILL') {
  const sentBatches = () => (existsSync(journal) ? readFileSync(journal, 'utf8') : '').split('\n').filter((l) => l.startsWith('{"sent"')).length;
  return runAndInterrupt(args, { cwd: work, env: env(slow), signal, when: () => sentBatches() >= batches, what: `${batches} batches in the journal` });
}

async function templateNames(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const t of (await state(slow)).resources.template ?? []) {
    const name = String((t.attributes as { name?: string }).name);
    if (name.startsWith('Resume test ')) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

describe('interrupted, then --resume', () => {
  it('SIGINT: the batches in flight finish, exit 130 with the resume command; --resume completes; every template exactly once', async () => {
    templatesCsv('t.csv');
    const args = ['import', 'email-templates', 't.csv', '--op', 'insert'];
    const first = await interruptImport(args, join(work, 't.errors.csv.journal'), 8, 'SIGINT');
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).toMatch(/Import interrupted: the batches in flight finished/);
    expect(first.stderr).toMatch(/klv import email-templates t.csv --op insert --resume/);
    const before = loggedRows('t');
    expect(before.length).toBeGreaterThanOrEqual(8);
    expect(before.length).toBeLessThan(TEMPLATES);
    // Nothing in doubt: the in-flight batches finished before the exit.
    expect(log('t.errors.csv')).toEqual([]);

    const second = await klv([...args, '--resume'], { e: slow });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(new RegExp(`Resuming: ${before.length} rows are in the logs and are skipped`));
    expect(loggedRows('t')).toEqual(range(TEMPLATES));
    expect(log('t.success.csv').every((s) => s.Status === 'created')).toBe(true);
    const names = await templateNames();
    expect(names.size).toBe(TEMPLATES);
    expect([...names.values()].every((n) => n === 1)).toBe(true);
    // The success log's ids are the templates that exist.
    const ids = new Set(((await state(slow)).resources.template ?? []).map((t) => t.id));
    for (const s of log('t.success.csv')) expect(ids.has(s.Id)).toBe(true);
    expect(existsSync(join(work, 't.errors.csv.journal'))).toBe(false);
  });

  it('SIGKILL: --resume never sends a logged row again; a row in flight is unknown_outcome, never duplicated; logs complete', async () => {
    templatesCsv('t.csv');
    const args = ['import', 'email-templates', 't.csv', '--op', 'insert'];
    const first = await interruptImport(args, join(work, 't.errors.csv.journal'), 10, 'SIGKILL');
    expect(first.signal).toBe('SIGKILL');
    const sentBefore = (await requests(slow)).byOperation.create_template ?? 0;

    const second = await klv([...args, '--resume'], { e: slow });
    expect(second.code, second.stderr).toBeOneOf([0, 3]);
    expect(loggedRows('t')).toEqual(range(TEMPLATES));
    const success = log('t.success.csv');
    const unknown = log('t.errors.csv');
    expect(unknown.every((e) => e.ErrorCode === 'unknown_outcome' && /may have been applied/.test(e.ErrorMessage))).toBe(true);
    const names = await templateNames();
    // Never twice; every success exactly once; the unknown ones at most once.
    expect([...names.values()].every((n) => n === 1)).toBe(true);
    for (const s of success) expect(names.get(s.Name)).toBe(1);
    // Each template was sent at most once across both runs.
    const sentTotal = (await requests(slow)).byOperation.create_template ?? 0;
    expect(sentTotal).toBeGreaterThan(sentBefore);
    expect(sentTotal).toBeLessThanOrEqual(TEMPLATES);
    // One template per request: no request was a duplicate of another.
    expect(names.size).toBe(sentTotal);
  });

  it('a broken line mid-file: the rows before it are imported, exit 2 naming the line; fixed, --resume sends the rest only', async () => {
    const lines = ['Name,EditorType,Html'];
    for (let i = 1; i <= 10; i++) lines.push(i === 7 ? `Broken ${i},CODE,<p>x</p>,extra` : `Broken ${i},CODE,<p>${i}</p>`);
    writeFileSync(join(work, 'b.csv'), `${lines.join('\n')}\n`);
    const args = ['import', 'email-templates', 'b.csv', '--op', 'insert'];
    const first = await klv(args);
    expect(first.code).toBe(2);
    expect(first.stderr).toMatch(/b\.csv, line 8: 4 fields, expected 3/);
    expect(first.stderr).toMatch(/The 6 rows before it were imported and logged/);
    expect(loggedRows('b')).toEqual(range(6));
    writeFileSync(join(work, 'b.csv'), readFileSync(join(work, 'b.csv'), 'utf8').replace('<p>x</p>,extra', '<p>7</p>'));
    await fetch(`${emulator.url}/_emulator/requests`, { method: 'DELETE' });
    const second = await klv([...args, '--resume']);
    expect(second.code, second.stderr).toBe(0);
    expect((await requests()).byOperation.create_template).toBe(4);
    expect(loggedRows('b')).toEqual(range(10));
  });
});

describe('the wire', () => {
  it("every exchange stayed within Klaviyo's OpenAPI spec, request bodies included", () => {
    recording.expectConformant({ minExchanges: 10 });
  });
});
