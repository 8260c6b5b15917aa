/**
 * `klv sync`: one Klaviyo object and one database table kept equal, whichever side changes.
 *
 * Each run:
 *   1. reads every record of the object from Klaviyo (Klaviyo cannot report deletions, and these
 *      objects are small); a record changed when its synchronized columns differ from the last
 *      synchronized values (its update timestamp, kept in the map, decides --conflict newest; it
 *      is not trusted alone: an edit in the same second as the last sync keeps it unchanged);
 *   2. reads the table; a row whose hash differs from the map's db_hash changed (see spec.ts for
 *      why hashes rather than triggers);
 *   3. merges per column (spec.ts mergeRow), sends Klaviyo its inserts, updates and deletes through
 *      the object's import handlers (Klaviyo's rules hold: a drag-and-drop template's Html, a sent
 *      campaign), and writes the table's changes and the map in one transaction per row;
 *   4. when Klaviyo was written, reads it again so the map holds Klaviyo's own form of what was sent
 *      (what Klaviyo stores can differ in form): the next run then finds nothing to do.
 *
 * `_klv_sync_map` (object, row_key, klaviyo_id, klaviyo_hash, db_hash, klaviyo_updated, synced_at,
 * last_error_hash, base) ties both sides: row_key is the table's `_klv_row_id`, so a row created
 * in the database is tracked before it has a Klaviyo Id. `base` holds the last synchronized values
 * (the three-way merge needs them, a hash alone cannot say which column changed).
 * `last_error_hash` is the hash of a write Klaviyo refused: the same write is not sent again (nor
 * reported again) until the row changes.
 *
 * Creates are crash-safe: `_klv_sync_pending` holds a write-ahead intent for each create in flight,
 * committed before the request and cleared with the Id's write-back; an intent found on a later run
 * means "maybe created" and is settled by looking for the record before creating again (recovery.ts).
 *
 * Ctrl-C (SIGINT, SIGTERM) stops the run between rows: the request in flight either finishes (and
 * is written back) or is aborted with its intent recorded; the result so far is returned, so the
 * logs are written, and the command exits 130.
 */
