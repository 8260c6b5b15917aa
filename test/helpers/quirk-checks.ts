/**
 * The quirk matrix's checker: pure verdicts on what a klv run left behind, compared with what
 * Klaviyo (the emulator) holds. No I/O here: the command runners (quirk-commands.ts) collect
 * the observations and hand them over, so the rules read in one place and a test can feed
 * them anything (the proof that the checker fails on a loss does exactly that).
 *
 * A run passes in one of two ways, and only these:
 *   complete        exit 0, every record exactly once, nothing invented, nothing deleted that
 *                   still exists, the checked values equal Klaviyo's;
 *   failed-loudly   exit 1 (import: 1 or 3), a message naming the cause, and nothing touched:
 *                   the previous export file byte for byte, the replica's rows and _klv_state,
 *                   the sync table, its map and Klaviyo's records; for an import, every input
 *                   row in exactly one log and each logged success real.
 * Anything else is `broken`, with the problems found: the silent loss this matrix exists to catch.
 */
import { parse } from 'csv-parse/sync';

export type Outcome = 'complete' | 'failed-loudly' | 'broken';

export interface Verdict {
  outcome: Outcome;
  /** What is wrong; empty unless broken. */
  problems: string[];
  /** What is worth knowing but not wrong (rows a failed replicate refreshed before it stopped). */
  notes: string[];
}

/** Expected records: key -> the values to check (column -> Klaviyo's value; datetimes compared as instants). */
export type ExpectedRows = Map<string, Record<string, unknown>>;

export interface RunOutput {
  code: number | null;
  stderr: string;
}

function verdict(outcome: Exclude<Outcome, 'broken'>, problems: string[], notes: string[] = []): Verdict {
  return problems.length > 0 ? { outcome: 'broken', problems, notes } : { outcome, problems, notes };
}

// ---------------------------------------------------------------------------------------------
// Values

const DATETIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * A datetime as microseconds since the epoch, whatever its form (`T` or a space, `Z` or an
 * offset, 0 to 9 fraction digits); null when the text is not a datetime. Two forms of one
 * instant compare equal; a value cut to milliseconds does not equal Klaviyo's microseconds.
 */
export function instantMicros(text: string): bigint | null {
  const m = DATETIME.exec(text.trim());
  if (!m) return null;
  const [, date, time, fraction = '', zone] = m;
  const offset = zone === undefined || zone === 'Z' ? 'Z' : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  const ms = Date.parse(`${date}T${time!.length === 5 ? `${time}:00` : time}${offset}`);
  if (Number.isNaN(ms)) return null;
  return BigInt(ms) * 1000n + BigInt(Number((fraction + '000000').slice(0, 6)));
}

/** Whether a stored or written value is Klaviyo's: datetimes as instants, booleans as 1/0 or true/false. */
export function sameValue(actual: unknown, expected: unknown): boolean {
  if (expected === null || expected === undefined) return actual === null || actual === undefined || actual === '';
  if (typeof expected === 'boolean') return actual === expected || actual === (expected ? 1 : 0) || actual === String(expected);
  if (typeof expected === 'string') {
    const e = instantMicros(expected);
    if (e !== null) return typeof actual === 'string' && instantMicros(actual) === e;
  }
  return String(actual) === String(expected);
}

const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
const sample = (items: readonly string[], n = 3) => `${items.slice(0, n).join(', ')}${items.length > n ? `, ... (${items.length} in all)` : ''}`;

/** The differences between rows (key -> row) and the expected records: missing, invented, wrong values. */
export function compareRows(actual: Map<string, Record<string, unknown>>, expected: ExpectedRows, what: string): string[] {
  const problems: string[] = [];
  const missing = [...expected.keys()].filter((k) => !actual.has(k));
  const invented = [...actual.keys()].filter((k) => !expected.has(k));
  if (missing.length > 0) problems.push(`${missing.length} ${what} missing: ${sample(missing)}`);
  if (invented.length > 0) problems.push(`${invented.length} ${what} that Klaviyo does not have: ${sample(invented)}`);
  const wrong: string[] = [];
  for (const [key, values] of expected) {
    const row = actual.get(key);
    if (!row) continue;
    for (const [column, value] of Object.entries(values)) {
      if (!sameValue(row[column], value)) wrong.push(`${key}.${column} is ${show(row[column])}, Klaviyo has ${show(value)}`);
    }
  }
  if (wrong.length > 0) problems.push(`${wrong.length} values of ${what} differ from Klaviyo's: ${sample(wrong, 2)}`);
  return problems;
}

