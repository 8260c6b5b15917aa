/**
 * klv's real KlaviyoClient with undici's MockAgent as its dispatcher: the client's own code runs
 * (headers, retries, pagination, typed errors), and the test says what "Klaviyo" answers on the
 * mock pool, then reads what went on the wire from the call history. Time is a FakeClock that
 * jumps whenever the client only waits, so Retry-After and backoff cost nothing.
 *
 * The agent is closed when the test that made it ends (vitest's onTestFinished); call
 * mockKlaviyo() inside a test or a beforeEach. Why MockAgent and not msw: see the README's
 * Development section.
 */
import { MockAgent, type MockCallHistoryLog } from 'undici';
import { onTestFinished } from 'vitest';
import { FakeClock, type Clock } from '../../src/core/clock.js';
import { Secret } from '../../src/core/secret.js';
import { KlaviyoClient, type KlaviyoClientOptions } from '../../src/klaviyo/client.js';
import type { ImportOptions, WriteContext } from '../../src/objects/write/types.js';

export const ORIGIN = 'https://a.klaviyo.com';
export const JSON_API = { 'content-type': 'application/vnd.api+json' };
export const TEST_KEY = 'pk_test_mock_klaviyo_0123456789abcdef';

/** An intercept path matcher: this path, whatever the query. */
export const pathIs = (path: string) => (actual: string) => actual.split('?')[0] === path;

export interface MockKlaviyoOptions {
  /** Client options over the defaults (key, user agent, dispatcher, clock, random 0.5). */
  client?: Partial<KlaviyoClientOptions>;
  /** The FakeClock's start (epoch ms); its default otherwise. */
  clockStart?: number;
}

export interface MockKlaviyo {
  agent: MockAgent;
  /** The pool of the client's origin: intercept requests on it. */
  pool: ReturnType<MockAgent['get']>;
  client: KlaviyoClient;
  clock: FakeClock;
  /** The client's request journal (its --verbose lines). */
  journal: string[];
  /** What reached the wire, in order. */
  calls: () => MockCallHistoryLog[];
  /** The JSON body of the i-th call. */
  bodyOf: (i: number) => any;
}

export function mockKlaviyo(o: MockKlaviyoOptions = {}): MockKlaviyo {
  const agent = new MockAgent({ enableCallHistory: true });
  agent.disableNetConnect();
  onTestFinished(() => agent.close());
  const clock = new FakeClock({ autoAdvance: true, ...(o.clockStart === undefined ? {} : { start: o.clockStart }) });
  const journal: string[] = [];
  const client = new KlaviyoClient({
    baseUrl: ORIGIN,
    apiKey: new Secret(TEST_KEY),
    userAgent: 'klv/test',
    dispatcher: agent,
    clock,
    random: () => 0.5,
    journal: (line) => journal.push(line),
    ...o.client,
  });
  const calls = () => agent.getCallHistory()?.calls() ?? [];
  return {
    agent,
    pool: agent.get(new URL(o.client?.baseUrl ?? ORIGIN).origin),
    client,
    clock,
    journal,
    calls,
    bodyOf: (i) => JSON.parse(String(calls()[i]!.body)),
  };
}

/** The context the import handlers run in, over `client`; `lines` collects their debug lines. */
export function writeContext(
  client: KlaviyoClient,
  clock: Clock,
  options: ImportOptions = {},
  signal: AbortSignal = new AbortController().signal,
): WriteContext & { lines: string[] } {
  const lines: string[] = [];
  return { client, signal, options, clock, debug: (line) => lines.push(line), lines };
}
