/**
 * `--where "Column op value"`: one condition per flag, AND-ed. Parsed here into a typed
 * Condition on a canonical column, with the value coerced to the column's type, so that a typo
 * or a bad value fails before any request.
 *
 *   Email = 'ann@example.com'        Created >= 2026-01-01        Channel in ('email','sms')
 *   Name contains 'Sale'             Archived = true              Properties.tier = 'gold'
 */
import { UsageError } from '../core/errors.js';
import { formatInstant, parseInstant } from '../core/timestamps.js';
import { requireColumn } from './columns.js';
import type { ColumnDef, Condition, ObjectDefinition, ScalarValue, WhereOperator } from './types.js';

const OPERATORS: Array<[RegExp, WhereOperator]> = [
  [/^(?:!=|<>)/, '!='],
  [/^>=/, '>='],
  [/^<=/, '<='],
  [/^==?/, '='],
  [/^>/, '>'],
  [/^</, '<'],
  [/^in\b/i, 'in'],
  [/^contains\b/i, 'contains'],
  [/^starts[-_ ]?with\b/i, 'starts-with'],
  [/^ends[-_ ]?with\b/i, 'ends-with'],
];

const SYNTAX_HINT =
  "Write it as: Column operator value, e.g. \"Email = 'ann@example.com'\", \"Created >= 2026-01-01\", " +
  "\"Channel in ('email','sms')\". Operators: = != > >= < <= in contains starts-with ends-with.";

interface Cursor {
  text: string;
  pos: number;
}

function skipSpace(c: Cursor): void {
  while (c.pos < c.text.length && /\s/.test(c.text[c.pos])) c.pos++;
}

function fail(c: Cursor, message: string): never {
  throw new UsageError(`Cannot read --where "${c.text}": ${message} (at character ${c.pos + 1}).`, SYNTAX_HINT);
}

function readQuoted(c: Cursor): string {
  const quote = c.text[c.pos];
  let out = '';
  c.pos++;
  while (c.pos < c.text.length) {
    const ch = c.text[c.pos];
    if (ch === '\\' && c.pos + 1 < c.text.length) {
      out += c.text[c.pos + 1];
      c.pos += 2;
      continue;
    }
    if (ch === quote) {
      // SQL style: a doubled quote stands for one.
      if (c.text[c.pos + 1] === quote) {
        out += quote;
        c.pos += 2;
        continue;
      }
      c.pos++;
      return out;
    }
    out += ch;
    c.pos++;
  }
  fail(c, `the ${quote} quote is not closed`);
}

/** A raw value token: quoted text (kept as text) or a bare word (typed later). */
interface RawValue {
  text: string;
  quoted: boolean;
}

function readValue(c: Cursor, stopAt: RegExp): RawValue {
  skipSpace(c);
  const ch = c.text[c.pos];
  if (ch === "'" || ch === '"') return { text: readQuoted(c), quoted: true };
  const start = c.pos;
  while (c.pos < c.text.length && !stopAt.test(c.text[c.pos])) c.pos++;
  const text = c.text.slice(start, c.pos).trim();
  if (text === '') fail(c, 'a value is missing');
  return { text, quoted: false };
}

function coerce(raw: RawValue, column: ColumnDef, source: string): ScalarValue {
  const bad = (what: string): never => {
    throw new UsageError(`--where "${source}": '${raw.text}' is not ${what} (column ${column.name} is ${column.type}).`, SYNTAX_HINT);
  };
  if (!raw.quoted && /^null$/i.test(raw.text)) return null;
  switch (column.type) {
    case 'integer':
    case 'number': {
      const n = Number(raw.text);
      if (raw.text.trim() === '' || !Number.isFinite(n) || (column.type === 'integer' && !Number.isInteger(n))) {
        bad(column.type === 'integer' ? 'a whole number' : 'a number');
      }
      return n;
    }
    case 'boolean': {
      if (/^(true|yes|1)$/i.test(raw.text)) return true;
      if (/^(false|no|0)$/i.test(raw.text)) return false;
      return bad('true or false');
    }
    case 'datetime': {
      const iso = normalizeDateTime(raw.text);
      if (!iso) bad('a date or date-time (ISO 8601, e.g. 2026-01-31 or 2026-01-31T12:00:00Z)');
      return iso;
    }
    default:
      if (column.enum && !column.enum.includes(raw.text)) {
        const match = column.enum.find((e) => e.toLowerCase() === raw.text.toLowerCase());
        if (match) return match;
        return bad(`one of ${column.enum.join(', ')}`);
      }
      return raw.text;
  }
}

/**
 * ISO 8601 date or date-time to a canonical UTC string, every fraction digit kept (a condition on
 * Klaviyo's microseconds must stay exact); dates are midnight UTC; no zone = UTC. Impossible
 * days (2026-02-30) are refused, not rolled over.
 */
export function normalizeDateTime(text: string): string | null {
  const instant = parseInstant(text, { dateAsMidnight: true });
  return instant ? formatInstant(instant) : null;
}

export function parseWhere(text: string, def: ObjectDefinition): Condition {
  const c: Cursor = { text, pos: 0 };
  skipSpace(c);
  const start = c.pos;
  let columnName: string;
  if (c.text[c.pos] === '"' || c.text[c.pos] === '`') {
    columnName = readQuoted(c);
  } else {
    while (c.pos < c.text.length && /[A-Za-z0-9_.$:]/.test(c.text[c.pos])) c.pos++;
    columnName = c.text.slice(start, c.pos);
  }
  if (!columnName) fail(c, 'it should start with a column name');
  const column = requireColumn(def, columnName);
  skipSpace(c);
  const rest = c.text.slice(c.pos);
  const found = OPERATORS.find(([re]) => re.test(rest));
  if (!found) fail(c, 'an operator is missing or unknown');
  const [re, op] = found;
  c.pos += re.exec(rest)![0].length;
  let value: ScalarValue | ScalarValue[];
  if (op === 'in') {
    skipSpace(c);
    if (c.text[c.pos] !== '(') fail(c, "'in' takes a list in parentheses, e.g. in ('a','b')");
    c.pos++;
    const values: ScalarValue[] = [];
    for (;;) {
      values.push(coerce(readValue(c, /[,)]/), column, text));
      skipSpace(c);
      if (c.text[c.pos] === ',') {
        c.pos++;
        continue;
      }
      if (c.text[c.pos] === ')') {
        c.pos++;
        break;
      }
      fail(c, "the list is not closed with ')'");
    }
    value = values;
  } else {
    value = coerce(readValue(c, /$^/), column, text);
  }
  skipSpace(c);
  if (c.pos < c.text.length) fail(c, `unexpected text '${c.text.slice(c.pos)}' (one condition per --where; repeat the flag to AND them)`);
  if (value === null && op !== '=' && op !== '!=') {
    throw new UsageError(`--where "${text}": null can only be compared with = or !=.`, SYNTAX_HINT);
  }
  if ((op === 'contains' || op === 'starts-with' || op === 'ends-with') && typeof value !== 'string') {
    throw new UsageError(`--where "${text}": ${op} needs a text value.`, SYNTAX_HINT);
  }
  return { column: column.name, op, value };
}
