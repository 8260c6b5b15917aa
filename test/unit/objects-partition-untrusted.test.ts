/**
 * Partitioned reads when Klaviyo does not keep its word (issue 12, items 2 and 9): pages not
 * strictly sorted (estuary/connectors PR #4062), `greater-than` and `less-than` that also match
 * the bound, a row sent twice, page cursors refused mid-read. Every profile must come out exactly
 * once, never a row lost with exit 0. Against the scripted client of
 * test/helpers/fake-profiles-client.ts, which keeps the real client's paginate contract.
 */
import { describe, expect, it } from 'vitest';
import { Profiles } from '../../src/objects/catalog/profiles.js';
import { MAX_SLICE_ROWS } from '../../src/objects/read/slice-plan.js';
import { selectColumns } from '../../src/objects/columns.js';
import { parseWhere } from '../../src/objects/where.js';
import type { ReadRequest, Row } from '../../src/objects/types.js';
import {
  FAKE_START,
  FakeProfilesClient,
  fakeProfile,
  swapAtPageEdges,
  swapPairs,
  uniformProfiles,
  type FakeProfile,
} from '../helpers/fake-profiles-client.js';

function request(o: Omit<Partial<ReadRequest>, 'where'> & { where?: string[] } = {}): ReadRequest {
  return {
    columns: selectColumns(Profiles, ['Id', 'Email', 'Created', 'Updated']),
    where: (o.where ?? []).map((w) => parseWhere(w, Profiles)),
    limit: o.limit,
    since: o.since,
    options: { parallelism: 8, ...o.options },
  };
}

async function read(fake: FakeProfilesClient, req: ReadRequest = request()): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const row of Profiles.plan(req).execute(fake.client)) rows.push(row);
  return rows;
}

function expectEachOnce(rows: Row[], expected: FakeProfile[]): void {
  const ids = rows.map((r) => String(r.Id)).sort();
  const want = expected.map((p) => p.id).sort();
  const missing = want.filter((id) => !ids.includes(id));
  expect(missing, 'profiles lost').toEqual([]);
  expect(ids.length - new Set(ids).size, 'profiles that came out twice').toBe(0);
  expect(ids).toEqual(want);
}

/** The greater-than bound on created of a query's filter (ms), or -Infinity. */
const createdFrom = (q: Record<string, string>) => {
  const m = /greater-than\(created,([^,)]+)\)/.exec(q.filter ?? '');
  return m ? Date.parse(m[1]) : -Infinity;
};

