/**
 * Which Klaviyo operations each command calls for an object, derived from the catalog itself: a
 * read is what the object's plan requests (every column, on-demand ones included, plus the
 * follow-ups its execution may add); an import operation is what its handler declares it calls;
 * a sync reads the object and inserts, updates and deletes. `klv doctor` turns these into scopes
 * with the spec's metadata (OPERATIONS[op].scopes).
 */
import { UsageError } from '../core/errors.js';
import type { OperationId } from '../klaviyo/generated/api-metadata.js';
import type { ObjectDefinition, Operation, ReadRequest } from './types.js';

/** The operations a sync writes with, as it sends each side's inserts, updates and deletes. */
const SYNC_WRITES: readonly Operation[] = ['insert', 'update', 'delete'];

/** The operations a read of every column of `def` may call, planned requests first. */
export function readOperations(def: ObjectDefinition): OperationId[] {
  const plan = planEverything(def);
  return unique([...plan.requests.map((r) => r.operationId as OperationId), ...(plan.followUps ?? [])]);
}

/** The operations any import with `operation` may call; [] when the object does not support it. */
export function writeOperations(def: ObjectDefinition, operation: Operation): OperationId[] {
  return unique([...(def.write?.[operation]?.calls ?? [])]);
}

/** The operations an import with `operation` calls only in some runs, and when (`--list`). */
export function conditionalWriteOperations(def: ObjectDefinition, operation: Operation): Array<{ when: string; operations: OperationId[] }> {
  return (def.write?.[operation]?.conditionalCalls ?? []).map((c) => ({ when: c.when, operations: unique([...c.calls]) }));
}

/** The operations `klv sync` may call for `def`: its read and its three writes (sync passes no import options). */
export function syncOperations(def: ObjectDefinition): OperationId[] {
  return unique([...readOperations(def), ...SYNC_WRITES.flatMap((op) => writeOperations(def, op))]);
}

/**
 * The plan of a read of every column, archived records included. An object that looks people up
 * rather than listing them (ListSubscribe refuses a read without an Email condition) is planned
 * for a lookup by Email: the same requests, narrowed.
 */
function planEverything(def: ObjectDefinition) {
  const request: ReadRequest = { columns: [...def.columns], where: [], options: { includeArchived: true } };
  try {
    return def.plan(request);
  } catch (err) {
    if (!(err instanceof UsageError) || !def.columns.some((c) => c.name === 'Email')) throw err;
    return def.plan({ ...request, where: [{ column: 'Email', op: '=', value: 'someone@example.com' }] });
  }
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
