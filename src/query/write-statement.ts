/**
 * `klv query` writes, the pure half: one INSERT, UPDATE or DELETE statement (node-sql-parser's
 * AST) turned into what `klv import` would have been given — the object, the operation, the
 * "CSV header" (canonical column names) and one record of cell texts per row — plus, for UPDATE
 * and DELETE, how the target rows are selected. No I/O here: every mistake a statement can carry
 * (an unknown column, a column the operation does not take, an expression where a value must be,
 * a DELETE without WHERE) is a UsageError before any request.
 *
 * Values go through the import's own mapping layer afterwards (coerceCell, validateRow), so a
 * statement row obeys exactly the constraints of a CSV row. Hence the literals become cell text
 * here: 'VIP' -> VIP, 42 -> 42, TRUE -> true, NULL -> the null token (clear the field).
 */
import { UsageError } from '../core/errors.js';
import { findColumn } from '../objects/columns.js';
import { nearestNames } from '../objects/names.js';
import { normalizeDateTime } from '../objects/where.js';
import type { ColumnDef, Condition, ObjectDefinition, Operation, ScalarValue, WhereOperator } from '../objects/types.js';
import type { OperationHandler } from '../objects/write/types.js';
import { hasPropertiesColumn, isPropertyColumnName, noPropertiesError } from './properties.js';

/**
 * The cell text that stands for SQL NULL in the rows handed to the mapping layer (its
 * --null-value token). Made of characters no SQL string literal a person types contains, so a
 * real value can never be taken for it.
 */
export const NULL_TOKEN = '\u0000klv-sql-null\u0000';

/** SQL's word for each import operation, for messages. */
const SQL_VERB: Record<Operation, string> = { insert: 'INSERT', update: 'UPDATE', delete: 'DELETE', upsert: 'upsert' };

export type WriteKind = 'insert' | 'update' | 'delete';

/** One row as the mapping layer reads it: column name -> cell text (NULL_TOKEN for NULL). */
export type Cells = Record<string, string>;

/** Which existing records an UPDATE or DELETE changes. */
export type Selection =
  /** `WHERE Id = '...'` or `WHERE Id IN (...)`: those ids, no read needed. */
  | { kind: 'ids'; ids: string[] }
  /** Any other AND of comparisons: read the matching records (pushed down where possible) for their keys. */
  | { kind: 'where'; conditions: Condition[] };

export interface WriteStatement {
  kind: WriteKind;
  def: ObjectDefinition;
  operation: Operation;
  handler: OperationHandler;
  /** The mapping layer's header: canonical column names, keys first for UPDATE/DELETE. */
  headers: string[];
  /** INSERT: one record per VALUES tuple, in order. */
  rows?: Cells[];
  /** UPDATE: the SET columns' cells, the same for every target row. */
  set?: Cells;
  /** UPDATE/DELETE: the columns that identify a record for the handler (`Id`; ListMembers: ListId, ProfileId). */
  keys?: string[];
  selection?: Selection;
}

// ---------------------------------------------------------------------------------------------
// The few AST shapes used (node-sql-parser 5).

interface Node {
  type?: string;
  [k: string]: unknown;
}

const isNode = (x: unknown): x is Node => x !== null && typeof x === 'object' && !Array.isArray(x);

/** `Name`, or `{expr: {type: 'default', value: 'Name'}}` in some dialects' column refs. */
function identifier(x: unknown): string | undefined {
  if (typeof x === 'string') return x;
  if (isNode(x)) {
    if (typeof x.value === 'string') return x.value;
    if (isNode(x.expr)) return identifier(x.expr);
    if (x.column !== undefined) return identifier(x.column);
  }
  return undefined;
}

