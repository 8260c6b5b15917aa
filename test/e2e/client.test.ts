/**
 * The real client against the real emulator over a loopback socket: every demo profile comes
 * back exactly once through paginate('get_profiles'), with the spec's rate limits enforced by
 * the emulator, and again when a fifth of the requests fail (5xx or dropped connections).
 */
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { KlaviyoClient } from '../../src/klaviyo/client.js';
import { UnknownOutcomeError } from '../../src/klaviyo/errors.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { DEMO_PRIVATE_KEY } from '../../src/emulator/demo-data/index.js';
import { readFileSync } from 'node:fs';
import { startRecording, type Recording } from '../helpers/recording.js';
import { startLoopbackServer, type LoopbackServer } from '../helpers/loopback-server.js';
import { loadSpec } from '../helpers/spec.js';
import { validateRequest, type RecordedExchange } from '../helpers/spec-validator.js';

const PROFILES = 2_000;

let emulator: RunningEmulator | undefined;
let client: KlaviyoClient | undefined;
let recording: Recording | undefined;

afterEach(async () => {
  await client?.close();
  await emulator?.close();
  recording?.dispose();
  client = undefined;
  emulator = undefined;
  recording = undefined;
});

async function readAllProfiles(faults: number) {
  recording = startRecording({ setEnv: false });
  emulator = await startEmulator({ data: 'demo', profiles: PROFILES, rateLimits: 'spec', faults, seed: 7, record: recording.file });
  expect(new URL(emulator.url).hostname).toBe('127.0.0.1');
  const journal: string[] = [];
  client = new KlaviyoClient({
    baseUrl: emulator.url,
    apiKey: new Secret(DEMO_PRIVATE_KEY),
    userAgent: 'klv/e2e',
    journal: (line) => journal.push(line),
    // Deterministic jitter; small so the retries of the faulty run stay quick.
    random: () => 0.1,
  });
  const seen = new Map<string, number>();
  for await (const resource of client.paginate('get_profiles')) {
    expect(resource.type).toBe('profile');
    seen.set(resource.id, (seen.get(resource.id) ?? 0) + 1);
  }
  return { seen, journal, stats: client.stats(), expected: emulator.store.collection('profile').count() };
}

describe('client against the emulator', () => {
  it(`reads all ${PROFILES} demo profiles, each exactly once, without a 429`, async () => {
    const { seen, journal, stats, expected } = await readAllProfiles(0);
    expect(expected).toBe(PROFILES);
    expect(seen.size).toBe(PROFILES);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    // 100 per page: the largest get_profiles allows.
    expect(stats.requests).toBe(PROFILES / 100);
    expect(stats.retries).toBe(0);
    expect(journal.filter((l) => / -> 429 /.test(l))).toEqual([]);
    expect(journal[0]).toMatch(/^HTTP GET \/api\/profiles\?page\[size\]=100 -> 200 \d+ms remaining=\d+ retry=0$/);
    // Every request the client sent is within Klaviyo's OpenAPI spec (the emulator's answers are
    // its own tests' business).
    await emulator!.close();
    const exchanges = readFileSync(recording!.file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as RecordedExchange);
    expect(exchanges).toHaveLength(PROFILES / 100);
    if (loadSpec()) {
      const problems = exchanges.flatMap((x) =>
        validateRequest(x.operationId ?? 'unknown', {
          method: x.method,
          path: x.path,
          query: x.query,
          headers: x.requestHeaders,
          body: x.requestBody ?? undefined,
        }),
      );
      expect(problems).toEqual([]);
    }
  });

  it(`still reads all ${PROFILES} exactly once when 20% of the requests fail`, async () => {
    const { seen, journal, stats } = await readAllProfiles(0.2);
    expect(seen.size).toBe(PROFILES);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    // The faults happened and were retried (seeded, so this is stable).
    expect(stats.retries).toBeGreaterThan(0);
    expect(stats.requests).toBe(PROFILES / 100 + stats.retries);
    expect(journal.some((l) => / retry \d+ in \d+ms after (500|502|503|UND_ERR_SOCKET|ECONNRESET)/.test(l))).toBe(true);
  });
});

describe('client over its own connection pool', () => {
  let server: LoopbackServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('reuses connections and sends the Klaviyo headers', async () => {
    const seen: Array<{ url?: string; headers: IncomingMessage['headers']; socket: unknown }> = [];
    const started = await startLoopbackServer((req, res) => {
      seen.push({ url: req.url, headers: req.headers, socket: req.socket });
      res.writeHead(200, { 'content-type': 'application/vnd.api+json', 'ratelimit-remaining': '10', 'ratelimit-reset': '30' });
      res.end(JSON.stringify({ data: [] }));
    });
    server = started;
    client = new KlaviyoClient({ baseUrl: started.url, apiKey: new Secret('pk_loopback_test_0123456789'), userAgent: 'klv/e2e', concurrency: 1 });
    for (let i = 0; i < 3; i++) await client.request('get_lists');
    expect(seen).toHaveLength(3);
    expect(seen[0].headers).toMatchObject({
      authorization: 'Klaviyo-API-Key pk_loopback_test_0123456789',
      revision: '2026-07-15',
      accept: 'application/vnd.api+json',
      'user-agent': 'klv/e2e',
    });
    // One keep-alive connection served all three.
    expect(new Set(seen.map((s) => s.socket)).size).toBe(1);
    expect(client.lastRateLimit).toMatchObject({ operationId: 'get_lists', remaining: 10, reset: 30 });
  });

  it('a POST whose connection drops is sent once and reported as unknown outcome', async () => {
    let posts = 0;
    const started = await startLoopbackServer((req) => {
      posts += 1;
      req.resume();
      req.on('end', () => req.socket.destroy());
    });
    server = started;
    client = new KlaviyoClient({ baseUrl: started.url, apiKey: new Secret('pk_loopback_test_0123456789'), userAgent: 'klv/e2e' });
    const err = await client.request('create_profile', { body: { data: { type: 'profile', attributes: { email: 'a@b.c' } } } }).catch((e) => e);
    expect(err).toBeInstanceOf(UnknownOutcomeError);
    expect(String(err.stack)).not.toContain('pk_loopback_test_0123456789');
    expect(posts).toBe(1);
  });

  it('a GET whose connection drops is retried', async () => {
    let gets = 0;
    const started = await startLoopbackServer((req, res) => {
      gets += 1;
      if (gets === 1) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/vnd.api+json' });
      res.end(JSON.stringify({ data: [] }));
    });
    server = started;
    client = new KlaviyoClient({ baseUrl: started.url, apiKey: new Secret('pk_loopback_test_0123456789'), userAgent: 'klv/e2e', random: () => 0 });
    await expect(client.request('get_lists')).resolves.toMatchObject({ status: 200, attempts: 2 });
    expect(gets).toBe(2);
  });
});
