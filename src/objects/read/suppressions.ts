/**
 * Reading email suppressions out of profiles: Klaviyo has no suppression collection; a
 * profile read with `additional-fields[profile]=subscriptions` carries
 * `subscriptions.email.marketing.suppression[]` (global: {reason, timestamp}) and
 * `list_suppressions[]` ({list_id, reason, timestamp}). GET /api/profiles filters on their fields,
 * but a filter matches a profile when ANY of its entries does, so klv makes one row per entry
 * that itself satisfies the conditions: the rows are exact even where the filter is wider.
 */
import { attributeAt } from './values.js';
import type { JsonApiResource } from '../../klaviyo/json-api.js';
import type { ColumnDef, Condition } from '../types.js';

export const SUPPRESSION_PATH = 'subscriptions.email.marketing.suppression';
export const LIST_SUPPRESSIONS_PATH = 'subscriptions.email.marketing.list_suppressions';

/** Klaviyo's global suppression reasons (profile schema). */
export const SUPPRESSION_REASONS = ['HARD_BOUNCE', 'INVALID_EMAIL', 'SPAM_COMPLAINT', 'UNSUBSCRIBE', 'USER_SUPPRESSED'] as const;

export interface SuppressionEntry {
  reason: unknown;
  timestamp: unknown;
  list_id?: unknown;
}

/** The entries of a suppression array on a profile; [] when absent. */
export function suppressionEntries(resource: JsonApiResource, path: string): SuppressionEntry[] {
  const value = attributeAt(resource.attributes, path);
  if (!Array.isArray(value)) return [];
  return value.filter((e): e is SuppressionEntry => e !== null && typeof e === 'object');
}

/** A column read from the suppression entry (Reason, Timestamp), needing the subscriptions additional field. */
export function entryColumn(name: string, type: ColumnDef['type'], arrayPath: string, field: string, description: string, extra: Partial<ColumnDef> = {}): ColumnDef {
  return {
    name,
    type,
    description,
    readOnly: true,
    additionalField: 'subscriptions',
    filterField: `${arrayPath}.${field}`,
    sparseField: arrayPath,
    aliases: [field],
    // The value comes from one entry, not from the profile: rows are built by the reader.
    get: () => null,
    ...extra,
  };
}

/**
 * Conditions pushed down on an entry field are only as wide as "some entry matches": klv checks
 * them again on each row. Returns `local` plus those pushed conditions.
 */
export function recheckEntryConditions(local: readonly Condition[], pushed: readonly Condition[], entryColumns: readonly string[]): Condition[] {
  return [...local, ...pushed.filter((c) => entryColumns.includes(c.column))];
}
