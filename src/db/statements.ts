/**
 * The statements klv runs whose shape differs between dialects, built as text with placeholders
 * (the values are always bound, never spliced in). Names arrive quoted (Database.quote, .column,
 * .table). Pure functions.
 *
 * Plain SQL rather than a query builder (Kysely was weighed): klv's tables are built at run time
 * from the catalog, so a typed builder would be untyped here, and the statements it needs are the
 * ones where a builder branches per dialect too (upserts, insert-or-ignore, generated keys,
 * temporary tables, MySQL's collation and its missing CREATE INDEX IF NOT EXISTS).
 */
import { type Dialect, placeholder, placeholders, tableOptions } from './dialect.js';

/** `CREATE TABLE IF NOT EXISTS t (defs)` with the dialect's table options (MySQL: utf8mb4_bin). */
export function createTableSql(dialect: Dialect, table: string, defs: readonly string[], options: { temporary?: boolean; ifNotExists?: boolean } = {}): string {
  const temporary = options.temporary ? 'TEMPORARY ' : '';
  const ifNotExists = options.ifNotExists === false ? '' : 'IF NOT EXISTS ';
  return `CREATE ${temporary}TABLE ${ifNotExists}${table} (${defs.join(', ')})${tableOptions(dialect)}`;
}

/** Drops a temporary table if it is there (MySQL says TEMPORARY, so a real table of that name is safe). */
export function dropTemporaryTableSql(dialect: Dialect, table: string): string {
  return `DROP ${dialect === 'mysql' ? 'TEMPORARY ' : ''}TABLE IF EXISTS ${table}`;
}

/** `INSERT INTO t (a, b) VALUES (?, ?), (?, ?)`: `rows` tuples, placeholders numbered from `first`. */
export function insertSql(dialect: Dialect, table: string, columns: readonly string[], rows = 1, first = 1): string {
  const tuples: string[] = [];
  for (let i = 0; i < rows; i++) tuples.push(`(${placeholders(dialect, columns.length, first + i * columns.length)})`);
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`;
}

/** An insert whose rows are dropped when their key exists already (a sweep's staged keys). */
export function insertIgnoreSql(dialect: Dialect, table: string, columns: readonly string[], rows: number): string {
  const insert = insertSql(dialect, table, columns, rows);
  if (dialect === 'mysql') return insert.replace(/^INSERT INTO/, 'INSERT IGNORE INTO');
  if (dialect === 'sqlite') return insert.replace(/^INSERT INTO/, 'INSERT OR IGNORE INTO');
  return `${insert} ON CONFLICT DO NOTHING`;
}

/**
 * Inserts rows, or updates every non-key column of the rows whose key exists. `key` must be the
 * table's primary key (MySQL's ON DUPLICATE KEY has no target of its own).
 */
export function upsertSql(dialect: Dialect, table: string, columns: readonly string[], key: readonly string[], rows = 1): string {
  const head = insertSql(dialect, table, columns, rows);
  const nonKey = columns.filter((c) => !key.includes(c));
  if (dialect === 'mysql') {
    // VALUES(col): MariaDB lacks MySQL 8's row alias; MySQL 8 still accepts this form.
    const sets = nonKey.length === 0 ? [`${key[0]} = ${key[0]}`] : nonKey.map((c) => `${c} = VALUES(${c})`);
    return `${head} ON DUPLICATE KEY UPDATE ${sets.join(', ')}`;
  }
  const action = nonKey.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${nonKey.map((c) => `${c} = excluded.${c}`).join(', ')}`;
  return `${head} ON CONFLICT (${key.join(', ')}) ${action}`;
}

/** `(k1, k2) IN ((?, ?), ...)`, or `k IN (?, ...)` for one key column; placeholders from `first`. */
export function keyInSql(dialect: Dialect, key: readonly string[], count: number, first = 1): string {
  let n = first;
  const tuples: string[] = [];
  for (let i = 0; i < count; i++) {
    const t = key.map(() => placeholder(dialect, n++));
    tuples.push(key.length === 1 ? t[0]! : `(${t.join(', ')})`);
  }
  const lhs = key.length === 1 ? key[0]! : `(${key.join(', ')})`;
  return `${lhs} IN (${tuples.join(', ')})`;
}

/** `a = $1, b = $2`: assignments with placeholders numbered from `first`. */
export function assignmentsSql(dialect: Dialect, columns: readonly string[], first = 1): string {
  return columns.map((c, i) => `${c} = ${placeholder(dialect, first + i)}`).join(', ');
}
