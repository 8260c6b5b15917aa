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
 * The parts: store.ts (the table, the id map `_klv_sync_map` and the intents, on src/db),
 * klaviyo-side.ts (reads, and writes through the import handlers), reconcile.ts (the work per row),
 * spec.ts and recovery.ts (the pure decisions). This file runs the steps.
 *
 * Creates are crash-safe: `_klv_sync_pending` holds a write-ahead intent for each create in flight,
 * committed before the request and cleared with the Id's write-back; an intent found on a later run
 * means "maybe created" and is settled by looking for the record before creating again (recovery.ts).
 *
 * Ctrl-C (SIGINT, SIGTERM) stops the run between rows: the request in flight either finishes (and
 * is written back) or is aborted with its intent recorded; the result so far is returned, so the
 * logs are written, and the command exits 130.
 */
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/database.js';
import type { KlaviyoClient } from '../klaviyo/client.js';
import { KlaviyoSide, type KlaviyoRecord } from './klaviyo-side.js';
import { SyncLog, type SyncEvent, type SyncResult } from './outcome.js';
import { checkpoint, RowReconciler, type SyncRun } from './reconcile.js';
import { ambiguityMessage, decideRecoveries, type PendingCreate, type Recovery, type RowState } from './recovery.js';
import { type ConflictPolicy, hashValues, type Norm, type SyncSpec } from './spec.js';
import { type MapEntry, SyncStore, type TableRow } from './store.js';

export interface SyncOptions {
  spec: SyncSpec;
  db: Database;
  client: KlaviyoClient;
  table: string;
  policy: ConflictPolicy;
  dryRun: boolean;
  signal: AbortSignal;
  clock: Clock;
  debug(line: string): void;
}

/** Rows and records held back from this run: creates that could be either of several records. */
interface Held {
  rows: Set<number>;
  ids: Set<string>;
}

export class SyncEngine {
  private readonly options: SyncOptions;
  private readonly log: SyncLog;
  private readonly shared: SyncRun;
  private readonly rows: RowReconciler;

  constructor(options: SyncOptions) {
    this.options = options;
    this.log = new SyncLog(options.table);
    const now = () => new Date(options.clock.now()).toISOString();
    const store = new SyncStore({ db: options.db, spec: options.spec, table: options.table, objectKey: `${options.spec.def.name}:${options.table}`, now });
    const klaviyo = new KlaviyoSide(options);
    this.shared = { store, klaviyo, log: this.log, policy: options.policy, dryRun: options.dryRun, signal: options.signal, now, unresolved: new Map(), touched: new Set() };
    this.rows = new RowReconciler(this.shared);
  }

  async run(): Promise<SyncResult> {
    try {
      await this.steps();
    } catch (err) {
      if (!this.options.signal.aborted) throw err;
      // Ctrl-C: what was done is in the result (the command writes the logs, then exits 130);
      // a create cut off in flight kept its intent and is looked for on the next run.
      this.log.result.interrupted = true;
    }
    return this.log.result;
  }

