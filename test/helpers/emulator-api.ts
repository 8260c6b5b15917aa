/**
 * In-process emulators for tests: calling /api as klv would (key, revision, JSON:API types); the
 * emulator the emulator's handler tests share, serving a fixture account on a clock the tests move
 * and going back to the fixture, its time and its rate-limit mode before each test; and an
 * emulator with klv's client pointed at it.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { DEMO_PRIVATE_KEY } from '../../src/emulator/demo-data/index.js';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator/server.js';
import { storeFromSnapshot } from '../../src/emulator/store/account-store.js';
import type { AccountSnapshot, StoredResource } from '../../src/emulator/store/types.js';
import { KlaviyoClient, type KlaviyoClientOptions } from '../../src/klaviyo/client.js';

const JSON_API = 'application/vnd.api+json';

/** The headers klv sends with `key`. */
export function apiHeaders(key: string): Record<string, string> {
  return { authorization: `Klaviyo-API-Key ${key}`, revision: '2026-07-15', accept: JSON_API, 'content-type': JSON_API };
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The JSON body; null when there is none. */
  body: any;
}

export async function callApi(base: string, method: string, path: string, body: unknown, headers: Record<string, string>): Promise<ApiAnswer> {
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : null };
}

/** The account resource of test accounts, with every attribute GET /api/accounts has. */
export const TEST_ACCOUNT: AccountSnapshot['account'] = {
  type: 'account',
  id: 'AbC123',
  attributes: {
    test_account: true,
    contact_information: { default_sender_name: 'Unit', default_sender_email: 'unit@example.com', website_url: null, organization_name: 'Unit', street_address: { address1: null, address2: null, city: null, region: null, country: null, zip: null } },
    industry: null,
    timezone: 'UTC',
    preferred_currency: 'USD',
    public_api_key: 'AbC123',
    locale: 'en-US',
  },
  relationships: {},
};

/** A test account (TEST_ACCOUNT) holding these resources and memberships. */
export function testAccount(
  resources: Record<string, StoredResource[]>,
  members: { listMembers?: AccountSnapshot['listMembers']; segmentMembers?: AccountSnapshot['segmentMembers'] } = {},
): AccountSnapshot {
  return {
    account: structuredClone(TEST_ACCOUNT),
    resources,
    listMembers: members.listMembers ?? {},
    segmentMembers: members.segmentMembers ?? {},
  };
}

export interface FixtureEmulator {
  readonly emu: RunningEmulator;
  /** The emulator's clock (epoch ms); back to the start before each test. */
  now: number;
  /** A request with the file's key (or other headers), to this emulator or another at `base`. */
  api: (method: string, path: string, body?: unknown, base?: string, headers?: Record<string, string>) => Promise<ApiAnswer>;
}

/** Registers the file's hooks: an emulator serving `fixture()` from beforeAll to afterAll. */
export function useFixtureEmulator(fixture: () => AccountSnapshot, o: { key: string; now: number; rateLimits?: 'off' | 'spec' }): FixtureEmulator {
  let emu: RunningEmulator | undefined;
  let now = o.now;
  const clock = () => new Date(now);
  const headers = apiHeaders(o.key);
  beforeAll(async () => {
    emu = await startEmulator({ store: storeFromSnapshot(fixture(), { clock }), rateLimits: o.rateLimits ?? 'off', clock });
  });
  afterAll(() => emu?.close());
  beforeEach(async () => {
    now = o.now;
    await fetch(`${emu!.url}/_emulator/reset`, { method: 'POST' });
    await fetch(`${emu!.url}/_emulator/rate-limits`, { method: 'POST', body: JSON.stringify({ mode: o.rateLimits ?? 'off' }) });
  });
  return {
    get emu() {
      if (!emu) throw new Error('the fixture emulator starts in beforeAll');
      return emu;
    },
    get now() {
      return now;
    },
    set now(ms: number) {
      now = ms;
    },
    api: (method, path, body, base, h) => callApi(base ?? emu!.url, method, path, body, h ?? headers),
  };
}

export interface EmulatorWithClient {
  emulator: RunningEmulator;
  /** klv's own client on it (rate limits off unless the options say otherwise). */
  client: KlaviyoClient;
  /** Closes the client, then the emulator; once, however often it is called. */
  close: () => Promise<void>;
}

/** An in-process emulator and klv's client pointed at it, for tests that drive the client or the catalog directly. */
export async function emulatorWithClient(emulatorOptions: EmulatorOptions, clientOptions: Partial<KlaviyoClientOptions> = {}): Promise<EmulatorWithClient> {
  const emulator = await startEmulator(emulatorOptions);
  const client = new KlaviyoClient({ baseUrl: emulator.url, apiKey: new Secret(DEMO_PRIVATE_KEY), userAgent: 'klv/test', rateLimits: 'off', ...clientOptions });
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await client.close();
      await emulator.close();
    })());
  return { emulator, client, close };
}
