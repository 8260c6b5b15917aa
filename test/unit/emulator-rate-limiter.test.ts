import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/emulator/http/rate-limiter.js';
import { OPERATIONS } from '../../src/klaviyo/generated/api-metadata.js';

function fakeClock(start: number) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms), set: (ms: number) => (now = ms) };
}

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0); // on a minute boundary

describe('RateLimiter (fixed windows per bucket)', () => {
  it('allows the burst per second, then refuses with Retry-After until the next second', () => {
    const clock = fakeClock(T0 + 200);
    const limiter = new RateLimiter(clock.now);
    const limits = { burst: 3, steady: 100, daily: null };
    for (let i = 0; i < 3; i++) expect(limiter.take('op', limits).allowed).toBe(true);
    const refused = limiter.take('op', limits);
    expect(refused).toEqual({ allowed: false, window: 'burst', limit: 3, retryAfterSeconds: 1 });
    clock.set(T0 + 1000);
    expect(limiter.take('op', limits).allowed).toBe(true);
  });

  it('refuses past the steady limit until the minute ends, reporting the seconds left', () => {
    const clock = fakeClock(T0);
    const limiter = new RateLimiter(clock.now);
    const limits = OPERATIONS.get_accounts.rateLimit; // 1/s, 15/m
    for (let i = 0; i < 15; i++) {
      expect(limiter.take('get_accounts', limits).allowed).toBe(true);
      clock.advance(1000);
    }
    clock.set(T0 + 20_500);
    expect(limiter.take('get_accounts', limits)).toEqual({ allowed: false, window: 'steady', limit: 15, retryAfterSeconds: 40 });
    clock.set(T0 + 60_000);
    expect(limiter.take('get_accounts', limits).allowed).toBe(true);
  });

  it('reports the steady window in the RateLimit headers', () => {
    const clock = fakeClock(T0 + 45_300);
    const limiter = new RateLimiter(clock.now);
    const first = limiter.take('op', { burst: 10, steady: 150, daily: null });
    expect(first).toEqual({ allowed: true, limit: 150, remaining: 149, resetSeconds: 15 });
    const second = limiter.take('op', { burst: 10, steady: 150, daily: null });
    expect(second).toMatchObject({ remaining: 148 });
  });

  it('applies the daily cap and waits for the UTC day to end', () => {
    const clock = fakeClock(Date.UTC(2026, 0, 1, 23, 59, 0));
    const limiter = new RateLimiter(clock.now);
    const limits = { burst: 10, steady: 150, daily: 2 };
    limiter.take('create_list', limits);
    clock.advance(2000);
    limiter.take('create_list', limits);
    clock.advance(2000);
    expect(limiter.take('create_list', limits)).toEqual({ allowed: false, window: 'daily', limit: 2, retryAfterSeconds: 56 });
    clock.set(Date.UTC(2026, 0, 2));
    expect(limiter.take('create_list', limits).allowed).toBe(true);
  });

  it('keeps buckets apart (one per endpoint or rate-limit tier)', () => {
    const limiter = new RateLimiter(() => T0);
    const limits = { burst: 1, steady: 15, daily: null };
    expect(limiter.take('get_accounts', limits).allowed).toBe(true);
    expect(limiter.take('get_accounts', limits).allowed).toBe(false);
    expect(limiter.take('get_account', limits).allowed).toBe(true);
  });

  it('does not count refused requests against the window', () => {
    const clock = fakeClock(T0);
    const limiter = new RateLimiter(clock.now);
    const limits = { burst: 1, steady: 3, daily: null };
    limiter.take('k', limits);
    for (let i = 0; i < 5; i++) limiter.take('k', limits); // all refused by burst
    clock.advance(1000);
    expect(limiter.take('k', limits)).toMatchObject({ allowed: true, remaining: 1 });
  });

  it('reset() forgets all windows', () => {
    const limiter = new RateLimiter(() => T0);
    const limits = { burst: 1, steady: 1, daily: null };
    limiter.take('k', limits);
    expect(limiter.take('k', limits).allowed).toBe(false);
    limiter.reset();
    expect(limiter.take('k', limits).allowed).toBe(true);
  });
});
