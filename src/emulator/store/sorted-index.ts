/**
 * A collection's resources ordered by one datetime or numeric attribute, so that a range filter
 * on that attribute (`and(greater-than(created,A),less-than(created,B))`) narrows the candidates
 * by binary search, and `sort=created` pages walk the order instead of scanning and sorting
 * every resource on each request. Exporters read large accounts as concurrent time slices, each
 * paged by cursor: without this, every page of every slice of a 1,000,000-profile account
 * would generate all the profiles.
 *
 * The index holds numbers only (keys in a Float64Array, source positions in a Uint32Array):
 * 12 bytes per resource, so a million profiles cost 12 MB. Collections build it lazily, on the
 * first request that can use it, and drop it on any write (see MapCollection, LazyCollection).
 */
import type { StoredResource } from './types.js';

/**
 * The key of an attribute value, as the filter evaluator and the sort compare it: epoch ms for
 * an ISO 8601 datetime, the number itself for a number, null for null or absent. undefined when
 * the value cannot be ordered as a number (free text, objects): the attribute is not indexable.
 */
export function indexKey(value: unknown): number | null | undefined {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** Bounds on the key, from a filter's comparisons; either side may be open. */
export interface KeyRange {
  min?: { key: number; inclusive: boolean };
  max?: { key: number; inclusive: boolean };
}

/** What an index is built from: the collection's resources by source position (creation order). */
export interface IndexSource {
  /** Source positions to index, ascending (gaps allowed: deleted resources are left out). */
  positions: Iterable<number>;
  /** The key at a position; undefined when the value is not indexable (the build is abandoned). */
  keyAt(position: number): number | null | undefined;
  /** The current resource at a position, or undefined when it is gone. */
  at(position: number): StoredResource | undefined;
}

/** Nulls sort first (as the emulator's sort puts never-set values first); they hold this key. */
const NULL_KEY = -Infinity;

export class SortedIndex {
  /**
   * @param keys ascending by rank, NULL_KEY for nulls (which therefore come first)
   * @param positions source position of each rank; ties keep source order
   */
  private constructor(
    private readonly keys: Float64Array,
    private readonly positions: Uint32Array,
    readonly nullCount: number,
    private readonly at: (position: number) => StoredResource | undefined,
  ) {}

  /** Builds the index, or returns null when some value is not indexable. */
  static build(source: IndexSource): SortedIndex | null {
    const positionList: number[] = [];
    const keyList: number[] = [];
    let sorted = true;
    let nulls = 0;
    let previous = NULL_KEY;
    for (const position of source.positions) {
      const key = source.keyAt(position);
      if (key === undefined) return null;
      const k = key === null ? NULL_KEY : key;
      if (key === null) nulls++;
      if (k < previous) sorted = false;
      previous = k;
      positionList.push(position);
      keyList.push(k);
    }
    const n = positionList.length;
    const keys = new Float64Array(n);
    const positions = new Uint32Array(n);
    if (sorted) {
      // Creation order is often key order already (created, datetime of events): no sort needed.
      keys.set(keyList);
      positions.set(positionList);
    } else {
      const ranks = new Uint32Array(n);
      for (let i = 0; i < n; i++) ranks[i] = i;
      // Ties broken by source order, so the order is the same as a stable sort of the scan.
      ranks.sort((a, b) => keyList[a]! - keyList[b]! || a - b);
      for (let r = 0; r < n; r++) {
        keys[r] = keyList[ranks[r]!]!;
        positions[r] = positionList[ranks[r]!]!;
      }
    }
    return new SortedIndex(keys, positions, nulls, source.at);
  }

  get length(): number {
    return this.keys.length;
  }

  /** The key at a rank; null for a null value. */
  keyAt(rank: number): number | null {
    const k = this.keys[rank]!;
    return k === NULL_KEY ? null : k;
  }

  positionAt(rank: number): number {
    return this.positions[rank]!;
  }

  resourceAt(rank: number): StoredResource | undefined {
    return this.at(this.positions[rank]!);
  }

  resourceAtPosition(position: number): StoredResource | undefined {
    return this.at(position);
  }

  /** The first rank whose key is >= key (> key when `after`). */
  lowerBound(key: number, after = false): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = this.keys[mid]!;
      if (k < key || (after && k === key)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Ranks [lo, hi) whose key lies in the range. A comparison never matches a null value, so
   * nulls are left out as soon as the range has a bound; without bounds every rank is in.
   */
  range(range: KeyRange): [number, number] {
    if (!range.min && !range.max) return [0, this.keys.length];
    let lo = this.nullCount;
    let hi = this.keys.length;
    if (range.min) lo = Math.max(lo, this.lowerBound(range.min.key, !range.min.inclusive));
    if (range.max) hi = Math.min(hi, this.lowerBound(range.max.key, range.max.inclusive));
    return [lo, Math.max(lo, hi)];
  }

  /**
   * Ranks of [lo, hi) in key order, from the `skip`-th one on. Descending order keeps equal keys
   * in source order, exactly as a stable sort with a reversed comparison does, so a cursor means
   * the same position whether the page was served from the index or from a scan.
   */
  *walk(lo: number, hi: number, descending: boolean, skip = 0): Generator<number> {
    if (!descending) {
      for (let rank = lo + skip; rank < hi; rank++) yield rank;
      return;
    }
    // Position `skip` of the descending order: find its group of equal keys.
    const top = hi - 1 - skip;
    if (top < lo) return;
    let start = this.groupStart(top, lo);
    let end = this.groupEnd(top, hi);
    // Groups come highest first; inside a group ranks go up. `skip` counted whole groups above
    // this one (hi - 1 - end items) plus some of this group's first items.
    let first = start + (skip - (hi - 1 - end));
    for (;;) {
      for (let rank = first; rank <= end; rank++) yield rank;
      if (start <= lo) return;
      end = start - 1;
      start = this.groupStart(end, lo);
      first = start;
    }
  }

  private groupStart(rank: number, lo: number): number {
    return Math.max(lo, this.lowerBound(this.keys[rank]!));
  }

  private groupEnd(rank: number, hi: number): number {
    return Math.min(hi, this.lowerBound(this.keys[rank]!, true)) - 1;
  }
}

/** Caches a collection's indexes by attribute until the next write. */
export class SortedIndexes {
  readonly #built = new Map<string, SortedIndex | null>();

  constructor(private readonly sourceFor: (attribute: string) => IndexSource) {}

  get(attribute: string): SortedIndex | null {
    let index = this.#built.get(attribute);
    if (index === undefined) {
      index = SortedIndex.build(this.sourceFor(attribute));
      this.#built.set(attribute, index);
    }
    return index;
  }

  /** Every write calls this: an index must never answer for data it was not built from. */
  invalidate(): void {
    if (this.#built.size > 0) this.#built.clear();
  }
}
