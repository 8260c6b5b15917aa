/**
 * Partitioned reads: reaching Klaviyo's rate limit on large collections.
 *
 * Cursor paging is sequential: each page's cursor comes with the previous page. With a real
 * round trip (~150 ms) one cursor reads ~7 pages a second, while GET /api/profiles allows 75 a
 * second. So a large read is cut into time slices on a sortable, filterable datetime column
 * (Profiles: `created`), each slice paged on its own cursor, several at once, all under the
 * client's rate governor (which paces the shared bucket).
 *
 * How a read goes:
 * 1. The first page sorted by the column ascending: when it is the only page, that is the whole
 *    read (one request). Otherwise the first page sorted descending (at once, for collections
 *    that are usually large). Both are data (their rows are exported), and they bound the slices.
 * 2. The range between the two pages is cut into slices on whole seconds: four per page the end
 *    pages' density predicts, at least four, at most `parallelism`.
 * 3. Each slice is read with `sort=<column>` and an API filter that is a SUPERSET of the slice
 *    (greater-than(start − 1 s), less-than(end + 1 s): Klaviyo filters `created` with > and <
 *    only, and may compare whole seconds); each row is then kept by exactly one slice, by its
 *    exact timestamp (start ≤ t < end). No row is lost or duplicated, and no id sets are kept,
 *    so memory stays flat.
 * 4. When a cursor falls idle and a busy slice still has pages ahead (estimated from its own
 *    density), the busy slice's remaining range is split: the busy reader's end is lowered to
 *    the first cut, and new readers take the rest. The busy reader walks in sorted order, so it
 *    stops when it passes its new end. Uneven data (a bulk import on one day) is handled this way.
 *    A single second is never split: thousands of rows created in the same second are read by
 *    one cursor (Klaviyo's filter offers nothing finer on this column).
 *
 * Rows come out in no particular order. `--limit` stops everything early, an abort (Ctrl-C)
 * aborts every cursor, and an error in one cursor aborts the others and surfaces.
 *
 * Reads that are small anyway are not partitioned: an equality the API answers (`Email = ...`,
 * `Id in (...)`) stays one request, as does a small `--limit`.
 */
import { setMaxListeners } from 'node:events';
import { epochMsFloor, hasSubMillisecond, instantOf, parseInstant } from '../../core/timestamps.js';
import type { KlaviyoClient } from '../../klaviyo/client.js';
import { filter as f, formatFilter, type FilterCondition } from '../../klaviyo/filter-builder.js';
import { OPERATIONS, type OperationId } from '../../klaviyo/generated/api-metadata.js';
import { joinIncluded, resourcesOf, type JsonApiResource } from '../../klaviyo/json-api.js';
import { findColumn } from '../columns.js';
import type { ColumnDef, Condition, ObjectDefinition, PlannedRequest, ReadPlan, ReadRequest, Row } from '../types.js';
import { columnMap, columnsNeeded, project, readQuery, type CollectionSource } from './collection-reader.js';
import { filterParam, pushdown } from './pushdown.js';
import { pageSizeOf, plannedRequest } from './query.js';
import { columnValue, matchesAll, rowFrom } from './values.js';

/** How an object's collection can be cut into time slices. */
export interface PartitionSpec {
  /** The datetime column rows are assigned by (`Created`). */
  column: string;
  /** Its filter field; the list endpoint must allow greater-than and less-than on it (`created`). */
  field: string;
  /** Its sort key (`created`); `-<sort>` must be allowed too. */
  sort: string;
  /**
   * Columns whose `=` or `in`, answered by the API, leaves a handful of rows, so the read stays
   * on one cursor (Profiles: Email, Id). Default: every such equality. Events would name
   * ProfileId but not MetricId, whose events can be millions.
   */
  narrowing?: readonly string[];
  /**
   * The collection is usually large (every profile of the account): when no condition narrows
   * the read, ask for both end pages at once, one round trip sooner, at the cost of a wasted
   * request when the first page turns out to be everything.
   */
  usuallyLarge?: boolean;
}

/**
 * Cursors read at once. At 150 ms a round trip, Klaviyo's 75/s burst (the governor aims at 67/s)
 * needs ~10 requests in flight; 16 leaves room for slower answers and for the tail of the read.
 */
export const DEFAULT_PARALLELISM = 16;
/**
 * Requests in flight a partitioned read wants from the client: pass it to
 * `CommandContext.client({ concurrency })`. The profile's own `concurrency`, when the user set
 * it, still wins.
 */
