/**
 * replicate's Destination contract on a SQL database (src/db): the replica's tables (created, or
 * given the columns they lack), upserts that tell inserted, updated and unchanged rows apart, the
 * deletion sweep (./sql-sweep.ts) and the state (./replica-state.ts).
 */
import { KlvError } from '../../core/errors.js';
import { comparable, keyText } from '../../db/compare.js';
import type { Database } from '../../db/database.js';
import { type Dialect, placeholder, sqlIdentifier, sqlType } from '../../db/dialect.js';
import { createTableSql, keyInSql, upsertSql } from '../../db/statements.js';
import { fromSqlValue, toSqlValue } from '../../db/values.js';
import type { Row } from '../../objects/types.js';
import type { Destination, ReplicationState, SweepOptions, SweepOutcome, TableColumn, TableSpec, UpsertResult } from '../destination.js';
import { ReplicaState, STATE_TABLE } from './replica-state.js';
import { sweepDeletions } from './sql-sweep.js';

export const SYNCED_AT = '_klv_synced_at';
export const DELETED_AT = '_klv_deleted_at';
export { STATE_TABLE };

/** Keys staged per statement during a deletion sweep (memory holds one batch). */
export const STAGING_BATCH = 1000;
/** Rows per multi-row upsert statement, before the bind-parameter limit lowers it. */
const UPSERT_BATCH = 500;
/** Below every dialect's bind-parameter limit (SQLite 32766, PostgreSQL and MySQL 65535). */
const MAX_PARAMS = 30000;

export interface SqlDestinationOptions {
  /** Prefix for every table name (`klaviyo_`). */
  tablePrefix?: string;
  /** Keys staged per statement in a deletion sweep (tests lower it). */
  stagingBatch?: number;
}

const META_COLUMNS: TableColumn[] = [
  { name: SYNCED_AT, type: 'datetime' },
  { name: DELETED_AT, type: 'datetime' },
];

export class SqlDestination implements Destination {
  private readonly prefix: string;
  private readonly stagingBatch: number;
  private readonly state: ReplicaState;

  constructor(
    /** The database the replica lives in. */
    readonly db: Database,
    options: SqlDestinationOptions = {},
  ) {
    this.prefix = options.tablePrefix ?? '';
    this.stagingBatch = options.stagingBatch ?? STAGING_BATCH;
    this.state = new ReplicaState(db, this.tableName(STATE_TABLE));
  }

  get kind(): Dialect {
    return this.db.kind;
  }

  get description(): string {
    return this.db.description;
  }

  // ---- names -------------------------------------------------------------------------------

  /**
   * The SQL table name. TableSpec.name arrives with the prefix applied; a name without it gets it
   * here, so the prefix is applied exactly once whoever applies it.
   */
  tableName(name: string): string {
    return sqlIdentifier(this.prefix && !name.startsWith(this.prefix) ? this.prefix + name : name);
  }

  /** Schema-qualified, quoted table reference. */
  private table(name: string): string {
    return this.db.table(this.tableName(name));
  }

  private typeOf(column: TableColumn, spec: TableSpec): string {
    const keyed = spec.primaryKey.includes(column.name) || spec.indexes.some((ix) => ix.includes(column.name));
    return sqlType(this.kind, column.type, keyed);
  }

  // ---- tables ------------------------------------------------------------------------------

  async ensureTable(spec: TableSpec): Promise<{ created: boolean; addedColumns: string[] }> {
    if (spec.primaryKey.length === 0) throw new KlvError(`Table ${spec.name} has no primary key: rows cannot be upserted`);
    const table = this.tableName(spec.name);
    const all = [...spec.columns, ...META_COLUMNS];
    const db = this.db;
    return db.withConnection(async (conn) => {
      const existing = await db.columnsOf(table, conn);
      if (existing === null) {
        const defs = all.map((c) => `${db.column(c.name)} ${this.typeOf(c, spec)}${spec.primaryKey.includes(c.name) ? ' NOT NULL' : ''}`);
        defs.push(`PRIMARY KEY (${spec.primaryKey.map((k) => db.column(k)).join(', ')})`);
        await conn.run(createTableSql(this.kind, db.table(table), defs));
        await db.ensureIndexes(conn, table, spec.indexes);
        return { created: true, addedColumns: [] };
      }
      const have = db.columnSet(existing);
      const added: string[] = [];
      for (const c of all) {
        if (have.has(sqlIdentifier(c.name))) continue;
        // Schema drift only adds (nullable) columns; nothing is dropped, and the only retyping is
        // the widening of datetimes below.
        await conn.run(`ALTER TABLE ${db.table(table)} ADD COLUMN ${db.column(c.name)} ${this.typeOf(c, spec)}`);
        have.add(sqlIdentifier(c.name));
        if (c.name !== SYNCED_AT && c.name !== DELETED_AT) added.push(c.name);
      }
      // The one retyping: DATETIME(3) columns of replicas made before klv kept microseconds.
      await db.widenDatetimeColumns(table, all.filter((c) => c.type === 'datetime').map((c) => sqlIdentifier(c.name)), conn);
      await db.ensureIndexes(conn, table, spec.indexes);
      return { created: false, addedColumns: added };
    });
  }

  // ---- rows --------------------------------------------------------------------------------

  private keyOf(spec: TableSpec, row: Row): string {
    return JSON.stringify(spec.primaryKey.map((k) => keyText(row[k])));
  }

