/**
 * Is this answer really Klaviyo's? Pure checks on a response before anyone reads it as data.
 *
 * Klaviyo sits behind a CDN, and what reaches a client is not always what the API produced:
 * an HTML page with status 200 (a captive portal, a CDN error page), a JSON body cut short, an
 * empty body, a Cloudflare challenge with 403. Read as a document, such an answer has no
 * `data` and no `links.next`: an export would write a header-only file, a replicate would save
 * its cursor past rows it never got and its deletion sweep would delete live rows. So a 2xx
 * that is not the JSON:API document the operation promises is a failed attempt (the client
 * retries it like a 5xx), and a challenge is an edge block, never a missing scope.
 */

/** Why an answer is not usable; each value names a real-world cause. */
export type UnusableAnswer =
  /** An HTML page where JSON was expected (a CDN, proxy or captive portal answered). */
  | 'html'
  /** Another content type than JSON (a proxy's plain-text error, a file). */
  | 'content-type'
  /** No body where the operation returns a document. */
  | 'empty'
  /** A body that does not parse as JSON (cut short on the way). */
  | 'truncated'
  /** JSON, but not a JSON:API document: no top-level `data`, or `data` of the wrong shape. */
  | 'no-data';

export type DocumentCheck = { ok: true; body: unknown } | { ok: false; problem: UnusableAnswer; summary: string };

/** What the operation promises (from the spec metadata). */
export interface ExpectedDocument {
  /** The resource type of the 2xx document, or null when the operation answers without a body (202/204). */
  responseType: string | null;
  /** `data` is a list (collections, to-many relationships) rather than one resource. */
  responseIsCollection: boolean;
  /** One resource's `data` may be null (to-one relationships: a message without a template). */
  responseIsNullable: boolean;
}

function header(headers: Record<string, string>, name: string): string | undefined {
  return headers[name] ?? headers[name.toLowerCase()];
}

const HTML_START = /^\s*(?:<!doctype\s+html|<html|<head|<body|<\?xml|<)/i;

function looksLikeHtml(text: string): boolean {
  return HTML_START.test(text.slice(0, 256));
}

/** The HTML page's title, for the message: "Just a moment...", "Attention Required! | Cloudflare". */
function htmlTitle(text: string): string | undefined {
  const m = /<title[^>]*>([^<]{1,120})<\/title>/i.exec(text.slice(0, 8192));
  return m ? m[1].replace(/\s+/g, ' ').trim() : undefined;
}

function describeHtml(text: string): string {
  const title = htmlTitle(text);
  return `an HTML page${title ? ` ("${title}")` : ''} instead of Klaviyo's JSON:API document`;
}

/**
 * Checks a 2xx answer against what the operation promises. Operations without a response
 * document (202/204) accept any body; the others need JSON with a top-level `data`: an array for
 * collections, an object otherwise, or null where the spec allows it (to-one relationships). The
 * client's response types (responses.ts) hold because of this check.
 */
export function checkDocument(status: number, headers: Record<string, string>, text: string, expected: ExpectedDocument): DocumentCheck {
  const noDocument = expected.responseType === null || status === 204;
  const contentType = (header(headers, 'content-type') ?? '').toLowerCase();
  if (noDocument) {
    // Nothing promised; still, an HTML page is not Klaviyo's answer to a write it accepted.
    if (text !== '' && (contentType.includes('html') || (!contentType.includes('json') && looksLikeHtml(text)))) {
      return { ok: false, problem: 'html', summary: describeHtml(text) };
    }
    return { ok: true, body: parseOrText(text) };
  }
  if (contentType.includes('html') || (text !== '' && !contentType.includes('json') && looksLikeHtml(text))) {
    return { ok: false, problem: 'html', summary: describeHtml(text) };
  }
  if (text.trim() === '') return { ok: false, problem: 'empty', summary: 'an empty body instead of a JSON:API document' };
  if (contentType !== '' && !contentType.includes('json')) {
    return { ok: false, problem: 'content-type', summary: `a body of type '${contentType.split(';')[0]}' instead of a JSON:API document` };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'truncated', summary: `JSON that ends or breaks before it is complete (${text.length} characters): the answer was cut short on the way` };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !('data' in body)) {
    return { ok: false, problem: 'no-data', summary: 'a JSON body without the top-level "data" of a JSON:API document' };
  }
  const data = (body as { data: unknown }).data;
  const shapeOk = expected.responseIsCollection
    ? Array.isArray(data)
    : data === null
      ? expected.responseIsNullable
      : typeof data === 'object' && !Array.isArray(data);
  if (!shapeOk) {
    const found = data === null ? 'null' : Array.isArray(data) ? 'a list' : typeof data;
    return {
      ok: false,
      problem: 'no-data',
      summary: `a JSON:API document whose "data" is ${found} where ${expected.responseIsCollection ? 'a list' : 'one resource'} was expected`,
    };
  }
  return { ok: true, body };
}

/** JSON when it parses (error bodies), else the text itself. */
export function parseOrText(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * A request stopped at Klaviyo's edge (Cloudflare) before it reached the API: a challenge
 * (`cf-mitigated: challenge`), or a 403 that is an HTML page rather than Klaviyo's JSON error.
 * Such a request was not processed, so any method may be sent again; and it says nothing
 * about the key's scopes (Klaviyo's own 403 is a JSON:API error document).
 */
export function isEdgeBlock(status: number, headers: Record<string, string>, text: string): boolean {
  if ((header(headers, 'cf-mitigated') ?? '').toLowerCase().includes('challenge')) return true;
  if (status !== 403) return false;
  const contentType = (header(headers, 'content-type') ?? '').toLowerCase();
  return contentType.includes('html') || (!contentType.includes('json') && looksLikeHtml(text));
}

/** The edge page's title for the message, when it has one. */
export function edgePageTitle(text: string): string | undefined {
  return htmlTitle(text);
}
