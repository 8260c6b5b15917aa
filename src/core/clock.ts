/**
 * Time as a dependency. Everything that waits (rate limiting, retry backoff) takes a Clock, so
 * tests drive time with a FakeClock instead of sleeping: deterministic and instant.
 */
import { onAbort } from './abort-fanout.js';

export interface Clock {
  /** Milliseconds since the epoch (or since any fixed origin: only differences matter). */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if it is aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unlink();
        resolve();
      }, ms);
      const unlink = onAbort(signal, () => {
        clearTimeout(timer);
        reject(abortReason(signal!));
      });
    });
  },
};

interface Sleeper {
  at: number;
  seq: number;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  /** Stops listening for the abort, once the sleeper wakes. */
  unlink?: () => void;
}

/** Lets every pending promise continuation run (microtasks, then one macrotask turn). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A clock whose time moves only when the test says so (`advance`, `advanceToNext`), or, with
 * `autoAdvance`, whenever the program has nothing left to do but wait: then time jumps straight
 * to the earliest sleeper. Sleepers wake in time order (ties in the order they started), and
 * `now()` reads the sleeper's wake-up time while it runs, so waits are measured exactly.
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #sleepers: Sleeper[] = [];
  #autoAdvance: boolean;
  #tickScheduled = false;
  /** Every duration passed to sleep(), in call order: lets tests assert what was waited. */
  readonly sleeps: number[] = [];

  constructor(o: { start?: number; autoAdvance?: boolean } = {}) {
    this.#now = o.start ?? Date.UTC(2026, 0, 1);
    this.#autoAdvance = o.autoAdvance ?? false;
  }

  now(): number {
    return this.#now;
  }

  get pendingSleepers(): number {
    return this.#sleepers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const sleeper: Sleeper = { at: this.#now + Math.max(0, ms), seq: this.#seq++, resolve, reject, signal };
      if (signal) {
        sleeper.unlink = onAbort(signal, () => {
          this.#remove(sleeper);
          reject(abortReason(signal));
        });
      }
      this.#sleepers.push(sleeper);
      this.#sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      if (this.#autoAdvance) this.#scheduleTick();
    });
  }

  /** Moves time forward by `ms`, waking (in order) every sleeper due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    while (this.#sleepers.length > 0 && this.#sleepers[0].at <= target) {
      this.#wakeEarliest();
      await settle();
    }
    this.#now = Math.max(this.#now, target);
    await settle();
  }

  /** Jumps to the earliest sleeper and wakes it (and any due at the same instant). False when none. */
  async advanceToNext(): Promise<boolean> {
    await settle();
    if (this.#sleepers.length === 0) return false;
    this.#wakeEarliest();
    await settle();
    return true;
  }

  /** Wakes sleepers one instant at a time until none is left (or `maxSteps` is reached). */
  async runAll(maxSteps = 1_000_000): Promise<void> {
    for (let i = 0; i < maxSteps; i++) {
      if (!(await this.advanceToNext())) return;
    }
    throw new Error(`FakeClock.runAll: still ${this.#sleepers.length} sleepers after ${maxSteps} steps`);
  }

  #wakeEarliest(): void {
    const at = this.#sleepers[0].at;
    this.#now = Math.max(this.#now, at);
    while (this.#sleepers.length > 0 && this.#sleepers[0].at === at) {
      const s = this.#sleepers.shift()!;
      s.unlink?.();
      s.resolve();
    }
  }

  #remove(sleeper: Sleeper): void {
    const i = this.#sleepers.indexOf(sleeper);
    if (i >= 0) this.#sleepers.splice(i, 1);
  }

  // Auto-advance waits one macrotask turn first, so every sleeper started by the continuations
  // of the previous wake-up is registered before time jumps: sleepers still wake in time order.
  #scheduleTick(): void {
    if (this.#tickScheduled) return;
    this.#tickScheduled = true;
    setImmediate(() => {
      this.#tickScheduled = false;
      if (this.#sleepers.length === 0) return;
      this.#wakeEarliest();
      if (this.#sleepers.length > 0) this.#scheduleTick();
    });
  }
}
