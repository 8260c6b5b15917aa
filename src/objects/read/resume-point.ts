/**
 * Where a slice's chain can start again when Klaviyo refuses its page cursor mid-way (an expired
 * cursor, 400 invalid on page[cursor]): "from the last row's position", rather than from the
 * chain's start, so that an export of hours does not read hours again, or fail. (The client's
 * paginate asks for it through `restartQuery`, and keeps skipping the ids already handed out.)
 *
 * The rule: the earliest row time among the last two pages' worth of rows the chain delivered
 * (2 × page size rows), floored to the second. The new chain's filter starts a second before
 * that (sliceFilters' usual margin), and the slice's `seen` ids skip whatever it reads again, so
 * any overlap is harmless: two pages read again, then new rows. Why it is safe, and what it assumes:
 *
 *   - Klaviyo's order is trusted only this far: no row arrives more than a page away from its
 *     place in the sorted order. Pages reported "slightly unsorted" (estuary/connectors PR #4062)
 *     and the emulator's `unsorted-pages` quirk move rows by one place. Then every row that sorts
 *     before all of 2 × page size delivered rows has been delivered itself: were one still to
 *     come, one of those rows (the one sorting latest, at least 2 × page size places after it)
 *     would have arrived more than a page before its place, or it more than a page after its own.
 *   - Klaviyo may sort by whole seconds, in no particular order inside one: hence the floor to
 *     the second (rows of the same second as the earliest may still come). It may compare
 *     filters by truncated or rounded seconds, or match the bound: hence the one-second margin.
 *   - The chain shows how far out of place its rows are: a row that arrives after 2 × page size
 *     rows sorting after it (by the second) breaks the assumption, and from then on the chain
 *     starts again from its start instead.
 *   - Rows without a time pass no greater-than filter: once the chain has met one, it starts
 *     again from its start too.
 * Starting again from the start is always safe (the `seen` ids skip what was read), only slower:
 * the client gives up after five refusals in a row with nothing new in between, which reading a
 * long chain again from its start makes likelier than reading two pages again.
 */
import { floorSecond } from './slice-plan.js';

export class ResumePoint {
  /** Every row of the chain's range before this time has been delivered (its id is in `seen`). */
  #safeFrom: number;
  readonly #start: number;
  readonly #window: number;
  /** Sliding-window minimum of the current chain's row times: [index, time] from #head on, times increasing. */
  #mins: Array<[number, number]> = [];
  #head = 0;
  #delivered = 0;
  #trusted = true;

  /** `start`: where the chain starts; `window`: rows to look back over (2 × page size). */
  constructor(start: number, window: number) {
    this.#start = start;
    this.#safeFrom = start;
    this.#window = Math.max(1, window);
  }

  /** A new chain starts: it delivers rows in its own order. */
  #newChain(): void {
    this.#mins = [];
    this.#head = 0;
    this.#delivered = 0;
  }

  /** The chain delivered a row at time t (in the slice or not: every row of the chain counts). */
  delivered(t: number): void {
    if (!Number.isFinite(t)) {
      this.#trusted = false;
      return;
    }
    if (this.#full() && floorSecond(t) < floorSecond(this.#earliest())) this.#trusted = false;
    const index = this.#delivered++;
    const mins = this.#mins;
    while (mins.length > this.#head && mins[mins.length - 1][1] >= t) mins.pop();
    mins.push([index, t]);
    while (mins[this.#head][0] <= index - this.#window) this.#head += 1;
    if (this.#head > 1024) {
      this.#mins = mins.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * Klaviyo refused the cursor: the time the next chain starts from (at least the first chain's
   * start), as far on as the rule allows. Starts a new chain.
   */
  resumeFrom(): number {
    if (!this.#trusted) this.#safeFrom = this.#start;
    else if (this.#full()) this.#safeFrom = Math.max(this.#safeFrom, floorSecond(this.#earliest()));
    this.#newChain();
    return this.#safeFrom;
  }

  /** The earliest time among the chain's last `window` rows. */
  #earliest(): number {
    return this.#mins[this.#head][1];
  }

  #full(): boolean {
    return this.#delivered >= this.#window;
  }
}
