/**
 * Exchange recording (`record` option or KLV_EMULATOR_RECORD): one JSON line per /api exchange,
 * so a test can validate every request klv made and every response it got against the spec.
 * Written synchronously, so the line is on disk before the client sees the response. The
 * Authorization header is never recorded.
 */
import { appendFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';

export interface RecordedExchange {
  operationId: string | null;
  method: string;
  path: string;
  query: Record<string, string>;
  requestHeaders: { revision?: string; 'content-type'?: string; accept?: string };
  requestBody: unknown;
  status: number;
  responseBody: unknown;
  /** Set by a `drop-after` fault: the request was handled but the client never got this response. */
  dropped?: true;
  /**
   * The quirks (http/quirks.ts) that changed this exchange. When one sent something other than
   * the JSON result (an HTML page, a cut or empty body), `responseBody` is the text sent (null if empty).
   */
  quirks?: string[];
}

export function recordedHeaders(headers: IncomingHttpHeaders): RecordedExchange['requestHeaders'] {
  const out: RecordedExchange['requestHeaders'] = {};
  for (const name of ['revision', 'content-type', 'accept'] as const) {
    const v = headers[name];
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}

export function recordExchange(file: string, exchange: RecordedExchange): void {
  appendFileSync(file, `${JSON.stringify(exchange)}\n`);
}
