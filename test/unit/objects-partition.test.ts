/**
 * The pure parts of partitioned reads: slicing a time range, the superset filters, assigning a
 * row to exactly one slice, planning slices from the end pages, splitting a busy slice, where a
 * refused chain resumes, and the bounded queue.
 */
import { describe, expect, it } from 'vitest';
import { formatFilter, filter as f } from '../../src/klaviyo/filter-builder.js';
import { ResumePoint } from '../../src/objects/read/resume-point.js';
import { RowQueue } from '../../src/objects/read/row-queue.js';
import {
  MAX_SLICE_ROWS,
  MIN_SLICE_MS,
  SPLIT_WORTH,
  conditionRange,
  endRanges,
  inSlice,
  initialSliceCount,
  planSlices,
  planSplit,
  sliceFilters,
  sliceRange,
  type SliceProgress,
  type TimeRange,
} from '../../src/objects/read/slice-plan.js';

const T = (iso: string) => Date.parse(iso);
const DAY = 86_400_000;

/** The one slice (index) that keeps a row at time t, checking that no other does. */
function owner(slices: TimeRange[], t: number): number {
  const owners = slices.flatMap((s, i) => (inSlice(t, s) ? [i] : []));
  expect(owners.length, `t=${new Date(t).toISOString()} owned by ${owners.length} slices`).toBe(1);
  return owners[0];
}

describe('sliceRange', () => {
  it('tiles the range exactly with edges on whole seconds', () => {
    const r = { lo: T('2024-01-01T00:00:00Z'), hi: T('2024-01-11T00:00:01Z') };
    const slices = sliceRange(r, 7);
    expect(slices).toHaveLength(7);
    expect(slices[0].lo).toBe(r.lo);
    expect(slices.at(-1)!.hi).toBe(r.hi);
    for (let i = 1; i < slices.length; i++) {
      expect(slices[i].lo).toBe(slices[i - 1].hi);
      expect(slices[i].lo % 1000).toBe(0);
      expect(slices[i].hi).toBeGreaterThan(slices[i].lo);
    }
  });

  it('makes fewer slices when the range is narrow, never one under the minimum width', () => {
    const lo = T('2024-01-01T00:00:00Z');
    expect(sliceRange({ lo, hi: lo + 5_000 }, 16)).toHaveLength(Math.floor(5_000 / MIN_SLICE_MS));
    expect(sliceRange({ lo, hi: lo + 1_000 }, 16)).toEqual([{ lo, hi: lo + 1_000 }]);
    for (const s of sliceRange({ lo, hi: lo + 9_000 }, 16)) expect(s.hi - s.lo).toBeGreaterThanOrEqual(MIN_SLICE_MS);
  });

  it('gives nothing for an empty range and one slice for an open one', () => {
    expect(sliceRange({ lo: 5_000, hi: 5_000 }, 4)).toEqual([]);
    expect(sliceRange({ lo: -Infinity, hi: Infinity }, 4)).toEqual([{ lo: -Infinity, hi: Infinity }]);
  });

  it('assigns every instant of the range, including the exact edges and sub-second times, to one slice', () => {
    const r = { lo: T('2024-03-01T00:00:00Z'), hi: T('2024-03-01T00:01:00Z') };
    const slices = sliceRange(r, 8);
    for (const s of slices) {
      expect(owner(slices, s.lo)).toBe(slices.indexOf(s));
      expect(owner(slices, s.hi - 1)).toBe(slices.indexOf(s));
    }
    for (let t = r.lo; t < r.hi; t += 137) owner(slices, t);
  });
});

describe('inSlice', () => {
  const s = { lo: T('2024-01-01T00:00:10Z'), hi: T('2024-01-01T00:00:20Z') };

  it('keeps start <= t < end', () => {
    expect(inSlice(s.lo, s)).toBe(true);
    expect(inSlice(s.lo - 1, s)).toBe(false);
    expect(inSlice(s.hi - 1, s)).toBe(true);
    expect(inSlice(s.hi, s)).toBe(false);
    expect(inSlice(s.hi + 400, { lo: s.lo, hi: s.hi + 400 })).toBe(false);
  });

  it('gives a row without a valid time to the slice open at the start only', () => {
    expect(inSlice(NaN, { lo: -Infinity, hi: s.hi })).toBe(true);
    expect(inSlice(NaN, s)).toBe(false);
  });
});

