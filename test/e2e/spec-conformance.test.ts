/**
 * End-to-end conformance: klv's client and klv's emulator must both speak Klaviyo's API as the
 * official OpenAPI spec describes it, not merely agree with each other. Every exchange goes
 * through a real loopback socket, the emulator records it (KLV_EMULATOR_RECORD / `record`), and
 * test/helpers/spec-validator.ts checks each request and response against the spec.
 *
 * Three drivers:
 *   1. the client against an in-process emulator: paginate() over the read endpoints klv uses
 *      (several pages, sparse fieldsets, additional-fields, filters, includes), then one request
 *      to every GET operation in the spec (each collection, and the resource, related and
 *      relationship endpoints of its first item), then requests the emulator must refuse (bad
 *      page size, wrong key, unknown id, rate limit), whose error bodies must match the spec;
 *   2. the built CLI: `klv doctor --demo`;
 *   3. the built CLI's `klv emulator` as a separate process, with `klv doctor` pointed at it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { DEMO_PRIVATE_KEY } from '../../src/emulator/demo-data/index.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { KlaviyoClient, type JsonApiResource, type PaginateOptions } from '../../src/klaviyo/client.js';
import { OPERATIONS, type OperationId } from '../../src/klaviyo/generated/api-metadata.js';
import type { OperationMeta } from '../../src/klaviyo/api-metadata-types.js';
import { startRecording, withRecording, type Recording } from '../helpers/recording.js';
import { cleanEnv, runKlv } from '../helpers/cli.js';
import { spawnEmulator } from '../helpers/emulator.js';
import { loadSpec } from '../helpers/spec.js';
import { specValidator, type RecordedExchange } from '../helpers/spec-validator.js';

const spec = loadSpec();
/** A fixed time for the emulators: rate-limit windows never roll over, so a 429 is certain. */
const FIXED_NOW = new Date('2026-07-20T12:00:00Z');

function readExchanges(file: string): RecordedExchange[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RecordedExchange);
}

