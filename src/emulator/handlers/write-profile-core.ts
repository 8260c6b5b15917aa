/**
 * How the emulator creates and changes profiles, shared by every endpoint that writes them
 * (create, update, upsert, bulk import, subscriptions, events, suppressions):
 *  - identifiers (email, phone_number, external_id) are unique across profiles: a write that
 *    would give one to a second profile is a `duplicate_profile` conflict;
 *  - email addresses and phone numbers (E.164) are checked as Klaviyo checks them;
 *  - `properties` and `location` merge key by key; a null clears a field where Klaviyo says so
 *    (PATCH, profile-import) and is ignored where it says it is (the bulk import job);
 *  - `meta.patch_properties` appends, unappends and unsets custom properties.
 */
import type { AccountStore, StoredResource } from '../store/types.js';
import { isPlainObject } from '../../core/json.js';
import type { Problem } from './write-schema.js';
import { nowIso } from './write-common.js';

export const IDENTIFIERS = ['email', 'phone_number', 'external_id'] as const;
export type Identifier = (typeof IDENTIFIERS)[number];

const SCALARS = ['email', 'phone_number', 'external_id', 'first_name', 'last_name', 'organization', 'locale', 'title', 'image'] as const;
const LOCATION_FIELDS = ['address1', 'address2', 'city', 'country', 'region', 'zip', 'timezone', 'ip', 'latitude', 'longitude'] as const;

/** `null` clears a field (PATCH /api/profiles, /api/profile-import) or is ignored (bulk import: Klaviyo's docs say so). */
export type NullMode = 'clear' | 'ignore';

// Local part: RFC 5322 "atext" characters and single dots; domain: labels of letters, digits
// and inner hyphens, ending in a top-level domain of at least two letters.
const EMAIL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

export function isValidEmail(value: string): boolean {
  return value.length <= 254 && EMAIL.test(value);
}

/** E.164: a plus, a country code not starting with 0, at most 15 digits; +1 numbers have exactly 11. */
export function isValidPhoneNumber(value: string): boolean {
  if (!/^\+[1-9]\d{6,14}$/.test(value)) return false;
  return !value.startsWith('+1') || value.length === 12;
}

export const PHONE_FORMAT_DETAIL = 'Invalid phone number format (Example of a valid format: +12345678901)';

/** Problems with the identifiers given in `attributes` (pointer is the attributes object's). */
export function identifierProblems(attributes: Record<string, unknown>, pointer: string): Problem[] {
  const problems: Problem[] = [];
  const email = attributes.email;
  if (typeof email === 'string' && !isValidEmail(email)) {
    problems.push({ code: 'invalid', detail: `${email} is not a valid email address.`, pointer: `${pointer}/email` });
  }
  const phone = attributes.phone_number;
  if (typeof phone === 'string' && !isValidPhoneNumber(phone)) {
    problems.push({ code: 'invalid', detail: `${PHONE_FORMAT_DETAIL}: '${phone}'.`, pointer: `${pointer}/phone_number` });
  }
  return problems;
}

export function hasIdentifier(attributes: Record<string, unknown>, id?: string | null): boolean {
  return Boolean(id) || IDENTIFIERS.some((k) => typeof attributes[k] === 'string' && attributes[k] !== '');
}

export const NO_IDENTIFIER_DETAIL = 'A profile needs at least one identifier: email, phone_number or external_id (or the id of an existing profile).';

/** The attributes of a profile nobody has written to yet. */
export function blankProfileAttributes(now: string): Record<string, unknown> {
  return {
    email: null,
    phone_number: null,
    external_id: null,
    first_name: null,
    last_name: null,
    organization: null,
    locale: null,
    title: null,
    image: null,
    created: now,
    updated: now,
    last_event_date: null,
    location: Object.fromEntries(LOCATION_FIELDS.map((f) => [f, null])),
    properties: {},
    subscriptions: blankSubscriptions(),
    predictive_analytics: {
      historic_clv: null,
      predicted_clv: null,
      total_clv: null,
      historic_number_of_orders: null,
      predicted_number_of_orders: null,
      average_days_between_orders: null,
      average_order_value: null,
      churn_probability: null,
      expected_date_of_next_order: null,
      ranked_channel_affinity: null,
    },
  };
}

export function blankSubscriptions(): Record<string, unknown> {
  const never = { consent: 'NEVER_SUBSCRIBED', consent_timestamp: null, last_updated: null, method: null, method_detail: null };
  return {
    email: {
      marketing: { can_receive_email_marketing: true, ...never, custom_method_detail: null, double_optin: null, suppression: [], list_suppressions: [] },
    },
    sms: {
      marketing: { can_receive_sms_marketing: false, ...never },
      transactional: { can_receive_sms_transactional: false, ...never },
    },
    mobile_push: { marketing: { can_receive_push_marketing: false, consent: 'NEVER_SUBSCRIBED', consent_timestamp: null } },
  };
}