/** A statement's object: exactly one table, no schema. */
function tableOf(ast: Node, verb: string): string {
  const tables = Array.isArray(ast.table) ? ast.table : [];
  const from = Array.isArray(ast.from) ? ast.from : [];
  const all = [...tables, ...from].filter(isNode);
  const names = [...new Set(all.map((t) => t.table).filter((t): t is string => typeof t === 'string'))];
  if (names.length === 0) throw new UsageError(`${verb}: which object? No table was found in the statement.`, `'klv objects' lists them.`);
  if (names.length > 1 || all.some((t) => t.join !== undefined && t.join !== null)) {
    throw new UsageError(`${verb} changes one object at a time; this statement names ${names.join(', ')}.`, 'Write one statement per object; select rows of another object with a subquery-free WHERE on this one.');
  }
  return names[0];
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
      return `an expression with ${String(n.operator)}`;
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

type Literal = { kind: 'string'; value: string } | { kind: 'number'; value: number | string } | { kind: 'boolean'; value: boolean } | { kind: 'null' };

const STRING_TYPES = new Set(['single_quote_string', 'double_quote_string', 'string', 'natural_string', 'regex_string']);
const DATE_TYPES = new Set(['date', 'datetime', 'timestamp', 'time']);

/** A literal value, or undefined for anything computed. `-5` arrives as a unary minus on 5 in some dialects. */
function literal(n: unknown): Literal | undefined {
  if (!isNode(n)) return undefined;
  // node-sql-parser keeps SQL's doubled quotes in the value ('it''s' arrives as it''s).
  if (n.type === 'single_quote_string' && typeof n.value === 'string') return { kind: 'string', value: n.value.replace(/''/g, "'") };
  if (n.type === 'double_quote_string' && typeof n.value === 'string') return { kind: 'string', value: n.value.replace(/""/g, '"') };
  if (n.type && STRING_TYPES.has(n.type) && typeof n.value === 'string') return { kind: 'string', value: n.value };
  if (n.type && DATE_TYPES.has(n.type) && typeof n.value === 'string') return { kind: 'string', value: n.value };
  if (n.type === 'number' && (typeof n.value === 'number' || typeof n.value === 'string')) return { kind: 'number', value: n.value };
  if (n.type === 'bool' && typeof n.value === 'boolean') return { kind: 'boolean', value: n.value };
  if (n.type === 'null') return { kind: 'null' };
  if (n.type === 'unary_expr' && (n.operator === '-' || n.operator === '+')) {
    const inner = literal(n.expr);
    if (inner?.kind === 'number') {
      if (n.operator === '+') return inner;
      const v = String(inner.value);
      return { kind: 'number', value: v.startsWith('-') ? v.slice(1) : `-${v}` };
    }
  }
  return undefined;
}

/** A literal as the cell text the mapping layer coerces. */
function cellText(l: Literal): string {
  switch (l.kind) {
    case 'string':
      return l.value;
    case 'number':
      return String(l.value);
    case 'boolean':
      return l.value ? 'true' : 'false';
    case 'null':
      return NULL_TOKEN;
  }
}

// ---------------------------------------------------------------------------------------------

function handlerOf(def: ObjectDefinition, operation: Operation): OperationHandler {
  const handler = def.operations.includes(operation) ? def.write?.[operation] : undefined;
  if (handler) return handler;
  const supported = def.operations.filter((o) => def.write?.[o]);
  if (supported.length === 0) {
    throw new UsageError(`${def.name} cannot be changed with ${SQL_VERB[operation]}: klv reads it but does not write it.`, `'klv objects' lists what each object supports.`);
  }
  throw new UsageError(
    `${def.name} does not support ${SQL_VERB[operation]}: it supports ${supported.map((o) => SQL_VERB[o]).join(', ')}.`,
    `'klv describe ${def.name}' says what each operation does.`,
  );
}

/** Columns the operation takes (the mapping layer's rule: required, accepted, or any writable one). */
function takes(handler: OperationHandler, col: ColumnDef): boolean {
  const required = handler.requiredColumns.flatMap((r) => (typeof r === 'string' ? [r] : [...r]));
  if (required.includes(col.name)) return true;
  if (handler.acceptedColumns) {
    if (handler.acceptedColumns.includes(col.name)) return true;
    return col.name.startsWith('Properties.') && (handler.acceptedColumns.includes('Properties') || handler.acceptedColumns.includes('Properties.*'));
  }
  return !col.readOnly;
}

function usableColumns(def: ObjectDefinition, handler: OperationHandler): string[] {
  return def.columns.filter((c) => takes(handler, c)).map((c) => c.name);
}

/** A column named in the statement, resolved; unknown names suggest the nearest ones. */
function columnOf(def: ObjectDefinition, name: string, where: string): ColumnDef {
  const col = findColumn(def, name);
  if (col) return col;
  if (isPropertyColumnName(name) && !hasPropertiesColumn(def)) throw noPropertiesError(def, name, where);
  const near = nearestNames(name, def.columns.map((c) => c.name));
  throw new UsageError(
    `${where}: ${def.name} has no column '${name}'.`,
    near.length > 0 ? `Did you mean ${near.map((n) => `'${n}'`).join(' or ')}? 'klv describe ${def.name}' lists the columns.` : `'klv describe ${def.name}' lists the columns.`,
  );
}

function writableColumn(def: ObjectDefinition, handler: OperationHandler, name: string, where: string): ColumnDef {
  const col = columnOf(def, name, where);
  if (!takes(handler, col)) {
    throw new UsageError(
      `${where}: ${def.name} ${SQL_VERB[handler.operation]} does not take ${col.name}${col.readOnly ? ' (read-only: Klaviyo sets it)' : ''}.`,
      `${def.name} ${SQL_VERB[handler.operation]} takes: ${usableColumns(def, handler).join(', ')}.`,
    );
  }
  return col;
}

/**
 * The columns that identify a record for an UPDATE/DELETE handler: each required column, and of
 * a "one of" group the Id when it is one (a read gives every record its Id).
 */
export function keyColumns(def: ObjectDefinition, handler: OperationHandler): string[] {
  const keys: string[] = [];
  for (const req of handler.requiredColumns) {
    if (typeof req === 'string') keys.push(req);
    else keys.push(req.includes('Id') ? 'Id' : req[0]);
  }
  return keys.filter((k) => findColumn(def, k) !== undefined);
}

function noExtras(ast: Node, verb: string): void {
  const extras: Array<[string, string]> = [
    ['returning', 'RETURNING'],
    ['orderby', 'ORDER BY'],
    ['limit', 'LIMIT'],
    ['on_duplicate_update', 'ON DUPLICATE KEY UPDATE'],
    ['with', 'WITH'],
  ];
  for (const [key, words] of extras) {
    const v = ast[key];
    const given = v !== null && v !== undefined && !(isNode(v) && Array.isArray(v.value) && v.value.length === 0);
    if (given) throw new UsageError(`${verb} with ${words} is not supported.`, `Drop ${words}; to choose the rows, write WHERE Id IN (...).`);
  }
}

// ---------------------------------------------------------------------------------------------
// INSERT

function insertStatement(ast: Node, findObject: (name: string) => ObjectDefinition): WriteStatement {
  const def = findObject(tableOf(ast, 'INSERT'));
  const handler = handlerOf(def, 'insert');
  noExtras(ast, 'INSERT');
  const names = Array.isArray(ast.columns) ? ast.columns.map(identifier) : [];
  const usable = usableColumns(def, handler);
  if (names.length === 0) {
    throw new UsageError(
      `INSERT INTO ${def.name} needs a column list: which column does each value go to?`,
      `Write e.g. INSERT INTO ${def.name} (${usable.slice(0, 2).join(', ')}) VALUES (...). ${def.name} INSERT takes: ${usable.join(', ')}.`,
    );
  }
  const headers: string[] = [];
  for (const name of names) {
    if (name === undefined) throw new UsageError(`INSERT INTO ${def.name}: a column of the list is not a plain name.`);
    const col = writableColumn(def, handler, name, `INSERT INTO ${def.name}`);
    if (headers.includes(col.name)) throw new UsageError(`INSERT INTO ${def.name} names ${col.name} twice.`, 'Name each column once.');
    headers.push(col.name);
  }
  const missing = handler.requiredColumns.filter((req) => (typeof req === 'string' ? !headers.includes(req) : !req.some((r) => headers.includes(r))));
  if (missing.length > 0) {
    const words = missing.map((m) => (typeof m === 'string' ? m : `one of ${m.join(', ')}`)).join(' and ');
    throw new UsageError(`INSERT INTO ${def.name} needs ${words} in its column list.`, `${def.name} INSERT takes: ${usable.join(', ')}.`);
  }

  const values = ast.values;
  if (isNode(values) && values.type === 'select') {
    throw new UsageError(`INSERT INTO ${def.name} ... SELECT is not supported: the rows must be given as VALUES.`, `Write INSERT INTO ${def.name} (${headers.join(', ')}) VALUES (...), (...); or export the rows and use 'klv import'.`);
  }
  const tuples = isNode(values) && Array.isArray(values.values) ? values.values : Array.isArray(values) ? values : [];
  if (tuples.length === 0) throw new UsageError(`INSERT INTO ${def.name} has no VALUES.`, `Write INSERT INTO ${def.name} (${headers.join(', ')}) VALUES (...).`);
  const rows: Cells[] = tuples.map((tuple, i) => {
    const exprs = isNode(tuple) && Array.isArray(tuple.value) ? tuple.value : [];
    const where = `VALUES row ${i + 1}`;
    if (exprs.length !== headers.length) {
      throw new UsageError(`INSERT INTO ${def.name}: ${where} has ${exprs.length} value${exprs.length === 1 ? '' : 's'} for ${headers.length} column${headers.length === 1 ? '' : 's'} (${headers.join(', ')}).`, 'Give one value per column, in the column list\'s order.');
    }
    const cells: Cells = {};
    exprs.forEach((e, j) => {
      const l = literal(e);
      if (!l) {
        throw new UsageError(
          `INSERT INTO ${def.name}: ${where}, column ${headers[j]}: ${describeExpression(e)} is not supported; only literal values ('text', 42, TRUE, NULL) can be written.`,
          'Compute the value first and write it as a literal.',
        );
      }
      cells[headers[j]] = cellText(l);
    });
    return cells;
  });
  return { kind: 'insert', def, operation: 'insert', handler, headers, rows };
}

// ---------------------------------------------------------------------------------------------
// WHERE: the rows an UPDATE or DELETE targets.

const COMPARISONS: Record<string, WhereOperator> = { '=': '=', '==': '=', '!=': '!=', '<>': '!=', '>': '>', '>=': '>=', '<': '<', '<=': '<=' };
const FLIPPED: Record<string, WhereOperator> = { '>': '<', '>=': '<=', '<': '>', '<=': '>=' };

const WHERE_HINT = "Use AND-ed comparisons (=, !=, <, <=, >, >=), IN (...), LIKE 'text%', BETWEEN, IS [NOT] NULL on the object's columns, or WHERE Id IN ('...', '...').";

function unsupported(verb: string, what: string): never {
  throw new UsageError(`${verb} ... WHERE: ${what} is not supported in the WHERE of a write.`, WHERE_HINT);
}

/** A literal coerced to the column's type for a condition (as --where does). */
function conditionValue(n: unknown, col: ColumnDef, verb: string): ScalarValue {
  const l = literal(n);
  if (!l) unsupported(verb, `comparing ${col.name} with ${describeExpression(n)}`);
  if (l.kind === 'null') return null;
  const bad = (what: string): never => {
    throw new UsageError(`${verb} ... WHERE: ${cellText(l)} is not ${what} (column ${col.name} is ${col.type}).`, WHERE_HINT);
  };
  switch (col.type) {
    case 'integer':
    case 'number': {
      const num = Number(l.kind === 'boolean' ? NaN : l.value);
      if (!Number.isFinite(num) || (col.type === 'integer' && !Number.isInteger(num))) bad(col.type === 'integer' ? 'a whole number' : 'a number');
      return num;
    }
    case 'boolean':
      if (l.kind === 'boolean') return l.value;
      if (/^(true|1)$/i.test(String(l.value))) return true;
      if (/^(false|0)$/i.test(String(l.value))) return false;
      return bad('true or false');
    case 'datetime': {
      const iso = normalizeDateTime(String(l.value));
      return iso ?? bad('a date or date-time (ISO 8601, e.g. 2026-01-31 or 2026-01-31T12:00:00Z)');
    }
    default: {
      // A custom property keeps the literal's type: the read compares 3 with 3, not with '3'.
      if (isPropertyColumnName(col.name) && (l.kind === 'number' || l.kind === 'boolean')) return l.kind === 'number' ? Number(l.value) : l.value;
      const text = cellText(l);
      if (col.enum) {
        const match = col.enum.find((e) => e.toLowerCase() === text.toLowerCase());
        return match ?? bad(`one of ${col.enum.join(', ')}`);
      }
      return text;
    }
  }
}

function likeCondition(col: ColumnDef, pattern: string, verb: string): Condition {
  // Klaviyo filters text by equality, contains, starts-with and ends-with: LIKE patterns that
  // are one of those shapes translate; any other wildcard use has no equivalent.
  const inner = pattern.replace(/^%/, '').replace(/%$/, '');
  if (inner.includes('%') || inner.includes('_') || inner === '') {
    unsupported(verb, `LIKE '${pattern}' (only 'text', 'text%', '%text' and '%text%' translate to Klaviyo's filters; _ and inner % do not)`);
  }
  const starts = pattern.startsWith('%');
  const ends = pattern.endsWith('%') && pattern.length > 1;
  const op: WhereOperator = starts && ends ? 'contains' : starts ? 'ends-with' : ends ? 'starts-with' : '=';
  return { column: col.name, op, value: inner };
}

function conditionsOf(n: unknown, def: ObjectDefinition, verb: string, out: Condition[]): void {
  if (!isNode(n)) unsupported(verb, 'this condition');
  if (n.type === 'binary_expr' && String(n.operator).toUpperCase() === 'AND') {
    conditionsOf(n.left, def, verb, out);
    conditionsOf(n.right, def, verb, out);
    return;
  }
  if (n.type === 'binary_expr' && String(n.operator).toUpperCase() === 'OR') unsupported(verb, 'OR');
  if (n.type === 'unary_expr' && String(n.operator).toUpperCase() === 'NOT') unsupported(verb, 'NOT');
  if (n.type !== 'binary_expr') unsupported(verb, describeExpression(n));
  const op = String(n.operator).toUpperCase();
  let colNode: unknown = asColumn(n.left, def);
  let valueNode: unknown = n.right;
  let flipped = false;
  if (!(isNode(colNode) && colNode.type === 'column_ref') && isNode(valueNode) && valueNode.type === 'column_ref' && (COMPARISONS[op] !== undefined)) {
    [colNode, valueNode] = [valueNode, colNode];
    flipped = true;
  }
  if (!(isNode(colNode) && colNode.type === 'column_ref')) unsupported(verb, `${describeExpression(colNode)} on the left of ${op}`);
  const name = identifier(colNode.column);
  if (name === undefined) unsupported(verb, 'a column that is not a plain name');
  const col = columnOf(def, name, `${verb} ... WHERE`);

  if (COMPARISONS[op] !== undefined) {
    const value = conditionValue(valueNode, col, verb);
    let wop = COMPARISONS[op];
    if (flipped) wop = FLIPPED[wop] ?? wop;
    // SQL's `= NULL` is never true: say what was probably meant.
    if (value === null) unsupported(verb, `${op} NULL (write IS NULL or IS NOT NULL)`);
    out.push({ column: col.name, op: wop, value });
    return;
  }
  switch (op) {
    case 'IS':
    case 'IS NOT': {
      const l = literal(valueNode);
      if (l?.kind !== 'null') unsupported(verb, `${op} with something other than NULL`);
      out.push({ column: col.name, op: op === 'IS' ? '=' : '!=', value: null });
      return;
    }
    case 'IN': {
      const list = isNode(valueNode) && Array.isArray(valueNode.value) ? valueNode.value : [];
      if (list.some((x) => isNode(x) && (isNode(x.ast) || x.type === 'select'))) unsupported(verb, 'IN with a subquery');
      if (list.length === 0) unsupported(verb, 'an empty IN list');
      out.push({ column: col.name, op: 'in', value: list.map((x) => conditionValue(x, col, verb)) });
      return;
    }
    case 'BETWEEN': {
      const list = isNode(valueNode) && Array.isArray(valueNode.value) ? valueNode.value : [];
      if (list.length !== 2) unsupported(verb, 'this BETWEEN');
      out.push({ column: col.name, op: '>=', value: conditionValue(list[0], col, verb) });
      out.push({ column: col.name, op: '<=', value: conditionValue(list[1], col, verb) });
      return;
    }
    case 'LIKE': {
      const l = literal(valueNode);
      if (l?.kind !== 'string') unsupported(verb, `LIKE with ${describeExpression(valueNode)}`);
      out.push(likeCondition(col, l.value, verb));
      return;
    }
    default:
      unsupported(verb, op);
  }
}

/**
 * A double-quoted name where a column is expected (`WHERE "Properties.tier" = 'gold'`): the
 * parser's SQLite dialect reads it as a string; standard SQL and SQLite read an identifier when
 * it names a column. Anything else is left as it is.
 */
function asColumn(n: unknown, def: ObjectDefinition): unknown {
  if (!isNode(n) || n.type !== 'double_quote_string' || typeof n.value !== 'string') return n;
  const name = n.value;
  const isColumn = isPropertyColumnName(name) || def.columns.some((c) => c.name.toLowerCase() === name.toLowerCase());
  return isColumn ? { type: 'column_ref', table: null, column: name } : n;
}

/** `Id = 'x'` or `Id IN ('x', 'y')` alone: the ids themselves, nothing to read. */
function idsOnly(conditions: readonly Condition[]): string[] | undefined {
  if (conditions.length !== 1 || conditions[0].column !== 'Id') return undefined;
  const c = conditions[0];
  if (c.op === '=' && typeof c.value === 'string') return [c.value];
  if (c.op === 'in' && Array.isArray(c.value) && c.value.every((v): v is string => typeof v === 'string')) return [...new Set(c.value)];
  return undefined;
}

function selectionOf(ast: Node, def: ObjectDefinition, verb: string, keys: readonly string[]): Selection {
  if (ast.where === null || ast.where === undefined) {
    if (verb === 'DELETE') {
      throw new UsageError(
        `DELETE without WHERE would delete every ${objectWord(def)}: klv refuses it.`,
        `Write WHERE Id IN (...) to name the ${def.name} to delete ('klv query "SELECT Id, ${def.columns.find((c) => c.name === 'Name') ? 'Name' : keys.join(', ')} FROM ${def.name}"' lists them).`,
      );
    }
    throw new UsageError(
      `UPDATE without WHERE would change every ${objectWord(def)}: klv refuses it.`,
      `Write WHERE Id IN (...) to name the ${def.name} to change.`,
    );
  }
  const conditions: Condition[] = [];
  conditionsOf(ast.where, def, verb, conditions);
  const ids = keys.length === 1 && keys[0] === 'Id' ? idsOnly(conditions) : undefined;
  return ids ? { kind: 'ids', ids } : { kind: 'where', conditions };
}

/** `Lists` -> `list`, `EmailTemplates` -> `email template` (for "every list"). */
function objectWord(def: ObjectDefinition): string {
  const words = def.name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.endsWith('ies') ? `${words.slice(0, -3)}y` : words.replace(/s$/, '');
}

// ---------------------------------------------------------------------------------------------
// UPDATE and DELETE

function updateStatement(ast: Node, findObject: (name: string) => ObjectDefinition): WriteStatement {
  const def = findObject(tableOf(ast, 'UPDATE'));
  const handler = handlerOf(def, 'update');
  noExtras(ast, 'UPDATE');
  const keys = keyColumns(def, handler);
  const items = Array.isArray(ast.set) ? ast.set.filter(isNode) : [];
  if (items.length === 0) throw new UsageError(`UPDATE ${def.name} has no SET.`, `Write UPDATE ${def.name} SET Column = 'value' WHERE Id = '...'.`);
  const set: Cells = {};
  for (const item of items) {
    const name = identifier(item.column);
    if (name === undefined) throw new UsageError(`UPDATE ${def.name}: a SET target is not a plain column name.`);
    const col = writableColumn(def, handler, name, `UPDATE ${def.name} SET`);
    if (keys.includes(col.name)) {
      throw new UsageError(`UPDATE ${def.name} SET ${col.name}: ${col.name} identifies the record and cannot be changed.`, `Choose the records with WHERE ${col.name} = '...' instead.`);
    }
    if (set[col.name] !== undefined) throw new UsageError(`UPDATE ${def.name} sets ${col.name} twice.`, 'Set each column once.');
    const l = literal(item.value);
    if (!l) {
      throw new UsageError(
        `UPDATE ${def.name} SET ${col.name}: ${describeExpression(item.value)} is not supported; only literal values ('text', 42, TRUE, NULL) can be written.`,
        'Compute the value first and write it as a literal.',
      );
    }
    if (l.kind === 'string' && l.value.trim() === '') {
      // An empty cell means "leave unchanged" to the import; in a SET it would silently do nothing.
      throw new UsageError(`UPDATE ${def.name} SET ${col.name} = '' gives ${col.name} no value.`, `To clear ${col.name}, write SET ${col.name} = NULL.`);
    }
    set[col.name] = cellText(l);
  }
  const selection = selectionOf(ast, def, 'UPDATE', keys);
  return { kind: 'update', def, operation: 'update', handler, headers: [...keys, ...Object.keys(set)], set, keys, selection };
}

function deleteStatement(ast: Node, findObject: (name: string) => ObjectDefinition): WriteStatement {
  const def = findObject(tableOf(ast, 'DELETE'));
  const handler = handlerOf(def, 'delete');
  noExtras(ast, 'DELETE');
  const keys = keyColumns(def, handler);
  const selection = selectionOf(ast, def, 'DELETE', keys);
  return { kind: 'delete', def, operation: 'delete', handler, headers: [...keys], keys, selection };
}

/**
 * One parsed statement to a WriteStatement. `findObject` is the registry's (tests may pass
 * their own). Throws UsageError for anything it cannot translate.
 */
export function translateWrite(ast: unknown, findObject: (name: string) => ObjectDefinition): WriteStatement {
  const node = Array.isArray(ast) ? (ast.length === 1 ? ast[0] : undefined) : ast;
  if (Array.isArray(ast) && ast.length !== 1) throw new UsageError('One write statement at a time, please.', 'Run each INSERT, UPDATE or DELETE separately.');
  if (!isNode(node)) throw new UsageError('Not a write statement (this is a bug in klv).');
  switch (String(node.type).toLowerCase()) {
    case 'insert':
      return insertStatement(node, findObject);
    case 'update':
      return updateStatement(node, findObject);
    case 'delete':
      return deleteStatement(node, findObject);
    case 'replace':
      throw new UsageError('REPLACE is not supported.', 'Use INSERT for new records, UPDATE ... WHERE Id = ... for existing ones, or klv import --op upsert.');
    default:
      throw new UsageError(`${String(node.type).toUpperCase()} is not a write statement klv runs.`, 'Writes are INSERT, UPDATE and DELETE.');
  }
}

/** The cells of one target row: its keys (as text), then the SET values. */
export function targetCells(statement: WriteStatement, keyValues: Record<string, unknown>): Cells {
  const cells: Cells = {};
  for (const k of statement.keys ?? []) cells[k] = valueText(keyValues[k]);
  return { ...cells, ...(statement.set ?? {}) };
}

/** A value read back from Klaviyo as cell text (absent and null: empty, i.e. not given). */
export function valueText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
