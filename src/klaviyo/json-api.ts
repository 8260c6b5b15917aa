/**
 * JSON:API document shapes Klaviyo returns, and the pure helpers the client needs: joining
 * `included` resources back into the records that reference them, and turning a `links.next`
 * URL into a request path on the configured base URL.
 */
import { KlvError } from '../core/errors.js';

export interface JsonApiIdentifier {
  type: string;
  id: string;
}

export interface JsonApiRelationship {
  data?: JsonApiIdentifier | JsonApiIdentifier[] | null;
  links?: Record<string, string | null>;
}

export interface JsonApiResource {
  type: string;
  id: string;
  attributes?: Record<string, unknown>;
  relationships?: Record<string, JsonApiRelationship>;
  links?: Record<string, string | null>;
  /**
   * Added by klv: the `included` resources this one references, by relationship name. A to-one
   * relationship gives the resource (absent when Klaviyo did not include it), a to-many one an
   * array of the included members.
   */
  includedRelationships?: Record<string, JsonApiResource | JsonApiResource[]>;
}

export interface JsonApiDocument<D = JsonApiResource | JsonApiResource[] | null> {
  data: D;
  included?: JsonApiResource[];
  links?: { self?: string | null; next?: string | null; prev?: string | null; first?: string | null; last?: string | null };
  meta?: Record<string, unknown>;
}

/** The records of a document, whether `data` is one resource, a list or null. */
export function resourcesOf(body: unknown): JsonApiResource[] {
  if (!body || typeof body !== 'object') return [];
  const data = (body as { data?: unknown }).data;
  if (Array.isArray(data)) return data as JsonApiResource[];
  if (data && typeof data === 'object') return [data as JsonApiResource];
  return [];
}

/**
 * Sets `includedRelationships` on each resource from the document's `included` list. Resources
 * without relationships or when nothing was included are returned untouched.
 */
export function joinIncluded(resources: JsonApiResource[], included: JsonApiResource[] | undefined): JsonApiResource[] {
  if (!included || included.length === 0) return resources;
  const byKey = new Map<string, JsonApiResource>();
  for (const r of included) byKey.set(`${r.type}\u0000${r.id}`, r);
  const find = (ref: JsonApiIdentifier) => byKey.get(`${ref.type}\u0000${ref.id}`);
  for (const resource of resources) {
    if (!resource.relationships) continue;
    const joined: Record<string, JsonApiResource | JsonApiResource[]> = {};
    let any = false;
    for (const [name, rel] of Object.entries(resource.relationships)) {
      const data = rel?.data;
      if (Array.isArray(data)) {
        const members = data.map(find).filter((r): r is JsonApiResource => r !== undefined);
        if (members.length > 0 || data.length === 0) {
          joined[name] = members;
          any = true;
        }
      } else if (data) {
        const one = find(data);
        if (one) {
          joined[name] = one;
          any = true;
        }
      }
    }
    if (any) resource.includedRelationships = joined;
  }
  return resources;
}

/** The host of Klaviyo's API, which Klaviyo's own links name whatever host was called. */
export const KLAVIYO_API_HOST = 'a.klaviyo.com';

/**
 * The path+query to request for a `links.next` URL, against the configured base URL.
 *
 * - A link on the base URL's host: its path and query (a proxy that rewrites links keeps
 *   working, path prefix included).
 * - A link naming Klaviyo's API host (`https://a.klaviyo.com/api/...`) while the base URL is
 *   another host (a corporate or recording proxy, the emulator): Klaviyo writes its own host
 *   into links whatever host was called, so its path and query are requested on the base URL,
 *   under the base URL's path prefix.
 * - Any other host is refused: following it would send the API key there.
 * Returns undefined for a missing or empty link (the last page).
 */
export function nextRequestPath(next: string | null | undefined, baseUrl: string): string | undefined {
  if (!next) return undefined;
  const base = new URL(baseUrl);
  let url: URL;
  try {
    url = new URL(next, base);
  } catch {
    throw new KlvError(`Klaviyo returned a pagination link that is not a URL: ${next}`, {
      hint: 'This is unexpected from Klaviyo; run again with --verbose and report it.',
    });
  }
  if (url.host === base.host) return `${url.pathname}${url.search}`;
  if (url.protocol === 'https:' && url.hostname === KLAVIYO_API_HOST && (url.port === '' || url.port === '443')) {
    return `${base.pathname.replace(/\/+$/, '')}${url.pathname}${url.search}`;
  }
  throw new KlvError(
    `Refusing to follow a pagination link to another host (${url.host}, expected ${base.host} or ${KLAVIYO_API_HOST}): it would receive the API key`,
    { hint: 'Check the base URL of the profile (klv config show); a proxy in between may be rewriting links.' },
  );
}