export interface PatchProperties {
  append?: Record<string, unknown> | null;
  unappend?: Record<string, unknown> | null;
  unset?: string | string[] | null;
}

/**
 * The attributes after a write: `given` merged into `current` as Klaviyo merges them. Returns
 * null when nothing changes (so `updated` keeps its value and a client can report "unchanged").
 */
export function mergeProfileAttributes(
  current: Record<string, unknown>,
  given: Record<string, unknown>,
  nulls: NullMode,
  patch?: PatchProperties | null,
): Record<string, unknown> | null {
  const next: Record<string, unknown> = { ...current };
  // Compared field by field: serialising whole profiles was most of a 10,000-profile import.
  let changed = false;
  for (const field of SCALARS) {
    if (!(field in given)) continue;
    const value = given[field];
    if (value === null && nulls === 'ignore') continue;
    if (next[field] !== value && !(next[field] === undefined && value === null)) changed = true;
    next[field] = value;
  }
  if ('location' in given) {
    const value = given.location;
    let location: Record<string, unknown> | undefined;
    if (value === null) {
      if (nulls === 'clear') location = Object.fromEntries(LOCATION_FIELDS.map((f) => [f, null]));
    } else if (isPlainObject(value)) {
      location = isPlainObject(current.location) ? { ...current.location } : {};
      for (const [key, v] of Object.entries(value)) {
        if (v === null && nulls === 'ignore') continue;
        location[key] = v;
      }
    }
    if (location) {
      if (!sameJson(current.location, location)) changed = true;
      next.location = location;
    }
  }
  if ('properties' in given || patch) {
    let properties: Record<string, unknown> = isPlainObject(current.properties) ? { ...current.properties } : {};
    const value = given.properties;
    if (value === null) {
      if (nulls === 'clear') properties = {};
    } else if (isPlainObject(value)) {
      for (const [key, v] of Object.entries(value)) {
        if (v === null) {
          if (nulls === 'clear') delete properties[key];
          continue;
        }
        properties[key] = v;
      }
    }
    if (patch) properties = patchProperties(properties, patch);
    if (!sameJson(current.properties ?? {}, properties)) changed = true;
    next.properties = properties;
  }
  return changed ? next : null;
}

