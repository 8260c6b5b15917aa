/**
 * Cell values: how a row's values are written in each format. Pure functions.
 *
 * - Datetimes become ISO 8601 in UTC with a `Z` (`2026-07-15T10:00:00Z`): Klaviyo answers with
 *   offsets (`+00:00`) and sometimes fractions; one spelling lets spreadsheets and databases
 *   compare them as text. Fractions are kept only when they are not zero.
 * - Booleans are `true`/`false`, null and absent values an empty cell (CSV) or `null` (JSON).
 * - Objects and arrays: compact JSON in a CSV cell; native in JSON and NDJSON, as are numbers
 *   and booleans, so that a JSON reader gets the types back.
 * - `--safe-csv` defuses spreadsheet formulas (CSV injection): a text cell that begins with
 *   `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`. Real numbers are left
 *   alone (a spreadsheet reads `-5` as a number, not a formula), everything else is text.
 */
import type { ColumnDef, ColumnType } from '../../objects/types.js';

/** The part of a column the formatting needs (Properties.<name> columns carry only these). */
export type ValueColumn = Pick<ColumnDef, 'name' | 'type'>;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const ISO_LIKE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;

/** `2026-07-15T10:00:00+00:00` -> `2026-07-15T10:00:00Z`; a date alone or an unparseable text is kept as it is. */
export function normalizeDatetime(value: string | Date | number): string {
  if (value instanceof Date) return isoUtc(value) ?? String(value);
  if (typeof value === 'number') return isoUtc(new Date(value)) ?? String(value);
  const text = value.trim();
  // A date without a time is a calendar date, not midnight UTC: do not invent a time.
  if (DATE_ONLY.test(text) || !ISO_LIKE.test(text)) return value;
  // No zone means UTC for Klaviyo (and never the machine's zone).
  const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text}Z`;
  return isoUtc(new Date(zoned.replace(' ', 'T'))) ?? value;
}

function isoUtc(date: Date): string | undefined {
  const ms = date.getTime();
  if (Number.isNaN(ms)) return undefined;
  const iso = date.toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

function isDatetimeType(type: ColumnType): boolean {
  return type === 'datetime';
}

/** The value as JSON and NDJSON carry it: native types, datetimes normalized, null for absent. */
export function jsonValue(value: unknown, column: ValueColumn): unknown {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return normalizeDatetime(value);
  if (isDatetimeType(column.type) && typeof value === 'string') return normalizeDatetime(value);
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
  else if (value instanceof Date) text = normalizeDatetime(value);
  else if (typeof value === 'string') text = isDatetimeType(column.type) ? normalizeDatetime(value) : value;
  else if (typeof value === 'bigint') text = value.toString();
  else text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? '';
  return options.safe ? defuseFormula(text) : text;
}

/** `=1+1` -> `'=1+1`: spreadsheets show the text instead of running it. */
export function defuseFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}
