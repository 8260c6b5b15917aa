/**
 * The import run loop with fake rows, a fake mapping and fake handlers, into real log files:
 * batching, backpressure (the reader never runs ahead of the batches in flight), the
 * exactly-once invariant whatever the handler does (partial outcomes, extra ones, throws,
 * refused keys), Ctrl-C, a broken line mid-file, and the journal written before each batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { InterruptedError, KlvError, UsageError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-code.js';
import { KlaviyoApiError, KlaviyoNetworkError, KlaviyoResponseError, UnknownOutcomeError } from '../../src/klaviyo/errors.js';
import type { ImportRow, RowOutcome } from '../../src/objects/write/types.js';
import { ImportLogs, logLayout } from '../../src/pipeline/import/logs.js';
import { runImport, type JournalSink, type MapResult, type RunOptions, type SourceRow } from '../../src/pipeline/import/run.js';
import { reconcileOutcomes, describeBatchError, effectiveBatchSize, InFlight } from '../../src/pipeline/import/batches.js';

let dir: string;
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'klv-import-run-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEADERS = ['Email', 'Name'];

function sourceRow(i: number, email = `p${i}@example.com`): SourceRow {
  return { rowNumber: i, line: i + 1, cells: { Email: email, Name: `N${i}` }, values: [email, `N${i}`] };
}

/** Rows 1..count, counting how many were pulled; `bad` rows have an invalid email; optionally throws after `failAfter` rows. */
function source(count: number, o: { bad?: Set<number>; failAfter?: number; failWith?: Error } = {}) {
  const state = { pulled: 0 };
  async function* gen(): AsyncGenerator<SourceRow> {
    for (let i = 1; i <= count; i++) {
      if (o.failAfter !== undefined && i > o.failAfter) throw o.failWith ?? new UsageError(`in.csv, line ${i + 1}: broken`);
      state.pulled++;
      yield sourceRow(i, o.bad?.has(i) ? 'not-an-email' : undefined);
    }
  }
  return { rows: gen(), state };
}

function mapRow(cells: Record<string, string>, rowNumber: number): MapResult {
  if (!cells.Email.includes('@')) return { ok: false, failure: { ok: false, rowNumber, code: 'invalid_value', message: `Email: '${cells.Email}' is not an email address` } };
  return { ok: true, row: { rowNumber, values: { Email: cells.Email, Name: cells.Name } } };
}

const created = (rows: ImportRow[]): RowOutcome[] => rows.map((r) => ({ ok: true, rowNumber: r.rowNumber, status: 'created', id: `ID${r.rowNumber}` }));

async function openLogs() {
  n++;
  const paths = { success: join(dir, `r${n}.success.csv`), error: join(dir, `r${n}.errors.csv`) };
  const logs = await ImportLogs.open({ paths, layout: logLayout(HEADERS), delimiter: ',', append: false, sync: true });
  return { logs, paths };
}

function readLog(path: string): Array<Record<string, string>> {
  return parse(readFileSync(path, 'utf8'), { columns: true }) as Array<Record<string, string>>;
}

async function runWith(over: Partial<RunOptions> & Pick<RunOptions, 'rows' | 'process'>) {
  const { logs, paths } = await openLogs();
  const result = await runImport({
    mapRow,
    handlerName: 'Fakes upsert',
    batchSize: 3,
    concurrency: 2,
    idempotent: true,
    logs,
    signal: new AbortController().signal,
    ...over,
  });
  await logs.close();
  const success = readLog(paths.success);
  const errors = readLog(paths.error);
  return { result, success, errors, paths };
}

