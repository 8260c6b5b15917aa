/**
 * The pure arithmetic of partitioned reads (partitioned.ts): time ranges and the API filters
 * that cover them, which slice owns a row, how the two end pages of a read turn into slices,
 * and when and where a busy slice is split.
 *
 * Nothing here trusts Klaviyo's order. Klaviyo's pages are sometimes "slightly unsorted" despite
 * `sort` (estuary/connectors PR #4062) and its `greater-than` sometimes matches the bound: so a
 * slice reads its cursor chain to the end (its bounds are in the filter), a row is kept by the
 * one slice that owns its exact time, and the end pages only plan the slices.
 */
import { epochMsFloor, hasSubMillisecond, parseInstant } from '../../core/timestamps.js';
import { filter as f, type FilterCondition } from '../../klaviyo/filter-builder.js';
import type { Condition } from '../types.js';

/** No slice narrower than this: the ±1 s filter margins would make neighbours overlap entirely. */
export const MIN_SLICE_MS = 2_000;
/**
 * Rows a slice may hold before it is cut, for memory: a slice remembers the id of every row its
 * chains handed out (~70 bytes each) so that a range read again (a check after a split, a chain
 * started again after a refused cursor) skips them. At 20,000 rows that is ~1.4 MB a slice,
 * ~22 MB with 16 cursors at their fullest; slices are planned at half of it, and a slice found to
 * hold more is cut as it reads (planSplit). The cost of smaller slices is one partly filled page
 * each (plus the rows of the ±1 s margins, read by two slices): ~1 request in 100 at this size.
 */
export const MAX_SLICE_ROWS = 20_000;
/**
 * A split makes the busy slice leave its chain, and a check reads that chain's range again
 * (slice-scheduler.ts): it is made only when at least this many times as many rows are estimated
 * ahead as the chain has kept, so the re-read costs at most half the requests of the work the
 * split spreads over idle cursors (and none of the slice's own time). Measured with the scripted
 * client on 20,000 profiles, 16 cursors: a bulk import in one hour or one day is read in ~24
 * round trips instead of ~200 without splits (~18 when splits trusted the order), for ~12-18%
 * more requests than a read of sorted pages needs.
 */
export const SPLIT_WORTH = 2;
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
 * whether Klaviyo compares milliseconds, truncated seconds or rounded seconds, and whether its
 * greater-than and less-than match the bound or not.
 */
export function sliceFilters(field: string, r: TimeRange): FilterCondition[] {
  const out: FilterCondition[] = [];
  if (Number.isFinite(r.lo)) out.push(f.greaterThan(field, new Date(floorSecond(r.lo) - SECOND)));
  if (Number.isFinite(r.hi)) out.push(f.lessThan(field, new Date(ceilSecond(r.hi) + SECOND)));
  return out;
}

/**
 * Whether a slice owns a row at time t: start ≤ t < end. Slices tile the time line, so each row
 * is owned by exactly one, whichever slices' filters let it in and however often. A row without
 * a valid time belongs to the slice open at the start.
 */
