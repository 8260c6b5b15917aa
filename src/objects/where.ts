/**
 * `--where "Column op value"`: one condition per flag, AND-ed. Parsed here into a typed
 * Condition on a canonical column, with the value coerced to the column's type, so that a typo
 * or a bad value fails before any request. The values and operators follow the rules SQL
 * conditions follow too (conditions/), so `--where` and `klv query` select the same rows.
 *
 *   Email = 'ann@example.com'        Created >= 2026-01-01        Channel in ('email','sms')
 *   Name contains 'Sale'             Archived = true              Properties.tier = 'gold'
 */
import { UsageError } from '../core/errors.js';
import { requireColumn } from './columns.js';
import { comparison, isTextOperator, textOperatorProblem } from './conditions/operators.js';
import { coerceLiteral, literalText, type Literal } from './conditions/values.js';
import type { ColumnDef, Condition, ObjectDefinition, ScalarValue, WhereOperator } from './types.js';

/** The operators as written: symbols (see comparison()) and words. */
const OPERATORS: Array<[RegExp, (written: string) => WhereOperator]> = [
  [/^(?:!=|<>|>=|<=|==?|>|<)/, (symbol) => comparison(symbol)!],
  [/^in\b/i, () => 'in'],
  [/^contains\b/i, () => 'contains'],
  [/^starts[-_ ]?with\b/i, () => 'starts-with'],
  [/^ends[-_ ]?with\b/i, () => 'ends-with'],
];

const SYNTAX_HINT =
  "Write it as: Column operator value, e.g. \"Email = 'ann@example.com'\", \"Created >= 2026-01-01\", " +
  "\"Channel in ('email','sms')\". Operators: = != > >= < <= in contains starts-with ends-with.";

interface Cursor {
  text: string;
  pos: number;
}

function skipSpace(c: Cursor): void {
  while (c.pos < c.text.length && /\s/.test(c.text[c.pos]!)) c.pos++;
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
    // A backslash escapes a quote or itself (shells make `''` awkward); any other is text, as in
    // SQL: 'C:\temp' is C:\temp.
    const next = c.text[c.pos + 1];
    if (ch === '\\' && (next === "'" || next === '"' || next === '\\')) {
      out += next;
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

/** A value: quoted text (kept as text), bare `null`, or a bare word (typed by the column). */
function readValue(c: Cursor, stopAt: RegExp): Literal {
  skipSpace(c);
  const ch = c.text[c.pos];
  if (ch === "'" || ch === '"') return { kind: 'text', text: readQuoted(c) };
  const start = c.pos;
  while (c.pos < c.text.length && !stopAt.test(c.text[c.pos]!)) c.pos++;
  const text = c.text.slice(start, c.pos).trim();
  if (text === '') fail(c, 'a value is missing');
  return /^null$/i.test(text) ? { kind: 'null' } : { kind: 'word', text };
}

function coerce(literal: Literal, column: ColumnDef, op: WhereOperator, source: string): ScalarValue {
  const bad = (problem: string): never => {
    throw new UsageError(`--where "${source}": ${problem}.`, SYNTAX_HINT);
  };
  if (literal.kind === 'null') {
    if (op !== '=' && op !== '!=') bad('null can only be compared with = or !=');
    return null;
  }
  if (isTextOperator(op)) {
    const problem = textOperatorProblem(op, column);
    if (problem) bad(problem);
    // Matched as text, whatever the column's values look like (contains 4 finds '1.45').
    return literalText(literal);
  }
  const coerced = coerceLiteral(literal, column);
  return 'value' in coerced ? coerced.value : bad(coerced.problem);
}

export function parseWhere(text: string, def: ObjectDefinition): Condition {
  const c: Cursor = { text, pos: 0 };
  skipSpace(c);
  const start = c.pos;
  let columnName: string;
  if (c.text[c.pos] === '"' || c.text[c.pos] === '`') {
    columnName = readQuoted(c);
  } else {
    while (c.pos < c.text.length && /[A-Za-z0-9_.$:]/.test(c.text[c.pos]!)) c.pos++;
    columnName = c.text.slice(start, c.pos);
  }
  if (!columnName) fail(c, 'it should start with a column name');
  const column = requireColumn(def, columnName);
  skipSpace(c);
  const rest = c.text.slice(c.pos);
  const found = OPERATORS.map(([re, op]) => [re.exec(rest), op] as const).find(([m]) => m !== null);
  if (!found) fail(c, 'an operator is missing or unknown');
  const written = found[0]![0];
  const op = found[1](written);
  c.pos += written.length;
  let value: ScalarValue | ScalarValue[];
  if (op === 'in') {
    skipSpace(c);
    if (c.text[c.pos] !== '(') fail(c, "'in' takes a list in parentheses, e.g. in ('a','b')");
    c.pos++;
    const values: ScalarValue[] = [];
    for (;;) {
      // In --where, null means "no value": `in (null, 'a')` is absent or 'a'.
      values.push(coerce(readValue(c, /[,)]/), column, '=', text));
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
    value = coerce(readValue(c, /$^/), column, op, text);
  }
  skipSpace(c);
  if (c.pos < c.text.length) fail(c, `unexpected text '${c.text.slice(c.pos)}' (one condition per --where; repeat the flag to AND them)`);
  return { column: column.name, op, value };
}
