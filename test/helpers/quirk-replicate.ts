/**
 * The quirk matrix's replicate runner. A case starts from a replica of the account (built
 * without quirks once per object list, or, under a datetime quirk, built by a first run under
 * it and checked), changes the account (a profile deleted, a membership removed, a template
 * deleted, a profile renamed, a flow archived, a list added), then runs `klv replicate OBJECTS
 * --to sqlite:FILE --sweep-deletes always` under the case's behaviour and checks each table: its
 * live rows are Klaviyo's and the rest are marked deleted, or the table and its cursor are as
 * they were.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { AccountSnapshot } from '../../src/emulator/store/types.js';
import { replicateVerdict, type ExpectedRows, type TableSnapshot } from './quirk-checks.js';
import { caseSlug, causeOf, isDatetimeQuirk, type CaseResult, type MatrixCase, type MatrixContext } from './quirk-matrix.js';

interface ReplicatedObject {
  /** The CLI name, the _klv_state name and the table. */
  cli: string;
  object: string;
  table: string;
  key: (row: Record<string, unknown>) => string;
  /** Klaviyo's records: key -> the values the table must hold. */
  expected: (s: AccountSnapshot) => ExpectedRows;
  /** Where a test reads the rendered datetimes from under a datetime quirk: attribute -> column. */
  reference?: { path: string; query: Record<string, string>; columns: Record<string, string> };
  /** Datetime columns without a reference read: not checked under `microseconds`. */
  unreferencedDatetimes?: string[];
}

const byId = (type: string, row: (a: Record<string, any>) => Record<string, unknown>) => (s: AccountSnapshot): ExpectedRows =>
  new Map((s.resources[type] ?? []).map((r) => [r.id, row(r.attributes)]));

const OBJECTS: ReplicatedObject[] = [
  {
    cli: 'profiles',
    object: 'Profiles',
    table: 'profiles',
    key: (r) => String(r.Id),
    expected: byId('profile', (a) => ({ FirstName: a.first_name, Created: a.created, Updated: a.updated })),
    reference: { path: '/api/profiles', query: { 'page[size]': '100', 'fields[profile]': 'created,updated' }, columns: { created: 'Created', updated: 'Updated' } },
  },
  { cli: 'lists', object: 'Lists', table: 'lists', key: (r) => String(r.Id), expected: byId('list', (a) => ({ Name: a.name })) },
  {
    cli: 'list-members',
    object: 'ListMembers',
    table: 'list_members',
    key: (r) => `${r.ListId}|${r.ProfileId}`,
    expected: (s) => new Map(Object.entries(s.listMembers).flatMap(([list, members]) => Object.entries(members).map(([profile, joined]) => [`${list}|${profile}`, { JoinedGroupAt: joined }]))),
    unreferencedDatetimes: ['JoinedGroupAt'],
  },
  {
    cli: 'email-templates',
    object: 'EmailTemplates',
    table: 'email_templates',
    key: (r) => String(r.Id),
    expected: byId('template', (a) => ({ Name: a.name, Updated: a.updated })),
    reference: { path: '/api/templates', query: { 'fields[template]': 'updated' }, columns: { updated: 'Updated' } },
  },
  {
    cli: 'campaigns',
    object: 'Campaigns',
    table: 'campaigns',
    key: (r) => String(r.Id),
    expected: byId('campaign', (a) => ({ Name: a.name, Archived: a.archived === true, UpdatedAt: a.updated_at })),
    unreferencedDatetimes: ['UpdatedAt'],
  },
  {
    cli: 'flows',
    object: 'Flows',
    table: 'flows',
    key: (r) => String(r.Id),
    expected: byId('flow', (a) => ({ Name: a.name, Archived: a.archived === true, Updated: a.updated })),
    reference: { path: '/api/flows', query: { 'fields[flow]': 'updated' }, columns: { updated: 'Updated' } },
  },
];

const TARGETS: Record<string, string[]> = {
  all: OBJECTS.map((o) => o.cli),
  // A time-sliced read and a plain cursor chain: enough where every first request fails.
  'profiles+templates': ['profiles', 'email-templates'],
  profiles: ['profiles'],
  flows: ['flows'],
};

function objectsOf(target: string): ReplicatedObject[] {
  const names = TARGETS[target];
  if (!names) throw new Error(`no replicate target '${target}'`);
  return OBJECTS.filter((o) => names.includes(o.cli));
}

