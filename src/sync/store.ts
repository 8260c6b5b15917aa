/**
 * The database side of `klv sync`, on src/db: the user's table, the id map that ties its rows to
 * Klaviyo's records, and the create intents (recovery.ts). Creates what is missing, reads all
 * three, and writes them in the caller's transactions (one per row: the row, its map entry and
 * its intent move together).
 *
 * `_klv_sync_map` (object, row_key, klaviyo_id, klaviyo_hash, db_hash, klaviyo_updated, synced_at,
 * last_error_hash, base): row_key is the table's `_klv_row_id`, so a row created in the database
 * is tracked before it has a Klaviyo Id; `base` holds the last synchronized values (the three-way
 * merge needs them, a hash alone cannot say which column changed); `last_error_hash` is the hash of
 * a write Klaviyo refused, not sent again until the row changes.
 */
import { KlvError } from '../core/errors.js';
import type { SqlConnection } from '../db/connection.js';
import type { Database } from '../db/database.js';
import { autoIncrementKey, keyTextType, longTextType, placeholder, sqlIdentifier, sqlType } from '../db/dialect.js';
import { assignmentsSql, createTableSql, upsertSql } from '../db/statements.js';
import { fromSqlValue, toSqlValue } from '../db/values.js';
import type { ColumnDef, Row } from '../objects/types.js';
import { PENDING_TABLE, type PendingCreate } from './recovery.js';
import { normalizeRow, type Norm, type SyncSpec, type Values } from './spec.js';

export const MAP_TABLE = '_klv_sync_map';
export const ROW_ID = '_klv_row_id';
export const SYNCED_AT = '_klv_synced_at';
/** Optional: set by the application when it edits a row, for --conflict newest. */
export const MODIFIED_AT = '_klv_modified_at';

const MAP_COLUMNS = ['object', 'row_key', 'klaviyo_id', 'klaviyo_hash', 'db_hash', 'klaviyo_updated', 'synced_at', 'last_error_hash', 'base'];
const PENDING_COLUMNS = ['object', 'row_key', 'name', 'sent_values', 'attempt_hash', 'since'];
const ENTRY_KEY = ['object', 'row_key'];

/** A row of the id map. */
export interface MapEntry {
  rowKey: number;
  klaviyoId: string | null;
  klaviyoHash: string | null;
  dbHash: string | null;
  klaviyoUpdated: string | null;
  lastErrorHash: string | null;
  base: Values | null;
}

/** A row of the user's table, normalized. */
export interface TableRow {
  rowKey: number;
  id: string | null;
  values: Values;
  /** Klaviyo-only columns as stored (insertOnly + info), normalized. */
  extra: Values;
  modifiedAt: string | null;
}

/** The table's columns besides its key and Id: synchronized, Klaviyo-only, bookkeeping. */
export function tableColumns(spec: SyncSpec): ColumnDef[] {
  return [...spec.sync, ...spec.insertOnly, ...spec.info];
}

export interface SyncStoreOptions {
  db: Database;
  spec: SyncSpec;
  /** The user's table (its SQL name). */
  table: string;
  /** The map's and the intents' `object` column: the object and the table (`Lists:lists`). */
  objectKey: string;
  /** Now, as ISO 8601 (the run's clock). */
  now(): string;
}

export class SyncStore {
  private readonly db: Database;
  readonly spec: SyncSpec;
  private readonly objectKey: string;
  private readonly now: () => string;
  /** The user's table's SQL name. */
  readonly table: string;

  constructor(options: SyncStoreOptions) {
    this.db = options.db;
    this.spec = options.spec;
    this.table = sqlIdentifier(options.table);
    this.objectKey = options.objectKey;
    this.now = options.now;
  }

  private get kind() {
    return this.db.kind;
  }

  private ref(name: string): string {
    return this.db.table(sqlIdentifier(name));
  }

  private ph(n: number): string {
    return placeholder(this.kind, n);
  }

  transaction<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  // ---- tables ------------------------------------------------------------------------------

