/**
 * Keeps klv under Klaviyo's rate limits by making requests wait BEFORE they are sent, instead of
 * discovering the limits through 429s.
 *
 * Klaviyo counts requests per endpoint in two fixed windows, burst (1 s) and steady (60 s); the
 * limits of each operation come from the spec (`OPERATIONS[op].rateLimit`). The governor keeps a
 * log of send times per operation and checks every SLIDING window: a sequence that never has more
 * than N sends in any 1 s (or 60 s) interval can never put more than N in one of Klaviyo's fixed
 * windows, whatever their alignment. It aims a little below the published limits (90 % of burst,
 * 95 % of steady) because requests reach Klaviyo with varying network delay.
 *
 * It also listens to the server: `RateLimit-Remaining`/`RateLimit-Reset` (other programs may
 * share the account's quota) and 429s (`Retry-After` holds the whole operation, not just the
 * request that got it). Requests for one operation are served first come, first served.
 *
 * Time comes only from the injected Clock: the logic is deterministic under a FakeClock.
 */
import type { Clock } from '../core/clock.js';
import type { RateLimitMeta } from './api-metadata-types.js';
import { limitsForBucketKey } from './rate-limit-buckets.js';
import { parseRateLimitHeaders } from './rate-limit-headers.js';

export const BURST_WINDOW_MS = 1_000;
export const STEADY_WINDOW_MS = 60_000;

export interface RateGovernorOptions {
  clock: Clock;
  /** 'off' disables the proactive waiting; holds after a 429 are still honoured. */
  mode?: 'spec' | 'off';
  /** Where limits come from; defaults to the spec metadata. */
  limitsFor?: (operationId: string) => RateLimitMeta | undefined;
  /** Fraction of the burst limit to aim for (default 0.9). */
  burstTarget?: number;
  /** Fraction of the steady limit to aim for (default 0.95). */
  steadyTarget?: number;
  /**
   * Longest hold a `RateLimit-Remaining: 0` may impose (default: the steady window). A longer
   * Reset (a daily cap) is left to the 429 path, which fails with a hint rather than hanging.
   */
  maxHeaderHoldMs?: number;
}

export interface Permit {
  /** How long the request was held before it could be sent. */
  waitedMs: number;
  /** Why it waited the longest, for the journal (undefined when it did not wait). */
  reason?: string;
}

/** The latest rate-limit headers seen, for `klv doctor` and summaries. */
export interface LastRateLimit {
  operationId: string;
  limit?: number;
  remaining?: number;
  /** Seconds until the window resets, as the server said. */
  reset?: number;
  /** Clock time the headers were seen. */
  at: number;
}

/** Send times within the longest window, oldest first. */
class SendLog {
  #times: number[] = [];
  #head = 0;

  push(t: number): void {
    this.#times.push(t);
  }

  /** Forgets sends at or before `t`. Compacts now and then so memory stays flat. */
  dropUntil(t: number): void {
    while (this.#head < this.#times.length && this.#times[this.#head] <= t) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#times.length) {
      this.#times = this.#times.slice(this.#head);
      this.#head = 0;
    }
  }

  get length(): number {
    return this.#times.length - this.#head;
  }

  /** i-th most recent send (0 = latest). */
  fromEnd(i: number): number {
    return this.#times[this.#times.length - 1 - i];
  }

  /** Number of sends strictly after `t`. */
  countAfter(t: number): number {
    let lo = this.#head;
    let hi = this.#times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#times[mid] <= t) lo = mid + 1;
      else hi = mid;
    }
    return this.#times.length - lo;
  }
}

export interface BucketState {
  readonly operationId: string;
  /** Effective limits (targets), null where the spec has none. */
  burstLimit: number | null;
  steadyLimit: number | null;
  readonly log: SendLog;
  /** No send before this time (429 Retry-After). */
  holdUntil: number;
  holdReason?: string;
  /** What the server last said about the steady window, minus what was sent since. */
  server?: { remaining: number; resetAt: number; sentSince: number };
  inFlight: number;
  /** Requests waiting for (or being given) their turn. */
  queued: number;
  /** End of the queue of requests waiting for this bucket. */
  tail: Promise<unknown>;
}

/**
 * How long a request must wait before it can be sent now, and why. Pure: reads the bucket only.
 * With `proactive` false only 429 holds count.
 */
export function delayBeforeSend(b: BucketState, now: number, proactive: boolean): { ms: number; reason?: string } {
  let ms = 0;
  let reason: string | undefined;
  const consider = (candidate: number, why: string) => {
    if (candidate > ms) {
      ms = candidate;
      reason = why;
    }
  };
  if (b.holdUntil > now) consider(b.holdUntil - now, b.holdReason ?? 'rate limit hold');
  if (!proactive) return { ms, reason };

  // In a window of length W ending now, a send at time s still counts while s > now - W.
  // With N allowed and N or more in the window, the next send may go when the N-th most
  // recent one leaves it: at fromEnd(N-1) + W.
  if (b.burstLimit !== null) {
    const inWindow = b.log.countAfter(now - BURST_WINDOW_MS);
    if (inWindow >= b.burstLimit) {
      consider(b.log.fromEnd(b.burstLimit - 1) + BURST_WINDOW_MS - now, `burst limit ${b.burstLimit}/1s`);
    }
  }
  if (b.steadyLimit !== null) {
    const inWindow = b.log.countAfter(now - STEADY_WINDOW_MS);
    if (inWindow >= b.steadyLimit) {
      consider(b.log.fromEnd(b.steadyLimit - 1) + STEADY_WINDOW_MS - now, `steady limit ${b.steadyLimit}/60s`);
    }
  }
  if (b.server && b.server.resetAt > now && b.server.remaining - b.server.sentSince <= 0) {
    consider(b.server.resetAt - now, 'RateLimit-Remaining reached 0');
  }
  return { ms, reason };
}

