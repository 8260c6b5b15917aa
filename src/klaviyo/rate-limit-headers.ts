/**
 * Reading Klaviyo's rate-limit response headers. Klaviyo sends `RateLimit-Limit`,
 * `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the window resets) on every
 * non-429 response, describing the steady (60 s) window; a 429 carries `Retry-After` instead.
 * The IETF draft form (`10, 10;w=1, 1000;w=60`) is accepted too, in case Klaviyo adopts it.
 */

export interface RateLimitHeaders {
  /** Requests allowed in the steady window. */
  limit?: number;
  /** Burst-window limit, only when the header names a 1-second window. */
  burstLimit?: number;
  remaining?: number;
  /** Seconds until the window resets. */
  reset?: number;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === wanted && v !== undefined) return Array.isArray(v) ? v.join(', ') : v;
  }
  return undefined;
}

function firstNumber(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /-?\d+(\.\d+)?/.exec(text);
  if (!m) return undefined;
  const n = Number(m[0]);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Parses `RateLimit-Limit`, which may be a bare number or a list of `n;w=seconds` policies. */
function parseLimit(text: string | undefined): Pick<RateLimitHeaders, 'limit' | 'burstLimit'> {
  if (text === undefined) return {};
  const out: Pick<RateLimitHeaders, 'limit' | 'burstLimit'> = {};
  let bare: number | undefined;
  for (const item of text.split(',')) {
    const n = firstNumber(item.split(';')[0]);
    if (n === undefined) continue;
    const w = /;\s*w\s*=\s*(\d+)/i.exec(item);
    if (!w) bare ??= n;
    else if (Number(w[1]) === 1) out.burstLimit = n;
    else if (Number(w[1]) === 60) out.limit = n;
  }
  if (out.limit === undefined && bare !== undefined) out.limit = bare;
  return out;
}

/** Case-insensitive: undici lower-cases names, other dispatchers and mocks may not. */
export function parseRateLimitHeaders(headers: Record<string, string | string[] | undefined>): RateLimitHeaders {
  const out: RateLimitHeaders = { ...parseLimit(header(headers, 'ratelimit-limit')) };
  const remaining = firstNumber(header(headers, 'ratelimit-remaining'));
  if (remaining !== undefined) out.remaining = Math.floor(remaining);
  const reset = firstNumber(header(headers, 'ratelimit-reset'));
  if (reset !== undefined) out.reset = reset;
  return out;
}

/**
 * `Retry-After` in milliseconds: either delta-seconds or an HTTP date (measured against `now`).
 * Undefined when absent or unreadable.
 */
export function parseRetryAfterMs(
  headers: Record<string, string | string[] | undefined>,
  now: number,
): number | undefined {
  const raw = header(headers, 'retry-after')?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Math.round(Number(raw) * 1000);
  const date = Date.parse(raw);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