/** Every row read is logged exactly once, or counted as not processed. */
function expectExactlyOnce(r: Awaited<ReturnType<typeof runWith>>) {
  const rows = [...r.success, ...r.errors].map((x) => Number(x.Row));
  expect(new Set(rows).size, 'a row logged twice').toBe(rows.length);
  const c = r.result.counts;
  expect(c.succeeded).toBe(r.success.length);
  expect(c.failed).toBe(r.errors.length);
  expect(c.read).toBe(c.succeeded + c.failed + c.skipped + c.notProcessed);
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

describe('runImport', () => {
  it('batches valid rows, logs invalid ones at once, and every row lands in one log', async () => {
    const batches: number[][] = [];
    const r = await runWith({
      rows: source(10, { bad: new Set([2, 7]) }).rows,
      process: async (rows) => {
        batches.push(rows.map((x) => x.rowNumber));
        return created(rows);
      },
    });
    expect(batches).toEqual([[1, 3, 4], [5, 6, 8], [9, 10]]);
    expect(r.result.stopped).toBeUndefined();
    expect(r.result.counts).toMatchObject({ read: 10, succeeded: 8, failed: 2, statuses: { created: 8 }, notProcessed: 0 });
    expect(r.errors.map((e) => [e.Row, e.Email, e.ErrorCode, e.ErrorMessage])).toEqual([
      ['2', 'not-an-email', 'invalid_value', "Email: 'not-an-email' is not an email address"],
      ['7', 'not-an-email', 'invalid_value', "Email: 'not-an-email' is not an email address"],
    ]);
    expect(r.success.find((s) => s.Row === '4')).toEqual({ Row: '4', Email: 'p4@example.com', Name: 'N4', Id: 'ID4', Status: 'created' });
    expectExactlyOnce(r);
  });

  it('missing, extra, duplicate and malformed outcomes: the row without one fails as a klv bug, nothing is logged twice', async () => {
    const problems: string[] = [];
    const r = await runWith({
      rows: source(6).rows,
      debug: (l) => problems.push(l),
      process: async (rows) => {
        const [a, b] = rows;
        if (a.rowNumber === 1) {
          // Row 3 forgotten, row 1 twice, an outcome for a row not in the batch, a malformed one.
          return [...created([a, a, b]), { ok: true, rowNumber: 99, status: 'created' }, { rowNumber: 2 }];
        }
        return 'not an array';
      },
    });
    expect(r.success.map((s) => s.Row)).toEqual(['1', '2']);
    expect(r.errors.map((e) => [e.Row, e.ErrorCode])).toEqual([
      ['3', 'internal_error'],
      ['4', 'internal_error'],
      ['5', 'internal_error'],
      ['6', 'internal_error'],
    ]);
    expect(r.errors[0].ErrorMessage).toMatch(/gave no outcome for this row \(this is a bug in klv: please report it\); it may or may not have been applied/);
    expect(problems.join('\n')).toMatch(/more than one outcome for row 1/);
    expect(problems.join('\n')).toMatch(/row 99, which was not in the batch/);
    expect(problems.join('\n')).toMatch(/returned string instead of a list/);
    expectExactlyOnce(r);
  });

  it('a batch that throws fails its rows with the error (Klaviyo code and detail) and the run goes on', async () => {
    const r = await runWith({
      rows: source(9).rows,
      process: async (rows) => {
        if (rows[0].rowNumber === 1) {
          throw new KlaviyoApiError({
            operationId: 'bulk_import_profiles',
            method: 'POST',
            path: '/api/profile-bulk-import-jobs',
            status: 400,
            errors: [{ code: 'invalid', detail: 'The payload is invalid', source: { pointer: '/data/attributes' } }],
          });
        }
        if (rows[0].rowNumber === 4) throw new TypeError("Cannot read properties of undefined (reading 'id')");
        return created(rows);
      },
    });
    expect(r.errors.map((e) => [e.Row, e.ErrorCode, e.ErrorMessage])).toEqual([
      ['1', 'invalid', 'The payload is invalid (/data/attributes)'],
      ['2', 'invalid', 'The payload is invalid (/data/attributes)'],
      ['3', 'invalid', 'The payload is invalid (/data/attributes)'],
      ['4', 'internal_error', "Cannot read properties of undefined (reading 'id') (this is a bug in klv: please report it)"],
      ['5', 'internal_error', "Cannot read properties of undefined (reading 'id') (this is a bug in klv: please report it)"],
      ['6', 'internal_error', "Cannot read properties of undefined (reading 'id') (this is a bug in klv: please report it)"],
    ]);
    expect(r.success.map((s) => s.Row)).toEqual(['7', '8', '9']);
    expect(r.result.stopped).toBeUndefined();
    expectExactlyOnce(r);
  });

  it('a refused key (401) stops the run: its batch fails, no further batch starts, the rest is left for --resume (exit 4)', async () => {
    const { rows, state } = source(100);
    const calls: number[] = [];
    const r = await runWith({
      rows,
      concurrency: 1,
      process: async (batch) => {
        calls.push(batch[0].rowNumber);
        if (batch[0].rowNumber === 4) {
          throw new KlaviyoApiError({ operationId: 'x', method: 'POST', path: '/api/x', status: 401, errors: [{ code: 'not_authenticated', detail: 'Invalid API key' }] });
        }
        return created(batch);
      },
    });
    expect(r.result.stopped).toBe('fatal');
    expect(r.result.exitCode).toBe(ExitCode.Auth);
    expect(calls).toEqual([1, 4]);
    expect(r.errors.map((e) => [e.Row, e.ErrorCode, e.ErrorMessage])).toEqual([
      ['4', 'not_authenticated', 'Invalid API key'],
      ['5', 'not_authenticated', 'Invalid API key'],
      ['6', 'not_authenticated', 'Invalid API key'],
    ]);
    // The reader stopped: far fewer than 100 rows were read.
    expect(state.pulled).toBeLessThan(15);
    expect(r.result.counts.notProcessed).toBe(r.result.counts.read - 6);
    expectExactlyOnce(r);
  });

  it('the network gone after retries is fatal too (exit 1); an unknown outcome is per row', async () => {
    const r = await runWith({
      rows: source(9).rows,
      concurrency: 1,
      process: async (batch) => {
        if (batch[0].rowNumber === 1) throw new UnknownOutcomeError({ operationId: 'create_list', method: 'POST', path: '/api/lists', reason: 'status 502', status: 502 });
        throw new KlaviyoNetworkError({ operationId: 'x', method: 'POST', path: '/api/x', code: 'ECONNREFUSED', reason: 'connect ECONNREFUSED', attempts: 6, baseUrl: 'http://127.0.0.1:1' });
      },
    });
    expect(r.errors.slice(0, 3).every((e) => e.ErrorCode === 'unknown_outcome' && /re-import this row if needed/.test(e.ErrorMessage))).toBe(true);
    expect(r.errors.slice(3).map((e) => e.ErrorCode)).toEqual(['network_error', 'network_error', 'network_error']);
    expect(r.result).toMatchObject({ stopped: 'fatal', exitCode: ExitCode.Failure });
    expectExactlyOnce(r);
  });

  it('backpressure: the reader waits for a free slot, so at most concurrency batches (and the one gathered) are held', async () => {
    const { rows, state } = source(1000);
    const gates: Array<{ rows: ImportRow[]; done: ReturnType<typeof deferred<RowOutcome[]>> }> = [];
    const started = deferred();
    let gated = true;
    const { logs } = await openLogs();
    const running = runImport({
      rows,
      mapRow,
      handlerName: 'Fakes insert',
      batchSize: 10,
      concurrency: 3,
      idempotent: true,
      logs,
      signal: new AbortController().signal,
      process: async (batch) => {
        if (!gated) return created(batch);
        const d = deferred<RowOutcome[]>();
        gates.push({ rows: batch, done: d });
        if (gates.length === 3) started.resolve();
        return d.promise;
      },
    });
    await started.promise;
    // Give the reader every chance to run ahead.
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    expect(gates).toHaveLength(3);
    // 3 batches in flight + 10 rows gathered for the fourth, waiting for a slot.
    expect(state.pulled).toBe(40);
    gated = false;
    for (const g of gates) g.done.resolve(created(g.rows));
    const result = await running;
    await logs.close();
    expect(result.peakInFlight).toBe(3);
    expect(result.counts).toMatchObject({ read: 1000, succeeded: 1000, failed: 0 });
  });

  it('Ctrl-C: reading stops, the batches in flight finish and are logged, rows gathered but not sent are left for --resume', async () => {
    const ac = new AbortController();
    const { rows, state } = source(1000);
    const gates: Array<{ rows: ImportRow[]; done: ReturnType<typeof deferred<RowOutcome[]>> }> = [];
    const two = deferred();
    const { logs, paths } = await openLogs();
    const running = runImport({
      rows,
      mapRow,
      handlerName: 'Fakes insert',
      batchSize: 5,
      concurrency: 2,
      idempotent: false,
      logs,
      signal: ac.signal,
      process: (batch) => {
        const d = deferred<RowOutcome[]>();
        gates.push({ rows: batch, done: d });
        if (gates.length === 2) two.resolve();
        return d.promise;
      },
    });
    await two.promise;
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    ac.abort(new InterruptedError());
    for (const g of gates) g.done.resolve(created(g.rows));
    const result = await running;
    await logs.close();
    expect(result.stopped).toBe('interrupted');
    expect(gates).toHaveLength(2); // no batch started after Ctrl-C
    expect(readLog(paths.success).map((s) => s.Row)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    expect(result.counts).toMatchObject({ read: 15, succeeded: 10, notProcessed: 5 });
    expect(state.pulled).toBe(15);
  });

  it('a handler interrupted mid-batch: an idempotent batch is left for --resume, any other is logged unknown_outcome', async () => {
    const journal: JournalSink = { sent: async () => undefined };
    const interrupted = async (rows: ImportRow[]) => {
      if (rows[0].rowNumber === 4) throw new InterruptedError();
      return created(rows);
    };
    const idem = await runWith({ rows: source(6).rows, concurrency: 1, idempotent: true, journal, process: interrupted });
    expect(idem.errors).toEqual([]);
    expect(idem.result.counts).toMatchObject({ succeeded: 3, notProcessed: 3 });
    expectExactlyOnce(idem);
    const once = await runWith({ rows: source(6).rows, concurrency: 1, idempotent: false, journal, process: interrupted });
    expect(once.errors.map((e) => [e.Row, e.ErrorCode])).toEqual([
      ['4', 'unknown_outcome'],
      ['5', 'unknown_outcome'],
      ['6', 'unknown_outcome'],
    ]);
    expect(once.errors[0].ErrorMessage).toMatch(/may have been applied; check in Klaviyo/);
    expectExactlyOnce(once);
  });

  it('a broken line mid-file: every row before it is sent and logged (the partial batch too), then the run stops with the error', async () => {
    const broken = new UsageError('in.csv, line 9: 3 fields, expected 2');
    const r = await runWith({ rows: source(100, { failAfter: 7, failWith: broken }).rows, process: async (rows) => created(rows) });
    expect(r.result.stopped).toBe('input');
    expect(r.result.error).toBe(broken);
    expect(r.success.map((s) => s.Row)).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(r.result.counts).toMatchObject({ read: 7, succeeded: 7, notProcessed: 0 });
  });

  it('the journal entry of a batch is on disk before the batch is sent, with the log bytes committed so far', async () => {
    const events: string[] = [];
    const journal: JournalSink = {
      sent: async (rows, logBytes) => {
        await new Promise((r) => setImmediate(r));
        events.push(`journal ${rows.map((x) => x.rowNumber).join(',')} ${logBytes[0] > 0 ? 'bytes' : 'none'}`);
      },
    };
    const r = await runWith({
      rows: source(5).rows,
      concurrency: 1,
      batchSize: 2,
      journal,
      hashIndices: [0, 1],
      process: async (rows) => {
        events.push(`send ${rows.map((x) => x.rowNumber).join(',')}`);
        return created(rows);
      },
    });
    expect(events).toEqual(['journal 1,2 bytes', 'send 1,2', 'journal 3,4 bytes', 'send 3,4', 'journal 5 bytes', 'send 5']);
    expectExactlyOnce(r);
  });

  it('a journal that cannot be written stops the run before that batch is sent', async () => {
    let sends = 0;
    const r = await runWith({
      rows: source(9).rows,
      concurrency: 1,
      journal: { sent: async () => Promise.reject(new Error('ENOSPC: no space left on device')) },
      process: async (rows) => {
        sends++;
        return created(rows);
      },
    });
    expect(sends).toBe(0);
    expect(r.result.stopped).toBe('fatal');
    expect(r.success).toEqual([]);
    expectExactlyOnce(r);
  });

  it('exactly once under random handler behaviour (seeded): partial outcomes, throws, fatal errors, mapping failures', async () => {
    let seed = 42;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let trial = 0; trial < 25; trial++) {
      const count = 20 + Math.floor(rand() * 80);
      const bad = new Set<number>();
      for (let i = 1; i <= count; i++) if (rand() < 0.1) bad.add(i);
      const r = await runWith({
        rows: source(count, { bad }).rows,
        batchSize: 1 + Math.floor(rand() * 7),
        concurrency: 1 + Math.floor(rand() * 4),
        process: async (rows) => {
          // A seeded number of event-loop turns: batches finish out of order, deterministically.
          for (let k = Math.floor(rand() * 4); k > 0; k--) await new Promise((res) => setImmediate(res));
          const x = rand();
          if (x < 0.05) throw new KlaviyoApiError({ operationId: 'x', method: 'POST', path: '/x', status: 403, errors: [] });
          if (x < 0.15) throw new Error('boom');
          if (x < 0.3) return created(rows.filter(() => rand() < 0.5));
          if (x < 0.4) return [...created(rows), ...created(rows)];
          return rows.map((row) => (rand() < 0.2 ? { ok: false, rowNumber: row.rowNumber, code: 'invalid', message: 'no' } : { ok: true, rowNumber: row.rowNumber, status: 'updated' }));
        },
      });
      expectExactlyOnce(r);
      if (!r.result.stopped) expect(r.result.counts.read).toBe(count);
    }
  });
});

describe('batch helpers', () => {
  it('effectiveBatchSize: the handler maximum, lowered by --batch-size, never below 1', () => {
    expect(effectiveBatchSize(undefined, 10_000)).toBe(10_000);
    expect(effectiveBatchSize(500, 10_000)).toBe(500);
    expect(effectiveBatchSize(50_000, 10_000)).toBe(10_000);
    expect(effectiveBatchSize(0, 100)).toBe(1);
  });

  it('reconcileOutcomes keeps the rows order', () => {
    const rows = [{ rowNumber: 5, values: {} }, { rowNumber: 2, values: {} }];
    const { outcomes } = reconcileOutcomes(rows, [{ ok: true, rowNumber: 2, status: 'created' }, { ok: false, rowNumber: 5, code: 'c', message: 'm' }], 'X');
    expect(outcomes.map((o) => o.rowNumber)).toEqual([5, 2]);
  });

  it('describeBatchError: what stops the run and what fails only the batch', () => {
    expect(describeBatchError(new InterruptedError()).kind).toBe('interrupted');
    expect(describeBatchError(Object.assign(new Error('aborted'), { name: 'AbortError' })).kind).toBe('interrupted');
    expect(describeBatchError(new KlaviyoApiError({ operationId: 'x', method: 'GET', path: '/x', status: 403, errors: [] }))).toMatchObject({ kind: 'fatal', code: 'permission_denied', exitCode: 4 });
    expect(describeBatchError(new KlaviyoApiError({ operationId: 'x', method: 'GET', path: '/x', status: 503, errors: [] }))).toMatchObject({ kind: 'rows', code: 'http_503' });
    expect(describeBatchError(new KlvError('disk', { exitCode: ExitCode.Auth }))).toMatchObject({ kind: 'fatal' });
    expect(describeBatchError('weird')).toMatchObject({ kind: 'rows', code: 'internal_error' });
  });

  it('describeBatchError: an answer that was not Klaviyo\'s stops the run with a code naming it, not network_error', () => {
    const answered = (kind: KlaviyoResponseError['kind']) =>
      describeBatchError(new KlaviyoResponseError({ operationId: 'x', method: 'POST', path: '/api/x', kind, status: 200, message: `POST /api/x: ${kind}`, hint: 'h' }));
    expect(answered('malformed')).toMatchObject({ kind: 'fatal', code: 'bad_response', exitCode: ExitCode.Failure });
    expect(answered('too-large')).toMatchObject({ kind: 'fatal', code: 'response_too_large' });
    expect(answered('edge-blocked')).toMatchObject({ kind: 'fatal', code: 'edge_blocked' });
    expect(answered('retry-after-too-long')).toMatchObject({ kind: 'fatal', code: 'rate_limited' });
    expect(answered('pagination-stuck')).toMatchObject({ kind: 'fatal', code: 'bad_pagination' });
    expect(answered('cursor-refused')).toMatchObject({ kind: 'fatal', code: 'bad_pagination' });
    const network = new KlaviyoNetworkError({ operationId: 'x', method: 'POST', path: '/api/x', code: 'ECONNREFUSED', reason: 'refused', attempts: 6, baseUrl: 'http://127.0.0.1:1' });
    expect(describeBatchError(network)).toMatchObject({ kind: 'fatal', code: 'network_error' });
  });

  it('InFlight never runs more than its limit', async () => {
    const pool = new InFlight(2);
    let running = 0;
    let peak = 0;
    for (let i = 0; i < 10; i++) {
      await pool.waitForSlot();
      pool.add(
        (async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setImmediate(r));
          running--;
          if (i === 3) throw new Error('ignored');
        })(),
      );
    }
    await pool.drain();
    expect(peak).toBe(2);
    expect(pool.peak).toBe(2);
    expect(pool.size).toBe(0);
  });
});
