/**
 * The write side of the object catalog: what `klv import` hands to an object's operation
 * handler, and what the handler must give back. The import pipeline (src/pipeline/import)
 * reads and maps the CSV, validates each cell against the column types, batches the rows, calls
 * the handler, and writes one line per input row to the success or the error log.
 *
 * Contract for handlers:
 * - `processBatch` returns EXACTLY one outcome per row it was given (any order; matched by
 *   rowNumber). A row it cannot decide about is a failure with code `unknown_outcome`.
 * - It never sends a non-idempotent write twice (the client refuses to retry those; a
 *   handler must not loop on them either).
 * - It throws only for failures that are not about rows (401/403, network gone after retries,
 *   Ctrl-C): the pipeline then records every row of the batch as failed with that error, and
 *   stops or goes on as the error demands.
 * - Klaviyo's row-level constraints that can be checked without I/O belong in `validateRow`,
 *   so such rows fail before anything is sent (a drag-and-drop template's Html update).
 */
import type { Clock } from '../../core/clock.js';
import type { KlaviyoClient } from '../../klaviyo/client.js';
import type { OperationId } from '../../klaviyo/generated/api-metadata.js';
import type { Operation } from '../types.js';

export interface ImportRow {
  /** 1-based number of the data row in the input (the header is not counted). */
  rowNumber: number;
  /**
   * The mapped, coerced values by canonical column name (`Email`, `Properties.tier`):
   * strings, numbers, booleans, ISO 8601 UTC strings for datetimes, parsed JSON for json
   * columns. A column absent from the object means "not given: leave unchanged"; null means
   * "clear this field" (the --null-value token).
   */
  values: Record<string, unknown>;
}

export type RowStatus =
  | 'created'
  | 'updated'
  | 'deleted'
  | 'unchanged'
  | 'added'
  | 'removed'
  | 'subscribed'
  | 'unsubscribed'
  | 'pending-confirmation'
  | 'suppressed'
  | 'unsuppressed';

export interface RowSuccess {
  ok: true;
  rowNumber: number;
  status: RowStatus;
  /** Klaviyo's id of the record the row created or changed. */
  id?: string;
  /** Object-specific columns for the success log (Campaigns: TemplateId; dry-run: ChangedColumns). */
  extras?: Record<string, string>;
}

export interface RowFailure {
  ok: false;
  rowNumber: number;
  /** Klaviyo's error code (`duplicate_profile`, `invalid`), or klv's (`invalid_value`, `unknown_outcome`). */
  code: string;
  /** What went wrong and, where useful, what to do: Klaviyo's detail or klv's reason. */
  message: string;
}

export type RowOutcome = RowSuccess | RowFailure;

export interface ImportOptions {
  /** Profiles: also add every imported profile to this list. */
  listId?: string;
  /** ListSubscribe delete: allow unsubscribing profiles that are not in the list (global unsubscribe). */
  allowGlobalUnsubscribe?: boolean;
  /** Events: columns whose values make the derived unique id when the CSV has none. */
  uniqueBy?: string[];
  /** Cap on rows per batch (never above the handler's maxBatchSize). */
  batchSize?: number;
  /** Subscriptions: mark consent as a historical import (no double opt-in, no flows). */
  historicalImport?: boolean;
}

export interface WriteContext {
  client: KlaviyoClient;
  signal: AbortSignal;
  options: ImportOptions;
  clock: Clock;
  /** For --verbose diagnostics (never row data with secrets; there are none in rows). */
  debug(line: string): void;
}

export interface OperationHandler {
  operation: Operation;
  /** Plain words for `klv describe` and `--help`: what the operation does in Klaviyo. */
  description: string;
  /**
   * Columns the mapped input must provide, checked before the file is read further: a name, or
   * a list of names meaning "at least one of them" (`['Id', 'Email', 'PhoneNumber', 'ExternalId']`).
   */
  requiredColumns: ReadonlyArray<string | readonly string[]>;
  /** Columns the operation can use; others in the input are warned about (errors with --strict). */
  acceptedColumns?: readonly string[];
  /**
   * Every Klaviyo operation the handler (its lookups, writes, job polls and --dry-run preview) may
   * call, whatever the options. `klv doctor` derives the scopes an import needs from these; a unit
   * test checks them against the operations the handler's modules name.
   */
  calls?: readonly OperationId[];
  /** Operations called only in some runs (with --list, with a PushToken column), and when. */
  conditionalCalls?: ReadonlyArray<{ when: string; calls: readonly OperationId[] }>;
  /** Klaviyo's largest batch for the endpoint (profile bulk import 10,000; list relationships 1,000; 1 for one-row endpoints). */
  maxBatchSize: number;
  /** Batches processed at once (the rate governor still paces requests). Default 4. */
  concurrency?: number;
  /** Re-sending a row after an interruption cannot duplicate anything (upserts, membership adds). */
  idempotent: boolean;
  /** Row rules that need no I/O; a failure here means the row is never sent. */
  validateRow?(row: ImportRow, options: ImportOptions): RowFailure | null;
  /** Writes the batch; exactly one outcome per row. */
  processBatch(rows: ImportRow[], ctx: WriteContext): Promise<RowOutcome[]>;
  /**
   * --dry-run for update/upsert: read the current records and say per row what would change
   * (status created/updated/unchanged, extras.ChangedColumns = 'FirstName;City'). No writes.
   * Without it, a dry run reports the row as valid without reading anything.
   */
  preview?(rows: ImportRow[], ctx: WriteContext): Promise<RowOutcome[]>;
}

/** The handlers an object offers, by operation. */
export type WriteHandlers = Partial<Record<Operation, OperationHandler>>;
