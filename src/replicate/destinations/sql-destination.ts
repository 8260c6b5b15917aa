/**
 * The Destination contract implemented once for the three SQL databases. A small driver per
 * database (sqlite.ts, postgres.ts, mysql.ts) runs statements on a connection; this file builds
 * the statements, with the dialect differences from sql-types.ts.
 */
import { randomBytes } from 'node:crypto';
import { KlvError } from '../../core/errors.js';
import type { ColumnType, Row } from '../../objects/types.js';
import type { Destination, ReplicationState, SweepCheck, SweepOptions, SweepOutcome, TableColumn, TableSpec, UpsertResult } from '../destination.js';
import { widenDatetimeColumns } from './mysql-widen.js';
import { comparable, keyText } from './sql-compare.js';
import { type Dialect, fromSqlValue, placeholder, quoteIdent, sqlIdentifier, sqlType, toSqlValue } from './sql-types.js';

export const SYNCED_AT = '_klv_synced_at';
export const DELETED_AT = '_klv_deleted_at';
export const STATE_TABLE = '_klv_state';

/** Keys staged per statement during a deletion sweep (memory holds one batch). */
export const STAGING_BATCH = 1000;
/** Rows per multi-row upsert statement, before the bind-parameter limit lowers it. */
const UPSERT_BATCH = 500;
/** Below every dialect's bind-parameter limit (SQLite 32766, PostgreSQL and MySQL 65535). */
const MAX_PARAMS = 30000;

/** One connection: statements run in order on it. */
export interface SqlConnection {
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Runs a statement; returns the number of rows it changed. */
  run(sql: string, params?: unknown[]): Promise<number>;
}

/** The connection of a session (SqlDriver.session). */
export interface SessionConnection extends SqlConnection {
  /**
   * Runs the callback in one transaction on this session's connection, so that what the session
   * created (a temporary staging table) is visible inside it. SQLite holds its single connection
   * for the whole transaction, so no other statement of the process lands in the middle of it.
   */
  atomically<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T>;
}

/**
 * Runs fn in a transaction on conn: committed when it resolves, rolled back when it throws.
 * `begin` is the server's statement (PostgreSQL: BEGIN; MySQL: START TRANSACTION).
 */