describe('sliceFilters', () => {
  it('widens the slice by a whole second on each side', () => {
    const s = { lo: T('2024-01-01T00:00:10Z'), hi: T('2024-01-01T00:00:20Z') };
    expect(sliceFilters('created', s).map((c) => formatFilter(c))).toEqual([
      'greater-than(created,2024-01-01T00:00:09Z)',
      'less-than(created,2024-01-01T00:00:21Z)',
    ]);
  });

  it('rounds sub-second bounds outwards and leaves open sides out', () => {
    expect(sliceFilters('created', { lo: T('2024-01-01T00:00:10.250Z'), hi: Infinity }).map((c) => formatFilter(c))).toEqual([
      'greater-than(created,2024-01-01T00:00:09Z)',
    ]);
    expect(sliceFilters('created', { lo: -Infinity, hi: T('2024-01-01T00:00:20.001Z') }).map((c) => formatFilter(c))).toEqual([
      'less-than(created,2024-01-01T00:00:22Z)',
    ]);
    expect(sliceFilters('created', { lo: -Infinity, hi: Infinity })).toEqual([]);
  });

  it('lets in every row the slice keeps, whether Klaviyo compares milliseconds or whole seconds', () => {
    const s = { lo: T('2024-01-01T00:00:10Z'), hi: T('2024-01-01T00:00:20Z') };
    const [gt, lt] = sliceFilters('created', s).map((c) => (c.value as Date).getTime());
    for (let t = s.lo; t < s.hi; t += 250) {
      for (const compared of [t, Math.floor(t / 1000) * 1000, Math.round(t / 1000) * 1000]) {
        expect(compared > gt && compared < lt).toBe(true);
      }
    }
  });
});

describe('conditionRange', () => {
  it('intersects the conditions on the partition column', () => {
    const r = conditionRange(
      [
        { column: 'Created', op: '>=', value: '2024-01-01T00:00:00Z' },
        { column: 'Created', op: '>', value: '2024-02-01T00:00:00Z' },
        { column: 'Created', op: '<', value: '2024-06-01T00:00:00Z' },
        { column: 'Created', op: '<=', value: '2024-05-01T00:00:00Z' },
        { column: 'Updated', op: '<', value: '2020-01-01T00:00:00Z' },
      ],
      'Created',
    );
    expect(r).toEqual({ lo: T('2024-02-01T00:00:00Z') + 1, hi: T('2024-05-01T00:00:00Z') + 1 });
  });

  it('is open without conditions and one instant wide for =', () => {
    expect(conditionRange([], 'Created')).toEqual({ lo: -Infinity, hi: Infinity });
    const t = T('2024-01-01T00:00:00Z');
    expect(conditionRange([{ column: 'Created', op: '=', value: '2024-01-01T00:00:00Z' }], 'Created')).toEqual({ lo: t, hi: t + 1 });
  });
});

describe('conditionRange with microseconds', () => {
  it('keeps the millisecond a microsecond bound falls in, so rows in it are checked exactly, not skipped', () => {
    const t = T('2024-01-01T00:00:00.123Z');
    const range = (op: '>' | '>=' | '<' | '<=' | '=', value: string) => conditionRange([{ column: 'Created', op, value }], 'Created');
    expect(range('>', '2024-01-01T00:00:00.123456Z')).toEqual({ lo: t, hi: Infinity });
    expect(range('>=', '2024-01-01T00:00:00.123456Z')).toEqual({ lo: t, hi: Infinity });
    expect(range('<', '2024-01-01T00:00:00.123456Z')).toEqual({ lo: -Infinity, hi: t + 1 });
    expect(range('<=', '2024-01-01T00:00:00.123456Z')).toEqual({ lo: -Infinity, hi: t + 1 });
    expect(range('=', '2024-01-01T00:00:00.123456Z')).toEqual({ lo: t, hi: t + 1 });
    // Whole milliseconds as before.
    expect(range('>', '2024-01-01T00:00:00.123000Z')).toEqual({ lo: t + 1, hi: Infinity });
    expect(range('<', '2024-01-01T00:00:00.123Z')).toEqual({ lo: -Infinity, hi: t });
  });
});

