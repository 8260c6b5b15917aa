/**
 * The operators of conditions, whoever wrote them: the comparison symbols (and which way they
 * turn when the value comes first, `'x' < Created`), the text operators and the columns they
 * apply to, and SQL's LIKE as one of Klaviyo's text operators. One set of rules for --where,
 * SELECT, UPDATE and DELETE.
 */
import type { ColumnDef, WhereOperator } from '../types.js';

const COMPARISONS: Readonly<Record<string, WhereOperator>> = { '=': '=', '==': '=', '!=': '!=', '<>': '!=', '>': '>', '>=': '>=', '<': '<', '<=': '<=' };
const TURNED: Readonly<Partial<Record<WhereOperator, WhereOperator>>> = { '>': '<', '>=': '<=', '<': '>', '<=': '>=' };

/** The operator of a comparison symbol (`<>` is `!=`, `==` is `=`), or undefined for anything else. */
export function comparison(symbol: string): WhereOperator | undefined {
  return Object.hasOwn(COMPARISONS, symbol) ? COMPARISONS[symbol] : undefined;
}

/** `value op column` as `column op' value`: `'2024-01-01' < Created` is `Created > '2024-01-01'`. */
export function turned(op: WhereOperator): WhereOperator {
  return TURNED[op] ?? op;
}

export type TextOperator = 'contains' | 'starts-with' | 'ends-with';

export function isTextOperator(op: WhereOperator): op is TextOperator {
  return op === 'contains' || op === 'starts-with' || op === 'ends-with';
}

/**
 * Whether text matching means what it says on a column. Not on dates, numbers and booleans: klv
 * checks those as instants, numbers and truth values, so "starts with 2024-05-13" would have
 * meant "is midnight of that day", and "ends with .5" nothing at all.
 */
export function isTextColumn(column: ColumnDef): boolean {
  return column.type === 'string' || column.type === 'email' || column.type === 'phone' || column.type === 'id' || column.type === 'json';
}

/** Why a text operator (or LIKE, by its SQL name) cannot apply to a column; undefined when it can. */
export function textOperatorProblem(operator: string, column: ColumnDef): string | undefined {
  if (isTextColumn(column)) return undefined;
  return `${operator} needs a text column (column ${column.name} is ${column.type}); compare it with =, <, <=, >, >= instead`;
}

export type LikeTranslation = { op: WhereOperator; value: string } | { problem: string };

/**
 * A LIKE pattern as one of Klaviyo's text operators: `'abc%'` starts-with abc, `'%abc%'` contains,
 * `'%abc'` ends-with, `'abc'` =. With ESCAPE, the escape character makes the next `%`, `_` or
 * itself plain text (`'50!%%' ESCAPE '!'` starts with `50%`). Any other use of `%` or `_` has no
 * Klaviyo equivalent. A backslash is plain text, as in SQLite.
 */
export function likeOperator(pattern: string, escape?: string): LikeTranslation {
  const shapes = "only 'text', 'text%', '%text' and '%text%' translate to Klaviyo's filters; _ and inner % do not";
  if (escape !== undefined && [...escape].length !== 1) return { problem: `ESCAPE '${escape}' (the escape must be one character)` };
  // The pattern as parts: runs of plain text, and wildcards.
  const parts: Array<{ wildcard: '%' | '_' } | { text: string }> = [];
  const addText = (ch: string) => {
    const last = parts[parts.length - 1];
    if (last && 'text' in last) last.text += ch;
    else parts.push({ text: ch });
  };
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (escape !== undefined && ch === escape) {
      const next = chars[i + 1];
      if (next === undefined) return { problem: `LIKE '${pattern}' (it ends with the escape character)` };
      addText(next);
      i += 1;
    } else if (ch === '%' || ch === '_') parts.push({ wildcard: ch });
    else addText(ch);
  }
  const isPercent = (p: (typeof parts)[number] | undefined) => p !== undefined && 'wildcard' in p && p.wildcard === '%';
  const lead = isPercent(parts[0]);
  const trail = parts.length > 1 && isPercent(parts[parts.length - 1]);
  const inner = parts.slice(lead ? 1 : 0, trail ? -1 : undefined);
  const only = inner.length === 1 ? inner[0] : undefined;
  if (!only || !('text' in only)) return { problem: `LIKE '${pattern}' (${shapes})` };
  const op: WhereOperator = lead && trail ? 'contains' : lead ? 'ends-with' : trail ? 'starts-with' : '=';
  return { op, value: only.text };
}

const ALL_OPERATORS: WhereOperator[] = ['=', '!=', '>', '>=', '<', '<=', 'in', 'contains', 'starts-with', 'ends-with'];

/**
 * The operators that make sense for a column type (all of them work locally): what `klv describe`
 * lists per column. Text operators only where text matching means what it says (isTextColumn).
 */
export function operatorsFor(column: ColumnDef): WhereOperator[] {
  switch (column.type) {
    case 'boolean':
      return ['=', '!=', 'in'];
    case 'datetime':
    case 'integer':
    case 'number':
      return ['=', '!=', '>', '>=', '<', '<=', 'in'];
    case 'json':
      return ['=', '!=', 'contains'];
    default:
      return ALL_OPERATORS;
  }
}
