/**
 * Partitioned reads of Profiles, executed against a fake client that answers like Klaviyo's
 * GET /api/profiles (created filters with > and <, sort=created, cursor pages), with every
 * request interleaved so that cursors really overlap. Checks that each profile comes out exactly
 * once whatever the data (uniform, a bulk import in one second, sub-second times, exact slice
 * edges, timestamps Klaviyo returns in whole seconds or sorts by the second), and how limit,
 * errors and aborts stop every cursor.
 */
import { describe, expect, it } from 'vitest';
import type { KlaviyoClient } from '../../src/klaviyo/client.js';
import { Profiles } from '../../src/objects/catalog/profiles.js';
import { selectColumns } from '../../src/objects/columns.js';
import { parseWhere } from '../../src/objects/where.js';
import { planPartitionedRead } from '../../src/objects/read/partitioned.js';
import type { ReadRequest, Row } from '../../src/objects/types.js';
import { FAKE_START, FakeProfilesClient, fakeProfile, uniformProfiles, type FakeOptions, type FakeProfile } from '../helpers/fake-profiles-client.js';

const FakeClient = FakeProfilesClient;
type FakeClient = FakeProfilesClient;
const profile = fakeProfile;
const uniform = uniformProfiles;
const START = FAKE_START;

function request(o: Omit<Partial<ReadRequest>, 'where'> & { where?: string[] } = {}): ReadRequest {
  return {
    columns: selectColumns(Profiles, ['Id', 'Email', 'Created']),
    where: (o.where ?? []).map((w) => parseWhere(w, Profiles)),
    limit: o.limit,
    since: o.since,
    options: { parallelism: 8, ...o.options },
  };
}

async function read(client: FakeClient, req: ReadRequest, signal?: AbortSignal): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const row of Profiles.plan(req).execute(client as unknown as KlaviyoClient, signal)) rows.push(row);
  return rows;
}

function expectEachOnce(rows: Row[], expected: FakeProfile[]): void {
  const ids = rows.map((r) => String(r.Id)).sort();
  expect(new Set(ids).size, 'duplicates').toBe(ids.length);
  expect(ids).toEqual(expected.map((p) => p.id).sort());
}

