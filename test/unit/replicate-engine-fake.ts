/**
 * An in-memory Destination and a scriptable object for the engine's unit tests: the real
 * destinations (SQLite, PostgreSQL, MySQL) are tested on their own and in the e2e tests.
 */
import type { Destination, ReplicationState, SweepCheck, SweepOptions, SweepOutcome, TableSpec, UpsertResult } from '../../src/replicate/destination.js';
import type { KlaviyoClient } from '../../src/klaviyo/client.js';
import type { ObjectDefinition, ReadRequest, Row } from '../../src/objects/types.js';

export interface StoredRow {
  row: Row;
  syncedAt: string;
  deletedAt: string | null;
}

export class FakeDestination implements Destination {
  readonly kind = 'sqlite' as const;
  readonly description = 'memory';
  tables = new Map<string, { spec: TableSpec; rows: Map<string, StoredRow> }>();
  states = new Map<string, ReplicationState>();
  /** Throws on the nth upsert call (a crash mid-run). */
  failUpsertAt?: number;
  upserts = 0;

  keyOf(spec: TableSpec, row: Row): string {
    return JSON.stringify(spec.primaryKey.map((k) => row[k]));
  }
  async ensureTable(spec: TableSpec) {
    const t = this.tables.get(spec.name);
    if (!t) {
      this.tables.set(spec.name, { spec, rows: new Map() });
      return { created: true, addedColumns: [] };
    }
    const added = spec.columns.filter((c) => !t.spec.columns.some((x) => x.name === c.name)).map((c) => c.name);
    t.spec = { ...t.spec, columns: [...t.spec.columns, ...spec.columns.filter((c) => added.includes(c.name))] };
    return { created: false, addedColumns: added };
  }
  async upsertRows(spec: TableSpec, rows: Row[], syncedAt: Date): Promise<UpsertResult> {
    this.upserts++;
    if (this.failUpsertAt !== undefined && this.upserts === this.failUpsertAt) throw new Error('killed');
    const t = this.tables.get(spec.name)!;
    let inserted = 0;
    let updated = 0;
    let unchanged = 0;
    for (const row of rows) {
      const k = this.keyOf(spec, row);
      const values = Object.fromEntries(spec.columns.map((c) => [c.name, row[c.name] ?? null]));
      const before = t.rows.get(k);
      if (!before) inserted++;
      else if (before.deletedAt === null && spec.columns.every((c) => JSON.stringify(before.row[c.name] ?? null) === JSON.stringify(values[c.name]))) unchanged++;
      else updated++;
      t.rows.set(k, { row: values, syncedAt: syncedAt.toISOString(), deletedAt: null });
    }
    return { inserted, updated, unchanged };
  }
  /** Every check a sweep judged (the guard's input), in order. */
  sweepChecks: SweepCheck[] = [];
  async reconcileDeletions(spec: TableSpec, liveKeys: AsyncIterable<Row>, at: Date, options: SweepOptions): Promise<SweepOutcome> {
    const live = new Set<string>();
    for await (const k of liveKeys) live.add(this.keyOf(spec, k));
    const t = this.tables.get(spec.name)!;
    const liveRows = [...t.rows.values()].filter((r) => !r.deletedAt);
    const check: SweepCheck = { liveRows: liveRows.length, liveKeys: live.size, absent: liveRows.filter((r) => !live.has(this.keyOf(spec, r.row))).length };
    this.sweepChecks.push(check);
    if (options.refuse?.(check)) return { deleted: 0, check, refused: true, cascaded: [] };
    const gone = [...t.rows.entries()].filter(([k, r]) => !live.has(k) && (options.hard || !r.deletedAt));
    const goneIds = new Set(gone.map(([, r]) => JSON.stringify(r.row[spec.primaryKey[0]!])));
    const cascaded: SweepOutcome['cascaded'] = [];
    for (const c of options.cascades ?? []) {
      const child = this.tables.get(c.table);
      if (!child) continue;
      let n = 0;
      for (const [k, r] of child.rows) {
        if (!goneIds.has(JSON.stringify(r.row[c.column])) || (!options.hard && r.deletedAt)) continue;
        n++;
        if (options.hard) child.rows.delete(k);
        else r.deletedAt = at.toISOString();
      }
      cascaded.push({ table: c.table, deleted: n });
    }
    for (const [k, stored] of gone) {
      if (options.hard) t.rows.delete(k);
      else stored.deletedAt = at.toISOString();
    }
    return { deleted: gone.length, check, refused: false, cascaded };
  }
  async countRows(spec: TableSpec) {
    return [...(this.tables.get(spec.name)?.rows.values() ?? [])].filter((r) => !r.deletedAt).length;
  }
  async getState(object: string) {
    return this.states.get(object) ?? null;
  }
  async setState(state: ReplicationState) {
    this.states.set(state.object, { ...state });
  }
  async listStates() {
    return [...this.states.values()];
  }
  async deleteState(object: string) {
    this.states.delete(object);
  }
  async close() {}

