/**
 * The quirk matrix's sync runner. A case starts from a table synchronized with the account
 * (built without quirks once per object, or, under a datetime quirk, by a first sync under it,
 * checked), changes both sides (Klaviyo through the emulator's account: a record renamed,
 * deleted, added; the table through SQL: a row renamed, deleted, inserted without an Id), then
 * runs `klv sync OBJECT --with sqlite:FILE` under the case's behaviour and checks that both
 * sides converged with every record once, or that nothing moved on either side.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { AccountSnapshot, StoredResource } from '../../src/emulator/store/types.js';
import { syncVerdict, type ExpectedRows, type SyncSide } from './quirk-checks.js';
import { caseSlug, causeOf, isDatetimeQuirk, type CaseResult, type MatrixCase, type MatrixContext } from './quirk-matrix.js';

interface Changes {
  /** The account with Klaviyo's side of the changes made. */
  account: AccountSnapshot;
  /** SQL statements for the table's side. */
  sql: string[];
  /** Klaviyo's records (by id, the synchronized values) once both sides converged. */
  expectedKlaviyo: ExpectedRows;
  /** Records the table's new rows create in Klaviyo, by name. */
  created: string[];
}

interface SyncTarget {
  table: string;
  type: string;
  /** A Klaviyo record under the table's column names. */
  values: (a: Record<string, any>) => Record<string, unknown>;
  /** The columns the table and Klaviyo must agree on; the first is the name. */
  columns: string[];
  reference: { path: string; query: Record<string, string>; columns: Record<string, string> } | null;
  changes: (initial: AccountSnapshot, now: number) => Changes;
}

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
const names = (s: AccountSnapshot, type: string): ExpectedRows => new Map((s.resources[type] ?? []).map((r) => [r.id, { Name: r.attributes.name }]));

/** Templates no campaign message or flow uses, code-edited (their Html may be changed). */
function freeTemplates(s: AccountSnapshot): StoredResource[] {
  const used = JSON.stringify([s.resources['campaign-message'], s.resources.flow]);
  return s.resources.template!.filter((t) => !used.includes(t.id) && t.attributes.editor_type === 'CODE');
}

const TARGETS: Record<string, SyncTarget> = {
  'email-templates': {
    table: 'email_templates',
    type: 'template',
    values: (a) => ({ Name: a.name, Updated: a.updated }),
    columns: ['Name', 'Updated'],
    reference: { path: '/api/templates', query: { 'fields[template]': 'updated' }, columns: { updated: 'Updated' } },
    changes(initial, now) {
      const account = structuredClone(initial);
      const recently = isoSeconds(now - 60_000);
      const [renamedInKlaviyo, deletedInKlaviyo, renamedInTable, deletedInTable] = freeTemplates(account);
      Object.assign(renamedInKlaviyo!.attributes, { name: 'Renamed in Klaviyo', updated: recently });
      account.resources.template = account.resources.template!.filter((t) => t !== deletedInKlaviyo);
      account.resources.template.push({ ...structuredClone(renamedInTable!), id: 'QrkTpl', attributes: { ...structuredClone(renamedInTable!.attributes), name: 'Made in Klaviyo', created: recently, updated: recently } });
      const expectedKlaviyo = names(account, 'template');
      expectedKlaviyo.set(renamedInTable!.id, { Name: 'Renamed in the table' });
      expectedKlaviyo.delete(deletedInTable!.id);
      return {
        account,
        sql: [
          `UPDATE email_templates SET Name = 'Renamed in the table' WHERE Id = '${renamedInTable!.id}'`,
          `DELETE FROM email_templates WHERE Id = '${deletedInTable!.id}'`,
          `INSERT INTO email_templates (Name, Html, Text, EditorType) VALUES ('Made in the table', '<html><body><p>Made in the table</p></body></html>', 'Made in the table', 'CODE')`,
        ],
        expectedKlaviyo,
        created: ['Made in the table'],
      };
    },
  },
  // Campaigns' datetimes are the ones Klaviyo sends with a space (space-datetimes).
  campaigns: {
    table: 'campaigns',
    type: 'campaign',
    values: (a) => ({ Name: a.name, UpdatedAt: a.updated_at }),
    columns: ['Name', 'UpdatedAt'],
    reference: null,
    changes(initial, now) {
      const account = structuredClone(initial);
      const [inKlaviyo, inTable] = account.resources.campaign!.filter((c) => c.attributes.status === 'Draft' && c.attributes.archived !== true);
      Object.assign(inKlaviyo!.attributes, { name: 'Renamed in Klaviyo', updated_at: isoSeconds(now - 60_000) });
      const expectedKlaviyo = names(account, 'campaign');
      expectedKlaviyo.set(inTable!.id, { Name: 'Renamed in the table' });
      return { account, sql: [`UPDATE campaigns SET Name = 'Renamed in the table' WHERE Id = '${inTable!.id}'`], expectedKlaviyo, created: [] };
    },
  },
};