  /** Creates the user table and the map when missing (not in a dry run); adds columns the table lacks. */
  async ensureTables(options: { dryRun: boolean }): Promise<{ tableExists: boolean }> {
    const db = this.db;
    const existing = (await db.columnsOf(this.table)) ?? [];
    const datetime = sqlType(this.kind, 'datetime', false);
    const wanted: Array<[string, string]> = [
      ['Id', `${sqlType(this.kind, 'id', true)} UNIQUE`],
      ...tableColumns(this.spec).map((c): [string, string] => [c.name, sqlType(this.kind, c.type, false)]),
      [MODIFIED_AT, datetime],
      [SYNCED_AT, datetime],
    ];
    if (options.dryRun) return { tableExists: existing.length > 0 };
    if (existing.length === 0) {
      const defs = [`${db.quote(ROW_ID)} ${autoIncrementKey(this.kind)}`, ...wanted.map(([n, type]) => `${db.quote(n)} ${type}`)];
      await db.run(createTableSql(this.kind, this.ref(this.table), defs));
    } else {
      const have = db.columnSet(existing);
      if (!have.has(ROW_ID)) {
        throw new KlvError(`Table ${this.table} has no ${ROW_ID} column: klv sync needs it to track rows created in the database before they have a Klaviyo Id.`, {
          hint: `Sync into a new table (--table NAME), or add the column: ${ROW_ID} as an auto-increment primary key.`,
        });
      }
      for (const [n, type] of wanted) {
        if (!have.has(n)) await db.run(`ALTER TABLE ${this.ref(this.table)} ADD COLUMN ${db.quote(n)} ${type.replace(' UNIQUE', '')}`);
      }
      // MySQL: DATETIME(3) columns of a table made before klv kept microseconds become DATETIME(6),
      // or Klaviyo's Updated would differ from the table's on every run (db/mysql-widen.ts).
      await db.widenDatetimeColumns(this.table, wanted.filter(([, type]) => type === datetime).map(([n]) => n));
    }
    const key = keyTextType(this.kind);
    const text = longTextType(this.kind);
    await db.run(
      createTableSql(this.kind, this.ref(MAP_TABLE), [
        `object ${key} NOT NULL, row_key BIGINT NOT NULL, klaviyo_id ${key}, klaviyo_hash ${key}, db_hash ${key}, klaviyo_updated ${key}, synced_at ${key}, last_error_hash ${key}, base ${text}`,
        'PRIMARY KEY (object, row_key)',
      ]),
    );
    await db.run(
      createTableSql(this.kind, this.ref(PENDING_TABLE), [
        `object ${key} NOT NULL, row_key BIGINT NOT NULL, name ${text}, sent_values ${text} NOT NULL, attempt_hash ${key} NOT NULL, since ${key} NOT NULL`,
        'PRIMARY KEY (object, row_key)',
      ]),
    );
    return { tableExists: existing.length > 0 };
  }

  // ---- reads -------------------------------------------------------------------------------

  async readMap(): Promise<MapEntry[]> {
    if ((await this.db.columnsOf(sqlIdentifier(MAP_TABLE))) === null) return [];
    const rows = await this.db.query(`SELECT * FROM ${this.ref(MAP_TABLE)} WHERE object = ${this.ph(1)}`, [this.objectKey]);
    return rows.map((r) => ({
      rowKey: Number(r.row_key),
      klaviyoId: (r.klaviyo_id as string | null) ?? null,
      klaviyoHash: (r.klaviyo_hash as string | null) ?? null,
      dbHash: (r.db_hash as string | null) ?? null,
      klaviyoUpdated: (r.klaviyo_updated as string | null) ?? null,
      lastErrorHash: (r.last_error_hash as string | null) ?? null,
      base: r.base ? (JSON.parse(String(r.base)) as Values) : null,
    }));
  }

  async readPending(): Promise<PendingCreate[]> {
    if ((await this.db.columnsOf(sqlIdentifier(PENDING_TABLE))) === null) return [];
    const rows = await this.db.query(`SELECT * FROM ${this.ref(PENDING_TABLE)} WHERE object = ${this.ph(1)} ORDER BY row_key`, [this.objectKey]);
    return rows.map((r) => ({
      rowKey: Number(r.row_key),
      name: (r.name as string | null) ?? null,
      values: JSON.parse(String(r.sent_values)) as Values,
      attemptHash: String(r.attempt_hash),
      since: String(r.since),
    }));
  }

