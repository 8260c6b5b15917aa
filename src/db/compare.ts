/**
 * How the replica tells a stored row from the one about to be written: values in a form that
 * compares equal exactly when the database would store the same thing. Pure functions.
 */
import type { ColumnType } from '../objects/types.js';

/** A key value as text, so keys compare the same whichever form the driver returns them in. */
export function keyText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'string' ? value : String(value);
}

/**
 * A value in a form that compares equal exactly when the database would store the same thing:
 * JSON with its object keys sorted (JSONB and MySQL's JSON reorder them), strings made well formed
 * (a lone surrogate is stored as U+FFFD by every driver's UTF-8 encoding). Callers pass values as
 * fromSqlValue gives them, so datetimes, booleans and numbers are already in one form.
 */
export function comparable(type: ColumnType, value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (type === 'json') return stableJson(value);
  if (typeof value === 'string') return JSON.stringify(wellFormed(value));
  return JSON.stringify(value) ?? String(value);
}

function stableJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : stableJson(v))).join(',')}]`;
  if (typeof value === 'object' && !(value instanceof Date)) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(wellFormed(k))}:${stableJson(v)}`).join(',')}}`;
  }
  if (typeof value === 'string') return JSON.stringify(wellFormed(value));
  return JSON.stringify(value) ?? 'null';
}

function wellFormed(text: string): string {
  const s = text as string & { toWellFormed?: () => string };
  return typeof s.toWellFormed === 'function' ? s.toWellFormed() : text;
}

