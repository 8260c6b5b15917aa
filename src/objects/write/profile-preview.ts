/**
 * --dry-run for profile upsert and update: every row's profile read by its key identifier, and
 * the columns the row would change on it (attribute-diff's sameValue, Email without case;
 * Klaviyo merges Properties, so only the keys given can change). Nothing is written.
 */
import { isPlainObject } from '../../core/json.js';
import type { JsonApiResource } from '../../klaviyo/client.js';
import { getPath, sameValue } from './attribute-diff.js';
import { fail } from './content-common.js';
import { PROFILE_ATTRIBUTE_PATHS, PROPERTY_PREFIX } from './profile-payload.js';
import { describeKey, keyOf, lookupProfiles, wantedKeys } from './profile-match.js';
import type { ImportRow, RowOutcome, WriteContext } from './types.js';

/** What --dry-run reads to compare: every writable attribute. */
const PREVIEW_FIELDS = [...new Set([...Object.values(PROFILE_ATTRIBUTE_PATHS).map((p) => p.split('.')[0]), 'created'])];

/** The columns whose value the row would change on this profile. */
export function changedProfileColumns(row: ImportRow, profile: JsonApiResource): string[] {
  const attrs = profile.attributes ?? {};
  const props = isPlainObject(attrs.properties) ? attrs.properties : {};
  const changed: string[] = [];
  for (const [column, value] of Object.entries(row.values)) {
    if (value === undefined || column === 'Id') continue;
    if (column.startsWith(PROPERTY_PREFIX)) {
      if (!sameValue(value, props[column.slice(PROPERTY_PREFIX.length)])) changed.push(column);
    } else if (column === 'Properties') {
      // Klaviyo merges properties: only the keys given can change (null clears them all).
      const differs =
        value === null ? Object.keys(props).length > 0 : isPlainObject(value) && Object.entries(value).some(([k, v]) => !sameValue(v, props[k]));
      if (differs) changed.push(column);
    } else {
      const path = PROFILE_ATTRIBUTE_PATHS[column];
      // Klaviyo matches email addresses without regard to case.
      if (path && !sameValue(value, getPath(attrs, path), { ignoreCase: column === 'Email' })) changed.push(column);
    }
  }
  return changed;
}

/** --dry-run for upsert and update: each row's profile looked up, and the columns it would change. */
export function previewProfiles(op: 'upsert' | 'update') {
  return async (rows: ImportRow[], ctx: WriteContext): Promise<RowOutcome[]> => {
    const keyed = rows.map((row) => ({ row, key: keyOf(row)! }));
    const index = await lookupProfiles(ctx.client, wantedKeys(keyed.map((k) => k.key)), { fields: PREVIEW_FIELDS, signal: ctx.signal });
    return keyed.map(({ row, key }): RowOutcome => {
      const hits = index.find(key.field, key.value);
      if (hits.length === 0) {
        return op === 'upsert'
          ? { ok: true, rowNumber: row.rowNumber, status: 'created', extras: { ChangedColumns: '' } }
          : fail(row, 'not_found', `No profile has ${describeKey(key)}. Use --op upsert to create missing profiles.`);
      }
      if (hits.length > 1) {
        return fail(row, 'ambiguous', `${hits.length} profiles have ${describeKey(key)} (${hits.map((h) => h.id).join(', ')}): give the Id of the one to change.`);
      }
      const changed = changedProfileColumns(row, hits[0]);
      return {
        ok: true,
        rowNumber: row.rowNumber,
        status: changed.length > 0 ? 'updated' : 'unchanged',
        id: hits[0].id,
        extras: { ChangedColumns: changed.join(';') },
      };
    });
  };
}
