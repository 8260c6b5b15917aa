/**
 * Datetimes in `klv query`'s SQLite, where comparisons and ORDER BY work on text.
 *
 * The export's spelling has a varying width (`...45Z`, `...45.276Z`, `...45.276362Z`), and as
 * text `45.276362Z` sorts before `45Z` ('.' < 'Z') and `45.276Z` after `45.276`: order and
 * comparisons within a second came out wrong. So in SQLite a datetime is UTC text of a fixed
 * width, nine fraction digits (`2024-05-13T08:01:45.276362000Z`: every digit Klaviyo sends,
 * nanoseconds included), which sorts and compares as time; SQLite's date functions read it too.
 *
 * - A string literal compared with a datetime column (=, <>, <, <=, >, >=, IN, BETWEEN) is
 *   rewritten to the same form, so `Created >= '2024-05-13T08:01:45Z'` or `'2024-05-13 08:01:45'`
 *   means that instant (a date alone: midnight UTC, as --where and push-down read it).
 * - On the way out, a value of that form becomes the export's spelling again (UTC, the fraction
 *   in milliseconds or microseconds as needed, none when zero), also for expressions such as
 *   MAX(Created) whose column type SQLite does not report.
 */
import { formatInstant, instantOf, parseDatetime, parseInstant } from '../core/timestamps.js';
import { comparison } from '../objects/conditions/operators.js';
import { isBinary, isExprList, isNode, operatorOf } from './sql-ast.js';

const DIGITS = 9;
const STORED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;

/** A datetime column's value as SQLite stores it; a date alone and text that is no datetime as they are. */
export function sqliteDatetime(value: string | Date): string {
  if (typeof value === 'string') {
    const parsed = parseDatetime(value);
    return parsed?.kind === 'instant' ? formatInstant(parsed.instant, { digits: DIGITS }) : value;
  }
  const instant = instantOf(value);
  return instant ? formatInstant(instant, { digits: DIGITS }) : String(value);
}

/** A stored datetime back in the export's spelling; anything else unchanged. */
export function outputDatetime(value: unknown): unknown {
  if (typeof value !== 'string' || !STORED.test(value)) return value;
  const instant = parseInstant(value);
  return instant ? formatInstant(instant, { digits: 'groups' }) : value;
}

/** Comparisons whose other side is compared as a datetime: the condition symbols, and IS [NOT]. */
const isComparison = (op: string) => comparison(op) !== undefined || op === 'IS' || op === 'IS NOT';
const LISTS = new Set(['IN', 'NOT IN', 'BETWEEN', 'NOT BETWEEN']);

function rewriteLiteral(node: unknown): void {
  if (!isNode(node) || (node.type !== 'single_quote_string' && node.type !== 'string') || typeof node.value !== 'string') return;
  const instant = parseInstant(node.value, { dateAsMidnight: true });
  if (instant) node.value = formatInstant(instant, { digits: DIGITS });
}

/**
 * Rewrites, in place, the string literals compared with a datetime column anywhere in the
 * statement. `isDatetimeColumn` says which column_ref nodes the analysis resolved to one.
 */
export function rewriteDatetimeLiterals(node: unknown, isDatetimeColumn: (ref: unknown) => boolean): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const n of node) rewriteDatetimeLiterals(n, isDatetimeColumn);
    return;
  }
  if (isBinary(node)) {
    const op = operatorOf(node);
    if (isComparison(op)) {
      if (isDatetimeColumn(node.left)) rewriteLiteral(node.right);
      if (isDatetimeColumn(node.right)) rewriteLiteral(node.left);
    } else if (LISTS.has(op) && isDatetimeColumn(node.left) && isExprList(node.right)) {
      for (const item of node.right.value) rewriteLiteral(item);
    }
  }
  for (const [k, v] of Object.entries(node)) {
    if (k === 'tableList' || k === 'columnList') continue;
    rewriteDatetimeLiterals(v, isDatetimeColumn);
  }
}
