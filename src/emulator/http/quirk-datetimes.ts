/**
 * The datetime quirks, as pure functions on values, documents and filter conditions.
 *
 * `microseconds`: Klaviyo renders datetimes with six fraction digits and a +00:00 offset
 * (`2024-05-13T08:01:45.276362+00:00`). The emulator stores whole milliseconds, so the three
 * digits below them are synthetic: a hash of the stored millisecond value, from 1 to 999 (never
 * 000, so a client that truncates to milliseconds always changes the value). Because they depend
 * on the stored value alone, rendering is strictly increasing in it: sorting on the stored value
 * IS sorting on the rendered one, and a filter on a rendered value can be turned into an exact
 * filter on stored milliseconds (microsecondConditions), which the sorted indexes still serve.
 * So a client filtering `greater-than(created, <a rendered value>)` gets exactly the rows after it.
 *
 * `space-datetimes`: some attributes come as `YYYY-MM-DD HH:MM:SS` with a space instead of the
 * `T` (offset and fraction kept as the other form has them). Which ones is SPACE_DATETIMES.
 *
 * Which attributes are datetimes comes from the spec (format date-time, nested ones included).
 */
import { RESOURCES } from '../../klaviyo/generated/api-metadata.js';
import type { AttributeTypeMeta } from '../../klaviyo/api-metadata-types.js';
import { hash32, hashString } from '../store/prng.js';
import type { Condition } from './filter-validator.js';
import type { DatetimeValue } from './filter-parser.js';

/**
 * The attributes rendered with a space by `space-datetimes`, by resource type. One table, to be
 * adjusted as research on which endpoints do it goes on.
 */
export const SPACE_DATETIMES: Readonly<Record<string, readonly string[]>> = {
  event: ['datetime'],
  profile: ['created', 'updated'],
  campaign: ['created_at', 'scheduled_at', 'send_time', 'updated_at'],
};

export interface DatetimeQuirks {
  microseconds: boolean;
  spaceDatetimes: boolean;
}

const SALT = hashString('microseconds');
/** A Klaviyo-style datetime with an offset; date-only or offset-less values are left as they are. */
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** The synthetic digits below the millisecond for a stored time: 1..999. */
export function syntheticMicros(ms: number): number {
  return 1 + (hash32(SALT, Math.floor(ms / 2 ** 32), ms >>> 0) % 999);
}

