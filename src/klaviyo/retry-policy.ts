/**
 * When to send a request again, and after how long. Pure: no I/O, no clock, randomness injected.
 *
 * The rule that matters most: a request that may already have been applied is re-sent only when
 * repeating it is harmless (GET, DELETE, or a write the caller marked idempotent). A POST that
 * lost its connection after it was written, or got a 5xx, may have created the profile or queued
 * the job; sending it again could do it twice, so the caller gets an "outcome unknown" error and
 * can record the row as uncertain instead.
 */

/** Server-side failures worth another try (524: Cloudflare timeout in front of Klaviyo). */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504, 524]);

/** Connection never established: the request cannot have reached Klaviyo. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Connection broke or timed out after the request may have been written. */
const MAYBE_SENT_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

export interface RetryPolicyOptions {
  /** Retries after 429 (default 8). */
  maxThrottleRetries?: number;
  /** Retries after 5xx and network failures (default 5). */
  maxOtherRetries?: number;
  /** Backoff base and cap for 5xx/network failures. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Backoff base and cap after a 429 (the wait is at least Retry-After). */
  throttleBaseDelayMs?: number;
  throttleMaxDelayMs?: number;
  /** Retries after Klaviyo's edge (Cloudflare) stopped a request (default 3), and their backoff base. */
  maxEdgeRetries?: number;
  edgeBaseDelayMs?: number;
  /** [0, 1): Math.random by default; tests pass a fixed sequence. */
  random?: () => number;
}

export type RetryPolicy = Required<RetryPolicyOptions>;

export function retryPolicy(o: RetryPolicyOptions = {}): RetryPolicy {
  return {
    maxThrottleRetries: o.maxThrottleRetries ?? 8,
    maxOtherRetries: o.maxOtherRetries ?? 5,
    baseDelayMs: o.baseDelayMs ?? 500,
    maxDelayMs: o.maxDelayMs ?? 30_000,
    throttleBaseDelayMs: o.throttleBaseDelayMs ?? 1_000,
    throttleMaxDelayMs: o.throttleMaxDelayMs ?? 60_000,
    maxEdgeRetries: o.maxEdgeRetries ?? 3,
    edgeBaseDelayMs: o.edgeBaseDelayMs ?? 2_000,
    random: o.random ?? Math.random,
  };
}

export type AttemptFailure =
  | { kind: 'status'; status: number; retryAfterMs?: number }
  | { kind: 'network'; error: unknown }
  /**
   * A 2xx that is not the document the operation promises (an HTML page, JSON cut short, an
   * empty body): retried like a 5xx. Klaviyo may have processed it (2xx), so a write that is
   * not safe to repeat has an unknown outcome.
   */
  | { kind: 'malformed'; status: number; problem: string }
  /** Stopped at Klaviyo's edge (a Cloudflare challenge): never reached the API, any method may be re-sent. */
  | { kind: 'edge-blocked'; status: number };

export interface RetryState {
  method: string;
  /** The caller vouches that repeating this write is harmless. */
  idempotent?: boolean;
  /** Retries already made after 429s / after other failures / after edge blocks. */
  throttleRetries: number;
  otherRetries: number;
  edgeRetries?: number;
}

export type RetryDecision =
  | { retry: true; delayMs: number; throttled: boolean; edge?: boolean; reason: string }
  | {
      retry: false;
      /**
       * final: not a retryable failure; exhausted: retries used up;
       * unknown-outcome: may have been applied and is not safe to repeat.
       */
      outcome: 'final' | 'exhausted' | 'unknown-outcome';
      reason: string;
    };

export function isSafeToRepeat(method: string, idempotent?: boolean): boolean {
  if (idempotent) return true;
  const m = method.toUpperCase();
  return m === 'GET' || m === 'HEAD' || m === 'DELETE' || m === 'PUT' || m === 'OPTIONS';
}

export interface NetworkErrorInfo {
  /** The most specific code found (ECONNRESET, UND_ERR_SOCKET...), or 'ERROR'. */
  code: string;
  /** A transient failure worth another try. */
  transient: boolean;
  /** The request may have reached Klaviyo (and been applied). */
  maybeSent: boolean;
}