export const PARTITIONED_READ_CONCURRENCY = DEFAULT_PARALLELISM;
/** No slice narrower than this: the ±1 s filter margins would make neighbours overlap entirely. */
export const MIN_SLICE_MS = 2_000;
const SECOND = 1_000;

/** [lo, hi) in epoch milliseconds; ±Infinity for an open side. */
export interface TimeRange {
  lo: number;
  hi: number;
}

export const floorSecond = (ms: number): number => Math.floor(ms / SECOND) * SECOND;
export const ceilSecond = (ms: number): number => Math.ceil(ms / SECOND) * SECOND;

/**
 * The range the conditions on the partition column allow (from --where and --since), in the
 * milliseconds rows are placed by (timeOf). A bound with microseconds (`> ...45.276362`) keeps the
 * whole millisecond it falls in: rows of that millisecond are read, and the condition, checked on
 * each row to the last digit, decides (values.ts).
 */
export function conditionRange(conditions: readonly Condition[], column: string): TimeRange {
  const range: TimeRange = { lo: -Infinity, hi: Infinity };
  for (const c of conditions) {
    if (c.column !== column || typeof c.value !== 'string') continue;
    const instant = parseInstant(c.value, { dateAsMidnight: true });
    if (!instant) continue;
    const v = epochMsFloor(instant);
    const within = hasSubMillisecond(instant);
    if (c.op === '>' || c.op === '>=' || c.op === '=') range.lo = Math.max(range.lo, c.op === '>' && !within ? v + 1 : v);
    if (c.op === '<' || c.op === '<=' || c.op === '=') range.hi = Math.min(range.hi, c.op === '<' && !within ? v : v + 1);
  }
  return range;
}

/**
 * The API filter of a slice: a superset by a whole second on each side, so that it holds
 * whether Klaviyo compares milliseconds, truncated seconds or rounded seconds.
 */
export function sliceFilters(field: string, r: TimeRange): FilterCondition[] {
  const out: FilterCondition[] = [];
  if (Number.isFinite(r.lo)) out.push(f.greaterThan(field, new Date(floorSecond(r.lo) - SECOND)));
  if (Number.isFinite(r.hi)) out.push(f.lessThan(field, new Date(ceilSecond(r.hi) + SECOND)));
  return out;
}

/**
 * Where a row read in ascending order stands relative to a slice: `inside` rows belong to it;
 * `before` rows belong to the previous slice (the filter's margin lets them in) and are skipped;
 * `past` means every row of the slice has been seen. Slice ends are whole seconds, so this holds
 * whether Klaviyo sorts by milliseconds or by truncated seconds: every row before the end sorts
 * before every row at or after it. (An end inside a second only stops a second later; rows in
 * between are `after`: not this slice's, skipped.) A row without a valid time belongs to the
 * slice open at the start.
 */
export function placeInSlice(t: number, r: TimeRange): 'before' | 'inside' | 'after' | 'past' {
  if (Number.isNaN(t)) return r.lo === -Infinity ? 'inside' : 'before';
  if (t < r.lo) return 'before';
  if (t < r.hi) return 'inside';
  return t < ceilSecond(r.hi) ? 'after' : 'past';
}

/**
 * Cuts [lo, hi) into at most `count` slices with edges on whole seconds, none narrower than
 * `minWidth` (so fewer slices for a narrow range). The slices tile the range exactly.
 */
export function sliceRange(r: TimeRange, count: number, minWidth = MIN_SLICE_MS): TimeRange[] {
  if (!Number.isFinite(r.lo) || !Number.isFinite(r.hi)) return r.hi > r.lo ? [{ ...r }] : [];
  const width = r.hi - r.lo;
  if (width <= 0) return [];
  const n = Math.max(1, Math.min(Math.floor(count), Math.floor(width / minWidth)));
  const edges = [r.lo];
  for (let i = 1; i < n; i++) {
    const edge = floorSecond(r.lo + (width * i) / n);
    if (edge > edges[edges.length - 1] && edge < r.hi) edges.push(edge);
  }
  edges.push(r.hi);
  return edges.slice(0, -1).map((lo, i) => ({ lo, hi: edges[i + 1] }));
}