describe.skipIf(!spec)('the client and the in-process emulator conform to the spec', () => {
  let recording: Recording;
  let emulator: RunningEmulator;
  let client: KlaviyoClient;

  beforeAll(async () => {
    recording = startRecording({ setEnv: false });
    emulator = await startEmulator({
      data: 'demo',
      profiles: 250,
      seed: 7,
      rateLimits: 'off',
      key: DEMO_PRIVATE_KEY,
      clock: () => FIXED_NOW,
      record: recording.file,
    });
    client = new KlaviyoClient({
      baseUrl: emulator.url,
      apiKey: new Secret(DEMO_PRIVATE_KEY),
      userAgent: 'klv-conformance-test',
      rateLimits: 'off',
      maxRetries: 0,
    });
  });

  afterAll(async () => {
    await client?.close();
    await emulator?.close();
    recording?.dispose();
  });

  const all = async (operationId: OperationId, o: PaginateOptions = {}): Promise<JsonApiResource[]> => {
    const out: JsonApiResource[] = [];
    for await (const resource of client.paginate(operationId, o)) out.push(resource);
    return out;
  };

  it('reads every collection the emulator serves, with every exchange within the spec', async () => {
    const accounts = await client.request('get_accounts');
    expect(accounts.body.data).toHaveLength(1);

    // Profiles: several pages (links.next followed), extra fields, sparse fieldsets, filter + sort.
    const profiles = await all('get_profiles', { pageSize: 100, limit: 250 });
    expect(profiles.length).toBeGreaterThan(200);
    const withSubscriptions = await all('get_profiles', { query: { 'additional-fields[profile]': 'subscriptions' }, limit: 30 });
    expect(withSubscriptions.length).toBe(30);
    expect(withSubscriptions.every((p) => p.attributes && 'subscriptions' in p.attributes)).toBe(true);
    const sparse = await all('get_profiles', { query: { 'fields[profile]': ['email', 'first_name'] }, limit: 20 });
    expect(sparse.length).toBe(20);
    expect(Object.keys(sparse[0].attributes ?? {}).sort()).toEqual(['email', 'first_name']);
    const recent = await all('get_profiles', {
      query: { filter: 'greater-than(updated,2000-01-01T00:00:00Z)', sort: '-updated' },
      limit: 20,
    });
    expect(recent.length).toBe(20);
    await client.request('get_profile', { pathParams: { id: profiles[0].id }, query: { 'additional-fields[profile]': 'subscriptions' } });

    const lists = await all('get_lists');
    expect(lists.length).toBeGreaterThan(0);
    await client.request('get_list', { pathParams: { id: lists[0].id }, query: { 'additional-fields[list]': 'profile_count' } });
    const members = await all('get_profiles_for_list', { pathParams: { id: lists[0].id }, limit: 120 });
    expect(members.length).toBeGreaterThan(0);

    expect((await all('get_segments')).length).toBeGreaterThan(0);

    const emailCampaigns = await all('get_campaigns', {
      query: { filter: "equals(messages.channel,'email')", include: 'campaign-messages' },
    });
    expect(emailCampaigns.length).toBeGreaterThan(0);
    expect(emailCampaigns[0].includedRelationships?.['campaign-messages']).toBeDefined();
    await all('get_campaigns', { query: { filter: "equals(messages.channel,'sms')" } });
    const messages = await all('get_messages_for_campaign', { pathParams: { id: emailCampaigns[0].id } });
    expect(messages.length).toBeGreaterThan(0);
    await client.request('get_campaign_message', { pathParams: { id: messages[0].id } });

    expect((await all('get_templates')).length).toBeGreaterThan(0);
    expect((await all('get_metrics')).length).toBeGreaterThan(0);
    const events = await all('get_events', { query: { include: ['metric', 'profile'] }, limit: 150 });
    expect(events.length).toBeGreaterThan(0);
    expect(events[0].includedRelationships?.metric).toBeDefined();
    expect((await all('get_flows')).length).toBeGreaterThan(0);
    expect((await all('get_tags')).length).toBeGreaterThan(0);

    // 20 operations above, several of them over more than one page.
    recording.expectConformant({ minExchanges: 20 });
  });

  it('answers every GET operation within the spec: each collection, and each resource, related and relationship endpoint of its first item', async () => {
    recording.clear();
    const gets = (Object.values(OPERATIONS) as OperationMeta[]).filter((op) => op.method === 'GET');
    // Queries an operation cannot go without; any other required query would be a new spec
    // requirement this test has to learn about, so it fails below instead of guessing.
    const requiredQuery: Record<string, Record<string, string>> = {
      get_campaigns: { filter: "equals(messages.channel,'email')" },
      get_coupon_codes: { filter: "equals(coupon.id,'10OFF')" },
    };
    const outcome = new Map<string, number>();
    const call = async (op: OperationMeta, pathParams: Record<string, string> = {}): Promise<any> => {
      const missing = op.requiredQuery.filter((q) => !(q in (requiredQuery[op.operationId] ?? {})));
      expect(missing, `${op.operationId} requires ${missing.join(', ')}: teach this test a value`).toEqual([]);
      try {
        const response = await client.request(op.operationId as OperationId, { pathParams, query: requiredQuery[op.operationId] });
        outcome.set(op.operationId, response.status);
        return response.body;
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (status === undefined) throw err;
        outcome.set(op.operationId, status);
        return null;
      }
    };

    const collections = gets.filter((op) => /^\/api\/[^/{}]+$/.test(op.path));
    for (const collection of collections) {
      const body = await call(collection);
      const first = Array.isArray(body?.data) ? body.data[0] : undefined;
      if (!first) continue;
      // Everything under /api/X/{id}: the resource itself, its related resources and relationships.
      const prefix = `${collection.path}/{`;
      for (const op of gets.filter((o) => o.path.startsWith(prefix) && o.pathParams.length === 1)) {
        await call(op, { [op.pathParams[0]]: first.id });
      }
    }

    const answered = [...outcome].filter(([, status]) => status === 200).map(([id]) => id);
    // 501 = the emulator says it does not implement the operation; anything else must be a 200.
    const unexpected = [...outcome].filter(([, status]) => status !== 200 && status !== 501);
    expect(unexpected, 'GET operations that answered neither 200 nor 501').toEqual([]);
    for (const id of ['get_accounts', 'get_profiles', 'get_profile', 'get_lists_for_profile', 'get_lists', 'get_profiles_for_list', 'get_events', 'get_metric_for_event', 'get_templates', 'get_tags']) {
      expect(answered, `${id} should be among the operations the emulator serves`).toContain(id);
    }
    recording.expectConformant({ minExchanges: answered.length });
  });

  it('answers refused requests with error bodies the spec allows', async () => {
    recording.clear();
    // Out of range on purpose: request() sends it as given (paginate() would refuse it first).
    await expect(client.request('get_profiles', { query: { 'page[size]': 101 } })).rejects.toMatchObject({
      name: 'KlaviyoApiError',
      status: 400,
    });
    const stranger = new KlaviyoClient({
      baseUrl: emulator.url,
      apiKey: new Secret('pk_not_the_demo_key_0000000000'),
      userAgent: 'klv-conformance-test',
      rateLimits: 'off',
      maxRetries: 0,
    });
    try {
      await expect(stranger.request('get_accounts')).rejects.toMatchObject({ name: 'KlaviyoApiError', status: 401 });
    } finally {
      await stranger.close();
    }
    await expect(client.request('get_list', { pathParams: { id: 'NoSuchList' } })).rejects.toMatchObject({ status: 404 });

    // The bad page size is a request error we made on purpose: check only its response.
    const refusedOnPurpose = (e: RecordedExchange) => e.query?.['page[size]'] === '101';
    recording.expectConformant({ ignore: refusedOnPurpose, minExchanges: 2 });
    const refused = readExchanges(recording.file).filter(refusedOnPurpose);
    expect(refused).toHaveLength(1);
    expect(refused[0].status).toBe(400);
    expect(specValidator().validateResponse('get_profiles', refused[0].status, refused[0].responseBody)).toEqual([]);
    // ...and the validator does see the request as invalid, so ignoring it was needed.
    expect(
      specValidator().validateRequest('get_profiles', {
        method: refused[0].method,
        path: refused[0].path,
        query: refused[0].query,
        headers: refused[0].requestHeaders,
        body: refused[0].requestBody,
      }),
    ).not.toEqual([]);
  });

  it('answers a request over the spec rate limit with a 429 the spec allows', async () => {
    const limited = startRecording({ setEnv: false });
    const strict = await startEmulator({ data: 'demo', profiles: 10, rateLimits: 'spec', clock: () => FIXED_NOW, record: limited.file });
    const eager = new KlaviyoClient({
      baseUrl: strict.url,
      apiKey: new Secret(DEMO_PRIVATE_KEY),
      userAgent: 'klv-conformance-test',
      rateLimits: 'off', // do not wait client-side: reach the emulator's limit
      maxRetries: 0,
    });
    try {
      await eager.request('get_accounts');
      // get_accounts allows 1 request per second; the emulator's clock does not move.
      await expect(eager.request('get_accounts')).rejects.toMatchObject({ status: 429 });
    } finally {
      await eager.close();
      await strict.close();
    }
    try {
      const report = limited.expectConformant({ minExchanges: 2 });
      expect(readExchanges(limited.file).map((e) => e.status)).toEqual([200, 429]);
      expect(report?.problems).toEqual([]);
    } finally {
      limited.dispose();
    }
  });
});

