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
import { failureError, retryAfterFromDetail, retryAfterTooLong, requestIdOf, type AttemptResult } from './client-failures.js';
import { CursorRejectedError, KlaviyoResponseError } from './errors.js';
import { OPERATIONS, SPEC_REVISION, type OperationId } from './generated/api-metadata.js';
import { attemptLine, retryLine, waitLine } from './journal.js';
import { joinIncluded, nextRequestPath, resourcesOf, type JsonApiDocument, type JsonApiResource } from './json-api.js';
import { PageChain } from './pagination.js';
import { RateGovernor, type LastRateLimit } from './rate-governor.js';
import { rateLimitBucket } from './rate-limit-buckets.js';
import { parseRateLimitHeaders, parseRetryAfterMs } from './rate-limit-headers.js';
import { checkRequiredQuery, expandPath, pathWithQuery, type Query } from './request-url.js';
import { DEFAULT_MAX_RESPONSE_BYTES, ResponseTooLargeError, readBodyText } from './response-body.js';
import { checkDocument, isEdgeBlock, parseOrText } from './response-check.js';
import type { OperationAnswering, ResponseOf } from './responses.js';
import { classifyNetworkError, decideRetry, retryPolicy, type AttemptFailure, type RetryPolicy } from './retry-policy.js';

export type { JsonApiResource } from './json-api.js';
export type { LastRateLimit } from './rate-governor.js';
export type { OperationAnswering, ResponseOf } from './responses.js';
export type { ManyOperation, NoDocumentOperation, OneOperation, OneOrNullOperation } from './generated/api-responses.js';
export * from './client-types.js';
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_MAX_RETRY_AFTER_MS,
  DEFAULT_TIMEOUT_MS,
  type ApiResponse,
  type ClientStats,
  type KlaviyoClientOptions,
  type OperationStats,
  type PaginateOptions,
  type RequestOptions,
} from './client-types.js';


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

