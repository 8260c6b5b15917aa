/**
 * A profile row as Klaviyo's profile resource (`attributes` by path, custom properties merged,
 * nulls that clear or unset), and the rules a row must meet before anything is sent: an
 * identifier, Properties an object, at most 100 KB. Pure functions, shared by the bulk import
 * jobs, the one-by-one requests and --dry-run.
 */
import { isPlainObject } from '../../core/json.js';
import { setPath } from './attribute-diff.js';
import { fail } from './content-common.js';
import { identifiersOf } from './profile-match.js';
import type { ImportOptions, ImportRow, RowFailure } from './types.js';

/**
 * Writable profile columns and their attribute paths: the catalog's PROFILE_COLUMNS that are not
 * read-only (a unit test keeps the two in step). Not imported from the catalog, which imports
 * this module: the cycle would leave one side undefined at load time.
 */
export const PROFILE_ATTRIBUTE_PATHS: Readonly<Record<string, string>> = {
  Email: 'email',
  PhoneNumber: 'phone_number',
  ExternalId: 'external_id',
  FirstName: 'first_name',
  LastName: 'last_name',
  Organization: 'organization',
  Title: 'title',
  Locale: 'locale',
  Image: 'image',
  Address1: 'location.address1',
  Address2: 'location.address2',
  City: 'location.city',
  Region: 'location.region',
  Country: 'location.country',
  Zip: 'location.zip',
  Timezone: 'location.timezone',
  Latitude: 'location.latitude',
  Longitude: 'location.longitude',
  Ip: 'location.ip',
  Properties: 'properties',
};

/** Klaviyo's limit for one profile (spec: 100 KB). */
export const PROFILE_MAX_BYTES = 100 * 1024;

export const PROPERTY_PREFIX = 'Properties.';
/** The identifiers a new profile can be given (Id is Klaviyo's to assign). */
export const PROFILE_IDENTIFIERS = ['Email', 'PhoneNumber', 'ExternalId'] as const;

export interface ProfilePayload {
  type: 'profile';
  id?: string;
  attributes: Record<string, unknown>;
  meta?: { patch_properties: { unset: string[] } };
}

/** The row's Id, trimmed, when it gives one. */
export function givenId(row: ImportRow): string | undefined {
  const v = row.values.Id;
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/**
 * The profile resource for a row: each given column at its attribute path (`location.city`),
 * `Properties` merged with the `Properties.<name>` columns. Null clears a field, or is left out
 * with `dropNulls` (bulk import ignores nulls anyway); a null `Properties.<name>` unsets it.
 */
export function profilePayload(row: ImportRow, o: { dropNulls: boolean; withId: boolean; omit?: readonly string[] }): ProfilePayload {
  const attributes: Record<string, unknown> = {};
  const unset: string[] = [];
  const props = row.values.Properties;
  if (props === null) {
    if (!o.dropNulls) attributes.properties = null;
  } else if (isPlainObject(props)) {
    attributes.properties = { ...props };
  }
  for (const [column, value] of Object.entries(row.values)) {
    if (value === undefined || o.omit?.includes(column)) continue;
    if (column.startsWith(PROPERTY_PREFIX)) {
      const name = column.slice(PROPERTY_PREFIX.length);
      if (value === null) {
        if (!o.dropNulls) unset.push(name);
        continue;
      }
      if (!isPlainObject(attributes.properties)) attributes.properties = {};
      (attributes.properties as Record<string, unknown>)[name] = value;
      continue;
    }
    if (column === 'Properties' || column === 'Id') continue;
    const path = PROFILE_ATTRIBUTE_PATHS[column];
    if (!path) continue; // read-only or not a profile column: the mapping layer already said so
    if (value === null && o.dropNulls) continue;
    setPath(attributes, path, value);
  }
  const payload: ProfilePayload = { type: 'profile', attributes };
  const id = o.withId ? givenId(row) : undefined;
  if (id) payload.id = id;
  if (unset.length > 0) payload.meta = { patch_properties: { unset } };
  return payload;
}

/** Whether the row clears something (a --null-value cell): bulk import cannot do that. */
export function clearsAField(row: ImportRow): boolean {
  return Object.entries(row.values).some(
    ([column, value]) => value === null && (column.startsWith(PROPERTY_PREFIX) || PROFILE_ATTRIBUTE_PATHS[column] !== undefined),
  );
}

/** More than the envelope of any payload: type, id, the attributes, location, properties and meta objects. */
const ENVELOPE_BYTES = 256;

/**
 * An upper bound of the UTF-8 size of the row's `profilePayload` (any options), without building
 * it: every column counted whether or not it ends up in the payload, its name as the key (a key
 * is the column's attribute name or property name, never longer than the column name), and each
 * UTF-16 unit of a string at 6 bytes (an escape such as \u001f is 6; a character is at most 3).
 * A value that is an object or array has no cheap bound: Infinity, so the exact size is taken.
 */
export function payloadBytesAtMost(row: ImportRow): number {
  let bytes = ENVELOPE_BYTES;
  const values = row.values;
  for (const column in values) {
    const value = values[column];
    if (value === undefined) continue;
    // "key":value, and the separators around them; a nulled property's name goes in meta.unset once.
    bytes += 6 * column.length + 8;
    if (typeof value === 'string') bytes += 6 * value.length + 2;
    else if (typeof value === 'number' || typeof value === 'boolean' || value === null) bytes += 32;
    else return Infinity;
  }
  return bytes;
}

/** The rules a profile row must meet before anything is sent, per operation. */
export function validateProfileRow(op: 'insert' | 'upsert' | 'update') {
  return (row: ImportRow, _options: ImportOptions): RowFailure | null => {
    if (op === 'insert' && givenId(row)) {
      return fail(row, 'invalid_value', 'Id cannot be given on insert: Klaviyo assigns it. Use --op upsert or --op update to change an existing profile.');
    }
    const keys = identifiersOf(row, op === 'insert' ? PROFILE_IDENTIFIERS : ['Id', ...PROFILE_IDENTIFIERS]);
    if (keys.length === 0) {
      const names = op === 'insert' ? 'Email, PhoneNumber or ExternalId' : 'Id, Email, PhoneNumber or ExternalId';
      return fail(row, 'missing_value', `The row has no identifier: give ${names} (Klaviyo needs one to ${op === 'update' ? 'find' : 'store'} the profile).`);
    }
    const props = row.values.Properties;
    if (props !== undefined && props !== null && !isPlainObject(props)) {
      return fail(row, 'invalid_value', 'Properties must be a JSON object, e.g. {"tier": "gold"}.');
    }
    // Building and serializing the payload of every row only to measure it cost a quarter of a
    // large import: an upper bound, from the values alone, settles nearly every row.
    if (payloadBytesAtMost(row) <= PROFILE_MAX_BYTES) return null;
    const bytes = Buffer.byteLength(JSON.stringify(profilePayload(row, { dropNulls: false, withId: true })));
    if (bytes > PROFILE_MAX_BYTES) {
      return fail(row, 'too_large', `The profile is ${Math.ceil(bytes / 1024)} KB; Klaviyo accepts at most 100 KB a profile. Shorten its Properties.`);
    }
    return null;
  };
}
