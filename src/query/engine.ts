/**
 * Runs an analysed SELECT.
 *
 * Simple scans (one object, plain columns, every condition pushed down or checked by the
 * object's planner) stream straight from the read plan to the output: nothing is held.
 *
 * Everything else runs in SQLite (better-sqlite3): a temporary database FILE in the system's
 * temp folder, one table per object the query names (the object's name, its referenced columns
 * under their catalog names), filled by streaming the plan's rows in batched transactions, so
 * memory stays bounded whatever the row count; then the user's SQL (with canonical names) runs
 * there and its rows stream to the output with `.iterate()`. The file is deleted at the end,
 * also on failure or Ctrl-C.
 *
 * Values in SQLite: datetimes as ISO 8601 UTC text of a fixed width (nine fraction digits: it
 * sorts and compares as time; datetimes.ts), given back in the export's spelling; booleans as 1/0
 * (TRUE and FALSE in SQL); JSON as JSON text. LIKE is made case-sensitive, as Klaviyo's filters
 * are, so push-down and SQLite agree.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { quoteIdent, sqlType } from '../db/dialect.js';
import { openScratchSqlite } from '../db/scratch.js';
import type { KlaviyoClient } from '../klaviyo/client.js';
import type { ColumnDef, ColumnType, ObjectDefinition, ReadPlan, ReadRequest, Row } from '../objects/types.js';
import type { ValueColumn } from '../pipeline/export/values.js';
import { outputDatetime, sqliteDatetime } from './datetimes.js';
import type { Analysis } from './analyze.js';
import { toSql } from './parse.js';
import { isPropertyColumnName } from './properties.js';

export const BATCH_ROWS = 2_000;

export interface PlannedTable {
  def: ObjectDefinition;
  request: ReadRequest;
  plan: ReadPlan;
}

/** One read plan per object: the referenced columns, the conditions, LIMIT when it can stop paging. */
export function planTables(analysis: Analysis): PlannedTable[] {
  const out: PlannedTable[] = [];
  for (const use of analysis.tables.values()) {
    let columns = [...use.columns.values()];
    if (analysis.simple && analysis.simple.table === use.def.name) {
      const seen = new Set<string>();
      columns = analysis.simple.output.map((o) => o.column).filter((c) => !seen.has(c.name) && Boolean(seen.add(c.name)));
    }
    // COUNT(*) needs rows, not attributes: the key alone makes the smallest request.
    if (columns.length === 0) columns = [use.def.columns.find((c) => c.name === use.def.key[0]) ?? use.def.columns[0]];
    const properties = columns.filter((c) => c.name.startsWith('Properties.')).map((c) => c.name.slice('Properties.'.length));
    const request: ReadRequest = {
      columns,
      where: use.where,
      limit: analysis.pushLimit,
      options: properties.length > 0 ? { properties } : {},
    };
    out.push({ def: use.def, request, plan: use.def.plan(request) });
  }
  return out;
}

const quote = (name: string) => quoteIdent('sqlite', name);

/**
 * The declared SQLite type. A custom property has no type of its own (a number on one profile,
 * text on the next): declared without one, SQLite keeps each value as it comes, so
 * `Properties.orders > 5` compares numbers and `Properties.tier = 'gold'` text, where a TEXT
 * column would have compared '10' < '5' as text.
 */
function sqliteType(c: ColumnDef): string {
  return isPropertyColumnName(c.name) ? '' : sqlType('sqlite', c.type, false);
}

/** A row value as SQLite stores it. */
export function sqliteValue(value: unknown, col: ColumnDef): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return sqliteDatetime(value);
  if (typeof value === 'bigint' || typeof value === 'number') return value;
  if (typeof value === 'string') return col.type === 'datetime' ? sqliteDatetime(value) : value;
  return JSON.stringify(value);
}

/**
 * A SQLite value back as the export writes it: booleans and JSON regain their types, datetimes
 * their spelling (also from expressions such as MAX(Created), whose type SQLite does not say).
 */