/** Ctrl-C reaches the client as an abort; callers see InterruptedError (exit 130). */
function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  if (reason instanceof KlvError) return reason;
  return new InterruptedError();
}

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
  readonly #maxRetryAfterMs: number;
  readonly #maxResponseBytes: number;
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
    this.#maxRetryAfterMs = o.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
    this.#maxResponseBytes = o.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.#clock = o.clock ?? systemClock;
    this.#policy = retryPolicy({
      maxThrottleRetries: o.maxRetries,
      maxOtherRetries: o.maxRetries,
      maxEdgeRetries: o.maxRetries === undefined ? undefined : Math.min(o.maxRetries, 3),
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

  /**
   * Sends one operation; resolves with the 2xx response, throws a typed error otherwise. The body
   * is the operation's document (ResponseOf, from the spec), which every 2xx answer is checked
   * against before it gets here (response-check.ts).
   */
  request<Op extends OperationId>(operationId: Op, o?: RequestOptions): Promise<ApiResponse<ResponseOf<Op>>>;
  /**
   * The same, read through `View`, the part of the document the caller reads (`{ data: { id:
   * string } }`): accepted only where the operation's document has that shape (responses.ts).
   */
  request<View>(operationId: OperationAnswering<View>, o?: RequestOptions): Promise<ApiResponse<View>>;
  async request(operationId: OperationId, o: RequestOptions = {}): Promise<ApiResponse<unknown>> {
    const meta = operationMeta(operationId);
    checkRequiredQuery(meta, o.query);
    const target = pathWithQuery(this.#basePath + expandPath(meta, o.pathParams), o.query);
    return this.#send(meta, target, o.body, o.idempotent ?? false, o.signal, o.maxRetryAfterMs);
  }

  /**
   * Every resource of a collection, page by page with the largest page size the endpoint allows,
   * following `links.next`. Yields as pages arrive, so memory stays flat whatever the size.
   * Each resource gets the `included` resources it references under `includedRelationships`.
   *
   * The chain is checked as it goes (pagination.ts): a `links.next` already followed is an
   * error, not an endless loop; a page cursor Klaviyo refuses (expired) restarts the chain
   * (from `restartQuery`, else the first page), and no resource is yielded twice.
   */
  async *paginate(operationId: OperationId, o: PaginateOptions = {}): AsyncGenerator<JsonApiResource> {
    const meta = operationMeta(operationId);
    if (o.limit !== undefined && o.limit <= 0) return;
    const pageSize = this.#pageSizeFor(meta, o.pageSize ?? (o.query?.['page[size]'] as number | undefined), o.limit);
    const targetOf = (q: Query | undefined): string => {
      const query: Query = { ...q };
      if (pageSize !== undefined) query['page[size]'] = pageSize;
      checkRequiredQuery(meta, query);
      return pathWithQuery(this.#basePath + expandPath(meta, o.pathParams), query);
    };
    const first = targetOf(o.query);
    const chain = new PageChain(first, { seen: o.seen });
    const req = { operationId: meta.operationId, method: meta.method, path: first.split('?')[0] };
    let target: string | undefined = first;
    let yielded = 0;
    while (target) {
      let doc: JsonApiDocument;
      let response: ApiResponse<unknown>;
      try {
        response = await this.#send(meta, target, undefined, false, o.signal);
        // A collection's 2xx passed the document check (response-check.ts): it has `data`.
        doc = response.body as JsonApiDocument;
      } catch (err) {
        if (!(err instanceof CursorRejectedError)) throw err;
        const from = o.restartQuery ? targetOf(o.restartQuery()) : first;
        const verdict = chain.restart(from);
        if (!verdict.ok) {
          throw new KlaviyoResponseError({
            ...req,
            kind: 'cursor-refused',
            status: 400,
            message: `${req.method} ${req.path}: Klaviyo refused the page cursor of this read (${err.detail ?? err.message}) and klv could not read on: ${verdict.why}`,
            hint: 'Nothing was written from the unfinished read. Run the command again; if Klaviyo keeps refusing its own cursors, report it with --verbose output.',
          });
        }
        this.#log(`HTTP ${meta.method} page cursor refused (${err.detail ?? err.status}): reading again from ${from === first ? 'the first page' : 'where the read stood'}, skipping what was already read`);
        target = verdict.target;
        continue;
      }
      chain.pageReceived();
      const resources = joinIncluded(resourcesOf(doc), doc.included);
      for (const resource of resources) {
        if (!chain.admit(resource.id)) continue;
        yield resource;
        yielded += 1;
        if (o.limit !== undefined && yielded >= o.limit) return;
      }
      const next = nextRequestPath(doc.links?.next, this.baseUrl);
      if (next === undefined) return;
      const verdict = chain.follow(next);
      if (!verdict.ok) {
        throw new KlaviyoResponseError({
          ...req,
          kind: 'pagination-stuck',
          status: response.status,
          requestId: response.requestId,
          message: `${req.method} ${req.path}: Klaviyo's pagination does not advance: ${verdict.why}; klv stopped instead of reading it again`,
          hint: 'Nothing was written from the unfinished read. Run the command again later; if it happens again, report it with --verbose output (a proxy may be rewriting links).',
        });
      }
      target = verdict.target;
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

  async #send(
    meta: OperationMeta,
    target: string,
    body: unknown,
    idempotent: boolean,
    callSignal?: AbortSignal,
    maxRetryAfterMs?: number,
  ): Promise<ApiResponse<unknown>> {
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
    let edgeRetries = 0;
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
        result = await this.#attempt(meta, method, target, headers, payload, signal).catch((e: unknown) => {
          this.#governor.complete(bucket); // a body too large to read: no answer to learn from
          throw e;
        });
        this.#governor.complete(bucket, result.kind === 'network' ? undefined : result.headers);
        if (signal?.aborted) throw abortError(signal);
        this.#log(
          attemptLine({
            method,
            pathAndQuery: target,
            result: result.kind === 'network' ? classifyNetworkError(result.error).code : result.kind === 'response' ? result.status : `${result.status} (${result.kind})`,
            ms: this.#clock.now() - started,
            remaining: result.kind === 'network' ? undefined : parseRateLimitHeaders(result.headers).remaining,
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
          body: result.body,
          headers: result.headers,
          rateLimit: { limit: h.limit, remaining: h.remaining, reset: h.reset },
          requestId: requestIdOf(result.headers),
          attempts,
        };
      }

      const retryAfterMs =
        result.kind === 'response' && result.status === 429
          ? (parseRetryAfterMs(result.headers, this.#clock.now()) ?? retryAfterFromDetail(result.body))
          : undefined;
      const failure: AttemptFailure =
        result.kind === 'network'
          ? { kind: 'network', error: result.error }
          : result.kind === 'malformed'
            ? { kind: 'malformed', status: result.status, problem: result.summary }
            : result.kind === 'edge-blocked'
              ? { kind: 'edge-blocked', status: result.status }
              : { kind: 'status', status: result.status, retryAfterMs };
      if (failure.kind === 'status' && failure.status === 429 && retryAfterMs !== undefined) {
        if (maxRetryAfterMs !== undefined && retryAfterMs > maxRetryAfterMs) {
          // Too long to wait (a daily cap): Klaviyo did not process it, the caller decides.
          this.#stats.rateLimited += 1;
          opStats.rateLimited += 1;
          throw this.#failure(req, target, result, 'final', `429, Retry-After ${Math.ceil(retryAfterMs / 1000)}s`, attempts, retryAfterMs);
        }
        if (retryAfterMs > this.#maxRetryAfterMs) {
          this.#stats.rateLimited += 1;
          opStats.rateLimited += 1;
          throw retryAfterTooLong(req, retryAfterMs, this.#maxRetryAfterMs, this.#clock.now(), attempts);
        }
      }
      const decision = decideRetry(failure, { method, idempotent, throttleRetries, otherRetries, edgeRetries }, this.#policy);
      if (decision.retry) {
        if (decision.throttled) {
          throttleRetries += 1;
          this.#stats.rateLimited += 1;
          opStats.rateLimited += 1;
        } else if (decision.edge) edgeRetries += 1;
        else otherRetries += 1;
        this.#stats.retries += 1;
        opStats.retries += 1;
        this.#log(retryLine(method, target, throttleRetries + otherRetries + edgeRetries, decision.delayMs, decision.reason));
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
      throw this.#failure(req, target, result, decision.outcome, decision.reason, attempts, retryAfterMs);
    }
  }

  /**
   * One attempt. The answer is classified here, once for every reader and writer: a 2xx that is
   * not the document the operation promises is `malformed` (response-check.ts), a challenge from
   * Klaviyo's CDN is `edge-blocked`, a body past the size limit fails the request at once.
   */
  async #attempt(
    meta: OperationMeta,
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
    let status = 0;
    let responseHeaders: Record<string, string> = {};
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
      status = res.statusCode;
      responseHeaders = lowerCaseHeaders(res.headers as Record<string, string | string[] | undefined>);
      const text = await readBodyText(res.body, this.#maxResponseBytes, responseHeaders['content-length']);
      if (isEdgeBlock(status, responseHeaders, text)) return { kind: 'edge-blocked', status, headers: responseHeaders, text };
      if (status >= 200 && status < 300) {
        const check = checkDocument(status, responseHeaders, text, meta);
        if (!check.ok) return { kind: 'malformed', status, headers: responseHeaders, text: '', summary: check.summary };
        return { kind: 'response', status, headers: responseHeaders, text: '', body: check.body };
      }
      return { kind: 'response', status, headers: responseHeaders, text: '', body: parseOrText(text) };
    } catch (error) {
      if (error instanceof ResponseTooLargeError) {
        throw new KlaviyoResponseError({
          operationId: meta.operationId,
          method,
          path: target.split('?')[0],
          kind: 'too-large',
          status,
          requestId: requestIdOf(responseHeaders),
          message: `${method} ${target.split('?')[0]} answered ${status} with a body larger than klv accepts (${error.declared !== undefined ? `${error.declared} bytes announced` : `over ${error.limit} bytes`}): it was not read`,
          hint: `Klaviyo's pages are far smaller; something in between may be sending a file or a runaway answer. Check the base URL and any proxy; KLV_MAX_RESPONSE_MB raises the limit (now ${Math.round(error.limit / 1048576)} MB).`,
        });
      }
      return { kind: 'network', error };
    } finally {
      clearTimeout(timer);
      unlink();
    }
  }

  #failure(
    req: { operationId: string; method: string; path: string },
    target: string,
    result: AttemptResult,
    outcome: 'final' | 'exhausted' | 'unknown-outcome',
    reason: string,
    attempts: number,
    retryAfterMs?: number,
  ): Error {
    return failureError(result, {
      req,
      target,
      outcome,
      reason,
      attempts,
      baseUrl: this.baseUrl,
      retryAfterMs,
      scrub: (t) => this.#scrub(t),
    });
  }
}
