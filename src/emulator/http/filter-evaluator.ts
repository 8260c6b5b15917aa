/**
 * Evaluates validated filter conditions against stored resources. A field is a dotted path into
 * the resource's attributes (`location.city`); a path that crosses an array collects every
 * element's value (`subscriptions.email.marketing.list_suppressions.list_id` matches when any
 * suppression has that list id), and a condition holds when any collected value satisfies it.
 * Several conditions on the same array must hold for one and the same element (matchesAll).
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
  let sameElement: Map<string, Condition[]> | undefined;
  for (const c of conditions) {
    const custom = resolve?.(resource, c.field);
    if (!custom && conditions.length > 1 && c.field.includes('.')) {
      const prefix = arrayPrefix(resource.attributes, c.field);
      if (prefix !== null) {
        sameElement ??= new Map();
        const group = sameElement.get(prefix);
        if (group) group.push(c);
        else sameElement.set(prefix, [c]);
        continue;
      }
    }
    const values = custom ?? (c.field === 'id' ? [resource.id] : valuesAtPath(resource.attributes, c.field));
    if (!matches(values, c)) return false;
  }
  if (sameElement) {
    for (const [prefix, group] of sameElement) {
      if (!matchesOneElement(resource.attributes, prefix, group)) return false;
    }
  }
  return true;
}

/**
 * The path up to the first non-empty array it crosses (`subscriptions.email.marketing.list_suppressions`
 * for `...list_suppressions.list_id`), or null when it crosses none.
 */
function arrayPrefix(root: unknown, path: string): string | null {
  const keys = path.split('.');
  let value: unknown = root;
  for (let i = 0; i < keys.length - 1; i++) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
    value = (value as Record<string, unknown>)[keys[i]!];
    if (Array.isArray(value)) return value.length > 0 ? keys.slice(0, i + 1).join('.') : null;
  }
  return null;
}

/**
 * Conditions on fields of the same array hold together only when one element satisfies all of
 * them: `equals(list_suppressions.list_id,'L1'),greater-than(list_suppressions.timestamp,T)` asks
 * for a suppression from list L1 after T, not for any L1 suppression plus any recent one. A
 * single condition is the plain any-element match (valuesAtPath collects every element).
 */
function matchesOneElement(root: unknown, prefix: string, group: Condition[]): boolean {
  if (group.length === 1) return matches(valuesAtPath(root, group[0]!.field), group[0]!);
  const elements = valuesAtPath(root, prefix);
  const rest = (c: Condition) => c.field.slice(prefix.length + 1);
  return elements.some((element) => group.every((c) => matches(valuesAtPath(element, rest(c)), c)));
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