function snapshotOf(file: string, o: ReplicatedObject): TableSnapshot {
  const empty: TableSnapshot = { rows: new Map(), state: null };
  if (!existsSync(file)) return empty;
  const db = new Database(file, { readonly: true });
  try {
    const has = (name: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
    const rows = has(o.table) ? (db.prepare(`SELECT * FROM "${o.table}"`).all() as Array<Record<string, unknown>>) : [];
    const state = has('_klv_state') ? ((db.prepare('SELECT * FROM _klv_state WHERE object = ?').get(o.object) as Record<string, unknown> | undefined) ?? null) : null;
    return { rows: new Map(rows.map((r) => [o.key(r), r])), state };
  } finally {
    db.close();
  }
}

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');

/** The account after the changes a replica must follow (deletions swept, the rest upserted). */
export function changedAccount(initial: AccountSnapshot, now = Date.now()): AccountSnapshot {
  const s = structuredClone(initial);
  const recently = isoSeconds(now - 60_000);
  const [firstList, secondList] = Object.keys(s.listMembers);
  const members = Object.keys(s.listMembers[firstList!]!);
  // A profile deleted, with its memberships and events; another one renamed.
  const [gone, renamed] = members;
  s.resources.profile = s.resources.profile!.filter((p) => p.id !== gone);
  for (const groups of [s.listMembers, s.segmentMembers]) for (const m of Object.values(groups)) delete m[gone!];
  s.resources.event = (s.resources.event ?? []).filter((e) => (e.relationships as any)?.profile?.id !== gone);
  Object.assign(s.resources.profile.find((p) => p.id === renamed)!.attributes, { first_name: 'Renamed by the quirk matrix', updated: recently });
  // A membership removed (the profile stays).
  const leaving = Object.keys(s.listMembers[secondList!]!).find((p) => p !== gone && p !== renamed)!;
  delete s.listMembers[secondList!]![leaving];
  // A template deleted, one that no campaign message or flow uses.
  const used = JSON.stringify([s.resources['campaign-message'], s.resources.flow]);
  const template = s.resources.template!.find((t) => !used.includes(t.id))!;
  s.resources.template = s.resources.template!.filter((t) => t !== template);
  // A flow archived: it must be updated in the replica, never marked deleted.
  Object.assign(s.resources.flow!.find((f) => f.attributes.archived !== true)!.attributes, { archived: true, updated: recently });
  // A list added.
  s.resources.list!.push({ type: 'list', id: 'QrkMtx', attributes: { name: 'Added by the quirk matrix', opt_in_process: 'single_opt_in', created: recently, updated: recently }, relationships: {} } as any);
  return s;
}

/** Klaviyo's records per table; under a datetime quirk with the rendered datetimes read now. */
async function expectedTables(m: MatrixContext, c: MatrixCase, objects: ReplicatedObject[], account: AccountSnapshot): Promise<ExpectedRows[]> {
  const out: ExpectedRows[] = [];
  for (const o of objects) {
    const expected = o.expected(account);
    if (isDatetimeQuirk(c.behaviour) && o.reference) {
      const rendered = await m.emulator.read(o.reference.path, o.reference.query);
      for (const [id, row] of expected) {
        const attributes = rendered.get(id);
        if (attributes) for (const [attribute, column] of Object.entries(o.reference.columns)) row[column] = attributes[attribute];
      }
    }
    if (c.behaviour === 'microseconds') for (const row of expected.values()) for (const column of o.unreferencedDatetimes ?? []) delete row[column];
    out.push(expected);
  }
  return out;
}

const baselines = new Map<string, string>();

/** A replica of the initial account built without quirks, once per object list. */
async function baseline(m: MatrixContext, target: string, objects: ReplicatedObject[]): Promise<string> {
  let file = baselines.get(target);
  if (!file) {
    file = join(m.root, `baseline-${target}.db`);
    const r = await m.klv(['replicate', ...objects.map((o) => o.cli), '--to', `sqlite:${file}`]);
    if (r.code !== 0) throw new Error(`the quirk-free replicate of ${target} failed (exit ${r.code}):\n${r.stderr}`);
    baselines.set(target, file);
  }
  return file;
}

/** One replicate run under the case, checked against `account` (what Klaviyo holds during it). */
async function checkedRun(m: MatrixContext, c: MatrixCase, step: string, objects: ReplicatedObject[], file: string, account: AccountSnapshot, extra: string[], bin?: string): Promise<CaseResult> {
  const before = objects.map((o) => snapshotOf(file, o));
  const { value, exercised } = await m.emulator.under(c, async (env) => {
    const run = await m.klv(['replicate', ...objects.map((o) => o.cli), '--to', `sqlite:${file}`, ...extra], { env, bin });
    return { run, expected: await expectedTables(m, c, objects, account) };
  });
  const verdict = replicateVerdict({
    code: value.run.code,
    stderr: value.run.stderr,
    cause: causeOf(c.behaviour),
    tables: objects.map((o, i) => ({ object: o.object, before: before[i]!, after: snapshotOf(file, o), expected: value.expected[i]! })),
  });
  return { step, verdict, exercised, run: value.run };
}

/** Plays a replicate case; `bin` runs another klv build (the checker's own proof). */
export async function replicateCase(m: MatrixContext, c: MatrixCase, o: { bin?: string } = {}): Promise<CaseResult[]> {
  const objects = objectsOf(c.target);
  const file = join(m.root, `${caseSlug(c)}.db`);
  const results: CaseResult[] = [];
  if (isDatetimeQuirk(c.behaviour)) {
    // The values must be Klaviyo's as rendered under the quirk: the replica is built under it.
    const first = await checkedRun(m, c, 'first run', objects, file, m.initial, [], o.bin);
    results.push(first);
    if (first.verdict.outcome !== 'complete') return results;
  } else {
    copyFileSync(await baseline(m, c.target, objects), file);
  }
  const changed = changedAccount(m.initial);
  await m.emulator.load(changed);
  try {
    results.push(await checkedRun(m, c, 'run with deletions swept', objects, file, changed, ['--sweep-deletes', 'always'], o.bin));
  } finally {
    await m.emulator.load(m.initial);
  }
  return results;
}
