/**
 * All objects klv knows, and finding one by any of the names users type: case-insensitive,
 * singular or plural, with or without hyphens and underscores (`campaigns`, `Campaign`,
 * `email-templates`, `list_members`).
 */
import { UsageError } from '../core/errors.js';
import { nearestNames, normalizeName } from './names.js';
import type { ObjectDefinition } from './types.js';
import { CATALOG } from './catalog/index.js';

export function allObjects(): readonly ObjectDefinition[] {
  return CATALOG;
}

function namesOf(def: ObjectDefinition): string[] {
  const base = [def.name, ...(def.aliases ?? [])].map(normalizeName);
  const forms = new Set<string>();
  for (const n of base) {
    forms.add(n);
    if (n.endsWith('ies')) forms.add(`${n.slice(0, -3)}y`);
    else if (n.endsWith('s')) forms.add(n.slice(0, -1));
    else forms.add(`${n}s`);
  }
  return [...forms];
}

let index: Map<string, ObjectDefinition> | undefined;

function lookup(): Map<string, ObjectDefinition> {
  if (!index) {
    index = new Map();
    for (const def of CATALOG) for (const n of namesOf(def)) if (!index.has(n)) index.set(n, def);
  }
  return index;
}

export function findObject(name: string): ObjectDefinition {
  const def = lookup().get(normalizeName(name));
  if (def) return def;
  const names = CATALOG.map((d) => d.name);
  const near = nearestNames(name, names);
  throw new UsageError(
    `Unknown object '${name}'.`,
    `${near.length > 0 ? `Did you mean ${near.join(' or ')}? ` : ''}'klv objects' lists them: ${names.join(', ')}.`,
  );
}