  private keyColumns(spec: TableSpec): TableColumn[] {
    return spec.primaryKey.map((k) => {
      const c = spec.columns.find((col) => col.name === k);
      if (!c) throw new KlvError(`Table ${spec.name}: key column ${k} is not among its columns`);
      return c;
    });
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
    const db = this.db;
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
    const bound = (c: TableColumn, row: Row) => toSqlValue(this.kind, c.type, row[c.name], c.name);
    const synced = toSqlValue(this.kind, 'datetime', syncedAt, SYNCED_AT);
    const all = [...unique.values()];
    const storedKey = (r: Record<string, unknown>) => JSON.stringify(keyCols.map((c) => keyText(fromSqlValue(c.type, r[sqlIdentifier(c.name)]))));
    const boundKey = (row: Row) => JSON.stringify(keyCols.map((c) => keyText(fromSqlValue(c.type, bound(c, row)))));
    const keyParams = (batch: Row[]) => batch.flatMap((row) => keyCols.map((c) => bound(c, row)));
    const keyNames = spec.primaryKey.map((k) => db.column(k));
    const selected = [...spec.columns, { name: DELETED_AT, type: 'datetime' as const }].map((c) => db.column(c.name)).join(', ');
    const table = this.table(spec.name);
    const changed = (before: Record<string, unknown>, row: Row) =>
      spec.columns.some((c) => comparable(c.type, fromSqlValue(c.type, before[sqlIdentifier(c.name)])) !== comparable(c.type, fromSqlValue(c.type, bound(c, row))));
    return db.transaction(async (conn) => {
      let inserted = 0;
      let updated = 0;
      let unchanged = 0;
      for (let i = 0; i < all.length; i += perStatement) {
        const batch = all.slice(i, i + perStatement);
        // The stored rows of these keys, read inside the transaction that writes them.
        const found = await conn.query(`SELECT ${selected} FROM ${table} WHERE ${keyInSql(this.kind, keyNames, batch.length)}`, keyParams(batch));
        const stored = new Map(found.map((r) => [storedKey(r), r]));
        const write: Row[] = [];
        const touch: Row[] = [];
        for (const row of batch) {
          const before = stored.get(boundKey(row));
          const deletedBefore = before?.[sqlIdentifier(DELETED_AT)];
          if (!before) {
            inserted++;
            write.push(row);
          } else if ((deletedBefore !== null && deletedBefore !== undefined) || changed(before, row)) {
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
            for (const c of spec.columns) params.push(bound(c, row));
            // A row seen again is live again: clear any deletion mark.
            params.push(synced, null);
          }
          await conn.run(upsertSql(this.kind, table, columns.map((c) => db.column(c.name)), keyNames, write.length), params);
        }
        if (touch.length > 0) {
          await conn.run(`UPDATE ${table} SET ${db.column(SYNCED_AT)} = ${placeholder(this.kind, 1)} WHERE ${keyInSql(this.kind, keyNames, touch.length, 2)}`, [synced, ...keyParams(touch)]);
        }
      }
      return { inserted, updated, unchanged };
    });
  }

  reconcileDeletions(spec: TableSpec, liveKeys: AsyncIterable<Row>, at: Date, options: SweepOptions): Promise<SweepOutcome> {
    const keyColumns = this.keyColumns(spec);
    if ((options.cascades ?? []).length > 0 && keyColumns.length !== 1) {
      return Promise.reject(new KlvError(`Table ${spec.name}: deletions cascade only from a table with a one-column key`));
    }
    const swept = { table: this.tableName(spec.name), keyColumns, deletedAt: DELETED_AT, childTable: (name: string) => this.tableName(name), stagingBatch: this.stagingBatch };
    return sweepDeletions(this.db, swept, liveKeys, at, options);
  }

  async countRows(spec: TableSpec): Promise<number> {
    const [row] = await this.db.query(`SELECT COUNT(*) AS n FROM ${this.table(spec.name)} WHERE ${this.db.column(DELETED_AT)} IS NULL`);
    return Number(row?.n ?? 0);
  }

  /**
   * Every row of the table in the catalog's form (ISO datetimes, parsed JSON, booleans), with
   * `_klv_synced_at` and `_klv_deleted_at`, ordered by key. For tests and verification; not part
   * of the Destination contract.
   */
  async readRows(spec: TableSpec, options: { includeDeleted?: boolean } = {}): Promise<Row[]> {
    const db = this.db;
    const columns = [...spec.columns, ...META_COLUMNS];
    const where = options.includeDeleted ? '' : ` WHERE ${db.column(DELETED_AT)} IS NULL`;
    const rows = await db.query(
      `SELECT ${columns.map((c) => db.column(c.name)).join(', ')} FROM ${this.table(spec.name)}${where} ORDER BY ${spec.primaryKey.map((k) => db.column(k)).join(', ')}`,
    );
    return rows.map((r) => Object.fromEntries(columns.map((c) => [c.name, fromSqlValue(c.type, r[sqlIdentifier(c.name)])])));
  }

  // ---- state -------------------------------------------------------------------------------

  getState(object: string): Promise<ReplicationState | null> {
    return this.state.get(object);
  }

  setState(state: ReplicationState): Promise<void> {
    return this.state.set(state);
  }

  listStates(): Promise<ReplicationState[]> {
    return this.state.list();
  }

  deleteState(object: string): Promise<void> {
    return this.state.delete(object);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
