/**
 * SQL conditions as catalog Conditions: the SQL front end of the one condition language
 * (objects/conditions/), used by SELECT (what to push down) and by UPDATE and DELETE (which
 * records to change). A WHERE conjunct of the form `col op literal` (either way round), `col IN
 * (...)`, `col LIKE '...' [ESCAPE 'c']`, `col BETWEEN a AND b` or `col IS [NOT] NULL` becomes
 * the Conditions --where would give for the same text.
 *
 * Two modes, for the two uses:
 * - `exact` (SELECT): a conjunct becomes conditions only when they select exactly what SQLite's
 *   evaluation of it selects (exactLiteral); anything else is left to SQLite, which checks the
 *   whole WHERE again anyway. Nothing is refused here.
 * - `strict` (UPDATE, DELETE): there is no SQLite behind; a conjunct that cannot become
 *   conditions is refused with the reason, and values are coerced as --where coerces them.
 */
import type { ColumnDef, Condition, ScalarValue } from '../objects/types.js';
import { comparison, likeOperator, textOperatorProblem, turned } from '../objects/conditions/operators.js';
import { coerceLiteral, exactLiteral, type Literal } from '../objects/conditions/values.js';
import { describeExpression, isBinary, isExprList, isNode, operatorOf, subquery, type SqlNode } from './sql-ast.js';

export type ConditionMode = 'exact' | 'strict';

/** The object and column a column reference names, or undefined when the node names none. */
export type ResolveColumn = (node: unknown) => { table: string; column: ColumnDef } | undefined;

export type ConjunctOutcome =
  | { table: string; conditions: Condition[] }
  /** A form klv cannot translate (`OR`, a function call): `${unsupported} is not supported`. */
  | { unsupported: string }
  /** A value that does not fit its column: the whole reason. */
  | { invalid: string };

const STRING_TYPES = new Set(['single_quote_string', 'double_quote_string', 'string', 'natural_string', 'regex_string']);
const DATE_TYPES = new Set(['date', 'datetime', 'timestamp', 'time']);

/**
 * A literal's value as SQL means it, or undefined for anything computed. node-sql-parser keeps
 * SQL's doubled quotes in the value ('it''s' arrives as it''s): undone here, once for everyone.
 * `-5` arrives as a unary minus on 5 in some spellings.
 */
export function sqlLiteral(n: unknown): Literal | undefined {
  if (!isNode(n)) return undefined;
  const { type, value } = n;
  if (type === 'single_quote_string' && typeof value === 'string') return { kind: 'text', text: value.replace(/''/g, "'") };
  if (type === 'double_quote_string' && typeof value === 'string') return { kind: 'text', text: value.replace(/""/g, '"'), notInSqlite: true };
  if (type !== undefined && STRING_TYPES.has(type) && typeof value === 'string') return { kind: 'text', text: value };
  if (type !== undefined && DATE_TYPES.has(type) && typeof value === 'string') return { kind: 'text', text: value, notInSqlite: true };
  // Exponents and integers past 2^53 come as 'bigint', with the text as written.
  if ((type === 'number' || type === 'bigint') && (typeof value === 'number' || typeof value === 'string')) return { kind: 'number', text: String(value) };
  if (type === 'bool' && typeof value === 'boolean') return { kind: 'boolean', value };
  if (type === 'null') return { kind: 'null' };
  if (type === 'unary_expr' && (n.operator === '-' || n.operator === '+')) {
    const inner = sqlLiteral(n.expr);
    if (inner?.kind !== 'number') return undefined;
    if (n.operator === '+') return inner;
    return { kind: 'number', text: inner.text.startsWith('-') ? inner.text.slice(1) : `-${inner.text}` };
  }
  return undefined;
}

/** The AND-ed parts of a WHERE: `a AND (b AND c)` -> [a, b, c]; parenthesized ORs stay whole. */
export function conjuncts(where: unknown): SqlNode[] {
  if (!isNode(where)) return [];
  if (isBinary(where) && operatorOf(where) === 'AND') return [...conjuncts(where.left), ...conjuncts(where.right)];
  return [where];
}

type ValueOutcome = { value: ScalarValue } | { unsupported: string } | { invalid: string };

/** The literal `n` compared with `column`, in the mode's rules. */
function valueOf(n: unknown, column: ColumnDef, mode: ConditionMode): ValueOutcome {
  const literal = sqlLiteral(n);
  if (!literal) return { unsupported: `comparing ${column.name} with ${describeExpression(n)}` };
  if (mode === 'exact') {
    const value = exactLiteral(literal, column);
    return value === undefined ? { unsupported: 'a value SQLite compares differently' } : { value };
  }
  const coerced = coerceLiteral(literal, column);
  return 'value' in coerced ? coerced : { invalid: coerced.problem };
}

