/**
 * Partitioned reads of Profiles with the real client against the in-process emulator with the
 * quirks of issue 12 on: pages slightly unsorted (also across page boundaries), greater-than and
 * less-than matching the bound, page cursors refused as expired. Every profile comes out once,
 * and a `Created >` bound equal to a profile's time leaves it out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { KlaviyoClient } from '../../src/klaviyo/client.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { DEMO_PRIVATE_KEY } from '../../src/emulator/demo-data/index.js';
import { Profiles } from '../../src/objects/catalog/profiles.js';
import { selectColumns } from '../../src/objects/columns.js';
import { parseWhere } from '../../src/objects/where.js';
import type { ReadRequest, Row } from '../../src/objects/types.js';

let emulator: RunningEmulator | undefined;
let client: KlaviyoClient | undefined;

afterEach(async () => {
  await client?.close();
  await emulator?.close();
  client = emulator = undefined;
});

async function start(quirks: string, profiles = 3_000): Promise<void> {
  emulator = await startEmulator({ data: 'demo', profiles, rateLimits: 'off', seed: 5, quirks });
  client = new KlaviyoClient({ baseUrl: emulator.url, apiKey: new Secret(DEMO_PRIVATE_KEY), userAgent: 'klv/test', concurrency: 8 });
}

function request(where: string[] = []): ReadRequest {
  return { columns: selectColumns(Profiles, ['Id', 'Created']), where: where.map((w) => parseWhere(w, Profiles)), options: { parallelism: 8 } };
}

async function readAll(req: ReadRequest): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const row of Profiles.plan(req).execute(client!)) rows.push(row);
  return rows;
}

const stored = () => [...emulator!.store.collection('profile').values()];

async function injected(): Promise<Record<string, number>> {
  return ((await (await fetch(`${emulator!.url}/_emulator/quirks`)).json()) as { injected: Record<string, number> }).injected;
}

function expectEachOnce(rows: Row[], ids: string[]): void {
  const got = rows.map((r) => String(r.Id));
  expect(got.length - new Set(got).size, 'profiles that came out twice').toBe(0);
  expect(ids.filter((id) => !got.includes(id)), 'profiles lost').toEqual([]);
  expect(got.sort()).toEqual([...ids].sort());
}

describe('a partitioned read against the quirks of real Klaviyo', () => {
  it('unsorted pages, inclusive bounds and expired cursors: every profile once', async () => {
    // A refused chain reads two pages again before new rows (resume-point.ts); the client gives
    // up after five refusals in a row with nothing new: at 5% a page, one in ~100,000 restarts.
    await start('unsorted-pages,inclusive-bounds,expired-cursor=0.05', 6_000);
    expectEachOnce(
      await readAll(request()),
      stored().map((p) => p.id),
    );
    const counts = await injected();
    expect(counts['unsorted-pages']).toBeGreaterThan(20);
    expect(counts['expired-cursor']).toBeGreaterThan(3);
  });

  it('a Created > or < bound equal to a profile time leaves that profile out', async () => {
    await start('unsorted-pages,inclusive-bounds');
    const all = stored();
    const times = all.map((p) => String(p.attributes.created)).sort();
    const bound = times[Math.floor(times.length / 2)];
    const ms = Date.parse(bound);
    const after = await readAll(request([`Created > '${bound}'`]));
    expectEachOnce(
      after,
      all.filter((p) => Date.parse(String(p.attributes.created)) > ms).map((p) => p.id),
    );
    const before = await readAll(request([`Created < '${bound}'`]));
    expectEachOnce(
      before,
      all.filter((p) => Date.parse(String(p.attributes.created)) < ms).map((p) => p.id),
    );
  });
});
