/**
 * klv sync writes to Klaviyo through the object's import handlers with import's own cell coercion
 * (pipeline/import/coerce.ts): a value typed into the table reaches Klaviyo in the spelling
 * `klv import` would send for the same cell, and a value import refuses fails locally, with
 * import's message, without being sent. Lists with a scripted reader and recording write
 * handlers, into a real SQLite table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../src/core/clock.js';
import type { Database } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import type { KlaviyoClient } from '../../src/klaviyo/client.js';
import { Lists } from '../../src/objects/catalog/lists.js';
import type { ObjectDefinition, Row } from '../../src/objects/types.js';
import type { ImportRow, OperationHandler, RowOutcome } from '../../src/objects/write/types.js';
import { coerceCell } from '../../src/pipeline/import/coerce.js';
import { SyncEngine } from '../../src/sync/engine.js';
import type { SyncResult } from '../../src/sync/outcome.js';
import { syncSpec } from '../../src/sync/spec.js';

let dir: string;
let db: Database;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'klv-sync-coerce-'));
  db = await openDatabase(`sqlite:${join(dir, 'sync.db')}`);
});
afterAll(async () => {
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

const records: Row[] = [{ Id: 'L1', Name: 'List one', OptInProcess: 'single_opt_in', Created: '2026-01-01T00:00:00+00:00', Updated: '2026-01-02T00:00:00+00:00' }];
const sent: Array<{ operation: string; values: Record<string, unknown> }> = [];

function recorder(operation: 'insert' | 'update' | 'delete'): OperationHandler {
  return {
    operation,
    description: 'recorded',
    requiredColumns: [],
    maxBatchSize: 1,
    idempotent: true,
    async processBatch(rows: ImportRow[]): Promise<RowOutcome[]> {
      for (const r of rows) sent.push({ operation, values: r.values });
      return rows.map((r) => ({ ok: true, rowNumber: r.rowNumber, status: operation === 'insert' ? 'created' : 'updated', id: String(r.values.Id ?? `NEW${sent.length}`) }));
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
    async *execute() {
      for (const r of records) yield Object.fromEntries(request.columns.map((c) => [c.name, r[c.name] ?? null]));
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

const optIn = Lists.columns.find((c) => c.name === 'OptInProcess')!;

describe('klv sync coerces what it sends as klv import coerces a cell', () => {
  it('sends the canonical spelling of a value import accepts, and refuses locally what import refuses', async () => {
    await sync();
    expect(sent).toEqual([]);

    // What a person types: import takes `Double Opt-In` as double_opt_in, and refuses `triple`.
    await db.run(`UPDATE lists SET OptInProcess = 'Double Opt-In' WHERE Id = 'L1'`);
    await db.run(`INSERT INTO lists (Name, OptInProcess) VALUES ('New list', ' DOUBLE_OPT_IN '), ('Odd list', 'triple')`);
    const result = await sync();

    const accepted = coerceCell('Double Opt-In', optIn);
    expect(accepted).toEqual({ ok: true, value: 'double_opt_in' });
    expect(sent).toEqual([
      { operation: 'update', values: { Id: 'L1', OptInProcess: 'double_opt_in' } },
      { operation: 'insert', values: { Name: 'New list', OptInProcess: 'double_opt_in' } },
    ]);
    const refused = coerceCell('triple', optIn);
    expect(refused.ok).toBe(false);
    expect(result.errors.map((e) => [e.action, e.code, e.message])).toEqual([['insert', 'invalid_value', `OptInProcess: ${(refused as { reason: string }).reason}`]]);
  });
});
