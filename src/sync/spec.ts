/**
 * What `klv sync` keeps equal between Klaviyo and a table, and the pure parts of deciding what
 * moves where: value normalisation, row hashes, and the per-column three-way merge.
 *
 * Change tracking on the database side is by ROW HASHES against the last synchronized snapshot
 * (kept in `_klv_sync_map.base`), not triggers: the same SQL works on SQLite, PostgreSQL and
 * MySQL, needs no privileges beyond reading and writing the table, and cannot be bypassed by a
 * bulk load or a restored backup that would skip triggers. The cost is one full read of the table
 * per run, which is small for campaigns, templates and lists (thousands of rows at most).
 */
import { canonicalJson } from '../core/json.js';
import { createHash } from 'node:crypto';
import { UsageError } from '../core/errors.js';
import { compareInstants, instantKey, instantOf, storageInstant } from '../core/timestamps.js';
import type { ColumnDef, ObjectDefinition } from '../objects/types.js';

export type ConflictPolicy = 'klaviyo-wins' | 'db-wins' | 'newest';
export const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['klaviyo-wins', 'db-wins', 'newest'];

export interface SyncSpec {
  def: ObjectDefinition;
  /** Columns synchronized both ways. */
  sync: ColumnDef[];
  /** Columns set from Klaviyo only, and sent on insert (EditorType, Channel: fixed after creation). */
  insertOnly: ColumnDef[];
  /** Read-only columns copied from Klaviyo for information (Status, Updated). */
  info: ColumnDef[];
  /** Klaviyo's update timestamp column. */
  updated: string;
  /** Klaviyo's creation timestamp column: finds the record a create interrupted before its Id came back (recovery.ts). */
  created: string;
}

/**
 * Per object, the columns that round-trip losslessly through Klaviyo's write endpoints. Left out:
 * Campaigns.TemplateId (Klaviyo assigns a copy of the template, with a new id, so it would never
 * read back equal), Body (sms/push), SendStrategy/SendOptions/TrackingOptions (Klaviyo fills in
 * defaults that read back differently); EmailTemplates.Amp and Definition (on demand).
 */
const COLUMNS: Record<string, { sync: string[]; insertOnly: string[]; info: string[]; created: string }> = {
  Lists: { sync: ['Name', 'OptInProcess'], insertOnly: [], info: ['Updated'], created: 'Created' },
  EmailTemplates: { sync: ['Name', 'Html', 'Text'], insertOnly: ['EditorType'], info: ['Updated'], created: 'Created' },
  Campaigns: {
    sync: ['Name', 'Subject', 'PreviewText', 'FromEmail', 'FromLabel', 'IncludedListIds', 'ExcludedListIds'],
    insertOnly: ['Channel'],
    info: ['Status', 'UpdatedAt'],
    created: 'CreatedAt',
  },
};

export const SYNCABLE_OBJECTS = Object.keys(COLUMNS);

export function syncSpec(def: ObjectDefinition): SyncSpec {
  const cols = COLUMNS[def.name];
  if (!cols || !def.write?.insert || !def.write.update || !def.write.delete || !def.incremental) {
    throw new UsageError(`${def.name} cannot be synchronized.`, `klv sync works with ${SYNCABLE_OBJECTS.join(', ')}.`);
  }
  const pick = (names: string[]) =>
    names.map((n) => {
      const c = def.columns.find((col) => col.name === n);
      if (!c) throw new Error(`${def.name}: column ${n} is not in the catalog`);
      return c;
    });
  pick([cols.created]);
  return { def, sync: pick(cols.sync), insertOnly: pick(cols.insertOnly), info: pick(cols.info), updated: def.incremental.column, created: cols.created };
}

export type Norm = string | number | boolean | null;

/**
 * A datetime's comparable form: its instant to the microsecond (what the table's column holds,
 * so Klaviyo's value and the same value read back from the table are equal), in the one spelling
 * fromSqlValue gives (instantKey). Zoneless text is UTC; a date alone is midnight UTC, as the
 * table stores it. Undefined when the value is no datetime.
 */
function datetimeNorm(value: string | Date): string | undefined {
  const instant = instantOf(value, { dateAsMidnight: true });
  return instant ? instantKey(storageInstant(instant)) : undefined;
}

