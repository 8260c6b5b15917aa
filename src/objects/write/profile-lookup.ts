/**
 * People named by a row (ProfileId, Email, ExternalId, PhoneNumber) to their profiles, and which
 * of those profiles are in a list: what the ListMembers, ListSubscribe and PeopleExclusions
 * handlers need before they write, since Klaviyo's list relationship endpoints take profile ids
 * only and its unsubscribe and unsuppress jobs must not be sent blindly.
 *
 * Profiles are found in bulk by profile-match.ts (`GET /api/profiles?filter=any(email,[...])`,
 * 100 values a request). Membership: `GET /api/lists/{id}/profiles` filters members by email or
 * phone number (not by id), 100 values a request; a profile with neither is checked with
 * `GET /api/profiles/{id}/relationships/lists` (3/s, so only for those).
 */
import type { KlaviyoClient } from '../../klaviyo/client.js';
import { buildFilter, filter as f } from '../../klaviyo/filter-builder.js';
import type { JsonApiResource } from '../../klaviyo/json-api.js';
import { text } from './content-common.js';
import { LOOKUP_CHUNK, ProfileIndex, lookupProfiles, normalizeIdentifier, type IdentifierField } from './profile-match.js';
import type { ImportRow } from './types.js';

export { ProfileIndex } from './profile-match.js';

export interface Identifiers {
  id?: string;
  email?: string;
  externalId?: string;
  phoneNumber?: string;
}

/** The row's identifiers (ProfileId, Email, ExternalId, PhoneNumber), empty cells left out. */
export function identifiersOf(row: ImportRow, idColumn = 'ProfileId'): Identifiers {
  const ids: Identifiers = {};
  const id = text(row, idColumn)?.trim();
  const email = text(row, 'Email')?.trim();
  const externalId = text(row, 'ExternalId')?.trim();
  const phoneNumber = text(row, 'PhoneNumber')?.trim();
  if (id) ids.id = id;
  if (email) ids.email = email;
  if (externalId) ids.externalId = externalId;
  if (phoneNumber) ids.phoneNumber = phoneNumber;
  return ids;
}

export function hasIdentifier(ids: Identifiers): boolean {
  return Boolean(ids.id || ids.email || ids.externalId || ids.phoneNumber);
}

/**
 * Whether the phone number names the person (the row gives nothing else) rather than being a
 * value to write onto the profile the other identifiers name.
 */
export const phoneIsKey = (ids: Identifiers): boolean => !ids.id && !ids.email && !ids.externalId && Boolean(ids.phoneNumber);

/** `Email ann@example.com or ExternalId 42`: the identifiers a lookup used, for messages. */
export function describeIdentifiers(ids: Identifiers): string {
  if (ids.id) return `ProfileId ${ids.id}`;
  const parts: string[] = [];
  if (ids.email) parts.push(`Email ${ids.email}`);
  if (ids.externalId) parts.push(`ExternalId ${ids.externalId}`);
  if (phoneIsKey(ids)) parts.push(`PhoneNumber ${ids.phoneNumber}`);
  return parts.join(' or ');
}

export const emailKey = (email: string): string => normalizeIdentifier('email', email);

