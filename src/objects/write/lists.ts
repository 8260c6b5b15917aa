/**
 * Lists: insert (POST /api/lists), update (PATCH /api/lists/{id}), delete (DELETE /api/lists/{id}).
 * Klaviyo has no bulk endpoint for lists: one request per row.
 *
 * The daily cap. Klaviyo lets an account create 150 lists a day; the 151st POST gets a 429 whose
 * Retry-After reaches the next day. Waiting that out would hang the import for hours, and sending
 * the rest of the file would only collect more 429s. So list creation asks the client not to wait
 * out long holds (`maxRetryAfterMs`), the row that met the cap fails with `daily_limit` and the
 * time it lifts, and every later insert of the run fails at once with the same reason, unsent.
 */
import type { KlaviyoClient } from '../../klaviyo/client.js';
import { KlaviyoApiError } from '../../klaviyo/errors.js';
import { OPERATIONS } from '../../klaviyo/generated/api-metadata.js';
import { attributesOf, changedColumns, previewOutcome, type AttributeMapping } from './attribute-diff.js';
import { deleteByIdHandler, eachRow, fail, failureFrom, has, isoSeconds, klaviyoDetail, patchAttributes, text, withRowId } from './content-common.js';
import type { ImportRow, OperationHandler, RowFailure, RowOutcome, WriteContext, WriteHandlers } from './types.js';

const ATTRIBUTES: readonly AttributeMapping[] = [
  { column: 'Name', path: 'name' },
  { column: 'OptInProcess', path: 'opt_in_process' },
];

/** The spec's daily cap on POST /api/lists (150). */
export const LIST_DAILY_CAP = OPERATIONS.create_list.rateLimit.daily ?? 150;

/**
 * Longest 429 hold a list creation waits out. Klaviyo's per-minute window never asks for more than
 * 60 s; anything longer is the daily cap.
 */
export const LONG_HOLD_MS = 120_000;

interface DailyCap {
  /** When Klaviyo said creation resumes; undefined when it did not say. */
  until?: number;
  detail: string;
}

/** Per client, i.e. per run: a cap met in one import must not leak into the next one in the same process. */
const capsByClient = new WeakMap<KlaviyoClient, DailyCap>();

function capMessage(cap: DailyCap): string {
  const when = cap.until === undefined ? 'tomorrow' : `after ${isoSeconds(cap.until)}`;
  return `Klaviyo allows ${LIST_DAILY_CAP} new lists a day and this account has reached that; try again ${when}`;
}

function isDailyCap(err: unknown): err is KlaviyoApiError {
  if (!(err instanceof KlaviyoApiError) || err.status !== 429) return false;
  if (err.retryAfterMs !== undefined && err.retryAfterMs > LONG_HOLD_MS) return true;
  // No long Retry-After (retries used up), but Klaviyo's words say it is the daily window.
  return /\b(daily|per day|a day|24 hours)\b/i.test(`${err.detail ?? ''} ${err.title ?? ''}`);
}

function nameProblem(row: ImportRow, required: boolean): RowFailure | null {
  if (required && text(row, 'Name') === undefined) return fail(row, 'missing_value', 'Name is empty: Klaviyo needs a name to create a list.');
  if (!required && has(row, 'Name') && text(row, 'Name') === undefined) {
    return fail(row, 'invalid_value', "Name cannot be cleared: a list always has a name. Give a name, or no value to keep the current one.");
  }
  return null;
}

async function createList(row: ImportRow, ctx: WriteContext): Promise<RowOutcome> {
  const known = capsByClient.get(ctx.client);
  if (known) return fail(row, 'daily_limit', `${capMessage(known)}. Not sent: an earlier row of this import met the cap.`);
  const attributes = attributesOf(row, ATTRIBUTES);
  if (attributes.opt_in_process === null) delete attributes.opt_in_process; // null: the account default
  try {
    const res = await ctx.client.request<{ data: { id: string } }>('create_list', {
      body: { data: { type: 'list', attributes } },
      idempotent: false,
      signal: ctx.signal,
      maxRetryAfterMs: LONG_HOLD_MS,
    });
    return { ok: true, rowNumber: row.rowNumber, status: 'created', id: res.body?.data?.id };
  } catch (err) {
    if (isDailyCap(err)) {
      const cap: DailyCap = {
        // A short Retry-After (retries used up) says nothing about when the day's cap lifts.
        until: err.retryAfterMs !== undefined && err.retryAfterMs > LONG_HOLD_MS ? ctx.clock.now() + err.retryAfterMs : undefined,
        detail: klaviyoDetail(err),
      };
      if (!capsByClient.has(ctx.client)) capsByClient.set(ctx.client, cap);
      ctx.debug(`lists: daily creation cap met at row ${row.rowNumber}; later inserts are not sent`);
      return fail(row, 'daily_limit', `${capMessage(cap)} (Klaviyo: ${cap.detail})`);
    }
    return failureFrom(row, err, ctx);
  }
}

function updateList(row: ImportRow, ctx: WriteContext): Promise<RowOutcome> {
  return withRowId(row, ctx, 'list', async (id) => {
    const attributes = attributesOf(row, ATTRIBUTES);
    if (Object.keys(attributes).length === 0) return { ok: true, rowNumber: row.rowNumber, status: 'unchanged', id };
    return patchAttributes(row, ctx, 'update_list', 'list', id, attributes);
  });
}

function previewList(row: ImportRow, ctx: WriteContext): Promise<RowOutcome> {
  return withRowId(row, ctx, 'list', async (id) => {
    const res = await ctx.client.request<{ data: { attributes?: Record<string, unknown> } }>('get_list', {
      pathParams: { id },
      query: { 'fields[list]': 'name,opt_in_process' },
      signal: ctx.signal,
    });
    return previewOutcome(row, id, changedColumns(row, ATTRIBUTES, res.body.data.attributes ?? {}));
  });
}

const insert: OperationHandler = {
  operation: 'insert',
  calls: ['create_list'],
  description: `Creates one list per row (POST /api/lists). Klaviyo allows ${LIST_DAILY_CAP} new lists a day: once the cap is met, the remaining rows fail with daily_limit without being sent.`,
  requiredColumns: ['Name'],
  acceptedColumns: ['Name', 'OptInProcess'],
  maxBatchSize: 1,
  // 10/s, 150/m: two in flight keep up with the rate and send little past a daily cap.
  concurrency: 2,
  idempotent: false,
  validateRow: (row) => nameProblem(row, true),
  processBatch: (rows, ctx) => eachRow(rows, ctx, (row) => createList(row, ctx)),
};

const update: OperationHandler = {
  operation: 'update',
  calls: ['update_list', 'get_list'],
  description: 'Renames a list or changes its opt-in process, by Id (PATCH /api/lists/{id}).',
  requiredColumns: ['Id'],
  acceptedColumns: ['Id', 'Name', 'OptInProcess'],
  maxBatchSize: 1,
  concurrency: 4,
  idempotent: true,
  validateRow: (row) => nameProblem(row, false),
  processBatch: (rows, ctx) => eachRow(rows, ctx, (row) => updateList(row, ctx)),
  preview: (rows, ctx) => eachRow(rows, ctx, (row) => previewList(row, ctx)),
};

const remove = deleteByIdHandler('Deletes lists by Id (DELETE /api/lists/{id}); the profiles stay in the account.', 'list', 'delete_list');

export const listWrites: WriteHandlers = { insert, update, delete: remove };