export async function inTransaction<T>(conn: SqlConnection, begin: string, fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
  await conn.run(begin);
  try {
    const result = await fn(conn);
    await conn.run('COMMIT');
    return result;
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

export interface SqlDriver {
  /** A connection for the callback's duration (pooled drivers lend one; SQLite serialises). */
  withConnection<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T>;
  /**
   * One connection for a long task that awaits other work in between (a deletion sweep reading
   * Klaviyo): pooled drivers lend a connection; SQLite queues each statement on its own, so
   * other objects' writes are not held up (or deadlocked) while the sweep waits for pages.
   */
  session<T>(fn: (conn: SessionConnection) => Promise<T>): Promise<T>;
  /** Runs the callback in a transaction, committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface SqlDestinationConfig {
  kind: Dialect;
  description: string;
  driver: SqlDriver;
  /** PostgreSQL schema / MySQL database every table is qualified with; none for SQLite. */
  schema?: string;
  tablePrefix?: string;
  /** Keys staged per statement in a deletion sweep (tests lower it). */
  stagingBatch?: number;
}

const META_COLUMNS: TableColumn[] = [
  { name: SYNCED_AT, type: 'datetime' },
  { name: DELETED_AT, type: 'datetime' },
];

export class SqlDestination implements Destination {
  readonly kind: Dialect;
  readonly description: string;
  private readonly driver: SqlDriver;
  private readonly schema?: string;
  private readonly prefix: string;
  private readonly stagingBatch: number;
  private stateReady?: Promise<void>;
  private closed = false;

  constructor(config: SqlDestinationConfig) {
    this.kind = config.kind;
    this.description = config.description;
    this.driver = config.driver;
    this.schema = config.schema;
    this.prefix = config.tablePrefix ?? '';
    this.stagingBatch = config.stagingBatch ?? STAGING_BATCH;
  }

  // ---- names -------------------------------------------------------------------------------

  private q(name: string): string {
    return quoteIdent(this.kind, name);
  }

  private col(name: string): string {
    return this.q(sqlIdentifier(name));
  }

  /**
   * The SQL table name. TableSpec.name arrives with the prefix applied; a name without it gets it
   * here, so the prefix is applied exactly once whoever applies it.
   */
  tableName(name: string): string {
    return sqlIdentifier(this.prefix && !name.startsWith(this.prefix) ? this.prefix + name : name);
  }

  /** Schema-qualified, quoted table reference. */
  private table(name: string): string {
    const t = this.q(this.tableName(name));
    return this.schema ? `${this.q(this.schema)}.${t}` : t;
  }

  private ph(n: number): string {
    return placeholder(this.kind, n);
  }

  private typeOf(column: TableColumn, spec: TableSpec): string {
    const keyed = spec.primaryKey.includes(column.name) || spec.indexes.some((ix) => ix.includes(column.name));
    return sqlType(this.kind, column.type, keyed);
  }

  // ---- tables ------------------------------------------------------------------------------

  private async existingColumns(conn: SqlConnection, table: string): Promise<string[] | null> {
    let rows: Record<string, unknown>[];
    if (this.kind === 'sqlite') {
      rows = await conn.query('SELECT name AS c FROM pragma_table_info(?)', [table]);
    } else if (this.kind === 'postgres') {
      rows = await conn.query('SELECT column_name AS c FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2', [this.schema, table]);
    } else {
      rows = await conn.query('SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [this.schema, table]);
    }
    return rows.length === 0 ? null : rows.map((r) => String(r.c));
  }

  private indexName(table: string, columns: string[]): string {
    return sqlIdentifier(`${table}__${columns.map(sqlIdentifier).join('_')}`.replace(/[^A-Za-z0-9_]/g, '_') + '_idx');
  }

  private async ensureIndexes(conn: SqlConnection, spec: TableSpec, table: string): Promise<void> {
    let existing = new Set<string>();
    if (this.kind === 'mysql') {
      // MySQL has no CREATE INDEX IF NOT EXISTS (MariaDB does): look first.
      const rows = await conn.query('SELECT DISTINCT INDEX_NAME AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [this.schema, table]);
      existing = new Set(rows.map((r) => String(r.n).toLowerCase()));
    }
    for (const columns of spec.indexes) {
      if (columns.length === 0) continue;
      const name = this.indexName(table, columns);
      const cols = columns.map((c) => this.col(c)).join(', ');
      if (this.kind === 'mysql') {
        if (existing.has(name.toLowerCase())) continue;
        await conn.run(`CREATE INDEX ${this.q(name)} ON ${this.table(spec.name)} (${cols})`);
      } else {
        // PostgreSQL indexes live in the table's schema; naming the schema there is an error.
        await conn.run(`CREATE INDEX IF NOT EXISTS ${this.q(name)} ON ${this.table(spec.name)} (${cols})`);
      }
    }
  }

  async ensureTable(spec: TableSpec): Promise<{ created: boolean; addedColumns: string[] }> {
    if (spec.primaryKey.length === 0) throw new KlvError(`Table ${spec.name} has no primary key: rows cannot be upserted`);
    const table = this.tableName(spec.name);
    const all = [...spec.columns, ...META_COLUMNS];
    return this.driver.withConnection(async (conn) => {
      const existing = await this.existingColumns(conn, table);
      if (existing === null) {
        const defs = all.map((c) => `${this.col(c.name)} ${this.typeOf(c, spec)}${spec.primaryKey.includes(c.name) ? ' NOT NULL' : ''}`);
        defs.push(`PRIMARY KEY (${spec.primaryKey.map((k) => this.col(k)).join(', ')})`);
        // Binary collation: Klaviyo ids are case-sensitive (a case-insensitive key would merge two lists).
        const suffix = this.kind === 'mysql' ? ' DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : '';
        await conn.run(`CREATE TABLE IF NOT EXISTS ${this.table(spec.name)} (${defs.join(', ')})${suffix}`);
        await this.ensureIndexes(conn, spec, table);
        return { created: true, addedColumns: [] };
      }
      // MySQL column names are case-insensitive; the others compare exactly.
      const norm = (s: string) => (this.kind === 'mysql' ? s.toLowerCase() : s);
      const have = new Set(existing.map(norm));
      const added: string[] = [];
      for (const c of all) {
        if (have.has(norm(sqlIdentifier(c.name)))) continue;
        // Schema drift only adds (nullable) columns; nothing is dropped, and the only retyping is
        // the widening of datetimes below.
        await conn.run(`ALTER TABLE ${this.table(spec.name)} ADD COLUMN ${this.col(c.name)} ${this.typeOf(c, spec)}`);
        have.add(norm(sqlIdentifier(c.name)));
        if (c.name !== SYNCED_AT && c.name !== DELETED_AT) added.push(c.name);
      }
      // The one retyping: DATETIME(3) columns of replicas made before klv kept microseconds.
      await this.widenDatetimes(conn, spec.name, all.filter((c) => c.type === 'datetime').map((c) => sqlIdentifier(c.name)));
      await this.ensureIndexes(conn, spec, table);
      return { created: false, addedColumns: added };
    });
  }

  /**
   * MySQL: widens these datetime columns (SQL names) of a table to microseconds where they are
   * narrower (mysql-widen.ts); the names widened. Other databases hold microseconds already.
   */
  async widenDatetimeColumns(name: string, columns: string[]): Promise<string[]> {
    return this.driver.withConnection((conn) => this.widenDatetimes(conn, name, columns));
  }

  private async widenDatetimes(conn: SqlConnection, name: string, columns: string[]): Promise<string[]> {
    if (this.kind !== 'mysql' || columns.length === 0) return [];
    return widenDatetimeColumns(conn, { schema: this.schema, table: this.tableName(name), tableRef: this.table(name), quote: (n) => this.q(n) }, columns);
  }

  // ---- rows --------------------------------------------------------------------------------

  private keyOf(spec: TableSpec, row: Row): string {
    return JSON.stringify(spec.primaryKey.map((k) => keyText(row[k])));
  }

  /** `(k1, k2) IN ((?, ?), ...)`, or `k IN (?, ...)` for one key column. */
  private keyIn(spec: TableSpec, count: number, firstParam: number): string {
    const k = spec.primaryKey;
    let n = firstParam;
    const tuples: string[] = [];
    for (let i = 0; i < count; i++) {
      const t = k.map(() => this.ph(n++));
      tuples.push(k.length === 1 ? t[0]! : `(${t.join(', ')})`);
    }
    const lhs = k.length === 1 ? this.col(k[0]!) : `(${k.map((c) => this.col(c)).join(', ')})`;
    return `${lhs} IN (${tuples.join(', ')})`;
  }

  private keyColumns(spec: TableSpec): TableColumn[] {
    return spec.primaryKey.map((k) => {
      const c = spec.columns.find((col) => col.name === k);
      if (!c) throw new KlvError(`Table ${spec.name}: key column ${k} is not among its columns`);
      return c;
    });
  }

  private upsertSql(spec: TableSpec, columns: TableColumn[], rowCount: number): string {
    const names = columns.map((c) => this.col(c.name));
    let n = 1;
    const tuples: string[] = [];
    for (let i = 0; i < rowCount; i++) tuples.push(`(${columns.map(() => this.ph(n++)).join(', ')})`);
    const head = `INSERT INTO ${this.table(spec.name)} (${names.join(', ')}) VALUES ${tuples.join(', ')}`;
    const nonKey = columns.filter((c) => !spec.primaryKey.includes(c.name));
    if (this.kind === 'mysql') {
      // VALUES(col): MariaDB lacks MySQL 8's row alias; MySQL 8 still accepts this form.
      const sets = nonKey.map((c) => `${this.col(c.name)} = VALUES(${this.col(c.name)})`);
      return `${head} ON DUPLICATE KEY UPDATE ${sets.join(', ')}`;
    }
    const sets = nonKey.map((c) => `${this.col(c.name)} = excluded.${this.col(c.name)}`);
    return `${head} ON CONFLICT (${spec.primaryKey.map((k) => this.col(k)).join(', ')}) DO UPDATE SET ${sets.join(', ')}`;
  }

  /**
   * Upserts by key, in one transaction, and tells inserted, updated and unchanged rows apart.
   *
   * Per statement-sized chunk, one SELECT reads the stored rows of the chunk's keys (the same
   * query that tells new keys from known ones), and each stored row is compared with the row to
   * write in the form the database would give it back (`comparable`): JSON whatever its key order
   * (JSONB and MySQL's JSON reorder keys), datetimes as UTC instants to the microsecond (a value
   * Klaviyo sends with microseconds equals itself read back from any of the three databases),
   * booleans and numbers whatever the driver returns. Only new and changed rows are written in full; unchanged rows get
   * a one-column UPDATE of `_klv_synced_at`, which keeps large JSON and HTML values from being
   * rewritten on every run that reads them again (the lookback window, objects read in full).
   *
   * `_klv_synced_at` still moves for an unchanged row, on purpose: it says when klv last saw the
   * row live in Klaviyo (its freshness), which is what a reader checking that the replica is
   * current, or a run killed mid-way and watched by its operator, needs. When a row last changed
   * is its own Updated/UpdatedAt column. A row that was marked deleted and is seen again counts
   * as updated: its `_klv_deleted_at` is cleared, so readers of live rows see it change.
   */
  async upsertRows(spec: TableSpec, rows: Row[], syncedAt: Date): Promise<UpsertResult> {
    if (rows.length === 0) return { inserted: 0, updated: 0, unchanged: 0 };
    const keyCols = this.keyColumns(spec);
    // A key seen twice in one call: the last row wins (PostgreSQL refuses to update a row twice in one statement).
    const unique = new Map<string, Row>();
    for (const row of rows) {
      const key = this.keyOf(spec, row);
      unique.delete(key);
      unique.set(key, row);
    }
    const columns = [...spec.columns, ...META_COLUMNS];
    const perStatement = Math.max(1, Math.min(UPSERT_BATCH, Math.floor(MAX_PARAMS / columns.length)));
    const synced = toSqlValue(this.kind, 'datetime', syncedAt, SYNCED_AT);
    const all = [...unique.values()];
    const storedKey = (r: Record<string, unknown>) => JSON.stringify(keyCols.map((c) => keyText(fromSqlValue(c.type, r[sqlIdentifier(c.name)]))));
    const boundKey = (row: Row) => JSON.stringify(keyCols.map((c) => keyText(fromSqlValue(c.type, toSqlValue(this.kind, c.type, row[c.name], c.name)))));
    const keyParams = (batch: Row[]) => batch.flatMap((row) => keyCols.map((c) => toSqlValue(this.kind, c.type, row[c.name], c.name)));
    const selected = [...spec.columns, { name: DELETED_AT, type: 'datetime' as const }].map((c) => this.col(c.name)).join(', ');
    return this.driver.transaction(async (conn) => {
      let inserted = 0;
      let updated = 0;
      let unchanged = 0;
      for (let i = 0; i < all.length; i += perStatement) {
        const batch = all.slice(i, i + perStatement);
        // The stored rows of these keys, read inside the transaction that writes them.
        const found = await conn.query(`SELECT ${selected} FROM ${this.table(spec.name)} WHERE ${this.keyIn(spec, batch.length, 1)}`, keyParams(batch));
        const stored = new Map(found.map((r) => [storedKey(r), r]));
        const write: Row[] = [];
        const touch: Row[] = [];
        for (const row of batch) {
          const before = stored.get(boundKey(row));
          if (!before) {
            inserted++;
            write.push(row);
          } else if (before[sqlIdentifier(DELETED_AT)] !== null && before[sqlIdentifier(DELETED_AT)] !== undefined) {
            updated++;
            write.push(row);
          } else if (spec.columns.some((c) => comparable(c.type, fromSqlValue(c.type, before[sqlIdentifier(c.name)])) !== comparable(c.type, fromSqlValue(c.type, toSqlValue(this.kind, c.type, row[c.name], c.name))))) {
            updated++;
            write.push(row);
          } else {
            unchanged++;
            touch.push(row);
          }
        }
        if (write.length > 0) {
          const params: unknown[] = [];
          for (const row of write) {
            for (const c of spec.columns) params.push(toSqlValue(this.kind, c.type, row[c.name], c.name));
            // A row seen again is live again: clear any deletion mark.
            params.push(synced, null);
          }
          await conn.run(this.upsertSql(spec, columns, write.length), params);
        }
        if (touch.length > 0) {
          await conn.run(`UPDATE ${this.table(spec.name)} SET ${this.col(SYNCED_AT)} = ${this.ph(1)} WHERE ${this.keyIn(spec, touch.length, 2)}`, [synced, ...keyParams(touch)]);
        }
      }
      return { inserted, updated, unchanged };
    });
  }

  async reconcileDeletions(spec: TableSpec, liveKeys: AsyncIterable<Row>, at: Date, options: SweepOptions): Promise<SweepOutcome> {
    const keyCols = this.keyColumns(spec);
    const cascades = options.cascades ?? [];
    if (cascades.length > 0 && keyCols.length !== 1) {
      throw new KlvError(`Table ${spec.name}: deletions cascade only from a table with a one-column key`);
    }
    const stage = `_klv_live_${randomBytes(6).toString('hex')}`;
    // Temporary tables live outside any schema in PostgreSQL and SQLite; MySQL puts them in a database.
    const stageRef = this.kind === 'mysql' && this.schema ? `${this.q(this.schema)}.${this.q(stage)}` : this.q(stage);
    const keyDefs = keyCols.map((c) => `${this.col(c.name)} ${sqlType(this.kind, c.type, true)} NOT NULL`);
    const create =
      this.kind === 'mysql'
        ? `CREATE TEMPORARY TABLE ${stageRef} (${keyDefs.join(', ')}, PRIMARY KEY (${keyCols.map((c) => this.col(c.name)).join(', ')})) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`
        : `CREATE TEMPORARY TABLE ${stageRef} (${keyDefs.join(', ')}, PRIMARY KEY (${keyCols.map((c) => this.col(c.name)).join(', ')}))`;
    const insertHead =
      this.kind === 'mysql' ? 'INSERT IGNORE INTO' : this.kind === 'sqlite' ? 'INSERT OR IGNORE INTO' : 'INSERT INTO';
    const insertTail = this.kind === 'postgres' ? ' ON CONFLICT DO NOTHING' : '';
    const names = keyCols.map((c) => this.col(c.name)).join(', ');
    const target = this.table(spec.name);
    const deletedAt = this.col(DELETED_AT);
    const absentFrom = (ref: string) => `NOT EXISTS (SELECT 1 FROM ${stageRef} l WHERE ${keyCols.map((c) => `l.${this.col(c.name)} = ${ref}.${this.col(c.name)}`).join(' AND ')})`;
    const at_ = toSqlValue(this.kind, 'datetime', at, DELETED_AT);

    // One connection throughout: the staging table exists only on it.
    return this.driver.session(async (conn) => {
      await conn.run(create);
      try {
        let batch: unknown[][] = [];
        const flush = async () => {
          if (batch.length === 0) return;
          let n = 1;
          const tuples = batch.map((vals) => `(${vals.map(() => this.ph(n++)).join(', ')})`);
          await conn.run(`${insertHead} ${stageRef} (${names}) VALUES ${tuples.join(', ')}${insertTail}`, batch.flat());
          batch = [];
        };
        // Every key first, with nothing written to the table yet: when the keys throw (a read that
        // failed, or left a part out), the table is exactly as it was.
        for await (const row of liveKeys) {
          const vals = keyCols.map((c) => toSqlValue(this.kind, c.type, row[c.name], c.name));
          if (vals.some((v) => v === null)) continue;
          batch.push(vals);
          if (batch.length >= this.stagingBatch) await flush();
        }
        await flush();

        // The guard's numbers, the marking and the cascades in one transaction: what was judged is
        // what is marked, and a kill leaves all of it or none.
        return await conn.atomically(async (tx) => {
          const [seen] = await tx.query(`SELECT COUNT(*) AS n FROM ${stageRef}`);
          const [counts] = await tx.query(
            `SELECT COUNT(*) AS live, COALESCE(SUM(CASE WHEN ${absentFrom('p')} THEN 1 ELSE 0 END), 0) AS absent FROM ${target} p WHERE p.${deletedAt} IS NULL`,
          );
          const check: SweepCheck = { liveRows: Number(counts?.live ?? 0), liveKeys: Number(seen?.n ?? 0), absent: Number(counts?.absent ?? 0) };
          if (options.refuse?.(check)) return { deleted: 0, check, refused: true, cascaded: [] };

          // Children first: which parents go is read from the parent table before it changes.
          const cascaded: SweepOutcome['cascaded'] = [];
          const parentKey = this.col(keyCols[0]?.name ?? '');
          for (const cascade of cascades) {
            const childName = this.tableName(cascade.table);
            const childColumns = await this.existingColumns(tx, childName);
            const norm = (c: string) => (this.kind === 'mysql' ? c.toLowerCase() : c);
            const has = new Set((childColumns ?? []).map(norm));
            if (!has.has(norm(sqlIdentifier(cascade.column))) || !has.has(norm(DELETED_AT))) continue; // not replicated here
            const child = this.table(cascade.table);
            const column = this.col(cascade.column);
            let n: number;
            if (options.hard) {
              // Hard: every parent row this sweep removes (soft-marked ones included) takes its children.
              n = await tx.run(`DELETE FROM ${child} WHERE ${column} IN (SELECT p.${parentKey} FROM ${target} p WHERE ${absentFrom('p')})`);
            } else {
              n = await tx.run(
                `UPDATE ${child} SET ${deletedAt} = ${this.ph(1)} WHERE ${deletedAt} IS NULL AND ${column} IN (SELECT p.${parentKey} FROM ${target} p WHERE p.${deletedAt} IS NULL AND ${absentFrom('p')})`,
                [at_],
              );
            }
            cascaded.push({ table: childName, deleted: n });
          }

          let deleted: number;
          if (options.hard) deleted = await tx.run(`DELETE FROM ${target} WHERE ${absentFrom(target)}`);
          // Rows already marked keep the time they were first found missing.
          else deleted = await tx.run(`UPDATE ${target} SET ${deletedAt} = ${this.ph(1)} WHERE ${deletedAt} IS NULL AND ${absentFrom(target)}`, [at_]);
          return { deleted, check, refused: false, cascaded };
        });
      } finally {
        await conn.run(`DROP ${this.kind === 'mysql' ? 'TEMPORARY ' : ''}TABLE IF EXISTS ${stageRef}`).catch(() => undefined);
      }
    });
  }

  async countRows(spec: TableSpec): Promise<number> {
    return this.driver.withConnection(async (conn) => {
      const rows = await conn.query(`SELECT COUNT(*) AS n FROM ${this.table(spec.name)} WHERE ${this.col(DELETED_AT)} IS NULL`);
      return Number(rows[0]?.n ?? 0);
    });
  }

  /**
   * Every row of the table in the catalog's form (ISO datetimes, parsed JSON, booleans), with
   * `_klv_synced_at` and `_klv_deleted_at`, ordered by key. For tests and verification; not part
   * of the Destination contract.
   */
  async readRows(spec: TableSpec, options: { includeDeleted?: boolean } = {}): Promise<Row[]> {
    const columns = [...spec.columns, ...META_COLUMNS];
    return this.driver.withConnection(async (conn) => {
      const where = options.includeDeleted ? '' : ` WHERE ${this.col(DELETED_AT)} IS NULL`;
      const rows = await conn.query(
        `SELECT ${columns.map((c) => this.col(c.name)).join(', ')} FROM ${this.table(spec.name)}${where} ORDER BY ${spec.primaryKey.map((k) => this.col(k)).join(', ')}`,
      );
      return rows.map((r) => Object.fromEntries(columns.map((c) => [c.name, fromSqlValue(c.type, r[sqlIdentifier(c.name)])])));
    });
  }

  // ---- raw SQL (klv sync) ------------------------------------------------------------------

  /** Schema-qualified, quoted reference to a table (prefix applied), for callers building SQL. */
  tableRef(name: string): string {
    return this.table(name);
  }

  /** The PostgreSQL schema / MySQL database tables live in (created by the driver), if any. */
  get schemaName(): string | undefined {
    return this.schema;
  }

  /** Runs one query on a connection; rows as the driver returns them. Not part of Destination. */
  query(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    return this.driver.withConnection((conn) => conn.query(sql, params));
  }

  /** Runs one statement that returns no rows (DDL); the number of rows it changed. */
  execute(sql: string, params: unknown[] = []): Promise<number> {
    return this.driver.withConnection((conn) => conn.run(sql, params));
  }

  /** Runs statements in one transaction (klv sync writes a table and its id map together). */
  transaction<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    return this.driver.transaction(fn);
  }

  // ---- state -------------------------------------------------------------------------------

  private stateTable(): string {
    return this.table(STATE_TABLE);
  }

  private ensureState(): Promise<void> {
    this.stateReady ??= this.driver
      .withConnection(async (conn) => {
        const text = this.kind === 'mysql' ? 'VARCHAR(64)' : 'TEXT';
        const key = this.kind === 'mysql' ? 'VARCHAR(255)' : 'TEXT';
        const suffix = this.kind === 'mysql' ? ' DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : '';
        // Times as ISO 8601 text: the cursor comes back exactly as the engine stored it.
        await conn.run(
          `CREATE TABLE IF NOT EXISTS ${this.stateTable()} (${this.q('object')} ${key} NOT NULL PRIMARY KEY, ${this.q('cursor')} ${text}, ${this.q('last_complete_run_at')} ${text}, ${this.q('last_sweep_at')} ${text})${suffix}`,
        );
      })
      .catch((err: unknown) => {
        this.stateReady = undefined;
        throw err;
      });
    return this.stateReady;
  }

  private stateFromRow(r: Record<string, unknown>): ReplicationState {
    const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
    return { object: String(r.object), cursor: s(r.cursor), lastCompleteRunAt: s(r.last_complete_run_at), lastSweepAt: s(r.last_sweep_at) };
  }

  private stateColumns(): string {
    return ['object', 'cursor', 'last_complete_run_at', 'last_sweep_at'].map((c) => this.q(c)).join(', ');
  }

  async getState(object: string): Promise<ReplicationState | null> {
    await this.ensureState();
    return this.driver.withConnection(async (conn) => {
      const rows = await conn.query(`SELECT ${this.stateColumns()} FROM ${this.stateTable()} WHERE ${this.q('object')} = ${this.ph(1)}`, [object]);
      return rows[0] ? this.stateFromRow(rows[0]) : null;
    });
  }

  async setState(state: ReplicationState): Promise<void> {
    await this.ensureState();
    const params = [state.object, state.cursor, state.lastCompleteRunAt, state.lastSweepAt];
    const values = `(${params.map((_, i) => this.ph(i + 1)).join(', ')})`;
    const others = ['cursor', 'last_complete_run_at', 'last_sweep_at'].map((c) => this.q(c));
    const sql =
      this.kind === 'mysql'
        ? `INSERT INTO ${this.stateTable()} (${this.stateColumns()}) VALUES ${values} ON DUPLICATE KEY UPDATE ${others.map((c) => `${c} = VALUES(${c})`).join(', ')}`
        : `INSERT INTO ${this.stateTable()} (${this.stateColumns()}) VALUES ${values} ON CONFLICT (${this.q('object')}) DO UPDATE SET ${others.map((c) => `${c} = excluded.${c}`).join(', ')}`;
    await this.driver.withConnection((conn) => conn.run(sql, params));
  }

  async listStates(): Promise<ReplicationState[]> {
    await this.ensureState();
    return this.driver.withConnection(async (conn) => {
      const rows = await conn.query(`SELECT ${this.stateColumns()} FROM ${this.stateTable()} ORDER BY ${this.q('object')}`);
      return rows.map((r) => this.stateFromRow(r));
    });
  }

  async deleteState(object: string): Promise<void> {
    await this.ensureState();
    await this.driver.withConnection((conn) => conn.run(`DELETE FROM ${this.stateTable()} WHERE ${this.q('object')} = ${this.ph(1)}`, [object]));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.driver.close();
  }
}

export type { ColumnType };
