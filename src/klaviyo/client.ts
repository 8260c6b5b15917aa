/**
 * The Klaviyo HTTP client: every request klv makes to Klaviyo (or to its emulator) goes through
 * `request` or `paginate` here.
 *
 * One request = wait for a concurrency slot, wait for the rate governor, send with undici over a
 * keep-alive pool, then retry what the retry policy says is safe. Errors come out typed
 * (KlaviyoApiError, KlaviyoNetworkError, UnknownOutcomeError) with the API key scrubbed from
 * every text, and each attempt can be written to the journal.
 *
 * URLs, methods and page sizes come from the spec metadata (OPERATIONS), so callers name an
 * operation (`get_profiles`) rather than building URLs.
 */
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { onAbort } from '../core/abort-fanout.js';
import { systemClock, type Clock } from '../core/clock.js';
import { InterruptedError, KlvError, UsageError } from '../core/errors.js';
import { scrubSecrets, type Secret } from '../core/secret.js';
import type { OperationMeta } from './api-metadata-types.js';
import { ConcurrencyLimiter } from './concurrency-limiter.js';
import { KlaviyoApiError, KlaviyoNetworkError, UnknownOutcomeError, errorObjectsOf, scrubbedCause } from './errors.js';
import { OPERATIONS, SPEC_REVISION, type OperationId } from './generated/api-metadata.js';
import { attemptLine, retryLine, waitLine } from './journal.js';
import { joinIncluded, nextRequestPath, resourcesOf, type JsonApiResource } from './json-api.js';
import { RateGovernor, type LastRateLimit } from './rate-governor.js';
import { rateLimitBucket } from './rate-limit-buckets.js';
import { parseRateLimitHeaders, parseRetryAfterMs } from './rate-limit-headers.js';
import { checkRequiredQuery, expandPath, pathWithQuery, type Query } from './request-url.js';
import { classifyNetworkError, decideRetry, retryPolicy, type AttemptFailure, type RetryPolicy } from './retry-policy.js';

export type { JsonApiResource } from './json-api.js';
export type { LastRateLimit } from './rate-governor.js';

export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_TIMEOUT_MS = 60_000;

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

function operationMeta(operationId: string): OperationMeta {
  const meta = (OPERATIONS as Record<string, OperationMeta | undefined>)[operationId];
  if (!meta) throw new KlvError(`Unknown Klaviyo operation '${operationId}'`, { hint: 'This is a bug in klv.' });
  return meta;
}

function lowerCaseHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function parseBody(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Ctrl-C reaches the client as an abort; callers see InterruptedError (exit 130). */
function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  if (reason instanceof KlvError) return reason;
  return new InterruptedError();
}

type AttemptResult =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: unknown }
  | { kind: 'network'; error: unknown };

export class KlaviyoClient {
  readonly baseUrl: string;
  readonly revision: string;
  readonly #origin: string;
  readonly #basePath: string;
  readonly #apiKey: Secret;
  readonly #userAgent: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #journal?: (line: string) => void;
  readonly #signal?: AbortSignal;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  readonly #policy: RetryPolicy;
  readonly #governor: RateGovernor;
  readonly #limiter: ConcurrencyLimiter;
  readonly #stats: ClientStats = { requests: 0, retries: 0, rateLimited: 0, throttledMs: 0, byOperation: {} };