function codesOf(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const inner of errors) codes.push(...codesOf(inner));
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

export function classifyNetworkError(err: unknown): NetworkErrorInfo {
  const codes = codesOf(err);
  const message = err instanceof Error ? err.message : String(err);
  // Most specific first: undici wraps ECONNRESET in UND_ERR_SOCKET, report the socket code.
  const maybeSent = codes.find((c) => MAYBE_SENT_CODES.has(c));
  if (maybeSent) return { code: maybeSent, transient: true, maybeSent: true };
  if (/other side closed|socket hang up/i.test(message)) return { code: codes[0] ?? 'ECONNRESET', transient: true, maybeSent: true };
  const notSent = codes.find((c) => NOT_SENT_CODES.has(c));
  if (notSent) return { code: notSent, transient: true, maybeSent: false };
  if (codes.includes('ENOTFOUND')) return { code: 'ENOTFOUND', transient: false, maybeSent: false };
  // Anything else (a bug, an unexpected library error): not retried, and it may have been sent.
  return { code: codes[0] ?? 'ERROR', transient: false, maybeSent: true };
}

/** Capped exponential backoff with full jitter: uniform in [0, min(cap, base * 2^retry)). */
export function backoffMs(retry: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(retry, 30));
  return Math.floor(random() * ceiling);
}

export function decideRetry(failure: AttemptFailure, state: RetryState, policy: RetryPolicy): RetryDecision {
  const safe = isSafeToRepeat(state.method, state.idempotent);

  if (failure.kind === 'status' && failure.status === 429) {
    // Klaviyo did not process a throttled request, so any method may be re-sent.
    if (state.throttleRetries >= policy.maxThrottleRetries) {
      return { retry: false, outcome: 'exhausted', reason: `429 after ${state.throttleRetries} retries` };
    }
    const backoff = backoffMs(state.throttleRetries, policy.throttleBaseDelayMs, policy.throttleMaxDelayMs, policy.random);
    const delayMs = Math.max(failure.retryAfterMs ?? 0, backoff);
    const why = failure.retryAfterMs !== undefined ? `429, Retry-After ${Math.ceil(failure.retryAfterMs / 1000)}s` : '429';
    return { retry: true, delayMs, throttled: true, reason: why };
  }

  if (failure.kind === 'edge-blocked') {
    const done = state.edgeRetries ?? 0;
    if (done >= policy.maxEdgeRetries) {
      return { retry: false, outcome: 'exhausted', reason: `blocked at Klaviyo's edge after ${done} retries` };
    }
    // A challenge does not clear in milliseconds: start at a few seconds.
    const ceiling = Math.min(policy.maxDelayMs, policy.edgeBaseDelayMs * 2 ** done);
    const delayMs = Math.floor(ceiling / 2 + policy.random() * (ceiling / 2));
    return { retry: true, delayMs, throttled: false, edge: true, reason: `${failure.status} from Klaviyo's edge` };
  }

  let reason: string;
  if (failure.kind === 'malformed') {
    reason = `${failure.status} with ${failure.problem}`;
    if (!safe) return { retry: false, outcome: 'unknown-outcome', reason };
  } else if (failure.kind === 'status') {
    if (!RETRYABLE_STATUSES.has(failure.status)) {
      return { retry: false, outcome: 'final', reason: String(failure.status) };
    }
    reason = String(failure.status);
    if (!safe) return { retry: false, outcome: 'unknown-outcome', reason };
  } else {
    const info = classifyNetworkError(failure.error);
    reason = info.code;
    if (!info.transient) {
      return { retry: false, outcome: info.maybeSent && !safe ? 'unknown-outcome' : 'final', reason };
    }
    if (info.maybeSent && !safe) return { retry: false, outcome: 'unknown-outcome', reason };
  }

  if (state.otherRetries >= policy.maxOtherRetries) {
    return { retry: false, outcome: 'exhausted', reason: `${reason} after ${state.otherRetries} retries` };
  }
  const delayMs = backoffMs(state.otherRetries, policy.baseDelayMs, policy.maxDelayMs, policy.random);
  return { retry: true, delayMs, throttled: false, reason };
}