  private async steps(): Promise<void> {
    const { spec, dryRun, policy } = this.options;
    const { store, klaviyo, touched, unresolved } = this.shared;
    const { tableExists } = await store.ensureTables({ dryRun });
    const map = await store.readMap();
    this.log.result.firstRun = map.length === 0;
    const dbRows = await store.readTable(tableExists);
    const records = await klaviyo.readRecords();
    const pending = await store.readPending();
    const syncNames = spec.sync.map((c) => c.name);
    const byKey = new Map(dbRows.map((r) => [r.rowKey, r]));

    // 0. Creates an earlier run may have made without writing the Id back: found, or made again.
    const held = await this.recover(pending, map, byKey, records, false);

    const mapByKey = new Map(map.map((m) => [m.rowKey, m]));
    const mappedIds = new Set(map.filter((m) => m.klaviyoId).map((m) => m.klaviyoId!));
    const handlers = spec.def.write!;

    // 1. Records known to both sides (or known once).
    for (const m of map) {
      checkpoint(this.options);
      const d = byKey.get(m.rowKey);
      const k = m.klaviyoId ? records.get(m.klaviyoId) : undefined;
      if (!m.klaviyoId) continue; // a database row Klaviyo refused to create: handled with the new rows
      if (!d && !k) {
        if (!dryRun) await store.transaction((conn) => store.dropMap(conn, m.rowKey));
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
        if (kChanged && policy === 'klaviyo-wins') {
          this.log.conflict({ rowKey: m.rowKey, id: k.id, policy, conflict: { column: '(row)', klaviyo: 'changed', db: 'deleted', base: null, winner: 'klaviyo' } });
          await this.rows.restoreToDb(k, m.rowKey);
          continue;
        }
        await this.rows.deleteInKlaviyo(handlers.delete!, m, k.id);
        continue;
      }
      if (d && !k) {
        if (held.rows.has(d.rowKey)) continue; // its re-creation is the ambiguous one
        if (dChanged && policy === 'db-wins') {
          this.log.conflict({ rowKey: m.rowKey, id: m.klaviyoId, policy, conflict: { column: '(row)', klaviyo: 'deleted', db: 'changed', base: null, winner: 'db' } });
          await this.rows.createInKlaviyo(handlers.insert!, d, null);
          continue;
        }
        const ev: SyncEvent = { side: 'db', action: 'delete', rowKey: m.rowKey, id: m.klaviyoId, columns: [] };
        if (!dryRun) {
          await store.transaction(async (conn) => {
            await store.deleteRow(conn, m.rowKey);
            await store.dropMap(conn, m.rowKey);
          });
        }
        this.log.applied(ev);
        continue;
      }
      await this.rows.reconcilePair(m, d!, k!, kValues!, syncNames);
    }

    // 2. Klaviyo records not in the map: into the table (or paired with a row already holding the Id).
    const rowsById = new Map(dbRows.filter((r) => r.id).map((r) => [r.id!, r]));
    for (const k of records.values()) {
      checkpoint(this.options);
      if (mappedIds.has(k.id) || held.ids.has(k.id)) continue;
      const d = rowsById.get(k.id);
      if (d && !mapByKey.has(d.rowKey)) {
        // A table filled before the first sync (by klv replicate or klv export): pair, no base.
        const unpaired: MapEntry = { rowKey: d.rowKey, klaviyoId: k.id, klaviyoHash: null, dbHash: null, klaviyoUpdated: null, lastErrorHash: null, base: null };
        await this.rows.reconcilePair(unpaired, d, k, k.values, syncNames);
        continue;
      }
      await this.rows.restoreToDb(k, null);
    }

    // 3. Table rows not in the map, or whose creation Klaviyo refused before: into Klaviyo.
    for (const d of dbRows) {
      checkpoint(this.options);
      const m = mapByKey.get(d.rowKey);
      if (m?.klaviyoId) continue;
      if (d.id && records.has(d.id)) continue; // paired in step 2
      if (held.rows.has(d.rowKey)) continue; // reported in step 0: waits for the user
      await this.rows.createInKlaviyo(handlers.insert!, d, m ?? null);
    }

    // 4. Klaviyo's own form of what was written, so that the next run finds nothing to do; creates
    // whose outcome was unknown are looked for in that read.
    if ((touched.size > 0 || unresolved.size > 0) && !dryRun) await this.settle();
  }

  /**
   * Settles intents (creates that may have happened without their Id coming back) against
   * `records`: adopts the one record that is the create's, drops the intent when there is none,
   * reports the row when several could be it. Adopted records join `map` (tied to their row, the
   * values sent as the last synchronized ones), so that the run reconciles them like any pair.
   * Returns the rows and records held back from this run (ambiguous). `atEnd`: the intents are
   * this run's own unknown outcomes, already reported as errors; an adoption replaces the error.
   */
  private async recover(pending: PendingCreate[], map: MapEntry[], byKey: Map<number, TableRow>, records: Map<string, KlaviyoRecord>, atEnd: boolean): Promise<Held> {
    const held: Held = { rows: new Set<number>(), ids: new Set<string>() };
    if (pending.length === 0) return held;
    const mapByKey = new Map(map.map((m) => [m.rowKey, m]));
    const tied = new Set<string>();
    for (const m of map) if (m.klaviyoId) tied.add(m.klaviyoId);
    for (const d of byKey.values()) if (d.id) tied.add(d.id);
    const untied = [...records.values()].filter((k) => !tied.has(k.id)).map((k) => ({ id: k.id, name: k.values.Name ?? null, created: k.created }));
    const rowState = (rowKey: number): RowState => {
      const m = mapByKey.get(rowKey);
      const d = byKey.get(rowKey);
      // Tied to a record that exists (a record deleted since, recreated under db-wins, does not count).
      if ((m?.klaviyoId && records.has(m.klaviyoId)) || (d?.id && records.has(d.id))) return 'tied';
      return d ? 'open' : 'deleted';
    };
    const decisions = decideRecoveries(pending.map((intent) => ({ intent, row: rowState(intent.rowKey) })), untied);
    for (const r of decisions) {
      await this.applyRecovery(r, map, byKey, records, held, atEnd);
      // Adopted: settled like a record created this run (Klaviyo's form and its own columns).
      if (r.kind === 'adopt') this.shared.touched.add(r.id);
    }
    return held;
  }

