/**
 * Finds the Klaviyo operation a request addresses, from the path templates in the generated
 * metadata (`/api/profiles/{id}`), so every endpoint in the spec is routable without a
 * hand-written table. Literal segments win over parameters, so `/api/profile-import` never
 * routes to a `{id}` template.
 */
import { OPERATIONS, type OperationId } from '../../klaviyo/generated/api-metadata.js';

export type RouteMatch =
  | { kind: 'operation'; operationId: OperationId; params: Record<string, string> }
  | { kind: 'method-not-allowed'; allowed: string[] }
  | { kind: 'not-found' };

interface CompiledRoute {
  operationId: OperationId;
  method: string;
  /** A literal segment, or null for a `{param}` segment. */
  segments: Array<{ literal: string } | { param: string }>;
  /** More literal segments = more specific; ties broken by position of the first parameter. */
  specificity: number[];
}

export class Router {
  readonly #routesByLength = new Map<number, CompiledRoute[]>();

  constructor(operations: Record<string, { method: string; path: string }> = OPERATIONS) {
    for (const [operationId, op] of Object.entries(operations)) {
      const segments = splitPath(op.path).map((s) => {
        const m = /^\{(.+)\}$/.exec(s);
        return m ? { param: m[1] } : { literal: s };
      });
      const route: CompiledRoute = {
        operationId: operationId as OperationId,
        method: op.method,
        segments,
        specificity: segments.map((s) => ('literal' in s ? 1 : 0)),
      };
      const list = this.#routesByLength.get(segments.length) ?? [];
      list.push(route);
      this.#routesByLength.set(segments.length, list);
    }
    for (const list of this.#routesByLength.values()) list.sort(compareSpecificity);
  }

  match(method: string, pathname: string): RouteMatch {
    let parts: string[];
    try {
      parts = splitPath(pathname).map((s) => decodeURIComponent(s));
    } catch {
      return { kind: 'not-found' };
    }
    const candidates = this.#routesByLength.get(parts.length) ?? [];
    let bestTemplate: CompiledRoute[] | null = null;
    for (const route of candidates) {
      const params = bind(route, parts);
      if (!params) continue;
      // All operations sharing the first (most specific) template that matched decide the
      // method: a less specific template must not turn a 405 into a wrong operation.
      if (bestTemplate && !sameTemplate(bestTemplate[0], route)) break;
      (bestTemplate ??= []).push(route);
      if (route.method === method.toUpperCase()) return { kind: 'operation', operationId: route.operationId, params };
    }
    if (bestTemplate) return { kind: 'method-not-allowed', allowed: bestTemplate.map((r) => r.method) };
    return { kind: 'not-found' };
  }
}

function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function bind(route: CompiledRoute, parts: string[]): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const seg = route.segments[i];
    if ('literal' in seg) {
      if (seg.literal !== parts[i]) return null;
    } else {
      params[seg.param] = parts[i];
    }
  }
  return params;
}

function sameTemplate(a: CompiledRoute, b: CompiledRoute): boolean {
  return a.specificity.join() === b.specificity.join() && a.segments.every((s, i) => {
    const t = b.segments[i];
    return 'literal' in s ? 'literal' in t && t.literal === s.literal : 'param' in t;
  });
}

function compareSpecificity(a: CompiledRoute, b: CompiledRoute): number {
  for (let i = 0; i < a.specificity.length; i++) {
    if (a.specificity[i] !== b.specificity[i]) return b.specificity[i] - a.specificity[i];
  }
  return 0;
}
