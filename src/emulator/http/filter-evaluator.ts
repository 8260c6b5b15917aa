/**
 * Evaluates validated filter conditions against stored resources. A field is a dotted path into
 * the resource's attributes (`location.city`); a path that crosses an array collects every
 * element's value (`subscriptions.email.marketing.list_suppressions.list_id` matches when any
 * suppression has that list id), and a condition holds when any collected value satisfies it.
 * Endpoints whose filter fields are not attributes (`id`, events' `metric_id`, campaigns'
 * `messages.channel`, membership `joined_group_at`) pass a resolver for those fields.
 */
import type { StoredResource } from '../store/types.js';
import type { Condition } from './filter-validator.js';
import type { FilterScalar, FilterValue } from './filter-parser.js';

/** Returns the values of a field, or undefined to use the attribute path. */
export type FieldResolver = (resource: StoredResource, field: string) => unknown[] | undefined;

export function valuesAtPath(root: unknown, path: string): unknown[] {
  let current: unknown[] = [root];
  for (const key of path.split('.')) {
    const next: unknown[] = [];
    for (const value of current) {
      if (value === null || value === undefined) continue;
      if (Array.isArray(value)) {
        for (const item of value) pushChild(next, item, key);
      } else {
        pushChild(next, value, key);
      }
    }
    current = next;
  }
  return current.flatMap((v) => (Array.isArray(v) ? v : [v])).filter((v) => v !== undefined);
}

function pushChild(out: unknown[], value: unknown, key: string): void {
  if (value !== null && typeof value === 'object' && key in (value as Record<string, unknown>)) {
    out.push((value as Record<string, unknown>)[key]);
  }
}

export function fieldValues(resource: StoredResource, field: string, resolve?: FieldResolver): unknown[] {
  const custom = resolve?.(resource, field);
  if (custom) return custom;
  if (field === 'id') return [resource.id];
  return valuesAtPath(resource.attributes, field);
}

export function matchesAll(resource: StoredResource, conditions: Condition[], resolve?: FieldResolver): boolean {
  for (const c of conditions) {
    if (!matches(fieldValues(resource, c.field, resolve), c)) return false;
  }
  return true;
}

export function matches(values: unknown[], c: Condition): boolean {
  const isDate = c.meta.format === 'date-time';
  switch (c.operator) {
    case 'has':
      return values.some((v) => v !== null && v !== undefined && v !== '');
    case 'equals':
      if (Array.isArray(c.value)) return values.some((v) => (c.value as FilterScalar[]).some((t) => same(v, t, isDate)));
      if (c.value === null) return values.length === 0 || values.every((v) => v === null);
      return values.some((v) => same(v, c.value as FilterScalar, isDate));
    case 'any':
      return values.some((v) => (c.value as FilterScalar[]).some((t) => same(v, t, isDate)));
    case 'contains':
      return values.some((v) => typeof v === 'string' && v.includes(String(c.value)));
    case 'contains-any':
      return (c.value as FilterScalar[]).some((t) => values.some((v) => same(v, t, isDate)));
    case 'contains-all':
      return (c.value as FilterScalar[]).every((t) => values.some((v) => same(v, t, isDate)));
    case 'starts-with':
      return values.some((v) => typeof v === 'string' && v.startsWith(String(c.value)));
    case 'ends-with':
      return values.some((v) => typeof v === 'string' && v.endsWith(String(c.value)));
    case 'greater-than':
      return values.some((v) => order(v, c.value, isDate, (d) => d > 0));
    case 'greater-or-equal':
      return values.some((v) => order(v, c.value, isDate, (d) => d >= 0));
    case 'less-than':
      return values.some((v) => order(v, c.value, isDate, (d) => d < 0));
    case 'less-or-equal':
      return values.some((v) => order(v, c.value, isDate, (d) => d <= 0));
    default:
      return false;
  }
}

function comparable(value: unknown, isDate: boolean): number | string | boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'object' && (value as { kind?: string }).kind === 'datetime') return (value as { ms: number }).ms;
  if (value instanceof Date) return value.getTime();
  if (isDate && typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? null : ms;
  }
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  return null;
}

function same(actual: unknown, target: FilterScalar, isDate: boolean): boolean {
  const a = comparable(actual, isDate);
  const b = comparable(target, isDate);
  return a !== null && a === b;
}

function order(actual: unknown, target: FilterValue | undefined, isDate: boolean, test: (diff: number) => boolean): boolean {
  const a = comparable(actual, isDate);
  const b = comparable(target as FilterScalar, isDate);
  if (a === null || b === null || typeof a !== typeof b) return false;
  if (typeof a === 'number') return test(a - (b as number));
  return test(String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0);
}

/** Sort key of a resource for `sort=field`: the first value, datetimes as epoch ms. */
export function sortKey(resource: StoredResource, field: string, resolve?: FieldResolver): number | string | null {
  const [first] = fieldValues(resource, field, resolve);
  if (first === null || first === undefined) return null;
  if (typeof first === 'number') return first;
  if (typeof first === 'string') {
    if (/^\d{4}-\d{2}-\d{2}T/.test(first)) {
      const ms = Date.parse(first);
      if (!Number.isNaN(ms)) return ms;
    }
    return first;
  }
  return String(first);
}

/** Ascending order with nulls first (as Klaviyo lists never-set values first); stable ties by id. */
export function compareSortKeys(a: number | string | null, b: number | string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}
