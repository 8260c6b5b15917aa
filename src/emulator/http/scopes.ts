/**
 * API key scopes as the emulator enforces them. Each operation of the spec names the scopes it
 * needs (OPERATIONS[op].scopes); a key needs all of them. A key created without scopes has full
 * access to everything, as Klaviyo's keys created before scopes existed do. A granted `X:write`
 * also grants `X:read` (klaviyo/scopes.ts says why).
 *
 * Pure logic: the server turns a missing scope into a 403.
 */
import type { OperationMeta } from '../../klaviyo/api-metadata-types.js';
import { SPEC_SCOPES, withImpliedReads } from '../../klaviyo/scopes.js';
import { ApiError } from './api-error.js';

export { SPEC_SCOPES };

/** What a key may do: everything, or the scopes it was created with (write implying read). */
export type ScopeGrant = 'all' | ReadonlySet<string>;

const KNOWN = new Set(SPEC_SCOPES);

/** The names among `scopes` that the spec never uses (typos, `:full`, made-up resources). */
export function unknownScopes(scopes: readonly string[]): string[] {
  return scopes.filter((s) => !KNOWN.has(s));
}

/** The grant of a key created with these scopes (already checked with unknownScopes). */
export function grantOf(scopes: readonly string[]): ScopeGrant {
  return withImpliedReads(scopes);
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
  // Only the missing scopes are named, so that a client can tell them from those the key has.
  const list = missing.join(' and ');
  throw new ApiError(
    403,
    'permission_denied',
    `This API key lacks the scope${missing.length === 1 ? '' : 's'} ${list}, which ${op.method} ${op.path} needs. ` +
      'Use a key created with that access (Klaviyo > Settings > API keys).',
    { source: { pointer: '/data/' } },
  );
}