  private async applyRecovery(r: Recovery, map: MapEntry[], byKey: Map<number, TableRow>, records: Map<string, KlaviyoRecord>, held: Held, atEnd: boolean): Promise<void> {
    const { store, unresolved } = this.shared;
    const { rowKey } = r.intent;
    const d = byKey.get(rowKey);
    const ev: SyncEvent = { side: 'klaviyo', action: 'insert', rowKey, id: null, columns: Object.keys(r.intent.values).filter((c) => r.intent.values[c] !== null) };
    if (r.kind === 'absent' && atEnd) {
      // This run's unknown outcome: the intent stays, and the error. A record Klaviyo made a moment
      // ago may not be listed yet: the next run looks again before creating the row.
      const e = this.log.createError(rowKey);
      if (e) e.message += ' Not in Klaviyo at the end of this run: the next run looks again and creates it if it is still not there.';
      return;
    }
    switch (r.kind) {
      case 'absent':
      case 'obsolete':
        // Nothing to adopt: the row (if still there and open) is created afresh.
        this.options.debug(`sync: row ${rowKey}: ${r.kind === 'absent' ? 'an earlier create is not in Klaviyo' : 'an earlier create is settled already'}; intent dropped`);
        if (!this.options.dryRun) await store.transaction((conn) => store.dropPending(conn, rowKey));
        unresolved.delete(rowKey);
        return;
      case 'ambiguous':
        held.rows.add(rowKey);
        for (const id of r.ids) held.ids.add(id);
        this.log.dropCreateError(rowKey);
        this.log.failed(ev, 'ambiguous_create', ambiguityMessage(r));
        return;
      case 'adopt': {
        this.options.debug(`sync: row ${rowKey}: an earlier create found in Klaviyo as ${r.id}; adopted, not created again`);
        const base = r.intent.values;
        // The values sent are the last synchronized ones: Klaviyo's own form of them reaches the row
        // as a Klaviyo change. A row deleted since has no row to reach: Klaviyo's form counts as
        // synchronized, so that the delete goes to Klaviyo as it would have without the crash.
        const klaviyoHash = d ? hashValues(base) : hashValues(records.get(r.id)!.values);
        const entry: MapEntry = { rowKey, klaviyoId: r.id, klaviyoHash, dbHash: hashValues(base), klaviyoUpdated: null, lastErrorHash: null, base };
        if (!this.options.dryRun) {
          await store.transaction(async (conn) => {
            if (d) await store.updateRow(conn, rowKey, {}, r.id);
            await store.saveMap(conn, entry);
            await store.dropPending(conn, rowKey);
          });
        }
        const i = map.findIndex((m) => m.rowKey === rowKey);
        if (i >= 0) map.splice(i, 1, entry);
        else map.push(entry);
        if (d) d.id = r.id;
        unresolved.delete(rowKey);
        this.log.dropCreateError(rowKey);
        this.log.applied({ ...ev, id: r.id });
        return;
      }
    }
  }

  /** Reads Klaviyo again; records written this run get Klaviyo's form in the map (and the table). */
  private async settle(): Promise<void> {
    const { store, klaviyo, touched, unresolved } = this.shared;
    const records = await klaviyo.readRecords();
    const map = await store.readMap();
    const dbRows = new Map((await store.readTable(true)).map((r) => [r.rowKey, r]));
    if (unresolved.size > 0) await this.recover([...unresolved.values()], map, dbRows, records, true);
    for (const m of map) {
      checkpoint(this.options);
      if (!m.klaviyoId || !touched.has(m.klaviyoId)) continue;
      const k = records.get(m.klaviyoId);
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
      await store.transaction(async (conn) => {
        if (Object.keys(set).length > 0) await store.updateRow(conn, m.rowKey, set);
        await store.saveMap(conn, { ...m, klaviyoHash: hashValues(k.values), dbHash: m.lastErrorHash ? m.dbHash : hashValues(dbAfter), klaviyoUpdated: k.updated, base });
      });
    }
  }
}
