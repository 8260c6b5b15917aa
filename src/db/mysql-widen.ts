/**
 * MySQL/MariaDB replicas and sync tables created before klv kept microseconds have DATETIME(3)
 * columns. Left as they are, they would round Klaviyo's microseconds to milliseconds (MariaDB
 * cuts them), and every run would find each such value changed (the stored value no longer
 * equals the one read from Klaviyo) and rewrite the row. So the datetime columns klv manages are
 * widened to DATETIME(6) once, when a run finds them narrower:
 *
 * - Lossless: every DATETIME(3) value is a DATETIME(6) value; keys and indexes stay (MODIFY keeps
 *   them), and NOT NULL is restated as it was.
 * - One ALTER TABLE for all of a table's columns: MySQL and MariaDB copy the table to change a
 *   column's precision, so one statement copies it once. On a large table (events) that first run
 *   takes longer and holds writes to that table (readers go on); later runs find nothing to do.
 *   Each ALTER is atomic: a run killed during it leaves the table as it was, and the next run
 *   widens it again.
 * - Only columns that look as klv made them (no default, no ON UPDATE, no comment): a column
 *   someone customised is not redefined behind their back (MODIFY would drop what it does not
 *   restate); the run stops, names it, and gives the statement to run by hand.
 *
 * Schema drift otherwise only adds columns (replicate/destinations/sql-destination.ts, sync/store.ts);
 * this is the one retyping klv does.
 */
import { KlvError } from '../core/errors.js';
import { STORAGE_DIGITS } from '../core/timestamps.js';
import type { SqlConnection } from './connection.js';

/** One column as information_schema.COLUMNS describes it. */
export interface MysqlColumnInfo {
  name: string;
  dataType: string;
  /** DATETIME_PRECISION: fraction digits of a datetime column. */
  precision: number | null;
  nullable: boolean;
  /** COLUMN_DEFAULT: null (MySQL) or the text 'NULL' (MariaDB) when there is none. */
  defaultValue: string | null;
  extra: string;
  comment: string;
}

export interface WideningPlan {
  /** Narrow datetime columns klv may widen. */
  widen: MysqlColumnInfo[];
  /** Narrow datetime columns with a definition of someone's own (default, ON UPDATE, comment). */
  customised: MysqlColumnInfo[];
}

const WIDE = `DATETIME(${STORAGE_DIGITS})`;

/** Which of `managed` (SQL column names klv gives a datetime type) are narrower than microseconds. */
export function planWidening(columns: readonly MysqlColumnInfo[], managed: readonly string[]): WideningPlan {
  // MySQL column names are case-insensitive.
  const wanted = new Set(managed.map((n) => n.toLowerCase()));
  const plan: WideningPlan = { widen: [], customised: [] };
  for (const c of columns) {
    if (!wanted.has(c.name.toLowerCase())) continue;
    if (c.dataType.toLowerCase() !== 'datetime' || (c.precision ?? 0) >= STORAGE_DIGITS) continue;
    const ownDefault = c.defaultValue !== null && c.defaultValue.toUpperCase() !== 'NULL';
    if (ownDefault || c.extra.trim() !== '' || c.comment !== '') plan.customised.push(c);
    else plan.widen.push(c);
  }
  return plan;
}

/** `ALTER TABLE t MODIFY COLUMN a DATETIME(6) NULL, MODIFY COLUMN b DATETIME(6) NOT NULL`. */
export function wideningSql(tableRef: string, quote: (name: string) => string, columns: readonly MysqlColumnInfo[]): string {
  return `ALTER TABLE ${tableRef} ${columns.map((c) => `MODIFY COLUMN ${quote(c.name)} ${WIDE} ${c.nullable ? 'NULL' : 'NOT NULL'}`).join(', ')}`;
}

/**
 * Widens the narrow datetime columns of one table; returns the names widened. `table` is the
 * table's SQL name in `schema`, `tableRef` its quoted, qualified reference.
 */
export async function widenDatetimeColumns(
  conn: SqlConnection,
  target: { schema: string | undefined; table: string; tableRef: string; quote: (name: string) => string },
  managed: readonly string[],
): Promise<string[]> {
  const rows = await conn.query(
    'SELECT COLUMN_NAME AS c, DATA_TYPE AS t, DATETIME_PRECISION AS p, IS_NULLABLE AS n, COLUMN_DEFAULT AS d, EXTRA AS x, COLUMN_COMMENT AS m ' +
      'FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?',
    [target.schema ?? null, target.table],
  );
  const columns: MysqlColumnInfo[] = rows.map((r) => ({
    name: String(r.c),
    dataType: String(r.t),
    precision: r.p === null || r.p === undefined ? null : Number(r.p),
    nullable: String(r.n).toUpperCase() === 'YES',
    defaultValue: r.d === null || r.d === undefined ? null : String(r.d),
    extra: String(r.x ?? ''),
    comment: String(r.m ?? ''),
  }));
  const plan = planWidening(columns, managed);
  if (plan.customised.length > 0) {
    const names = plan.customised.map((c) => c.name).join(', ');
    throw new KlvError(
      `Table ${target.table}: ${names} ${plan.customised.length === 1 ? 'is a' : 'are'} DATETIME column${plan.customised.length === 1 ? '' : 's'} of fewer than ${STORAGE_DIGITS} fraction digits with a definition of ${plan.customised.length === 1 ? 'its' : 'their'} own (a default, ON UPDATE or a comment): Klaviyo's microseconds do not fit, and klv does not redefine a column it did not make that way`,
      { hint: `Widen ${plan.customised.length === 1 ? 'it' : 'them'} yourself, keeping what ${plan.customised.length === 1 ? 'it has' : 'they have'}: ALTER TABLE ${target.tableRef} MODIFY COLUMN ... DATETIME(${STORAGE_DIGITS}) ...; then run klv again.` },
    );
  }
  if (plan.widen.length === 0) return [];
  await conn.run(wideningSql(target.tableRef, target.quote, plan.widen));
  return plan.widen.map((c) => c.name);
}
