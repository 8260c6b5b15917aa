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
import type { Literal } from '../objects/conditions/values.js';
import type { ObjectDefinition, Operation } from '../objects/types.js';
import type { OperationHandler } from '../objects/write/types.js';
import { sqlLiteral } from './conditions.js';
import { describeExpression, identifier, isNode, type Delete, type Insert_Replace, type SqlNode, type Update } from './sql-ast.js';
import { handlerOf, keyColumns, usableColumns, writableColumn } from './write-columns.js';
import { selectionOf, type Selection } from './write-selection.js';

export type { Selection };

/**
 * The cell text that stands for SQL NULL in the rows handed to the mapping layer (its
 * --null-value token). Made of characters no SQL string literal a person types contains, so a
 * real value can never be taken for it.
 */
export const NULL_TOKEN = '\u0000klv-sql-null\u0000';

export type WriteKind = 'insert' | 'update' | 'delete';

/** One row as the mapping layer reads it: column name -> cell text (NULL_TOKEN for NULL). */
export type Cells = Record<string, string>;

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

/** A statement's object: exactly one table, no schema. */
function tableOf(ast: SqlNode, verb: string): string {
  const tables = Array.isArray(ast.table) ? ast.table : [];
  const from = Array.isArray(ast.from) ? ast.from : [];
  const all = [...tables, ...from].filter(isNode);
  const names = [...new Set(all.map((t) => t.table).filter((t): t is string => typeof t === 'string'))];
  if (names.length === 0) throw new UsageError(`${verb}: which object? No table was found in the statement.`, `'klv objects' lists them.`);
  if (names.length > 1 || all.some((t) => t.join !== undefined && t.join !== null)) {
    throw new UsageError(`${verb} changes one object at a time; this statement names ${names.join(', ')}.`, 'Write one statement per object; select rows of another object with a subquery-free WHERE on this one.');
  }
  return names[0]!;
}

/** A literal as the cell text the mapping layer coerces: 'VIP' -> VIP, 42 -> 42, TRUE -> true, NULL -> the null token. */
function cellText(l: Literal): string {
  switch (l.kind) {
    case 'boolean':
      return l.value ? 'true' : 'false';
    case 'null':
      return NULL_TOKEN;
    default:
      return l.text;
  }
}

function noExtras(ast: SqlNode, verb: string): void {
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

function insertStatement(ast: Insert_Replace & SqlNode, findObject: (name: string) => ObjectDefinition): WriteStatement {
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

  const values: unknown = ast.values;
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
      const l = sqlLiteral(e);
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
// UPDATE and DELETE

function updateStatement(ast: Update & SqlNode, findObject: (name: string) => ObjectDefinition): WriteStatement {
  const def = findObject(tableOf(ast, 'UPDATE'));
  const handler = handlerOf(def, 'update');
  noExtras(ast, 'UPDATE');
  const keys = keyColumns(def, handler);
  const items = Array.isArray(ast.set) ? ast.set.filter((item) => isNode(item)) : [];
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
    const l = sqlLiteral(item.value);
    if (!l) {
      throw new UsageError(
        `UPDATE ${def.name} SET ${col.name}: ${describeExpression(item.value)} is not supported; only literal values ('text', 42, TRUE, NULL) can be written.`,
        'Compute the value first and write it as a literal.',
      );
    }
    if (l.kind === 'text' && l.text.trim() === '') {
      // An empty cell means "leave unchanged" to the import; in a SET it would silently do nothing.
      throw new UsageError(`UPDATE ${def.name} SET ${col.name} = '' gives ${col.name} no value.`, `To clear ${col.name}, write SET ${col.name} = NULL.`);
    }
    set[col.name] = cellText(l);
  }
  const selection = selectionOf(ast.where, def, 'UPDATE', keys);
  return { kind: 'update', def, operation: 'update', handler, headers: [...keys, ...Object.keys(set)], set, keys, selection };
}

function deleteStatement(ast: Delete & SqlNode, findObject: (name: string) => ObjectDefinition): WriteStatement {
  const def = findObject(tableOf(ast, 'DELETE'));
  const handler = handlerOf(def, 'delete');
  noExtras(ast, 'DELETE');
  const keys = keyColumns(def, handler);
  const selection = selectionOf(ast.where, def, 'DELETE', keys);
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
  // The statement's type says which of the library's shapes it has.
  switch (String(node.type).toLowerCase()) {
    case 'insert':
      return insertStatement(node as Insert_Replace & SqlNode, findObject);
    case 'update':
      return updateStatement(node as Update & SqlNode, findObject);
    case 'delete':
      return deleteStatement(node as Delete & SqlNode, findObject);
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
