/**
 * A Collection whose first `size` resources are computed on demand from their index, so an
 * account with 1,000,000 profiles costs no memory until someone writes to it. Writes land in
 * an overlay: changed generated resources (by index), deleted indexes, and a MapCollection of
 * inserted resources. Iteration order is generated resources by index, then inserted ones.
 */
import { MapCollection, indexedAttributesOf, mergeResource } from './map-collection.js';
import { SortedIndexes, indexKey, type IndexSource, type SortedIndex } from './sorted-index.js';
import type { Collection, StoredResource } from './types.js';

/** What a lazy collection is generated from. Everything must be a pure function of the index. */
export interface LazySource {
  readonly type: string;
  /** How many generated resources there are (indexes 0 .. size-1). */
  readonly size: number;
  generate(index: number): StoredResource;
  idAt(index: number): string;
  /** The index whose id this is, or undefined when the id is not a generated one. */
  indexOf(id: string): number | undefined;
  /**
   * The indexes whose *generated* resource may have `attribute` = `value` (the collection
   * re-checks each one), or undefined when the source cannot tell and a scan is needed.
   */
  candidates(attribute: string, value: unknown): readonly number[] | undefined;
  /**
   * The sort key (sorted-index.ts indexKey) of `attribute` of generated resource `index`, when
   * the source can tell without generating it (a profile's `created` is a hash of the index);
   * undefined to generate the resource and read it. Must equal indexKey of the generated value.
   */
  keyAt?(attribute: string, index: number): number | null | undefined;
}

export class LazyCollection implements Collection {
  readonly type: string;
  private readonly changed = new Map<number, StoredResource>();
  private readonly deleted = new Set<number>();
  /** Changed generated resources by their current attribute values, for findBy. */
  private readonly changedIndex: MapCollection;
  private readonly inserted: MapCollection;
  private readonly sorted: SortedIndexes;

  constructor(private readonly source: LazySource) {
    this.type = source.type;
    this.changedIndex = new MapCollection(source.type, [], indexedAttributesOf(source.type));
    this.inserted = new MapCollection(source.type);
    this.sorted = new SortedIndexes((attribute) => this.indexSource(attribute));
  }

  sortedIndex(attribute: string): SortedIndex | null {
    return this.sorted.get(attribute);
  }

  /**
   * Positions below `size` are generated indexes, positions from `size` on are inserted
   * resources (in a copy of their order taken now), so an index costs no id strings.
   */
  private indexSource(attribute: string): IndexSource {
    const size = this.source.size;
    const insertedIds = [...this.inserted.values()].map((r) => r.id);
    const deleted = this.deleted;
    const keyAt = (p: number): number | null | undefined => {
      if (p >= size) return indexKey(this.inserted.get(insertedIds[p - size]!)?.attributes[attribute]);
      const changed = this.changed.get(p);
      if (changed) return indexKey(changed.attributes[attribute]);
      const fast = this.source.keyAt?.(attribute, p);
      return fast !== undefined ? fast : indexKey(this.source.generate(p).attributes[attribute]);
    };
    return {
      positions: {
        *[Symbol.iterator](): Generator<number> {
          for (let p = 0; p < size; p++) if (!deleted.has(p)) yield p;
          for (let j = 0; j < insertedIds.length; j++) yield size + j;
        },
      },
      keyAt,
      at: (p: number): StoredResource | undefined => {
        if (p >= size) return this.inserted.get(insertedIds[p - size]!);
        return this.isLive(p) ? this.current(p) : undefined;
      },
    };
  }

  /** Whether generated resource `index` still exists (memberships consult this). */
  isLive(index: number): boolean {
    return index >= 0 && index < this.source.size && !this.deleted.has(index);
  }

  /** Generated indexes that were deleted. */
  deletedIndexes(): ReadonlySet<number> {
    return this.deleted;
  }

  count(): number {
    return this.source.size - this.deleted.size + this.inserted.count();
  }

  get(id: string): StoredResource | undefined {
    const index = this.source.indexOf(id);
    if (index !== undefined && this.isLive(index)) return this.current(index);
    return this.inserted.get(id);
  }

  *values(): Iterable<StoredResource> {
    for (let index = 0; index < this.source.size; index++) {
      if (this.deleted.has(index)) continue;
      yield this.current(index);
    }
    yield* this.inserted.values();
  }

  findBy(attribute: string, value: unknown): StoredResource[] {
    const candidates = this.source.candidates(attribute, value);
    if (candidates === undefined) {
      const found: StoredResource[] = [];
      for (const resource of this.values()) if (resource.attributes[attribute] === value) found.push(resource);
      return found;
    }
    const hits = new Map<number, StoredResource>();
    for (const index of candidates) {
      if (!this.isLive(index) || this.changed.has(index)) continue;
      const resource = this.source.generate(index);
      if (resource.attributes[attribute] === value) hits.set(index, resource);
    }
    // Changed resources are answered from their current values, not the generated ones.
    for (const resource of this.changedIndex.findBy(attribute, value)) {
      hits.set(this.source.indexOf(resource.id)!, resource);
    }
    const generated = [...hits.entries()].sort((a, b) => a[0] - b[0]).map(([, resource]) => resource);
    return [...generated, ...this.inserted.findBy(attribute, value)];
  }

  insert(resource: StoredResource): StoredResource {
    if (this.get(resource.id)) {
      throw new Error(`A ${this.type} with id ${resource.id} already exists; pick a new id (store.newId).`);
    }
    this.sorted.invalidate();
    return this.inserted.insert(resource);
  }

  update(id: string, patch: Partial<Pick<StoredResource, 'attributes' | 'relationships'>>): StoredResource | undefined {
    this.sorted.invalidate();
    const index = this.source.indexOf(id);
    if (index === undefined || !this.isLive(index)) return this.inserted.update(id, patch);
    const next = mergeResource(this.current(index), patch);
    if (this.changed.has(index)) this.changedIndex.delete(id);
    this.changed.set(index, next);
    this.changedIndex.insert(next);
    return next;
  }

  delete(id: string): boolean {
    this.sorted.invalidate();
    const index = this.source.indexOf(id);
    if (index === undefined || !this.isLive(index)) return this.inserted.delete(id);
    this.deleted.add(index);
    if (this.changed.delete(index)) this.changedIndex.delete(id);
    return true;
  }

  private current(index: number): StoredResource {
    return this.changed.get(index) ?? this.source.generate(index);
  }
}
