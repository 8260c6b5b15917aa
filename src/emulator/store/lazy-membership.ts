/**
 * A list's or segment's members as a Map (profileId -> joined_group_at) whose initial members are
 * a pure function of the generated profile's index. The handlers use it exactly like a Map;
 * writes go to an overlay, so adding, removing and re-timing members stays correct, and a
 * generated profile that is deleted from the profile collection drops out of the list by itself.
 */

export interface GeneratedMembers {
  /** How many generated profiles there are (indexes 0 .. size-1). */
  readonly size: number;
  isMember(index: number): boolean;
  joinedAt(index: number): string;
  idAt(index: number): string;
  indexOf(id: string): number | undefined;
  /** False once the generated profile was deleted. */
  isLive(index: number): boolean;
  deletedIndexes(): ReadonlySet<number>;
}

export class LazyMemberMap implements Map<string, string> {
  /** Generated members removed through delete() (or all of them, after clear()). */
  private readonly removed = new Set<number>();
  private allGeneratedRemoved = false;
  private readonly retimed = new Map<number, string>();
  /** Members that are not generated ones, in insertion order. */
  private readonly added = new Map<string, string>();
  private generatedCount: number | undefined;

  constructor(private readonly members: GeneratedMembers) {}

  get [Symbol.toStringTag](): string {
    return 'Map';
  }

  get size(): number {
    if (this.allGeneratedRemoved) return this.added.size;
    let gone = this.removed.size;
    for (const index of this.members.deletedIndexes()) {
      if (this.members.isMember(index) && !this.removed.has(index)) gone++;
    }
    return this.countGenerated() - gone + this.added.size;
  }

  has(id: string): boolean {
    return this.added.has(id) || this.generatedIndex(id) !== undefined;
  }

  get(id: string): string | undefined {
    const added = this.added.get(id);
    if (added !== undefined) return added;
    const index = this.generatedIndex(id);
    return index === undefined ? undefined : this.joinedAt(index);
  }

  set(id: string, joinedAt: string): this {
    const index = this.generatedIndex(id);
    if (index !== undefined) this.retimed.set(index, joinedAt);
    else this.added.set(id, joinedAt);
    return this;
  }

  delete(id: string): boolean {
    if (this.added.delete(id)) return true;
    const index = this.generatedIndex(id);
    if (index === undefined) return false;
    this.removed.add(index);
    this.retimed.delete(index);
    return true;
  }

  clear(): void {
    this.allGeneratedRemoved = true;
    this.removed.clear();
    this.retimed.clear();
    this.added.clear();
  }

  forEach(callback: (value: string, key: string, map: Map<string, string>) => void, thisArg?: unknown): void {
    for (const [id, joinedAt] of this.generateEntries()) callback.call(thisArg, joinedAt, id, this);
  }

  entries(): MapIterator<[string, string]> {
    return this.generateEntries() as MapIterator<[string, string]>;
  }

  keys(): MapIterator<string> {
    return mapIterator(this.generateEntries(), ([id]) => id);
  }

  values(): MapIterator<string> {
    return mapIterator(this.generateEntries(), ([, joinedAt]) => joinedAt);
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  private *generateEntries(): Generator<[string, string], undefined, unknown> {
    if (!this.allGeneratedRemoved) {
      for (let index = 0; index < this.members.size; index++) {
        if (this.isPresent(index)) yield [this.members.idAt(index), this.joinedAt(index)];
      }
    }
    yield* this.added.entries();
  }

  /** The generated index of a current generated member with this id, else undefined. */
  private generatedIndex(id: string): number | undefined {
    if (this.allGeneratedRemoved) return undefined;
    const index = this.members.indexOf(id);
    return index !== undefined && this.isPresent(index) ? index : undefined;
  }

  private isPresent(index: number): boolean {
    return this.members.isMember(index) && this.members.isLive(index) && !this.removed.has(index);
  }

  private joinedAt(index: number): string {
    return this.retimed.get(index) ?? this.members.joinedAt(index);
  }

  private countGenerated(): number {
    if (this.generatedCount === undefined) {
      let count = 0;
      for (let index = 0; index < this.members.size; index++) if (this.members.isMember(index)) count++;
      this.generatedCount = count;
    }
    return this.generatedCount;
  }
}

function* mapGenerator<T, U>(source: Iterable<T>, fn: (item: T) => U): Generator<U, undefined, unknown> {
  for (const item of source) yield fn(item);
  return undefined;
}

function mapIterator<T, U>(source: Iterable<T>, fn: (item: T) => U): MapIterator<U> {
  return mapGenerator(source, fn) as MapIterator<U>;
}
