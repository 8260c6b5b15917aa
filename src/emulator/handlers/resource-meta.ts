/**
 * What the handlers need to know about resource types, derived once from the generated
 * metadata rather than written by hand: where a type lives (`profile` → /api/profiles), which
 * type a relationship points to (`list` + `flow-triggers` → flow), and which attributes Klaviyo
 * returns only when asked for with additional-fields (`profile.subscriptions`).
 */
import { OPERATIONS, RESOURCES } from '../../klaviyo/generated/api-metadata.js';
import type { OperationMeta } from '../../klaviyo/api-metadata-types.js';

const ops = Object.values(OPERATIONS) as OperationMeta[];

function buildTypePaths(): Map<string, string> {
  const paths = new Map<string, string>();
  // A type's home is the path of its "get one" endpoint minus the id: GET /api/profiles/{id}.
  for (const op of ops) {
    const m = /^(\/api\/[^/{}]+)\/\{[^}]+\}$/.exec(op.path);
    if (op.method === 'GET' && m && op.responseType && !op.responseIsCollection && !paths.has(op.responseType)) {
      paths.set(op.responseType, m[1]);
    }
  }
  for (const op of ops) {
    if (op.method === 'GET' && /^\/api\/[^/{}]+$/.test(op.path) && op.responseType && !paths.has(op.responseType)) {
      paths.set(op.responseType, op.path);
    }
  }
  return paths;
}

function buildRelationshipTypes(typePaths: Map<string, string>): Map<string, string> {
  const byPath = new Map<string, string>();
  for (const [type, path] of typePaths) byPath.set(path, type);
  const rels = new Map<string, string>();
  for (const op of ops) {
    const m = /^(\/api\/[^/{}]+)\/\{[^}]+\}\/(?:relationships\/)?([^/{}]+)$/.exec(op.path);
    if (op.method !== 'GET' || !m || !op.responseType) continue;
    const parent = byPath.get(m[1]);
    if (parent) rels.set(`${parent}|${m[2]}`, op.responseType);
  }
  // Includes name relationships too (GET /api/lists?include=flow-triggers): the included type
  // is the one of the operation's sparse-fieldset keys that is not the primary type.
  for (const op of ops) {
    if (op.method !== 'GET' || !op.responseType) continue;
    for (const inc of op.include) {
      const key = `${op.responseType}|${inc}`;
      if (rels.has(key)) continue;
      const guess = [inc, inc.replace(/s$/, ''), inc.replace(/-triggers$/, '')].find((t) => t in RESOURCES && t !== op.responseType);
      if (guess) rels.set(key, guess);
      else if (inc === 'flow-triggers') rels.set(key, 'flow');
    }
  }
  return rels;
}

function buildAdditional(): Map<string, Set<string>> {
  const additional = new Map<string, Set<string>>();
  for (const op of ops) {
    for (const [type, names] of Object.entries(op.additionalFields)) {
      const set = additional.get(type) ?? new Set<string>();
      for (const n of names) set.add(n);
      additional.set(type, set);
    }
  }
  return additional;
}

const TYPE_PATHS = buildTypePaths();
const RELATIONSHIP_TYPES = buildRelationshipTypes(TYPE_PATHS);
const ADDITIONAL = buildAdditional();
const EMPTY = new Set<string>();

/** `/api/profiles` for `profile`; a plural guess for types without an endpoint of their own. */
export function typePath(type: string): string {
  return TYPE_PATHS.get(type) ?? `/api/${type}s`;
}

/** The type a relationship of `type` points to (`campaign` + `campaign-messages` → campaign-message). */
export function relationshipType(type: string, relationship: string): string {
  return RELATIONSHIP_TYPES.get(`${type}|${relationship}`) ?? (relationship in RESOURCES ? relationship : relationship.replace(/s$/, ''));
}

export function relationshipNames(type: string): string[] {
  return RESOURCES[type]?.relationships ?? [];
}

/** Attributes of `type` that Klaviyo returns only with additional-fields[type]. */
export function additionalAttributes(type: string): Set<string> {
  return ADDITIONAL.get(type) ?? EMPTY;
}
