/**
 * At most N requests in flight across the whole client (the profile's `concurrency`), first come
 * first served. Klaviyo's limits are per endpoint, but one account's quota is shared by everything
 * the key does, and Klaviyo asks integrations not to open unbounded parallel connections.
 */
import { onAbort } from '../core/abort-fanout.js';

interface Waiter {
  grant: () => void;
  /** Stops listening for the abort, once the slot is granted. */
  unlink?: () => void;
}

export class ConcurrencyLimiter {
  readonly limit: number;
  #active = 0;
  #waiters: Waiter[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a whole number of at least 1, got ${limit}`);
    this.limit = limit;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves with a release function once a slot is free. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.#active < this.limit) {
      this.#active += 1;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { grant: () => resolve(this.#releaser()) };
      if (signal) {
        waiter.unlink = onAbort(signal, () => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(signal.reason);
        });
      }
      this.#waiters.push(waiter);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) {
        // The slot passes straight to the next waiter: #active stays the same.
        next.unlink?.();
        next.grant();
      } else {
        this.#active -= 1;
      }
    };
  }
}
