/**
 * API key scopes as Klaviyo grants them. Each operation of the spec names the scopes it needs
 * (`x-klaviyo-scopes`, OPERATIONS[op].scopes); a key needs all of them. A key created without
 * scopes has full access to everything, as Klaviyo's keys created before scopes existed do.
 *
 * Klaviyo sets one access level per resource when a key is created: no access, read access, or
 * full access, which it also calls write access and which includes reading ("How to create a
 * private API key", help.klaviyo.com/hc/en-us/articles/7423954176283: POST /api/profiles lists
 * `profiles:read profiles:write`). So a granted `X:write` also grants `X:read`.
 *
 * Pure logic: the server turns a missing scope into a 403.
 */
import type { OperationMeta } from '../../klaviyo/api-metadata-types.js';
import { OPERATIONS } from '../../klaviyo/generated/api-metadata.js';
import { ApiError } from './api-error.js';

/** What a key may do: everything, or the scopes it was created with (write implying read). */
export type ScopeGrant = 'all' | ReadonlySet<string>;

/** Every scope the spec names, sorted: the only names a key can be given. */
export const SPEC_SCOPES: readonly string[] = [...new Set((Object.values(OPERATIONS) as OperationMeta[]).flatMap((op) => op.scopes))].sort();

const KNOWN = new Set(SPEC_SCOPES);

/** The names among `scopes` that the spec never uses (typos, `:full`, made-up resources). */
export function unknownScopes(scopes: readonly string[]): string[] {
  return scopes.filter((s) => !KNOWN.has(s));
}

/** The grant of a key created with these scopes (already checked with unknownScopes). */
export function grantOf(scopes: readonly string[]): ScopeGrant {
  const granted = new Set(scopes);
  for (const s of scopes) if (s.endsWith(':write')) granted.add(`${s.slice(0, -':write'.length)}:read`);
  return granted;
}

/** The scopes of `needed` that `grant` lacks, in the order needed. */
export function missingScopes(grant: ScopeGrant, needed: readonly string[]): string[] {
  if (grant === 'all') return [];
  return needed.filter((s) => !grant.has(s));
}

/**
 * Throws Klaviyo's 403 when the key lacks a scope the operation needs. The body has Klaviyo's
 * shape for a refused permission (code permission_denied, title "You do not have permission to
 * perform this action.", source pointer /data/); the detail names the missing scope.
 */
export function requireScopes(grant: ScopeGrant, op: OperationMeta): void {
  const missing = missingScopes(grant, op.scopes);
  if (missing.length === 0) return;
  const list = missing.join(', ');
  throw new ApiError(
    403,
    'permission_denied',
    `This API key lacks the scope${missing.length === 1 ? '' : 's'} ${list}: ${op.method} ${op.path} needs ${op.scopes.join(' and ')}. ` +
      'Use a key created with that access (Klaviyo > Settings > API keys).',
    { source: { pointer: '/data/' } },
  );
}
