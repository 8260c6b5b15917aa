/**
 * ObjectDefinition -> TableSpec: the table `klv replicate` keeps for one catalog object.
 *
 * Columns are the object's default columns (those `klv export` reads without being asked): the
 * on-demand ones cost an extra request per row or a slower rate-limit tier, which a job that runs
 * every 15 minutes cannot afford. Reference columns (`ListId`, `ProfileId`, `MetricId` ...) are
 * indexed, because those are what people join on; a reference that already leads the primary key
 * is left out (the key's own index serves it).
 */
import type { ColumnDef, ObjectDefinition } from '../objects/types.js';
import type { TableSpec } from './destination.js';

/** `ListMembers` -> `list_members`, `EmailTemplates` -> `email_templates`. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toLowerCase();
}

export function tableName(def: Pick<ObjectDefinition, 'name'>, tablePrefix = ''): string {
  return `${tablePrefix}${snakeCase(def.name)}`;
}

/** The columns replicated: every column that is not on demand, in catalog order. */
export function replicatedColumns(def: ObjectDefinition): ColumnDef[] {
  return def.columns.filter((c) => !c.onDemand);
}

export function keyColumns(def: ObjectDefinition): ColumnDef[] {
  return def.key.map((k) => {
    const c = def.columns.find((col) => col.name === k);
    if (!c) throw new Error(`${def.name}: key column ${k} is not among its columns`);
    return c;
  });
}

export function tableSpec(def: ObjectDefinition, opts: { tablePrefix?: string } = {}): TableSpec {
  const columns = replicatedColumns(def);
  for (const k of def.key) {
    if (!columns.some((c) => c.name === k)) columns.unshift(keyColumns(def).find((c) => c.name === k)!);
  }
  const indexes = columns
    .filter((c) => c.name !== 'Id' && c.name.endsWith('Id') && c.type === 'id')
    .filter((c) => def.key[0] !== c.name)
    .map((c) => [c.name]);
  return {
    name: tableName(def, opts.tablePrefix ?? ''),
    columns: columns.map((c) => ({ name: c.name, type: c.type })),
    primaryKey: [...def.key],
    indexes,
  };
}
