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
 *    that are usually large). The two pages plan the slices (slice-plan.ts): a head before the
 *    first page's latest second, a tail after the last page's earliest, and the range between
 *    cut on whole seconds (four per page the pages' density predicts, at least four, at most
 *    `parallelism`; more when the slices would be large, for memory). Their rows are not
 *    exported from them: Klaviyo's pages may be slightly unsorted, so the first page need not
 *    hold the earliest rows; the head and the tail are read as slices (one request each).
 * 2. Each slice is read with `sort=<column>` and an API filter that is a SUPERSET of the slice
 *    (greater-than(start − 1 s), less-than(end + 1 s): Klaviyo filters `created` with > and <
 *    only, may compare whole seconds, and may match the bound), to the end of its cursor chain:
 *    sorted or not, every row of the slice is in it. A row is kept by the one slice that owns its
 *    exact time (start ≤ t < end), so a row that two slices' filters let in, or that arrives
 *    at a bound, counts once; within a slice, the chain's `seen` ids drop a row sent twice.
 * 3. A refused (expired) page cursor starts the slice's chain again from a little before the
 *    rows it has read (resume-point.ts), skipping the ids it has seen: nothing lost or doubled.
 * 4. When a cursor falls idle and a busy slice has far more ahead than it has read (estimated
 *    from its own density), the busy slice is split: its end is lowered to the first cut, new
 *    slices take the rest, and it goes on with a new chain from past the rows it kept while a
 *    check reads its old chain's range again (skipping the ids it has seen), so that no row
 *    Klaviyo sent out of order is lost: splits trust no order (slice-scheduler.ts). A slice that
 *    would grow past MAX_SLICE_ROWS is cut as well, its rest waiting for a cursor, so the `seen`
 *    ids stay bounded. Uneven data (a bulk import on one day) is handled this way. A single
 *    second is never split: thousands of rows created in the same second are read by one cursor
 *    (Klaviyo's filter offers nothing finer on this column).
 *
 * Rows come out in no particular order. `--limit` stops everything early, an abort (Ctrl-C)
 * aborts every cursor, and an error in one cursor aborts the others and surfaces.
 *
 * Reads that are small anyway are not partitioned: an equality the API answers (`Email = ...`,
 * `Id in (...)`) stays one request, as does a small `--limit`.
 */
import { setMaxListeners } from 'node:events';
import { epochMsFloor, instantOf } from '../../core/timestamps.js';
import type { KlaviyoClient, ManyOperation } from '../../klaviyo/client.js';
import { formatFilter, type FilterCondition } from '../../klaviyo/filter-builder.js';
import { OPERATIONS, type OperationId } from '../../klaviyo/generated/api-metadata.js';
import { joinIncluded, resourcesOf, type JsonApiResource } from '../../klaviyo/json-api.js';
import { findColumn } from '../columns.js';
import type { ColumnDef, Condition, ObjectDefinition, PlannedRequest, ReadPlan, ReadRequest, Row } from '../types.js';
import { columnMap, columnsNeeded, project, readQuery, type CollectionSource } from './collection-reader.js';
import { filterParam, pushdown } from './pushdown.js';
import { pageSizeOf, plannedRequest } from './query.js';
import { RowQueue } from './row-queue.js';
import { conditionRange, planSlices, sliceFilters, type TimeRange } from './slice-plan.js';
import { SliceScheduler, type SliceSource } from './slice-scheduler.js';
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

// --- planning -------------------------------------------------------------------------------

interface PartitionContext {
  list: ManyOperation;
  pathParams?: Record<string, string>;
  spec: PartitionSpec;
  partitionColumn: ColumnDef;
  /** Query without filter, sort or page size: fields, additional fields, fixed parameters. */
  baseQuery: Record<string, string>;
  /** API filters every request carries (fixed ones and pushed-down conditions). */
  filters: FilterCondition[];
  /** The user's range on the partition column, sent as a superset filter with every request. */
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

/** A slice's query: the read's filters and the slice within the user's range, as supersets. */
function sliceQuery(ctx: PartitionContext, slice: TimeRange): Record<string, string> {
  const query: Record<string, string> = { ...ctx.baseQuery, sort: ctx.spec.sort };
  const within = { lo: Math.max(slice.lo, ctx.range.lo), hi: Math.min(slice.hi, ctx.range.hi) };
  const filter = filterParam(ctx.list, [...ctx.filters, ...sliceFilters(ctx.spec.field, within)]);
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
    plannedRequest(ctx.list, endQuery(ctx, false), `the first page by ${ctx.spec.column}: where the slices start (and the rows, when it is the only page)`, opts),
    plannedRequest(ctx.list, endQuery(ctx, true), `the last page by ${ctx.spec.column} (sorted descending): where the slices end`, opts),
    plannedRequest(
      ctx.list,
      sliceExample,
      `the ${def.name}, one cursor per time slice of ${ctx.spec.column}, each read to the end of its chain, up to ${ctx.parallelism} at once; a busy slice is split when a cursor falls idle`,
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
  const res = await client.request(ctx.list, {
    pathParams: ctx.pathParams,
    query: { ...endQuery(ctx, descending), ...(OPERATIONS[ctx.list].pageSize?.max ? { 'page[size]': String(ctx.pageSize) } : {}) },
    signal,
  });
  return { resources: joinIncluded(resourcesOf(res.body), res.body.included), hasMore: Boolean(res.body.links?.next) };
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

function sliceSource(ctx: PartitionContext): SliceSource {
  return {
    list: ctx.list,
    pathParams: ctx.pathParams,
    pageSize: ctx.pageSize,
    parallelism: ctx.parallelism,
    query: (range) => sliceQuery(ctx, range),
    timeOf: (resource) => timeOf(ctx, resource),
    row: (resource) => outputRow(ctx, resource),
  };
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
      // A chain of one page holds every row, in whatever order; a row sent twice counts once.
      const ids = new Set<string>();
      for (const resource of first.resources) {
        if (ids.has(resource.id)) continue;
        ids.add(resource.id);
        const row = outputRow(ctx, resource);
        if (!row) continue;
        yield row;
        if (full()) return;
      }
      return;
    }
    const last = await (early ?? fetchPage(client, ctx, true, signal));
    const slices = planSlices({
      pages: { first: first.resources.map((r) => timeOf(ctx, r)), last: last.resources.map((r) => timeOf(ctx, r)) },
      pageSize: ctx.pageSize,
      parallelism: ctx.parallelism,
    });
    scheduler = new SliceScheduler(sliceSource(ctx), client, signal, queue, (error) => {
      queue.fail(error);
      stop.abort();
    });
    scheduler.start(slices);
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
