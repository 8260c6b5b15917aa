/**
 * Reading a response body without trusting its size. Klaviyo's largest pages are a few MB
 * (100 profiles with every property); a body far past that is not a page klv can use (a proxy
 * streaming a file, a runaway answer), and buffering it whole could exhaust memory. So the body
 * is read chunk by chunk and abandoned as soon as it passes the limit.
 */
import type { Readable } from 'node:stream';

/** Default limit: ten times Klaviyo's largest documented payload, far above any real page. */
export const DEFAULT_MAX_RESPONSE_BYTES = 50 * 1024 * 1024;

export class ResponseTooLargeError extends Error {
  readonly limit: number;
  readonly received: number;
  readonly declared?: number;
  constructor(limit: number, received: number, declared?: number) {
    super(`response body larger than ${limit} bytes`);
    this.name = 'ResponseTooLargeError';
    this.limit = limit;
    this.received = received;
    this.declared = declared;
  }
}

/**
 * The body as UTF-8 text, or a ResponseTooLargeError once more than `limit` bytes arrived (or
 * Content-Length announces more): the rest is not read, and the stream is destroyed so that
 * the connection is not reused.
 */
export async function readBodyText(body: Readable | { text(): Promise<string> }, limit: number, contentLength?: string): Promise<string> {
  if (!(Symbol.asyncIterator in body)) {
    // A body that only offers text() (a test double): measured after the fact.
    const text = await body.text();
    if (Buffer.byteLength(text) > limit) throw new ResponseTooLargeError(limit, Buffer.byteLength(text));
    return text;
  }
  const declared = contentLength !== undefined && /^\d+$/.test(contentLength) ? Number(contentLength) : undefined;
  if (declared !== undefined && declared > limit) {
    body.destroy();
    throw new ResponseTooLargeError(limit, 0, declared);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > limit) {
      body.destroy();
      throw new ResponseTooLargeError(limit, size, declared);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
