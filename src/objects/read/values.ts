/**
 * Reading values out of JSON:API resources, and comparing them for the conditions klv checks
 * locally. Pure functions.
 */
import type { JsonApiResource } from '../../klaviyo/json-api.js';
import type { ColumnDef, Condition, Row, ScalarValue } from '../types.js';

/** The value at a dotted attribute path (`location.city`); undefined when absent. */
/**
 * Column paths split once: an export reads every path on every row, and splitting them again
 * each time was one of the largest CPU costs of a large export. The set of paths is small (the
 * catalog's columns and the custom properties asked for), so the cache stays small.
 */
const splitPaths = new Map<string, readonly string[]>();

function pathParts(path: string): readonly string[] {
  let parts = splitPaths.get(path);
  if (!parts) {
    parts = path.split('.');
    // A bound all the same, for a long-lived process asked for ever new property names.
    if (splitPaths.size >= 10_000) splitPaths.clear();
    splitPaths.set(path, parts);
  }
  return parts;
}

export function attributeAt(attributes: Record<string, unknown> | undefined, path: string): unknown {
  let node: unknown = attributes;
  for (const part of pathParts(path)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

export function columnValue(resource: JsonApiResource, column: ColumnDef): unknown {
  if (column.get) return column.get(resource);
  if (!column.path || column.path === 'id') return resource.id;
  const v = attributeAt(resource.attributes, column.path);
  return v === undefined ? null : v;
}

/** A row of the given columns from one resource. */
export function rowFrom(resource: JsonApiResource, columns: readonly ColumnDef[]): Row {
  const row: Row = {};
  for (const c of columns) row[c.name] = columnValue(resource, c);
  return row;
}

/**
 * A datetime as epoch milliseconds, with the digits past the millisecond as a fraction: Klaviyo
 * may show (and compare) microseconds, and a row 0.362 ms past a `>` bound is past it, where
 * Date.parse alone would make it equal.
 */
export function datetimeMs(value: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return ms;
  const digits = /:\d{2}\.\d{3}(\d+)/.exec(value)?.[1];
  return digits ? ms + Number(`0.${digits}`) : ms;
}

function comparable(value: unknown, column: ColumnDef | undefined): string | number | boolean | null {
  if (value === null || value === undefined || value === '') return null;
  switch (column?.type) {
    case 'datetime': {
      const ms = typeof value === 'number' ? value : datetimeMs(String(value));
      return Number.isNaN(ms) ? String(value) : ms;
    }
    case 'integer':
    case 'number':
      return typeof value === 'number' ? value : Number(value);
    case 'boolean':
      return typeof value === 'boolean' ? value : String(value) === 'true';
    case 'email':
      return String(value).toLowerCase();
    default:
      return typeof value === 'object' ? JSON.stringify(value) : (value as string | number | boolean);
  }
}

function compareOne(actual: unknown, op: Condition['op'], expected: ScalarValue, column: ColumnDef | undefined): boolean {
  const a = comparable(actual, column);
  const e = comparable(expected, column);
  if (op === '=') return a === e;
  if (op === '!=') return a !== e;
  if (a === null || e === null) return false;
  switch (op) {
    case '>':
      return a > e;
    case '>=':
      return a >= e;
    case '<':
      return a < e;
    case '<=':
      return a <= e;
    // Case-sensitive, as Klaviyo's own filters (and klv query's LIKE) are: a condition must select
    // the same rows whether Klaviyo or klv checks it. Emails are compared lower-cased (above),
    // as Klaviyo stores them.
    case 'contains':
      return String(a).includes(String(e));
    case 'starts-with':
      return String(a).startsWith(String(e));
    case 'ends-with':
      return String(a).endsWith(String(e));
    default:
      return false;
  }
}

/**
 * Whether a row satisfies one condition. Array values (IncludedListIds, Tags) match when any
 * element does, as Klaviyo's own filters on arrays do.
 */
export function matchesCondition(row: Row, condition: Condition, column: ColumnDef | undefined): boolean {
  const actual = row[condition.column];
  const values = Array.isArray(actual) ? actual : [actual];
  const expected = condition.op === 'in' ? (condition.value as ScalarValue[]) : [condition.value as ScalarValue];
  const op = condition.op === 'in' ? '=' : condition.op;
  if (op === '!=') return values.every((v) => expected.every((e) => compareOne(v, '!=', e, column)));
  return values.some((v) => expected.some((e) => compareOne(v, op, e, column)));
}

export function matchesAll(row: Row, conditions: readonly Condition[], columnsByName: ReadonlyMap<string, ColumnDef>): boolean {
  return conditions.every((c) => matchesCondition(row, c, columnsByName.get(c.column)));
}
