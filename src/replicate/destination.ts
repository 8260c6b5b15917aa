/**
 * Where `klv replicate` writes: a relational database behind one small interface, so the
 * replication engine is the same for SQLite (better-sqlite3), PostgreSQL (pg) and MySQL/MariaDB
 * (mysql2). Implementations live in ./destinations/.
 */
import type { ColumnType, Row } from '../objects/types.js';

export interface TableColumn {
  /** Catalog column name (PascalCase), used as the SQL column name (quoted). */
  name: string;
  type: ColumnType;
}

export interface TableSpec {
  /** SQL table name (prefix applied): `profiles`, `list_members`. */
  name: string;
  columns: TableColumn[];
  /** Key columns (the object's key). */
  primaryKey: string[];
  /** Reference columns to index (ListId, ProfileId, MetricId ...). */
  indexes: string[][];
}

/** Per object: where the next incremental run starts, and when runs and sweeps completed. */
export interface ReplicationState {
  object: string;
  /** ISO 8601 UTC value of the incremental column reached by the last complete run, or null. */
  cursor: string | null;
  lastCompleteRunAt: string | null;
  lastSweepAt: string | null;
}

export interface UpsertResult {
  inserted: number;
  updated: number;
}

export interface Destination {
  readonly kind: 'sqlite' | 'postgres' | 'mysql';
  /** Human-readable target with any password removed (for messages). */
  readonly description: string;
  /**
   * Creates the table (typed columns, primary key, indexes, plus `_klv_synced_at` and
   * `_klv_deleted_at`) or adds the columns it lacks (schema drift: nothing is ever dropped).
   */
  ensureTable(spec: TableSpec): Promise<{ created: boolean; addedColumns: string[] }>;
  /** Upserts rows by primary key in one transaction; a row seen again is un-deleted. */
  upsertRows(spec: TableSpec, rows: Row[], syncedAt: Date): Promise<UpsertResult>;
  /**
   * Deletion sweep: every key of `liveKeys` exists in Klaviyo; rows whose key is not among them
   * are marked `_klv_deleted_at = at` (or removed when `hard`). Memory stays flat: implementations
   * stage the keys in a temporary table. Returns the number of rows marked or removed.
   */
  reconcileDeletions(spec: TableSpec, liveKeys: AsyncIterable<Row>, at: Date, hard: boolean): Promise<number>;
  /** Rows not marked deleted (for tests and `klv replicate` summaries). */
  countRows(spec: TableSpec): Promise<number>;
  getState(object: string): Promise<ReplicationState | null>;
  setState(state: ReplicationState): Promise<void>;
  listStates(): Promise<ReplicationState[]>;
  deleteState(object: string): Promise<void>;
  close(): Promise<void>;
}

export interface DestinationOptions {
  /** PostgreSQL schema / MySQL database to use (created if missing). */
  schema?: string;
  /** Prefix for every table name (`klaviyo_`). */
  tablePrefix?: string;
}
