/**
 * Must-show 3 of `klv query`: INSERT, UPDATE and DELETE on Lists and EmailTemplates change the
 * emulator's data exactly as the same `klv import` does. Two emulators start from the same demo
 * account; the statements run against one (runWriteStatement with a real CommandContext, over
 * loopback, with the real client), the equivalent CSV imports run against the other through the
 * built CLI, and the two accounts' states are compared (ids and timestamps aside, since each
 * account hands out its own). Every exchange is checked against Klaviyo's OpenAPI spec.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../src/cli/error-report.js';
import { DEMO_PRIVATE_KEY } from '../../src/emulator/demo-data/index.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import type { StoredResource } from '../../src/emulator/store/types.js';
import { runWriteStatement } from '../../src/query/write.js';
import { writeOptions } from '../../src/cli/commands/query.js';
import { cleanEnv, runKlv } from '../helpers/cli.js';
import { testContext } from '../helpers/io.js';
import { withRecording } from '../helpers/recording.js';

const require = createRequire(import.meta.url);
const { Parser } = require('node-sql-parser') as { Parser: new () => { astify(sql: string, o: { database: string }): unknown } };
const parser = new Parser();

const recording = withRecording();
const dir = mkdtempSync(join(tmpdir(), 'klv-query-write-'));
let viaQuery: RunningEmulator;
let viaImport: RunningEmulator;

beforeAll(async () => {
  [viaQuery, viaImport] = await Promise.all([
    startEmulator({ data: 'demo', rateLimits: 'off', record: recording.file }),
    startEmulator({ data: 'demo', rateLimits: 'off', record: recording.file }),
  ]);
});
afterAll(async () => {
  await viaQuery?.close();
  await viaImport?.close();
});

const envFor = (e: RunningEmulator) => ({ HOME: dir, XDG_CONFIG_HOME: join(dir, '.config'), KLAVIYO_BASE_URL: e.url, KLAVIYO_PRIVATE_API_KEY: DEMO_PRIVATE_KEY });

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  rows: Array<Record<string, string>>;
}

/** `klv query "<SQL>"` in process: parse (SQLite dialect, as the command does), run, report. */
async function query(sql: string, o: { yes?: boolean; json?: boolean } = {}): Promise<Ran> {
  const { ctx, stdout, stderr } = testContext({ cwd: dir, env: envFor(viaQuery), globals: { json: o.json } });
  let code: number;
  let failure = '';
  try {
    code = await runWriteStatement(parser.astify(sql, { database: 'sqlite' }), writeOptions(ctx, { yes: Boolean(o.yes), sql }));
  } catch (e) {
    code = exitCodeFor(e);
    failure = `error: ${(e as Error).message}\n`;
  } finally {
    await ctx.dispose();
  }
  const out = stdout();
  const rows = !o.json && out.trim() !== '' ? (parse(out, { columns: true }) as Array<Record<string, string>>) : [];
  return { code, stdout: out, stderr: stderr() + failure, rows };
}

