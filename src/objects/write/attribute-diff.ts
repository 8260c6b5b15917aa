/**
 * The write diff, one for every handler: the attributes a row sets, by path (`location.city`,
 * `audiences.included`), and for --dry-run whether a wanted value differs from what Klaviyo holds.
 *
 * Sameness, the same rule for profiles, lists, templates and campaigns:
 * - absent, null and '' are all "empty" (Klaviyo answers null or '' for a field never set, and a
 *   cleared one), so clearing an empty field changes nothing;
 * - a number the row gives equals Klaviyo's text of it (`40.7` and `'40.7'`: some numeric fields
 *   come back as strings);
 * - objects and arrays are the same JSON whatever the order of their keys (core/json);
 * - a column that says so compares text without regard to case (Email: Klaviyo matches addresses
 *   case-insensitively).
 */
import { canonicalJson } from '../../core/json.js';
import { has } from './content-common.js';
import type { ImportRow, RowOutcome } from './types.js';

/** Sets `value` at a dotted path (`audiences.included`) inside `target`, creating objects on the way. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}

/** The value at a dotted path, or undefined when the path leads nowhere. */
export function getPath(source: unknown, path: string): unknown {
  let node: unknown = source;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

export interface AttributeMapping {
  /** Canonical column name. */
  column: string;
  /** Attribute path in the request body (`opt_in_process`, `audiences.included`). */
  path: string;
  /** Text compared without regard to case (Email). */
  ignoreCase?: boolean;
}

/** The attributes the row sets, by path: only the columns it gives (null included: it clears). */
export function attributesOf(row: ImportRow, mappings: readonly AttributeMapping[]): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const m of mappings) {
    if (has(row, m.column)) setPath(attributes, m.path, row.values[m.column]);
  }
  return attributes;
}

function emptyAsNull(v: unknown): unknown {
  return v === undefined || v === '' ? null : v;
}

/** Whether writing `wanted` over `current` would leave the field as it is (the rules at the top). */
export function sameValue(wanted: unknown, current: unknown, options: { ignoreCase?: boolean } = {}): boolean {
  const a = emptyAsNull(wanted);
  const b = emptyAsNull(current);
  if (a === null || b === null) return a === b;
  if (options.ignoreCase && typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  if (typeof a === 'number' && typeof b === 'string') return Number(b) === a;
  return canonicalJson(a) === canonicalJson(b);
}

/** The columns whose wanted value differs from the current one, in the given order. */
export function changedColumns(row: ImportRow, mappings: readonly AttributeMapping[], current: unknown): string[] {
  return mappings
    .filter((m) => has(row, m.column) && !sameValue(row.values[m.column], getPath(current, m.path), { ignoreCase: m.ignoreCase }))
    .map((m) => m.column);
}

/** The dry-run outcome for an update: `updated` with the changed columns, or `unchanged`. */
export function previewOutcome(row: ImportRow, id: string, changed: readonly string[], extras: Record<string, string> = {}): RowOutcome {
  return changed.length > 0
    ? { ok: true, rowNumber: row.rowNumber, status: 'updated', id, extras: { ...extras, ChangedColumns: changed.join(';') } }
    : { ok: true, rowNumber: row.rowNumber, status: 'unchanged', id, extras: { ...extras, ChangedColumns: '' } };
}