/** `cause` null: a behaviour klv must absorb, whose failure is judged by the case's expectation. */
function causeProblem(text: string, cause: RegExp | null): string[] {
  if (cause === null || cause.test(text)) return [];
  return [`the failure does not name its cause (expected ${cause}); klv said:\n${text.trim().slice(-1200)}`];
}

// ---------------------------------------------------------------------------------------------
// export -o FILE

export interface ExportObservation extends RunOutput {
  /** The file before the run, and after it (null: absent). */
  previous: Buffer;
  written: Buffer | null;
  /** The column that identifies a row. */
  key: string;
  expected: ExpectedRows;
  cause: RegExp | null;
}

export function exportVerdict(o: ExportObservation): Verdict {
  if (o.code === 0) {
    if (!o.written) return verdict('complete', ['exit 0 but the output file is absent']);
    const records = parse(o.written, { columns: true, skip_empty_lines: true, bom: true }) as Array<Record<string, string>>;
    const rows = new Map<string, Record<string, unknown>>();
    const duplicates: string[] = [];
    for (const r of records) {
      const id = r[o.key] ?? '';
      if (rows.has(id)) duplicates.push(id);
      rows.set(id, r);
    }
    const problems = compareRows(rows, o.expected, 'rows');
    if (duplicates.length > 0) problems.unshift(`${duplicates.length} rows written more than once: ${sample(duplicates)}`);
    return verdict('complete', problems.map((p) => `exit 0 with ${p}`));
  }
  if (o.code === 1) {
    const problems = causeProblem(o.stderr, o.cause);
    if (!o.written) problems.push('exit 1 and the previous output file is gone');
    else if (!o.written.equals(o.previous)) problems.push(`exit 1 and the previous output file was changed (${o.previous.length} bytes before, ${o.written.length} after)`);
    return verdict('failed-loudly', problems);
  }
  return verdict('failed-loudly', [`exit ${o.code} (expected 0, or 1 with the file untouched)\n${o.stderr.trim().slice(-800)}`]);
}

// ---------------------------------------------------------------------------------------------
// replicate --to sqlite:FILE

export const DELETED_AT = '_klv_deleted_at';

export interface TableSnapshot {
  /** key -> every column of the row. */
  rows: Map<string, Record<string, unknown>>;
  /** The object's _klv_state row, or null. */
  state: Record<string, unknown> | null;
}

export interface ReplicatedTable {
  object: string;
  before: TableSnapshot;
  after: TableSnapshot;
  /** Klaviyo's records of the object when the run started (keys, values to check). */
  expected: ExpectedRows;
}

export interface ReplicateObservation extends RunOutput {
  tables: ReplicatedTable[];
  cause: RegExp | null;
}

const live = (s: TableSnapshot) => new Map([...s.rows].filter(([, r]) => r[DELETED_AT] === null || r[DELETED_AT] === undefined));
const sameRow = (a: Record<string, unknown>, b: Record<string, unknown>) => JSON.stringify(a) === JSON.stringify(b);

/** Problems with a table the run says it completed: the live rows are Klaviyo's, the rest marked deleted. */
function completeTableProblems(t: ReplicatedTable): string[] {
  const problems = compareRows(live(t.after), t.expected, `live ${t.object} rows`);
  // A row of the replica that Klaviyo no longer has is marked, never removed without a trace.
  const gone = [...t.before.rows.keys()].filter((k) => !t.expected.has(k) && !t.after.rows.has(k));
  if (gone.length > 0) problems.push(`${gone.length} ${t.object} rows removed instead of marked deleted: ${sample(gone)}`);
  if (!t.after.state) problems.push(`${t.object} has no _klv_state row`);
  return problems;
}

/**
 * Problems with a table the run left alone. The cursor (_klv_state) and every deletion mark are
 * as before; a row may differ only by having been refreshed with Klaviyo's own current values
 * (replicate commits rows in batches of 500 as it reads, so a read that fails later leaves the
 * batches before it: true rows, the cursor unmoved, and the next run reads the window again).
 */