export function outputValue(value: unknown, type: ColumnType | undefined): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'datetime' || type === undefined) return outputDatetime(value);
  if (type === 'boolean' && (value === 0 || value === 1)) return value === 1;
  if (type === 'json' && typeof value === 'string' && /^\s*[[{]/.test(value)) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value;
}

/**
 * Custom property columns whose every value was true or false: SQLite keeps them as 1 and 0, and
 * the output turns them back into booleans, as `klv export --properties` writes them.
 */
class BooleanProperties {
  /** Per property column (by index): what its non-null values were so far. */
  private readonly kinds = new Map<number, 'none' | 'boolean' | 'other'>();
  constructor(private readonly columns: readonly ColumnDef[]) {
    columns.forEach((c, i) => {
      if (isPropertyColumnName(c.name)) this.kinds.set(i, 'none');
    });
  }
  observe(row: Row): void {
    for (const [i, kind] of this.kinds) {
      if (kind === 'other') continue;
      const v = row[this.columns[i].name];
      if (v === null || v === undefined) continue;
      this.kinds.set(i, typeof v === 'boolean' ? 'boolean' : 'other');
    }
  }
  names(): string[] {
    return [...this.kinds].filter(([, kind]) => kind === 'boolean').map(([i]) => this.columns[i].name);
  }
}

async function load(db: BetterSqlite3.Database, t: PlannedTable, client: KlaviyoClient, signal: AbortSignal | undefined, onRows?: (n: number) => void, booleans?: BooleanProperties): Promise<number> {
  const cols = t.request.columns;
  db.exec(`CREATE TABLE ${quote(t.def.name)} (${cols.map((c) => `${quote(c.name)} ${sqliteType(c)}`.trimEnd()).join(', ')})`);
  const insert = db.prepare(`INSERT INTO ${quote(t.def.name)} VALUES (${cols.map(() => '?').join(', ')})`);
  const flush = db.transaction((batch: unknown[][]) => {
    for (const values of batch) insert.run(...values);
  });
  let batch: unknown[][] = [];
  let n = 0;
  for await (const row of t.plan.execute(client, signal)) {
    booleans?.observe(row);
    batch.push(cols.map((c) => sqliteValue(row[c.name], c)));
    n += 1;
    if (batch.length >= BATCH_ROWS) {
      flush(batch);
      batch = [];
      onRows?.(n);
    }
  }
  if (batch.length > 0) flush(batch);
  onRows?.(n);
  return n;
}

export interface QueryResult {
  columns: ValueColumn[];
  rows: AsyncIterable<Row>;
  /** Removes the temporary database; safe to call twice. */
  dispose: () => void;
}

/** Unique output names: `Id`, `Id` -> `Id`, `Id_2` (rows are keyed by name). */
function uniqueNames(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((n) => {
    const k = n.toLowerCase();
    const count = (seen.get(k) ?? 0) + 1;
    seen.set(k, count);
    return count === 1 ? n : `${n}_${count}`;
  });
}

export async function runSelect(analysis: Analysis, tables: PlannedTable[], client: KlaviyoClient, signal?: AbortSignal, onLoaded?: (table: string, rows: number) => void): Promise<QueryResult> {
  if (analysis.simple) {
    const { output, offset, limit } = analysis.simple;
    const plan = tables[0].plan;
    const names = uniqueNames(output.map((o) => o.name));
    const columns = output.map((o, i) => ({ name: names[i], type: o.column.type }));
    async function* rows(): AsyncGenerator<Row> {
      let skipped = 0;
      let sent = 0;
      if (limit === 0) return;
      for await (const row of plan.execute(client, signal)) {
        if (skipped < offset) {
          skipped += 1;
          continue;
        }
        const out: Row = {};
        output.forEach((o, i) => (out[names[i]] = row[o.column.name] ?? null));
        yield out;
        sent += 1;
        if (limit !== undefined && sent >= limit) return;
      }
    }
    return { columns, rows: rows(), dispose: () => {} };
  }

  const { db, dispose } = openScratchSqlite({ caseSensitiveLike: true });
  try {
    const booleanProperties = new Map<string, Set<string>>();
    for (const t of tables) {
      const booleans = new BooleanProperties(t.request.columns);
      const n = await load(db, t, client, signal, undefined, booleans);
      booleanProperties.set(t.def.name, new Set(booleans.names()));
      onLoaded?.(t.def.name, n);
    }
    // Raw mode: each row an array of values in column order.
    const stmt = db.prepare<unknown[], unknown[]>(toSql(analysis.ast));
    stmt.raw(true);
    const meta = stmt.columns();
    const types = meta.map((m): ColumnType | undefined => {
      const t = tables.find((x) => x.def.name === m.table);
      if (m.column !== null && booleanProperties.get(t?.def.name ?? '')?.has(m.column)) return 'boolean';
      return t?.request.columns.find((c) => c.name === m.column)?.type;
    });
    const names = uniqueNames(meta.map((m) => m.name));
    const columns: ValueColumn[] = names.map((name, i) => ({ name, type: types[i] ?? 'string' }));
    async function* rows(): AsyncGenerator<Row> {
      try {
        for (const values of stmt.iterate()) {
          const out: Row = {};
          names.forEach((n, i) => (out[n] = outputValue(values[i], types[i])));
          yield out;
        }
      } finally {
        dispose();
      }
    }
    return { columns, rows: rows(), dispose };
  } catch (err) {
    dispose();
    throw err;
  }
}
