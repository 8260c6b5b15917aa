/**
 * Klaviyo filter expressions (`filter=and(equals(email,'a@b.c'),greater-than(updated,2024-01-01T00:00:00Z))`),
 * formatted the way Klaviyo parses them and checked against what each operation allows.
 *
 * Value syntax (Klaviyo docs "Filtering"; spec examples):
 * - strings are quoted: single quotes, like the spec's examples, or double quotes when the text
 *   holds a single quote and no double quote; otherwise backslash escapes;
 * - datetimes are NOT quoted (a quoted datetime is "invalid filter"): ISO 8601 in UTC with `Z`;
 * - numbers and booleans are bare; lists are `['a','b']`;
 * - several conditions combine with `and(...)`.
 *
 * Allowed fields and operators are strict and differ by endpoint; they come from the spec
 * (`OPERATIONS[op].filters`), so a bad filter fails here with the allowed ones named, before any
 * request is sent.
 */
import { UsageError } from '../core/errors.js';
import { epochMsFloor, parseInstant } from '../core/timestamps.js';
import type { FilterFieldMeta, FilterOperator } from './api-metadata-types.js';
import { OPERATIONS, type OperationId } from './generated/api-metadata.js';

export type FilterScalar = string | number | boolean | Date;
export type FilterValue = FilterScalar | FilterScalar[];

export interface FilterCondition {
  kind: 'condition';
  operator: FilterOperator;
  field: string;
  /** Absent for `has`. */
  value?: FilterValue;
}

export interface FilterAnd {
  kind: 'and';
  conditions: FilterExpression[];
}

export type FilterExpression = FilterCondition | FilterAnd;

const LIST_OPERATORS: ReadonlySet<string> = new Set(['any', 'contains-any', 'contains-all']);

function condition(operator: FilterOperator, field: string, value?: FilterValue): FilterCondition {
  return value === undefined ? { kind: 'condition', operator, field } : { kind: 'condition', operator, field, value };
}

/** Constructors for every operator Klaviyo documents. */
export const filter = {
  equals: (field: string, value: FilterScalar) => condition('equals', field, value),
  any: (field: string, values: FilterScalar[]) => condition('any', field, values),
  contains: (field: string, value: FilterScalar) => condition('contains', field, value),
  containsAny: (field: string, values: FilterScalar[]) => condition('contains-any', field, values),
  containsAll: (field: string, values: FilterScalar[]) => condition('contains-all', field, values),
  startsWith: (field: string, value: string) => condition('starts-with', field, value),
  endsWith: (field: string, value: string) => condition('ends-with', field, value),
  greaterThan: (field: string, value: FilterScalar) => condition('greater-than', field, value),
  lessThan: (field: string, value: FilterScalar) => condition('less-than', field, value),
  greaterOrEqual: (field: string, value: FilterScalar) => condition('greater-or-equal', field, value),
  lessOrEqual: (field: string, value: FilterScalar) => condition('less-or-equal', field, value),
  has: (field: string) => condition('has', field),
  and: (...conditions: FilterExpression[]): FilterAnd => ({ kind: 'and', conditions }),
};