describe('endRanges', () => {
  it('tiles the time line: head before the first page latest second, tail after the last page earliest second', () => {
    const first = [T('2024-01-01T00:00:00.100Z'), T('2024-01-02T00:00:05.700Z')];
    const last = [T('2024-12-31T00:00:00Z'), T('2024-12-30T10:00:03.900Z')];
    const r = endRanges({ first, last })!;
    expect(r.head).toEqual({ lo: -Infinity, hi: T('2024-01-02T00:00:05Z') });
    expect(r.middle).toEqual({ lo: T('2024-01-02T00:00:05Z'), hi: T('2024-12-30T10:00:04Z') });
    expect(r.tail).toEqual({ lo: T('2024-12-30T10:00:04Z'), hi: Infinity });
    // The first page's last second may go on: it is left to the middle; so is the last page's.
    expect(inSlice(first[1], r.middle)).toBe(true);
    expect(inSlice(last[1], r.middle)).toBe(true);
    expect(inSlice(first[0], r.head)).toBe(true);
    expect(inSlice(last[0], r.tail)).toBe(true);
  });

  it('takes the latest and earliest times of the pages, in whatever order they came', () => {
    const sorted = endRanges({ first: [1_000, 5_000, 9_000], last: [90_000, 80_000, 70_000] });
    expect(endRanges({ first: [5_000, 9_000, 1_000], last: [80_000, 70_000, 90_000] })).toEqual(sorted);
  });

  it('leaves an empty middle when the two pages overlap', () => {
    const first = [1_000, 2_000, 9_000];
    const last = [12_000, 8_000, 3_000];
    const r = endRanges({ first, last })!;
    expect(r.middle).toEqual({ lo: 9_000, hi: 9_000 });
    for (const t of [...first, ...last]) expect([inSlice(t, r.head), inSlice(t, r.tail)].filter(Boolean)).toHaveLength(1);
  });

  it('gives up on pages without times', () => {
    expect(endRanges({ first: [NaN], last: [1_000] })).toBeNull();
  });
});

describe('planSlices', () => {
  it('reads the head and the tail as slices of their own: the slices tile the whole time line', () => {
    const pages = { first: Array.from({ length: 100 }, (_, i) => i * 1_000), last: Array.from({ length: 100 }, (_, i) => 10_000_000 - i * 1_000) };
    const slices = planSlices({ pages, pageSize: 100, parallelism: 16 });
    expect(slices[0]).toEqual({ lo: -Infinity, hi: 99_000 });
    expect(slices.at(-1)).toEqual({ lo: 9_902_000, hi: Infinity });
    expect(slices).toHaveLength(16 + 2);
    for (let i = 1; i < slices.length; i++) expect(slices[i].lo).toBe(slices[i - 1].hi);
  });

  it('one open slice when the pages hold no times', () => {
    expect(planSlices({ pages: { first: [NaN], last: [NaN] }, pageSize: 100, parallelism: 16 })).toEqual([{ lo: -Infinity, hi: Infinity }]);
  });
});

describe('initialSliceCount', () => {
  const pages = { first: Array.from({ length: 100 }, (_, i) => i * 1_000), last: Array.from({ length: 100 }, (_, i) => 10_000_000 - i * 1_000) };

  it('starts as many slices as allowed on a large middle', () => {
    expect(initialSliceCount({ pages, middle: { lo: 100_000, hi: 9_900_000 }, pageSize: 100, parallelism: 16 })).toBe(16);
  });

  it('starts a few on a small one', () => {
    expect(initialSliceCount({ pages, middle: { lo: 100_000, hi: 150_000 }, pageSize: 100, parallelism: 16 })).toBe(4);
    expect(initialSliceCount({ pages, middle: { lo: 100_000, hi: 100_000 }, pageSize: 100, parallelism: 16 })).toBe(4);
    expect(initialSliceCount({ pages, middle: { lo: 100_000, hi: 150_000 }, pageSize: 100, parallelism: 2 })).toBe(2);
  });

  it('plans more, smaller slices when the estimate is large (each remembers the ids it read), within bounds', () => {
    // 200 rows over 198 s: ~1 row a second; 200,000 s ahead hold ~200,000 rows.
    const estimate = { pages, middle: { lo: 100_000, hi: 200_100_000 }, pageSize: 100, parallelism: 16 };
    expect(initialSliceCount(estimate)).toBe(Math.ceil(202_000 / (MAX_SLICE_ROWS / 2)));
    expect(initialSliceCount({ ...estimate, middle: { lo: 0, hi: 1e13 } })).toBe(64);
  });
});

