/**
 * A Collection kept in a Map: insertion order is creation order (what Klaviyo's default sort
 * returns), with exact-match indexes on the attributes clients look resources up by.
 */
import { SortedIndex, SortedIndexes, indexKey } from './sorted-index.js';
import type { Collection, StoredResource } from './types.js';

/** Attributes indexed for findBy, by type; every other type is indexed by `name`. */
export const INDEXED_ATTRIBUTES: Record<string, readonly string[]> = {
  profile: ['email', 'phone_number', 'external_id'],
  event: [],
  'campaign-message': [],
};

export function indexedAttributesOf(type: string): readonly string[] {
  return INDEXED_ATTRIBUTES[type] ?? ['name'];
}

/** Shallow-merges a patch into a resource, returning a new object (the old one is untouched). */
export function mergeResource(
  current: StoredResource,
  patch: Partial<Pick<StoredResource, 'attributes' | 'relationships'>>,
): StoredResource {
  return {
    type: current.type,
    id: current.id,
    attributes: patch.attributes ? { ...current.attributes, ...withoutUndefined(patch.attributes) } : current.attributes,
    relationships: patch.relationships
      ? { ...current.relationships, ...withoutUndefined(patch.relationships) }
      : current.relationships,
  };
}

// JSON has no undefined: a key the caller left undefined means "not in the patch".
function withoutUndefined<T>(record: Record<string, T | undefined>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
  return out;
}

/** Index: attribute -> string value -> ids holding it (a Set keeps insertion order). */
class AttributeIndex {
  private readonly byAttribute = new Map<string, Map<string, Set<string>>>();

  constructor(readonly attributes: readonly string[]) {
    for (const attribute of attributes) this.byAttribute.set(attribute, new Map());
  }

  covers(attribute: string): boolean {
    return this.byAttribute.has(attribute);
  }

  add(resource: StoredResource): void {
    for (const [attribute, values] of this.byAttribute) {
      const value = resource.attributes[attribute];
      if (typeof value !== 'string') continue;
      let ids = values.get(value);
      if (!ids) values.set(value, (ids = new Set()));
      ids.add(resource.id);
    }
  }

  remove(resource: StoredResource): void {
    for (const [attribute, values] of this.byAttribute) {
      const value = resource.attributes[attribute];
      if (typeof value !== 'string') continue;
      const ids = values.get(value);
      ids?.delete(resource.id);
      if (ids && ids.size === 0) values.delete(value);
    }
  }

  /** Ids whose attribute equals value; undefined when the index cannot answer (non-string). */
  lookup(attribute: string, value: unknown): Iterable<string> | undefined {
    if (typeof value !== 'string') return undefined;
    return this.byAttribute.get(attribute)?.get(value) ?? [];
  }
}

export class MapCollection implements Collection {
  private readonly items = new Map<string, StoredResource>();
  private readonly index: AttributeIndex;
  private readonly sorted = new SortedIndexes((attribute) => {
    // Positions are places in a copy of the creation order; the resource is looked up by id so
    // that an iterator resumed after a write sees the current resource (or none, once deleted).
    const ids = [...this.items.keys()];
    return {
      positions: ids.keys(),
      keyAt: (p) => indexKey(this.items.get(ids[p]!)!.attributes[attribute]),
      at: (p) => this.items.get(ids[p]!),
    };
  });

  constructor(
    readonly type: string,
    resources: Iterable<StoredResource> = [],
    indexed: readonly string[] = indexedAttributesOf(type),
  ) {
    this.index = new AttributeIndex(indexed);
    for (const resource of resources) this.insert(resource);
  }

  count(): number {
    return this.items.size;
  }

  /** The stored object itself: change it only through update(), or the indexes go stale. */
  get(id: string): StoredResource | undefined {
    return this.items.get(id);
  }

  values(): Iterable<StoredResource> {
    return this.items.values();
  }

  sortedIndex(attribute: string): SortedIndex | null {
    return this.sorted.get(attribute);
  }

  findBy(attribute: string, value: unknown): StoredResource[] {
    if (this.index.covers(attribute)) {
      const ids = this.index.lookup(attribute, value);
      if (ids) return [...ids].map((id) => this.items.get(id)!);
    }
    // Not indexed: a scan is still exact, just slower.
    const found: StoredResource[] = [];
    for (const resource of this.items.values()) if (resource.attributes[attribute] === value) found.push(resource);
    return found;
  }

  insert(resource: StoredResource): StoredResource {
    if (resource.type !== this.type) {
      throw new Error(`Cannot insert a ${resource.type} into the ${this.type} collection.`);
    }
    if (this.items.has(resource.id)) {
      throw new Error(`A ${this.type} with id ${resource.id} already exists; pick a new id (store.newId).`);
    }
    const stored: StoredResource = {
      type: resource.type,
      id: resource.id,
      attributes: resource.attributes ?? {},
      relationships: resource.relationships ?? {},
    };
    this.items.set(stored.id, stored);
    this.index.add(stored);
    this.sorted.invalidate();
    return stored;
  }

  update(id: string, patch: Partial<Pick<StoredResource, 'attributes' | 'relationships'>>): StoredResource | undefined {
    const current = this.items.get(id);
    if (!current) return undefined;
    const next = mergeResource(current, patch);
    this.index.remove(current);
    this.items.set(id, next);
    this.index.add(next);
    this.sorted.invalidate();
    return next;
  }

  delete(id: string): boolean {
    const current = this.items.get(id);
    if (!current) return false;
    this.index.remove(current);
    this.sorted.invalidate();
    return this.items.delete(id);
  }
}
