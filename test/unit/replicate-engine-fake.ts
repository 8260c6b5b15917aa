/**
 * An in-memory Destination and a scriptable object for the engine's unit tests: the real
 * destinations (SQLite, PostgreSQL, MySQL) are tested on their own and in the e2e tests.
 */
import type { Destination, ReplicationState, TableSpec, UpsertResult } from '../../src/replicate/destination.js';
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
    for (const row of rows) {
      const k = this.keyOf(spec, row);
      const values = Object.fromEntries(spec.columns.map((c) => [c.name, row[c.name] ?? null]));
      if (t.rows.has(k)) updated++;
      else inserted++;
      t.rows.set(k, { row: values, syncedAt: syncedAt.toISOString(), deletedAt: null });
    }
    return { inserted, updated };
  }
  async reconcileDeletions(spec: TableSpec, liveKeys: AsyncIterable<Row>, at: Date, hard: boolean): Promise<number> {
    const live = new Set<string>();
    for await (const k of liveKeys) live.add(this.keyOf(spec, k));
    const t = this.tables.get(spec.name)!;
    let n = 0;
    for (const [k, stored] of t.rows) {
      if (live.has(k) || stored.deletedAt) continue;
      n++;
      if (hard) t.rows.delete(k);
      else stored.deletedAt = at.toISOString();
    }
    return n;
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
 * A Lists-like object over a mutable array of records: incremental on Updated (server side),
 * one "request" per read; reads record what they were asked.
 */
export function fakeObject(records: FakeRecord[], opts: { name?: string; incremental?: boolean; serverSide?: boolean; failAfterRows?: number } = {}) {
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
        async *execute(client) {
          (client as unknown as { requests: number }).requests++;
          let n = 0;
          for (const r of [...records]) {
            if (request.since && Date.parse(r.Updated) < request.since.getTime()) continue;
            if (opts.failAfterRows !== undefined && n >= opts.failAfterRows) throw new Error('connection reset');
            n++;
            yield Object.fromEntries(request.columns.map((c) => [c.name, (r as unknown as Row)[c.name] ?? null]));
          }
        },
      };
    },
  };
  return { def, reads };
}
