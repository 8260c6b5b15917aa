/**
 * node-sql-parser's syntax tree, typed. The library's types (node-sql-parser/types.d.ts) name the
 * statements and the common expressions; code that walks every key of a node (the analysis, the
 * datetime rewrite) sees SqlNode, and the guards below narrow to the library's types where a
 * shape matters.
 */
import type { AST, Binary, ColumnRefItem, Delete, ExprList, Insert_Replace, Select, Update } from 'node-sql-parser';

export type { AST, Binary, ColumnRefItem, Delete, ExprList, Insert_Replace, Select, Update };

/** Any node of the tree: an object with a `type`, and whatever keys its kind has. */
export interface SqlNode {
  type?: string;
  [key: string]: unknown;
}

export const isNode = (x: unknown): x is SqlNode => x !== null && typeof x === 'object' && !Array.isArray(x);

export const isColumnRef = (x: unknown): x is ColumnRefItem & SqlNode => isNode(x) && x.type === 'column_ref';

export const isBinary = (x: unknown): x is Binary & SqlNode => isNode(x) && x.type === 'binary_expr';

export const isExprList = (x: unknown): x is ExprList & SqlNode => isNode(x) && x.type === 'expr_list' && Array.isArray(x.value);

export const isSelect = (x: unknown): x is Select & SqlNode => isNode(x) && x.type === 'select';

/** A subquery where an expression may stand (`IN (SELECT ...)`, `EXISTS (SELECT ...)`): its statement. */
export function subquery(x: unknown): Select | undefined {
  if (isSelect(x)) return x;
  return isNode(x) && isSelect(x.ast) ? x.ast : undefined;
}

/** The operator of a binary expression in capitals (`and`, `like` -> AND, LIKE). */
export const operatorOf = (node: Binary): string => String(node.operator).toUpperCase();

/** `Name`, or `{expr: {type: 'default', value: 'Name'}}` in some dialects' column refs. */
export function identifier(x: unknown): string | undefined {
  if (typeof x === 'string') return x;
  if (isNode(x)) {
    if (typeof x.value === 'string') return x.value;
    if (isNode(x.expr)) return identifier(x.expr);
    if (x.column !== undefined) return identifier(x.column);
  }
  return undefined;
}

/** A column reference's name (`*` included), or undefined when it is not a plain name. */
export function columnRefName(ref: ColumnRefItem): string | undefined {
  const c = ref.column;
  if (typeof c === 'string') return c;
  return typeof c?.expr?.value === 'string' ? c.expr.value : undefined;
}

export function setColumnRefName(ref: ColumnRefItem, name: string): void {
  if (typeof ref.column === 'string') ref.column = name;
  else if (ref.column?.expr) ref.column.expr.value = name;
}

/** What an expression node is, in words, for "only literal values" messages. */
export function describeExpression(n: unknown): string {
  if (!isNode(n)) return 'an expression';
  switch (n.type) {
    case 'column_ref':
      return `the column reference ${identifier(n.column) ?? ''}`.trimEnd();
    case 'function':
    case 'aggr_func': {
      const name = isNode(n.name) && Array.isArray(n.name.name) ? n.name.name.map(identifier).join('.') : identifier(n.name);
      return `the function call ${name ?? ''}(...)`.replace(' (', '(');
    }
    case 'binary_expr':
    case 'unary_expr':
      return `an expression with ${String(n.operator)}`;
    case 'case':
      return 'a CASE expression';
    case 'cast':
      return 'a CAST';
    case 'select':
      return 'a subquery';
    case 'param':
    case 'var':
      return 'a parameter';
    case 'interval':
      return 'an INTERVAL';
    default:
      if (isNode(n.ast) || n.tableList !== undefined) return 'a subquery';
      return `an expression (${n.type ?? 'unknown'})`;
  }
}