function untouchedTableProblems(t: ReplicatedTable, notes: string[]): string[] {
  const problems: string[] = [];
  if (!sameRow(t.before.state ?? {}, t.after.state ?? {})) {
    problems.push(`${t.object}'s _klv_state changed: ${show(t.before.state)} -> ${show(t.after.state)}`);
  }
  let refreshed = 0;
  const wrong: string[] = [];
  for (const [key, before] of t.before.rows) {
    const after = t.after.rows.get(key);
    if (!after) wrong.push(`${key} removed`);
    else if (after[DELETED_AT] !== before[DELETED_AT]) wrong.push(`${key} ${DELETED_AT} ${show(before[DELETED_AT])} -> ${show(after[DELETED_AT])}`);
    else if (!sameRow(before, after)) {
      if (t.expected.has(key) && compareRows(new Map([[key, after]]), new Map([[key, t.expected.get(key)!]]), 'row').length === 0) refreshed += 1;
      else wrong.push(`${key} changed to values Klaviyo does not have`);
    }
  }
  for (const [key, after] of t.after.rows) {
    if (t.before.rows.has(key)) continue;
    if (t.expected.has(key) && after[DELETED_AT] == null) refreshed += 1;
    else wrong.push(`${key} added though Klaviyo does not have it`);
  }
  if (wrong.length > 0) problems.push(`${wrong.length} ${t.object} rows touched: ${sample(wrong)}`);
  if (refreshed > 0 && problems.length === 0) notes.push(`${t.object}: ${refreshed} rows refreshed with Klaviyo's values before the read failed (cursor unmoved)`);
  return problems;
}

export function replicateVerdict(o: ReplicateObservation): Verdict {
  const problems: string[] = [];
  const notes: string[] = [];
  if (o.code !== 1) {
    // 0, or another code of a run that went to its end (3: a sweep refused): every table complete.
    if (o.code !== 0) problems.push(`exit ${o.code} (expected 0, or 1 with the failed objects untouched)\n${o.stderr.trim().slice(-800)}`);
    for (const t of o.tables) problems.push(...completeTableProblems(t).map((p) => `exit ${o.code} with ${p}`));
    return verdict('complete', problems, notes);
  }
  problems.push(...causeProblem(o.stderr, o.cause));
  let untouched = 0;
  for (const t of o.tables) {
    const asComplete = completeTableProblems(t);
    const stateMoved = !sameRow(t.before.state ?? {}, t.after.state ?? {});
    if (stateMoved && asComplete.length === 0) continue; // this object finished before another failed
    const tableNotes: string[] = [];
    const asUntouched = untouchedTableProblems(t, tableNotes);
    if (asUntouched.length === 0) {
      untouched += 1;
      notes.push(...tableNotes);
    } else {
      problems.push(...(stateMoved ? asComplete : asUntouched).map((p) => `exit 1 with ${p}`));
    }
  }
  if (untouched === 0 && problems.length === 0) notes.push('exit 1 although every object is complete');
  return verdict('failed-loudly', problems, notes);
}

// ---------------------------------------------------------------------------------------------
// sync

export interface SyncSide {
  /** The table's rows (every column), in _klv_row_id order. */
  table: Array<Record<string, unknown>>;
  /** _klv_sync_map and _klv_sync_pending rows. */
  map: Array<Record<string, unknown>>;
  pending: Array<Record<string, unknown>>;
  /** Klaviyo's records: id -> values under the table's column names. */
  klaviyo: ExpectedRows;
}

export interface SyncObservation extends RunOutput {
  before: SyncSide;
  after: SyncSide;
  /** Klaviyo's records a complete run leaves, by id (values under the table's column names). */
  expectedKlaviyo: ExpectedRows;
  /** Names of the records the run must create in Klaviyo (the table's rows without an Id), each once. */
  created: string[];
  /** Columns whose values the table and Klaviyo must agree on. */
  columns: string[];
  /** Under a datetime quirk, Klaviyo's datetimes as it renders them after the run (by id, column -> value). */
  rendered: ExpectedRows | null;
  cause: RegExp | null;
}

