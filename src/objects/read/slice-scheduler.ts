/**
 * Runs the slices of a partitioned read (partitioned.ts): at most `parallelism` cursors at once,
 * each reading one cursor chain to its end, and splits busy slices for idle cursors.
 *
 * A slice keeps exactly the rows it owns (start ≤ t < end, slice-plan.ts's inSlice), in whatever
 * order they come, and the ids of every row its chains handed out (`seen`, shared with the
 * client's paginate): Klaviyo sending a row twice, or a range read again, never yields a row
 * twice.
 *
 * Splits trust no order. A split lowers the slice's end; the slice abandons its chain (after the
 * row in hand) and reads on with a new chain from a second past the latest row it kept; a check
 * chain reads again, with the same `seen` ids, the range the abandoned chain started from up to
 * there, and keeps any row it had not delivered yet (Klaviyo's pages may be slightly unsorted,
 * or the slice may have stopped in the middle of a second of many rows). The check is work like
 * any other, queued behind the new slices; it costs the requests of reading again what the
 * slice had read, which is why planSplit splits only when far more is ahead.
 *
 * A refused (expired) page cursor starts a chain again through the client's `restartQuery`, from
 * a little before the rows the chain has read (resume-point.ts, which says what that assumes).
 * A slice is done when its chains are: its `seen` ids go with it.
 */
import type { KlaviyoClient } from '../../klaviyo/client.js';
import type { OperationId } from '../../klaviyo/generated/api-metadata.js';
import type { JsonApiResource } from '../../klaviyo/json-api.js';
import type { Row } from '../types.js';
import { ResumePoint } from './resume-point.js';
import type { RowQueue } from './row-queue.js';
import { floorSecond, inSlice, planSplit, type SliceProgress, type TimeRange } from './slice-plan.js';

/** What the scheduler needs to know of the read. */
export interface SliceSource {
  list: OperationId;
  pathParams?: Record<string, string>;
  pageSize: number;
  parallelism: number;
  /** See planSplit; default MAX_SLICE_ROWS. */
  maxSliceRows?: number;
  /** The query of a chain over [lo, hi): the read's filters plus the range's superset filter. */
  query: (range: TimeRange) => Record<string, string>;
  /** A row's time on the partition column; NaN when it has none. */
  timeOf: (resource: JsonApiResource) => number;
  /** The output row, or undefined when a local condition rejects it. */
  row: (resource: JsonApiResource) => Row | undefined;
}

interface Slice extends SliceProgress {
  fresh: number;
  /** Ids of every row this slice's chains handed out (shared with the client's paginate). */
  readonly seen: Set<string>;
  /** Time of the first row of the current quarter page (for recentSpan). */
  windowStart: number | null;
  /** A split lowered the end: the chain is abandoned after the row in hand. */
  restart: boolean;
}

/** A cursor's work: a slice's chain, or a check of a range a split made it abandon. */
interface Job {
  slice: Slice;
  check?: TimeRange;
}

const SECOND = 1_000;
const quarter = (pageSize: number) => Math.max(1, Math.floor(pageSize / 4));

export class SliceScheduler {
  readonly #src: SliceSource;
  readonly #client: KlaviyoClient;
  readonly #signal: AbortSignal;
  readonly #queue: RowQueue<Row>;
  readonly #onError: (error: unknown) => void;
  /** Jobs on a cursor now. */
  readonly #running: Job[] = [];
  /** Jobs waiting for a cursor, first come first served. */
  readonly #pending: Job[] = [];
  readonly #tasks: Promise<void>[] = [];
  #stopping = false;
  #failed = false;

  constructor(src: SliceSource, client: KlaviyoClient, signal: AbortSignal, queue: RowQueue<Row>, onError: (error: unknown) => void) {
    this.#src = src;
    this.#client = client;
    this.#signal = signal;
    this.#queue = queue;
    this.#onError = onError;
  }

