/**
 * The per-row work of a `klv sync` run: a record and a row tied together merged column by column
 * (spec.ts mergeRow), a row created in Klaviyo (behind a write-ahead intent), a record deleted in
 * Klaviyo, a record restored into the table. Each write to the table goes with its map entry and
 * intent in one transaction, after Klaviyo answered.
 */
import { InterruptedError } from '../core/errors.js';
import type { OperationHandler, RowOutcome } from '../objects/write/types.js';
import type { KlaviyoRecord, KlaviyoSide } from './klaviyo-side.js';
import type { SyncEvent, SyncLog } from './outcome.js';
import type { PendingCreate } from './recovery.js';
import { type ConflictPolicy, hashValues, mergeRow, type Norm, type Values } from './spec.js';
import type { MapEntry, SyncStore, TableRow } from './store.js';

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

/** What one run shares between its steps. */
export interface SyncRun {
  store: SyncStore;
  klaviyo: KlaviyoSide;
  log: SyncLog;
  policy: ConflictPolicy;
  dryRun: boolean;
  signal: AbortSignal;
  /** Now, as ISO 8601 (the run's clock). */
  now(): string;
  /** Creates of this run whose outcome is unknown, by row key: looked for again at the end of the run. */
  unresolved: Map<number, PendingCreate>;
  /** Klaviyo ids whose records were written (or adopted) this run: read again at the end. */
  touched: Set<string>;
}

/** Throws InterruptedError once Ctrl-C was pressed: called between rows, never inside one. */
export function checkpoint(run: Pick<SyncRun, 'signal'>): void {
  if (run.signal.aborted) throw new InterruptedError();
}

export class RowReconciler {
  constructor(private readonly run: SyncRun) {}

  /** A Klaviyo record into the table (new, or restored after a delete lost to klaviyo-wins). */
  async restoreToDb(k: KlaviyoRecord, oldKey: number | null): Promise<void> {
    const { store, log } = this.run;
    const ev: SyncEvent = { side: 'db', action: 'insert', rowKey: null, id: k.id, columns: Object.keys(k.values) };
    if (!this.run.dryRun) {
      ev.rowKey = await store.transaction(async (conn) => {
        if (oldKey !== null) await store.dropMap(conn, oldKey);
        const rowKey = await store.insertRow(conn, k.id, { ...k.values, ...k.extra });
        await store.saveMap(conn, { rowKey, klaviyoId: k.id, klaviyoHash: hashValues(k.values), dbHash: hashValues(k.values), klaviyoUpdated: k.updated, lastErrorHash: null, base: k.values });
        return rowKey;
      });
    }
    log.applied(ev);
  }

  /** A row deleted from the table: its record goes from Klaviyo, then its map entry. */
  async deleteInKlaviyo(handler: OperationHandler, m: MapEntry, id: string): Promise<void> {
    const { store, log } = this.run;
    const ev: SyncEvent = { side: 'klaviyo', action: 'delete', rowKey: m.rowKey, id, columns: [] };
    const attempt = hashValues({ delete: id });
    if (m.lastErrorHash === attempt) return log.skipped();
    if (this.run.dryRun) return log.applied(ev);
    const out = await this.run.klaviyo.send(handler, { Id: id });
    await store.transaction(async (conn) => {
      if (out.ok) await store.dropMap(conn, m.rowKey);
      else await store.saveMap(conn, { ...m, lastErrorHash: attempt });
    });
    if (out.ok) log.applied(ev);
    else log.failed(ev, out.code, out.message);
  }

