/**
 * The replication engine: Klaviyo objects into a Destination, incrementally, with nothing lost.
 *
 * Per object, one after the other (the rate governor is per account; reading objects in
 * parallel would not make the account's limits any larger, and a sequential run keeps the
 * request count per object exact):
 *   1. ensureTable (creates it, or adds the columns it lacks: schema drift, nothing dropped);
 *   2. read through the catalog's own plan, from `cursor - lookback` (state.ts) or in full;
 *   3. upsert in batches of `batchSize` rows, each batch one transaction: memory stays flat;
 *   4. look for deletions when due (sweep.ts): refused when they look like a bad answer (the
 *      mass-deletion guard), cascaded to a deleted list's or segment's members; skipped, with a
 *      warning, when the id-only read was incomplete (a part left out), and nothing marked when it
 *      failed (the object fails);
 *   5. only then write the state (cursor = largest incremental value seen, clamped to now).
 *
 * Convergence after a kill at any point: the state of an object moves only after its rows and
 * its sweep are written, so a killed run leaves the previous cursor and the next run reads the
 * same window again; rows already written are upserted again by key, which changes nothing.
 */
import { AuthError, InterruptedError, KlvError } from '../core/errors.js';
import { ExitCode } from '../core/exit-code.js';
import type { KlaviyoClient } from '../klaviyo/client.js';
import { KlaviyoResponseError } from '../klaviyo/errors.js';
import type { ObjectDefinition, Row } from '../objects/types.js';
import type { Destination, ReplicationState, SweepCheck, SweepOutcome, TableSpec } from './destination.js';
import { CursorTracker, defaultLookbackMs, nextCursor, readSince } from './state.js';
import { fromArray, IncompleteSweepError, liveKeys, massDeletionReason, readsInFull, sweepCascades, sweepDue, type SweepSetting } from './sweep.js';
import { replicatedColumns, tableSpec } from './table-spec.js';

export const DEFAULT_BATCH_SIZE = 500;

export interface ReplicateOptions {
  objects: readonly ObjectDefinition[];
  destination: Destination;
  client: KlaviyoClient;
  tablePrefix?: string;
  sweepDeletes?: SweepSetting;
  hardDeletes?: boolean;
  /** Accept sweeps the mass-deletion guard would refuse (sweep.ts). */
  allowMassDeletes?: boolean;
  /** Overrides every object's default lookback (state.ts). */
  lookbackMs?: number;
  batchSize?: number;
  now?: () => Date;
  signal?: AbortSignal;
  /** Rows written so far for the object being replicated (progress on a terminal). */
  onProgress?: (object: string, rows: number) => void;
  /** Called as each object completes or fails. */
  onObject?: (result: ObjectResult) => void;
}

export interface ObjectResult {
  object: string;
  table: string;
  /** A full read (first run, after `state reset`, or an object Klaviyo cannot filter by time). */
  full: boolean;
  since: string | null;
  rowsRead: number;
  inserted: number;
  /** Rows whose stored values changed (read again and different, or un-deleted). */
  updated: number;
  /** Rows read again with the values already stored. */
  unchanged: number;
  deleted: number;
  /** Deletions were looked for and applied. */
  swept: boolean;
  /** The mass-deletion guard refused this run's sweep: nothing was marked; the numbers it judged. */
  sweepRefused: (SweepCheck & { reason: string }) | null;
  /**
   * The sweep's id-only read left a part out (a list deleted while its members were read): the
   * keys were not all there, so nothing was marked. What was left out and why.
   */
  sweepIncomplete: string | null;
  /** Rows of child tables deleted with this object's deleted rows (a deleted list's members). */
  cascaded: Array<{ table: string; deleted: number }>;
  addedColumns: string[];
  requests: number;
  seconds: number;
  cursor: string | null;
  error?: { message: string; hint?: string; error: unknown };
}

export interface ReplicateResult {
  results: ObjectResult[];
  failed: ObjectResult[];
  /** Objects whose sweep the mass-deletion guard refused (their other work is done). */
  refused: ObjectResult[];
  /** Objects whose sweep read was incomplete: deletions not looked at this run (their other work is done). */
  incomplete: ObjectResult[];
}

/** Objects replicated when none are named: every object readable without a required filter. */
export function defaultObjects(all: readonly ObjectDefinition[]): ObjectDefinition[] {
  return all.filter((def) => {
    try {
      def.plan({ columns: replicatedColumns(def), where: [], options: { includeArchived: true } });
      return true;
    } catch {
      return false;
    }
  });
}

function isFatal(err: unknown, signal?: AbortSignal): boolean {
  // A refused key fails every object the same way; Ctrl-C stops the run. So do Klaviyo's edge
  // blocking the account's requests and a 429 asking to come back hours later: the next objects
  // would only meet them again (each after its retries).
  const authRefused = err instanceof AuthError || (err instanceof KlvError && err.exitCode === ExitCode.Auth);
  const accountWide = err instanceof KlaviyoResponseError && (err.kind === 'edge-blocked' || err.kind === 'retry-after-too-long');
  return authRefused || accountWide || err instanceof InterruptedError || Boolean(signal?.aborted);
}

