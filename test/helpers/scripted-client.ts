/**
 * A KlaviyoClient stand-in that answers from a script: `paginate` serves the script's pages,
 * `request` its bodies. It records every call, counts the pages served, and counts requests for
 * the engines' summaries (`stats`). For plan and engine tests that need no HTTP.
 */
import type { KlaviyoClient, PaginateOptions, RequestOptions } from '../../src/klaviyo/client.js';
import { KlaviyoApiError } from '../../src/klaviyo/errors.js';
import type { JsonApiResource } from '../../src/klaviyo/json-api.js';

export interface ScriptedCall {
  kind: 'paginate' | 'request';
  op: string;
  path?: Record<string, string>;
  query?: Record<string, unknown>;
  limit?: number;
}

export interface Script {
  /** The resources of a paged read, as pages. Throwing fails the read before its first page. */
  pages?: (op: string, o: PaginateOptions) => JsonApiResource[][];
  request?: (op: string, o: RequestOptions) => unknown;
}

/** A client that answers from a script and records every call and every page served. */
export function scripted(script: Script) {
  const calls: ScriptedCall[] = [];
  let pagesServed = 0;
  const client = {
    async *paginate(op: string, o: PaginateOptions = {}) {
      calls.push({ kind: 'paginate', op, path: o.pathParams, query: o.query as Record<string, unknown>, limit: o.limit });
      let yielded = 0;
      for (const page of script.pages?.(op, o) ?? []) {
        pagesServed += 1;
        for (const r of page) {
          yield structuredClone(r);
          yielded += 1;
          if (o.limit !== undefined && yielded >= o.limit) return;
        }
      }
    },
    async request(op: string, o: RequestOptions = {}) {
      calls.push({ kind: 'request', op, path: o.pathParams, query: o.query as Record<string, unknown> });
      return { status: 200, body: script.request?.(op, o), headers: {}, rateLimit: {}, attempts: 1 };
    },
    stats() {
      return { requests: calls.length, retries: 0, rateLimited: 0, throttledMs: 0, byOperation: {} };
    },
  };
  return { client: client as unknown as KlaviyoClient, calls, pagesServed: () => pagesServed };
}

/** The error the client throws for a 404 on `path` (a list deleted since it was listed). */
export function notFound(operationId: string, path: string): KlaviyoApiError {
  return new KlaviyoApiError({
    operationId,
    method: 'GET',
    path,
    status: 404,
    errors: [{ status: 404, code: 'not_found', title: 'Not found.', detail: `Nothing at ${path}.` }],
  });
}
