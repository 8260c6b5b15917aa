/**
 * How a catalog value is bound to a statement for a column of its type, and read back in the
 * catalog's form, per dialect (datetimes to the microsecond, JSON, booleans). Pure functions.
 */
import { KlvError } from '../core/errors.js';
import { formatInstant, type Instant, instantKey, instantOf, STORAGE_DIGITS, storageInstant } from '../core/timestamps.js';
import type { ColumnType } from '../objects/types.js';
import type { Dialect } from './dialect.js';

/**
 * The instant a datetime value stands for (core/timestamps.ts: every digit kept, zoneless text is
 * UTC, Klaviyo's convention, never local time; a date alone is midnight UTC), or null.
 */
export function toInstant(value: unknown): Instant | null {
  if (value === null || value === undefined || value === '') return null;
  return instantOf(value, { dateAsMidnight: true }) ?? null;
}

/**
 * The text a datetime is bound as. Databases hold microseconds (STORAGE_DIGITS), so the value is
 * cut there (never rounded: MySQL would round, MariaDB cut) and written with exactly six digits:
 * - PostgreSQL: ISO text with `Z`, which timestamptz reads exactly (a Date would cut to ms);
 * - MySQL: DATETIME has no zone: the UTC wall-clock time (sessions run in UTC);
 * - SQLite: ISO text of a fixed width, so that text order is time order, as it was with the
 *   milliseconds klv wrote before (`.276Z`; those older values are read back as the same instant).
 */
function boundDatetime(dialect: Dialect, instant: Instant): string {
  if (dialect === 'mysql') return formatInstant(instant, { digits: STORAGE_DIGITS, separator: ' ', zone: false });
  return formatInstant(instant, { digits: STORAGE_DIGITS });
}

/** A catalog value as bound to a statement for a column of this type. */
export function toSqlValue(dialect: Dialect, type: ColumnType, value: unknown, column: string): unknown {
  if (value === undefined || value === null) return null;
  switch (type) {
    case 'json':
      return dialect === 'postgres' ? JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' ? withoutNul(v) : v)) : JSON.stringify(value);
    case 'datetime': {
      const instant = toInstant(value);
      if (!instant) {
        throw new KlvError(`Column ${column}: ${JSON.stringify(value)} is not a date and time`, {
          hint: 'This is a bug in the object catalog or a value Klaviyo changed format for; please report it.',
        });
      }
      return boundDatetime(dialect, instant);
    }
    case 'boolean': {
      const b = typeof value === 'boolean' ? value : typeof value === 'number' ? value !== 0 : String(value).toLowerCase() === 'true';
      return dialect === 'postgres' ? b : b ? 1 : 0;
    }
    case 'integer':
    case 'number':
      if (typeof value === 'number' || typeof value === 'bigint') return value;
      return Number(value);
    default: {
      const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
      return dialect === 'postgres' ? withoutNul(text) : text;
    }
  }
}

/**
 * PostgreSQL refuses the NUL character in TEXT and JSONB; one stray NUL in a profile property
 * must not stop every later run, so it is dropped (the only value a destination alters).
 */
function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replace(/\u0000/g, '') : text;
}

/**
 * A value read back from the database in the catalog's form (ISO UTC datetimes in their shortest
 * exact spelling, parsed JSON, booleans, numbers).
 */
export function fromSqlValue(type: ColumnType, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  switch (type) {
    case 'json':
      if (typeof value === 'string') {
        try {
          return JSON.parse(value);
        } catch {
          return value;
        }
      }
      return value;
    case 'datetime': {
      // pg gives `2024-05-13 08:01:45.27636+00` (timestamptz as text), mysql2 `2024-05-13
      // 08:01:45.276360`, SQLite the text klv wrote: one spelling for all (instantKey), so
      // a value compares equal to itself after a round trip through any of them.
      const instant = toInstant(value);
      return instant ? instantKey(storageInstant(instant)) : value;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      return Number(value) !== 0;
    case 'integer':
    case 'number':
      // pg returns BIGINT as text to avoid precision loss; catalog integers fit a double.
      return typeof value === 'number' ? value : Number(value);
    default:
      return typeof value === 'string' ? value : String(value);
  }
}
