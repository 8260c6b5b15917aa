/**
 * The sorted index behind range filters and datetime sorts: ranges and walks agree with a plain
 * sort of the same data (ties, nulls, descending order, skipping), collections drop it on every
 * write, and the demo profiles' fast keys are exactly what generating the profile would give.
 */
import { describe, expect, it } from 'vitest';
import { SortedIndex, indexKey, type KeyRange } from '../../src/emulator/store/sorted-index.js';
import { MapCollection } from '../../src/emulator/store/map-collection.js';
import { LazyCollection, type LazySource } from '../../src/emulator/store/lazy-collection.js';
import { Rng } from '../../src/emulator/store/prng.js';
import { DemoProfiles, type DemoListIds } from '../../src/emulator/demo-data/profiles.js';
import type { StoredResource } from '../../src/emulator/store/types.js';

const resource = (id: string, attributes: Record<string, unknown>): StoredResource => ({ type: 'event', id, attributes, relationships: {} });

/** An index over plain keys (null = a null value); position = array index. */
function indexOf(keys: Array<number | null>): SortedIndex {
  const index = SortedIndex.build({
    positions: keys.keys(),
    keyAt: (p) => keys[p],
    at: (p) => resource(`r${p}`, { k: keys[p] }),
  });
  if (!index) throw new Error('not indexable');
  return index;
}

/** What the emulator's scan does: a stable sort by key, nulls first; descending keeps ties in source order. */
function expectedOrder(keys: Array<number | null>, descending: boolean, range?: KeyRange): number[] {
  const inRange = (k: number | null) => {
    if (!range || (!range.min && !range.max)) return true;
    if (k === null) return false;
    if (range.min && (range.min.inclusive ? k < range.min.key : k <= range.min.key)) return false;
    if (range.max && (range.max.inclusive ? k > range.max.key : k >= range.max.key)) return false;
    return true;
  };
  const cmp = (a: number | null, b: number | null) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a - b);
  return keys
    .map((k, p) => ({ k, p }))
    .filter(({ k }) => inRange(k))
    .sort((a, b) => cmp(a.k, b.k) * (descending ? -1 : 1))
    .map(({ p }) => p);
}

function walked(index: SortedIndex, range: KeyRange, descending: boolean, skip = 0): number[] {
  const [lo, hi] = index.range(range);
  return [...index.walk(lo, hi, descending, skip)].map((rank) => index.positionAt(rank));
}

describe('indexKey', () => {
  it('orders datetimes as epoch ms and numbers as themselves, and refuses free text', () => {
    expect(indexKey('2025-01-02T03:04:05+00:00')).toBe(Date.UTC(2025, 0, 2, 3, 4, 5));
    expect(indexKey(1735689600)).toBe(1735689600);
    expect(indexKey(null)).toBeNull();
    expect(indexKey(undefined)).toBeNull();
    expect(indexKey('Newsletter')).toBeUndefined();
    expect(indexKey({ a: 1 })).toBeUndefined();
  });
});

describe('SortedIndex', () => {
  const keys = [30, null, 10, 20, 10, null, 40, 20, 20];

  it('walks in key order, nulls first, ties in source order, both directions', () => {
    const index = indexOf(keys);
    expect(index.nullCount).toBe(2);
    expect(walked(index, {}, false)).toEqual(expectedOrder(keys, false));
    expect(walked(index, {}, true)).toEqual(expectedOrder(keys, true));
    expect(walked(index, {}, true)).toEqual([6, 0, 3, 7, 8, 2, 4, 1, 5]);
  });

  it('narrows to ranges by binary search, leaving nulls out of any bounded range', () => {
    const index = indexOf(keys);
    const ranges: KeyRange[] = [
      { min: { key: 10, inclusive: false } },
      { min: { key: 10, inclusive: true }, max: { key: 20, inclusive: true } },
      { max: { key: 20, inclusive: false } },
      { min: { key: 20, inclusive: true }, max: { key: 20, inclusive: true } },
      { min: { key: 41, inclusive: true } },
      { min: { key: 30, inclusive: false }, max: { key: 20, inclusive: false } },
    ];
    for (const range of ranges) {
      expect(walked(index, range, false), JSON.stringify(range)).toEqual(expectedOrder(keys, false, range));
      expect(walked(index, range, true), JSON.stringify(range)).toEqual(expectedOrder(keys, true, range));
    }
  });

  it('skips to any position of either order as if it had walked there (random data)', () => {
    const rng = new Rng(42);
    for (let round = 0; round < 40; round++) {
      const data = Array.from({ length: rng.between(0, 60) }, () => (rng.chance(0.1) ? null : rng.int(12)));
      const index = indexOf(data);
      const range: KeyRange = rng.chance(0.5) ? {} : { min: { key: rng.int(6), inclusive: rng.chance(0.5) }, max: { key: 6 + rng.int(6), inclusive: rng.chance(0.5) } };
      for (const descending of [false, true]) {
        const full = expectedOrder(data, descending, range);
        expect(walked(index, range, descending)).toEqual(full);
        for (let skip = 0; skip <= full.length; skip++) expect(walked(index, range, descending, skip)).toEqual(full.slice(skip));
      }
    }
  });

  it('is not built when a value is not a datetime or a number', () => {
    expect(SortedIndex.build({ positions: [0, 1], keyAt: (p) => (p === 0 ? 5 : undefined), at: () => undefined })).toBeNull();
  });
});