function tableSide(file: string, table: string): Omit<SyncSide, 'klaviyo'> {
  if (!existsSync(file)) return { table: [], map: [], pending: [] };
  const db = new Database(file, { readonly: true });
  try {
    const all = (name: string, order: string) =>
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) ? (db.prepare(`SELECT * FROM "${name}" ORDER BY ${order}`).all() as Array<Record<string, unknown>>) : [];
    return { table: all(table, '_klv_row_id'), map: all('_klv_sync_map', 'object, row_key'), pending: all('_klv_sync_pending', 'object, row_key') };
  } finally {
    db.close();
  }
}

function runSql(file: string, statements: string[]): void {
  const db = new Database(file);
  try {
    for (const s of statements) db.prepare(s).run();
  } finally {
    db.close();
  }
}

/** Klaviyo's records under the table's column names, as the account holds them. */
async function klaviyoSide(m: MatrixContext, target: SyncTarget): Promise<ExpectedRows> {
  const state = await m.emulator.state();
  return new Map((state.resources[target.type] ?? []).map((r) => [r.id, target.values(r.attributes)]));
}

/** Klaviyo's datetimes as it renders them now (read under a datetime quirk): id -> column -> value. */
async function renderedDatetimes(m: MatrixContext, target: SyncTarget): Promise<ExpectedRows | null> {
  if (!target.reference) return null;
  const read = await m.emulator.read(target.reference.path, target.reference.query);
  const columns = Object.entries(target.reference.columns);
  return new Map([...read].map(([id, attributes]) => [id, Object.fromEntries(columns.map(([attribute, column]) => [column, attributes[attribute]]))]));
}

const baselines = new Map<string, string>();

async function baseline(m: MatrixContext, object: string, _target: SyncTarget): Promise<string> {
  let file = baselines.get(object);
  if (!file) {
    file = join(m.root, `baseline-sync-${object}.db`);
    const r = await m.klv(['sync', object, '--with', `sqlite:${file}`, '--log-dir', join(m.root, 'logs-baseline')]);
    if (r.code !== 0) throw new Error(`the quirk-free sync of ${object} failed (exit ${r.code}):\n${r.stderr}`);
    baselines.set(object, file);
  }
  return file;
}

async function checkedSync(m: MatrixContext, c: MatrixCase, step: string, target: SyncTarget, file: string, expected: { klaviyo: ExpectedRows; created: string[] }): Promise<CaseResult> {
  const before: SyncSide = { ...tableSide(file, target.table), klaviyo: await klaviyoSide(m, target) };
  const { value, exercised } = await m.emulator.under(c, async (env) => {
    const run = await m.klv(['sync', c.target, '--with', `sqlite:${file}`, '--log-dir', join(m.root, `logs-${caseSlug(c)}`)], { env });
    return { run, rendered: isDatetimeQuirk(c.behaviour) ? await renderedDatetimes(m, target) : null };
  });
  const verdict = syncVerdict({
    code: value.run.code,
    stderr: value.run.stderr,
    before,
    after: { ...tableSide(file, target.table), klaviyo: await klaviyoSide(m, target) },
    rendered: value.rendered,
    expectedKlaviyo: expected.klaviyo,
    created: expected.created,
    columns: target.columns,
    cause: causeOf(c.behaviour),
  });
  return { step, verdict, exercised, run: value.run };
}

export async function syncCase(m: MatrixContext, c: MatrixCase): Promise<CaseResult[]> {
  const target = TARGETS[c.target];
  if (!target) throw new Error(`no sync target '${c.target}'`);
  const file = join(m.root, `${caseSlug(c)}.db`);
  const results: CaseResult[] = [];
  if (isDatetimeQuirk(c.behaviour)) {
    // The table's datetimes must be Klaviyo's as rendered under the quirk: build it under it.
    const first = await checkedSync(m, c, 'first sync', target, file, { klaviyo: names(m.initial, target.type), created: [] });
    results.push(first);
    if (first.verdict.outcome !== 'complete') return results;
  } else {
    copyFileSync(await baseline(m, c.target, target), file);
  }
  const changes = target.changes(m.initial, Date.now());
  await m.emulator.load(changes.account);
  try {
    runSql(file, changes.sql);
    results.push(await checkedSync(m, c, 'sync after changes on both sides', target, file, { klaviyo: changes.expectedKlaviyo, created: changes.created }));
  } finally {
    await m.emulator.load(m.initial);
  }
  return results;
}
