/**
 * One open database (SQLite file, PostgreSQL schema, MySQL database), whichever it is: names as
 * the dialect writes them, statements on the driver's connections, and the questions klv asks of
 * the catalog (a table's columns) and the DDL it runs (indexes, the one retyping of MySQL
 * datetimes). Replicate (replicate/destinations), sync (sync/store.ts) and, later, imports from
 * databases and locks work through this class; open one with ./open.ts.
 */
import type { SqlConnection, SessionConnection, SqlDriver } from './connection.js';
import { columnKey, type Dialect, quoteIdent, sqlIdentifier } from './dialect.js';
import { widenDatetimeColumns } from './mysql-widen.js';
import { insertSql } from './statements.js';

/** How a database is opened (./open.ts). */
export interface OpenOptions {
  /** PostgreSQL schema / MySQL database to use (created if missing); SQLite has none. */
  schema?: string;
}

export interface DatabaseConfig {
  kind: Dialect;
  /** Human-readable target with any password removed (for messages). */
  description: string;
  driver: SqlDriver;
  /** PostgreSQL schema / MySQL database every table is qualified with; none for SQLite. */
  schema?: string;
}

export class Database {
  readonly kind: Dialect;
  readonly description: string;
  /** The PostgreSQL schema / MySQL database tables live in (created when opened), if any. */
  readonly schema?: string;
  private readonly driver: SqlDriver;
  private closed = false;

  constructor(config: DatabaseConfig) {
    this.kind = config.kind;
    this.description = config.description;
    this.driver = config.driver;
    this.schema = config.schema;
  }

  // ---- names -------------------------------------------------------------------------------

  /** A quoted identifier, as given. */
  quote(name: string): string {
    return quoteIdent(this.kind, name);
  }

  /** A catalog column name as its quoted SQL name (shortened when too long: sqlIdentifier). */
  column(name: string): string {
    return this.quote(sqlIdentifier(name));
  }

  /** A table's schema-qualified, quoted reference, from its SQL name. */
  table(name: string): string {
    const t = this.quote(name);
    return this.schema ? `${this.quote(this.schema)}.${t}` : t;
  }

  /**
   * A temporary table's reference: temporary tables live outside any schema in PostgreSQL and
   * SQLite, while MySQL puts them in a database.
   */
  temporaryTable(name: string): string {
    return this.kind === 'mysql' ? this.table(name) : this.quote(name);
  }

  // ---- statements --------------------------------------------------------------------------

  /** A connection for the callback's duration (SqlDriver.withConnection). */
  withConnection<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    return this.driver.withConnection(fn);
  }

  /** One connection for a long task that awaits other work in between (SqlDriver.session). */
  session<T>(fn: (conn: SessionConnection) => Promise<T>): Promise<T> {
    return this.driver.session(fn);
  }

  /** Statements in one transaction: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    return this.driver.transaction(fn);
  }

  /** One query on a connection of its own; rows as the driver returns them. */
  query(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    return this.driver.withConnection((conn) => conn.query(sql, params));
  }

  /** One statement on a connection of its own; the number of rows it changed. */
  run(sql: string, params: unknown[] = []): Promise<number> {
    return this.driver.withConnection((conn) => conn.run(sql, params));
  }

  /**
   * Inserts one row into a table whose key the database numbers (autoIncrementKey); returns the
   * number it gave. `columns` are quoted.
   */
  async insertReturningKey(conn: SqlConnection, table: string, columns: readonly string[], params: unknown[], key: string): Promise<number> {
    const sql = insertSql(this.kind, this.table(table), columns);
    if (this.kind === 'mysql') {
      await conn.run(sql, params);
      const [row] = await conn.query('SELECT LAST_INSERT_ID() AS id');
      return Number(row!.id);
    }
    const [row] = await conn.query(`${sql} RETURNING ${this.quote(key)} AS id`, params);
    return Number(row!.id);
  }

  // ---- the catalog -------------------------------------------------------------------------

  /** The columns of a table (SQL names, as the database spells them), or null when there is no such table. */
  async columnsOf(table: string, conn?: SqlConnection): Promise<string[] | null> {
    const ask = (c: SqlConnection) => {
      if (this.kind === 'sqlite') return c.query('SELECT name AS c FROM pragma_table_info(?)', [table]);
      if (this.kind === 'postgres') {
        return c.query('SELECT column_name AS c FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2', [this.schema ?? 'public', table]);
      }
      return c.query('SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [this.schema, table]);
    };
    const rows = conn ? await ask(conn) : await this.withConnection(ask);
    return rows.length === 0 ? null : rows.map((r) => String(r.c));
  }

  /** A set of column names that compares them as the database does (MySQL: case-insensitively). */
  columnSet(names: Iterable<string>): { has(name: string): boolean; add(name: string): void } {
    const set = new Set<string>();
    for (const n of names) set.add(columnKey(this.kind, n));
    return {
      has: (name) => set.has(columnKey(this.kind, name)),
      add: (name) => void set.add(columnKey(this.kind, name)),
    };
  }

  // ---- DDL ---------------------------------------------------------------------------------

  /** The name of the index on these (catalog) columns of a table. */
  indexName(table: string, columns: readonly string[]): string {
    return sqlIdentifier(`${table}__${columns.map(sqlIdentifier).join('_')}`.replace(/[^A-Za-z0-9_]/g, '_') + '_idx');
  }

  /** Creates the indexes on these (catalog) columns of a table that it does not have yet. */
  async ensureIndexes(conn: SqlConnection, table: string, indexes: readonly (readonly string[])[]): Promise<void> {
    let existing = new Set<string>();
    if (this.kind === 'mysql') {
      // MySQL has no CREATE INDEX IF NOT EXISTS (MariaDB does): look first.
      const rows = await conn.query('SELECT DISTINCT INDEX_NAME AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [this.schema, table]);
      existing = new Set(rows.map((r) => String(r.n).toLowerCase()));
    }
    for (const columns of indexes) {
      if (columns.length === 0) continue;
      const name = this.indexName(table, columns);
      const cols = columns.map((c) => this.column(c)).join(', ');
      if (this.kind === 'mysql') {
        if (existing.has(name.toLowerCase())) continue;
        await conn.run(`CREATE INDEX ${this.quote(name)} ON ${this.table(table)} (${cols})`);
      } else {
        // PostgreSQL indexes live in the table's schema; naming the schema there is an error.
        await conn.run(`CREATE INDEX IF NOT EXISTS ${this.quote(name)} ON ${this.table(table)} (${cols})`);
      }
    }
  }

  /**
   * MySQL: widens these datetime columns (SQL names) of a table to microseconds where they are
   * narrower (mysql-widen.ts); the names widened. The other databases hold microseconds already.
   */
  async widenDatetimeColumns(table: string, columns: readonly string[], conn?: SqlConnection): Promise<string[]> {
    if (this.kind !== 'mysql' || columns.length === 0) return [];
    const widen = (c: SqlConnection) => widenDatetimeColumns(c, { schema: this.schema, table, tableRef: this.table(table), quote: (n) => this.quote(n) }, columns);
    return conn ? widen(conn) : this.withConnection(widen);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.driver.close();
  }
}