// ------------------------------------------------------------------------------------------
// The built CLI

/** An environment with no profile, key or base URL of the developer's leaking in. */
function isolatedEnv(home: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return cleanEnv({ HOME: home, XDG_CONFIG_HOME: join(home, '.config'), ...extra });
}

describe.skipIf(!spec)('the built CLI conforms to the spec', () => {
  let home: string;
  // One file for the block, emptied before each test so that each checks only its own exchanges.
  const recording = withRecording({ setEnv: false });
  beforeEach(() => recording.clear());

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'klv-conformance-home-'));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('klv doctor --demo', async () => {
    const run = await runKlv(['doctor', '--demo'], { env: isolatedEnv(home, { KLV_EMULATOR_RECORD: recording.file }), cwd: home });
    expect(run.code, run.stderr).toBe(0);
    recording.expectConformant();
    expect(readExchanges(recording.file).some((e) => e.operationId === 'get_accounts')).toBe(true);
  });

  it('klv emulator, with klv doctor pointed at it', async () => {
    const emulator = spawnEmulator(['--port', '0', '--rate-limits', 'off', '--profiles', '50'], isolatedEnv(home, { KLV_EMULATOR_RECORD: recording.file }), { cwd: home });
    try {
      const url = await emulator.url;
      const run = await runKlv(['doctor'], { env: isolatedEnv(home, { KLAVIYO_BASE_URL: url, KLAVIYO_PRIVATE_API_KEY: 'pk_test_123456' }), cwd: home });
      expect(run.code, run.stderr).toBe(0);
    } finally {
      await emulator.stop();
    }
    recording.expectConformant();
    expect(readExchanges(recording.file).map((e) => e.operationId)).toContain('get_accounts');
  });
});
