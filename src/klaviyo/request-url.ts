/**
 * Builds request paths from the spec metadata: path parameters percent-encoded, query parameters
 * in Klaviyo's conventions. Pure.
 *
 * - Array values are joined with commas (`fields[profile]=email,first_name`, `include=lists`).
 * - Brackets in parameter names stay readable (`page[size]`, not `page%5Bsize%5D`); Klaviyo
 *   accepts both and the journal is easier to read.
 * - `filter` is encoded with encodeURIComponent as Klaviyo's docs ask: its values may hold
 *   commas, quotes, `+` and `&`.
 */
import { KlvError, UsageError } from '../core/errors.js';
import type { OperationMeta } from './api-metadata-types.js';

export type QueryValue = string | number | boolean | string[] | undefined | null;
export type Query = Record<string, QueryValue>;

function encodeName(name: string): string {
  return encodeURIComponent(name).replace(/%5B/gi, '[').replace(/%5D/gi, ']');
}

/** Commas separate list items in Klaviyo's parameters, so they stay literal outside filters. */
function encodeListValue(value: string): string {
  return encodeURIComponent(value).replace(/%2C/gi, ',');
}

export function encodeQuery(query: Query | undefined): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [name, raw] of Object.entries(query)) {
    if (raw === undefined || raw === null) continue;
    const value = Array.isArray(raw) ? raw.join(',') : String(raw);
    const encoded = name === 'filter' ? encodeURIComponent(value) : encodeListValue(value);
    parts.push(`${encodeName(name)}=${encoded}`);
  }
  return parts.join('&');
}

/** `/api/profiles/{id}` with `{id: 'ABC'}` -> `/api/profiles/ABC` (values percent-encoded). */
export function expandPath(meta: Pick<OperationMeta, 'operationId' | 'path' | 'pathParams'>, params: Record<string, string> = {}): string {
  return meta.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined || value === '') {
      throw new KlvError(`${meta.operationId} needs the path parameter '${name}' (${meta.path})`, {
        hint: 'This is a bug in klv: the command did not pass the id it needs.',
      });
    }
    return encodeURIComponent(value);
  });
}

/** Fails before sending when a query parameter Klaviyo requires (get_campaigns: filter) is missing. */
export function checkRequiredQuery(meta: Pick<OperationMeta, 'operationId' | 'method' | 'path' | 'requiredQuery'>, query: Query | undefined): void {
  const missing = meta.requiredQuery.filter((name) => query?.[name] === undefined || query?.[name] === null || query?.[name] === '');
  if (missing.length > 0) {
    throw new UsageError(
      `${meta.method} ${meta.path} needs the query parameter${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')}: Klaviyo refuses the request without ${missing.length > 1 ? 'them' : 'it'}`,
      missing.includes('filter') ? `Add a filter, e.g. for campaigns: equals(messages.channel,'email')` : undefined,
    );
  }
}

export function pathWithQuery(path: string, query: Query | undefined): string {
  const qs = encodeQuery(query);
  return qs ? `${path}?${qs}` : path;
}
