/**
 * Helpers shared by the write handlers: reading values out of an ImportRow, the requests by Id
 * (PATCH, DELETE) of the one-row-per-request objects (Lists, EmailTemplates, Campaigns), and
 * turning a Klaviyo error into the row's failure, the same way for every handler. Building
 * attributes by path and comparing them for --dry-run: attribute-diff.ts.
 *
 * Errors: a row fails with Klaviyo's own code and detail when Klaviyo refused THAT row (4xx
 * other than 401/403, a 5xx after retries, an unknown outcome). What is not about the row (a
 * refused key, the network gone after retries, Ctrl-C, a bug) is thrown, so that the pipeline
 * stops or records the batch as the contract says.
 */
import { InterruptedError } from '../../core/errors.js';
import { KlaviyoApiError, UnknownOutcomeError, type KlaviyoErrorObject } from '../../klaviyo/errors.js';
import type { OperationId } from '../../klaviyo/generated/api-metadata.js';
import type { ImportRow, OperationHandler, RowFailure, RowOutcome, WriteContext } from './types.js';

/** Whether the row gives the column at all (null counts: it means "clear"). */
export function has(row: ImportRow, column: string): boolean {
  return Object.prototype.hasOwnProperty.call(row.values, column) && row.values[column] !== undefined;
}

/** Whether the row gives a non-empty value for the column (not absent, not null, not ''). */
export function given(row: ImportRow, column: string): boolean {
  const v = row.values[column];
  return v !== undefined && v !== null && v !== '';
}

/** The row's value as a trimmed string, or undefined when absent, null or empty. */
export function text(row: ImportRow, column: string): string | undefined {
  if (!given(row, column)) return undefined;
  const v = row.values[column];
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s.trim() === '' ? undefined : s;
}

export function fail(row: ImportRow, code: string, message: string): RowFailure {
  return { ok: false, rowNumber: row.rowNumber, code, message };
}

/** The Id of an update or delete row, or the failure that says it is missing. */
export function idOrFailure(row: ImportRow, what: string): string | RowFailure {
  const id = text(row, 'Id');
  return id ?? fail(row, 'missing_value', `Id is empty: an ${what} is updated or deleted by its Klaviyo id (export them with klv export to get the ids).`);
}

function describeErrorObject(e: KlaviyoErrorObject): string {
  const text = e.detail ?? e.title ?? 'error';
  const at = e.source?.pointer ?? e.source?.parameter;
  return at ? `${text} (${at})` : text;
}

/**
 * Klaviyo's detail(s) for a row's error message: every error object, pointer included, and the
 * profile a `duplicate_profile` refusal names.
 */
export function klaviyoDetail(err: KlaviyoApiError): string {
  if (err.errors.length === 0) return `${err.method} ${err.path} answered ${err.status}`;
  const duplicate = err.errors[0].meta?.duplicate_profile_id;
  return `${err.errors.map(describeErrorObject).join('; ')}${typeof duplicate === 'string' ? ` (existing profile ${duplicate})` : ''}`;
}

/** Klaviyo's code for the row's ErrorCode column; `http_<status>` when Klaviyo gave none. */
export function klaviyoCode(err: KlaviyoApiError): string {
  return err.code ?? `http_${err.status}`;
}

/**
 * Not about the row: the pipeline must see it (a refused key stops the run; Ctrl-C too). Every
 * other answer Klaviyo gave is the row's: a 429 still there after the client's retries too
 * (Klaviyo did not process the request: the row fails with Klaviyo's code and can be sent again;
 * the rows of the batch that were written keep their outcome). A 429 asking for a longer wait
 * than klv allows is no KlaviyoApiError but a KlaviyoResponseError: it stops the run, as do
 * Klaviyo unreachable after retries (KlaviyoNetworkError) and bugs.
 */
export function isRunFailure(err: unknown, ctx: Pick<WriteContext, 'signal'>): boolean {
  if (ctx.signal.aborted || err instanceof InterruptedError) return true;
  if (err instanceof KlaviyoApiError) return err.status === 401 || err.status === 403;
  if (err instanceof UnknownOutcomeError) return false;
  return true;
}

/**
 * The row's failure for an error a request threw, or a rethrow when the error is not about the
 * row. `context` prefixes the message when the row already changed something in Klaviyo (a
 * campaign created before its template assignment failed).
 */