describe('planSplit', () => {
  const lo = T('2024-01-01T00:00:00Z');
  const busy = (o: Partial<SliceProgress>): SliceProgress => ({ lo, hi: lo + 100 * DAY, maxSeen: lo + DAY, rows: 100, ...o });

  it('splits the slice with the most rows ahead into pieces past anything it has kept', () => {
    const slices = [busy({ hi: lo + 3 * DAY }), busy({}), busy({ maxSeen: lo + 90 * DAY, rows: 9_000 })];
    const split = planSplit(slices, 3, 100)!;
    expect(split.index).toBe(1);
    expect(split.cuts).toHaveLength(3);
    const from = Math.floor(slices[1].maxSeen! / 1000) * 1000 + 1000;
    expect(split.cuts[0]).toBeGreaterThanOrEqual(from);
    for (const c of split.cuts) {
      expect(c % 1000).toBe(0);
      expect(c).toBeLessThan(slices[1].hi);
    }
    expect([...split.cuts].sort((a, b) => a - b)).toEqual(split.cuts);
  });

  it('does not split without idle cursors, before a full page, or with under two pages ahead', () => {
    expect(planSplit([busy({})], 0, 100)).toBeNull();
    expect(planSplit([busy({ rows: 99 })], 4, 100)).toBeNull();
    expect(planSplit([busy({ maxSeen: null, rows: 0 })], 4, 100)).toBeNull();
    // 100 rows over 50 days: ~2 days left hold ~4 rows.
    expect(planSplit([busy({ hi: lo + 52 * DAY, maxSeen: lo + 50 * DAY })], 4, 100)).toBeNull();
  });

  it('splits only when the rows ahead are SPLIT_WORTH times those the slice would read again', () => {
    // 1,000 rows kept over 10 days; 100 rows a day ahead.
    const at = (days: number) => busy({ rows: 1_000, maxSeen: lo + 10 * DAY, hi: lo + (10 + days) * DAY });
    expect(planSplit([at(SPLIT_WORTH * 10 - 1)], 4, 100)).toBeNull();
    expect(planSplit([at(SPLIT_WORTH * 10 + 1)], 4, 100)).not.toBeNull();
  });

  it('splits a slice whose chain has not kept a page yet only when it was split already (its chain not left yet)', () => {
    expect(planSplit([busy({ fresh: 0 })], 4, 100)).toBeNull();
    expect(planSplit([busy({ fresh: 99 })], 4, 100)).toBeNull();
    expect(planSplit([busy({ fresh: 100 })], 4, 100)).not.toBeNull();
    // Split, not restarted: its estimate still holds, and another idle cursor may take more of it.
    expect(planSplit([busy({ fresh: 100, restart: true })], 1, 100)).not.toBeNull();
    expect(planSplit([busy({ fresh: 100, restart: true })], 0, 100, { maxSliceRows: 1_000 })).toBeNull();
  });

  it('cuts a slice that would grow past maxSliceRows even with no idle cursor: it keeps about half that ahead, the rest waits', () => {
    // 100 rows a day, 99 days ahead: ~9,900 rows.
    expect(planSplit([busy({})], 0, 100, { maxSliceRows: 20_000 })).toBeNull();
    const split = planSplit([busy({})], 0, 100, { maxSliceRows: 4_000 })!;
    // By the density near where it stands: 2,000 rows ahead, 20 days; the rest of the range is one slice.
    expect(split.cuts).toEqual([lo + DAY + 1_000 + 20 * DAY]);
  });

  it('sees a dense stretch by the recent density even when the average is thin', () => {
    // 100 rows over 50 days on average, but the last quarter page came within 25 seconds.
    const s = busy({ hi: lo + 50 * DAY + 3_600_000, maxSeen: lo + 50 * DAY, recentSpan: 25_000 });
    expect(planSplit([{ ...s, recentSpan: null }], 4, 100)).toBeNull();
    expect(planSplit([s], 4, 100)?.cuts.length).toBe(4);
  });

  it('never cuts a range narrower than two seconds', () => {
    const s = busy({ hi: lo + 2_500, maxSeen: lo + 100, rows: 1_000 });
    expect(planSplit([s], 8, 100)).toBeNull();
  });
});

