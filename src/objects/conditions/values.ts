/**
 * The values of conditions, whoever wrote them: a literal as written (by --where, or in a SQL
 * WHERE) meets its column and becomes the value a Condition carries, which the planner sends to
 * Klaviyo and checks on each row. One set of rules for --where, SELECT, UPDATE and DELETE, so
 * that the same text selects the same rows wherever it is written.
 *
 * The front ends (objects/where.ts for --where, query/conditions.ts for SQL) read the text and
 * hand over a Literal: quotes already removed (a doubled quote is one quote), numbers as written.
 */
import { formatInstant, parseInstant } from '../../core/timestamps.js';
import type { ColumnDef, ScalarValue } from '../types.js';

export type Literal =
  /**
   * Quoted text ('abc', "abc"). `notInSqlite`: SQL text SQLite (as klv query runs it) does not read
   * as a string: DATE '...' (no such literals) and "abc" (an identifier, never a string).
   */
  | { kind: 'text'; text: string; notInSqlite?: boolean }
  /** --where's unquoted value (`Created >= 2026-01-01`, `Count = 4`): the column decides what it is. */
  | { kind: 'word'; text: string }
  /** A SQL number, as written (`-2.5E-1`, `12345678901234567890`). */
  | { kind: 'number'; text: string }
  /** SQL's TRUE and FALSE. */
  | { kind: 'boolean'; value: boolean }
  /** SQL's NULL, --where's bare `null`. */
  | { kind: 'null' };

export type Coerced = { value: ScalarValue } | { problem: string };

/** A literal as the person wrote it, for messages. */
export function literalText(literal: Literal): string {
  switch (literal.kind) {
    case 'boolean':
      return literal.value ? 'true' : 'false';
    case 'null':
      return 'null';
    default:
      return literal.text;
  }
}

/**
 * A date or date-time as a condition value: canonical UTC text, every fraction digit kept (a
 * condition on Klaviyo's microseconds must stay exact); a date alone is midnight UTC; no zone
 * means UTC. Impossible days (2026-02-30) are refused, not rolled over.
 */
export function conditionDatetime(text: string): string | null {
  const instant = parseInstant(text, { dateAsMidnight: true });
  return instant ? formatInstant(instant) : null;
}

const TRUE_WORDS = /^(true|yes|1)$/i;
const FALSE_WORDS = /^(false|no|0)$/i;
/** A JSON number (what a bare value on a JSON column is, when it looks like one). */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function mismatch(literal: Literal, column: ColumnDef, expected: string): Coerced {
  return { problem: `'${literalText(literal)}' is not ${expected} (column ${column.name} is ${column.type})` };
}

/**
 * A literal in its column's type, as --where, UPDATE and DELETE take it: quoted numbers are
 * numbers on a number column, `yes` is true on a boolean one, enum values match without regard to
 * case. What cannot be the column's type is a problem to report. NULL stays null: the front end
 * decides where null is allowed.
 */
export function coerceLiteral(literal: Literal, column: ColumnDef): Coerced {
  if (literal.kind === 'null') return { value: null };
  switch (column.type) {
    case 'integer':
    case 'number': {
      const integer = column.type === 'integer';
      const n = literal.kind === 'boolean' ? NaN : Number(literal.text);
      // Number('') is 0: an empty value must not become one.
      const blank = literal.kind !== 'boolean' && literal.text.trim() === '';
      if (blank || !Number.isFinite(n) || (integer && !Number.isInteger(n))) return mismatch(literal, column, integer ? 'a whole number' : 'a number');
      return { value: n };
    }
    case 'boolean': {
      if (literal.kind === 'boolean') return { value: literal.value };
      if (TRUE_WORDS.test(literal.text)) return { value: true };
      if (FALSE_WORDS.test(literal.text)) return { value: false };
      return mismatch(literal, column, 'true or false');
    }
    case 'datetime': {
      const iso = literal.kind === 'boolean' ? null : conditionDatetime(literal.text);
      return iso === null ? mismatch(literal, column, 'a date or date-time (ISO 8601, e.g. 2026-01-31 or 2026-01-31T12:00:00Z)') : { value: iso };
    }
    case 'json':
      // A JSON value keeps its own type, as Klaviyo stores it: the property 3 is not the text '3'.
      if (literal.kind === 'boolean') return { value: literal.value };
      if (literal.kind === 'number') return { value: Number(literal.text) };
      if (literal.kind === 'word') {
        if (/^(true|false)$/i.test(literal.text)) return { value: literal.text.toLowerCase() === 'true' };
        if (JSON_NUMBER.test(literal.text)) return { value: Number(literal.text) };
      }
      return { value: literal.text };
    default: {
      const text = literalText(literal);
      if (!column.enum || column.enum.includes(text)) return { value: text };
      const match = column.enum.find((e) => e.toLowerCase() === text.toLowerCase());
      return match !== undefined ? { value: match } : mismatch(literal, column, `one of ${column.enum.join(', ')}`);
    }
  }
}

/**
 * A SQL literal as a value to push down from a SELECT, only when comparing with it gives what
 * SQLite's comparison gives (SQLite checks the WHERE again, but a simple scan streams straight
 * from the API): a number for a number column, a string for a text or date column, TRUE, FALSE,
 * 1 or 0 for a boolean. Undefined otherwise, and the condition is left to SQLite.
 */
export function exactLiteral(literal: Literal, column: ColumnDef): ScalarValue | undefined {
  switch (column.type) {
    case 'integer':
    case 'number':
      if (literal.kind !== 'number') return undefined;
      break;
    case 'boolean':
      if (literal.kind !== 'boolean' && !(literal.kind === 'number' && /^[01]$/.test(literal.text))) return undefined;
      break;
    case 'json':
      return undefined;
    default:
      // A text column equals text only, as SQLite reads it.
      if (literal.kind !== 'text' || literal.notInSqlite) return undefined;
      // A value outside the enum matches nothing in SQL; sent to Klaviyo it would be refused.
      if (column.enum && !column.enum.includes(literal.text)) return undefined;
  }
  const coerced = coerceLiteral(literal, column);
  return 'value' in coerced && coerced.value !== null ? coerced.value : undefined;
}