describe('partitioned Profiles read: every row exactly once', () => {
  it('on evenly spread profiles, with cursors in flight together', async () => {
    const data = uniform(3_000);
    const client = new FakeClient(data);
    expectEachOnce(await read(client, request()), data);
    expect(client.maxInFlight).toBeGreaterThanOrEqual(6);
    // One request per page at most, plus one short page per slice (30 pages, 2 ends, 8 slices).
    expect(client.requests).toBeLessThanOrEqual(30 + 2 + 8);
    expect(client.inFlight).toBe(0);
  });

  it('when a bulk import puts thousands of profiles in one hour (busy slices are split)', async () => {
    const data = [
      ...uniform(300, 86_400_000),
      ...Array.from({ length: 4_000 }, (_, i) => profile(1_000 + i, Date.parse('2024-06-01T10:00:00Z') + Math.floor(i * 900.5))),
      ...Array.from({ length: 350 }, (_, i) => profile(9_000 + i, Date.parse('2024-06-01T10:30:00.250Z'))),
    ];
    const client = new FakeClient(data);
    expectEachOnce(await read(client, request()), data);
    // More slices than the 8 started: the one holding the import was split for idle cursors.
    const slices = new Set(client.queries.filter((q) => q.filter?.includes('less-than(created')).map((q) => q.filter));
    expect(slices.size).toBeGreaterThan(8);
  });

  it('when rows sit exactly on slice edges and share milliseconds', async () => {
    // Whole-second and whole-minute times, many per instant: slice edges fall on rows.
    const data = Array.from({ length: 2_500 }, (_, i) => profile(i, START + Math.floor(i / 5) * 60_000));
    const client = new FakeClient(data);
    expectEachOnce(await read(client, request()), data);
  });

  it('when Klaviyo shows whole seconds, or sorts by the second in no particular order', async () => {
    // Two or three profiles a second, so that a second's rows straddle pages and slice edges.
    const data = Array.from({ length: 2_500 }, (_, i) => profile(i, START + Math.floor(i * 433.3)));
    for (const o of [{ shown: 'seconds' }, { sort: 'second' }, { shown: 'seconds', sort: 'second' }] as FakeOptions[]) {
      const client = new FakeClient(data, o);
      expectEachOnce(await read(client, request()), data);
    }
  });

  it('when a second of rows continues past the end pages (Klaviyo sorting by the second)', async () => {
    // Three profiles a second: the first page ends inside a second whose other rows, some of
    // them earlier by the millisecond, come on the next page (and likewise for the last page).
    const data = Array.from({ length: 3_000 }, (_, i) => profile(i, START + Math.floor(i / 3) * 1_000 + (i % 3) * 300));
    const client = new FakeClient(data, { sort: 'second' });
    expectEachOnce(await read(client, request()), data);
  });

  it('on an account of one profile, none, or just over one page', async () => {
    for (const n of [0, 1, 100, 101, 150, 199, 200, 201]) {
      const data = uniform(n);
      const client = new FakeClient(data);
      expectEachOnce(await read(client, request()), data);
      // Profiles are usually many: both end pages are asked for at once, the second one wasted here.
      if (n <= 100) expect(client.requests).toBe(2);
    }
  });

  it('asks for the last page only when needed once a condition narrows the read', async () => {
    const data = uniform(1_000);
    const recent = data.slice(-60);
    const client = new FakeClient(data);
    expectEachOnce(await read(client, request({ where: [`Created >= '${new Date(recent[0].ms).toISOString()}'`] })), recent);
    expect(client.requests).toBe(1);
  });

  it('applies --where on the partition column and other local conditions exactly', async () => {
    const data = uniform(2_000, 600_000);
    const where = ["Created >= '2024-01-03T00:00:00Z'", "Created < '2024-01-10T12:00:00Z'", "Email ends-with '3@example.com'"];
    const lo = Date.parse('2024-01-03T00:00:00Z');
    const hi = Date.parse('2024-01-10T12:00:00Z');
    const expected = data.filter((p) => p.ms >= lo && p.ms < hi && p.email.endsWith('3@example.com'));
    const client = new FakeClient(data);
    expectEachOnce(await read(client, request({ where })), expected);
    // The range goes to the API too, as a superset: nothing before 2024-01-02T23:59:59Z is fetched.
    for (const q of client.queries) expect(q.filter).toMatch(/greater-than\(created,/);
  });

  it('when Klaviyo shows zoneless space-separated times, whatever the machine zone (they are UTC)', async () => {
    const data = Array.from({ length: 2_500 }, (_, i) => profile(i, START + Math.floor(i * 433.3)));
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      const client = new FakeClient(data, { shown: 'space' });
      expectEachOnce(await read(client, request()), data);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('applies a --where bound with microseconds exactly to rows with microseconds', async () => {
    // Ten rows in each of several milliseconds, told apart only by their microseconds.
    const data = Array.from({ length: 600 }, (_, i) => ({ ...profile(i, START + Math.floor(i / 10) * 1_000 + 7), micros: String((i % 10) * 100).padStart(3, '0') }));
    const edge = new Date(START + 30 * 1_000 + 7).toISOString().replace('Z', '450Z');
    const after = data.filter((p) => p.ms > START + 30 * 1_000 + 7 || (p.ms === START + 30 * 1_000 + 7 && Number(p.micros) > 450));
    const atOrBefore = data.filter((p) => !after.includes(p));
    for (const shown of ['ms', 'space'] as const) {
      expectEachOnce(await read(new FakeClient(data, { shown }), request({ where: [`Created > '${edge}'`] })), after);
      expectEachOnce(await read(new FakeClient(data, { shown }), request({ where: [`Created <= '${edge}'`] })), atOrBefore);
    }
  });

  it('combines with --since (Updated) pushed to every request', () => {
    const plan = Profiles.plan(request({ since: new Date('2024-05-01T00:00:00Z') }));
    expect(plan.requests).toHaveLength(3);
    for (const r of plan.requests) expect(r.query.filter).toContain('greater-than(updated,2024-04-30T23:59:59Z)');
    expect(plan.requests[2].query.filter).toContain('<slice start − 1 s>');
  });
});

describe('partitioned Profiles read: stopping', () => {
  it('stops every cursor at --limit', async () => {
    const data = uniform(5_000);
    const client = new FakeClient(data);
    const rows = await read(client, request({ limit: 1_234 }));
    expect(rows).toHaveLength(1_234);
    expect(new Set(rows.map((r) => r.Id)).size).toBe(1_234);
    expect(client.inFlight).toBe(0);
    expect(client.requests).toBeLessThan(50);
  });

  it('stops every cursor when the consumer stops early', async () => {
    const client = new FakeClient(uniform(5_000));
    let n = 0;
    for await (const _ of Profiles.plan(request()).execute(client as unknown as KlaviyoClient)) if (++n === 500) break;
    expect(client.inFlight).toBe(0);
    const before = client.requests;
    await new Promise((r) => setImmediate(r));
    expect(client.requests).toBe(before);
  });

  it('surfaces an error in one cursor and stops the others', async () => {
    const client = new FakeClient(uniform(5_000), { failAt: 9 });
    await expect(read(client, request())).rejects.toThrow('request 9 failed');
    expect(client.inFlight).toBe(0);
    expect(client.requests).toBeLessThan(40);
  });

  it('stops on abort (Ctrl-C)', async () => {
    const client = new FakeClient(uniform(5_000));
    const abort = new AbortController();
    const rows: Row[] = [];
    await expect(
      (async () => {
        for await (const row of Profiles.plan(request()).execute(client as unknown as KlaviyoClient, abort.signal)) {
          rows.push(row);
          if (rows.length === 300) abort.abort();
        }
      })(),
    ).rejects.toThrow();
    expect(client.inFlight).toBe(0);
    expect(client.aborted).toBeGreaterThan(0);
  });
});

describe('when a read stays on one cursor', () => {
  it('an equality the API answers (Email =) is one request, as is Id =', () => {
    for (const where of ["Email = 'x@example.com'", "Id = '01ABC'", "ExternalId in ('a','b')"]) {
      const plan = Profiles.plan(request({ where: [where] }));
      expect(plan.requests, where).toHaveLength(1);
      expect(plan.notes.join(' ')).not.toContain('time slices');
    }
  });

  it('only the narrowing columns keep a read on one cursor when the object names them', () => {
    const source = {
      resourceType: 'profile',
      list: 'get_profiles',
      partition: { column: 'Created', field: 'created', sort: 'created', narrowing: ['Id'] },
    } as const;
    const planWith = (where: string) => {
      const req = request({ where: [where] });
      return planPartitionedRead(Profiles, source, req, req.where);
    };
    expect(planWith("Id in ('a','b')")).toBeUndefined();
    expect(planWith("Email = 'x@example.com'")?.requests).toHaveLength(3);
  });

  it('a small --limit, or one cursor asked for', () => {
    expect(Profiles.plan(request({ limit: 10 })).requests).toHaveLength(1);
    expect(Profiles.plan(request({ options: { parallelism: 1 } })).requests).toHaveLength(1);
  });

  it('an Email = read makes one request when executed', async () => {
    const data = uniform(3_000);
    const client = new FakeClient(data);
    const rows = await read(client, request({ where: ["Email = 'p17@example.com'"] }));
    expect(rows.map((r) => r.Id)).toEqual([data[17].id]);
    expect(client.requests).toBe(1);
  });
});

describe('--explain of a partitioned read', () => {
  it('shows the two end pages and the slice requests with their filters', () => {
    const plan = Profiles.plan(request({ where: ["City = 'Berlin'"] }));
    expect(plan.requests.map((r) => r.query.sort)).toEqual(['created', '-created', 'created']);
    expect(plan.requests[2].query.filter).toBe('and(greater-than(created,<slice start − 1 s>),less-than(created,<slice end + 1 s>))');
    for (const r of plan.requests) expect(r.query['fields[profile]']).toContain('created');
    expect(plan.localConditions.map((c) => c.column)).toEqual(['City']);
    expect(plan.notes.join(' ')).toMatch(/time slices of Created, up to 8 cursors at once.*no particular order/);
  });
});
