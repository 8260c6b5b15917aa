/**
 * The bookkeeping of one cursor chain (a paginated read): which pages were followed, which
 * records were handed out, and whether a refused cursor may be answered by reading again.
 * Pure: the client sends the requests and asks this what to do.
 *
 * - A `links.next` that names a page of this chain already followed means Klaviyo's pagination
 *   does not advance: following it would loop for ever (or, with a limit, invent duplicates),
 *   so it is an error.
 * - Klaviyo's cursors expire (its staff suggest expecting that after a few days; a CDN may also
 *   damage one). A refused cursor restarts the chain, from where the caller says (by default the
 *   first page). Records already handed out are recognised by id and not handed out again, so a
 *   restart neither loses nor duplicates anything. A restart must make progress: after a few
 *   restarts in a row that hand out nothing new, the read fails instead of looping.
 * - The ids kept cost ~70 bytes a record; past `maxTracked` ids the chain stops tracking and a
 *   later refused cursor fails the read loudly instead of risking duplicates.
 */

/**
 * Restarts in a row without a new record before the read gives up. A restart re-reads a page or
 * two before it reaches new records (a time slice resumes a little before where it stood), so
 * with a share p of cursors refused a restart stays idle with a chance of about 2p; ten in a row
 * (p = 0.1: 1e-7) means Klaviyo refuses nearly every cursor, not bad luck.
 */
export const DEFAULT_MAX_IDLE_RESTARTS = 10;
/** Ids a chain remembers for restarts: ~70 MB at most. */
export const DEFAULT_MAX_TRACKED = 1_000_000;

export type ChainVerdict = { ok: true; target: string } | { ok: false; why: string };

export class PageChain {
  readonly #followed = new Set<string>();
  readonly #seen: Set<string>;
  readonly #maxTracked: number;
  readonly #maxIdleRestarts: number;
  #tracking = true;
  #page = 0;
  #restarts = 0;
  #idleRestarts = 0;
  #admittedSinceRestart = 0;

  constructor(first: string, o: { seen?: Set<string>; maxTracked?: number; maxIdleRestarts?: number } = {}) {
    this.#seen = o.seen ?? new Set();
    this.#maxTracked = o.maxTracked ?? DEFAULT_MAX_TRACKED;
    this.#maxIdleRestarts = o.maxIdleRestarts ?? DEFAULT_MAX_IDLE_RESTARTS;
    this.#followed.add(first);
  }

  /** Pages received so far, over every restart. */
  get pages(): number {
    return this.#page;
  }

  get restarts(): number {
    return this.#restarts;
  }

  /** A page arrived. */
  pageReceived(): void {
    this.#page += 1;
  }

  /**
   * Whether a record is new to this read (hand it out) or one already handed out (a duplicate
   * Klaviyo sent again, or a record read again after a restart).
   */
  admit(id: string): boolean {
    if (this.#seen.has(id)) return false;
    if (this.#tracking) {
      if (this.#seen.size >= this.#maxTracked) this.#tracking = false;
      else this.#seen.add(id);
    }
    this.#admittedSinceRestart += 1;
    return true;
  }

  /** The next page to request, or why following `next` would not advance. */
  follow(next: string): ChainVerdict {
    if (this.#followed.has(next)) {
      return { ok: false, why: `links.next of page ${this.#page} names a page this read already requested` };
    }
    this.#followed.add(next);
    return { ok: true, target: next };
  }

  /**
   * Klaviyo refused a cursor: the target to read again from (the caller's `from`), or why the
   * read cannot go on.
   */
  restart(from: string): ChainVerdict {
    if (!this.#tracking) {
      return { ok: false, why: `the read is too large for klv to recognise records it already wrote (over ${this.#maxTracked.toLocaleString('en-US')}), so it cannot be restarted without duplicates` };
    }
    this.#idleRestarts = this.#admittedSinceRestart > 0 ? 0 : this.#idleRestarts + 1;
    if (this.#idleRestarts >= this.#maxIdleRestarts) {
      return { ok: false, why: `Klaviyo refused its page cursors ${this.#restarts + 1} times, ${this.#idleRestarts} times in a row without a new record in between` };
    }
    this.#restarts += 1;
    this.#admittedSinceRestart = 0;
    // A new chain: its pages may repeat the old chain's links legitimately.
    this.#followed.clear();
    this.#followed.add(from);
    return { ok: true, target: from };
  }
}