export function syncVerdict(o: SyncObservation): Verdict {
  if (o.code === 0) {
    const problems: string[] = [];
    // Klaviyo: what was expected, plus exactly one new record per row created in the table.
    const extra = new Map([...o.after.klaviyo].filter(([id]) => !o.expectedKlaviyo.has(id)));
    const kept = new Map([...o.after.klaviyo].filter(([id]) => o.expectedKlaviyo.has(id)));
    problems.push(...compareRows(kept, o.expectedKlaviyo, 'Klaviyo records'));
    const names = [...extra.values()].map((r) => String(r.Name)).sort();
    if (JSON.stringify(names) !== JSON.stringify([...o.created].sort())) {
      problems.push(`Klaviyo's new records are ${show(names)}, expected exactly ${show([...o.created].sort())}`);
    }
    // The table: one row per Klaviyo record, with its values.
    const rows = new Map<string, Record<string, unknown>>();
    const duplicates: string[] = [];
    const withoutId = o.after.table.filter((r) => r.Id === null || r.Id === '');
    for (const r of o.after.table.filter((r) => !withoutId.includes(r))) {
      if (rows.has(String(r.Id))) duplicates.push(String(r.Id));
      rows.set(String(r.Id), r);
    }
    const expectedRows: ExpectedRows = new Map(
      [...o.after.klaviyo].map(([id, v]) => {
        const truth = { ...v, ...o.rendered?.get(id) };
        return [id, Object.fromEntries(o.columns.map((c) => [c, truth[c]]))];
      }),
    );
    problems.push(...compareRows(rows, expectedRows, 'table rows'));
    if (withoutId.length > 0) problems.push(`${withoutId.length} table rows still without an Id`);
    if (duplicates.length > 0) problems.push(`${duplicates.length} Klaviyo ids in more than one row: ${sample(duplicates)}`);
    if (o.after.pending.length > 0) problems.push(`${o.after.pending.length} creates still pending`);
    return verdict('complete', problems.map((p) => `exit 0 with ${p}`));
  }
  if (o.code !== 1) return verdict('failed-loudly', [`exit ${o.code} (expected 0, or 1 with both sides untouched)\n${o.stderr.trim().slice(-800)}`]);
  const problems = causeProblem(o.stderr, o.cause);
  if (JSON.stringify(o.before.table) !== JSON.stringify(o.after.table)) problems.push('exit 1 and the table changed');
  if (JSON.stringify(o.before.map) !== JSON.stringify(o.after.map)) problems.push('exit 1 and _klv_sync_map changed');
  if (JSON.stringify(o.before.pending) !== JSON.stringify(o.after.pending)) problems.push('exit 1 and _klv_sync_pending changed');
  const created = [...o.after.klaviyo.keys()].filter((id) => !o.before.klaviyo.has(id));
  const deleted = [...o.before.klaviyo.keys()].filter((id) => !o.after.klaviyo.has(id));
  if (created.length > 0) problems.push(`exit 1 and ${created.length} Klaviyo records created: ${sample(created)}`);
  if (deleted.length > 0) problems.push(`exit 1 and ${deleted.length} Klaviyo records deleted: ${sample(deleted)}`);
  const changed = [...o.before.klaviyo].filter(([id, v]) => o.after.klaviyo.has(id) && !sameRow(v, o.after.klaviyo.get(id)!)).map(([id]) => id);
  if (changed.length > 0) problems.push(`exit 1 and ${changed.length} Klaviyo records changed: ${sample(changed)}`);
  return verdict('failed-loudly', problems);
}

// ---------------------------------------------------------------------------------------------
// import

export interface ImportObservation extends RunOutput {
  /** The input rows, in order (row n is input[n - 1]). */
  input: Array<Record<string, string>>;
  success: Array<Record<string, string>>;
  errors: Array<Record<string, string>>;
  /** Klaviyo's records of the object before and after the run: id -> values under the input's column names. */
  klaviyoBefore: ExpectedRows;
  klaviyoAfter: ExpectedRows;
  /** The input column that identifies a record in Klaviyo (Email, Name). */
  identity: string;
  /** Creates that are not safe to repeat: a row whose outcome klv could not know is `unknown_outcome`. */
  createOnly: boolean;
  cause: RegExp | null;
  /** The ErrorCodes that name the cause (null: any); a row logged with another one misleads whoever reads the log. */
  errorCodes: string[] | null;
}

const UNKNOWN_OUTCOME = 'unknown_outcome';
const norm = (v: unknown) => String(v ?? '').toLowerCase();

/**
 * Whether klv stopped the import part-way (an error every later row would meet: an HTML page,
 * an edge block, a hold longer than klv waits) and said that the rest of the file was not sent
 * and how to continue: `--resume`, which sends the rows no log holds.
 */
export function importStopped(o: RunOutput): boolean {
  return o.code === 1 && /Import stopped/.test(o.stderr) && /--resume/.test(o.stderr);
}

