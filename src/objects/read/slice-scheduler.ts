/**
 * Runs the slices of a partitioned read (partitioned.ts): at most `parallelism` cursors at once,
 * each reading one time slice's cursor chain to its end, and splits busy slices for idle cursors.
 *
 * A slice keeps exactly the rows it owns (start ≤ t < end, slice-plan.ts's inSlice), in whatever
 * order they come, and the ids of every row its chains handed out (`seen`): Klaviyo sending a row
 * twice, or a chain started again, never yields a row twice. Chains start again:
 *   - when Klaviyo refuses a page cursor (expired): the client calls `restartQuery`, which
 *     narrows the slice's filter to start a little before what it has read (resume-point.ts);
 *   - when a split lowers the slice's end: the slice abandons its chain and reads [start, new
 *     end) again from its first page, with the same `seen` ids, so the rows it already kept are
 *     skipped. That trusts no order (planSplit's cuts are past every row it kept); re-reading
 *     costs requests, so planSplit splits only when far more is ahead than was read.
 */
import type { KlaviyoClient } from '../../klaviyo/client.js';
import type { OperationId } from '../../klaviyo/generated/api-metadata.js';
import type { JsonApiResource } from '../../klaviyo/json-api.js';
import type { Row } from '../types.js';
import { ResumePoint } from './resume-point.js';
import type { RowQueue } from './row-queue.js';
import { inSlice, planSplit, type SliceProgress, type TimeRange } from './slice-plan.js';

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

interface RunningSlice extends SliceProgress {
  fresh: number;
  /** Ids of every row this slice's chains handed out (shared with the client's paginate). */
  readonly seen: Set<string>;
  readonly resume: ResumePoint;
  /** Time of the first row of the current quarter page (for recentSpan). */
  windowStart: number | null;
  /** A split lowered the end: the chain is abandoned after the row in hand, and read again. */
  restart: boolean;
}

const quarter = (pageSize: number) => Math.max(1, Math.floor(pageSize / 4));

export class SliceScheduler {
  readonly #src: SliceSource;
  readonly #client: KlaviyoClient;
  readonly #signal: AbortSignal;
  readonly #queue: RowQueue<Row>;
  readonly #onError: (error: unknown) => void;
  readonly #active: RunningSlice[] = [];
  readonly #pending: TimeRange[] = [];
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

  get #halted(): boolean {
    return this.#failed || this.#stopping || this.#signal.aborted;
  }

  /** Starts pending slices on free cursors, and splits busy slices (for idle cursors, or memory). */
  #fill(): void {
    const { parallelism, pageSize, maxSliceRows } = this.#src;
    while (!this.#halted) {
      if (this.#active.length < parallelism && this.#pending.length > 0) {
        this.#launch(this.#pending.shift()!);
        continue;
      }
      // A split victim has fresh = 0 until it has kept a page of new rows: each slice is split at
      // most once per call, so this ends.
      const split = planSplit(this.#active, parallelism - this.#active.length, pageSize, { maxSliceRows });
      if (!split) return;
      const victim = this.#active[split.index];
      const end = victim.hi;
      victim.hi = split.cuts[0];
      victim.fresh = 0;
      victim.restart = true;
      split.cuts.forEach((cut, i) => this.#pending.push({ lo: cut, hi: split.cuts[i + 1] ?? end }));
    }
  }

  #launch(range: TimeRange): void {
    const slice: RunningSlice = {
      ...range,
      maxSeen: null,
      rows: 0,
      fresh: 0,
      recentSpan: null,
      windowStart: null,
      seen: new Set(),
      resume: new ResumePoint(range.lo, 2 * this.#src.pageSize),
      restart: false,
    };
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

  /** Reads the slice's chain to its end; again over the lowered range after a split. */
  async #read(slice: RunningSlice): Promise<void> {
    const src = this.#src;
    for (;;) {
      slice.restart = false;
      slice.resume.newChain();
      const resources = this.#client.paginate(src.list, {
        pathParams: src.pathParams,
        query: src.query(slice),
        signal: this.#signal,
        seen: slice.seen,
        restartQuery: () => src.query({ lo: slice.resume.resumeFrom(), hi: slice.hi }),
      });
      let abandoned = false;
      for await (const resource of resources) {
        if (this.#halted) return;
        // Every row handed out is taken (its id is in `seen` now: a later chain skips it).
        await this.#take(slice, resource);
        // Only between rows: leaving pulls no further row, so none is skipped untaken.
        if (slice.restart) {
          abandoned = true;
          break;
        }
      }
      // A chain that ended delivered every row of the old range: the lowered one is complete.
      if (!abandoned || this.#halted) return;
    }
  }

  async #take(slice: RunningSlice, resource: JsonApiResource): Promise<void> {
    const src = this.#src;
    const t = src.timeOf(resource);
    slice.resume.delivered(t);
    // Read each time: a split may have lowered the slice's end meanwhile.
    if (!inSlice(t, slice)) return;
    slice.rows += 1;
    slice.fresh += 1;
    if (Number.isFinite(t)) {
      if (slice.maxSeen === null || t > slice.maxSeen) slice.maxSeen = t;
      if (slice.fresh % quarter(src.pageSize) === 1 || quarter(src.pageSize) === 1) {
        if (slice.windowStart !== null) slice.recentSpan = Math.abs(t - slice.windowStart);
        slice.windowStart = t;
      }
    }
    // Each page's worth of rows sharpens the slice's estimate: it may be split.
    if (slice.fresh % src.pageSize === 0) this.#fill();
    const row = src.row(resource);
    if (!row) return;
    const wait = this.#queue.push(row);
    if (wait) await wait;
  }
}
