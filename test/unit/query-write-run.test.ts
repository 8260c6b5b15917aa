/**
 * runWriteStatement in process, with an object of its own and fake handlers (no Klaviyo): the
 * rows a handler receives (coerced by the import's mapping layer: NULL clears, numbers typed,
 * validateRow refusing rows unsent), the report on stdout (CSV piped, --json), exit 3 on a failed
 * row, UPDATE/DELETE through a read of the matching records, and DELETE's confirmation: refused
 * without --yes off a terminal before anything is read, asked on a terminal with the row count.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { UsageError } from '../../src/core/errors.js';
import type { Condition, ObjectDefinition, Operation, ReadRequest, Row } from '../../src/objects/types.js';
import type { ImportRow, OperationHandler } from '../../src/objects/write/types.js';
import { formatReport, runWriteStatement } from '../../src/query/write.js';
import { stubProfile, testContext } from '../helpers/io.js';
import { writeOptions } from '../../src/cli/commands/query.js';

const require = createRequire(import.meta.url);
const { Parser } = require('node-sql-parser') as { Parser: new () => { astify(sql: string, o: { database: string }): unknown } };
const parser = new Parser();

/** A Lists-like object whose handlers record what they are sent; its plan serves RECORDS. */
function fakeObject() {
  const sent: Record<string, ImportRow[]> = { insert: [], update: [], delete: [] };
  const reads: ReadRequest[] = [];
  const records: Row[] = [
    { Id: 'F1', Name: 'Winback 1', Size: 1 },
    { Id: 'F2', Name: 'Winback 2', Size: 2 },
    { Id: 'F3', Name: 'VIP', Size: 3 },
  ];
  const handler = (operation: Operation, required: string[]): OperationHandler => ({
    operation,
    description: `${operation}s fakes`,
    requiredColumns: required,
    acceptedColumns: operation === 'delete' ? undefined : ['Id', 'Name', 'Size'],
    maxBatchSize: 2,
    idempotent: operation !== 'insert',
    validateRow: (row) => (row.values.Name === 'forbidden' ? { ok: false, rowNumber: row.rowNumber, code: 'invalid_value', message: 'Name: forbidden is forbidden' } : null),
    processBatch: async (rows) => {
      sent[operation].push(...rows);
      return rows.map((r) => ({
        ok: true as const,
        rowNumber: r.rowNumber,
        status: ({ insert: 'created', update: 'updated', delete: 'deleted', upsert: 'updated' } as const)[operation],
        id: String(r.values.Id ?? `NEW${r.rowNumber}`),
      }));
    },
  });
  const def: ObjectDefinition = {
    name: 'Fakes',
    description: '',
    key: ['Id'],
    columns: [
      { name: 'Id', type: 'id', description: '', path: 'id', readOnly: true },
      { name: 'Name', type: 'string', description: '', path: 'name', filterField: 'name' },
      { name: 'Size', type: 'integer', description: '', path: 'size' },
    ],
    operations: ['insert', 'update', 'delete'],
    write: { insert: handler('insert', ['Name']), update: handler('update', ['Id']), delete: handler('delete', ['Id']) },
    constraints: [],
    plan: (request) => {
      reads.push(request);
      return {
        requests: [],
        localConditions: [],
        notes: [],
        async *execute() {
          const match = (r: Row, c: Condition) => (c.op === 'starts-with' ? String(r[c.column]).startsWith(String(c.value)) : c.op === '=' ? r[c.column] === c.value : true);
          for (const r of records) if (request.where.every((c) => match(r, c))) yield Object.fromEntries(request.columns.map((col) => [col.name, r[col.name]]));
        },
      };
    },
  };
  return { def, sent, reads };
}

function harness(o: { json?: boolean; tty?: boolean } = {}) {
  const { ctx, stdin, stdout, stderr, answer } = testContext({ cwd: '/', env: { CI: 'true' }, tty: o.tty, globals: { json: o.json } });
  return { ctx, stdin, stdout, stderr, answer, profileAsked: stubProfile(ctx) };
}

async function run(sql: string, o: { json?: true; tty?: boolean; yes?: boolean; answer?: string } = {}) {
  const fake = fakeObject();
  const h = harness(o);
  if (o.answer !== undefined) {
    // Answer once the question is on stderr, as a person would.
    h.answer([['[y/N]', `${o.answer}\n`]]);
  }
  try {
    const code = await runWriteStatement(parser.astify(sql, { database: 'sqlite' }), { ...writeOptions(h.ctx, { yes: Boolean(o.yes), sql }), findObject: () => fake.def });
    return { code, ...fake, h };
  } finally {
    await h.ctx.dispose();
  }
}

