/**
 * The two headers every /api request needs: `Authorization: Klaviyo-API-Key pk_...` and
 * `revision: YYYY-MM-DD[.suffix]`. Refusals never repeat the key back.
 *
 * Which keys the account accepts (KeyRing): without --key, any key that looks like a private
 * key, with every scope; with --key, that key (with its --scopes, or every scope) and no other.
 * Keys registered while running (POST /_emulator/keys) are accepted too, with their own scopes.
 * Only hashes of the keys are kept.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { looksLikePrivateKey } from '../../core/secret.js';
import { SPEC_REVISION } from '../../klaviyo/generated/api-metadata.js';
import { ApiError } from './api-error.js';
import { grantOf, type ScopeGrant } from './scopes.js';

export class KeyRing {
  /** Whether keys that were never registered are accepted (no --key given). */
  readonly #open: boolean;
  readonly #grants = new Map<string, ScopeGrant>();

  /** `primary`: the --key key, with the scopes it was created with (undefined: every scope). */
  constructor(primary?: { key: string; scopes?: readonly string[] }) {
    this.#open = primary === undefined;
    if (primary) this.register(primary.key, primary.scopes);
  }

  /** Accepts `key` from now on, with these scopes (undefined: every scope); replaces an earlier grant. */
  register(key: string, scopes?: readonly string[]): void {
    this.#grants.set(fingerprint(key), scopes === undefined ? 'all' : grantOf(scopes));
  }

  /** What `key` may do, or null when the account does not accept it. */
  grantFor(key: string): ScopeGrant | null {
    return this.#grants.get(fingerprint(key)) ?? (this.#open ? 'all' : null);
  }
}

function fingerprint(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Checks the Authorization header against the account's keys and returns what the key may do. */
export function authenticate(headers: IncomingHttpHeaders, keys: KeyRing): ScopeGrant {
  const header = headers.authorization;
  if (!header) {
    throw new ApiError(401, 'not_authenticated', 'Missing Authorization header: send "Authorization: Klaviyo-API-Key <your private API key>".');
  }
  const m = /^Klaviyo-API-Key\s+(\S+)$/i.exec(header.trim());
  if (!m) {
    const scheme = header.trim().split(/\s+/)[0];
    throw new ApiError(401, 'not_authenticated', `Unsupported Authorization scheme '${scheme.slice(0, 20)}': send "Authorization: Klaviyo-API-Key <your private API key>".`);
  }
  const key = m[1];
  if (!looksLikePrivateKey(key)) {
    throw new ApiError(401, 'authentication_failed', 'Incorrect authentication credentials: the key is not a private API key (they start with pk_).', {
      title: 'Incorrect authentication credentials.',
    });
  }
  const grant = keys.grantFor(key);
  if (grant === null) {
    throw new ApiError(401, 'authentication_failed', 'Incorrect authentication credentials: this emulator accepts only the key it was started with (--key) and keys registered with POST /_emulator/keys.', {
      title: 'Incorrect authentication credentials.',
    });
  }
  return grant;
}

const REVISION = /^(\d{4})-(\d{2})-(\d{2})(?:\.([a-z0-9]+))?$/;

/** Checks the revision header: present, YYYY-MM-DD[.suffix], a real date, not newer than the spec. */
export function checkRevision(headers: IncomingHttpHeaders): string {
  const raw = headers.revision;
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value.trim() === '') {
    throw new ApiError(400, 'invalid', `Missing revision header: send "revision: ${SPEC_REVISION}".`, {
      source: { parameter: 'revision' },
    });
  }
  const m = REVISION.exec(value.trim());
  const date = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!m || !date || date.getUTCMonth() !== Number(m[2]) - 1 || date.getUTCDate() !== Number(m[3])) {
    throw new ApiError(400, 'invalid', `Invalid revision header '${value.slice(0, 40)}': expected a date like ${SPEC_REVISION} (optionally with a suffix such as .pre).`, {
      source: { parameter: 'revision' },
    });
  }
  if (`${m[1]}-${m[2]}-${m[3]}` > SPEC_REVISION) {
    throw new ApiError(400, 'invalid', `Revision '${value}' does not exist yet: the newest revision this emulator implements is ${SPEC_REVISION}.`, {
      source: { parameter: 'revision' },
    });
  }
  return value.trim();
}
