/**
 * Finding profiles by their identifiers in bulk (the Profiles handlers): `GET /api/profiles?filter=any(email,[...])`,
 * 100 values a request (Klaviyo's largest page), requests sent concurrently under the rate
 * governor (75/s, 750/m). Used to resolve update rows given by Email/PhoneNumber/ExternalId, to
 * refuse inserts of profiles that already exist, to give imported rows their Id, and to read the
 * current values for --dry-run.
 *
 * Emails are compared case-insensitively (Klaviyo treats `Ann@x.com` and `ann@x.com` as one
 * address); the lookup asks for both spellings when they differ.
 */
import type { KlaviyoClient, JsonApiResource } from '../../klaviyo/client.js';
import { buildFilter, filter } from '../../klaviyo/filter-builder.js';
import type { ImportRow } from './types.js';

export type IdentifierField = 'id' | 'email' | 'phone_number' | 'external_id';

/** Identifier columns, in the order klv picks a row's key: Id, then Email, PhoneNumber, ExternalId. */
export const IDENTIFIER_COLUMNS: ReadonlyArray<{ column: string; field: IdentifierField }> = [
  { column: 'Id', field: 'id' },
  { column: 'Email', field: 'email' },
  { column: 'PhoneNumber', field: 'phone_number' },
  { column: 'ExternalId', field: 'external_id' },
];

/** Values in one `any(...)` filter: Klaviyo pages hold at most 100 profiles. */
export const LOOKUP_CHUNK = 100;

export interface RowKey {
  column: string;
  field: IdentifierField;
  value: string;
}

/** What the lookups read: identifiers to match rows, `created` to tell created from updated. */
export const MATCH_FIELDS = ['email', 'phone_number', 'external_id', 'created'];

/** `Email 'ann@example.com'`, for messages. */
export function describeKey(k: RowKey): string {
  return `${k.column} '${k.value}'`;
}

export function normalizeIdentifier(field: IdentifierField, value: string): string {
  return field === 'email' ? value.trim().toLowerCase() : value.trim();
}

function stringValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() === '' ? undefined : v.trim();
  if (typeof v === 'number') return String(v);
  return undefined;
}

/** The row's identifiers that have a value (null and empty cells are not identifiers). */
export function identifiersOf(row: ImportRow, columns: readonly string[] = ['Id', 'Email', 'PhoneNumber', 'ExternalId']): RowKey[] {
  const out: RowKey[] = [];
  for (const { column, field } of IDENTIFIER_COLUMNS) {
    if (!columns.includes(column)) continue;
    const value = stringValue(row.values[column]);
    if (value !== undefined) out.push({ column, field, value });
  }
  return out;
}

/** The identifier that names the row's profile: the first of Id, Email, PhoneNumber, ExternalId it gives. */
export function keyOf(row: ImportRow, columns?: readonly string[]): RowKey | undefined {
  return identifiersOf(row, columns)[0];
}

/** Profiles found, indexed by every identifier they carry. */
export class ProfileIndex {
  readonly #by = new Map<IdentifierField, Map<string, JsonApiResource[]>>();
  /** GET requests the lookups took. */
  requests = 0;

  add(resource: JsonApiResource): void {
    const put = (field: IdentifierField, raw: unknown) => {
      const value = stringValue(raw);
      if (value === undefined) return;
      let m = this.#by.get(field);
      if (!m) this.#by.set(field, (m = new Map()));
      const key = normalizeIdentifier(field, value);
      const list = m.get(key) ?? [];
      if (!list.some((r) => r.id === resource.id)) list.push(resource);
      m.set(key, list);
    };
    put('id', resource.id);
    const a = resource.attributes ?? {};
    put('email', a.email);
    put('phone_number', a.phone_number);
    put('external_id', a.external_id);
  }

  find(field: IdentifierField, value: string): JsonApiResource[] {
    return this.#by.get(field)?.get(normalizeIdentifier(field, value)) ?? [];
  }

  /** Every distinct profile any of the keys finds. */
  findAny(keys: readonly RowKey[]): JsonApiResource[] {
    const seen = new Map<string, JsonApiResource>();
    for (const k of keys) for (const r of this.find(k.field, k.value)) seen.set(r.id, r);
    return [...seen.values()];
  }
}

export interface LookupOptions {
  /** `fields[profile]`: the attributes to read; undefined reads them all. */
  fields?: readonly string[];
  signal?: AbortSignal;
}

/** Looks the given identifier values up; every profile found is in the index. */
export async function lookupProfiles(
  client: KlaviyoClient,
  wanted: ReadonlyMap<IdentifierField, Iterable<string>>,
  o: LookupOptions = {},
): Promise<ProfileIndex> {
  const index = new ProfileIndex();
  const tasks: Promise<void>[] = [];
  for (const [field, values] of wanted) {
    const distinct = new Set<string>();
    for (const v of values) {
      const t = v.trim();
      if (t === '') continue;
      distinct.add(t);
      // Ask for the spelling Klaviyo stores too: a filter on email may be case-sensitive.
      if (field === 'email' && t.toLowerCase() !== t) distinct.add(t.toLowerCase());
    }
    const all = [...distinct];
    for (let i = 0; i < all.length; i += LOOKUP_CHUNK) {
      const chunk = all.slice(i, i + LOOKUP_CHUNK);
      const query: Record<string, string> = { filter: buildFilter('get_profiles', filter.any(field, chunk)) };
      if (o.fields) query['fields[profile]'] = [...o.fields].join(',');
      tasks.push(
        (async () => {
          for await (const resource of client.paginate('get_profiles', { query, pageSize: LOOKUP_CHUNK, signal: o.signal })) {
            index.add(resource);
          }
          index.requests += 1;
        })(),
      );
    }
  }
  // Settle all before throwing, so no lookup is left running behind a failure.
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return index;
}

/** Groups the key values of rows by identifier field, for lookupProfiles. */
export function wantedKeys(keys: Iterable<RowKey>): Map<IdentifierField, string[]> {
  const wanted = new Map<IdentifierField, string[]>();
  for (const k of keys) {
    const list = wanted.get(k.field) ?? [];
    list.push(k.value);
    wanted.set(k.field, list);
  }
  return wanted;
}