describe('ResumePoint: where a chain whose cursor was refused starts again', () => {
  const at = (s: number) => T('2024-01-01T00:00:00Z') + s * 1_000;

  it('from the earliest second among the last two pages of rows, never before the slice start', () => {
    const p = new ResumePoint(at(0), 4);
    expect(p.resumeFrom()).toBe(at(0));
    // Rows one place out of order, 250 ms apart in 0..10 s.
    for (const t of [0.25, 0, 0.75, 0.5, 1.25, 1, 1.75, 1.5, 2.25, 2]) p.delivered(at(t));
    // The last four delivered: 1.75, 1.5, 2.25, 2 -> second 1.
    expect(p.resumeFrom()).toBe(at(1));
    // A new chain: under four rows delivered, it stays where it was.
    p.delivered(at(5));
    expect(p.resumeFrom()).toBe(at(1));
  });

  it('starts again from the slice start once a row came further out of place than two pages', () => {
    const p = new ResumePoint(at(0), 4);
    for (const t of [1, 2, 3, 4, 5, 6]) p.delivered(at(t));
    // A row of second 0 after four rows of later seconds: something may be further out still.
    p.delivered(at(0.5));
    for (const t of [7, 8, 9, 10]) p.delivered(at(t));
    expect(p.resumeFrom()).toBe(at(0));
  });

  it('starts again from the slice start once a row had no time (it passes no greater-than)', () => {
    const p = new ResumePoint(-Infinity, 2);
    for (const t of [1, 2, 3]) p.delivered(at(t));
    p.delivered(NaN);
    p.delivered(at(4));
    expect(p.resumeFrom()).toBe(-Infinity);
  });

  it('tolerates rows of the same second in any order (Klaviyo may sort by the second)', () => {
    const p = new ResumePoint(at(0), 2);
    for (const t of [3.9, 3.1, 3.5, 3.0, 3.2]) p.delivered(at(t));
    expect(p.resumeFrom()).toBe(at(3));
  });
});

describe('RowQueue', () => {
  it('hands items over in order and ends when closed', async () => {
    const q = new RowQueue<number>(10);
    for (let i = 0; i < 5; i++) expect(q.push(i)).toBeUndefined();
    q.close();
    const out: number[] = [];
    for await (const x of q.drain()) out.push(x);
    expect(out).toEqual([0, 1, 2, 3, 4]);
  });

  it('makes producers wait when full, and lets them go as the consumer drains', async () => {
    const q = new RowQueue<number>(4);
    let released = false;
    expect(q.push(1)).toBeUndefined();
    expect(q.push(2)).toBeUndefined();
    expect(q.push(3)).toBeUndefined();
    const wait = q.push(4);
    expect(wait).toBeInstanceOf(Promise);
    void wait!.then(() => (released = true));
    const it = q.drain();
    await it.next();
    await Promise.resolve();
    expect(released).toBe(false);
    await it.next();
    await it.next();
    expect(released).toBe(true);
    q.close();
    expect((await it.next()).value).toBe(4);
    expect((await it.next()).done).toBe(true);
  });

  it('throws the first failure at the consumer and releases waiting producers', async () => {
    const q = new RowQueue<number>(1);
    const wait = q.push(1)!;
    q.fail(new Error('first'));
    q.fail(new Error('second'));
    await wait;
    await expect(q.drain().next()).rejects.toThrow('first');
  });

  it('wakes a consumer waiting for items', async () => {
    const q = new RowQueue<number>(4);
    const next = q.drain().next();
    q.push(7);
    expect((await next).value).toBe(7);
  });
});

describe('filter formatting of slices', () => {
  it('combines with other filters into one and(...)', () => {
    const s = { lo: T('2024-01-01T00:00:10Z'), hi: T('2024-01-01T00:00:20Z') };
    expect(formatFilter(f.and(f.greaterThan('updated', new Date(T('2024-06-01T00:00:00Z'))), ...sliceFilters('created', s)))).toBe(
      'and(greater-than(updated,2024-06-01T00:00:00Z),greater-than(created,2024-01-01T00:00:09Z),less-than(created,2024-01-01T00:00:21Z))',
    );
  });
});
