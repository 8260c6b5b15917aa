/**
 * `klv import --dry-run`: every row is parsed, mapped and validated exactly as in a real run, and
 * nothing is written to Klaviyo. For update and upsert, a handler that can `preview` reads the
 * current records and says per row what the import would do: `created`, `updated` (with the
 * columns that would change, in ChangedColumns) or `unchanged`. Other rows are logged `valid`.
 *
 * The logs are `<input>.dry-run.success.csv` and `.dry-run.errors.csv` unless given, so that a
 * dry run never overwrites a real run's logs (or its journal: a dry run keeps none).
 */
import type { Operation } from '../../objects/types.js';
import type { ImportRow, OperationHandler, WriteContext } from '../../objects/write/types.js';
import { DEFAULT_HANDLER_CONCURRENCY, effectiveBatchSize, type LoggedOutcome } from './batches.js';

/** Rows per log write when nothing is read from Klaviyo: validation is all CPU. */
export const DRY_RUN_CHUNK = 2_000;

export const VALID = 'valid';

export interface DryRunPlan {
  /** True when the handler's preview reads Klaviyo (a client and a key are needed). */
  reads: boolean;
  batchSize: number;
  concurrency: number;
  process(rows: ImportRow[]): Promise<LoggedOutcome[]>;
}

/** Whether a dry run of this operation reads the current records. */
export function dryRunReads(handler: OperationHandler, op: Operation): boolean {
  return (op === 'update' || op === 'upsert') && typeof handler.preview === 'function';
}

/**
 * How a dry run processes batches. `context` is called only when the preview reads (so a dry
 * run of an insert needs no key and sends no request at all).
 */
export function dryRunPlan(handler: OperationHandler, op: Operation, batchSize: number | undefined, context: () => WriteContext): DryRunPlan {
  if (dryRunReads(handler, op)) {
    const preview = handler.preview!.bind(handler);
    return {
      reads: true,
      batchSize: effectiveBatchSize(batchSize, handler.maxBatchSize),
      concurrency: handler.concurrency ?? DEFAULT_HANDLER_CONCURRENCY,
      process: async (rows) => {
        const outcomes = await preview(rows, context());
        // A preview says created/updated/unchanged; ChangedColumns always has a cell.
        return outcomes.map((x) => (x.ok ? { ...x, extras: { ChangedColumns: '', ...x.extras } } : x));
      },
    };
  }
  return {
    reads: false,
    batchSize: DRY_RUN_CHUNK,
    concurrency: 1,
    process: async (rows) => rows.map((r) => ({ ok: true, rowNumber: r.rowNumber, status: VALID })),
  };
}