const slicesOf = (fake: FakeProfilesClient) => new Set(fake.queries.filter((q) => q.sort === 'created' && /less-than\(created|greater-than\(created/.test(q.filter ?? '')).map((q) => q.filter));

describe('pages slightly out of order', () => {
  it('a row past a slice end that arrives before a row inside it does not end the slice', async () => {
    // Two or three profiles a second, so that a slice's chain holds rows past its end (its filter
    // is a second wider). Every pair of neighbours swapped: wherever a slice ends after an odd
    // number of rows, its last row comes after the first row past its end.
    const data = Array.from({ length: 3_000 }, (_, i) => fakeProfile(i, FAKE_START + Math.floor(i * 433.3)));
    const fake = new FakeProfilesClient(data, { order: swapPairs });
    expectEachOnce(await read(fake), data);
  });

  it('the end pages plan the slices only: an earliest row missing from the first page is still read', async () => {
    // As the emulator's quirk: the first page ends with the second page's first row, so the
    // first page's own last row (an hour earlier) comes on the second page.
    const data = uniformProfiles(3_000);
    const fake = new FakeProfilesClient(data, { order: swapAtPageEdges(100) });
    expectEachOnce(await read(fake), data);
  });

  it('a busy slice is split without trusting the order (a check reads its old chain\'s range again)', async () => {
    const data = [
      ...uniformProfiles(300, 86_400_000),
      ...Array.from({ length: 4_000 }, (_, i) => fakeProfile(1_000 + i, Date.parse('2024-06-01T10:00:00Z') + Math.floor(i * 900.5))),
      ...Array.from({ length: 350 }, (_, i) => fakeProfile(9_000 + i, Date.parse('2024-06-01T10:30:00.250Z'))),
    ];
    for (const order of [swapPairs, swapAtPageEdges(100)]) {
      const fake = new FakeProfilesClient(data, { order });
      expectEachOnce(await read(fake), data);
      // More slices than the 8 planned plus head and tail: the one holding the import was split,
      // and its check found the rows its chain had not delivered yet (without it, rows are lost).
      expect(slicesOf(fake).size).toBeGreaterThan(10);
    }
  });

  it('a slice split in the middle of a second of many profiles: the rest of that second is still read, once', async () => {
    // 3,000 profiles in one second, sorted by the second in no particular order inside it: the
    // split slice goes on from the next second (its filter a second wider), and a check reads
    // its old chain's range again.
    const data = [
      ...uniformProfiles(2_000, 3_600_000),
      ...Array.from({ length: 3_000 }, (_, i) => fakeProfile(100_000 + i, Date.parse('2024-02-01T10:00:00.100Z') + Math.floor(i * 0.2))),
    ];
    const fake = new FakeProfilesClient(data, { sort: 'second', order: swapPairs });
    expectEachOnce(await read(fake), data);
    // Ten slices planned (the head, eight, the tail): more means splits.
    expect(slicesOf(fake).size).toBeGreaterThan(10);
  });

  it('a slice that would hold more than its share of memory is cut even with no idle cursor', async () => {
    // Sparse ends plan small slices; 45,000 profiles in the days between them. Two cursors: the
    // slice holding them is cut as it reads, no slice remembering much more than
    // MAX_SLICE_ROWS ids.
    const data = [
      ...uniformProfiles(200, 86_400_000),
      ...Array.from({ length: 45_000 }, (_, i) => fakeProfile(100_000 + i, Date.parse('2024-03-01T00:00:00Z') + i * 10_000 + (i % 5))),
    ];
    const fake = new FakeProfilesClient(data, { order: swapAtPageEdges(100) });
    expectEachOnce(await read(fake, request({ options: { parallelism: 2 } })), data);
    expect(fake.maxSeenIds).toBeLessThanOrEqual(MAX_SLICE_ROWS + 1_000);
  });
});

describe('bounds and rows sent twice', () => {
  it('greater-than and less-than that match the bound: rows on slice edges count once', async () => {
    // Whole-minute times, five profiles on each: slice edges fall on rows, which both
    // neighbouring slices' filters let in.
    const data = Array.from({ length: 2_500 }, (_, i) => fakeProfile(i, FAKE_START + Math.floor(i / 5) * 60_000));
    for (const order of [undefined, swapPairs]) {
      const fake = new FakeProfilesClient(data, { inclusiveBounds: true, order });
      expectEachOnce(await read(fake), data);
    }
  });

  it('a row Klaviyo sends twice in a chain, or twice in a one-page read, counts once', async () => {
    const twice = (rows: FakeProfile[]) => rows.flatMap((r, i) => (i % 37 === 5 ? [r, r] : [r]));
    for (const n of [3_000, 60]) {
      const data = uniformProfiles(n);
      const fake = new FakeProfilesClient(data, { order: twice });
      expectEachOnce(await read(fake), data);
    }
  });

  it('Updated > bound pushed to Klaviyo as greater-than: a row at the bound is left out', async () => {
    const bound = Date.parse('2024-02-01T00:00:00Z');
    const data = uniformProfiles(2_000).map((p, i) => ({ ...p, updatedMs: i % 10 === 0 ? bound : bound + (i % 2 === 0 ? 5_000 : -5_000) }));
    const fake = new FakeProfilesClient(data, { inclusiveBounds: true });
    const rows = await read(fake, request({ where: ["Updated > '2024-02-01T00:00:00Z'"] }));
    expectEachOnce(rows, data.filter((p) => p.updatedMs! > bound));
    expect(fake.queries.every((q) => q.filter?.includes('greater-than(updated,2024-02-01T00:00:00Z)'))).toBe(true);
  });

  it('Created > and Created < on a one-cursor read: rows at the bounds are left out', async () => {
    const data = uniformProfiles(500);
    const at = data[200];
    const iso = new Date(at.ms).toISOString();
    const fake = new FakeProfilesClient(data, { inclusiveBounds: true });
    for (const where of [[`Email = '${at.email}'`, `Created > '${iso}'`], [`Email = '${at.email}'`, `Created < '${iso}'`]]) {
      expect(await read(fake, request({ where }))).toEqual([]);
    }
    expect((await read(fake, request({ where: [`Email = '${at.email}'`, `Created >= '${iso}'`] }))).map((r) => r.Id)).toEqual([at.id]);
  });
});

describe('page cursors refused mid-read (expired)', () => {
  it('each slice reads on from a little before where it was: every row once', async () => {
    // One page request in seven refused, pages out of order across their edges.
    const data = uniformProfiles(6_000, 600_000);
    const fake = new FakeProfilesClient(data, { refuse: (n) => n % 7 === 0, order: swapAtPageEdges(100) });
    expectEachOnce(await read(fake), data);
    expect(fake.restarts.length).toBeGreaterThan(5);
    // Restarts never start before the chain did, and most start later: the slice's position.
    for (const r of fake.restarts) expect(createdFrom(r.to)).toBeGreaterThanOrEqual(createdFrom(r.from));
    const narrowed = fake.restarts.filter((r) => createdFrom(r.to) > createdFrom(r.from));
    expect(narrowed.length).toBeGreaterThan(fake.restarts.length / 2);
  });

  it('combined with a busy slice split, bounds matched and rows sent twice', async () => {
    const data = [
      ...uniformProfiles(300, 86_400_000),
      ...Array.from({ length: 4_000 }, (_, i) => fakeProfile(1_000 + i, Date.parse('2024-06-01T10:00:00Z') + Math.floor(i * 900.5))),
    ];
    const order = (rows: FakeProfile[]) => swapAtPageEdges(100)(rows).flatMap((r, i) => (i % 97 === 3 ? [r, r] : [r]));
    const fake = new FakeProfilesClient(data, { refuse: (n) => n % 11 === 0, order, inclusiveBounds: true });
    expectEachOnce(await read(fake), data);
    expect(fake.restarts.length).toBeGreaterThan(2);
  });
});