  /** Table contents without the sync times, for comparing replicas. */
  contents(name: string): Array<{ row: Row; deletedAt: string | null }> {
    return [...(this.tables.get(name)?.rows.entries() ?? [])].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, r]) => ({ row: r.row, deletedAt: r.deletedAt }));
  }
}

/** A fake client: the engine only asks it for request counts; the fake object counts its reads. */
export function fakeClient(): KlaviyoClient & { requests: number } {
  const c = {
    requests: 0,
    stats() {
      return { requests: c.requests, retries: 0, rateLimited: 0, throttledMs: 0, byOperation: {} };
    },
  };
  return c as unknown as KlaviyoClient & { requests: number };
}

export interface FakeRecord {
  Id: string;
  Name: string;
  Updated: string;
}

/**
 * How the id-only read of a sweep (only the key column) goes wrong: after `afterKeys` keys it
 * throws (as the client does on a page that is not a JSON:API document), or it leaves the rest
 * out and says so in the read's report (as a grouped read does for a list deleted meanwhile).
 */
export interface SweepFault {
  afterKeys: number;
  how: 'throw' | 'skip';
}

/**
 * A Lists-like object over a mutable array of records: incremental on Updated (server side),
 * one "request" per read; reads record what they were asked.
 */
export function fakeObject(
  records: FakeRecord[],
  opts: { name?: string; incremental?: boolean; serverSide?: boolean; failAfterRows?: number; sweepFault?: SweepFault } = {},
) {
  const reads: ReadRequest[] = [];
  const def: ObjectDefinition = {
    name: opts.name ?? 'Lists',
    description: 'fake',
    key: ['Id'],
    columns: [
      { name: 'Id', type: 'id', description: '', path: 'id' },
      { name: 'Name', type: 'string', description: '', path: 'name' },
      { name: 'Updated', type: 'datetime', description: '', path: 'updated' },
      { name: 'Expensive', type: 'integer', description: '', path: 'x', onDemand: true },
    ],
    operations: [],
    incremental: opts.incremental === false ? undefined : { column: 'Updated', serverSide: opts.serverSide ?? true },
    constraints: [],
    plan(request) {
      reads.push(request);
      return {
        requests: [],
        localConditions: [],
        notes: [],
        async *execute(client, _signal, report) {
          (client as unknown as { requests: number }).requests++;
          const idOnly = request.columns.length === 1 && request.columns[0]!.name === 'Id';
          const fault = idOnly ? opts.sweepFault : undefined;
          let n = 0;
          for (const r of [...records]) {
            if (request.since && Date.parse(r.Updated) < request.since.getTime()) continue;
            if (opts.failAfterRows !== undefined && n >= opts.failAfterRows) throw new Error('connection reset');
            if (fault && n >= fault.afterKeys) {
              if (fault.how === 'throw' || !report) throw new Error('Klaviyo answered GET /api/lists with a page that is not a JSON:API document');
              report.skipped('the lists after the first page', 'Klaviyo answered 404 Not Found');
              return;
            }
            n++;
            yield Object.fromEntries(request.columns.map((c) => [c.name, (r as unknown as Row)[c.name] ?? null]));
          }
        },
      };
    },
  };
  return { def, reads };
}
