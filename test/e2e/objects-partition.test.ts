/**
 * Partitioned Profiles reads against the real emulator over loopback, with the real client and
 * the spec's rate limits: every profile comes out exactly once, many cursors are in flight at
 * once, the read beats the bound a single cursor cannot go under, an `Email =` read stays one
 * request, and every request stays within Klaviyo's OpenAPI spec.
 */
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { KlaviyoClient } from '../../src/klaviyo/client.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { DEMO_PRIVATE_KEY } from '../../src/emulator/demo-data/index.js';
import { Profiles } from '../../src/objects/catalog/profiles.js';
import { selectColumns } from '../../src/objects/columns.js';
import { parseWhere } from '../../src/objects/where.js';
import { matchesAll } from '../../src/objects/read/values.js';
import { columnMap } from '../../src/objects/read/collection-reader.js';
import type { ReadRequest, Row } from '../../src/objects/types.js';
import type { StoredResource } from '../../src/emulator/store/types.js';
import { startRecording, type Recording } from '../helpers/recording.js';

const PROFILES = 3_000;
const PAGE = 100;
const LATENCY_MS = 200;

/** Counts requests in flight on the wire (until the response headers arrive). */
class CountingPool extends Pool {
  active = 0;
  max = 0;
  override request(...args: any[]): any {
    this.active += 1;
    this.max = Math.max(this.max, this.active);
    const settle = () => {
      this.active -= 1;
    };
    const result = (super.request as (...a: any[]) => any)(...args);
    if (result && typeof result.then === 'function') return result.then((v: unknown) => (settle(), v), (e: unknown) => (settle(), Promise.reject(e)));
    settle();
    return result;
  }
}

let emulator: RunningEmulator | undefined;
let client: KlaviyoClient | undefined;
let pool: CountingPool | undefined;
let recording: Recording | undefined;

afterEach(async () => {
  await client?.close();
  await pool?.close();
  await emulator?.close();
  recording?.dispose();
  client = emulator = pool = recording = undefined;
});

async function start(latencyMs: number): Promise<void> {
  recording = startRecording({ setEnv: false });
  emulator = await startEmulator({ data: 'demo', profiles: PROFILES, rateLimits: 'spec', latencyMs, seed: 3, record: recording.file });
  pool = new CountingPool(emulator.url, { connections: 16 });
  client = new KlaviyoClient({ baseUrl: emulator.url, apiKey: new Secret(DEMO_PRIVATE_KEY), userAgent: 'klv/e2e', concurrency: 16, dispatcher: pool });
}

function request(where: string[] = [], o: Partial<ReadRequest> = {}): ReadRequest {
  return {
    columns: selectColumns(Profiles, ['Id', 'Email', 'City', 'Created', 'Updated']),
    where: where.map((w) => parseWhere(w, Profiles)),
    options: {},
    ...o,
  };
}

async function readAll(req: ReadRequest): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const row of Profiles.plan(req).execute(client!)) rows.push(row);
  return rows;
}

function storedProfiles(): StoredResource[] {
  return [...emulator!.store.collection('profile').values()];
}

function expectSameIds(rows: Row[], expected: string[]): void {
  const got = rows.map((r) => String(r.Id)).sort();
  expect(new Set(got).size, 'a profile came out twice').toBe(got.length);
  expect(got).toEqual([...expected].sort());
}

describe('partitioned Profiles read against the emulator', () => {
  it(`reads all ${PROFILES} profiles exactly once, many cursors at once, faster than one cursor can`, async () => {
    await start(LATENCY_MS);
    const plan = Profiles.plan(request());
    expect(plan.notes.join(' ')).toContain('time slices of Created');
    const started = performance.now();
    const rows: Row[] = [];
    for await (const row of plan.execute(client!)) rows.push(row);
    const elapsed = performance.now() - started;

    expectSameIds(
      rows,
      storedProfiles().map((p) => p.id),
    );
    // Values are the profiles' own.
    const byId = new Map(storedProfiles().map((p) => [p.id, p]));
    for (const row of rows.slice(0, 50)) expect(row.Email).toBe(byId.get(String(row.Id))!.attributes.email);

    // Cursors overlapped on the wire...
    expect(pool!.max).toBeGreaterThanOrEqual(8);
    // ...so the read took less than one cursor needs at the very least, one round trip per page
    // (6 s). It takes ~1 s; the margin is for a machine busy with other tests.
    const oneCursorAtLeast = (PROFILES / PAGE) * LATENCY_MS;
    expect(elapsed).toBeLessThan(oneCursorAtLeast);
    const stats = client!.stats();
    expect(stats.requests).toBeLessThanOrEqual(PROFILES / PAGE + 2 + 16 + 8);
    expect(stats.retries).toBe(0);

    await client!.close();
    await emulator!.close();
    recording!.expectConformant({ minExchanges: PROFILES / PAGE });
  });

  it('an Email = read is one request, as a single-cursor read', async () => {
    await start(0);
    const target = storedProfiles()[1234];
    const rows = await readAll(request([`Email = '${String(target.attributes.email)}'`]));
    expect(rows.map((r) => r.Id)).toEqual([target.id]);
    expect(client!.stats().requests).toBe(1);
    const counts = (await (await fetch(`${emulator!.url}/_emulator/requests`)).json()) as { total: number };
    expect(counts.total).toBe(1);
  });

  it('applies Created bounds, --since on Updated and local conditions exactly', async () => {
    await start(0);
    const all = storedProfiles();
    const times = all.map((p) => Date.parse(String(p.attributes.created))).sort((a, b) => a - b);
    const from = new Date(times[Math.floor(times.length * 0.2)]).toISOString();
    const to = new Date(times[Math.floor(times.length * 0.9)]).toISOString();
    const since = new Date(Date.parse(String(all[Math.floor(all.length / 3)].attributes.updated)) - 86_400_000 * 30);
    const req = request([`Created >= '${from}'`, `Created < '${to}'`, "City != 'Berlin'"], { since });
    const rows = await readAll(req);

    const byName = columnMap(Profiles, req.columns);
    const conditions = [...req.where, { column: 'Updated', op: '>=' as const, value: since.toISOString() }];
    const expected = all.filter((p) =>
      matchesAll(
        { Created: p.attributes.created, Updated: p.attributes.updated, City: (p.attributes.location as { city?: string } | undefined)?.city ?? null },
        conditions,
        byName,
      ),
    );
    expect(expected.length).toBeGreaterThan(50);
    expect(expected.length).toBeLessThan(all.length / 2);
    expectSameIds(
      rows,
      expected.map((p) => p.id),
    );
  });

  it('stops every cursor at --limit', async () => {
    await start(0);
    const rows = await readAll(request([], { limit: 1_700 }));
    expect(rows).toHaveLength(1_700);
    expect(new Set(rows.map((r) => r.Id)).size).toBe(1_700);
    // The read waited for its cursors before returning: nothing is in flight, nothing comes after.
    expect(pool!.active).toBe(0);
    const after = client!.stats().requests;
    await new Promise((r) => setImmediate(r));
    expect(client!.stats().requests).toBe(after);
  });
});
