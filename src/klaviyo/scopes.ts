/**
 * Klaviyo's API key scopes: the names the spec uses (`x-klaviyo-scopes` of each operation, in
 * OPERATIONS[op].scopes; a request needs all of its operation's), and how they relate.
 *
 * Klaviyo sets one access level per resource when a key is created: no access, read access, or
 * full access, which it also calls write access and which includes reading ("How to create a
 * private API key", help.klaviyo.com/hc/en-us/articles/7423954176283: POST /api/profiles lists
 * `profiles:read profiles:write`). So `X:write` implies `X:read`.
 */
import type { OperationMeta } from './api-metadata-types.js';
import { OPERATIONS } from './generated/api-metadata.js';

/** Every scope the spec names, sorted. */
export const SPEC_SCOPES: readonly string[] = [...new Set((Object.values(OPERATIONS) as OperationMeta[]).flatMap((op) => op.scopes))].sort();

const WRITE = ':write';

/** `lists:write` -> `lists:read`; a read scope stays as it is. */
export function readScopeOf(scope: string): string {
  return scope.endsWith(WRITE) ? `${scope.slice(0, -WRITE.length)}:read` : scope;
}

/** The scopes a key created with `scopes` has: those, and the read scope of each write scope. */
export function withImpliedReads(scopes: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const s of scopes) {
    out.add(s);
    out.add(readScopeOf(s));
  }
  return out;
}

/** The fewest scopes that grant all of `scopes` (a read scope goes when its write scope is there), sorted. */
export function withoutImpliedReads(scopes: Iterable<string>): string[] {
  const all = new Set(scopes);
  return [...all].filter((s) => s.endsWith(WRITE) || !all.has(`${s.slice(0, s.lastIndexOf(':'))}${WRITE}`)).sort();
}

/** `coupon-codes:read` -> `Coupon Codes`: the resource as Klaviyo's API key settings name it. */
export function scopeResource(scope: string): string {
  const name = scope.slice(0, scope.lastIndexOf(':'));
  return name
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}