function target(limit: number | null, fraction: number): number | null {
  if (limit === null || !(limit > 0)) return null;
  return Math.max(1, Math.floor(limit * fraction));
}

export class RateGovernor {
  readonly #clock: Clock;
  readonly #proactive: boolean;
  readonly #limitsFor: (operationId: string) => RateLimitMeta | undefined;
  readonly #burstTarget: number;
  readonly #steadyTarget: number;
  readonly #maxHeaderHoldMs: number;
  readonly #buckets = new Map<string, BucketState>();
  #last?: LastRateLimit;

  constructor(o: RateGovernorOptions) {
    this.#clock = o.clock;
    this.#proactive = (o.mode ?? 'spec') === 'spec';
    this.#limitsFor =
      o.limitsFor ?? limitsForBucketKey;
    this.#burstTarget = o.burstTarget ?? 0.9;
    this.#steadyTarget = o.steadyTarget ?? 0.95;
    this.#maxHeaderHoldMs = o.maxHeaderHoldMs ?? STEADY_WINDOW_MS;
  }

  get lastRateLimit(): LastRateLimit | undefined {
    return this.#last;
  }

  /** The bucket of an operation (created on first use). Exposed for tests and diagnostics. */
  bucket(operationId: string): BucketState {
    let b = this.#buckets.get(operationId);
    if (!b) {
      const limits = this.#limitsFor(operationId);
      b = {
        operationId,
        burstLimit: target(limits?.burst ?? null, this.#burstTarget),
        steadyLimit: target(limits?.steady ?? null, this.#steadyTarget),
        log: new SendLog(),
        holdUntil: 0,
        inFlight: 0,
        queued: 0,
        tail: Promise.resolve(),
      };
      this.#buckets.set(operationId, b);
    }
    return b;
  }

  /**
   * Waits until a request for `operationId` may be sent, then counts it as sent: call it right
   * before sending, and `complete()` when the response (or failure) arrives.
   */
  acquire(operationId: string, signal?: AbortSignal): Promise<Permit> {
    const b = this.bucket(operationId);
    // Measured from the call, so time spent queued behind other requests counts as waiting.
    const start = this.#clock.now();
    const queuedBehind = b.queued;
    b.queued += 1;
    const turn = b.tail
      .then(() => this.#waitTurn(b, start, queuedBehind > 0, signal))
      .finally(() => {
        b.queued -= 1;
      });
    // The queue moves on even when a waiter is aborted.
    b.tail = turn.catch(() => undefined);
    return turn;
  }

  async #waitTurn(b: BucketState, start: number, queued: boolean, signal?: AbortSignal): Promise<Permit> {
    let longestReason: string | undefined;
    let longest = 0;
    for (;;) {
      signal?.throwIfAborted();
      const now = this.#clock.now();
      b.log.dropUntil(now - STEADY_WINDOW_MS);
      const { ms, reason } = delayBeforeSend(b, now, this.#proactive);
      if (ms <= 0) break;
      if (ms > longest) {
        longest = ms;
        longestReason = reason;
      }
      await this.#clock.sleep(ms, signal);
    }
    const now = this.#clock.now();
    b.log.push(now);
    if (b.server) b.server.sentSince += 1;
    b.inFlight += 1;
    // Only a real hold counts: the few microseconds of bookkeeping are not waiting.
    const waitedMs = longest > 0 || queued ? now - start : 0;
    if (waitedMs <= 0) return { waitedMs: 0 };
    return { waitedMs, reason: longestReason ?? 'queued behind earlier requests to this endpoint' };
  }

  /**
   * A request acquired earlier got its answer (or failed). Learns from the rate-limit headers:
   * a lower RateLimit-Limit than the spec's lowers the target; RateLimit-Remaining becomes a
   * budget until RateLimit-Reset.
   */
  complete(operationId: string, headers?: Record<string, string | string[] | undefined>): void {
    const b = this.bucket(operationId);
    b.inFlight = Math.max(0, b.inFlight - 1);
    if (!headers) return;
    const h = parseRateLimitHeaders(headers);
    const now = this.#clock.now();
    if (h.limit !== undefined || h.remaining !== undefined || h.reset !== undefined) {
      this.#last = { operationId, limit: h.limit, remaining: h.remaining, reset: h.reset, at: now };
    }
    if (h.limit !== undefined && h.limit > 0) {
      const t = target(h.limit, this.#steadyTarget)!;
      if (b.steadyLimit === null || t < b.steadyLimit) b.steadyLimit = t;
    }
    if (h.burstLimit !== undefined && h.burstLimit > 0) {
      const t = target(h.burstLimit, this.#burstTarget)!;
      if (b.burstLimit === null || t < b.burstLimit) b.burstLimit = t;
    }
    if (h.remaining !== undefined && h.reset !== undefined) {
      const resetMs = Math.min(h.reset * 1000, this.#maxHeaderHoldMs);
      // Requests still in flight may not be counted in this Remaining yet: assume they will be.
      b.server = { remaining: h.remaining - b.inFlight, resetAt: now + resetMs, sentSince: 0 };
    }
  }

  /** Klaviyo answered 429: nothing more is sent for this operation for `waitMs`. */
  throttled(operationId: string, waitMs: number, reason = 'Retry-After after 429'): void {
    const b = this.bucket(operationId);
    const until = this.#clock.now() + Math.max(0, waitMs);
    if (until > b.holdUntil) {
      b.holdUntil = until;
      b.holdReason = reason;
    }
  }
}