/** The page sorted ascending and the page sorted descending: the two ends of the collection. */
export interface EndPages {
  /** Row times of the ascending page, in page order. */
  first: readonly number[];
  /** Row times of the descending page, in page order (newest first). */
  last: readonly number[];
}

/**
 * What the two end pages settle, as three ranges tiling the time line: `head` (rows of the
 * ascending page, all of them there), `middle` (to be sliced) and `tail` (rows of the descending
 * page). Boundaries are on whole seconds, because the last second of a page may continue on the
 * next page when Klaviyo sorts by whole seconds. Null when the pages hold no usable time (then
 * one cursor reads everything).
 */
export function endRanges(pages: EndPages): { head: TimeRange; middle: TimeRange; tail: TimeRange } | null {
  const lastAsc = pages.first[pages.first.length - 1];
  const lastDesc = pages.last[pages.last.length - 1];
  if (!Number.isFinite(lastAsc) || !Number.isFinite(lastDesc)) return null;
  const a = floorSecond(lastAsc);
  const d = Math.max(a, floorSecond(lastDesc) + SECOND);
  return { head: { lo: -Infinity, hi: a }, middle: { lo: a, hi: d }, tail: { lo: d, hi: Infinity } };
}

/**
 * How many slices to start with: four per page the end pages' density predicts for the middle,
 * at least four, at most `parallelism`. The end pages are a poor guide to skewed data (a bulk
 * import on one day), so the count errs high: a slice that meets a dense stretch is split once
 * it has read a page, and an empty slice costs one request.
 */
export function initialSliceCount(o: { pages: EndPages; middle: TimeRange; pageSize: number; parallelism: number }): number {
  const spanOf = (times: readonly number[]) => {
    const finite = times.filter(Number.isFinite);
    return finite.length < 2 ? 0 : Math.abs(finite[finite.length - 1] - finite[0]);
  };
  const rows = o.pages.first.length + o.pages.last.length;
  const span = Math.max(SECOND, spanOf(o.pages.first) + spanOf(o.pages.last));
  const estimatedRows = (rows / span) * Math.max(0, o.middle.hi - o.middle.lo);
  const pages = Math.ceil(estimatedRows / o.pageSize);
  return Math.max(1, Math.min(o.parallelism, Math.max(4, 4 * pages)));
}

const quarter = (pageSize: number) => Math.max(1, Math.floor(pageSize / 4));

/** A slice being read: its range (the end may be lowered by a split) and how far it got. */
export interface SliceProgress extends TimeRange {
  /** The latest row time the slice has seen; null before its first row. */
  maxSeen: number | null;
  /** Rows of the slice seen so far. */
  rows: number;
  /**
   * Time spanned by its latest quarter page of rows, when it has read that many: the local
   * density, which says more than the average when the slice runs into a dense stretch.
   */
  recentSpan?: number | null;
}

/**
 * Which busy slice to split for `idle` free cursors, and where: the one with the most rows
 * estimated ahead (its density, once it has read a page: the average or the recent one,
 * whichever is higher, times the range it has left), if that is at least two pages. Its unread range [a second past maxSeen, hi) is cut into up to idle + 1 pieces on whole
 * seconds; the slice keeps [lo, cuts[0]) and each cut starts a new slice. Cuts are past anything
 * the slice has seen, so no row it has already kept can fall in a new slice.
 */
export function planSplit(
  slices: readonly SliceProgress[],
  idle: number,
  pageSize: number,
  minWidth = MIN_SLICE_MS,
): { index: number; cuts: number[] } | null {
  if (idle < 1) return null;
  let best: { index: number; from: number; remaining: number } | null = null;
  slices.forEach((s, index) => {
    // Before a full page the density says little (one row over a second looks dense).
    if (s.maxSeen === null || s.rows < pageSize || !Number.isFinite(s.lo) || !Number.isFinite(s.hi)) return;
    const from = floorSecond(s.maxSeen) + SECOND;
    if (s.hi - from < minWidth) return;
    const average = s.rows / Math.max(SECOND, s.maxSeen - s.lo);
    const recent = s.recentSpan == null ? 0 : quarter(pageSize) / Math.max(SECOND, s.recentSpan);
    const density = Math.max(average, recent);
    const remaining = density * (s.hi - s.maxSeen);
    if (remaining < 2 * pageSize) return;
    if (!best || remaining > best.remaining) best = { index, from, remaining };
  });
  if (!best) return null;
  const { index, from, remaining } = best as { index: number; from: number; remaining: number };
  const rest = slices[index].hi - from;
  const pieces = Math.max(2, Math.min(idle + 1, Math.floor(rest / (minWidth / 2)), Math.floor(remaining / pageSize)));
  const cuts: number[] = [];
  for (let i = 1; i < pieces; i++) {
    const cut = floorSecond(from + (rest * i) / pieces);
    if (cut >= from && cut < slices[index].hi && (cuts.length === 0 || cut > cuts[cuts.length - 1])) cuts.push(cut);
  }
  return cuts.length > 0 ? { index, cuts } : null;
}

