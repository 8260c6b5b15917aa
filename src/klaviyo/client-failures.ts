/**
 * Turning a failed request into the typed error callers see, with words that say what failed,
 * why, and what to do next. Pure: the client passes what it knows; texts from the server are
 * scrubbed by the `scrub` function it hands over (the API key never leaves in an error).
 */
import { edgePageTitle } from './response-check.js';
import {
  KlaviyoApiError,
  KlaviyoNetworkError,
  KlaviyoResponseError,
  UnknownOutcomeError,
  CursorRejectedError,
  errorObjectsOf,
  refusesCursor,
  scrubbedCause,
  type RequestDescription,
} from './errors.js';
import { classifyNetworkError } from './retry-policy.js';

export type AttemptResult =
  | { kind: 'response'; status: number; headers: Record<string, string>; text: string; body: unknown }
  | { kind: 'malformed'; status: number; headers: Record<string, string>; text: string; summary: string }
  | { kind: 'edge-blocked'; status: number; headers: Record<string, string>; text: string }
  | { kind: 'network'; error: unknown };

export interface FailureContext {
  req: RequestDescription;
  /** The path and query sent (to recognise a refused page cursor). */
  target: string;
  outcome: 'final' | 'exhausted' | 'unknown-outcome';
  reason: string;
  attempts: number;
  baseUrl: string;
  retryAfterMs?: number;
  scrub: (text: string) => string;
}

export function requestIdOf(headers: Record<string, string>): string | undefined {
  return headers['x-request-id'] ?? headers['cf-ray'];
}

const tries = (attempts: number) => (attempts > 1 ? ` (${attempts} attempts)` : '');

export function failureError(result: AttemptResult, c: FailureContext): Error {
  const { req } = c;
  if (result.kind === 'network') {
    const info = classifyNetworkError(result.error);
    const cause = scrubbedCause(result.error, c.scrub);
    const message = c.scrub(result.error instanceof Error ? result.error.message : String(result.error));
    if (c.outcome === 'unknown-outcome') return new UnknownOutcomeError({ ...req, reason: `${info.code} (${message})`, cause });
    return new KlaviyoNetworkError({
      ...req,
      code: info.code,
      reason: c.outcome === 'exhausted' ? `${message} [${c.reason}]` : message,
      attempts: c.attempts,
      baseUrl: c.baseUrl,
      cause,
    });
  }
  const requestId = requestIdOf(result.headers);
  if (c.outcome === 'unknown-outcome') {
    const reason = result.kind === 'malformed' ? `status ${result.status} and ${result.summary}` : `status ${result.status}`;
    return new UnknownOutcomeError({ ...req, reason, status: result.status, requestId });
  }
  if (result.kind === 'malformed') {
    return new KlaviyoResponseError({
      ...req,
      kind: 'malformed',
      status: result.status,
      attempts: c.attempts,
      requestId,
      message: `${req.method} ${req.path} answered ${result.status} with ${result.summary}${tries(c.attempts)}`,
      hint:
        'Something between klv and Klaviyo (a proxy, a CDN, a captive portal) answered instead of Klaviyo, or the answer was cut short; klv used none of it. ' +
        `Check the base URL (${c.baseUrl}) and any proxy (klv config show), then run again.`,
    });
  }
  if (result.kind === 'edge-blocked') {
    const title = edgePageTitle(result.text);
    return new KlaviyoResponseError({
      ...req,
      kind: 'edge-blocked',
      status: result.status,
      attempts: c.attempts,
      requestId,
      message: `${req.method} ${req.path} was blocked by Klaviyo's edge network before reaching the API (${result.status}${result.headers['cf-mitigated'] ? `, cf-mitigated: ${result.headers['cf-mitigated']}` : ''}${title ? `, "${title}"` : ''}${requestId ? `, ray ${requestId}` : ''})${tries(c.attempts)}`,
      hint:
        "This is not about the API key or its scopes: Klaviyo's CDN (Cloudflare) challenged the request, as it does for traffic it finds suspicious (some cloud, VPN or proxy addresses). " +
        'Try again later or from another network; contact Klaviyo support with the cf-ray id if it persists.',
    });
  }
  // Error texts come from the server: scrubbed in case anything echoes the key back.
  const errors = errorObjectsOf(result.body).map((e) => ({
    ...e,
    detail: e.detail === undefined ? undefined : c.scrub(String(e.detail)),
    title: e.title === undefined ? undefined : c.scrub(String(e.title)),
  }));
  const Api = refusesCursor(result.status, errors, c.target) ? CursorRejectedError : KlaviyoApiError;
  return new Api({ ...req, status: result.status, errors, requestId, attempts: c.attempts, retryAfterMs: c.retryAfterMs });
}

/** A 429 asking for a longer wait than klv allows: the run stops instead of sleeping in silence. */
export function retryAfterTooLong(req: RequestDescription, waitMs: number, ceilingMs: number, now: number, attempts: number): KlaviyoResponseError {
  const until = new Date(now + waitMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return new KlaviyoResponseError({
    ...req,
    kind: 'retry-after-too-long',
    status: 429,
    attempts,
    message: `${req.method} ${req.path}: Klaviyo asked klv to wait ${humanSeconds(waitMs)} before sending again (until ${until}), longer than klv waits (${humanSeconds(ceilingMs)}); klv stopped instead of waiting`,
    hint: `Run again after ${until}, or let klv wait longer with KLV_MAX_RETRY_AFTER=SECONDS. A daily cap resets at 00:00 UTC.`,
  });
}

export function humanSeconds(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/**
 * Klaviyo's 429 detail says how long: "Request was throttled. Expected available in 7 seconds."
 * Used when the Retry-After header is missing (Klaviyo's CDN has been seen to drop it).
 */
export function retryAfterFromDetail(body: unknown): number | undefined {
  for (const e of errorObjectsOf(body)) {
    const m = /expected available in (\d+(?:\.\d+)?) seconds?/i.exec(String(e.detail ?? ''));
    if (m) return Math.round(Number(m[1]) * 1000);
  }
  return undefined;
}
