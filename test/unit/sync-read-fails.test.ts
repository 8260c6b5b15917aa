/**
 * klv sync applies deletions (table rows for records gone from Klaviyo, Klaviyo records for rows
 * gone from the table) only from a complete read of Klaviyo: a read that throws after some
 * records, when a missing record would look deleted in Klaviyo, must abort the run before
 * anything is deleted on either side. Lists with a scripted reader and recording write handlers,
 * into a real SQLite table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../src/core/clock.js';
import type { KlaviyoClient } from '../../src/klaviyo/client.js';
import { Lists } from '../../src/objects/catalog/lists.js';
import type { ObjectDefinition, ReadReport, Row } from '../../src/objects/types.js';
import type { ImportRow, OperationHandler, RowOutcome } from '../../src/objects/write/types.js';
import type { Database } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { SyncEngine } from '../../src/sync/engine.js';
import type { SyncResult } from '../../src/sync/outcome.js';
import { syncSpec } from '../../src/sync/spec.js';

let dir: string;
let db: Database;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'klv-sync-read-'));
  db = await openDatabase(`sqlite:${join(dir, 'sync.db')}`);
});
afterAll(async () => {
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

const list = (id: string): Row => ({
  Id: id,
  Name: `List ${id}`,
  OptInProcess: 'single_opt_in',
  Created: '2026-01-01T00:00:00+00:00',
  Updated: '2026-01-02T00:00:00+00:00',
});

/** Klaviyo's lists, read in order; the read throws once `failAfter` records were read. */
const klaviyo = { records: [list('L1'), list('L2'), list('L3')], failAfter: undefined as number | undefined };
const reports: Array<ReadReport | undefined> = [];
const sent: Array<{ operation: string; rows: Array<Record<string, unknown>> }> = [];

function recorder(operation: 'insert' | 'update' | 'delete'): OperationHandler {
  return {
    operation,
    description: 'recorded',
    requiredColumns: [],
    maxBatchSize: 1,
    idempotent: true,
    async processBatch(rows: ImportRow[]): Promise<RowOutcome[]> {
      sent.push({ operation, rows: rows.map((r) => r.values) });
      return rows.map((r) => ({ ok: true, rowNumber: r.rowNumber, status: operation === 'insert' ? 'created' : operation === 'delete' ? 'deleted' : 'updated', id: String(r.values.Id ?? 'NEW') }));
    },
  };
}

const ScriptedLists: ObjectDefinition = {
  ...Lists,
  write: { insert: recorder('insert'), update: recorder('update'), delete: recorder('delete') },
  plan: (request) => ({
    requests: [],
    localConditions: [],
    notes: [],
    async *execute(_client, _signal, report) {
      reports.push(report);
      let n = 0;
      for (const r of klaviyo.records) {
        if (klaviyo.failAfter !== undefined && n >= klaviyo.failAfter) throw new Error('Klaviyo answered GET /api/lists with a page that is not a JSON:API document');
        n++;
        yield Object.fromEntries(request.columns.map((c) => [c.name, r[c.name] ?? null]));
      }
    },
  }),
};

function sync(): Promise<SyncResult> {
  return new SyncEngine({
    spec: syncSpec(ScriptedLists),
    db,
    client: {} as KlaviyoClient,
    table: 'lists',
    policy: 'klaviyo-wins',
    dryRun: false,
    signal: new AbortController().signal,
    clock: new FakeClock({ start: Date.parse('2026-03-01T00:00:00Z') }),
    debug: () => undefined,
  }).run();
}

const tableIds = async () => (await db.query('SELECT Id FROM lists ORDER BY Id')).map((r) => r.Id);
const mapRows = async () => db.query('SELECT row_key, klaviyo_id, klaviyo_hash, db_hash FROM _klv_sync_map ORDER BY row_key');

describe('klv sync when the read of Klaviyo fails part-way', () => {
  it('deletes nothing on either side, and leaves the table and the id map as they were', async () => {
    await sync();
    expect(await tableIds()).toEqual(['L1', 'L2', 'L3']);
    expect(sent).toEqual([]);

    // Deleted in the table: a complete run deletes L1 in Klaviyo. Klaviyo's read then fails after
    // L1, so L2 and L3 would look deleted in Klaviyo and their rows would go.
    await db.run(`DELETE FROM lists WHERE Id = 'L1'`);
    const map = await mapRows();
    klaviyo.failAfter = 1;
    await expect(sync()).rejects.toThrow(/not a JSON:API document/);
    expect(sent).toEqual([]);
    expect(await tableIds()).toEqual(['L2', 'L3']);
    expect(await mapRows()).toEqual(map);

    // The same run with a complete read does delete L1 in Klaviyo (the test above could fail).
    klaviyo.failAfter = undefined;
    const done = await sync();
    expect(sent.map((s) => [s.operation, s.rows.map((r) => r.Id)])).toEqual([['delete', ['L1']]]);
    expect(done.applied.map((e) => `${e.side} ${e.action} ${e.id}`)).toEqual(['klaviyo delete L1']);
  });

  it('reads Klaviyo without a report, so a reader that could leave a part out throws instead', () => {
    expect(reports.length).toBeGreaterThan(0);
    expect(reports.every((r) => r === undefined)).toBe(true);
  });
});