describe('runWriteStatement', () => {
  it('INSERT: one row per tuple through the mapping layer (typed, NULL clears), a refused row unsent; exit 3; CSV report', async () => {
    const r = await run("INSERT INTO Fakes (Name, Size) VALUES ('a', 5), ('b', NULL), ('forbidden', 1), ('c', 'big')");
    expect(r.code).toBe(3);
    expect(r.sent.insert.map((x) => [x.rowNumber, x.values])).toEqual([
      [1, { Name: 'a', Size: 5 }],
      [2, { Name: 'b', Size: null }],
    ]);
    const rows = parse(r.h.stdout(), { columns: true }) as Array<Record<string, string>>;
    expect(rows).toEqual([
      { Row: '1', Id: 'NEW1', Status: 'created', ErrorCode: '', ErrorMessage: '' },
      { Row: '2', Id: 'NEW2', Status: 'created', ErrorCode: '', ErrorMessage: '' },
      { Row: '3', Id: '', Status: 'failed', ErrorCode: 'invalid_value', ErrorMessage: 'Name: forbidden is forbidden' },
      { Row: '4', Id: '', Status: 'failed', ErrorCode: 'invalid_value', ErrorMessage: "Size: 'big' is not a whole number" },
    ]);
    expect(r.h.stderr()).toContain('INSERT INTO Fakes: 4 rows');
    expect(r.h.stderr()).toContain('2 succeeded (2 created), 2 failed');
  });

  it('UPDATE by id sends those ids with the SET values, no read', async () => {
    const r = await run("UPDATE Fakes SET Size = 7 WHERE Id IN ('F1', 'F9')");
    expect(r.code).toBe(0);
    expect(r.reads).toEqual([]);
    expect(r.sent.update.map((x) => x.values)).toEqual([
      { Id: 'F1', Size: 7 },
      { Id: 'F9', Size: 7 },
    ]);
  });

  it('UPDATE with another WHERE reads the matching records (Id and the condition columns) and updates each', async () => {
    const r = await run("UPDATE Fakes SET Name = 'renamed' WHERE Name LIKE 'Winback%'", { json: true });
    expect(r.code).toBe(0);
    expect(r.reads).toHaveLength(1);
    expect(r.reads[0].where).toEqual([{ column: 'Name', op: 'starts-with', value: 'Winback' }]);
    expect(r.reads[0].columns.map((c) => c.name)).toEqual(['Id', 'Name']);
    expect(r.sent.update.map((x) => x.values)).toEqual([
      { Id: 'F1', Name: 'renamed' },
      { Id: 'F2', Name: 'renamed' },
    ]);
    const body = JSON.parse(r.h.stdout());
    expect(body).toMatchObject({ object: 'Fakes', operation: 'update', succeeded: 2, failed: 0, statuses: { updated: 2 }, exitCode: 0 });
    expect(body.rows.map((x: { Id: string }) => x.Id)).toEqual(['F1', 'F2']);
  });

  it('a WHERE that matches nothing sends nothing and exits 0', async () => {
    const r = await run("DELETE FROM Fakes WHERE Name = 'nobody'", { yes: true });
    expect(r.code).toBe(0);
    expect(r.sent.delete).toEqual([]);
    expect(r.h.stderr()).toContain('No Fakes match the WHERE: nothing to delete.');
  });

  it('DELETE without --yes off a terminal is refused before the profile is read', async () => {
    const fake = fakeObject();
    const h = harness();
    const p = runWriteStatement(parser.astify("DELETE FROM Fakes WHERE Id = 'F1'", { database: 'sqlite' }), { ...writeOptions(h.ctx, { yes: false, sql: '' }), findObject: () => fake.def });
    await expect(p).rejects.toThrow(UsageError);
    await expect(p).rejects.toThrow('DELETE FROM Fakes changes Klaviyo and cannot be undone: it needs confirmation, and there is no terminal to ask on.');
    expect(h.profileAsked()).toBe(false);
    expect(fake.sent.delete).toEqual([]);
  });

  it('DELETE on a terminal asks with the number of records: yes deletes, anything else sends nothing', async () => {
    const yes = await run("DELETE FROM Fakes WHERE Name LIKE 'Winback%'", { tty: true, answer: 'y' });
    expect(yes.code).toBe(0);
    expect(yes.h.stderr()).toContain('DELETE FROM Fakes deletes 2 records in Klaviyo and cannot be undone. Continue? [y/N]');
    expect(yes.sent.delete.map((x) => x.values)).toEqual([{ Id: 'F1' }, { Id: 'F2' }]);

    await expect(run("DELETE FROM Fakes WHERE Id = 'F1'", { tty: true, answer: 'n' })).rejects.toThrow('Not confirmed: nothing was deleted.');
  });

  it('the report on a terminal is aligned columns', () => {
    const report = [{ Row: 1, Id: 'ABC', Status: 'created', ErrorCode: '', ErrorMessage: '' }, { Row: 10, Id: '', Status: 'failed', ErrorCode: 'invalid_value', ErrorMessage: 'Name: x' }];
    expect(formatReport(report, 'ndjson').split('\n').map((l) => JSON.parse(l))).toEqual(report);
    expect(JSON.parse(formatReport(report, 'json'))).toEqual(report);
    expect(formatReport(report, 'csv')).toBe('Row,Id,Status,ErrorCode,ErrorMessage\n1,ABC,created,,\n10,,failed,invalid_value,Name: x');
    const text = formatReport(report, 'table');
    expect(text.split('\n')).toEqual([
      'Row  Id   Status   ErrorCode      ErrorMessage',
      '1    ABC  created',
      '10        failed   invalid_value  Name: x',
    ]);
  });
});