/** A quoted string literal, escaped so Klaviyo reads exactly `text`. */
export function quoteString(text: string): string {
  if (!text.includes("'")) return `'${text.replace(/\\/g, '\\\\')}'`;
  if (!text.includes('"')) return `"${text.replace(/\\/g, '\\\\')}"`;
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `2024-01-01T00:00:00Z`: UTC, milliseconds only when there are some. */
export function formatFilterDatetime(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new UsageError('Invalid date in a filter');
  const iso = date.toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/**
 * Reads a datetime a person typed (core/timestamps): without a zone it is taken as UTC (never the
 * machine's zone), a date alone as midnight UTC, and a day or time that does not exist (February
 * 30, 24:00) is refused rather than rolled over into the next month.
 */
export function parseFilterDatetime(text: string, field: string): Date {
  const instant = parseInstant(text, { dateAsMidnight: true });
  if (!instant) {
    throw new UsageError(
      `'${text}' is not a date-time for the filter field '${field}'`,
      'Use ISO 8601, e.g. 2024-01-31 or 2024-01-31T12:00:00Z (times without a zone are read as UTC).',
    );
  }
  return new Date(epochMsFloor(instant));
}

function isDatetimeField(meta: FilterFieldMeta | undefined): boolean {
  return meta?.format === 'date-time' || meta?.format === 'date';
}

/** One value, typed by the field's metadata when known. */
export function formatScalar(value: FilterScalar, field: string, meta?: FilterFieldMeta): string {
  if (value instanceof Date) return formatFilterDatetime(value);
  if (isDatetimeField(meta)) {
    if (typeof value !== 'string') {
      throw new UsageError(`The filter field '${field}' takes a date-time, not ${JSON.stringify(value)}`);
    }
    return formatFilterDatetime(parseFilterDatetime(value, field));
  }
  switch (meta?.type) {
    case 'boolean': {
      if (typeof value === 'boolean') return String(value);
      if (value === 'true' || value === 'false') return value;
      throw new UsageError(`The filter field '${field}' takes true or false, not ${JSON.stringify(value)}`);
    }
    case 'integer':
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (!Number.isFinite(n) || (meta.type === 'integer' && !Number.isInteger(n))) {
        throw new UsageError(`The filter field '${field}' takes ${meta.type === 'integer' ? 'a whole number' : 'a number'}, not ${JSON.stringify(value)}`);
      }
      return String(n);
    }
    case 'string': {
      const text = String(value);
      if (meta.enum && !meta.enum.includes(text)) {
        throw new UsageError(`'${text}' is not a value of the filter field '${field}'`, `Allowed values: ${meta.enum.join(', ')}.`);
      }
      return quoteString(text);
    }
    default:
      // Unknown field type (or no metadata): strings quoted, numbers and booleans bare.
      return typeof value === 'string' ? quoteString(value) : String(value);
  }
}

export function formatValue(value: FilterValue, field: string, meta?: FilterFieldMeta): string {
  if (Array.isArray(value)) return `[${value.map((v) => formatScalar(v, field, meta)).join(',')}]`;
  return formatScalar(value, field, meta);
}

function flatten(expr: FilterExpression): FilterCondition[] {
  return expr.kind === 'and' ? expr.conditions.flatMap(flatten) : [expr];
}

function formatCondition(c: FilterCondition, meta?: FilterFieldMeta): string {
  if (c.operator === 'has') return `has(${c.field})`;
  if (c.value === undefined) throw new UsageError(`The filter ${c.operator}(${c.field}, ...) needs a value`);
  if (LIST_OPERATORS.has(c.operator) && !Array.isArray(c.value)) {
    throw new UsageError(`The filter operator '${c.operator}' takes a list of values, e.g. ${c.operator}(${c.field},['a','b'])`);
  }
  if (LIST_OPERATORS.has(c.operator) && Array.isArray(c.value) && c.value.length === 0) {
    throw new UsageError(`The filter ${c.operator}(${c.field}, ...) needs at least one value`);
  }
  return `${c.operator}(${c.field},${formatValue(c.value, c.field, meta)})`;
}

/**
 * Formats an expression without checking it against an operation; `fields` (an operation's
 * filter metadata) only types the values. Several conditions become `and(...)`.
 */
export function formatFilter(expr: FilterExpression, fields: Record<string, FilterFieldMeta> = {}): string {
  const conditions = flatten(expr);
  if (conditions.length === 0) throw new UsageError('An empty filter: give at least one condition');
  const parts = conditions.map((c) => formatCondition(c, fields[c.field]));
  return parts.length === 1 ? parts[0] : `and(${parts.join(',')})`;
}

function filtersOf(operationId: OperationId | string): Record<string, FilterFieldMeta> {
  const meta = (OPERATIONS as Record<string, { filters: Record<string, FilterFieldMeta> } | undefined>)[operationId];
  if (!meta) throw new UsageError(`Unknown Klaviyo operation '${operationId}'`);
  return meta.filters;
}

/** Throws a UsageError naming the allowed fields or operators when the operation refuses a condition. */
export function validateFilter(operationId: OperationId | string, expr: FilterExpression): void {
  const allowed = filtersOf(operationId);
  const fieldNames = Object.keys(allowed);
  for (const c of flatten(expr)) {
    if (fieldNames.length === 0) {
      throw new UsageError(`${operationId} takes no filter`, 'Filter the results after reading them instead.');
    }
    const meta = allowed[c.field];
    if (!meta) {
      throw new UsageError(
        `${operationId} cannot filter on '${c.field}'`,
        `Filterable fields: ${fieldNames.map((f) => `${f} (${allowed[f].operators.join(', ')})`).join('; ')}.`,
      );
    }
    if (!meta.operators.includes(c.operator)) {
      throw new UsageError(
        `${operationId} cannot filter '${c.field}' with '${c.operator}'`,
        `Operators allowed for ${c.field}: ${meta.operators.join(', ')}.`,
      );
    }
  }
}

/** Validates against the operation and formats: the value to pass as the `filter` query parameter. */
export function buildFilter(operationId: OperationId | string, ...exprs: FilterExpression[]): string {
  const expr: FilterExpression = exprs.length === 1 ? exprs[0] : filter.and(...exprs);
  validateFilter(operationId, expr);
  return formatFilter(expr, filtersOf(operationId));
}