/**
 * One comparable form per value, whichever side it comes from: '' and null are the same (Klaviyo
 * returns either for an empty field), JSON (objects, arrays, or text holding them) becomes
 * canonical JSON text, datetimes ISO 8601 UTC.
 */
export function normalize(column: ColumnDef, value: unknown): Norm {
  if (value === undefined || value === null || value === '') return null;
  // Sorted keys, nulls dropped: Klaviyo reads back nulls for fields a write leaves out.
  if (typeof value === 'object' && !(value instanceof Date)) return canonicalJson(value, { dropNulls: true });
  if (value instanceof Date) return datetimeNorm(value) ?? String(value);
  if (typeof value === 'string') {
    const s = value;
    if (column.type === 'json' || /^\s*[[{]/.test(s)) {
      try {
        return canonicalJson(JSON.parse(s), { dropNulls: true });
      } catch {
        return s;
      }
    }
    if (column.type === 'datetime') return datetimeNorm(s) ?? s;
    return s;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  return String(value);
}

export type Values = Record<string, Norm>;

export function normalizeRow(columns: ColumnDef[], row: Record<string, unknown>): Values {
  const out: Values = {};
  for (const c of columns) out[c.name] = normalize(c, row[c.name]);
  return out;
}

export function hashValues(values: Values | Record<string, unknown>): string {
  const keys = Object.keys(values).sort();
  return createHash('sha256')
    .update(JSON.stringify(keys.map((k) => [k, values[k] ?? null])))
    .digest('hex')
    .slice(0, 16);
}

export interface ConflictRecord {
  column: string;
  klaviyo: Norm;
  db: Norm;
  base: Norm;
  winner: 'klaviyo' | 'db';
}

export interface MergeResult {
  merged: Values;
  /** Columns whose merged value Klaviyo does not have yet. */
  toKlaviyo: string[];
  /** Columns whose merged value the table does not have yet. */
  toDb: string[];
  conflicts: ConflictRecord[];
}

/**
 * Three-way merge per column against the last synchronized values: a column changed on one side
 * only takes that side's value; changed on both to the same value is no conflict; changed on both
 * to different values follows the policy. `newest` compares Klaviyo's update time with the row's
 * `_klv_modified_at` (when the application sets it); without it the database change counts as the
 * newer one, since it was made at an unknown time after the last sync (Klaviyo's edit time is
 * known, the table's is not).
 * With no base (a record paired for the first time) every differing column is a conflict.
 */
export function mergeRow(
  columns: string[],
  base: Values | null,
  k: Values,
  d: Values,
  policy: ConflictPolicy,
  times: { klaviyo: string | null; db: string | null },
): MergeResult {
  const merged: Values = {};
  const conflicts: ConflictRecord[] = [];
  const newestWinner = (): 'klaviyo' | 'db' => {
    if (!times.db) return 'db';
    if (!times.klaviyo) return 'db';
    // Exact comparison: two edits in the same millisecond are still ordered by their microseconds.
    const k = instantOf(times.klaviyo);
    const d = instantOf(times.db);
    return k && d && compareInstants(k, d) > 0 ? 'klaviyo' : 'db';
  };
  for (const c of columns) {
    const kv = k[c] ?? null;
    const dv = d[c] ?? null;
    if (kv === dv) {
      merged[c] = kv;
      continue;
    }
    const b = base ? (base[c] ?? null) : undefined;
    const kChanged = b === undefined || kv !== b;
    const dChanged = b === undefined || dv !== b;
    if (kChanged && !dChanged) merged[c] = kv;
    else if (dChanged && !kChanged) merged[c] = dv;
    else {
      const winner = policy === 'klaviyo-wins' ? 'klaviyo' : policy === 'db-wins' ? 'db' : newestWinner();
      merged[c] = winner === 'klaviyo' ? kv : dv;
      conflicts.push({ column: c, klaviyo: kv, db: dv, base: b ?? null, winner });
    }
  }
  return {
    merged,
    toKlaviyo: columns.filter((c) => merged[c] !== (k[c] ?? null)),
    toDb: columns.filter((c) => merged[c] !== (d[c] ?? null)),
    conflicts,
  };
}
