/**
 * A partitioned read needs ~16 requests in flight: `CommandContext.client({ concurrency })` gives
 * them unless the profile sets `concurrency` itself. Measured on the wire, and decided by
 * conditions, never by a quiet period: a loopback server holds every request until as many as
 * the test expects are waiting (or every request the test sends has arrived), then answers them
 * all. A client allowing fewer never gets there (the test fails at its bound, saying how many
 * came); a client allowing more opens more connections than that, each for a request it sent at
 * once, before any answer (undici sends one request per connection at a time).
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandContext } from '../../src/cli/context.js';
import { PARTITIONED_READ_CONCURRENCY } from '../../src/objects/read/partitioned.js';
import { testContext } from '../helpers/io.js';
import { startLoopbackServer, type LoopbackServer } from '../helpers/loopback-server.js';

let server: LoopbackServer | undefined;
let ctx: CommandContext | undefined;
let dir: string | undefined;

afterEach(async () => {
  // The server first: a failed test leaves requests held, which the client would wait for.
  await server?.close();
  await ctx?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
  server = ctx = dir = undefined;
});

interface HoldingServer {
  url: string;
  /** The requests in flight at once the test expects, and how many it sends. */
  expected: number;
  total: number;
  /** The most requests seen waiting together, i.e. in flight at once. */
  maxInFlight: () => number;
  /** Connections the client opened. */
  connections: () => number;
  /** How many requests have arrived, for the failure message. */
  arrived: () => number;
}

/**
 * Holds requests until `expected` wait, or until all `total` the test sends have arrived (the
 * last batch may be smaller), then answers every waiting one.
 */
async function holdingServer(expected: number, total: number): Promise<HoldingServer> {
  let waiting: ServerResponse[] = [];
  let max = 0;
  let arrived = 0;
  const sockets = new Set<Socket>();
  server = await startLoopbackServer((_req, res) => {
    arrived += 1;
    waiting.push(res);
    max = Math.max(max, waiting.length);
    if (waiting.length < expected && arrived < total) return;
    for (const held of waiting) {
      held.writeHead(200, { 'content-type': 'application/vnd.api+json' });
      held.end(JSON.stringify({ data: [] }));
    }
    waiting = [];
  });
  server.server.on('connection', (socket: Socket) => sockets.add(socket));
  return { url: server.url, expected, total, maxInFlight: () => max, connections: () => sockets.size, arrived: () => arrived };
}

function context(env: NodeJS.ProcessEnv): CommandContext {
  dir = mkdtempSync(join(tmpdir(), 'klv-concurrency-'));
  ctx = testContext({ cwd: dir, env: { HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), ...env } }).ctx;
  return ctx;
}

/**
 * Sends the server's `total` requests at once through the context's client; how many were in
 * flight together, and over how many connections. Bounded: a client that never puts `expected`
 * requests on the wire fails here with what it did, not at the test's timeout.
 */
async function inFlight(c: CommandContext, s: HoldingServer, concurrency: number | undefined): Promise<{ max: number; connections: number }> {
  const client = await c.client({ concurrency });
  // get_profiles allows 75/s: the rate governor holds none of these back.
  const all = Promise.all(Array.from({ length: s.total }, () => client.request('get_profiles')));
  all.catch(() => undefined); // when the bound fails the test, the held requests fail as it ends
  let bound: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, fail) => {
    bound = setTimeout(() => fail(new Error(`${s.arrived()} of ${s.total} requests arrived, at most ${s.maxInFlight()} at once: fewer than the ${s.expected} expected in flight`)), 10_000);
  });
  try {
    await Promise.race([all, stuck]);
  } finally {
    clearTimeout(bound);
  }
  return { max: s.maxInFlight(), connections: s.connections() };
}

const KEY = 'pk_concurrency_test_0001';

describe('CommandContext.client({ concurrency })', () => {
  it('lets a partitioned read have its requests in flight when the profile leaves concurrency to klv', async () => {
    const s = await holdingServer(PARTITIONED_READ_CONCURRENCY, 2 * PARTITIONED_READ_CONCURRENCY);
    const c = context({ KLAVIYO_BASE_URL: s.url, KLAVIYO_PRIVATE_API_KEY: KEY });
    expect(await inFlight(c, s, PARTITIONED_READ_CONCURRENCY)).toEqual({ max: PARTITIONED_READ_CONCURRENCY, connections: PARTITIONED_READ_CONCURRENCY });
  });

  it('keeps the default of 4 for other commands', async () => {
    const s = await holdingServer(4, 8);
    const c = context({ KLAVIYO_BASE_URL: s.url, KLAVIYO_PRIVATE_API_KEY: KEY });
    expect(await inFlight(c, s, undefined)).toEqual({ max: 4, connections: 4 });
  });

  it('honours a concurrency the user set in the profile', async () => {
    const s = await holdingServer(3, 6);
    const c = context({ KLAVIYO_BASE_URL: s.url, KLAVIYO_PRIVATE_API_KEY: KEY });
    writeFileSync(join(dir!, '.klaviyorc.yaml'), 'profiles:\n  default:\n    privateKeyEnv: KLAVIYO_PRIVATE_API_KEY\n    concurrency: 3\n');
    expect(await inFlight(c, s, PARTITIONED_READ_CONCURRENCY)).toEqual({ max: 3, connections: 3 });
  });
});