  /** A row new to Klaviyo (or whose create Klaviyo refused before): created, its Id written back. */
  async createInKlaviyo(handler: OperationHandler, d: TableRow, m: MapEntry | null): Promise<void> {
    const { store, klaviyo, log, signal } = this.run;
    const spec = store.spec;
    const all = { ...d.extra, ...d.values };
    const columns = [...spec.sync, ...spec.insertOnly].map((c) => c.name).filter((n) => (all[n] ?? null) !== null);
    const payload = klaviyo.payload(all, columns);
    const attempt = hashValues({ insert: hashValues(payload as Values) });
    const ev: SyncEvent = { side: 'klaviyo', action: 'insert', rowKey: d.rowKey, id: null, columns };
    if (m?.lastErrorHash === attempt) return log.skipped();
    if (this.run.dryRun) return log.applied(ev);
    const intent: PendingCreate = { rowKey: d.rowKey, name: d.values.Name ?? null, values: d.values, attemptHash: attempt, since: this.run.now() };
    let sent = false;
    let out: RowOutcome;
    try {
      // Write-ahead: the intent is committed before the request can create anything.
      out = await klaviyo.send(handler, payload, async () => {
        checkpoint(this.run);
        await store.transaction((conn) => store.savePending(conn, intent));
        sent = true;
      });
    } catch (err) {
      if (sent) {
        log.failed(
          ev,
          signal.aborted ? 'interrupted' : 'unknown_outcome',
          `${signal.aborted ? 'Interrupted' : 'Stopped'} while Klaviyo was creating it (${err instanceof Error ? err.message : String(err)}): ` +
            'klv recorded the attempt, and the next run looks for the record in Klaviyo before creating it again.',
        );
      }
      throw err;
    }
    if (out.ok && out.id) {
      const id = out.id;
      ev.id = id;
      this.run.touched.add(id);
      // The new Id goes back to the row, and the intent goes, in one transaction: a later run must
      // never create it again, nor look for it.
      await store.transaction(async (conn) => {
        await store.updateRow(conn, d.rowKey, {}, id);
        await store.saveMap(conn, { rowKey: d.rowKey, klaviyoId: id, klaviyoHash: hashValues(d.values), dbHash: hashValues(d.values), klaviyoUpdated: null, lastErrorHash: null, base: d.values });
        await store.dropPending(conn, d.rowKey);
      });
      log.applied(ev);
      return;
    }
    const code = out.ok ? 'unknown_outcome' : out.code;
    const message = out.ok ? 'Klaviyo answered without an id.' : out.message;
    if (sent && (out.ok || MAYBE_CREATED.has(code))) {
      // Maybe created: the intent stays; the record is looked for at the end of this run (and on
      // the next one), never blindly created again.
      this.run.unresolved.set(d.rowKey, intent);
      log.failed(ev, code, `${message.replace(/\.?\s*$/, '.')} klv recorded the attempt and looks for the record in Klaviyo before creating the row again.`);
      return;
    }
    // Refused: nothing was created. A refusal about the row is not sent again until the row
    // changes (last_error_hash); a passing one (throttled, daily cap) is, on the next run.
    const lastErrorHash = TRANSIENT_REFUSALS.has(code) ? (m?.lastErrorHash ?? null) : attempt;
    await store.transaction(async (conn) => {
      await store.saveMap(conn, { rowKey: d.rowKey, klaviyoId: null, klaviyoHash: null, dbHash: hashValues(d.values), klaviyoUpdated: null, lastErrorHash, base: null });
      if (sent) await store.dropPending(conn, d.rowKey);
    });
    log.failed(ev, code, message);
  }

  /** A record and a row tied together: merged per column, each side given what it lacks. */
  async reconcilePair(m: MapEntry, d: TableRow, k: KlaviyoRecord, kValues: Values, syncNames: string[]): Promise<void> {
    const { store, klaviyo, log, policy, dryRun } = this.run;
    const spec = store.spec;
    const merge = mergeRow(syncNames, m.base, kValues, d.values, policy, { klaviyo: k.updated, db: d.modifiedAt });
    for (const c of merge.conflicts) log.conflict({ rowKey: d.rowKey, id: k.id, conflict: c, policy });
    const base: Values = { ...merge.merged };
    let lastErrorHash = m.lastErrorHash;
    let klaviyoOk = true;
    if (merge.toKlaviyo.length > 0) {
      const payload: Record<string, unknown> = { Id: k.id, ...klaviyo.payload(merge.merged, merge.toKlaviyo) };
      // EditorType tells the template handler whether Html may change (drag-and-drop: no).
      for (const c of spec.insertOnly) if (d.extra[c.name] ?? k.extra[c.name]) payload[c.name] = k.extra[c.name] ?? d.extra[c.name];
      const attempt = hashValues({ update: hashValues(payload as Values) });
      const ev: SyncEvent = { side: 'klaviyo', action: 'update', rowKey: d.rowKey, id: k.id, columns: merge.toKlaviyo };
      if (m.lastErrorHash === attempt) {
        log.skipped();
        klaviyoOk = false;
      } else if (dryRun) {
        log.applied(ev);
      } else {
        const out = await klaviyo.send(spec.def.write!.update!, payload);
        if (out.ok) {
          log.applied(ev);
          this.run.touched.add(k.id);
          lastErrorHash = null;
        } else {
          log.failed(ev, out.code, out.message);
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
      log.applied({ side: 'db', action: 'update', rowKey: d.rowKey, id: k.id, columns: merge.toDb.filter((c) => c in toDb) });
    }
    if (dryRun) return;
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
    await store.transaction(async (conn) => {
      if (Object.keys(toDb).length > 0) await store.updateRow(conn, d.rowKey, toDb);
      await store.saveMap(conn, next);
    });
  }
}