let n = 0;
/** The same change as a CSV through the built `klv import`; its success and error logs, in input order. */
async function importCsv(object: string, op: string, header: string[], records: string[][]): Promise<{ code: number | null; stderr: string; rows: Array<Record<string, string>> }> {
  n++;
  const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const file = join(dir, `in${n}.csv`);
  writeFileSync(file, [header, ...records].map((r) => r.map(quote).join(',')).join('\n') + '\n');
  const logs = { success: join(dir, `in${n}.ok.csv`), error: join(dir, `in${n}.err.csv`) };
  const r = await runKlv(['import', object, file, '--op', op, '--yes', '--success-log', logs.success, '--error-log', logs.error, '--null-value', 'NULL'], {
    env: cleanEnv(envFor(viaImport)),
    cwd: dir,
  });
  const read = (f: string) => parse(readFileSync(f, 'utf8'), { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>;
  const rows = [...read(logs.success), ...read(logs.error)].sort((a, b) => Number(a.Row) - Number(b.Row));
  return { code: r.code, stderr: r.stderr, rows };
}

/** The lists and templates of an account, without what each account makes up itself: ids and timestamps. */
async function state(e: RunningEmulator): Promise<Record<string, string[]>> {
  const res = await fetch(`${e.url}/_emulator/state`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { resources: Record<string, StoredResource[]>; listMembers: Record<string, Record<string, string>> };
  const out: Record<string, string[]> = {};
  // Lists and templates: what the statements change (the demo's events and profiles carry
  // times relative to each emulator's start, so they differ between any two accounts).
  for (const [type, resources] of Object.entries(body.resources).filter(([t]) => t === 'list' || t === 'template')) {
    out[type] = resources
      .map((r) => {
        const { created: _c, updated: _u, ...attributes } = r.attributes;
        return JSON.stringify({ attributes, relationships: r.relationships });
      })
      .sort();
  }
  out.listMemberCounts = Object.values(body.listMembers).map((m) => String(Object.keys(m).length)).sort();
  return out;
}

const templates = (e: RunningEmulator) => [...e.store.collection('template').values()];

describe('klv query writes change the account as klv import does', () => {
  it('Lists and EmailTemplates: INSERT, UPDATE (by id and by a pushed-down WHERE), DELETE; a refused row fails the same way', async () => {
    expect(await state(viaQuery)).toEqual(await state(viaImport));

    // INSERT: two lists, one with NULL (the account's default opt-in), one row refused (no name).
    const qi = await query("INSERT INTO Lists (Name, OptInProcess) VALUES ('VIP', 'double_opt_in'), ('Winback 2', NULL), (NULL, 'single_opt_in')");
    const ii = await importCsv('lists', 'insert', ['Name', 'OptInProcess'], [['VIP', 'double_opt_in'], ['Winback 2', 'NULL'], ['NULL', 'single_opt_in']]);
    expect(qi.code, qi.stderr).toBe(3);
    expect(ii.code, ii.stderr).toBe(3);
    expect(qi.rows.map((r) => [r.Row, r.Status, r.ErrorCode])).toEqual([
      ['1', 'created', ''],
      ['2', 'created', ''],
      ['3', 'failed', 'missing_value'],
    ]);
    expect(ii.rows.map((r) => r.Status ?? 'failed')).toEqual(['created', 'created', 'failed']);
    expect(qi.rows[2].ErrorMessage).toBe(ii.rows[2].ErrorMessage);
    expect(qi.stderr).toContain('INSERT INTO Lists: 3 rows');
    const [qVip, qWinback] = qi.rows.map((r) => r.Id);
    const [iVip, iWinback] = ii.rows.map((r) => r.Id);
    expect(viaQuery.store.collection('list').get(qVip)?.attributes).toMatchObject({ name: 'VIP', opt_in_process: 'double_opt_in' });

    // UPDATE by id, and UPDATE through a WHERE that is read (pushed down) first.
    const qu = await query(`UPDATE Lists SET Name = 'VIP (renamed)' WHERE Id = '${qVip}'`);
    const iu = await importCsv('lists', 'update', ['Id', 'Name'], [[iVip, 'VIP (renamed)']]);
    expect([qu.code, iu.code]).toEqual([0, 0]);
    expect(qu.rows).toEqual([{ Row: '1', Id: qVip, Status: 'updated', ErrorCode: '', ErrorMessage: '' }]);
    const qw = await query("UPDATE Lists SET OptInProcess = 'single_opt_in' WHERE Name LIKE 'Winback 2%'");
    const iw = await importCsv('lists', 'update', ['Id', 'OptInProcess'], [[iWinback, 'single_opt_in']]);
    expect([qw.code, iw.code]).toEqual([0, 0]);
    expect(qw.rows.map((r) => [r.Id, r.Status])).toEqual([[qWinback, 'updated']]);

    // DELETE: --yes required without a terminal; then by id.
    const refused = await query(`DELETE FROM Lists WHERE Id = '${qWinback}'`);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('needs confirmation, and there is no terminal to ask on');
    expect(viaQuery.store.collection('list').get(qWinback)).toBeDefined();
    const qd = await query(`DELETE FROM Lists WHERE Id IN ('${qWinback}')`, { yes: true });
    const id = await importCsv('lists', 'delete', ['Id'], [[iWinback]]);
    expect([qd.code, id.code]).toEqual([0, 0]);
    expect(qd.rows.map((r) => r.Status)).toEqual(['deleted']);
    expect(viaQuery.store.collection('list').get(qWinback)).toBeUndefined();

    // EmailTemplates: INSERT, UPDATE of a code template by id and of a drag-and-drop one's Html
    // (refused unsent by the handler's rule, as in an import), DELETE.
    const qt = await query(
      "INSERT INTO EmailTemplates (Name, EditorType, Html, Text) VALUES ('Query welcome', 'CODE', '<p>Hi {{ first_name }}</p>', 'Hi'), ('Query it''s', 'CODE', '<p>x</p>', NULL)",
    );
    const it2 = await importCsv('email-templates', 'insert', ['Name', 'EditorType', 'Html', 'Text'], [['Query welcome', 'CODE', '<p>Hi {{ first_name }}</p>', 'Hi'], ["Query it's", 'CODE', '<p>x</p>', 'NULL']]);
    expect([qt.code, it2.code]).toEqual([0, 0]);
    const [qT1, qT2] = qt.rows.map((r) => r.Id);
    const [iT1, iT2] = it2.rows.map((r) => r.Id);
    const dnd = templates(viaQuery).find((t) => t.attributes.editor_type === 'SYSTEM_DRAGGABLE')!;
    expect(templates(viaImport).find((t) => t.id === dnd.id)).toBeDefined(); // same demo account
    const qtu = await query(`UPDATE EmailTemplates SET Html = '<p>Hello</p>', Name = 'Query welcome v2' WHERE Id IN ('${qT1}', '${dnd.id}')`);
    const itu = await importCsv('email-templates', 'update', ['Id', 'Html', 'Name'], [[iT1, '<p>Hello</p>', 'Query welcome v2'], [dnd.id, '<p>Hello</p>', 'Query welcome v2']]);
    expect([qtu.code, itu.code]).toEqual([3, 3]);
    expect(qtu.rows.map((r) => [r.Status, r.ErrorCode])).toEqual([
      ['updated', ''],
      ['failed', itu.rows[1].ErrorCode],
    ]);
    expect(qtu.rows[1].ErrorMessage).toBe(itu.rows[1].ErrorMessage);
    const qtd = await query(`DELETE FROM EmailTemplates WHERE Id = '${qT2}'`, { yes: true });
    const itd = await importCsv('email-templates', 'delete', ['Id'], [[iT2]]);
    expect([qtd.code, itd.code]).toEqual([0, 0]);

    expect(await state(viaQuery)).toEqual(await state(viaImport));
  });

  it('--json: one object with a line per row', async () => {
    const r = await query("UPDATE Lists SET Name = 'x' WHERE Id = 'NOSUCHLIST'", { json: true });
    expect(r.code).toBe(3);
    const body = JSON.parse(r.stdout) as { object: string; operation: string; rows: Array<Record<string, unknown>>; failed: number; exitCode: number };
    expect(body).toMatchObject({ object: 'Lists', operation: 'update', failed: 1, exitCode: 3 });
    expect(body.rows).toEqual([{ Row: 1, Id: 'NOSUCHLIST', Status: 'failed', ErrorCode: expect.any(String), ErrorMessage: expect.any(String) }]);
  });

  it('the built CLI: klv query "INSERT ..." and "DELETE ... --yes" (refused without it)', async () => {
    const klv = (args: string[]) => runKlv(['query', ...args], { env: cleanEnv(envFor(viaQuery)), cwd: dir });
    const ins = await klv(["INSERT INTO Lists (Name) VALUES ('From the CLI')"]);
    expect(ins.code, ins.stderr).toBe(0);
    const [row] = parse(ins.stdout, { columns: true }) as Array<Record<string, string>>;
    expect(row).toMatchObject({ Row: '1', Status: 'created' });
    expect(viaQuery.store.collection('list').get(row.Id)?.attributes.name).toBe('From the CLI');
    expect(ins.stderr).toContain('INSERT INTO Lists: 1 row');
    const refused = await klv([`DELETE FROM Lists WHERE Id = '${row.Id}'`]);
    expect(refused.code).toBe(2);
    expect(viaQuery.store.collection('list').get(row.Id)).toBeDefined();
    const del = await klv([`DELETE FROM Lists WHERE Name = 'From the CLI'`, '--yes']);
    expect(del.code, del.stderr).toBe(0);
    expect(viaQuery.store.collection('list').get(row.Id)).toBeUndefined();
    expect(`${ins.stdout}${ins.stderr}${del.stdout}${del.stderr}`).not.toContain(DEMO_PRIVATE_KEY);
  });

  it('every exchange of both accounts stays within the spec', () => {
    recording.expectConformant({ minExchanges: 10 });
  });
});
