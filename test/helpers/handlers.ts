/**
 * Running klv's import handlers the way the pipeline does, for the handler tests: validateRow
 * first, then the valid rows in batches of the handler's maxBatchSize; outcomes by row.
 */
import type { ImportRow, OperationHandler, RowOutcome, WriteContext } from '../../src/objects/write/types.js';

export const row = (rowNumber: number, values: Record<string, unknown>): ImportRow => ({ rowNumber, values });

/** The outcomes of `rows`, by row number; a batch answering for another number of rows fails the test. */
export async function runHandler(h: OperationHandler, rows: ImportRow[], ctx: WriteContext, batchSize = h.maxBatchSize): Promise<RowOutcome[]> {
  const out: RowOutcome[] = [];
  const valid: ImportRow[] = [];
  for (const r of rows) {
    const invalid = h.validateRow?.(r, ctx.options);
    if (invalid) out.push(invalid);
    else valid.push(r);
  }
  for (let i = 0; i < valid.length; i += batchSize) {
    const batch = valid.slice(i, i + batchSize);
    const outcomes = await h.processBatch(batch, ctx);
    if (outcomes.length !== batch.length) throw new Error(`processBatch gave ${outcomes.length} outcomes for ${batch.length} rows`);
    out.push(...outcomes);
  }
  return out.sort((a, b) => a.rowNumber - b.rowNumber);
}

/** `{row: status or failed:code}`, for compact assertions. */
export function summary(outcomes: RowOutcome[]): Record<number, string> {
  return Object.fromEntries(outcomes.map((o) => [o.rowNumber, o.ok ? o.status : `failed:${o.code}`]));
}
