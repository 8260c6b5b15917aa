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
  /** Rows that existed and whose stored values changed (a row un-deleted counts here too). */
  updated: number;
  /** Rows that existed with exactly these values: only their `_klv_synced_at` moved. */
  unchanged: number;
}

/** What a deletion sweep found, before it marks anything: the numbers the mass-deletion guard judges. */
export interface SweepCheck {
  /** Rows of the table not marked deleted, before the sweep. */
  liveRows: number;
  /** Distinct keys the sweep read from Klaviyo. */
  liveKeys: number;
  /** Live rows whose key is not among them: what the sweep would mark (or remove). */
  absent: number;
}

/**
 * Rows of another table that belong to the swept one: when a parent row is deleted (a list), its
 * children (the list's memberships) are deleted with it, in the same transaction.
 */
export interface SweepCascade {
  /** The child table (prefix applied): `list_members`. */
  table: string;
  /** The child's column holding the parent's (single-column) key: `ListId`. */
  column: string;
}

export interface SweepOptions {
  /** Remove the rows instead of setting `_klv_deleted_at`. */
  hard: boolean;
  /** The mass-deletion guard: true refuses the sweep (nothing is marked). None: always accept. */
  refuse?: (check: SweepCheck) => boolean;
  /** Child tables whose rows go with deleted parent rows; a child table that does not exist is skipped. */
  cascades?: SweepCascade[];
}

export interface SweepOutcome {
  /** Rows of the swept table marked or removed (0 when refused). */
  deleted: number;
  check: SweepCheck;
  /** The guard refused the sweep: nothing was marked. */
  refused: boolean;
  /** Child rows marked or removed, per child table that exists. */
  cascaded: Array<{ table: string; deleted: number }>;
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
  /**
   * Upserts rows by primary key in one transaction; a row seen again is un-deleted. Counts a row
   * as updated only when its stored values change (compared in the same transaction).
   */
  upsertRows(spec: TableSpec, rows: Row[], syncedAt: Date): Promise<UpsertResult>;
  /**
   * Deletion sweep: every key of `liveKeys` exists in Klaviyo; rows whose key is not among them
   * are marked `_klv_deleted_at = at` (or removed when `hard`). Memory stays flat: implementations
   * stage the keys in a temporary table. The guard's check, the marking and the cascades run in
   * one transaction, so a run killed in between leaves either all of them or none.
   *
   * Nothing is marked before `liveKeys` has ended: when its iterator throws (a failed read, or an
   * incomplete one: IncompleteSweepError), the error comes out of this call and every row, of the
   * table and of the cascades, is as it was.
   */
  reconcileDeletions(spec: TableSpec, liveKeys: AsyncIterable<Row>, at: Date, options: SweepOptions): Promise<SweepOutcome>;
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