function patchProperties(properties: Record<string, unknown>, patch: PatchProperties): Record<string, unknown> {
  const out = { ...properties };
  const asList = (v: unknown): unknown[] => (Array.isArray(v) ? [...v] : v === undefined || v === null ? [] : [v]);
  for (const [key, value] of Object.entries(patch.append ?? {})) out[key] = [...asList(out[key]), ...asList(value)];
  for (const [key, value] of Object.entries(patch.unappend ?? {})) {
    const drop = new Set(asList(value).map((v) => JSON.stringify(v)));
    out[key] = asList(out[key]).filter((v) => !drop.has(JSON.stringify(v)));
  }
  const unset = patch.unset;
  for (const key of typeof unset === 'string' ? [unset] : (unset ?? [])) delete out[key];
  return out;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Which profile a write goes to, or why it cannot go anywhere. */
export type Resolution =
  | { kind: 'existing'; profile: StoredResource }
  | { kind: 'new' }
  | { kind: 'not_found'; id: string }
  | { kind: 'conflict'; identifier: Identifier; duplicateId: string };

/**
 * Matches a write to a profile: by id when given (its identifiers must not belong to another
 * profile), else by email, then phone_number, then external_id. Identifiers that match two
 * different profiles are a conflict, as Klaviyo's 409 `duplicate_profile` says.
 */
export function resolveProfile(store: AccountStore, id: string | null | undefined, attributes: Record<string, unknown>): Resolution {
  const profiles = store.collection('profile');
  if (id) {
    const profile = profiles.get(id);
    if (!profile) return { kind: 'not_found', id };
    const clash = clashingOwner(store, attributes, profile.id);
    return clash ? { kind: 'conflict', ...clash } : { kind: 'existing', profile };
  }
  let found: StoredResource | undefined;
  for (const identifier of IDENTIFIERS) {
    const value = attributes[identifier];
    if (typeof value !== 'string' || value === '') continue;
    const owner = profiles.findBy(identifier, value)[0];
    if (!owner) continue;
    if (!found) found = owner;
    else if (owner.id !== found.id) return { kind: 'conflict', identifier, duplicateId: owner.id };
  }
  return found ? { kind: 'existing', profile: found } : { kind: 'new' };
}

/** The first identifier in `attributes` that already belongs to a profile other than `selfId`. */
export function clashingOwner(store: AccountStore, attributes: Record<string, unknown>, selfId: string | null): { identifier: Identifier; duplicateId: string } | null {
  const profiles = store.collection('profile');
  for (const identifier of IDENTIFIERS) {
    const value = attributes[identifier];
    if (typeof value !== 'string' || value === '') continue;
    const owner = profiles.findBy(identifier, value).find((p) => p.id !== selfId);
    if (owner) return { identifier, duplicateId: owner.id };
  }
  return null;
}

export const DUPLICATE_DETAIL = 'A profile already exists with one of these identifiers.';

export function duplicateProblem(duplicateId: string, pointer = '/data/attributes'): Problem {
  return { code: 'duplicate_profile', detail: DUPLICATE_DETAIL, pointer, meta: { duplicate_profile_id: duplicateId } };
}

export interface WriteResult {
  profile: StoredResource;
  created: boolean;
  /** False when the write changed nothing. */
  changed: boolean;
}

/** Creates a profile from attributes (identifiers must have been checked). */
export function insertProfile(store: AccountStore, given: Record<string, unknown>, nulls: NullMode, patch?: PatchProperties | null): StoredResource {
  const now = nowIso(store);
  const blank = blankProfileAttributes(now);
  const attributes = mergeProfileAttributes(blank, given, nulls, patch) ?? blank;
  attributes.created = now;
  attributes.updated = now;
  return store.collection('profile').insert({ type: 'profile', id: store.newId('profile'), attributes, relationships: {} });
}

/** Applies attributes to an existing profile; `updated` moves only when something changed. */
export function updateProfile(store: AccountStore, profile: StoredResource, given: Record<string, unknown>, nulls: NullMode, patch?: PatchProperties | null): WriteResult {
  const next = mergeProfileAttributes(profile.attributes, given, nulls, patch);
  if (!next) return { profile, created: false, changed: false };
  next.updated = nowIso(store);
  return { profile: store.collection('profile').update(profile.id, { attributes: next }) ?? profile, created: false, changed: true };
}

/**
 * Finds or creates the profile a subscription, suppression or event names by email or phone
 * number (or id), without changing its other attributes. Null when the identifiers conflict.
 */
export function findOrCreateProfile(store: AccountStore, identifiers: { id?: string | null; email?: string | null; phone_number?: string | null; external_id?: string | null }, extra: Record<string, unknown> = {}, nulls: NullMode = 'ignore'): WriteResult | Resolution {
  const attributes: Record<string, unknown> = { ...extra };
  for (const key of IDENTIFIERS) if (identifiers[key] !== undefined && identifiers[key] !== null) attributes[key] = identifiers[key];
  const resolution = resolveProfile(store, identifiers.id, attributes);
  if (resolution.kind === 'existing') return updateProfile(store, resolution.profile, attributes, nulls);
  if (resolution.kind === 'new') return { profile: insertProfile(store, attributes, nulls), created: true, changed: true };
  return resolution;
}

/** A deep copy of a profile's subscriptions, ready to change and write back. */
export function subscriptionsOf(profile: StoredResource): Record<string, any> {
  const current = profile.attributes.subscriptions;
  const copy = isPlainObject(current) ? (structuredClone(current) as Record<string, any>) : blankSubscriptions();
  const blank = blankSubscriptions() as Record<string, any>;
  // Profiles written by older snapshots may lack a channel: give it its "never subscribed" state.
  for (const channel of Object.keys(blank)) {
    if (!isPlainObject(copy[channel])) copy[channel] = blank[channel];
    for (const kind of Object.keys(blank[channel])) if (!isPlainObject(copy[channel][kind])) copy[channel][kind] = blank[channel][kind];
  }
  const marketing = copy.email.marketing;
  if (!Array.isArray(marketing.suppression)) marketing.suppression = [];
  if (!Array.isArray(marketing.list_suppressions)) marketing.list_suppressions = [];
  return copy;
}

export function writeSubscriptions(store: AccountStore, profile: StoredResource, subscriptions: Record<string, unknown>): StoredResource {
  const marketing = (subscriptions.email as Record<string, any>).marketing;
  // "True if the profile does not have any global suppressions" (the spec's words).
  marketing.can_receive_email_marketing = marketing.suppression.length === 0;
  return store.collection('profile').update(profile.id, { attributes: { subscriptions, updated: nowIso(store) } }) ?? profile;
}