import { InterruptedError, KlvError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { KlaviyoClient } from '../klaviyo/client.js';
import type { ColumnDef, Row } from '../objects/types.js';
import type { ImportRow, OperationHandler, RowOutcome, WriteContext } from '../objects/write/types.js';
import type { SqlConnection, SqlDestination } from '../replicate/destinations/sql-destination.js';
import { fromSqlValue, quoteIdent, sqlType, toSqlValue } from '../replicate/destinations/sql-types.js';
import { type ConflictPolicy, type ConflictRecord, hashValues, mergeRow, normalizeRow, type Norm, type SyncSpec, type Values } from './spec.js';
import { ambiguityMessage, decideRecoveries, PENDING_TABLE, type PendingCreate, type Recovery, type RowState } from './recovery.js';

export const MAP_TABLE = '_klv_sync_map';
export const ROW_ID = '_klv_row_id';
export const SYNCED_AT = '_klv_synced_at';
/** Optional: set by the application when it edits a row, for --conflict newest. */
export const MODIFIED_AT = '_klv_modified_at';

export type Side = 'klaviyo' | 'db';
export type Action = 'insert' | 'update' | 'delete';

export interface SyncEvent {
  side: Side;
  action: Action;
  rowKey: number | null;
  id: string | null;
  columns: string[];
}

export interface SyncError extends SyncEvent {
  code: string;
  message: string;
}

export interface SyncConflict {
  rowKey: number | null;
  id: string | null;
  conflict: ConflictRecord;
  policy: ConflictPolicy;
}

export interface SyncResult {
  table: string;
  applied: SyncEvent[];
  errors: SyncError[];
  /** Refused writes not sent again because nothing changed since (last_error_hash). */
  skipped: number;
  conflicts: SyncConflict[];
  firstRun: boolean;
  /** Stopped by Ctrl-C: what is here was done, the rest was not started. */
  interrupted: boolean;
}

export interface SyncOptions {
  spec: SyncSpec;
  dest: SqlDestination;
  client: KlaviyoClient;
  table: string;
  policy: ConflictPolicy;
  dryRun: boolean;
  signal: AbortSignal;
  clock: Clock;
  debug(line: string): void;
}

interface MapEntry {
  rowKey: number;
  klaviyoId: string | null;
  klaviyoHash: string | null;
  dbHash: string | null;
  klaviyoUpdated: string | null;
  lastErrorHash: string | null;
  base: Values | null;
}

interface DbRow {
  rowKey: number;
  id: string | null;
  values: Values;
  /** Klaviyo-only columns as stored (insertOnly + info), normalized. */
  extra: Values;
  modifiedAt: string | null;
}

interface KRow {
  id: string;
  values: Values;
  extra: Values;
  updated: string | null;
  created: string | null;
}

/**
 * Outcome codes of a create that may have been applied although no Id came back: its intent stays
 * and the record is looked for before the row is created again. Any other failure is a refusal:
 * nothing was created.
 */
const MAYBE_CREATED = new Set(['unknown_outcome', 'unexpected_response']);

/**
 * Refusals that say nothing about the row (a throttle that outlasted the retries, the daily cap,
 * a row not sent): sent again on the next run rather than held back until the row changes.
 */
const TRANSIENT_REFUSALS = new Set(['throttled', 'http_429', 'daily_limit', 'not_sent']);

/** The table's columns: key, Id, synchronized, Klaviyo-only, bookkeeping. */
function tableColumns(spec: SyncSpec): ColumnDef[] {
  return [...spec.sync, ...spec.insertOnly, ...spec.info];
}

export class SyncEngine {
  private readonly o: SyncOptions;
  private readonly q: (name: string) => string;
  private readonly objectKey: string;
  private readonly result: SyncResult;
  private rowNumber = 0;
  /** Creates of this run whose outcome is unknown, by row key: looked for again at the end of the run. */
  private readonly unresolved = new Map<number, PendingCreate>();

  constructor(o: SyncOptions) {
    this.o = o;
    this.q = (n) => quoteIdent(o.dest.kind, n);
    this.objectKey = `${o.spec.def.name}:${o.table}`;
    this.result = { table: o.table, applied: [], errors: [], skipped: 0, conflicts: [], firstRun: false, interrupted: false };
  }

  private get kind() {
    return this.o.dest.kind;
  }

  private ph(n: number): string {
    return this.kind === 'postgres' ? `$${n}` : '?';
  }

  private t(name: string): string {
    return this.o.dest.tableRef(name);
  }

  // ---- tables ------------------------------------------------------------------------------

  private async columnsOf(name: string): Promise<string[]> {
    const table = this.o.dest.tableName(name);
    let rows: Record<string, unknown>[];
    if (this.kind === 'sqlite') rows = await this.o.dest.query('SELECT name AS c FROM pragma_table_info(?)', [table]);
    else if (this.kind === 'postgres') rows = await this.o.dest.query('SELECT column_name AS c FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2', [this.o.dest.schemaName ?? 'public', table]);
    else rows = await this.o.dest.query('SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [this.o.dest.schemaName, table]);
    return rows.map((r) => String(r.c));
  }

  private keyType(): string {
    return this.kind === 'mysql' ? 'VARCHAR(255)' : 'TEXT';
  }

  /** Creates the user table and the map when missing; adds columns the table lacks. */
  async ensureTables(): Promise<{ tableExists: boolean }> {
    const existing = await this.columnsOf(this.o.table);
    const dt = sqlType(this.kind, 'datetime', false);
    const idType = sqlType(this.kind, 'id', true);
    const rowId =
      this.kind === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : this.kind === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'BIGINT AUTO_INCREMENT PRIMARY KEY';
    const wanted: Array<[string, string]> = [
      ['Id', `${idType} UNIQUE`],
      ...tableColumns(this.o.spec).map((c): [string, string] => [c.name, sqlType(this.kind, c.type, false)]),
      [MODIFIED_AT, dt],
      [SYNCED_AT, dt],
    ];
    if (this.o.dryRun) return { tableExists: existing.length > 0 };
    const suffix = this.kind === 'mysql' ? ' DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : '';
    if (existing.length === 0) {
      const defs = [`${this.q(ROW_ID)} ${rowId}`, ...wanted.map(([n, ty]) => `${this.q(n)} ${ty}`)];
      await this.o.dest.execute(`CREATE TABLE IF NOT EXISTS ${this.t(this.o.table)} (${defs.join(', ')})${suffix}`);
    } else {
      const have = new Set(existing.map((c) => c.toLowerCase()));
      if (!have.has(ROW_ID)) {
        throw new KlvError(`Table ${this.o.table} has no ${ROW_ID} column: klv sync needs it to track rows created in the database before they have a Klaviyo Id.`, {
          hint: `Sync into a new table (--table NAME), or add the column: ${ROW_ID} as an auto-increment primary key.`,
        });
      }
      for (const [n, ty] of wanted) {
        if (!have.has(n.toLowerCase())) await this.o.dest.execute(`ALTER TABLE ${this.t(this.o.table)} ADD COLUMN ${this.q(n)} ${ty.replace(' UNIQUE', '')}`);
      }
      // MySQL: DATETIME(3) columns of a table made before klv kept microseconds become DATETIME(6),
      // or Klaviyo's Updated would differ from the table's on every run (mysql-widen.ts).
      await this.o.dest.widenDatetimeColumns(this.o.table, wanted.filter(([, ty]) => ty === dt).map(([n]) => n));
    }
    const k = this.keyType();
    const text = this.kind === 'mysql' ? 'LONGTEXT' : 'TEXT';
    await this.o.dest.execute(
      `CREATE TABLE IF NOT EXISTS ${this.t(MAP_TABLE)} (object ${k} NOT NULL, row_key BIGINT NOT NULL, klaviyo_id ${k}, klaviyo_hash ${k}, db_hash ${k}, ` +
        `klaviyo_updated ${k}, synced_at ${k}, last_error_hash ${k}, base ${text}, PRIMARY KEY (object, row_key))${suffix}`,
    );
    await this.o.dest.execute(
      `CREATE TABLE IF NOT EXISTS ${this.t(PENDING_TABLE)} (object ${k} NOT NULL, row_key BIGINT NOT NULL, name ${text}, sent_values ${text} NOT NULL, ` +
        `attempt_hash ${k} NOT NULL, since ${k} NOT NULL, PRIMARY KEY (object, row_key))${suffix}`,
    );
    return { tableExists: existing.length > 0 };
  }

  // ---- reads -------------------------------------------------------------------------------

  private async readMap(): Promise<MapEntry[]> {
    const exists = (await this.columnsOf(MAP_TABLE)).length > 0;
    if (!exists) return [];
    const rows = await this.o.dest.query(`SELECT * FROM ${this.t(MAP_TABLE)} WHERE object = ${this.ph(1)}`, [this.objectKey]);
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

  private async readPending(): Promise<PendingCreate[]> {
    if ((await this.columnsOf(PENDING_TABLE)).length === 0) return [];
    const rows = await this.o.dest.query(`SELECT * FROM ${this.t(PENDING_TABLE)} WHERE object = ${this.ph(1)} ORDER BY row_key`, [this.objectKey]);
    return rows.map((r) => ({
      rowKey: Number(r.row_key),
      name: (r.name as string | null) ?? null,
      values: JSON.parse(String(r.sent_values)) as Values,
      attemptHash: String(r.attempt_hash),
      since: String(r.since),
    }));
  }

  private async readTable(exists: boolean): Promise<DbRow[]> {
    if (!exists) return [];
    const spec = this.o.spec;
    const cols = tableColumns(spec);
    const rows = await this.o.dest.query(
      `SELECT ${[ROW_ID, 'Id', ...cols.map((c) => c.name), MODIFIED_AT].map((n) => this.q(n)).join(', ')} FROM ${this.t(this.o.table)} ORDER BY ${this.q(ROW_ID)}`,
    );
    return rows.map((r) => {
      const typed: Row = {};
      for (const c of cols) typed[c.name] = fromSqlValue(c.type, r[c.name]);
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

  private async readKlaviyo(): Promise<Map<string, KRow>> {
    const spec = this.o.spec;
    const created = spec.def.columns.find((c) => c.name === spec.created)!;
    const columns = [spec.def.columns.find((c) => c.name === 'Id')!, ...tableColumns(spec), created];
    const plan = spec.def.plan({ columns, where: [], options: { includeArchived: true } });
    const out = new Map<string, KRow>();
    for await (const row of plan.execute(this.o.client, this.o.signal)) {
      const id = String(row.Id);
      out.set(id, {
        id,
        values: normalizeRow(spec.sync, row),
        extra: normalizeRow([...spec.insertOnly, ...spec.info], row),
        updated: (row[spec.updated] as string | null) ?? null,
        created: (normalizeRow([created], row)[created.name] as string | null) ?? null,
      });
    }
    return out;
  }

  // ---- writes to the table -----------------------------------------------------------------

  /** Binds a normalized value for its column. */
  private bind(c: ColumnDef, v: Norm): unknown {
    if (v === null) return null;
    const value = c.type === 'json' && typeof v === 'string' ? JSON.parse(v) : v;
    return toSqlValue(this.kind, c.type, value, c.name);
  }

  private colDef(name: string): ColumnDef {
    return tableColumns(this.o.spec).find((c) => c.name === name)!;
  }

  private now(): string {
    return new Date(this.o.clock.now()).toISOString();
  }

  private async insertDbRow(conn: SqlConnection, k: KRow): Promise<number> {
    const cols = tableColumns(this.o.spec);
    const names = ['Id', ...cols.map((c) => c.name), SYNCED_AT];
    const all = { ...k.values, ...k.extra };
    const params = [k.id, ...cols.map((c) => this.bind(c, all[c.name] ?? null)), toSqlValue(this.kind, 'datetime', this.now(), SYNCED_AT)];
    const sql = `INSERT INTO ${this.t(this.o.table)} (${names.map((n) => this.q(n)).join(', ')}) VALUES (${names.map((_, i) => this.ph(i + 1)).join(', ')})`;
    if (this.kind === 'mysql') {
      await conn.run(sql, params);
      const r = await conn.query('SELECT LAST_INSERT_ID() AS id');
      return Number(r[0]!.id);
    }
    const r = await conn.query(`${sql} RETURNING ${this.q(ROW_ID)} AS id`, params);
    return Number(r[0]!.id);
  }

  private async updateDbRow(conn: SqlConnection, rowKey: number, set: Record<string, Norm>, id?: string): Promise<void> {
    const names = Object.keys(set);
    const params: unknown[] = names.map((n) => this.bind(this.colDef(n), set[n]!));
    const assigns = names.map((n, i) => `${this.q(n)} = ${this.ph(i + 1)}`);
    if (id !== undefined) {
      params.push(id);
      assigns.push(`${this.q('Id')} = ${this.ph(params.length)}`);
    }
    params.push(toSqlValue(this.kind, 'datetime', this.now(), SYNCED_AT));
    assigns.push(`${this.q(SYNCED_AT)} = ${this.ph(params.length)}`);
    params.push(rowKey);
    await conn.run(`UPDATE ${this.t(this.o.table)} SET ${assigns.join(', ')} WHERE ${this.q(ROW_ID)} = ${this.ph(params.length)}`, params);
  }

  private async deleteDbRow(conn: SqlConnection, rowKey: number): Promise<void> {
    await conn.run(`DELETE FROM ${this.t(this.o.table)} WHERE ${this.q(ROW_ID)} = ${this.ph(1)}`, [rowKey]);
  }

  private async saveMap(conn: SqlConnection, e: MapEntry): Promise<void> {
    await conn.run(`DELETE FROM ${this.t(MAP_TABLE)} WHERE object = ${this.ph(1)} AND row_key = ${this.ph(2)}`, [this.objectKey, e.rowKey]);
    await conn.run(
      `INSERT INTO ${this.t(MAP_TABLE)} (object, row_key, klaviyo_id, klaviyo_hash, db_hash, klaviyo_updated, synced_at, last_error_hash, base) VALUES (${[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => this.ph(n)).join(', ')})`,
      [this.objectKey, e.rowKey, e.klaviyoId, e.klaviyoHash, e.dbHash, e.klaviyoUpdated, this.now(), e.lastErrorHash, e.base ? JSON.stringify(e.base) : null],
    );
  }

  private async dropMap(conn: SqlConnection, rowKey: number): Promise<void> {
    await conn.run(`DELETE FROM ${this.t(MAP_TABLE)} WHERE object = ${this.ph(1)} AND row_key = ${this.ph(2)}`, [this.objectKey, rowKey]);
  }

  private async savePending(conn: SqlConnection, p: PendingCreate): Promise<void> {
    await this.dropPending(conn, p.rowKey);
    await conn.run(
      `INSERT INTO ${this.t(PENDING_TABLE)} (object, row_key, name, sent_values, attempt_hash, since) VALUES (${[1, 2, 3, 4, 5, 6].map((n) => this.ph(n)).join(', ')})`,
      [this.objectKey, p.rowKey, p.name, JSON.stringify(p.values), p.attemptHash, p.since],
    );
  }

  private async dropPending(conn: SqlConnection, rowKey: number): Promise<void> {
    await conn.run(`DELETE FROM ${this.t(PENDING_TABLE)} WHERE object = ${this.ph(1)} AND row_key = ${this.ph(2)}`, [this.objectKey, rowKey]);
  }

  // ---- writes to Klaviyo -------------------------------------------------------------------

  private writeContext(): WriteContext {
    return { client: this.o.client, signal: this.o.signal, options: {}, clock: this.o.clock, debug: (l) => this.o.debug(l) };
  }

  /** One row through the object's handler (validateRow first, as klv import does). */
  private async sendOne(handler: OperationHandler, values: Record<string, unknown>, beforeSend?: () => Promise<void>): Promise<RowOutcome> {
    const row: ImportRow = { rowNumber: ++this.rowNumber, values };
    const invalid = handler.validateRow?.(row, {});
    if (invalid) return invalid;
    await beforeSend?.();
    const [outcome] = await handler.processBatch([row], this.writeContext());
    return outcome ?? { ok: false, rowNumber: row.rowNumber, code: 'unknown_outcome', message: 'The handler gave no outcome for the row.' };
  }

  /** Normalized values as the import handlers take them (JSON columns parsed). */
  private payload(values: Values, columns: string[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const n of columns) {
      const c = this.colDef(n);
      const v = values[n] ?? null;
      out[n] = c.type === 'json' && typeof v === 'string' ? JSON.parse(v) : v;
    }
    return out;
  }

  // ---- the run -----------------------------------------------------------------------------

  private applied(e: SyncEvent): void {
    this.result.applied.push(e);
  }

  private failed(e: SyncEvent, code: string, message: string): void {
    this.result.errors.push({ ...e, code, message });
  }

  /** Throws InterruptedError once Ctrl-C was pressed: called between rows, never inside one. */
  private checkpoint(): void {
    if (this.o.signal.aborted) throw new InterruptedError();
  }

  async run(): Promise<SyncResult> {
    try {
      await this.steps();
    } catch (err) {
      if (!this.o.signal.aborted) throw err;
      // Ctrl-C: what was done is in the result (the command writes the logs, then exits 130);
      // a create cut off in flight kept its intent and is looked for on the next run.
      this.result.interrupted = true;
    }
    return this.result;
  }

  private async steps(): Promise<void> {
    const { spec, dryRun } = this.o;
    const { tableExists } = await this.ensureTables();
    const map = await this.readMap();
    this.result.firstRun = map.length === 0;
    const dbRows = await this.readTable(tableExists);
    const klaviyo = await this.readKlaviyo();
    const pending = await this.readPending();
    const syncNames = spec.sync.map((c) => c.name);
    const byKey = new Map(dbRows.map((r) => [r.rowKey, r]));

    /** Klaviyo ids whose records were written (or adopted) this run: read again at the end. */
    const touched = new Set<string>();

    // 0. Creates an earlier run may have made without writing the Id back: found, or made again.
    const held = await this.recover(pending, map, byKey, klaviyo, touched, false);

    const mapByKey = new Map(map.map((m) => [m.rowKey, m]));
    const mappedIds = new Set(map.filter((m) => m.klaviyoId).map((m) => m.klaviyoId!));
    const h = spec.def.write!;

    // 1. Records known to both sides (or known once).
    for (const m of map) {
      this.checkpoint();
      const d = byKey.get(m.rowKey);
      const k = m.klaviyoId ? klaviyo.get(m.klaviyoId) : undefined;
      if (!m.klaviyoId) continue; // a database row Klaviyo refused to create: handled with the new rows
      if (!d && !k) {
        if (!dryRun) await this.o.dest.transaction((conn) => this.dropMap(conn, m.rowKey));
        continue;
      }
      // Klaviyo's update timestamp says a record changed; an equal timestamp is not proof that it
      // did not (one-second resolution: an edit in the same second as the last sync keeps it), so
      // the synchronized columns are always compared with the last synchronized values as well.
      const kValues = k ? k.values : null;
      const kChanged = k ? hashValues(kValues!) !== m.klaviyoHash : false;
      const dChanged = d ? hashValues(d.values) !== m.dbHash : false;
      if (!d && k) {
        // Deleted in the table. Klaviyo's edit since the last sync brings it back under klaviyo-wins.
        if (kChanged && this.o.policy === 'klaviyo-wins') {
          this.result.conflicts.push({ rowKey: m.rowKey, id: k.id, policy: this.o.policy, conflict: { column: '(row)', klaviyo: 'changed', db: 'deleted', base: null, winner: 'klaviyo' } });
          await this.restoreToDb(k, m.rowKey);
          continue;
        }
        await this.deleteInKlaviyo(h.delete!, m, k.id);
        continue;
      }
      if (d && !k) {
        if (held.rows.has(d.rowKey)) continue; // its re-creation is the ambiguous one
        if (dChanged && this.o.policy === 'db-wins') {
          this.result.conflicts.push({ rowKey: m.rowKey, id: m.klaviyoId, policy: this.o.policy, conflict: { column: '(row)', klaviyo: 'deleted', db: 'changed', base: null, winner: 'db' } });
          await this.createInKlaviyo(h.insert!, d, null, touched);
          continue;
        }
        const ev: SyncEvent = { side: 'db', action: 'delete', rowKey: m.rowKey, id: m.klaviyoId, columns: [] };
        if (!dryRun) {
          await this.o.dest.transaction(async (conn) => {
            await this.deleteDbRow(conn, m.rowKey);
            await this.dropMap(conn, m.rowKey);
          });
        }
        this.applied(ev);
        continue;
      }
      await this.reconcilePair(m, d!, k!, kValues!, syncNames, touched);
    }

    // 2. Klaviyo records not in the map: into the table (or paired with a row already holding the Id).
    const rowsById = new Map(dbRows.filter((r) => r.id).map((r) => [r.id!, r]));
    for (const k of klaviyo.values()) {
      this.checkpoint();
      if (mappedIds.has(k.id) || held.ids.has(k.id)) continue;
      const d = rowsById.get(k.id);
      if (d && !mapByKey.has(d.rowKey)) {
        // A table filled before the first sync (by klv replicate or klv export): pair, no base.
        await this.reconcilePair({ rowKey: d.rowKey, klaviyoId: k.id, klaviyoHash: null, dbHash: null, klaviyoUpdated: null, lastErrorHash: null, base: null }, d, k, k.values, syncNames, touched);
        continue;
      }
      await this.restoreToDb(k, null);
    }

    // 3. Table rows not in the map, or whose creation Klaviyo refused before: into Klaviyo.
    for (const d of dbRows) {
      this.checkpoint();
      const m = mapByKey.get(d.rowKey);
      if (m?.klaviyoId) continue;
      if (d.id && klaviyo.has(d.id)) continue; // paired in step 2
      if (held.rows.has(d.rowKey)) continue; // reported in step 0: waits for the user
      await this.createInKlaviyo(h.insert!, d, m ?? null, touched);
    }

    // 4. Klaviyo's own form of what was written, so that the next run finds nothing to do; creates
    // whose outcome was unknown are looked for in that read.
    if ((touched.size > 0 || this.unresolved.size > 0) && !dryRun) await this.settle(touched);
  }

  /**
   * Settles intents (creates that may have happened without their Id coming back) against
   * `klaviyo`: adopts the one record that is the create's, drops the intent when there is none,
   * reports the row when several could be it. Adopted records join `map` (tied to their row, the
   * values sent as the last synchronized ones), so that the run reconciles them like any pair.
   * Returns the rows and records held back from this run (ambiguous). `atEnd`: the intents are
   * this run's own unknown outcomes, already reported as errors; an adoption replaces the error.
   */
  private async recover(
    pending: PendingCreate[],
    map: MapEntry[],
    byKey: Map<number, DbRow>,
    klaviyo: Map<string, KRow>,
    touched: Set<string>,
    atEnd: boolean,
  ): Promise<{ rows: Set<number>; ids: Set<string> }> {
    const held = { rows: new Set<number>(), ids: new Set<string>() };
    if (pending.length === 0) return held;
    const mapByKey = new Map(map.map((m) => [m.rowKey, m]));
    const tied = new Set<string>();
    for (const m of map) if (m.klaviyoId) tied.add(m.klaviyoId);
    for (const d of byKey.values()) if (d.id) tied.add(d.id);
    const untied = [...klaviyo.values()].filter((k) => !tied.has(k.id)).map((k) => ({ id: k.id, name: k.values.Name ?? null, created: k.created }));
    const rowState = (rowKey: number): RowState => {
      const m = mapByKey.get(rowKey);
      const d = byKey.get(rowKey);
      // Tied to a record that exists (a record deleted since, recreated under db-wins, does not count).
      if ((m?.klaviyoId && klaviyo.has(m.klaviyoId)) || (d?.id && klaviyo.has(d.id))) return 'tied';
      return d ? 'open' : 'deleted';
    };
    const decisions = decideRecoveries(pending.map((intent) => ({ intent, row: rowState(intent.rowKey) })), untied);
    for (const r of decisions) {
      await this.applyRecovery(r, map, byKey, klaviyo, held, atEnd);
      // Adopted: settled like a record created this run (Klaviyo's form and its own columns).
      if (r.kind === 'adopt') touched.add(r.id);
    }
    return held;
  }

  private async applyRecovery(
    r: Recovery,
    map: MapEntry[],
    byKey: Map<number, DbRow>,
    klaviyo: Map<string, KRow>,
    held: { rows: Set<number>; ids: Set<string> },
    atEnd: boolean,
  ): Promise<void> {
    const { rowKey } = r.intent;
    const d = byKey.get(rowKey);
    const ev: SyncEvent = { side: 'klaviyo', action: 'insert', rowKey, id: null, columns: Object.keys(r.intent.values).filter((c) => r.intent.values[c] !== null) };
    const dropError = () => {
      const i = this.result.errors.findIndex((e) => e.side === 'klaviyo' && e.action === 'insert' && e.rowKey === rowKey);
      if (i >= 0) this.result.errors.splice(i, 1);
    };
    if (r.kind === 'absent' && atEnd) {
      // This run's unknown outcome: the intent stays, and the error. A record Klaviyo made a moment
      // ago may not be listed yet: the next run looks again before creating the row.
      const e = this.result.errors.find((x) => x.side === 'klaviyo' && x.action === 'insert' && x.rowKey === rowKey);
      if (e) e.message += ' Not in Klaviyo at the end of this run: the next run looks again and creates it if it is still not there.';
      return;
    }
    switch (r.kind) {
      case 'absent':
      case 'obsolete':
        // Nothing to adopt: the row (if still there and open) is created afresh.
        this.o.debug(`sync: row ${rowKey}: ${r.kind === 'absent' ? 'an earlier create is not in Klaviyo' : 'an earlier create is settled already'}; intent dropped`);
        if (!this.o.dryRun) await this.o.dest.transaction((conn) => this.dropPending(conn, rowKey));
        this.unresolved.delete(rowKey);
        return;
      case 'ambiguous':
        held.rows.add(rowKey);
        for (const id of r.ids) held.ids.add(id);
        dropError();
        this.failed(ev, 'ambiguous_create', ambiguityMessage(r));
        return;
      case 'adopt': {
        this.o.debug(`sync: row ${rowKey}: an earlier create found in Klaviyo as ${r.id}; adopted, not created again`);
        const base = r.intent.values;
        // The values sent are the last synchronized ones: Klaviyo's own form of them reaches the row
        // as a Klaviyo change. A row deleted since has no row to reach: Klaviyo's form counts as
        // synchronized, so that the delete goes to Klaviyo as it would have without the crash.
        const klaviyoHash = d ? hashValues(base) : hashValues(klaviyo.get(r.id)!.values);
        const entry: MapEntry = { rowKey, klaviyoId: r.id, klaviyoHash, dbHash: hashValues(base), klaviyoUpdated: null, lastErrorHash: null, base };
        if (!this.o.dryRun) {
          await this.o.dest.transaction(async (conn) => {
            if (d) await this.updateDbRow(conn, rowKey, {}, r.id);
            await this.saveMap(conn, entry);
            await this.dropPending(conn, rowKey);
          });
        }
        const i = map.findIndex((m) => m.rowKey === rowKey);
        if (i >= 0) map.splice(i, 1, entry);
        else map.push(entry);
        if (d) d.id = r.id;
        this.unresolved.delete(rowKey);
        dropError();
        this.applied({ ...ev, id: r.id });
        return;
      }
    }
  }

  /** A Klaviyo record into the table (new, or restored after a delete lost to klaviyo-wins). */
  private async restoreToDb(k: KRow, oldKey: number | null): Promise<void> {
    const ev: SyncEvent = { side: 'db', action: 'insert', rowKey: null, id: k.id, columns: Object.keys(k.values) };
    if (!this.o.dryRun) {
      ev.rowKey = await this.o.dest.transaction(async (conn) => {
        if (oldKey !== null) await this.dropMap(conn, oldKey);
        const rowKey = await this.insertDbRow(conn, k);
        await this.saveMap(conn, { rowKey, klaviyoId: k.id, klaviyoHash: hashValues(k.values), dbHash: hashValues(k.values), klaviyoUpdated: k.updated, lastErrorHash: null, base: k.values });
        return rowKey;
      });
    }
    this.applied(ev);
  }

  private async deleteInKlaviyo(handler: OperationHandler, m: MapEntry, id: string): Promise<void> {
    const ev: SyncEvent = { side: 'klaviyo', action: 'delete', rowKey: m.rowKey, id, columns: [] };
    const attempt = hashValues({ delete: id });
    if (m.lastErrorHash === attempt) {
      this.result.skipped++;
      return;
    }
    if (this.o.dryRun) return this.applied(ev);
    const out = await this.sendOne(handler, { Id: id });
    await this.o.dest.transaction(async (conn) => {
      if (out.ok) await this.dropMap(conn, m.rowKey);
      else await this.saveMap(conn, { ...m, lastErrorHash: attempt });
    });
    if (out.ok) this.applied(ev);
    else this.failed(ev, out.code, out.message);
  }

  private async createInKlaviyo(handler: OperationHandler, d: DbRow, m: MapEntry | null, touched: Set<string>): Promise<void> {
    const spec = this.o.spec;
    const all = { ...d.extra, ...d.values };
    const columns = [...spec.sync, ...spec.insertOnly].map((c) => c.name).filter((n) => (all[n] ?? null) !== null);
    const attempt = hashValues({ insert: hashValues(this.payload(all, columns) as Values) });
    const ev: SyncEvent = { side: 'klaviyo', action: 'insert', rowKey: d.rowKey, id: null, columns };
    if (m?.lastErrorHash === attempt) {
      this.result.skipped++;
      return;
    }
    if (this.o.dryRun) return this.applied(ev);
    const intent: PendingCreate = { rowKey: d.rowKey, name: d.values.Name ?? null, values: d.values, attemptHash: attempt, since: this.now() };
    let sent = false;
    let out: RowOutcome;
    try {
      // Write-ahead: the intent is committed before the request can create anything.
      out = await this.sendOne(handler, this.payload(all, columns), async () => {
        this.checkpoint();
        await this.o.dest.transaction((conn) => this.savePending(conn, intent));
        sent = true;
      });
    } catch (err) {
      if (sent) {
        this.failed(
          ev,
          this.o.signal.aborted ? 'interrupted' : 'unknown_outcome',
          `${this.o.signal.aborted ? 'Interrupted' : 'Stopped'} while Klaviyo was creating it (${err instanceof Error ? err.message : String(err)}): ` +
            'klv recorded the attempt, and the next run looks for the record in Klaviyo before creating it again.',
        );
      }
      throw err;
    }
    if (out.ok && out.id) {
      ev.id = out.id;
      touched.add(out.id);
      // The new Id goes back to the row, and the intent goes, in one transaction: a later run must
      // never create it again, nor look for it.
      await this.o.dest.transaction(async (conn) => {
        await this.updateDbRow(conn, d.rowKey, {}, out.id);
        await this.saveMap(conn, { rowKey: d.rowKey, klaviyoId: out.id!, klaviyoHash: hashValues(d.values), dbHash: hashValues(d.values), klaviyoUpdated: null, lastErrorHash: null, base: d.values });
        await this.dropPending(conn, d.rowKey);
      });
      this.applied(ev);
      return;
    }
    const code = out.ok ? 'unknown_outcome' : out.code;
    const message = out.ok ? 'Klaviyo answered without an id.' : out.message;
    if (sent && (out.ok || MAYBE_CREATED.has(code))) {
      // Maybe created: the intent stays; the record is looked for at the end of this run (and on
      // the next one), never blindly created again.
      this.unresolved.set(d.rowKey, intent);
      this.failed(ev, code, `${message.replace(/\.?\s*$/, '.')} klv recorded the attempt and looks for the record in Klaviyo before creating the row again.`);
      return;
    }
    // Refused: nothing was created. A refusal about the row is not sent again until the row
    // changes (last_error_hash); a passing one (throttled, daily cap) is, on the next run.
    const lastErrorHash = TRANSIENT_REFUSALS.has(code) ? (m?.lastErrorHash ?? null) : attempt;
    await this.o.dest.transaction(async (conn) => {
      await this.saveMap(conn, { rowKey: d.rowKey, klaviyoId: null, klaviyoHash: null, dbHash: hashValues(d.values), klaviyoUpdated: null, lastErrorHash, base: null });
      if (sent) await this.dropPending(conn, d.rowKey);
    });
    this.failed(ev, code, message);
  }

  private async reconcilePair(m: MapEntry, d: DbRow, k: KRow, kValues: Values, syncNames: string[], touched: Set<string>): Promise<void> {
    const spec = this.o.spec;
    const merge = mergeRow(syncNames, m.base, kValues, d.values, this.o.policy, { klaviyo: k.updated, db: d.modifiedAt });
    for (const c of merge.conflicts) this.result.conflicts.push({ rowKey: d.rowKey, id: k.id, conflict: c, policy: this.o.policy });
    const base: Values = { ...merge.merged };
    let lastErrorHash = m.lastErrorHash;
    let klaviyoOk = true;
    if (merge.toKlaviyo.length > 0) {
      const payload: Record<string, unknown> = { Id: k.id, ...this.payload(merge.merged, merge.toKlaviyo) };
      // EditorType tells the template handler whether Html may change (drag-and-drop: no).
      for (const c of spec.insertOnly) if (d.extra[c.name] ?? k.extra[c.name]) payload[c.name] = k.extra[c.name] ?? d.extra[c.name];
      const attempt = hashValues({ update: hashValues(payload as Values) });
      const ev: SyncEvent = { side: 'klaviyo', action: 'update', rowKey: d.rowKey, id: k.id, columns: merge.toKlaviyo };
      if (m.lastErrorHash === attempt) {
        this.result.skipped++;
        klaviyoOk = false;
      } else if (this.o.dryRun) {
        this.applied(ev);
      } else {
        const out = await this.sendOne(spec.def.write!.update!, payload);
        if (out.ok) {
          this.applied(ev);
          touched.add(k.id);
          lastErrorHash = null;
        } else {
          this.failed(ev, out.code, out.message);
          klaviyoOk = false;
          lastErrorHash = attempt;
        }
      }
      // Refused columns keep their old base: the table's value stays "changed" (not retried while
      // it is the same write, see last_error_hash) and Klaviyo keeps its value.
      if (!klaviyoOk) for (const c of merge.toKlaviyo) base[c] = kValues[c] ?? null;
    }
    const toDb: Record<string, Norm> = {};
    for (const c of merge.toDb) if (klaviyoOk || !merge.toKlaviyo.includes(c)) toDb[c] = merge.merged[c] ?? null;
    // Klaviyo-only columns (Status, Updated) follow Klaviyo, but only alongside a real change:
    // a run with nothing to synchronize writes nothing.
    const extraChanged = Object.keys(k.extra).filter((c) => k.extra[c] !== d.extra[c]);
    const kHashChanged = hashValues(kValues) !== m.klaviyoHash;
    if (Object.keys(toDb).length > 0 || kHashChanged || m.base === null) for (const c of extraChanged) toDb[c] = k.extra[c] ?? null;
    if (Object.keys(toDb).length > 0 && merge.toDb.length > 0) {
      this.applied({ side: 'db', action: 'update', rowKey: d.rowKey, id: k.id, columns: merge.toDb.filter((c) => c in toDb) });
    }
    if (this.o.dryRun) return;
    const dbAfter = { ...d.values };
    for (const c of syncNames) if (c in toDb) dbAfter[c] = toDb[c]!;
    const next: MapEntry = {
      rowKey: d.rowKey,
      klaviyoId: k.id,
      klaviyoHash: hashValues(klaviyoOk ? base : kValues),
      dbHash: hashValues(klaviyoOk ? dbAfter : base),
      klaviyoUpdated: k.updated,
      lastErrorHash,
      base,
    };
    // A failed write keeps db_hash at the base so that the change is seen (and skipped) again.
    if (!klaviyoOk) next.dbHash = hashValues(base);
    const unchanged =
      Object.keys(toDb).length === 0 &&
      next.klaviyoHash === m.klaviyoHash &&
      next.dbHash === m.dbHash &&
      next.klaviyoUpdated === m.klaviyoUpdated &&
      next.lastErrorHash === m.lastErrorHash &&
      m.base !== null &&
      hashValues(base) === hashValues(m.base);
    // Nothing changed: no statement at all (a second run with no changes writes nothing).
    if (unchanged) return;
    await this.o.dest.transaction(async (conn) => {
      if (Object.keys(toDb).length > 0) await this.updateDbRow(conn, d.rowKey, toDb);
      await this.saveMap(conn, next);
    });
  }

  /** Reads Klaviyo again; records written this run get Klaviyo's form in the map (and the table). */
  private async settle(touched: Set<string>): Promise<void> {
    const klaviyo = await this.readKlaviyo();
    const map = await this.readMap();
    const dbRows = new Map((await this.readTable(true)).map((r) => [r.rowKey, r]));
    if (this.unresolved.size > 0) {
      await this.recover([...this.unresolved.values()], map, dbRows, klaviyo, touched, true);
    }
    for (const m of map) {
      this.checkpoint();
      if (!m.klaviyoId || !touched.has(m.klaviyoId)) continue;
      const k = klaviyo.get(m.klaviyoId);
      const d = dbRows.get(m.rowKey);
      if (!k || !d) continue;
      const set: Record<string, Norm> = {};
      // Only columns that were synchronized (base) take Klaviyo's form; refused ones stay.
      for (const c of Object.keys(k.values)) if (m.base && m.base[c] === d.values[c] && k.values[c] !== d.values[c]) set[c] = k.values[c] ?? null;
      for (const c of Object.keys(k.extra)) if (k.extra[c] !== d.extra[c]) set[c] = k.extra[c] ?? null;
      const dbAfter = { ...d.values };
      for (const c of Object.keys(set)) if (c in dbAfter) dbAfter[c] = set[c]!;
      const base = { ...(m.base ?? {}) };
      for (const c of Object.keys(k.values)) if (m.base && m.base[c] === d.values[c]) base[c] = k.values[c] ?? null;
      await this.o.dest.transaction(async (conn) => {
        if (Object.keys(set).length > 0) await this.updateDbRow(conn, m.rowKey, set);
        await this.saveMap(conn, { ...m, klaviyoHash: hashValues(k.values), dbHash: m.lastErrorHash ? m.dbHash : hashValues(dbAfter), klaviyoUpdated: k.updated, base });
      });
    }
  }
}
