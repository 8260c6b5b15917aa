/**
 * `klv query` writes: which records an UPDATE or DELETE changes. `WHERE Id = '...'` or `Id IN
 * (...)` names them; any other AND of conditions is read first (pushed down where the endpoint
 * can filter). The conditions are the ones --where gives for the same text (query/conditions.ts,
 * strict mode): what cannot be translated exactly is refused, never guessed.
 */
import { UsageError } from '../core/errors.js';
import type { Condition, ObjectDefinition } from '../objects/types.js';
import { conjunctConditions, conjuncts } from './conditions.js';
import { isPropertyColumnName } from './properties.js';
import { identifier, isColumnRef, isNode, type SqlNode } from './sql-ast.js';
import { columnOf } from './write-columns.js';

/** Which existing records an UPDATE or DELETE changes. */
export type Selection =
  /** `WHERE Id = '...'` or `WHERE Id IN (...)`: those ids, no read needed. */
  | { kind: 'ids'; ids: string[] }
  /** Any other AND of comparisons: read the matching records (pushed down where possible) for their keys. */
  | { kind: 'where'; conditions: Condition[] };

const WHERE_HINT = "Use AND-ed comparisons (=, !=, <, <=, >, >=), IN (...), LIKE 'text%', BETWEEN, IS [NOT] NULL on the object's columns, or WHERE Id IN ('...', '...').";

/**
 * The column a WHERE operand names: a column reference, or a double-quoted name of a column
 * (`"Properties.tier"`: the parser's SQLite dialect reads it as a string; standard SQL and SQLite
 * read an identifier when it names a column). Unknown column names are usage errors.
 */
function operandColumn(def: ObjectDefinition, verb: string) {
  return (n: unknown) => {
    let name: string | undefined;
    if (isColumnRef(n)) {
      name = identifier(n.column);
      if (name === undefined) throw new UsageError(`${verb} ... WHERE: a column that is not a plain name is not supported in the WHERE of a write.`, WHERE_HINT);
    } else if (isNode(n) && n.type === 'double_quote_string' && typeof n.value === 'string') {
      const text = n.value;
      if (isPropertyColumnName(text) || def.columns.some((c) => c.name.toLowerCase() === text.toLowerCase())) name = text;
    }
    return name === undefined ? undefined : { table: def.name, column: columnOf(def, name, `${verb} ... WHERE`) };
  };
}

function whereConditions(where: SqlNode, def: ObjectDefinition, verb: string): Condition[] {
  const resolve = operandColumn(def, verb);
  const out: Condition[] = [];
  for (const conjunct of conjuncts(where)) {
    const found = conjunctConditions(conjunct, resolve, 'strict');
    if ('conditions' in found) out.push(...found.conditions);
    else if ('invalid' in found) throw new UsageError(`${verb} ... WHERE: ${found.invalid}.`, WHERE_HINT);
    else throw new UsageError(`${verb} ... WHERE: ${found.unsupported} is not supported in the WHERE of a write.`, WHERE_HINT);
  }
  return out;
}

/** `Id = 'x'` or `Id IN ('x', 'y')` alone: the ids themselves, nothing to read. */
function idsOnly(conditions: readonly Condition[]): string[] | undefined {
  const c = conditions[0];
  if (conditions.length !== 1 || c?.column !== 'Id') return undefined;
  if (c.op === '=' && typeof c.value === 'string') return [c.value];
  if (c.op === 'in' && Array.isArray(c.value) && c.value.every((v): v is string => typeof v === 'string')) return [...new Set(c.value)];
  return undefined;
}

/** `Lists` -> `list`, `EmailTemplates` -> `email template` (for "every list"). */
function objectWord(def: ObjectDefinition): string {
  const words = def.name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.endsWith('ies') ? `${words.slice(0, -3)}y` : words.replace(/s$/, '');
}

/** The records a statement's WHERE selects; no WHERE is refused (it would change every record). */
export function selectionOf(where: unknown, def: ObjectDefinition, verb: 'UPDATE' | 'DELETE', keys: readonly string[]): Selection {
  if (!isNode(where)) {
    if (verb === 'DELETE') {
      throw new UsageError(
        `DELETE without WHERE would delete every ${objectWord(def)}: klv refuses it.`,
        `Write WHERE Id IN (...) to name the ${def.name} to delete ('klv query "SELECT Id, ${def.columns.find((c) => c.name === 'Name') ? 'Name' : keys.join(', ')} FROM ${def.name}"' lists them).`,
      );
    }
    throw new UsageError(`UPDATE without WHERE would change every ${objectWord(def)}: klv refuses it.`, `Write WHERE Id IN (...) to name the ${def.name} to change.`);
  }
  const conditions = whereConditions(where, def, verb);
  const ids = keys.length === 1 && keys[0] === 'Id' ? idsOnly(conditions) : undefined;
  return ids ? { kind: 'ids', ids } : { kind: 'where', conditions };
}
