/**
 * What differs between the three SQL dialects klv writes to (SQLite, PostgreSQL, MySQL/MariaDB),
 * and only that: identifier quoting and length, placeholders, column types, and the few DDL and
 * statement fragments each spells its own way. Pure functions; the statements built from them
 * live in ./statements.ts and ./ddl.ts.
 */
import { createHash } from 'node:crypto';
import type { ColumnType } from '../objects/types.js';

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
          // Stored as UTC (the connection's time zone is +00:00), to the microsecond as Klaviyo
          // sends it. Replicas created with DATETIME(3) are widened (mysql-widen.ts).
          return 'DATETIME(6)';
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

/** `$1, $2, $3` or `?, ?, ?`: `count` placeholders numbered from `first`. */
export function placeholders(dialect: Dialect, count: number, first = 1): string {
  return Array.from({ length: count }, (_, i) => placeholder(dialect, first + i)).join(', ');
}

/**
 * What every table klv creates ends with. MySQL: utf8mb4 with a binary collation, because Klaviyo
 * ids are case-sensitive (a case-insensitive key would merge two lists).
 */
export function tableOptions(dialect: Dialect): string {
  return dialect === 'mysql' ? ' DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : '';
}

/** An integer primary key the database numbers itself (a row created before it has a Klaviyo Id). */
export function autoIncrementKey(dialect: Dialect): string {
  if (dialect === 'sqlite') return 'INTEGER PRIMARY KEY AUTOINCREMENT';
  return dialect === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'BIGINT AUTO_INCREMENT PRIMARY KEY';
}

/** Text that may be part of a key or an index (MySQL cannot index TEXT without a prefix length). */
export function keyTextType(dialect: Dialect): string {
  return dialect === 'mysql' ? 'VARCHAR(255)' : 'TEXT';
}

/** Short text: an ISO 8601 time. */
export function shortTextType(dialect: Dialect): string {
  return dialect === 'mysql' ? 'VARCHAR(64)' : 'TEXT';
}

/** Text of any length (MySQL's TEXT stops at 64 KiB). */
export function longTextType(dialect: Dialect): string {
  return dialect === 'mysql' ? 'LONGTEXT' : 'TEXT';
}

/**
 * A column name as the database compares it: SQLite's and MySQL's are case-insensitive (a table
 * cannot have both `name` and `Name`), PostgreSQL's quoted names exact.
 */
export function columnKey(dialect: Dialect, name: string): string {
  return dialect === 'postgres' ? name : name.toLowerCase();
}

/** The statement that opens a transaction on a pooled session. */
export function beginStatement(dialect: 'postgres' | 'mysql'): string {
  return dialect === 'mysql' ? 'START TRANSACTION' : 'BEGIN';
}
