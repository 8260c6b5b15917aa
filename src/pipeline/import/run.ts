/**
 * The run loop of `klv import`: rows in, batches out, one log line per row.
 *
 *   read a row -> (--resume: skip it if done) -> map and validate it
 *     -> invalid: error log
 *     -> valid: into the batch; a full batch goes to the handler once a slot is free
 *   each batch: journal (fsync) -> handler -> one outcome per row -> logs (fsync)
 *
 * The invariant: every row read lands exactly once in one of the two logs, or, when the run
 * stops early (Ctrl-C, a refused key, the network gone, a broken line), is counted as not
 * processed and left for `--resume`, which knows from the journal whether it may have been sent.
 *
 * Memory stays flat: the reader waits for a free slot before starting a batch, so at most
 * `concurrency` batches are in flight plus the one being gathered, whatever the file's size.
 *
 * Ctrl-C stops the reading; the batches in flight finish (their outcomes are logged) unless the
 * handler itself is interrupted: then an idempotent batch is left for --resume to send again,
 * and any other is logged `unknown_outcome`, since it may have been applied.
 */
import type { ImportRow, RowFailure } from '../../objects/write/types.js';
import {
  describeBatchError,
  InFlight,
  reconcileOutcomes,
  type BatchErrorInfo,
  type LoggedOutcome,
} from './batches.js';
import { UNKNOWN_OUTCOME_MESSAGE, rowHash, type ResumePlan } from './resume.js';
import { emptyCounts, type RunCounts, type StopReason } from './summary.js';

/** A data row as read (csv-source.ts's CsvRow). */
export interface SourceRow {
  rowNumber: number;
  line: number;
  cells: Record<string, string>;
  values: string[];
}

export type MapResult = { ok: true; row: ImportRow } | { ok: false; failure: RowFailure };

/** Where outcomes go (ImportLogs). */
export interface LogSink {
  add(values: readonly string[], outcome: LoggedOutcome): void;
  maybeFlush(): Promise<void>;
  commit(): Promise<void>;
  readonly committedBytes: [number, number];
}

/** The write-ahead journal (resume.ts's Journal). */
export interface JournalSink {
  sent(rows: ReadonlyArray<{ rowNumber: number; hash: number }>, logBytes: [number, number]): Promise<void>;
  /** Rows journaled by sent() and then held back, never sent. */
  unsent?(rowNumbers: readonly number[]): Promise<void>;
}

export interface RunOptions {
  rows: AsyncIterable<SourceRow>;
  mapRow(cells: Record<string, string>, rowNumber: number): MapResult;
  /** The handler's processBatch (or a dry run's preview), bound to its context. */
  process(rows: ImportRow[]): Promise<unknown>;
  /** For messages about the handler (`Profiles upsert`). */
  handlerName: string;
  batchSize: number;
  concurrency: number;
  idempotent: boolean;
  logs: LogSink;
  /** Absent in a dry run (nothing is sent, nothing to journal). */
  journal?: JournalSink;
  /** Input indexes whose cells the journal hashes (LogLayout.hashInput). */
  hashIndices?: readonly number[];
  /** --resume. */
  resume?: ResumePlan;
  /** Ctrl-C: stop reading. */
  signal: AbortSignal;
  /** The counters, live (the progress line reads them). */
  counts?: RunCounts;
  debug?(line: string): void;
}

export interface RunResult {
  counts: RunCounts;
  stopped?: StopReason;
  /** Why it stopped: the fatal error (exit 4 or 1), the input's error (exit 2). */
  error?: unknown;
  /** For fatal stops: the exit code. */
  exitCode?: number;
  /** Most batches that were in flight at once. */
  peakInFlight: number;
}

interface Pending {
  src: SourceRow;
  row: ImportRow;
}