export function inSlice(t: number, r: TimeRange): boolean {
  if (Number.isNaN(t)) return r.lo === -Infinity;
  return t >= r.lo && t < r.hi;
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

const finite = (times: readonly number[]) => times.filter(Number.isFinite);

/**
 * Three ranges tiling the time line, planned from the end pages: `head` (before the latest
 * second of the ascending page), `middle` (to be sliced) and `tail` (after the earliest second
 * of the descending page). They plan slices only: an unsorted page may lack some of the earliest
 * rows, so the head and the tail are read like any slice (each about a page). Boundaries are on
 * whole seconds. Null when the pages hold no usable time (then one slice reads everything).
 */
export function endRanges(pages: EndPages): { head: TimeRange; middle: TimeRange; tail: TimeRange } | null {
  const first = finite(pages.first);
  const last = finite(pages.last);
  if (first.length === 0 || last.length === 0) return null;
  const a = floorSecond(Math.max(...first));
  const d = Math.max(a, floorSecond(Math.min(...last)) + SECOND);
  return { head: { lo: -Infinity, hi: a }, middle: { lo: a, hi: d }, tail: { lo: d, hi: Infinity } };
}

/**
 * How many slices to cut the middle into: four per page the end pages' density predicts, at
 * least four, at most `parallelism`; and, for memory, at least one per half MAX_SLICE_ROWS
 * estimated (at most four times `parallelism`: the end pages are a poor guide, and a slice that
 * turns out larger is cut once it has read a page). Skewed data (a bulk import on one day) is
 * found by the slices themselves: a slice that meets a dense stretch is split.
 */
export function initialSliceCount(o: { pages: EndPages; middle: TimeRange; pageSize: number; parallelism: number; maxSliceRows?: number }): number {
  const spanOf = (times: readonly number[]) => {
    const ok = finite(times);
    return ok.length < 2 ? 0 : Math.max(...ok) - Math.min(...ok);
  };
  const rows = o.pages.first.length + o.pages.last.length;
  const span = Math.max(SECOND, spanOf(o.pages.first) + spanOf(o.pages.last));
  const estimatedRows = (rows / span) * Math.max(0, o.middle.hi - o.middle.lo);
  const pages = Math.ceil(estimatedRows / o.pageSize);
  const forRate = Math.min(o.parallelism, Math.max(4, 4 * pages));
  const forMemory = Math.min(4 * o.parallelism, Math.ceil(estimatedRows / ((o.maxSliceRows ?? MAX_SLICE_ROWS) / 2)));
  return Math.max(1, forRate, forMemory);
}

/**
 * The slices of a read from its end pages: the head, the middle cut by initialSliceCount, the
 * tail; together they tile the time line. One open slice when the pages give no times.
 */
export function planSlices(o: { pages: EndPages; pageSize: number; parallelism: number; maxSliceRows?: number }): TimeRange[] {
  const ranges = endRanges(o.pages);
  if (!ranges) return [{ lo: -Infinity, hi: Infinity }];
  const middle = sliceRange(ranges.middle, initialSliceCount({ ...o, middle: ranges.middle }));
  return [ranges.head, ...middle, ranges.tail];
}

const quarter = (pageSize: number) => Math.max(1, Math.floor(pageSize / 4));

/** A slice being read: its range (the end may be lowered by a split) and how far it got. */
export interface SliceProgress extends TimeRange {
  /** The latest time of a row the slice kept; null before its first. Rows come in any order. */
  maxSeen: number | null;
  /** Rows the slice kept so far. */
  rows: number;
  /**
   * Rows its current chain kept (default `rows`): what a split makes a check read again. A slice
   * is split once that is a page.
   */
  fresh?: number;
  /** Split already, its chain not left yet: split again only for idle cursors. */
  restart?: boolean;
  /**
   * Time spanned by its latest quarter page of rows, when it has read that many: the local
   * density, which says more than the average when the slice runs into a dense stretch.
   */
  recentSpan?: number | null;
}

export interface SplitRules {
  minWidth?: number;
  maxSliceRows?: number;
}

/**
 * Which busy slice to split, and where. A slice is a candidate once its chain has kept a page of
 * rows: its density (the average or the recent one, whichever is higher) times the range it has
 * left estimates the rows ahead. A split makes a check read the chain's range again
 * (slice-scheduler.ts), so it is made only when the rows ahead are at least two pages and
 * SPLIT_WORTH times the rows the chain kept. Then the candidate with the most rows ahead is split:
 *   - for `idle` free cursors: its unread range [a second past maxSeen, hi) is cut into idle + 1
 *     even pieces. A slice split already, its chain not left yet, may be split again at no more
 *     cost: as the cursors freed by (mostly empty) pieces call for work, a dense stretch is
 *     closed in on by halves;
 *   - without one, when it would grow past `maxSliceRows` (memory): it keeps about half that many
 *     rows ahead by its density, and the rest of its range waits for a cursor as a new slice.
 *     Only the density near where the slice stands is known (a bulk import may end a minute
 *     later): cutting the whole rest by it could make hundreds of empty slices, a request each.
 * The slice keeps [lo, cuts[0]) and each cut starts a new slice. Cuts are on whole seconds and
 * past every row the slice has kept, in whatever order they came, so no row it kept can fall in
 * a new slice.
 */
export function planSplit(
  slices: readonly SliceProgress[],
  idle: number,
  pageSize: number,
  rules: SplitRules = {},
): { index: number; cuts: number[] } | null {
  const minWidth = rules.minWidth ?? MIN_SLICE_MS;
  const maxRows = rules.maxSliceRows ?? MAX_SLICE_ROWS;
  let best: { index: number; from: number; remaining: number; density: number } | null = null;
  slices.forEach((s, index) => {
    // Before a full page the density says little (one row over a second looks dense).
    if (s.maxSeen === null || s.rows < pageSize || (s.fresh ?? s.rows) < pageSize || !Number.isFinite(s.lo) || !Number.isFinite(s.hi)) return;
    const from = floorSecond(s.maxSeen) + SECOND;
    if (s.hi - from < minWidth) return;
    const average = s.rows / Math.max(SECOND, s.maxSeen - s.lo);
    const recent = s.recentSpan == null ? 0 : quarter(pageSize) / Math.max(SECOND, s.recentSpan);
    const density = Math.max(average, recent);
    const remaining = density * (s.hi - s.maxSeen);
    if (remaining < 2 * pageSize || remaining < SPLIT_WORTH * (s.fresh ?? s.rows)) return;
    if (idle < 1 && (s.restart || s.rows + remaining <= maxRows)) return;
    if (!best || remaining > best.remaining) best = { index, from, remaining, density };
  });
  if (!best) return null;
  const { index, from, remaining, density } = best as { index: number; from: number; remaining: number; density: number };
  const hi = slices[index].hi;
  const cuts: number[] = [];
  const add = (cut: number) => {
    if (cut >= from && cut < hi && (cuts.length === 0 || cut > cuts[cuts.length - 1])) cuts.push(cut);
  };
  if (idle >= 1) {
    const pieces = Math.max(2, Math.min(idle + 1, Math.floor((hi - from) / (minWidth / 2)), Math.floor(remaining / pageSize)));
    for (let i = 1; i < pieces; i++) add(floorSecond(from + ((hi - from) * i) / pieces));
  } else {
    add(floorSecond(from + Math.max(minWidth / 2, maxRows / 2 / density)));
  }
  return cuts.length > 0 ? { index, cuts } : null;
}