describe('collections keep their index only until the next write', () => {
  it('MapCollection: insert, update and delete drop the index; lookups see current resources', () => {
    const c = new MapCollection('event', [resource('a', { datetime: '2025-01-03T00:00:00+00:00' }), resource('b', { datetime: '2025-01-01T00:00:00+00:00' })]);
    const first = c.sortedIndex('datetime')!;
    expect(c.sortedIndex('datetime')).toBe(first);
    expect([...first.walk(0, first.length, false)].map((r) => first.resourceAt(r)!.id)).toEqual(['b', 'a']);
    c.insert(resource('c', { datetime: '2025-01-02T00:00:00+00:00' }));
    const second = c.sortedIndex('datetime')!;
    expect(second).not.toBe(first);
    expect([...second.walk(0, second.length, false)].map((r) => second.resourceAt(r)!.id)).toEqual(['b', 'c', 'a']);
    c.update('b', { attributes: { datetime: '2025-01-09T00:00:00+00:00' } });
    const third = c.sortedIndex('datetime')!;
    expect([...third.walk(0, third.length, false)].map((r) => third.resourceAt(r)!.id)).toEqual(['c', 'a', 'b']);
    c.delete('a');
    const fourth = c.sortedIndex('datetime')!;
    expect(fourth.length).toBe(2);
    // An iterator over the stale index finds the deleted resource gone rather than resurrecting it.
    expect(third.resourceAt(1)).toBeUndefined();
    expect(new MapCollection('list', [{ type: 'list', id: 'L', attributes: { name: 'News' }, relationships: {} }]).sortedIndex('name')).toBeNull();
  });

  it('LazyCollection: generated, changed, deleted and inserted resources all take part', () => {
    const source: LazySource = {
      type: 'event',
      size: 5,
      generate: (i) => resource(`g${i}`, { datetime: `2025-01-0${5 - i}T00:00:00+00:00` }),
      idAt: (i) => `g${i}`,
      indexOf: (id) => (/^g\d$/.test(id) && Number(id.slice(1)) < 5 ? Number(id.slice(1)) : undefined),
      candidates: () => undefined,
    };
    const c = new LazyCollection(source);
    const order = () => {
      const index = c.sortedIndex('datetime')!;
      return [...index.walk(0, index.length, false)].map((r) => index.resourceAt(r)!.id);
    };
    expect(order()).toEqual(['g4', 'g3', 'g2', 'g1', 'g0']);
    c.update('g4', { attributes: { datetime: '2025-02-01T00:00:00+00:00' } });
    c.delete('g2');
    c.insert(resource('new', { datetime: '2025-01-03T12:00:00+00:00' }));
    expect(order()).toEqual(['g3', 'new', 'g1', 'g0', 'g4']);
  });
});

describe('demo profiles', () => {
  it('give the index the same created and last_event_date keys as the generated profiles', () => {
    const lists: DemoListIds = { newsletter: 'L1', vip: 'L2', sms: 'L3', winback: 'L4' };
    const frame = { seed: 9, nowMs: Date.UTC(2026, 6, 1, 12, 34, 56, 789), profiles: 5000 };
    const lastEventAt = new Map([[7, Date.UTC(2026, 0, 1, 1, 2, 3, 456)]]);
    const profiles = new DemoProfiles(frame, lists, lastEventAt);
    for (const i of [0, 1, 7, 999, 2500, 4999]) {
      const generated = profiles.generate(i).attributes;
      expect(profiles.keyAt('created', i)).toBe(indexKey(generated.created));
      expect(profiles.keyAt('last_event_date', i)).toBe(indexKey(generated.last_event_date));
      expect(profiles.keyAt('updated', i)).toBeUndefined();
    }
    expect(profiles.keyAt('last_event_date', 7)).not.toBeNull();
  });
});