export async function runImport(o: RunOptions): Promise<RunResult> {
  const counts = o.counts ?? emptyCounts();
  const pool = new InFlight(o.concurrency);
  const hashIndices = o.hashIndices ?? [];
  let stopped: StopReason | undefined;
  let error: unknown;
  let exitCode: number | undefined;

  const stop = (reason: StopReason, err?: unknown, code?: number) => {
    if (stopped !== undefined) return;
    stopped = reason;
    error = err;
    exitCode = code;
  };

  const record = (src: SourceRow, outcome: LoggedOutcome) => {
    o.logs.add(src.values, outcome);
    if (outcome.ok) {
      counts.succeeded++;
      counts.statuses[outcome.status] = (counts.statuses[outcome.status] ?? 0) + 1;
    } else {
      counts.failed++;
    }
  };

  const runBatch = async (batch: Pending[]): Promise<void> => {
    if (o.journal) {
      try {
        await o.journal.sent(
          batch.map((p) => ({ rowNumber: p.src.rowNumber, hash: rowHash(p.src.values, hashIndices) })),
          o.logs.committedBytes,
        );
      } catch (err) {
        // Not journaled means not sent: the rows stay for --resume.
        counts.notProcessed += batch.length;
        stop('fatal', err, 1);
        return;
      }
      // A fatal stop (a full disk, a refused key) while this batch waited for its journal entry:
      // send nothing more. The journal is told, so that --resume sends these rows as new; if it
      // cannot be (its disk is the full one), they count as in doubt: resent if idempotent, else
      // unknown_outcome. Never sent twice either way.
      if (stopped === 'fatal') {
        counts.notProcessed += batch.length;
        await o.journal.unsent?.(batch.map((p) => p.src.rowNumber)).catch(() => undefined);
        return;
      }
    }
    const rows = batch.map((p) => p.row);
    let outcomes: LoggedOutcome[];
    try {
      const result = await o.process(rows);
      const reconciled = reconcileOutcomes(rows, result, o.handlerName);
      for (const p of reconciled.problems) o.debug?.(`klv bug: ${p}`);
      outcomes = reconciled.outcomes;
    } catch (err) {
      const info: BatchErrorInfo = describeBatchError(err);
      if (info.kind === 'interrupted') {
        if (o.idempotent || !o.journal) {
          // Safe to send again: the journal has these rows, --resume re-sends them.
          counts.notProcessed += batch.length;
          return;
        }
        outcomes = rows.map((r) => ({ ok: false, rowNumber: r.rowNumber, code: 'unknown_outcome', message: `interrupted (Ctrl-C) while this row was being sent: it may have been applied; check in Klaviyo and re-import this row if needed` }));
      } else {
        if (info.kind === 'fatal') stop('fatal', err, info.exitCode);
        o.debug?.(`batch of ${rows.length} rows failed: ${info.code}: ${info.message}`);
        outcomes = rows.map((r) => ({ ok: false, rowNumber: r.rowNumber, code: info.code, message: info.message }));
      }
    }
    for (let i = 0; i < batch.length; i++) record(batch[i].src, outcomes[i]);
    try {
      await o.logs.commit();
    } catch (err) {
      stop('fatal', err, 1);
    }
  };

  let batch: Pending[] = [];
  const launch = async (): Promise<boolean> => {
    await pool.waitForSlot();
    // Waiting for a slot may have taken a while: no new batch once the run is stopping, except
    // after a broken line: the rows before it are imported, as if the file ended there.
    if ((stopped !== undefined && stopped !== 'input') || o.signal.aborted) return false;
    const b = batch;
    batch = [];
    pool.add(runBatch(b));
    return true;
  };

  const iterator = o.rows[Symbol.asyncIterator]();
  let exhausted = false;
  try {
    for (;;) {
      if (stopped !== undefined) break;
      if (o.signal.aborted) {
        stop('interrupted');
        break;
      }
      let next: IteratorResult<SourceRow>;
      try {
        next = await iterator.next();
      } catch (err) {
        exhausted = true;
        if (o.signal.aborted) stop('interrupted');
        else stop('input', err, 2);
        break;
      }
      if (next.done) {
        exhausted = true;
        break;
      }
      const src = next.value;
      counts.read++;

      if (o.resume) {
        let decision;
        try {
          decision = o.resume.classify(src.rowNumber, src.values, src.line);
        } catch (err) {
          counts.notProcessed++;
          stop('input', err, 2);
          break;
        }
        if (decision === 'done') {
          counts.skipped++;
          if (o.resume.failedBefore(src.rowNumber)) counts.skippedFailed++;
          continue;
        }
        if (decision === 'unknown') {
          record(src, { ok: false, rowNumber: src.rowNumber, code: 'unknown_outcome', message: UNKNOWN_OUTCOME_MESSAGE });
          await flushQuietly();
          continue;
        }
      }

      const mapped = o.mapRow(src.cells, src.rowNumber);
      if (!mapped.ok) {
        record(src, mapped.failure.rowNumber === src.rowNumber ? mapped.failure : { ...mapped.failure, rowNumber: src.rowNumber });
        await flushQuietly();
        continue;
      }
      batch.push({ src, row: mapped.row });
      if (batch.length >= o.batchSize && !(await launch())) {
        if (stopped === undefined && o.signal.aborted) stop('interrupted');
        break;
      }
    }
    if ((stopped === undefined || stopped === 'input') && batch.length > 0) {
      if (!(await launch()) && stopped === undefined && o.signal.aborted) stop('interrupted');
    }
  } finally {
    // Rows gathered but never started: not sent, not logged; --resume picks them up.
    counts.notProcessed += batch.length;
    batch = [];
    if (!exhausted) {
      // Stop the reader (closes the file). Not awaited: a read may be pending on a slow pipe.
      void Promise.resolve()
        .then(() => iterator.return?.())
        .catch(() => undefined);
    }
    await pool.drain();
  }
  try {
    await o.logs.commit();
  } catch (err) {
    stop('fatal', err, 1);
  }
  return { counts, stopped, error, exitCode, peakInFlight: pool.peak };

  async function flushQuietly(): Promise<void> {
    try {
      await o.logs.maybeFlush();
    } catch (err) {
      stop('fatal', err, 1);
    }
  }
}