export function importVerdict(o: ImportObservation): Verdict {
  const problems: string[] = [];
  const stopped = importStopped(o);
  // Every input row in exactly one log; when klv stopped, a row in neither was not sent at all.
  const logged = new Map<number, string[]>();
  for (const [log, rows] of [['success', o.success], ['error', o.errors]] as const) {
    for (const r of rows) logged.set(Number(r.Row), [...(logged.get(Number(r.Row)) ?? []), log]);
  }
  const missing = o.input.map((_, i) => i + 1).filter((n) => !logged.has(n));
  const twice = [...logged].filter(([, logs]) => logs.length > 1).map(([n, logs]) => `row ${n} (${logs.join(', ')})`);
  const strange = [...logged.keys()].filter((n) => !(n >= 1 && n <= o.input.length));
  if (missing.length > 0 && !stopped) problems.push(`${missing.length} input rows in neither log: rows ${sample(missing.map(String))}`);
  if (twice.length > 0) problems.push(`${twice.length} rows logged more than once: ${sample(twice)}`);
  if (strange.length > 0) problems.push(`log rows that are not input rows: ${sample(strange.map(String))}`);
  // Every success is real: its record exists, with the row's values.
  const fields = Object.keys(o.input[0] ?? {});
  const differs = (record: Record<string, unknown>, row: Record<string, string>) => fields.some((f) => norm(record[f]) !== norm(row[f]));
  for (const r of o.success) {
    if (!r.Id) {
      problems.push(`row ${r.Row} logged ${r.Status} without an Id`);
      continue;
    }
    const record = o.klaviyoAfter.get(r.Id);
    const row = o.input[Number(r.Row) - 1];
    if (!record) problems.push(`row ${r.Row} logged ${r.Status} as ${r.Id}, which Klaviyo does not have`);
    else if (row && differs(record, row)) problems.push(`row ${r.Row} logged ${r.Status} as ${r.Id}, whose values in Klaviyo are not the row's: ${show(record)}`);
  }
  // Nothing invented: each new record is an input row's, once; creates refused for sure made nothing.
  const identities = new Set(o.input.map((r) => norm(r[o.identity])));
  const created = [...o.klaviyoAfter].filter(([id]) => !o.klaviyoBefore.has(id)).map(([id, v]) => ({ id, identity: norm(v[o.identity]) }));
  const stray = created.filter((c) => !identities.has(c.identity));
  if (stray.length > 0) problems.push(`${stray.length} records in Klaviyo that no input row asked for: ${sample(stray.map((c) => c.id))}`);
  const counts = new Map<string, number>();
  for (const c of created) counts.set(c.identity, (counts.get(c.identity) ?? 0) + 1);
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([identity, n]) => `${identity} x${n}`);
  if (duplicated.length > 0) problems.push(`${duplicated.length} rows created more than once: ${sample(duplicated)}`);
  const made = new Set(created.map((c) => c.identity));
  if (o.createOnly) {
    const refusedYetMade = o.errors.filter((r) => r.ErrorCode !== UNKNOWN_OUTCOME && made.has(norm(r[o.identity])));
    if (refusedYetMade.length > 0) problems.push(`${refusedYetMade.length} rows logged as refused (not ${UNKNOWN_OUTCOME}) were created: rows ${sample(refusedYetMade.map((r) => r.Row))}`);
  }
  if (stopped) {
    // The rows no log holds were not sent: no record made from them, no record changed by them.
    const before = new Map([...o.klaviyoBefore].map(([id, v]) => [norm(v[o.identity]), id]));
    const sent = missing.filter((n) => {
      const row = o.input[n - 1]!;
      const id = before.get(norm(row[o.identity]));
      return made.has(norm(row[o.identity])) || (id !== undefined && !sameRow(o.klaviyoBefore.get(id)!, o.klaviyoAfter.get(id) ?? {}));
    });
    if (sent.length > 0) problems.push(`${sent.length} rows in neither log reached Klaviyo anyway: rows ${sample(sent.map(String))}`);
  }
  // The exit code and the message tell the truth.
  if (o.errors.length === 0 && missing.length === 0) {
    if (o.code !== 0) problems.push(`exit ${o.code} although every row succeeded\n${o.stderr.trim().slice(-800)}`);
    return verdict('complete', problems);
  }
  if (o.code === 0) problems.push(`exit 0 with ${o.errors.length} rows in the error log and ${missing.length} in neither`);
  else if (o.code !== 1 && o.code !== 3) problems.push(`exit ${o.code} (expected 3, or 1 for an import that stopped)`);
  problems.push(...causeProblem([o.stderr, ...o.errors.map((r) => r.ErrorMessage ?? '')].join('\n'), o.cause));
  const misnamed = o.errorCodes ? o.errors.filter((r) => !o.errorCodes!.includes(r.ErrorCode ?? '')) : [];
  if (misnamed.length > 0) {
    problems.push(`${misnamed.length} rows logged with ErrorCode ${show([...new Set(misnamed.map((r) => r.ErrorCode))])}, which does not name the cause (expected ${o.errorCodes!.join(' or ')})`);
  }
  return verdict('failed-loudly', problems);
}