export function failureFrom(row: ImportRow, err: unknown, ctx: Pick<WriteContext, 'signal'>, context?: string): RowFailure {
  if (isRunFailure(err, ctx)) throw err;
  const prefix = context ? `${context}: ` : '';
  if (err instanceof UnknownOutcomeError) {
    return fail(row, 'unknown_outcome', `${prefix}${err.message}. Check in Klaviyo whether it was applied before importing this row again.`);
  }
  const e = err as KlaviyoApiError;
  return fail(row, klaviyoCode(e), `${prefix}${klaviyoDetail(e)}`);
}

/**
 * Runs `fn` with the Id of an update or delete row: the row fails unsent when it has none, and an
 * error `fn` throws becomes the row's failure (or is rethrown when it is not about the row, as
 * failureFrom says).
 */
export async function withRowId(row: ImportRow, ctx: Pick<WriteContext, 'signal'>, what: string, fn: (id: string) => Promise<RowOutcome>): Promise<RowOutcome> {
  const id = idOrFailure(row, what);
  if (typeof id !== 'string') return id;
  try {
    return await fn(id);
  } catch (err) {
    return failureFrom(row, err, ctx);
  }
}

/** PATCHes `attributes` onto the object `id` of JSON:API `type` with `operation`: the row is `updated`. */
export async function patchAttributes(
  row: ImportRow,
  ctx: WriteContext,
  operation: OperationId,
  type: string,
  id: string,
  attributes: Record<string, unknown>,
): Promise<RowOutcome> {
  await ctx.client.request(operation, {
    pathParams: { id },
    body: { data: { type, id, attributes } },
    idempotent: true,
    signal: ctx.signal,
  });
  return { ok: true, rowNumber: row.rowNumber, status: 'updated', id };
}

/** Deletes the row's object by its Id with `operation` (one DELETE): `deleted`, or the row's failure. */
export function deleteById(row: ImportRow, ctx: WriteContext, what: string, operation: OperationId): Promise<RowOutcome> {
  return withRowId(row, ctx, what, async (id) => {
    await ctx.client.request(operation, { pathParams: { id }, idempotent: true, signal: ctx.signal });
    return { ok: true, rowNumber: row.rowNumber, status: 'deleted', id };
  });
}

/** The delete handler of a one-row-per-request object: one DELETE by Id per row, four in flight. */
export function deleteByIdHandler(description: string, what: string, operation: OperationId): OperationHandler {
  return {
    operation: 'delete',
    description,
    calls: [operation],
    requiredColumns: ['Id'],
    maxBatchSize: 1,
    concurrency: 4,
    idempotent: true,
    processBatch: (rows, ctx) => eachRow(rows, ctx, (row) => deleteById(row, ctx, what, operation)),
  };
}

/**
 * Runs `fn` over the rows one after the other: one outcome per row, in order. A failure that is
 * not about a row (Ctrl-C, a refused key) is thrown as the contract says when no row of the batch
 * was written yet; after some were, their outcomes are kept (they did happen) and the rows not
 * sent fail with `not_sent` and the reason, so that no written row is logged as failed.
 */
export async function eachRow(rows: readonly ImportRow[], ctx: WriteContext, fn: (row: ImportRow) => Promise<RowOutcome>): Promise<RowOutcome[]> {
  const out: RowOutcome[] = [];
  for (const row of rows) {
    if (ctx.signal.aborted) {
      if (out.length === 0) throw new InterruptedError();
      for (const rest of rows.slice(out.length)) out.push(fail(rest, 'not_sent', 'Not sent: interrupted'));
      return out;
    }
    try {
      out.push(await fn(row));
    } catch (err) {
      if (out.length === 0) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      const current = rows[out.length];
      // The row in hand may have reached Klaviyo before the interruption; a refused request did not.
      out.push(
        err instanceof KlaviyoApiError
          ? fail(current, klaviyoCode(err), klaviyoDetail(err))
          : fail(current, 'unknown_outcome', `Interrupted while it was being written (${reason}): check in Klaviyo whether it was applied.`),
      );
      for (const rest of rows.slice(out.length)) out.push(fail(rest, 'not_sent', `Not sent: ${reason}`));
      return out;
    }
  }
  return out;
}

/** ISO 8601 UTC to the second, for messages. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
