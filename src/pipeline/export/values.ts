/**
 * Cell values: how a row's values are written in each format. Pure functions.
 *
 * - Datetimes become ISO 8601 in UTC with a `Z` (`2026-07-15T10:00:00Z`): Klaviyo answers with
 *   offsets (`+00:00`) and sometimes fractions; one spelling lets spreadsheets and databases
 *   compare them as text. Fractions keep every digit Klaviyo sent (microseconds), and are
 *   dropped only when they are all zeros.
 * - Booleans are `true`/`false`, null and absent values an empty cell (CSV) or `null` (JSON).
 * - Objects and arrays: compact JSON in a CSV cell; native in JSON and NDJSON, as are numbers
 *   and booleans, so that a JSON reader gets the types back.
 * - `--safe-csv` defuses spreadsheet formulas (CSV injection): a text cell that begins with
 *   `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`. Real numbers are left
 *   alone (a spreadsheet reads `-5` as a number, not a formula), everything else is text.
 */
import { formatInstant, instantOf, normalizeDatetimeText } from '../../core/timestamps.js';
import type { ColumnDef, ColumnType } from '../../objects/types.js';

/** The part of a column the formatting needs (Properties.<name> columns carry only these). */
export type ValueColumn = Pick<ColumnDef, 'name' | 'type'>;

/**
 * `2026-07-15T10:00:00+00:00` -> `2026-07-15T10:00:00Z`; `2024-05-13 08:01:45.276362` ->
 * `2024-05-13T08:01:45.276362Z`: every fraction digit Klaviyo sent is kept (core/timestamps.ts).
 * A date alone (a calendar date, not midnight UTC: no time is invented) or an unparseable text
 * is kept as it is.
 */
export function exportDatetimeText(value: string | Date | number): string {
  if (typeof value === 'string') return normalizeDatetimeText(value);
  const instant = instantOf(value);
  return instant ? formatInstant(instant) : String(value);
}

function isDatetimeType(type: ColumnType): boolean {
  return type === 'datetime';
}

/** The value as JSON and NDJSON carry it: native types, datetimes normalized, null for absent. */
export function jsonValue(value: unknown, column: ValueColumn): unknown {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return exportDatetimeText(value);
  if (isDatetimeType(column.type) && typeof value === 'string') return exportDatetimeText(value);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

const FORMULA_START = /^[=+\-@\t\r]/;

/** The text of a CSV cell. */
export function csvCell(value: unknown, column: ValueColumn, options: { safe?: boolean } = {}): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') {
    // A real number cannot carry a formula; NaN and Infinity have no CSV spelling.
    return Number.isFinite(value) ? String(value) : '';
  }
  let text: string;
  if (typeof value === 'boolean') text = value ? 'true' : 'false';
  else if (value instanceof Date) text = exportDatetimeText(value);
  else if (typeof value === 'string') text = isDatetimeType(column.type) ? exportDatetimeText(value) : value;
  else if (typeof value === 'bigint') text = value.toString();
  else text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? '';
  return options.safe ? defuseFormula(text) : text;
}

/** `=1+1` -> `'=1+1`: spreadsheets show the text instead of running it. */
export function defuseFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}