function attr(resource: JsonApiResource, name: string): string | undefined {
  const v = resource.attributes?.[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export const emailOf = (p: JsonApiResource): string | undefined => attr(p, 'email');
export const phoneOf = (p: JsonApiResource): string | undefined => attr(p, 'phone_number');

/** The first profile the index holds for this identifier. */
export function one(index: ProfileIndex, field: IdentifierField, value: string | undefined): JsonApiResource | undefined {
  return value === undefined ? undefined : index.find(field, value)[0];
}

/**
 * The profile the identifiers name: by ProfileId when given (an explicit id never falls back to
 * another identifier), else by Email, then ExternalId, and by PhoneNumber only when the row has
 * nothing else (otherwise the phone number is a value to write, not a key).
 */
export function findProfile(index: ProfileIndex, ids: Identifiers): JsonApiResource | undefined {
  if (ids.id) return one(index, 'id', ids.id);
  return one(index, 'email', ids.email) ?? one(index, 'external_id', ids.externalId) ?? (phoneIsKey(ids) ? one(index, 'phone_number', ids.phoneNumber) : undefined);
}

/** Finds the profiles of these rows: one request per 100 values of each identifier kind. */
export async function lookupByIdentifiers(
  client: KlaviyoClient,
  all: readonly Identifiers[],
  o: { signal?: AbortSignal; fields?: readonly string[] } = {},
): Promise<ProfileIndex> {
  const wanted = new Map<IdentifierField, string[]>();
  const add = (field: IdentifierField, value: string) => {
    const list = wanted.get(field) ?? [];
    list.push(value);
    wanted.set(field, list);
  };
  for (const ids of all) {
    if (ids.id) add('id', ids.id);
    else {
      if (ids.email) add('email', ids.email);
      if (ids.externalId) add('external_id', ids.externalId);
      if (phoneIsKey(ids)) add('phone_number', ids.phoneNumber!);
    }
  }
  if (wanted.size === 0) return new ProfileIndex();
  return lookupProfiles(client, wanted, { signal: o.signal, fields: o.fields ?? ['email', 'external_id', 'phone_number'] });
}

/**
 * Profiles by email or id with their email suppressions (`additional-fields[profile]=
 * subscriptions`, only the suppression entries asked for): 100 values a request.
 * (profile-match's lookup reads no additional fields.)
 */
export async function lookupSuppressions(
  client: KlaviyoClient,
  wanted: { emails?: Iterable<string>; ids?: Iterable<string> },
  signal?: AbortSignal,
): Promise<ProfileIndex> {
  const index = new ProfileIndex();
  const tasks: Promise<void>[] = [];
  const fetch = (field: 'email' | 'id', values: string[]) => {
    for (let i = 0; i < values.length; i += LOOKUP_CHUNK) {
      const query = {
        filter: buildFilter('get_profiles', f.any(field, values.slice(i, i + LOOKUP_CHUNK))),
        'fields[profile]': 'email,subscriptions.email.marketing.suppression',
        'additional-fields[profile]': 'subscriptions',
      };
      tasks.push(
        (async () => {
          for await (const p of client.paginate('get_profiles', { query, signal })) index.add(p);
        })(),
      );
    }
  };
  fetch('email', emailVariants(wanted.emails ?? []));
  fetch('id', [...new Set(wanted.ids ?? [])]);
  await settle(tasks);
  return index;
}

/** Waits for every task, then throws the first failure (no lookup left running behind it). */
async function settle(tasks: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** The global email suppression reasons of a profile read with its subscriptions. */
export function suppressionReasons(profile: JsonApiResource): string[] {
  const list = (profile.attributes?.subscriptions as { email?: { marketing?: { suppression?: unknown } } } | undefined)?.email?.marketing?.suppression;
  if (!Array.isArray(list)) return [];
  return [...new Set(list.map((e) => (e && typeof e === 'object' ? String((e as { reason?: unknown }).reason ?? '') : '')).filter(Boolean))];
}

/** Emails as written and in lower case, once each (a filter on email may be case-sensitive). */
function emailVariants(emails: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const e of emails) {
    out.add(e.trim());
    out.add(emailKey(e));
  }
  return [...out];
}

/**
 * The members of a list among these emails and phone numbers. Throws KlaviyoApiError 404 when
 * the list does not exist.
 */
export async function findListMembers(
  client: KlaviyoClient,
  listId: string,
  request: { emails?: Iterable<string>; phoneNumbers?: Iterable<string> },
  signal?: AbortSignal,
): Promise<ProfileIndex> {
  const index = new ProfileIndex();
  const tasks: Promise<void>[] = [];
  const fetch = (field: 'email' | 'phone_number', values: string[]) => {
    for (let i = 0; i < values.length; i += LOOKUP_CHUNK) {
      const query = {
        filter: buildFilter('get_profiles_for_list', f.any(field, values.slice(i, i + LOOKUP_CHUNK))),
        'fields[profile]': 'email,phone_number',
      };
      tasks.push(
        (async () => {
          for await (const p of client.paginate('get_profiles_for_list', { pathParams: { id: listId }, query, signal })) index.add(p);
        })(),
      );
    }
  };
  fetch('email', emailVariants(request.emails ?? []));
  fetch('phone_number', [...new Set(request.phoneNumbers ?? [])]);
  await settle(tasks);
  return index;
}

/**
 * The ids of those profiles that are in the list. Throws KlaviyoApiError 404 when the list does
 * not exist (found through the members endpoint).
 */
export async function listMemberIds(client: KlaviyoClient, listId: string, profiles: Iterable<JsonApiResource>, signal?: AbortSignal): Promise<Set<string>> {
  const wanted = new Map<string, JsonApiResource>();
  for (const p of profiles) wanted.set(p.id, p);
  const emails: string[] = [];
  const phones: string[] = [];
  const neither: JsonApiResource[] = [];
  for (const p of wanted.values()) {
    const email = emailOf(p);
    const phone = phoneOf(p);
    if (email) emails.push(email);
    else if (phone) phones.push(phone);
    else neither.push(p);
  }
  const members = new Set<string>();
  if (emails.length > 0 || phones.length > 0) {
    const found = await findListMembers(client, listId, { emails, phoneNumbers: phones }, signal);
    for (const p of wanted.values()) {
      const email = emailOf(p);
      const member = email ? one(found, 'email', email) : one(found, 'phone_number', phoneOf(p));
      if (member?.id === p.id) members.add(p.id);
    }
  }
  // Profiles known by external id only: their lists, one request each (3/s; rare).
  for (const p of neither) {
    for await (const ref of client.paginate('get_list_ids_for_profile', { pathParams: { id: p.id }, signal })) {
      if (ref.id === listId) {
        members.add(p.id);
        break;
      }
    }
  }
  return members;
}
