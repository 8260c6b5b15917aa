/**
 * Column look-up and selection: canonical names, Klaviyo attribute aliases, and the dynamic
 * `Properties.<name>` columns that expand custom properties.
 */
import { UsageError } from '../core/errors.js';
import { nearestNames, normalizeName } from './names.js';
import type { ColumnDef, ObjectDefinition } from './types.js';

const PROPERTY_PREFIX = /^properties\.(.+)$/i;

/** A `Properties.<name>` column: one custom property, read from `attributes.properties.<name>`. */
export function propertyColumn(name: string): ColumnDef {
  return {
    name: `Properties.${name}`,
    type: 'json',
    description: `Custom property "${name}"`,
    path: `properties.${name}`,
    sparseField: 'properties',
  };
}

function hasProperties(def: ObjectDefinition): boolean {
  return def.columns.some((c) => c.name === 'Properties');
}

/** The column a name refers to (canonical name or a Klaviyo alias), or undefined. */
export function findColumn(def: ObjectDefinition, name: string): ColumnDef | undefined {
  const prop = PROPERTY_PREFIX.exec(name.trim());
  if (prop && hasProperties(def)) return propertyColumn(prop[1]);
  const n = normalizeName(name);
  return (
    def.columns.find((c) => normalizeName(c.name) === n) ??
    def.columns.find((c) => (c.aliases ?? []).some((a) => normalizeName(a) === n))
  );
}

/** Like findColumn, but a miss is a usage error naming the nearest columns. */
export function requireColumn(def: ObjectDefinition, name: string, context = 'column'): ColumnDef {
  const col = findColumn(def, name);
  if (col) return col;
  const names = def.columns.map((c) => c.name);
  const near = nearestNames(name, names);
  throw new UsageError(
    `${def.name} has no ${context} '${name}'.`,
    near.length > 0
      ? `Did you mean ${near.map((c) => `'${c}'`).join(' or ')}? 'klv describe ${def.name}' lists the columns.`
      : `'klv describe ${def.name}' lists the columns: ${names.join(', ')}.`,
  );
}

/**
 * The columns to produce: the named ones in the given order, or by default every column that is
 * not on demand (those cost extra requests or a slower rate-limit tier, so they are read only
 * when asked for). `properties` adds one `Properties.<name>` column per custom property.
 */
export function selectColumns(def: ObjectDefinition, names?: string[], opts: { properties?: string[] } = {}): ColumnDef[] {
  const chosen: ColumnDef[] = [];
  const seen = new Set<string>();
  const add = (c: ColumnDef) => {
    if (!seen.has(c.name)) {
      seen.add(c.name);
      chosen.push(c);
    }
  };
  if (names && names.length > 0) {
    for (const n of names.map((s) => s.trim()).filter(Boolean)) add(requireColumn(def, n));
  } else {
    for (const c of def.columns) if (!c.onDemand) add(c);
  }
  if (opts.properties && opts.properties.length > 0) {
    if (!hasProperties(def)) {
      throw new UsageError(`${def.name} has no custom properties, so --properties does not apply.`);
    }
    for (const p of opts.properties.map((s) => s.trim()).filter(Boolean)) add(propertyColumn(p));
  }
  return chosen;
}
