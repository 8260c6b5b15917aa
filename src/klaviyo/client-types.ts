/**
 * The options and results of the Klaviyo client (client.ts): what callers pass and get back.
 */
import type { Dispatcher } from 'undici';
import type { Clock } from '../core/clock.js';
import type { Secret } from '../core/secret.js';
import type { Query } from './request-url.js';

export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_TIMEOUT_MS = 60_000;
/** A 429 asking for a longer wait than this stops the command (KLV_MAX_RETRY_AFTER changes it). */
export const DEFAULT_MAX_RETRY_AFTER_MS = 300_000;

export interface KlaviyoClientOptions {
  baseUrl: string;
  apiKey: Secret;
  /** Klaviyo API revision header; defaults to the spec klv was built from. */
  revision?: string;
  userAgent: string;
  /** Requests in flight at once across the client (default 4). */
  concurrency?: number;
  /** Replaces the keep-alive pool (tests pass an undici MockAgent). Not closed by close(). */
  dispatcher?: Dispatcher;
  /** Receives one line per attempt, rate-limit hold and retry (--verbose). */
  journal?: (line: string) => void;
  /** Aborts every request (Ctrl-C). */
  signal?: AbortSignal;
  /** Sets both retry budgets (by default 8 after a 429, 5 after other failures); 0 disables retries. */
  maxRetries?: number;
  /** Time allowed for response headers, and between body chunks. */
  timeoutMs?: number;
  clock?: Clock;
  /** [0,1) source for backoff jitter. */
  random?: () => number;
  /** 'off' disables proactive waiting (the emulator with --rate-limits off); 429s are still honoured. */
  rateLimits?: 'spec' | 'off';
  /**
   * The longest Retry-After klv waits out (default 5 minutes). A 429 asking for longer (a daily
   * cap, a misbehaving proxy) stops the command with a KlaviyoResponseError naming the time to
   * come back, instead of sleeping for hours in silence.
   */
  maxRetryAfterMs?: number;
  /** The largest response body accepted (default 50 MB); a larger one fails its request. */
  maxResponseBytes?: number;
}

export interface RequestOptions {
  pathParams?: Record<string, string>;
  query?: Query;
  body?: unknown;
  /** The caller vouches that sending this write twice is harmless, so it may be retried. */
  idempotent?: boolean;
  signal?: AbortSignal;
  /**
   * A 429 whose Retry-After is longer than this is not waited out: the request fails at once
   * with a KlaviyoApiError (status 429, `retryAfterMs`). For daily caps (150 new lists a day),
   * whose Retry-After reaches the next day: the caller reports it instead of hanging for hours.
   */
  maxRetryAfterMs?: number;
}

export interface PaginateOptions {
  pathParams?: Record<string, string>;
  query?: Query;
  /** Default: the largest page size the endpoint allows. */
  pageSize?: number;
  /** Stop after this many resources. */
  limit?: number;
  signal?: AbortSignal;
  /**
   * Ids already handed out by this read (shared with a caller that reads one range in several
   * chains, e.g. a time slice read again after a split). Resources with these ids are skipped,
   * and the ids of the ones yielded are added. Default: a set of this chain's own.
   */
  seen?: Set<string>;
  /**
   * Where to read again from when Klaviyo refuses a page cursor (expired): the query of a new
   * chain, e.g. a time slice narrowed to what is left. Default: the first page again. Either
   * way, records already yielded are skipped by id.
   */
  restartQuery?: () => Query;
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  /** Lower-cased names. */
  headers: Record<string, string>;
  rateLimit: { limit?: number; remaining?: number; reset?: number };
  requestId?: string;
  /** How many times the request was sent (1 = no retry). */
  attempts: number;
}

export interface OperationStats {
  requests: number;
  retries: number;
  /** Requests Klaviyo answered with 429 (retried after Retry-After, unless maxRetryAfterMs said not to wait). */
  rateLimited: number;
  throttledMs: number;
}

export interface ClientStats extends OperationStats {
  byOperation: Record<string, OperationStats>;
}