/** One WHERE conjunct as conditions on one object (see the modes above). */
export function conjunctConditions(node: unknown, resolve: ResolveColumn, mode: ConditionMode): ConjunctOutcome {
  if (!isBinary(node)) {
    if (isNode(node) && node.type === 'unary_expr' && String(node.operator).toUpperCase() === 'NOT') return { unsupported: 'NOT' };
    return { unsupported: describeExpression(node) };
  }
  const op = operatorOf(node);
  if (op === 'OR') return { unsupported: 'OR' };
  const symbol = comparison(op);
  if (symbol !== undefined) {
    const left = resolve(node.left);
    const right = resolve(node.right);
    if (left && right) return { unsupported: `comparing ${left.column.name} with ${describeExpression(node.right)}` };
    if (!left && !right) return { unsupported: `${describeExpression(node.left)} on the left of ${op}` };
    // `'x' < Created` is `Created > 'x'`.
    const [target, valueNode, wop] = left ? [left, node.right, symbol] : [right!, node.left, turned(symbol)];
    const v = valueOf(valueNode, target.column, mode);
    if (!('value' in v)) return v;
    // SQL's `= NULL` is never true: say what was probably meant.
    if (v.value === null) return { unsupported: `${op} NULL (write IS NULL or IS NOT NULL)` };
    return { table: target.table, conditions: [{ column: target.column.name, op: wop, value: v.value }] };
  }
  const target = resolve(node.left);
  if (!target) return { unsupported: `${describeExpression(node.left)} on the left of ${op}` };
  const column = target.column;
  const one = (condition: Condition): ConjunctOutcome => ({ table: target.table, conditions: [condition] });
  switch (op) {
    case 'IS':
    case 'IS NOT': {
      // Left to SQLite in a SELECT, where NULL and '' differ; Klaviyo's "no value" is either.
      if (mode === 'exact') return { unsupported: `${op} NULL` };
      if (sqlLiteral(node.right)?.kind !== 'null') return { unsupported: `${op} with something other than NULL` };
      return one({ column: column.name, op: op === 'IS' ? '=' : '!=', value: null });
    }
    case 'IN': {
      const items = isExprList(node.right) ? node.right.value : [];
      if (items.some((x) => subquery(x) !== undefined)) return { unsupported: 'IN with a subquery' };
      if (items.length === 0) return { unsupported: 'an empty IN list' };
      const values: ScalarValue[] = [];
      for (const item of items) {
        const v = valueOf(item, column, mode);
        if (!('value' in v)) return v;
        // NULL in an IN list matches nothing in SQL; a Condition's null would mean "no value".
        if (v.value === null) return { unsupported: 'NULL in an IN list (it matches nothing; for records without a value write IS NULL)' };
        values.push(v.value);
      }
      return one({ column: column.name, op: 'in', value: values });
    }
    case 'BETWEEN': {
      const bounds = isExprList(node.right) ? node.right.value : [];
      if (bounds.length !== 2) return { unsupported: 'this BETWEEN' };
      const lo = valueOf(bounds[0], column, mode);
      if (!('value' in lo)) return lo;
      const hi = valueOf(bounds[1], column, mode);
      if (!('value' in hi)) return hi;
      if (lo.value === null || hi.value === null) return { unsupported: 'BETWEEN with NULL' };
      return {
        table: target.table,
        conditions: [
          { column: column.name, op: '>=', value: lo.value },
          { column: column.name, op: '<=', value: hi.value },
        ],
      };
    }
    case 'LIKE': {
      const pattern = sqlLiteral(node.right);
      if (pattern?.kind !== 'text' || (mode === 'exact' && pattern.notInSqlite)) return { unsupported: `LIKE with ${describeExpression(node.right)}` };
      const right: unknown = node.right;
      const escapeNode = isNode(right) && isNode(right.escape) ? right.escape.value : undefined;
      const escape = escapeNode === undefined ? undefined : sqlLiteral(escapeNode);
      if (escape !== undefined && escape.kind !== 'text') return { unsupported: `ESCAPE with ${describeExpression(escapeNode)}` };
      const problem = textOperatorProblem('LIKE', column);
      if (problem) return { invalid: problem };
      // SQLite holds a JSON value as JSON text ("gold" with its quotes): LIKE sees other text than Klaviyo's filter.
      if (mode === 'exact' && column.type === 'json') return { unsupported: 'LIKE on a JSON column' };
      const like = likeOperator(pattern.text, escape?.text);
      return 'problem' in like ? { unsupported: like.problem } : one({ column: column.name, op: like.op, value: like.value });
    }
    default:
      return { unsupported: op };
  }
}