/** `2024-05-13T08:01:45.276362+00:00` for a stored time in ms. */
export function microsecondForm(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}${String(syntheticMicros(ms)).padStart(3, '0')}+00:00`;
}

/** Which of the datetime quirks changed something. */
export interface DatetimeChanges {
  microseconds: boolean;
  spaceDatetimes: boolean;
}

/**
 * One datetime value as the quirks render it (the same string when it is not a datetime);
 * `changes` (when given) learns which quirk changed it.
 */
export function renderDatetime(value: string, attribute: { space: boolean }, q: DatetimeQuirks, changes?: DatetimeChanges): string {
  if (!DATETIME.test(value)) return value;
  let out = value;
  if (q.microseconds) {
    const ms = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
    if (!Number.isNaN(ms)) out = microsecondForm(ms);
    if (changes && out !== value) changes.microseconds = true;
  }
  if (attribute.space && q.spaceDatetimes) {
    out = out.replace('T', ' ');
    if (changes) changes.spaceDatetimes = true;
  }
  return out;
}

interface DatetimeTree {
  /** This value is a datetime. */
  self: boolean;
  /** Datetimes below, by property name (array levels are transparent). */
  children: Map<string, DatetimeTree>;
}

const trees = new Map<string, Map<string, DatetimeTree>>();

/** The datetime attributes of a type, as a tree of the spec's attribute schemas. */
function datetimeTree(type: string): Map<string, DatetimeTree> {
  let tree = trees.get(type);
  if (!tree) {
    tree = new Map();
    for (const [name, meta] of Object.entries(RESOURCES[type]?.attributes ?? {})) {
      const node = treeOf(meta);
      if (node) tree.set(name, node);
    }
    trees.set(type, tree);
  }
  return tree;
}

function treeOf(meta: AttributeTypeMeta): DatetimeTree | null {
  const inner = meta.items ?? meta;
  const children = new Map<string, DatetimeTree>();
  for (const [name, child] of Object.entries(inner.properties ?? {})) {
    const node = treeOf(child);
    if (node) children.set(name, node);
  }
  const self = inner.format === 'date-time';
  return self || children.size > 0 ? { self, children } : null;
}

/** Dotted paths (array levels skipped) of a type's datetime attributes: the filter fields microseconds rewrites. */
export function datetimePaths(type: string): Set<string> {
  const out = new Set<string>();
  const walk = (tree: Map<string, DatetimeTree>, prefix: string) => {
    for (const [name, node] of tree) {
      const path = prefix ? `${prefix}.${name}` : name;
      if (node.self) out.add(path);
      walk(node.children, path);
    }
  };
  walk(datetimeTree(type), '');
  return out;
}

/**
 * Rewrites the datetimes of every resource in a JSON:API document (data and included) IN PLACE:
 * give it a copy. Returns which quirks changed a value.
 */
export function rewriteDocumentDatetimes(doc: unknown, q: DatetimeQuirks): DatetimeChanges {
  const changes: DatetimeChanges = { microseconds: false, spaceDatetimes: false };
  if (!q.microseconds && !q.spaceDatetimes) return changes;
  if (doc === null || typeof doc !== 'object') return changes;
  const { data, included } = doc as { data?: unknown; included?: unknown };
  for (const resource of [...asList(data), ...asList(included)]) {
    if (resource === null || typeof resource !== 'object') continue;
    const { type, attributes } = resource as { type?: unknown; attributes?: unknown };
    if (typeof type !== 'string' || attributes === null || typeof attributes !== 'object') continue;
    const spaced = new Set(SPACE_DATETIMES[type] ?? []);
    for (const [name, node] of datetimeTree(type)) {
      const attrs = attributes as Record<string, unknown>;
      if (!(name in attrs)) continue;
      attrs[name] = rewriteValue(attrs[name], node, { space: spaced.has(name) }, q, changes);
    }
  }
  return changes;
}

function rewriteValue(value: unknown, node: DatetimeTree, attribute: { space: boolean }, q: DatetimeQuirks, changes: DatetimeChanges): unknown {
  if (Array.isArray(value)) {
    const items = value.map((v) => rewriteValue(v, node, attribute, q, changes));
    return items.some((v, i) => v !== value[i]) ? items : value;
  }
  if (typeof value === 'string') return node.self ? renderDatetime(value, attribute, q, changes) : value;
  if (value === null || typeof value !== 'object' || node.children.size === 0) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [name, child] of node.children) {
    const current = (value as Record<string, unknown>)[name];
    if (current === undefined) continue;
    // Nested values are never spaced: the table names top-level attributes.
    const next = rewriteValue(current, child, { space: false }, q, changes);
    if (next !== current) (copy ??= { ...(value as Record<string, unknown>) })[name] = next;
  }
  // A copy, never the object itself, in case the document shares objects with the store.
  return copy ?? value;
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

/**
 * Filter conditions on the rendered (microsecond) values of `type`'s datetimes, as exact
 * conditions on the stored milliseconds. With V = the filter's value in µs, m = its whole
 * milliseconds, v = its digits below them and F = the synthetic digits of m, a stored time t
 * renders as t·1000 + F(t), so e.g. `rendered > V` holds when t > m, or t = m and F(m) > v.
 */
export function microsecondConditions(conditions: readonly Condition[], type: string): { conditions: Condition[]; changed: boolean } {
  const paths = datetimePaths(type);
  let changed = false;
  const out: Condition[] = [];
  for (const c of conditions) {
    const value = c.value as DatetimeValue | null | undefined;
    if (!paths.has(c.field) || value === null || typeof value !== 'object' || Array.isArray(value) || value.kind !== 'datetime') {
      out.push(c);
      continue;
    }
    const m = value.ms;
    const v = subMillisecondDigits(value.text);
    const f = syntheticMicros(m);
    const at = (operator: string): Condition => ({ ...c, operator, value: { kind: 'datetime', text: new Date(m).toISOString(), ms: m } });
    changed = true;
    switch (c.operator) {
      case 'greater-than':
        out.push(at(f > v ? 'greater-or-equal' : 'greater-than'));
        break;
      case 'greater-or-equal':
        out.push(at(f >= v ? 'greater-or-equal' : 'greater-than'));
        break;
      case 'less-than':
        out.push(at(f < v ? 'less-or-equal' : 'less-than'));
        break;
      case 'less-or-equal':
        out.push(at(f <= v ? 'less-or-equal' : 'less-than'));
        break;
      case 'equals':
        // No stored time renders as V when its digits differ: a pair of conditions nothing meets.
        if (f === v) out.push(at('equals'));
        else out.push(at('greater-than'), at('less-than'));
        break;
      default:
        out.push(c);
    }
  }
  return { conditions: out, changed };
}

/** The digits of a written datetime below the millisecond (`.276362` -> 362; none -> 0). */
function subMillisecondDigits(text: string): number {
  const m = /T\d{2}:\d{2}:\d{2}\.(\d+)/.exec(text);
  if (!m) return 0;
  return Number(m[1]!.slice(3, 6).padEnd(3, '0'));
}
