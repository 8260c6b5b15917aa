/**
 * The HTTP ends of the pipeline: reading a request body, turning a handler's result into the
 * bytes that go out, and sending them. A response is first built as an Outgoing (status,
 * headers, body bytes) so that quirks can change it at the byte level (a body cut short, an
 * HTML page instead of JSON) before it is sent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, errorDocument } from './api-error.js';
import type { HandlerResult } from '../handlers/types.js';

/** Request bodies above this are refused (Klaviyo's largest documented payload is 5 MB). */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;
export const JSON_API = 'application/vnd.api+json';

export interface Outgoing {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** A result as it goes out: a JSON:API body (none for 204) with its content type and length. */
export function serialize(status: number, body: unknown, headers: Record<string, string> = {}): Outgoing {
  const text = body === undefined || status === 204 ? '' : JSON.stringify(body);
  const bytes = Buffer.from(text, 'utf8');
  return {
    status,
    headers: { ...(text ? { 'content-type': JSON_API, 'content-length': String(bytes.length) } : {}), ...headers },
    body: bytes,
  };
}

export function send(res: ServerResponse, out: Outgoing): void {
  // A client that gave up (a timeout during a slow fault or latency) leaves nothing to answer.
  if (res.destroyed || res.writableEnded || res.socket?.destroyed) return;
  res.writeHead(out.status, out.headers);
  res.end(out.body);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, serialize(status, body, headers));
}

export function errorResult(err: unknown): HandlerResult {
  if (err instanceof ApiError) return { status: err.status, body: errorDocument(err), headers: err.headers };
  const detail = `Emulator failure: ${(err as Error)?.message ?? String(err)}`;
  return { status: 500, body: errorDocument(new ApiError(500, 'error', detail)) };
}

/** The body as JSON when it is JSON (a refused request may not have been parsed), else as text. */
export function bodyForRecord(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return raw.toString('utf8');
  }
}

export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new ApiError(400, 'invalid', `The request body is not valid JSON: ${(err as Error).message}`, { source: { pointer: '/' } });
  }
}

export async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      // Stop reading; the response still goes out, then the connection closes.
      req.unpipe();
      req.pause();
      throw new Error(`The request body is larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return size === 0 ? null : Buffer.concat(chunks);
}
