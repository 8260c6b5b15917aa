/**
 * `klv query` writes: which object and columns a statement may change. The object's handler for
 * the operation, the columns it takes (the import's mapping rule), the columns that identify a
 * record, and the usage errors that name what is possible instead.
 */
import { UsageError } from '../core/errors.js';
import { findColumn } from '../objects/columns.js';
import { nearestNames } from '../objects/names.js';
import type { ColumnDef, ObjectDefinition, Operation } from '../objects/types.js';
import type { OperationHandler } from '../objects/write/types.js';
import { hasPropertiesColumn, isPropertyColumnName, noPropertiesError } from './properties.js';

/** SQL's word for each import operation, for messages. */
export const SQL_VERB: Record<Operation, string> = { insert: 'INSERT', update: 'UPDATE', delete: 'DELETE', upsert: 'upsert' };

export function handlerOf(def: ObjectDefinition, operation: Operation): OperationHandler {
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

export function usableColumns(def: ObjectDefinition, handler: OperationHandler): string[] {
  return def.columns.filter((c) => takes(handler, c)).map((c) => c.name);
}

/** A column named in the statement, resolved; unknown names suggest the nearest ones. */
export function columnOf(def: ObjectDefinition, name: string, where: string): ColumnDef {
  const col = findColumn(def, name);
  if (col) return col;
  if (isPropertyColumnName(name) && !hasPropertiesColumn(def)) throw noPropertiesError(def, name, where);
  const near = nearestNames(name, def.columns.map((c) => c.name));
  throw new UsageError(
    `${where}: ${def.name} has no column '${name}'.`,
    near.length > 0 ? `Did you mean ${near.map((n) => `'${n}'`).join(' or ')}? 'klv describe ${def.name}' lists the columns.` : `'klv describe ${def.name}' lists the columns.`,
  );
}

export function writableColumn(def: ObjectDefinition, handler: OperationHandler, name: string, where: string): ColumnDef {
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
    else keys.push(req.includes('Id') ? 'Id' : req[0]!);
  }
  return keys.filter((k) => findColumn(def, k) !== undefined);
}
