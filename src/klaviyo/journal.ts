/**
 * The request journal (`--verbose` or KLV_DEBUG=http): one line per attempt, plus a line for
 * every rate-limit hold and every retry. Lines carry method, path, query, status, timing and
 * rate-limit state, never headers: the Authorization header is the API key.
 *
 *   HTTP GET /api/profiles?page[size]=100 -> 200 123ms remaining=749 retry=0
 *   HTTP GET /api/profiles?page[size]=100 waited 850ms for rate limit (burst limit 67/1s)
 *   HTTP GET /api/profiles?page[size]=100 retry 1 in 1200ms after 503
 */

const MAX_TARGET_LENGTH = 400;

/**
 * The path and query as a person reads them: percent-escapes decoded (the filter is sent
 * encoded), long cursors shortened.
 */
export function displayTarget(pathAndQuery: string): string {
  let text: string;
  try {
    text = decodeURIComponent(pathAndQuery);
  } catch {
    text = pathAndQuery;
  }
  return text.length > MAX_TARGET_LENGTH ? `${text.slice(0, MAX_TARGET_LENGTH - 1)}…` : text;
}

export interface AttemptRecord {
  method: string;
  pathAndQuery: string;
  /** HTTP status, or the network error code when there was no answer. */
  result: number | string;
  ms: number;
  remaining?: number;
  /** 0 for the first attempt. */
  retry: number;
  requestId?: string;
}

export function attemptLine(a: AttemptRecord): string {
  const parts = [`HTTP ${a.method} ${displayTarget(a.pathAndQuery)} -> ${a.result} ${Math.round(a.ms)}ms`];
  if (a.remaining !== undefined) parts.push(`remaining=${a.remaining}`);
  parts.push(`retry=${a.retry}`);
  if (a.requestId) parts.push(`request-id=${a.requestId}`);
  return parts.join(' ');
}

export function waitLine(method: string, pathAndQuery: string, waitedMs: number, reason?: string): string {
  return `HTTP ${method} ${displayTarget(pathAndQuery)} waited ${Math.round(waitedMs)}ms for rate limit${reason ? ` (${reason})` : ''}`;
}

export function retryLine(method: string, pathAndQuery: string, retry: number, delayMs: number, reason: string): string {
  return `HTTP ${method} ${displayTarget(pathAndQuery)} retry ${retry} in ${Math.round(delayMs)}ms after ${reason}`;
}
