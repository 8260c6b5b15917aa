/**
 * Klaviyo's rate limits as the docs describe them: fixed windows of one second (burst) and one
 * minute (steady), plus a daily cap on a few endpoints, counted per endpoint (or rate-limit tier)
 * and per account: "private key integrations share the same rate limit quota per account"
 * (developers.klaviyo.com/en/docs/rate_limits_and_error_handling), so the emulator, which serves
 * one account, keeps one set of windows whatever the key.
 * Windows are aligned to the clock (second, minute, UTC day), so a fake clock makes every
 * decision reproducible. Pure logic: the server turns a decision into headers or a 429.
 */
import type { RateLimitMeta } from '../../klaviyo/api-metadata-types.js';

export type RateWindow = 'burst' | 'steady' | 'daily';

export type RateDecision =
  | {
      allowed: true;
      /** What the RateLimit-* headers report: the steady window (the burst one when there is no steady limit). */
      limit: number | null;
      remaining: number | null;
      /** Whole seconds until that window resets. */
      resetSeconds: number;
    }
  | {
      allowed: false;
      window: RateWindow;
      limit: number;
      /** Whole seconds until the tripped window resets; at least 1. */
      retryAfterSeconds: number;
    };

const WINDOW_MS: Record<RateWindow, number> = { burst: 1_000, steady: 60_000, daily: 86_400_000 };
const ORDER: RateWindow[] = ['burst', 'steady', 'daily'];

interface Counter {
  window: number;
  count: number;
}

export class RateLimiter {
  readonly #now: () => number;
  readonly #buckets = new Map<string, Record<RateWindow, Counter>>();

  /** @param now milliseconds since the epoch (inject a fake clock in tests). */
  constructor(now: () => number) {
    this.#now = now;
  }

  /** Counts one request against `bucket` (the endpoint or its tier) unless a window is full. */
  take(bucket: string, limits: RateLimitMeta): RateDecision {
    const now = this.#now();
    let counters = this.#buckets.get(bucket);
    if (!counters) {
      counters = { burst: { window: -1, count: 0 }, steady: { window: -1, count: 0 }, daily: { window: -1, count: 0 } };
      this.#buckets.set(bucket, counters);
    }
    let denied: { window: RateWindow; limit: number; retryAfterSeconds: number } | null = null;
    for (const w of ORDER) {
      const index = Math.floor(now / WINDOW_MS[w]);
      const c = counters[w];
      if (c.window !== index) {
        c.window = index;
        c.count = 0;
      }
      const limit = limits[w];
      if (limit !== null && c.count >= limit) {
        const retryAfterSeconds = Math.max(1, Math.ceil(((index + 1) * WINDOW_MS[w] - now) / 1000));
        // When several windows are full, the client must wait for the one that frees up last.
        if (!denied || retryAfterSeconds > denied.retryAfterSeconds) denied = { window: w, limit, retryAfterSeconds };
      }
    }
    if (denied) return { allowed: false, ...denied };
    for (const w of ORDER) counters[w].count += 1;
    const reported: RateWindow = limits.steady !== null ? 'steady' : 'burst';
    const limit = limits[reported];
    const c = counters[reported];
    return {
      allowed: true,
      limit,
      remaining: limit === null ? null : Math.max(0, limit - c.count),
      resetSeconds: Math.max(0, Math.ceil(((c.window + 1) * WINDOW_MS[reported] - now) / 1000)),
    };
  }

  reset(): void {
    this.#buckets.clear();
  }
}
