/**
 * Quirks that change a response rather than what the request reads, as pure functions:
 *
 *   html-200        an edge (CDN, proxy) answers 200 text/html instead of the API: not handled.
 *   cf-challenge    Cloudflare's bot challenge: 403 text/html with `cf-mitigated: challenge`,
 *                   as klaviyo/klaviyo-api-python issue #84 shows Klaviyo's API answering.
 *   expired-cursor  a page[cursor] request refused 400: the cursor is invalid or has expired.
 *   truncated-json  a 2xx JSON body cut roughly in half, complete at the HTTP level
 *                   (content-length of the cut body): the request was handled.
 *   empty-200       a 2xx JSON answer sent as 200 with an empty body: the request was handled.
 *   repeat-cursor   links.next names the page just served, so paging does not advance.
 *   no-retry-after  a 429 without Retry-After whose detail says "Expected available in 0 seconds."
 *   klaviyo-host-links  every link names https://a.klaviyo.com instead of the emulator; the path
 *                   and query are unchanged, so a client that follows them by path still works.
 */
import { hash32 } from '../store/prng.js';
import { ApiError, invalidParameter } from './api-error.js';
import type { HandlerResult } from '../handlers/types.js';
import type { Outgoing } from './respond.js';

export const KLAVIYO_ORIGIN = 'https://a.klaviyo.com';

/** A Cloudflare ray id (16 hex digits and a data centre), deterministic per request number. */
export function cfRay(n: number): string {
  const hex = (x: number) => x.toString(16).padStart(8, '0');
  return `${hex(hash32(n, 1))}${hex(hash32(n, 2))}-IAD`;
}

function html(status: number, page: string, headers: Record<string, string> = {}): Outgoing {
  const body = Buffer.from(page, 'utf8');
  return { status, headers: { 'content-type': 'text/html; charset=UTF-8', 'content-length': String(body.length), ...headers }, body };
}

/** The html-200 answer: an interstitial page from the edge, status 200. */
export function html200(): Outgoing {
  return html(
    200,
    `<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<title>Just a moment...</title>
<meta name="robots" content="noindex,nofollow">
<meta http-equiv="refresh" content="5">
</head>
<body>
<main>
<h1>a.klaviyo.com</h1>
<p>Please wait while we check your connection. This page will reload automatically.</p>
</main>
</body>
</html>
`,
    { 'cache-control': 'no-store' },
  );
}

/** The cf-challenge answer: Cloudflare's challenge page, status 403. */
export function cfChallenge(ray: string): Outgoing {
  return html(
    403,
    `<!DOCTYPE html>
<html lang="en-US">
<head>
<title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
<meta name="robots" content="noindex,nofollow">
</head>
<body>
<div class="main-wrapper" role="main">
<div class="main-content">
<h1 class="zone-name-title h1">a.klaviyo.com</h1>
<h2 class="h2" id="challenge-running">Verifying you are human. This may take a few seconds.</h2>
<noscript><div class="h2">Enable JavaScript and cookies to continue</div></noscript>
</div>
</div>
<script>window._cf_chl_opt = { cType: 'managed', cRay: '${ray.split('-')[0]}' };</script>
<div class="footer" role="contentinfo"><div class="footer-inner"><div class="text-center">Ray ID: <code>${ray.split('-')[0]}</code></div>
<div class="text-center">Performance &amp; security by Cloudflare</div></div></div>
</body>
</html>
`,
    { 'cf-mitigated': 'challenge', server: 'cloudflare', 'cf-ray': ray, 'cache-control': 'private, max-age=0, no-store, no-cache, must-revalidate' },
  );
}

/** The expired-cursor refusal, in Klaviyo's error shape. */
export function expiredCursor(cursor: string): ApiError {
  const shown = cursor.length > 24 ? `${cursor.slice(0, 24)}...` : cursor;
  return invalidParameter('page[cursor]', `The page cursor '${shown}' is invalid or has expired. Start again from the first page.`);
}

/** Whether the normal answer qualifies for truncated-json and empty-200: a 2xx with a JSON body. */
export function isJsonSuccess(out: Outgoing): boolean {
  return out.status >= 200 && out.status < 300 && out.body.length > 0 && (out.headers['content-type'] ?? '').includes('json');
}

/** The body cut roughly in half, at a byte (it may split a character, as a lost connection does). */
export function truncatedJson(out: Outgoing): Outgoing {
  const body = out.body.subarray(0, Math.floor(out.body.length / 2));
  return { ...out, headers: { ...out.headers, 'content-length': String(body.length) }, body };
}

export function empty200(out: Outgoing): Outgoing {
  return { status: 200, headers: { ...out.headers, 'content-length': '0' }, body: Buffer.alloc(0) };
}

/** repeat-cursor: links.next becomes the page's own link; false when the page has no next link. */
export function repeatCursor(body: unknown): boolean {
  const links = linksOf(body);
  if (!links || typeof links.next !== 'string' || typeof links.self !== 'string') return false;
  links.next = links.self;
  return true;
}

/** no-retry-after: the 429 without Retry-After and with a wait of 0 seconds; null when not a 429. */
export function withoutRetryAfter(result: HandlerResult): HandlerResult | null {
  if (result.status !== 429) return null;
  const headers = Object.fromEntries(Object.entries(result.headers ?? {}).filter(([k]) => k.toLowerCase() !== 'retry-after'));
  const body = result.body as { errors?: Array<Record<string, unknown>> } | undefined;
  const errors = body?.errors?.map((e) => ({ ...e, detail: zeroWait(String(e.detail ?? '')) }));
  return { ...result, headers, body: errors ? { ...body, errors } : result.body };
}

function zeroWait(detail: string): string {
  const expected = /Expected available in \d+ seconds?\./;
  return expected.test(detail) ? detail.replace(expected, 'Expected available in 0 seconds.') : `${detail} Expected available in 0 seconds.`.trim();
}

/**
 * klaviyo-host-links: rewrites, in place, every link of a JSON:API document (the document's,
 * each resource's and each relationship's) from the emulator's base to Klaviyo's. Returns
 * whether any changed.
 */
export function klaviyoHostLinks(body: unknown, baseUrl: string): boolean {
  if (body === null || typeof body !== 'object') return false;
  let changed = false;
  const rewrite = (links: Record<string, unknown> | null) => {
    if (!links) return;
    for (const [key, value] of Object.entries(links)) {
      if (typeof value === 'string' && (value === baseUrl || value.startsWith(`${baseUrl}/`))) {
        links[key] = KLAVIYO_ORIGIN + value.slice(baseUrl.length);
        changed = true;
      }
    }
  };
  rewrite(linksOf(body));
  const { data, included } = body as { data?: unknown; included?: unknown };
  for (const resource of [...(Array.isArray(data) ? data : [data]), ...(Array.isArray(included) ? included : [])]) {
    if (resource === null || typeof resource !== 'object') continue;
    rewrite(linksOf(resource));
    const relationships = (resource as { relationships?: unknown }).relationships;
    if (relationships === null || typeof relationships !== 'object') continue;
    for (const rel of Object.values(relationships as Record<string, unknown>)) rewrite(linksOf(rel));
  }
  return changed;
}

function linksOf(value: unknown): Record<string, unknown> | null {
  if (value === null || typeof value !== 'object') return null;
  const links = (value as { links?: unknown }).links;
  return links !== null && typeof links === 'object' && !Array.isArray(links) ? (links as Record<string, unknown>) : null;
}