export async function replicate(o: ReplicateOptions): Promise<ReplicateResult> {
  const results: ObjectResult[] = [];
  const failed: ObjectResult[] = [];
  for (const def of o.objects) {
    if (o.signal?.aborted) throw new InterruptedError();
    const result = await replicateObject(def, o).catch((err: unknown) => {
      if (isFatal(err, o.signal)) throw err;
      return err as Error & { partial?: ObjectResult };
    });
    if (result instanceof Error) {
      const r = result.partial!;
      r.error = { message: result.message, hint: (result as { hint?: string }).hint, error: result };
      failed.push(r);
      results.push(r);
      o.onObject?.(r);
      continue;
    }
    results.push(result);
    o.onObject?.(result);
  }
  return { results, failed, refused: results.filter((r) => r.sweepRefused), incomplete: results.filter((r) => r.sweepIncomplete) };
}

async function replicateObject(def: ObjectDefinition, o: ReplicateOptions): Promise<ObjectResult> {
  const now = o.now ?? (() => new Date());
  const dest = o.destination;
  const started = performance.now();
  const requestsBefore = o.client.stats().requests;
  const spec: TableSpec = tableSpec(def, { tablePrefix: o.tablePrefix });
  const result: ObjectResult = {
    object: def.name,
    table: spec.name,
    full: true,
    since: null,
    rowsRead: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    deleted: 0,
    swept: false,
    sweepRefused: null,
    sweepIncomplete: null,
    cascaded: [],
    addedColumns: [],
    requests: 0,
    seconds: 0,
    cursor: null,
  };
  const finish = () => {
    result.requests = o.client.stats().requests - requestsBefore;
    result.seconds = (performance.now() - started) / 1000;
  };
  try {
    const runStart = now();
    const { created, addedColumns } = await dest.ensureTable(spec);
    result.addedColumns = addedColumns;
    const state = created ? null : await dest.getState(def.name);
    const since = readSince(def, state, o.lookbackMs ?? defaultLookbackMs(def), runStart);
    result.full = since === undefined;
    result.since = since?.toISOString() ?? null;
    result.cursor = state?.cursor ?? null;

    const plan = def.plan({ columns: replicatedColumns(def), where: [], since, options: { includeArchived: true } });
    const tracker = new CursorTracker(def.incremental?.column);
    const fullRead = readsInFull(def);
    const sweep = sweepDue(def, o.sweepDeletes, state, runStart);
    // Objects read in full are reconciled from their own read: keep their keys (small objects).
    const seenKeys: Row[] | undefined = fullRead && sweep && !created ? [] : undefined;

    const batchSize = o.batchSize ?? DEFAULT_BATCH_SIZE;
    let batch: Row[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const r = await dest.upsertRows(spec, batch, now());
      result.inserted += r.inserted;
      result.updated += r.updated;
      result.unchanged += r.unchanged;
      batch = [];
      o.onProgress?.(def.name, result.rowsRead);
    };
    for await (const row of plan.execute(o.client, o.signal)) {
      result.rowsRead++;
      tracker.see(row);
      if (seenKeys) seenKeys.push(Object.fromEntries(def.key.map((k) => [k, row[k]])));
      batch.push(row);
      if (batch.length >= batchSize) await flush();
    }
    await flush();
    if (o.signal?.aborted) throw new InterruptedError();

    // A table created by this run holds exactly what was read: nothing to reconcile.
    let sweptAt: string | null = state?.lastSweepAt ?? null;
    if (created) {
      sweptAt = runStart.toISOString();
    } else if (sweep) {
      const keys = seenKeys ? fromArray(seenKeys) : liveKeys(def, o.client, o.signal);
      // The sweep's time is when its reading started: rows upserted after it are not at risk.
      // The destination marks nothing before the keys have ended: a read that throws (the object
      // fails) or ends incomplete (IncompleteSweepError) leaves every row as it was.
      let outcome: SweepOutcome | undefined;
      try {
        outcome = await dest.reconcileDeletions(spec, keys, runStart, {
          hard: Boolean(o.hardDeletes),
          refuse: o.allowMassDeletes ? undefined : (check) => massDeletionReason(check) !== null,
          cascades: sweepCascades(def, o.tablePrefix),
        });
      } catch (err) {
        if (!(err instanceof IncompleteSweepError)) throw err;
        // Not a sweep: the rows stay live, lastSweepAt stays, and the next run looks again.
        result.sweepIncomplete = err.skipped.join('; ');
      }
      if (o.signal?.aborted) throw new InterruptedError();
      if (outcome) {
        result.deleted = outcome.deleted;
        result.cascaded = outcome.cascaded;
        if (outcome.refused) {
          // Not a sweep either: the next run looks again (lastSweepAt stays), and the rows stay live.
          result.sweepRefused = { ...outcome.check, reason: massDeletionReason(outcome.check) ?? 'refused by the guard' };
        } else {
          result.swept = true;
          sweptAt = runStart.toISOString();
        }
      }
    }

    const newState: ReplicationState = {
      object: def.name,
      cursor: def.incremental ? nextCursor(state?.cursor, tracker.max, now()) : null,
      lastCompleteRunAt: runStart.toISOString(),
      lastSweepAt: sweptAt,
    };
    await dest.setState(newState);
    result.cursor = newState.cursor;
    finish();
    return result;
  } catch (err) {
    finish();
    if (err && typeof err === 'object') (err as { partial?: ObjectResult }).partial = result;
    throw err;
  }
}
