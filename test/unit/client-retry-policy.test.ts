import { describe, expect, it } from 'vitest';
import {
  backoffMs,
  classifyNetworkError,
  decideRetry,
  isSafeToRepeat,
  retryPolicy,
  type RetryState,
} from '../../src/klaviyo/retry-policy.js';

const fixed = (r: number) => () => r;
const policy = retryPolicy({ random: fixed(0.5) });
const get: RetryState = { method: 'GET', throttleRetries: 0, otherRetries: 0 };
const post: RetryState = { method: 'POST', throttleRetries: 0, otherRetries: 0 };

function netError(code: string, message = 'boom', cause?: unknown): Error {
  return Object.assign(new Error(message), { code }, cause ? { cause } : {});
}

describe('isSafeToRepeat', () => {
  it('GET and DELETE are, POST and PATCH only when marked idempotent', () => {
    expect(isSafeToRepeat('GET')).toBe(true);
    expect(isSafeToRepeat('DELETE')).toBe(true);
    expect(isSafeToRepeat('POST')).toBe(false);
    expect(isSafeToRepeat('PATCH')).toBe(false);
    expect(isSafeToRepeat('POST', true)).toBe(true);
    expect(isSafeToRepeat('PATCH', true)).toBe(true);
  });
});

describe('backoffMs', () => {
  it('is full jitter over a capped exponential ceiling', () => {
    expect(backoffMs(0, 500, 30_000, fixed(0.999))).toBe(499);
    expect(backoffMs(3, 500, 30_000, fixed(0.5))).toBe(2_000);
    expect(backoffMs(20, 500, 30_000, fixed(0.5))).toBe(15_000);
    expect(backoffMs(5, 500, 30_000, fixed(0))).toBe(0);
  });
});

describe('decideRetry on 429', () => {
  it('retries any method, waiting at least Retry-After', () => {
    expect(decideRetry({ kind: 'status', status: 429, retryAfterMs: 7_000 }, post, policy)).toEqual({
      retry: true,
      delayMs: 7_000,
      throttled: true,
      reason: '429, Retry-After 7s',
    });
  });

  it('waits the backoff when it is longer than Retry-After', () => {
    const d = decideRetry({ kind: 'status', status: 429, retryAfterMs: 1_000 }, { ...get, throttleRetries: 4 }, policy);
    expect(d).toMatchObject({ retry: true, delayMs: 8_000 });
  });

  it('gives up after 8 retries by default', () => {
    expect(decideRetry({ kind: 'status', status: 429 }, { ...get, throttleRetries: 7 }, policy).retry).toBe(true);
    expect(decideRetry({ kind: 'status', status: 429 }, { ...get, throttleRetries: 8 }, policy)).toMatchObject({
      retry: false,
      outcome: 'exhausted',
    });
  });
});

describe('decideRetry on 5xx', () => {
  it.each([500, 502, 503, 504, 524])('retries %i for GET', (status) => {
    expect(decideRetry({ kind: 'status', status }, get, policy)).toMatchObject({ retry: true, throttled: false });
  });

  it('does not retry a POST: the outcome is unknown', () => {
    expect(decideRetry({ kind: 'status', status: 503 }, post, policy)).toEqual({ retry: false, outcome: 'unknown-outcome', reason: '503' });
  });

  it('retries a POST marked idempotent', () => {
    expect(decideRetry({ kind: 'status', status: 503 }, { ...post, idempotent: true }, policy).retry).toBe(true);
  });

  it('gives up after 5 retries by default', () => {
    expect(decideRetry({ kind: 'status', status: 503 }, { ...get, otherRetries: 4 }, policy).retry).toBe(true);
    expect(decideRetry({ kind: 'status', status: 503 }, { ...get, otherRetries: 5 }, policy)).toMatchObject({ outcome: 'exhausted' });
  });

  it.each([400, 401, 403, 404, 409, 501])('never retries %i', (status) => {
    expect(decideRetry({ kind: 'status', status }, get, policy)).toMatchObject({ retry: false, outcome: 'final' });
  });
});

describe('decideRetry on network failures', () => {
  it.each(['ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_HEADERS_TIMEOUT', 'ETIMEDOUT'])(
    'retries %s for GET but not for POST',
    (code) => {
      expect(decideRetry({ kind: 'network', error: netError(code) }, get, policy).retry).toBe(true);
      expect(decideRetry({ kind: 'network', error: netError(code) }, post, policy)).toMatchObject({
        retry: false,
        outcome: 'unknown-outcome',
      });
    },
  );

  it("treats 'other side closed' as a dropped connection", () => {
    expect(classifyNetworkError(new Error('other side closed'))).toMatchObject({ transient: true, maybeSent: true });
  });

  it('retries a refused connection for any method: nothing was sent', () => {
    expect(decideRetry({ kind: 'network', error: netError('ECONNREFUSED') }, post, policy).retry).toBe(true);
  });

  it('does not retry an unknown host', () => {
    expect(decideRetry({ kind: 'network', error: netError('ENOTFOUND') }, get, policy)).toMatchObject({ retry: false, outcome: 'final' });
  });

  it('finds the code in a cause or an AggregateError', () => {
    expect(classifyNetworkError(netError('UND_ERR_SOCKET', 'x', netError('ECONNRESET'))).code).toBe('UND_ERR_SOCKET');
    expect(classifyNetworkError(new Error('fetch failed', { cause: netError('ECONNRESET') }))).toMatchObject({
      code: 'ECONNRESET',
      maybeSent: true,
    });
    const agg = Object.assign(new AggregateError([netError('ECONNREFUSED')], 'all failed'), {});
    expect(classifyNetworkError(agg)).toMatchObject({ code: 'ECONNREFUSED', maybeSent: false });
  });

  it('an unexpected error on a POST is not retried and reported as unknown outcome', () => {
    expect(decideRetry({ kind: 'network', error: new TypeError('bug') }, post, policy)).toMatchObject({
      retry: false,
      outcome: 'unknown-outcome',
    });
    expect(decideRetry({ kind: 'network', error: new TypeError('bug') }, get, policy)).toMatchObject({ retry: false, outcome: 'final' });
  });
});