/**
 * A bounded queue from several producers to one consumer: producers await `push` when it is
 * full (backpressure keeps memory flat whatever the consumer's pace), the consumer drains it.
 */
export class RowQueue<T> {
  readonly capacity: number;
  #items: (T | undefined)[] = [];
  #head = 0;
  #reader?: () => void;
  #writers: Array<() => void> = [];
  #closed = false;
  #failure?: { error: unknown };

  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Adds an item; returns a promise to await before pushing more when the queue is full. */
  push(item: T): Promise<void> | undefined {
    if (this.#closed) return undefined;
    this.#items.push(item);
    this.#wakeReader();
    if (this.size < this.capacity) return undefined;
    return new Promise((resolve) => this.#writers.push(resolve));
  }

  /** No more items: the consumer ends after draining. Also releases waiting producers. */
  close(): void {
    this.#closed = true;
    this.#releaseWriters();
    this.#wakeReader();
  }

  /** The consumer throws `error` at its next step (the first failure wins). */
  fail(error: unknown): void {
    this.#failure ??= { error };
    this.close();
  }

  async *drain(): AsyncGenerator<T> {
    for (;;) {
      if (this.#failure) throw this.#failure.error;
      if (this.#head < this.#items.length) {
        const item = this.#items[this.#head] as T;
        this.#items[this.#head] = undefined;
        this.#head += 1;
        if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
          this.#items = this.#items.slice(this.#head);
          this.#head = 0;
        }
        // Producers resume once half the room is free, not one row at a time.
        if (this.#writers.length > 0 && this.size <= this.capacity / 2) this.#releaseWriters();
        yield item;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => (this.#reader = resolve));
    }
  }

  #wakeReader(): void {
    const wake = this.#reader;
    this.#reader = undefined;
    wake?.();
  }

  #releaseWriters(): void {
    const writers = this.#writers;
    this.#writers = [];
    for (const w of writers) w();
  }
}

// --- planning -------------------------------------------------------------------------------

interface PartitionContext {
  list: OperationId;
  pathParams?: Record<string, string>;
  spec: PartitionSpec;
  partitionColumn: ColumnDef;
  /** Query without filter, sort or page size: fields, additional fields, fixed parameters. */
  baseQuery: Record<string, string>;
  /** API filters every request carries (fixed ones and pushed-down conditions). */
  filters: FilterCondition[];
  /** The user's range on the partition column, sent as a superset filter on the end pages. */
  range: TimeRange;
  needed: ColumnDef[];
  output: ColumnDef[];
  local: Condition[];
  byName: ReadonlyMap<string, ColumnDef>;
  parallelism: number;
  pageSize: number;
  limit?: number;
  /** Ask for both end pages at once (see PartitionSpec.usuallyLarge). */
  bothEndsAtOnce: boolean;
}

function allowsPartition(list: OperationId, spec: PartitionSpec): boolean {
  const meta = OPERATIONS[list];
  const ops = meta.filters[spec.field]?.operators ?? [];
  return meta.paginated && ops.includes('greater-than') && ops.includes('less-than') && meta.sort.includes(spec.sort);
}

/**
 * A partitioned plan for a collection read, or undefined when the read should stay on one cursor
 * (small by its conditions or --limit, one cursor asked for, or an endpoint that cannot).
 * `conditions` are the request's conditions with --since already added.
 */
export function planPartitionedRead(
  def: ObjectDefinition,
  source: CollectionSource & { partition: PartitionSpec },
  request: ReadRequest,
  conditions: readonly Condition[],
): ReadPlan | undefined {
  const spec = source.partition;
  const parallelism = Math.floor(request.options.parallelism ?? DEFAULT_PARALLELISM);
  const pageSize = pageSizeOf(source.list);
  const partitionColumn = findColumn(def, spec.column);
  if (!partitionColumn || parallelism < 2 || !pageSize || !allowsPartition(source.list, spec)) return undefined;
  if (source.baseFilters?.some((c) => c.field === spec.field)) return undefined;
  if (request.limit !== undefined && request.limit <= pageSize * parallelism) return undefined;

  const byName = columnMap(def, request.columns);
  // Conditions on the partition column become slice bounds (kept locally for exactness); the
  // others are pushed down as usual and go with every request.
  const onColumn = conditions.filter((c) => c.column === spec.column);
  const { filters, local, pushed } = pushdown(
    source.list,
    conditions.filter((c) => c.column !== spec.column),
    byName,
  );
  // An equality Klaviyo answers (Email = ..., Id in (...)) leaves a handful of rows: one request.
  const narrows = (c: Condition) => (c.op === '=' || c.op === 'in') && (!spec.narrowing || spec.narrowing.includes(c.column));
  if (pushed.some(narrows)) return undefined;

  const allLocal = [...local, ...onColumn];
  const needed = columnsNeeded(def, request.columns, allLocal);
  if (!needed.some((c) => c.name === partitionColumn.name)) needed.push(partitionColumn);
  const baseQuery = readQuery(source.list, { ...source, sort: undefined }, needed, undefined);
  const ctx: PartitionContext = {
    list: source.list,
    pathParams: source.pathParams,
    spec,
    partitionColumn,
    baseQuery,
    filters: [...(source.baseFilters ?? []), ...filters],
    range: conditionRange(onColumn, spec.column),
    needed,
    output: request.columns,
    local: allLocal,
    byName,
    parallelism,
    pageSize,
    limit: request.limit,
    bothEndsAtOnce: Boolean(spec.usuallyLarge) && filters.length === 0 && onColumn.length === 0,
  };
  const notes = [
    `${def.name} are read in time slices of ${spec.column}, up to ${parallelism} cursors at once, to reach Klaviyo's rate limit: rows come out in no particular order.`,
  ];
  if (def.incremental && !def.incremental.serverSide && request.since) {
    notes.push(`Klaviyo cannot filter ${def.name} by ${def.incremental.column}: klv reads them all and keeps the newer ones.`);
  }
  return {
    requests: explainRequests(ctx, source, def),
    localConditions: allLocal,
    notes,
    execute: (client, signal) => executePartitioned(ctx, client, signal),
  };
}

function endQuery(ctx: PartitionContext, descending: boolean): Record<string, string> {
  const query: Record<string, string> = { ...ctx.baseQuery, sort: descending ? `-${ctx.spec.sort}` : ctx.spec.sort };
  const filter = filterParam(ctx.list, [...ctx.filters, ...sliceFilters(ctx.spec.field, ctx.range)]);
  if (filter) query.filter = filter;
  return query;
}

function sliceQuery(ctx: PartitionContext, slice: TimeRange): Record<string, string> {
  const query: Record<string, string> = { ...ctx.baseQuery, sort: ctx.spec.sort };
  const filter = filterParam(ctx.list, [...ctx.filters, ...sliceFilters(ctx.spec.field, slice)]);
  if (filter) query.filter = filter;
  return query;
}

function explainRequests(ctx: PartitionContext, source: CollectionSource, def: ObjectDefinition): PlannedRequest[] {
  const opts = { pathParams: source.pathParams };
  const fields = OPERATIONS[ctx.list].filters;
  const parts = ctx.filters.map((c) => formatFilter(c, fields));
  parts.push(`greater-than(${ctx.spec.field},<slice start − 1 s>)`, `less-than(${ctx.spec.field},<slice end + 1 s>)`);
  const sliceExample: Record<string, string> = { ...ctx.baseQuery, filter: `and(${parts.join(',')})`, sort: ctx.spec.sort };
  return [
    plannedRequest(ctx.list, endQuery(ctx, false), `the first page by ${ctx.spec.column}: its rows, and where the slices start`, opts),
    plannedRequest(ctx.list, endQuery(ctx, true), `the last page by ${ctx.spec.column} (sorted descending): its rows, and where the slices end`, opts),
    plannedRequest(
      ctx.list,
      sliceExample,
      `the ${def.name} in between, one cursor per time slice of ${ctx.spec.column}, up to ${ctx.parallelism} at once; a busy slice is split when a cursor falls idle`,
      { ...opts, repeat: null },
    ),
  ];
}

// --- execution ------------------------------------------------------------------------------

interface Page {
  resources: JsonApiResource[];
  hasMore: boolean;
}

async function fetchPage(client: KlaviyoClient, ctx: PartitionContext, descending: boolean, signal: AbortSignal): Promise<Page> {
  const res = await client.request<{ data?: unknown; included?: JsonApiResource[]; links?: { next?: string | null } }>(ctx.list, {
    pathParams: ctx.pathParams,
    query: { ...endQuery(ctx, descending), ...(OPERATIONS[ctx.list].pageSize?.max ? { 'page[size]': String(ctx.pageSize) } : {}) },
    signal,
  });
  return { resources: joinIncluded(resourcesOf(res.body), res.body?.included), hasMore: Boolean(res.body?.links?.next) };
}

/**
 * A row's place on the time line, in milliseconds (rounded down: slices are whole seconds, so
 * microseconds never move a row across an edge). Zoneless text (`2024-05-13 08:01:45`) is UTC,
 * not the machine's zone as Date.parse would read it. The row itself keeps its text.
 */
function timeOf(ctx: PartitionContext, resource: JsonApiResource): number {
  const instant = instantOf(columnValue(resource, ctx.partitionColumn));
  return instant ? epochMsFloor(instant) : NaN;
}

/** The output row of a resource, or undefined when a local condition rejects it. */
function outputRow(ctx: PartitionContext, resource: JsonApiResource): Row | undefined {
  const row = rowFrom(resource, ctx.needed);
  if (ctx.local.length > 0 && !matchesAll(row, ctx.local, ctx.byName)) return undefined;
  return project(row, ctx.output);
}

async function* executePartitioned(ctx: PartitionContext, client: KlaviyoClient, outer?: AbortSignal): AsyncGenerator<Row> {
  if (ctx.limit !== undefined && ctx.limit <= 0) return;
  const stop = new AbortController();
  const signal = outer ? AbortSignal.any([outer, stop.signal]) : stop.signal;
  // Every cursor's request listens to it (undici adds one listener per request in flight).
  setMaxListeners(ctx.parallelism * 4 + 16, signal);
  const queue = new RowQueue<Row>(ctx.pageSize * 4);
  let scheduler: SliceScheduler | undefined;
  let count = 0;
  const full = () => ctx.limit !== undefined && ++count >= ctx.limit;
  try {
    // The descending page only once the first shows there is more than one page: a small read (a
    // list of a few members, a recent --since) stays one request, for one round trip more on
    // large reads. Unless the read is usually large: then both at once.
    const early = ctx.bothEndsAtOnce ? fetchPage(client, ctx, true, signal) : undefined;
    early?.catch(() => undefined); // awaited below, or abandoned when the first page is everything
    const first = await fetchPage(client, ctx, false, signal);
    if (!first.hasMore) {
      for (const resource of first.resources) {
        const row = outputRow(ctx, resource);
        if (!row) continue;
        yield row;
        if (full()) return;
      }
      return;
    }
    const last = await (early ?? fetchPage(client, ctx, true, signal));
    const pages: EndPages = { first: first.resources.map((r) => timeOf(ctx, r)), last: last.resources.map((r) => timeOf(ctx, r)) };
    const ranges = endRanges(pages);
    const slices = ranges
      ? sliceRange(ranges.middle, initialSliceCount({ pages, middle: ranges.middle, pageSize: ctx.pageSize, parallelism: ctx.parallelism }))
      : [{ lo: -Infinity, hi: Infinity }];
    scheduler = new SliceScheduler(ctx, client, signal, queue, (error) => {
      queue.fail(error);
      stop.abort();
    });
    scheduler.start(slices);
    if (ranges) {
      const ends: Array<[JsonApiResource[], TimeRange]> = [
        [first.resources, ranges.head],
        [last.resources, ranges.tail],
      ];
      for (const [resources, range] of ends) {
        for (const resource of resources) {
          if (placeInSlice(timeOf(ctx, resource), range) !== 'inside') continue;
          const row = outputRow(ctx, resource);
          if (!row) continue;
          yield row;
          if (full()) return;
        }
      }
    }
    for await (const row of queue.drain()) {
      yield row;
      if (full()) return;
    }
  } finally {
    // Early stop (--limit, the consumer gave up), failure or abort: stop every cursor and wait
    // for them, so that nothing is left running once the read has ended.
    scheduler?.stopping();
    stop.abort();
    queue.close();
    await scheduler?.settled();
  }
}

interface RunningSlice extends SliceProgress {
  /** Time of the first row of the current quarter page (for recentSpan). */
  windowStart: number | null;
}

/** Runs slice readers, at most `parallelism` at once, and splits busy slices for idle cursors. */
class SliceScheduler {
  readonly #ctx: PartitionContext;
  readonly #client: KlaviyoClient;
  readonly #signal: AbortSignal;
  readonly #queue: RowQueue<Row>;
  readonly #onError: (error: unknown) => void;
  readonly #active: RunningSlice[] = [];
  readonly #pending: TimeRange[] = [];
  readonly #tasks: Promise<void>[] = [];
  #stopping = false;
  #failed = false;

  constructor(ctx: PartitionContext, client: KlaviyoClient, signal: AbortSignal, queue: RowQueue<Row>, onError: (error: unknown) => void) {
    this.#ctx = ctx;
    this.#client = client;
    this.#signal = signal;
    this.#queue = queue;
    this.#onError = onError;
  }

  start(slices: TimeRange[]): void {
    this.#pending.push(...slices);
    this.#fill();
    if (this.#active.length === 0) this.#queue.close();
  }

  /** The consumer stopped: failures from here on are the abort's echo, not errors. */
  stopping(): void {
    this.#stopping = true;
  }

  async settled(): Promise<void> {
    // Tasks may be added while earlier ones settle (a split); wait until none is left running.
    let seen = 0;
    while (seen < this.#tasks.length) {
      const batch = this.#tasks.slice(seen);
      seen += batch.length;
      await Promise.allSettled(batch);
    }
  }

  #fill(): void {
    const p = this.#ctx.parallelism;
    while (!this.#failed && !this.#stopping && !this.#signal.aborted && this.#active.length < p) {
      const next = this.#pending.shift();
      if (next) {
        this.#launch(next);
        continue;
      }
      const split = planSplit(this.#active, p - this.#active.length, this.#ctx.pageSize);
      if (!split) return;
      const victim = this.#active[split.index];
      const end = victim.hi;
      victim.hi = split.cuts[0];
      split.cuts.forEach((cut, i) => this.#pending.push({ lo: cut, hi: split.cuts[i + 1] ?? end }));
    }
  }

  #launch(range: TimeRange): void {
    const slice: RunningSlice = { ...range, maxSeen: null, rows: 0, recentSpan: null, windowStart: null };
    this.#active.push(slice);
    const task = this.#read(slice).then(
      () => {
        this.#finish(slice);
        this.#fill();
        if (this.#active.length === 0 && this.#pending.length === 0) this.#queue.close();
      },
      (error: unknown) => {
        this.#finish(slice);
        if (this.#failed || this.#stopping) return;
        this.#failed = true;
        this.#onError(error);
      },
    );
    this.#tasks.push(task);
  }

  #finish(slice: RunningSlice): void {
    const i = this.#active.indexOf(slice);
    if (i >= 0) this.#active.splice(i, 1);
  }

  async #read(slice: RunningSlice): Promise<void> {
    const ctx = this.#ctx;
    const pages = this.#client.paginate(ctx.list, { pathParams: ctx.pathParams, query: sliceQuery(ctx, slice), signal: this.#signal });
    for await (const resource of pages) {
      if (this.#signal.aborted || this.#stopping) return;
      const t = timeOf(ctx, resource);
      // Read each time: a split may have lowered the slice's end meanwhile.
      const place = placeInSlice(t, slice);
      if (place === 'past') return;
      if (place !== 'inside') continue;
      slice.rows += 1;
      if (Number.isFinite(t)) {
        if (slice.maxSeen === null || t > slice.maxSeen) slice.maxSeen = t;
        if (slice.rows % quarter(ctx.pageSize) === 1 || quarter(ctx.pageSize) === 1) {
          if (slice.windowStart !== null) slice.recentSpan = t - slice.windowStart;
          slice.windowStart = t;
        }
      }
      // Each page's worth of rows sharpens the slice's estimate: idle cursors may take part of it.
      if (slice.rows % ctx.pageSize === 0 && this.#active.length < ctx.parallelism) this.#fill();
      const row = outputRow(ctx, resource);
      if (!row) continue;
      const wait = this.#queue.push(row);
      if (wait) await wait;
    }
  }
}
