/**
 * Small pieces shared by the ListMembers, ListSubscribe and PeopleExclusions handlers: batching
 * helpers, the JSON pointer of a refused bulk request to the entry it names, and outcome
 * bookkeeping that guarantees one outcome per row.
 */
import { setMaxListeners } from 'node:events';
import type { KlaviyoClient } from '../../klaviyo/client.js';
import type { KlaviyoErrorObject } from '../../klaviyo/errors.js';
import { fail } from './content-common.js';
import type { ImportRow, RowOutcome, RowStatus, WriteContext } from './types.js';

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function groupBy<T, K>(items: Iterable<T>, key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/**
 * The entry a JSON pointer names in a bulk body: the first array index after a `data` member
 * (`/data/3/id` in a relationship body, `/data/attributes/profiles/data/3/attributes/email` in a
 * job body).
 */
export function pointerIndex(pointer: string | undefined | null): number | undefined {
  if (!pointer) return undefined;
  const m = /\/data\/(\d+)(?:\/|$)/.exec(pointer);
  return m ? Number(m[1]) : undefined;
}

/** bulk-isolate's `locate` for bodies whose entries are `data[i]` or `attributes.profiles.data[i]`. */
export function locateByPointer<T>(error: KlaviyoErrorObject, items: readonly T[]): number[] {
  const i = pointerIndex(error.source?.pointer);
  return i !== undefined && i < items.length ? [i] : [];
}

/**
 * The context for one batch, with a signal of its own that follows the run's: a batch sends
 * dozens of look-ups at once, each listening for Ctrl-C on the signal it is given, which is
 * above Node's default of 10 listeners (a MaxListenersExceededWarning on stderr). Listening on
 * a child signal keeps that to one listener per batch on the run's signal.
 */
export function batchContext(ctx: WriteContext): WriteContext {
  const signal = AbortSignal.any([ctx.signal]);
  setMaxListeners(0, signal);
  return { ...ctx, signal };
}

export function success(row: ImportRow, status: RowStatus, id?: string): RowOutcome {
  return id === undefined ? { ok: true, rowNumber: row.rowNumber, status } : { ok: true, rowNumber: row.rowNumber, status, id };
}

/** One outcome per row, in order; a row nothing decided about fails (never silently dropped). */
export function finish(rows: readonly ImportRow[], outcomes: ReadonlyMap<number, RowOutcome>): RowOutcome[] {
  return rows.map(
    (r) => outcomes.get(r.rowNumber) ?? fail(r, 'unknown_outcome', 'klv could not tell what happened to this row (a bug in klv): check it in Klaviyo.'),
  );
}

export interface ListInfo {
  id: string;
  /** `double_opt_in`, `single_opt_in`, or undefined when Klaviyo did not say. */
  optInProcess?: string;
}

/** Each list is read once per client (one run): `opt_in_process` does not change mid-import. */
const listCache = new WeakMap<KlaviyoClient, Map<string, Promise<ListInfo>>>();

/** The list's id and opt-in process; throws KlaviyoApiError 404 when it does not exist. */
export function listInfo(ctx: WriteContext, listId: string): Promise<ListInfo> {
  let lists = listCache.get(ctx.client);
  if (!lists) listCache.set(ctx.client, (lists = new Map()));
  let info = lists.get(listId);
  if (!info) {
    info = ctx.client
      .request<{ data?: { attributes?: { opt_in_process?: string } } }>('get_list', {
        pathParams: { id: listId },
        query: { 'fields[list]': 'name,opt_in_process' },
        signal: ctx.signal,
      })
      .then((res) => ({ id: listId, optInProcess: res.body?.data?.attributes?.opt_in_process }));
    lists.set(listId, info);
    // A failed read is not remembered: the next batch asks again (a 404 will say so again).
    const forget = lists;
    info.catch(() => forget.delete(listId));
  }
  return info;
}
