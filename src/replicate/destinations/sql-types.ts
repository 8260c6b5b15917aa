/**
 * What differs between the three SQL dialects klv replicates into: identifier quoting,
 * placeholders, column types, and how a catalog value is written and read back. Everything
 * else (the statements' shapes) is shared by ./sql-destination.ts.
 */
import { createHash } from 'node:crypto';
import { KlvError } from '../../core/errors.js';
import type { ColumnType } from '../../objects/types.js';

export type Dialect = 'sqlite' | 'postgres' | 'mysql';

/** PostgreSQL silently truncates identifiers beyond 63 bytes, MySQL refuses beyond 64 characters. */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * The SQL name of a column or table. Long names (expanded custom properties can be long) are
 * shortened deterministically with a hash, so the same catalog name always maps to the same SQL
 * name: otherwise PostgreSQL's silent truncation would make drift detection add the column again.
 */
export function sqlIdentifier(name: string): string {
  if (Buffer.byteLength(name, 'utf8') <= MAX_IDENTIFIER_BYTES) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  let head = name;
  while (Buffer.byteLength(head, 'utf8') > MAX_IDENTIFIER_BYTES - 9) head = head.slice(0, -1);
  return `${head}_${hash}`;
}

export function quoteIdent(dialect: Dialect, name: string): string {
  if (dialect === 'mysql') return '`' + name.replace(/`/g, '``') + '`';
  return '"' + name.replace(/"/g, '""') + '"';
}

/** The n-th (1-based) bind placeholder. */
export function placeholder(dialect: Dialect, n: number): string {
  return dialect === 'postgres' ? `$${n}` : '?';
}

/**
 * The column's SQL type. `keyed`: the column is part of the primary key or an index, which MySQL
 * cannot build on TEXT without a prefix length, so it gets VARCHAR(255) there.
 */
export function sqlType(dialect: Dialect, type: ColumnType, keyed: boolean): string {
  switch (dialect) {
    case 'sqlite':
      switch (type) {
        case 'integer':
        case 'boolean':
          return 'INTEGER';
        case 'number':
          return 'REAL';
        default:
          // datetime as ISO 8601 UTC text (sorts chronologically), json as its text.
          return 'TEXT';
      }
    case 'postgres':
      switch (type) {
        case 'integer':
          return 'BIGINT';
        case 'number':
          return 'DOUBLE PRECISION';
        case 'boolean':
          return 'BOOLEAN';
        case 'datetime':
          return 'TIMESTAMPTZ';
        case 'json':
          return 'JSONB';
        default:
          return 'TEXT';
      }
    case 'mysql':
      switch (type) {
        case 'integer':
          return 'BIGINT';
        case 'number':
          return 'DOUBLE';
        case 'boolean':
          return 'BOOLEAN';
        case 'datetime':
          // Stored as UTC (the connection's time zone is +00:00).
          return 'DATETIME(3)';
        case 'json':
          return 'JSON';
        case 'id':
        case 'email':
        case 'phone':
          return 'VARCHAR(255)';
        default:
          // Template HTML and long descriptions exceed TEXT's 64 KiB.
          return keyed ? 'VARCHAR(255)' : 'LONGTEXT';
      }
  }
}

/** Parses a datetime value to a Date; zoneless text is UTC (Klaviyo's convention), never local time. */
export function toDate(value: unknown): Date | null {
  if (value === null || value === undefined || value === '') return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (typeof value === 'number') return new Date(value);
  const text = String(value).trim();
  const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(text) || /^\d{4}-\d{2}-\d{2}$/.test(text) ? text : `${text}Z`;
  const date = new Date(zoned.replace(' ', 'T'));
  return Number.isNaN(date.getTime()) ? null : date;
}

function mysqlDatetime(date: Date): string {
  // DATETIME has no zone: write the UTC wall-clock time.
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** A catalog value as bound to a statement for a column of this type. */
export function toSqlValue(dialect: Dialect, type: ColumnType, value: unknown, column: string): unknown {
  if (value === undefined || value === null) return null;
  switch (type) {
    case 'json':
      return dialect === 'postgres' ? JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' ? withoutNul(v) : v)) : JSON.stringify(value);
    case 'datetime': {
      const date = toDate(value);
      if (!date) {
        throw new KlvError(`Column ${column}: ${JSON.stringify(value)} is not a date and time`, {
          hint: 'This is a bug in the object catalog or a value Klaviyo changed format for; please report it.',
        });
      }
      if (dialect === 'mysql') return mysqlDatetime(date);
      return date.toISOString();
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

/** A value read back from the database in the catalog's form (ISO UTC datetimes, parsed JSON, booleans, numbers). */
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
    case 'datetime':
      if (value instanceof Date) return value.toISOString();
      return toDate(value)?.toISOString() ?? value;
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