  constructor(o: KlaviyoClientOptions) {
    let base: URL;
    try {
      base = new URL(o.baseUrl);
    } catch {
      throw new UsageError(`The base URL '${o.baseUrl}' is not a URL`, 'Set it to https://a.klaviyo.com or the emulator address: klv config show');
    }
    this.baseUrl = o.baseUrl;
    this.#origin = base.origin;
    this.#basePath = base.pathname.replace(/\/+$/, '');
    this.#apiKey = o.apiKey;
    this.revision = o.revision ?? SPEC_REVISION;
    this.#userAgent = o.userAgent;
    this.#journal = o.journal;
    this.#signal = o.signal;
    this.#timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#clock = o.clock ?? systemClock;
    this.#policy = retryPolicy({
      maxThrottleRetries: o.maxRetries,
      maxOtherRetries: o.maxRetries,
      random: o.random,
    });
    const concurrency = o.concurrency ?? DEFAULT_CONCURRENCY;
    this.#limiter = new ConcurrencyLimiter(concurrency);
    this.#governor = new RateGovernor({ clock: this.#clock, mode: o.rateLimits ?? 'spec' });
    if (o.dispatcher) {
      this.#dispatcher = o.dispatcher;
      this.#ownsDispatcher = false;
    } else {
      this.#dispatcher = new Pool(this.#origin, {
        connections: concurrency,
        keepAliveTimeout: 30_000,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      this.#ownsDispatcher = true;
    }
  }

  /** The latest RateLimit-* headers seen (for `klv doctor`). */
  get lastRateLimit(): LastRateLimit | undefined {
    return this.#governor.lastRateLimit;
  }

  /** Counters for run summaries: a copy. */
  stats(): ClientStats {
    return structuredClone(this.#stats);
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /** Sends one operation; resolves with the 2xx response, throws a typed error otherwise. */
  async request<T = any>(operationId: OperationId, o: RequestOptions = {}): Promise<ApiResponse<T>> {
    const meta = operationMeta(operationId);
    checkRequiredQuery(meta, o.query);
    const target = pathWithQuery(this.#basePath + expandPath(meta, o.pathParams), o.query);
    return this.#send<T>(meta, target, o.body, o.idempotent ?? false, o.signal, o.maxRetryAfterMs);
  }

  /**
   * Every resource of a collection, page by page with the largest page size the endpoint allows,
   * following `links.next`. Yields as pages arrive, so memory stays flat whatever the size.
   * Each resource gets the `included` resources it references under `includedRelationships`.
   */
  async *paginate(operationId: OperationId, o: PaginateOptions = {}): AsyncGenerator<JsonApiResource> {
    const meta = operationMeta(operationId);
    if (o.limit !== undefined && o.limit <= 0) return;
    const query: Query = { ...o.query };
    const pageSize = this.#pageSizeFor(meta, o.pageSize ?? (query['page[size]'] as number | undefined), o.limit);
    if (pageSize !== undefined) query['page[size]'] = pageSize;
    checkRequiredQuery(meta, query);
    let target: string | undefined = pathWithQuery(this.#basePath + expandPath(meta, o.pathParams), query);
    let yielded = 0;
    while (target) {
      const response: ApiResponse<any> = await this.#send(meta, target, undefined, false, o.signal);
      const resources = joinIncluded(resourcesOf(response.body), response.body?.included);
      for (const resource of resources) {
        yield resource;
        yielded += 1;
        if (o.limit !== undefined && yielded >= o.limit) return;
      }
      target = nextRequestPath(response.body?.links?.next, this.baseUrl);
    }
  }

  /**
   * The page size to ask for: the endpoint's maximum (fewer round trips, fewer rate-limit tokens),
   * or less when `limit` needs fewer; none for endpoints without page[size].
   */
  #pageSizeFor(meta: OperationMeta, requested: number | string | undefined, limit: number | undefined): number | undefined {
    if (!meta.pageSize || meta.pageSize.max === null) return undefined;
    const { min, max } = meta.pageSize;
    if (requested !== undefined) {
      const n = Number(requested);
      if (!Number.isInteger(n) || n < min || n > max) {
        throw new UsageError(`Page size ${requested} is out of range for ${meta.operationId}: it allows ${min} to ${max}`);
      }
      return n;
    }
    return limit !== undefined && limit < max ? Math.max(min, limit) : max;
  }

  #scrub(text: string): string {
    return scrubSecrets(text, [this.#apiKey]);
  }

  #log(line: string): void {
    this.#journal?.(this.#scrub(line));
  }

  #opStats(operationId: string): OperationStats {
    return (this.#stats.byOperation[operationId] ??= { requests: 0, retries: 0, rateLimited: 0, throttledMs: 0 });
  }

  async #send<T>(
    meta: OperationMeta,
    target: string,
    body: unknown,
    idempotent: boolean,
    callSignal?: AbortSignal,
    maxRetryAfterMs?: number,
  ): Promise<ApiResponse<T>> {
    const signals = [this.#signal, callSignal].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    const method = meta.method;
    const op = meta.operationId;
    const req = { operationId: op, method, path: target.split('?')[0] };
    const opStats = this.#opStats(op);
    // The governor paces per Klaviyo bucket: the endpoint, or its slower tier for parameters
    // such as additional-fields[list]=profile_count.
    const bucket = rateLimitBucket(op, new URLSearchParams(target.split('?')[1] ?? ''))?.key ?? op;
    const payload = body === undefined || method === 'GET' ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {
      authorization: `Klaviyo-API-Key ${this.#apiKey.reveal()}`,
      revision: this.revision,
      accept: 'application/vnd.api+json',
      'user-agent': this.#userAgent,
    };
    if (payload !== undefined) headers['content-type'] = 'application/vnd.api+json';

    let throttleRetries = 0;
    let otherRetries = 0;
    let attempts = 0;
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      let result: AttemptResult;
      const release = await this.#limiter.acquire(signal).catch((e) => {
        throw signal?.aborted ? abortError(signal) : e;
      });
      try {
        const permit = await this.#governor.acquire(bucket, signal).catch((e) => {
          throw signal?.aborted ? abortError(signal) : e;
        });
        if (permit.waitedMs > 0) {
          this.#stats.throttledMs += permit.waitedMs;
          opStats.throttledMs += permit.waitedMs;
          this.#log(waitLine(method, target, permit.waitedMs, permit.reason));
        }
        attempts += 1;
        this.#stats.requests += 1;
        opStats.requests += 1;
        const started = this.#clock.now();
        result = await this.#attempt(method, target, headers, payload, signal);
        this.#governor.complete(bucket, result.kind === 'response' ? result.headers : undefined);
        if (signal?.aborted) throw abortError(signal);
        this.#log(
          attemptLine({
            method,
            pathAndQuery: target,
            result: result.kind === 'response' ? result.status : classifyNetworkError(result.error).code,
            ms: this.#clock.now() - started,
            remaining: result.kind === 'response' ? parseRateLimitHeaders(result.headers).remaining : undefined,
            retry: attempts - 1,
          }),
        );
      } finally {
        release();
      }

      if (result.kind === 'response' && result.status >= 200 && result.status < 300) {
        const h = parseRateLimitHeaders(result.headers);
        return {
          status: result.status,
          body: result.body as T,
          headers: result.headers,
          rateLimit: { limit: h.limit, remaining: h.remaining, reset: h.reset },
          requestId: requestIdOf(result.headers),
          attempts,
        };
      }

      const failure: AttemptFailure =
        result.kind === 'response'
          ? { kind: 'status', status: result.status, retryAfterMs: parseRetryAfterMs(result.headers, this.#clock.now()) }
          : { kind: 'network', error: result.error };
      if (
        failure.kind === 'status' &&
        failure.status === 429 &&
        maxRetryAfterMs !== undefined &&
        failure.retryAfterMs !== undefined &&
        failure.retryAfterMs > maxRetryAfterMs
      ) {
        // Too long to wait (a daily cap): Klaviyo did not process it, the caller decides.
        this.#stats.rateLimited += 1;
        opStats.rateLimited += 1;
        throw this.#failure(req, result, 'final', `429, Retry-After ${Math.ceil(failure.retryAfterMs / 1000)}s`, attempts);
      }
      const decision = decideRetry(failure, { method, idempotent, throttleRetries, otherRetries }, this.#policy);
      if (decision.retry) {
        if (decision.throttled) {
          throttleRetries += 1;
          this.#stats.rateLimited += 1;
          opStats.rateLimited += 1;
        }
        else otherRetries += 1;
        this.#stats.retries += 1;
        opStats.retries += 1;
        this.#log(retryLine(method, target, throttleRetries + otherRetries, decision.delayMs, decision.reason));
        if (decision.throttled) {
          // The whole operation waits, not just this request: the governor holds its bucket
          // and this request waits in the governor's queue like the others.
          this.#governor.throttled(bucket, decision.delayMs);
        } else {
          try {
            await this.#clock.sleep(decision.delayMs, signal);
          } catch (e) {
            throw signal?.aborted ? abortError(signal) : e;
          }
        }
        continue;
      }
      throw this.#failure(req, result, decision.outcome, decision.reason, attempts);
    }
  }

  async #attempt(
    method: string,
    target: string,
    headers: Record<string, string>,
    payload: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<AttemptResult> {
    // undici checks its headers timeout on a coarse clock (half-second ticks: a 1 s timeout fires
    // after 1.5 to 2 s), so a native timer makes the wait for the response (KLV_TIMEOUT) exact.
    // It fails the attempt with undici's own error, which the retry policy counts as "maybe sent".
    // The caller's signal is forwarded by hand: AbortSignal.any() per attempt would pile up
    // dependent signals on a long-lived one (abort-fanout.ts keeps one listener per signal).
    const attempt = new AbortController();
    const unlink = onAbort(signal, () => attempt.abort(signal?.reason));
    const timer = setTimeout(
      () => attempt.abort(new undiciErrors.HeadersTimeoutError(`Headers Timeout Error: no response within ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    try {
      const res = await this.#dispatcher.request({
        origin: this.#origin,
        path: target,
        method: method as Dispatcher.HttpMethod,
        headers,
        body: payload,
        signal: attempt.signal,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      // The response has begun: from here undici's body timeout applies, between chunks.
      clearTimeout(timer);
      const text = await res.body.text();
      return {
        kind: 'response',
        status: res.statusCode,
        headers: lowerCaseHeaders(res.headers as Record<string, string | string[] | undefined>),
        body: parseBody(text),
      };
    } catch (error) {
      return { kind: 'network', error };
    } finally {
      clearTimeout(timer);
      unlink();
    }
  }

  #failure(
    req: { operationId: string; method: string; path: string },
    result: AttemptResult,
    outcome: 'final' | 'exhausted' | 'unknown-outcome',
    reason: string,
    attempts: number,
  ): Error {
    if (result.kind === 'response') {
      const requestId = requestIdOf(result.headers);
      if (outcome === 'unknown-outcome') {
        return new UnknownOutcomeError({ ...req, reason: `status ${result.status}`, status: result.status, requestId });
      }
      // Error texts come from the server: scrubbed in case anything echoes the key back.
      const errors = errorObjectsOf(result.body).map((e) => ({
        ...e,
        detail: e.detail === undefined ? undefined : this.#scrub(String(e.detail)),
        title: e.title === undefined ? undefined : this.#scrub(String(e.title)),
      }));
      const retryAfterMs = result.status === 429 ? parseRetryAfterMs(result.headers, this.#clock.now()) : undefined;
      return new KlaviyoApiError({ ...req, status: result.status, errors, requestId, attempts, retryAfterMs });
    }
    const info = classifyNetworkError(result.error);
    const cause = scrubbedCause(result.error, (t) => this.#scrub(t));
    const message = this.#scrub(result.error instanceof Error ? result.error.message : String(result.error));
    if (outcome === 'unknown-outcome') {
      return new UnknownOutcomeError({ ...req, reason: `${info.code} (${message})`, cause });
    }
    return new KlaviyoNetworkError({
      ...req,
      code: info.code,
      reason: outcome === 'exhausted' ? `${message} [${reason}]` : message,
      attempts,
      baseUrl: this.baseUrl,
      cause,
    });
  }
}

function requestIdOf(headers: Record<string, string>): string | undefined {
  return headers['x-request-id'] ?? headers['cf-ray'];
}
