/**
 * Turns stored resources into what Klaviyo sends: attributes trimmed to what the request asked
 * for (additional-fields, sparse fieldsets with dotted sub-fields), relationships with their
 * `links` and identifiers, and a `links.self` on every resource, all as full URLs.
 */
import type { RelationshipData, StoredResource } from '../store/types.js';
import { additionalAttributes, relationshipNames, typePath } from './resource-meta.js';

export interface JsonApiResource {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  relationships?: Record<string, { data?: RelationshipData; links: { self: string; related: string } }>;
  links: { self: string };
}

export interface RenderOptions {
  baseUrl: string;
  /** fields[type] for this resource's type; all attributes when undefined. */
  fields?: string[];
  /** additional-fields[type] for this resource's type. */
  additional?: string[];
  /** Values of computed additional attributes (list/segment `profile_count`), by name. */
  computed?: (name: string) => unknown;
  /** Attributes that depend on how the resource was reached (`joined_group_at` of a list member). */
  extraAttributes?: Record<string, unknown>;
  /** Relationship data the store does not hold (a profile's lists), for relationships being included. */
  relationshipData?: Record<string, RelationshipData>;
}

export function renderResource(resource: StoredResource, o: RenderOptions): JsonApiResource {
  const hidden = additionalAttributes(resource.type);
  const requested = new Set(o.additional ?? []);
  let attributes: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(resource.attributes)) {
    if (hidden.has(name) && !requested.has(name)) continue;
    attributes[name] = value;
  }
  for (const name of requested) {
    if (!(name in attributes) && o.computed) {
      const value = o.computed(name);
      if (value !== undefined) attributes[name] = value;
    }
  }
  if (o.extraAttributes) Object.assign(attributes, o.extraAttributes);
  if (o.fields) attributes = pickPaths(attributes, o.fields.filter((f) => f !== 'id'));

  const self = `${o.baseUrl}${typePath(resource.type)}/${encodeURIComponent(resource.id)}/`;
  const out: JsonApiResource = { type: resource.type, id: resource.id, attributes, links: { self } };
  const names = relationshipNames(resource.type);
  if (names.length > 0) {
    const relationships: NonNullable<JsonApiResource['relationships']> = {};
    for (const name of names) {
      const rel: { data?: RelationshipData; links: { self: string; related: string } } = {
        links: { self: `${self}relationships/${name}/`, related: `${self}${name}/` },
      };
      const data = o.relationshipData?.[name] ?? resource.relationships[name];
      // Null data is left out rather than sent: the spec's relationship schemas do not allow null.
      if (data !== undefined && data !== null) rel.data = copyIdentifiers(data);
      relationships[name] = rel.data === undefined ? { links: rel.links } : { data: rel.data, links: rel.links };
    }
    out.relationships = relationships;
  }
  return out;
}

function copyIdentifiers(data: RelationshipData): RelationshipData {
  if (data === null) return null;
  if (Array.isArray(data)) return data.map((d) => ({ type: d.type, id: d.id }));
  return { type: data.type, id: data.id };
}

/**
 * Keeps only the given attribute paths: `location.city` keeps `{location: {city}}`. A path
 * that reaches into an array keeps the whole array (Klaviyo's field lists stop at arrays).
 */
export function pickPaths(source: Record<string, unknown>, paths: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // Shorter paths first: once `location` is kept whole, `location.city` adds nothing (and
  // descending into the kept object would write into the store's own data).
  const whole: string[] = [];
  for (const path of [...paths].sort((a, b) => a.length - b.length)) {
    if (whole.some((w) => path.startsWith(`${w}.`))) continue;
    whole.push(path);
    const keys = path.split('.');
    let from: unknown = source;
    let to: Record<string, unknown> = out;
    for (let i = 0; i < keys.length; i++) {
      if (from === null || typeof from !== 'object' || Array.isArray(from)) break;
      const key = keys[i];
      if (!(key in (from as Record<string, unknown>))) break;
      const value = (from as Record<string, unknown>)[key];
      const last = i === keys.length - 1;
      if (last || value === null || typeof value !== 'object' || Array.isArray(value)) {
        to[key] = value;
        break;
      }
      const existing = to[key];
      to = (to[key] = existing && typeof existing === 'object' && !Array.isArray(existing) ? existing : {}) as Record<string, unknown>;
      from = value;
    }
  }
  return out;
}
