/**
 * A partitioned read needs ~16 requests in flight: `CommandContext.client({ concurrency })` gives
 * them unless the profile sets `concurrency` itself. Measured on the wire: a loopback server
 * holds every request until as many as expected are waiting, so the count in flight is exact.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandContext } from '../../src/cli/context.js';
import { IO } from '../../src/cli/io.js';
import { PARTITIONED_READ_CONCURRENCY } from '../../src/objects/read/partitioned.js';

let server: Server | undefined;
let ctx: CommandContext | undefined;
let dir: string | undefined;

afterEach(async () => {
  await ctx?.dispose();
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
  server = ctx = dir = undefined;
});

/**
 * Answers requests in batches: nothing is answered until `batch` requests wait (or, when the
 * client sends fewer at once, until 200 ms pass without a new one), then all of them at once.
 * `max()`: the most requests seen waiting together, i.e. in flight at once.
 */
async function holdingServer(batch = PARTITIONED_READ_CONCURRENCY): Promise<{ url: string; max: () => number }> {
  let waiting: ServerResponse[] = [];
  let max = 0;
  let timer: NodeJS.Timeout | undefined;
  const release = () => {
    clearTimeout(timer);
    for (const res of waiting) {
      res.writeHead(200, { 'content-type': 'application/vnd.api+json' });
      res.end(JSON.stringify({ data: [] }));
    }
    waiting = [];
  };
  server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    waiting.push(res);
    max = Math.max(max, waiting.length);
    clearTimeout(timer);
    if (waiting.length >= batch) release();
    else timer = setTimeout(release, 200);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, max: () => max };
}

function context(env: NodeJS.ProcessEnv): CommandContext {
  dir = mkdtempSync(join(tmpdir(), 'klv-concurrency-'));
  const io = new IO({
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    stdinIsTTY: false,
    stderrIsTTY: false,
    stdoutIsTTY: false,
    env: { HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), NO_COLOR: '1', ...env },
    cwd: dir,
    color: false,
  });
  ctx = new CommandContext(io, {});
  return ctx;
}

async function maxInFlight(c: CommandContext, server: { max: () => number }, concurrency: number | undefined, requests: number): Promise<number> {
  const client = await c.client({ concurrency });
  // get_profiles allows 75/s: the rate governor holds none of these back.
  await Promise.all(Array.from({ length: requests }, () => client.request('get_profiles')));
  return server.max();
}

describe('CommandContext.client({ concurrency })', () => {
  it('lets a partitioned read have its requests in flight when the profile leaves concurrency to klv', async () => {
    const s = await holdingServer();
    const c = context({ KLAVIYO_BASE_URL: s.url, KLAVIYO_PRIVATE_API_KEY: 'pk_concurrency_test_0001' });
    expect(await maxInFlight(c, s, PARTITIONED_READ_CONCURRENCY, 2 * PARTITIONED_READ_CONCURRENCY)).toBe(PARTITIONED_READ_CONCURRENCY);
  });

  it('keeps the default of 4 for other commands', async () => {
    const s = await holdingServer();
    const c = context({ KLAVIYO_BASE_URL: s.url, KLAVIYO_PRIVATE_API_KEY: 'pk_concurrency_test_0001' });
    expect(await maxInFlight(c, s, undefined, 8)).toBe(4);
  });

  it('honours a concurrency the user set in the profile', async () => {
    const s = await holdingServer();
    const c = context({ KLAVIYO_BASE_URL: s.url, KLAVIYO_PRIVATE_API_KEY: 'pk_concurrency_test_0001' });
    writeFileSync(join(dir!, '.klaviyorc.yaml'), 'profiles:\n  default:\n    privateKeyEnv: KLAVIYO_PRIVATE_API_KEY\n    concurrency: 3\n');
    expect(await maxInFlight(c, s, PARTITIONED_READ_CONCURRENCY, 6)).toBe(3);
  });
});