  start(slices: TimeRange[]): void {
    for (const range of slices) this.#pending.push({ slice: newSlice(range) });
    this.#fill();
    if (this.#running.length === 0) this.#queue.close();
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

  get #halted(): boolean {
    return this.#failed || this.#stopping || this.#signal.aborted;
  }

  /** Gives free cursors work: jobs waiting, else splits of busy slices (also for memory, with none free). */
  #fill(): void {
    const { parallelism, pageSize, maxSliceRows } = this.#src;
    while (!this.#halted) {
      const free = parallelism - this.#running.length;
      if (free > 0 && this.#pending.length > 0) {
        this.#launch(this.#pending.shift()!);
        continue;
      }
      // Each split for idle cursors leaves the victim half its unread range at most, a memory cut
      // happens once a chain, and planSplit wants two pages ahead: this ends. A slice may be split
      // again before it has left its chain: that costs nothing more. Checks are not split.
      const reading = this.#running.filter((job) => !job.check).map((job) => job.slice);
      const split = planSplit(reading, free, pageSize, { maxSliceRows });
      if (!split) return;
      const victim = reading[split.index];
      const end = victim.hi;
      victim.hi = split.cuts[0];
      victim.restart = true;
      split.cuts.forEach((cut, i) => this.#pending.push({ slice: newSlice({ lo: cut, hi: split.cuts[i + 1] ?? end }) }));
    }
  }

  #launch(job: Job): void {
    this.#running.push(job);
    const task = (job.check ? this.#chain(job.slice, job.check) : this.#read(job.slice)).then(
      () => {
        this.#finish(job);
        this.#fill();
        if (this.#running.length === 0 && this.#pending.length === 0) this.#queue.close();
      },
      (error: unknown) => {
        this.#finish(job);
        if (this.#failed || this.#stopping) return;
        this.#failed = true;
        this.#onError(error);
      },
    );
    this.#tasks.push(task);
  }

  #finish(job: Job): void {
    const i = this.#running.indexOf(job);
    if (i >= 0) this.#running.splice(i, 1);
  }

  /** Reads the slice to its end: chain after chain when splits lower its end, each one checked. */
  async #read(slice: Slice): Promise<void> {
    let start = slice.lo;
    while (start < slice.hi) {
      slice.restart = false;
      const abandoned = await this.#chain(slice, { lo: start, hi: Infinity });
      // A chain that ended delivered every row of the old range: the lowered one is complete.
      if (!abandoned || this.#halted) return;
      // Every row kept so far is before `from`; what the chain had not delivered of [start,
      // from) yet, the check reads.
      const from = slice.maxSeen === null ? start : Math.max(start, floorSecond(slice.maxSeen) + SECOND);
      // The new chain is split again only once it has kept a page of rows of its own.
      slice.fresh = 0;
      if (from > start) {
        this.#pending.push({ slice, check: { lo: start, hi: from } });
        start = from;
        this.#fill();
      }
    }
  }

  /**
   * One chain over [range.lo, min(range.hi, the slice's end)), to its end; true when a split
   * made the slice abandon it (only a slice's own chain, not a check).
   */
  async #chain(slice: Slice, range: TimeRange): Promise<boolean> {
    const src = this.#src;
    const own = range.hi === Infinity;
    const query = (lo: number) => src.query({ lo, hi: Math.min(range.hi, slice.hi) });
    const resume = new ResumePoint(range.lo, 2 * src.pageSize);
    const resources = this.#client.paginate(src.list, {
      pathParams: src.pathParams,
      query: query(range.lo),
      signal: this.#signal,
      seen: slice.seen,
      restartQuery: () => query(resume.resumeFrom()),
    });
    for await (const resource of resources) {
      if (this.#halted) return false;
      const t = src.timeOf(resource);
      resume.delivered(t);
      // Every row handed out is taken (its id is in `seen` now: a later chain skips it).
      await this.#take(slice, resource, t, own);
      // Only between rows: leaving pulls no further row, so none is skipped untaken.
      if (own && slice.restart) return true;
    }
    return false;
  }

  async #take(slice: Slice, resource: JsonApiResource, t: number, own: boolean): Promise<void> {
    const src = this.#src;
    // Read each time: a split may have lowered the slice's end meanwhile.
    if (!inSlice(t, slice)) return;
    slice.rows += 1;
    if (Number.isFinite(t) && (slice.maxSeen === null || t > slice.maxSeen)) slice.maxSeen = t;
    if (own) {
      slice.fresh += 1;
      if (Number.isFinite(t) && (slice.fresh % quarter(src.pageSize) === 1 || quarter(src.pageSize) === 1)) {
        if (slice.windowStart !== null) slice.recentSpan = Math.abs(t - slice.windowStart);
        slice.windowStart = t;
      }
      // Each page's worth of rows sharpens the slice's estimate: it may be split.
      if (slice.fresh % src.pageSize === 0) this.#fill();
    }
    const row = src.row(resource);
    if (!row) return;
    const wait = this.#queue.push(row);
    if (wait) await wait;
  }
}

function newSlice(range: TimeRange): Slice {
  return { ...range, maxSeen: null, rows: 0, fresh: 0, recentSpan: null, windowStart: null, seen: new Set(), restart: false };
}