  async readTable(exists: boolean): Promise<TableRow[]> {
    if (!exists) return [];
    const spec = this.spec;
    const columns = tableColumns(spec);
    const names = [ROW_ID, 'Id', ...columns.map((c) => c.name), MODIFIED_AT].map((n) => this.db.quote(n));
    const rows = await this.db.query(`SELECT ${names.join(', ')} FROM ${this.ref(this.table)} ORDER BY ${this.db.quote(ROW_ID)}`);
    return rows.map((r) => {
      const typed: Row = {};
      for (const c of columns) typed[c.name] = fromSqlValue(c.type, r[c.name]);
      const id = r.Id === null || r.Id === undefined || r.Id === '' ? null : String(r.Id);
      return {
        rowKey: Number(r[ROW_ID]),
        id,
        values: normalizeRow(spec.sync, typed),
        extra: normalizeRow([...spec.insertOnly, ...spec.info], typed),
        modifiedAt: (fromSqlValue('datetime', r[MODIFIED_AT]) as string | null) ?? null,
      };
    });
  }

  // ---- writes (in the caller's transaction) ------------------------------------------------

  /** Binds a normalized value for its column. */
  private bind(c: ColumnDef, v: Norm): unknown {
    if (v === null) return null;
    const value = c.type === 'json' && typeof v === 'string' ? JSON.parse(v) : v;
    return toSqlValue(this.kind, c.type, value, c.name);
  }

  private column(name: string): ColumnDef {
    return tableColumns(this.spec).find((c) => c.name === name)!;
  }

  private syncedAt(): unknown {
    return toSqlValue(this.kind, 'datetime', this.now(), SYNCED_AT);
  }

  /** A row for a Klaviyo record; its `_klv_row_id`. */
  async insertRow(conn: SqlConnection, id: string, values: Values): Promise<number> {
    const columns = tableColumns(this.spec);
    const names = ['Id', ...columns.map((c) => c.name), SYNCED_AT].map((n) => this.db.quote(n));
    const params = [id, ...columns.map((c) => this.bind(c, values[c.name] ?? null)), this.syncedAt()];
    return this.db.insertReturningKey(conn, this.table, names, params, ROW_ID);
  }

  /** Sets these columns (and the Id, when given) of a row, and its `_klv_synced_at`. */
  async updateRow(conn: SqlConnection, rowKey: number, set: Record<string, Norm>, id?: string): Promise<void> {
    const names = Object.keys(set);
    const params: unknown[] = names.map((n) => this.bind(this.column(n), set[n]!));
    const columns = names.map((n) => this.db.quote(n));
    if (id !== undefined) {
      columns.push(this.db.quote('Id'));
      params.push(id);
    }
    columns.push(this.db.quote(SYNCED_AT));
    params.push(this.syncedAt(), rowKey);
    await conn.run(`UPDATE ${this.ref(this.table)} SET ${assignmentsSql(this.kind, columns)} WHERE ${this.db.quote(ROW_ID)} = ${this.ph(params.length)}`, params);
  }

  async deleteRow(conn: SqlConnection, rowKey: number): Promise<void> {
    await conn.run(`DELETE FROM ${this.ref(this.table)} WHERE ${this.db.quote(ROW_ID)} = ${this.ph(1)}`, [rowKey]);
  }

  async saveMap(conn: SqlConnection, e: MapEntry): Promise<void> {
    await conn.run(upsertSql(this.kind, this.ref(MAP_TABLE), MAP_COLUMNS, ENTRY_KEY), [
      this.objectKey,
      e.rowKey,
      e.klaviyoId,
      e.klaviyoHash,
      e.dbHash,
      e.klaviyoUpdated,
      this.now(),
      e.lastErrorHash,
      e.base ? JSON.stringify(e.base) : null,
    ]);
  }

  async dropMap(conn: SqlConnection, rowKey: number): Promise<void> {
    await conn.run(`DELETE FROM ${this.ref(MAP_TABLE)} WHERE object = ${this.ph(1)} AND row_key = ${this.ph(2)}`, [this.objectKey, rowKey]);
  }

  async savePending(conn: SqlConnection, p: PendingCreate): Promise<void> {
    await conn.run(upsertSql(this.kind, this.ref(PENDING_TABLE), PENDING_COLUMNS, ENTRY_KEY), [this.objectKey, p.rowKey, p.name, JSON.stringify(p.values), p.attemptHash, p.since]);
  }

  async dropPending(conn: SqlConnection, rowKey: number): Promise<void> {
    await conn.run(`DELETE FROM ${this.ref(PENDING_TABLE)} WHERE object = ${this.ph(1)} AND row_key = ${this.ph(2)}`, [this.objectKey, rowKey]);
  }
}
