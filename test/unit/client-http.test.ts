/**
 * KlaviyoClient against undici's MockAgent, injected as the dispatcher: what goes on the wire,
 * pagination, retries, typed errors and the key never leaking. Time is a FakeClock that jumps
 * whenever the client only waits, so Retry-After and backoff cost nothing.
 */
import { getEventListeners } from 'node:events';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { errors as undiciErrors, type Dispatcher, type MockAgent, type MockCallHistoryLog } from 'undici';
import { FakeClock } from '../../src/core/clock.js';
import { InterruptedError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { KlaviyoClient, type KlaviyoClientOptions } from '../../src/klaviyo/client.js';
import { KlaviyoApiError, KlaviyoNetworkError, UnknownOutcomeError } from '../../src/klaviyo/errors.js';
import { JSON_API, mockKlaviyo, ORIGIN, pathIs as anyPath } from '../helpers/mock-klaviyo.js';

const KEY = 'pk_live_client_test_a1b2c3d4e5f6a7b8';

let agent: MockAgent;
let journal: string[];
let calls: () => MockCallHistoryLog[];

function setup(extra: Partial<KlaviyoClientOptions> = {}) {
  const mock = mockKlaviyo({ client: { apiKey: new Secret(KEY), revision: '2026-07-15', ...extra } });
  ({ agent, journal, calls } = mock);
  return { client: mock.client, clock: mock.clock, pool: mock.pool };
}

function profile(id: string, extra: Record<string, unknown> = {}) {
  return { type: 'profile', id, attributes: { email: `${id}@example.com` }, ...extra };
}

/** Everything a user could ever see of an error. */
function allTextOf(err: unknown): string {
  const e = err as Error & { hint?: string };
  return [e.message, e.stack, e.hint, inspect(e, { depth: 10 }), JSON.stringify(e)].join('\n');
}

describe('what goes on the wire', () => {
  it('sends the key, the pinned revision, accept and user-agent; content-type only with a body', async () => {
    const { client, pool } = setup();
    pool.intercept({ path: anyPath('/api/accounts'), method: 'GET' }).reply(200, { data: [] }, { headers: JSON_API });
    pool.intercept({ path: anyPath('/api/profiles'), method: 'POST' }).reply(201, { data: profile('p1') }, { headers: JSON_API });

    await client.request('get_accounts');
    const created = await client.request('create_profile', { body: { data: { type: 'profile', attributes: { email: 'a@b.c' } } } });

    const [get, post] = calls();
    expect(get.method).toBe('GET');
    expect(get.headers).toMatchObject({
      authorization: `Klaviyo-API-Key ${KEY}`,
      revision: '2026-07-15',
      accept: 'application/vnd.api+json',
      'user-agent': 'klv/test',
    });
    expect(get.headers).not.toHaveProperty('content-type');
    expect(post.method).toBe('POST');
    expect(post.headers).toMatchObject({ 'content-type': 'application/vnd.api+json', revision: '2026-07-15' });
    expect(JSON.parse(String(post.body))).toEqual({ data: { type: 'profile', attributes: { email: 'a@b.c' } } });
    expect(created).toMatchObject({ status: 201, body: { data: { id: 'p1' } }, attempts: 1 });
  });

  it('defaults the revision to the spec the client was built from', async () => {
    const { pool } = setup();
    const client = new KlaviyoClient({ baseUrl: ORIGIN, apiKey: new Secret(KEY), userAgent: 'klv/test', dispatcher: agent });
    pool.intercept({ path: anyPath('/api/accounts'), method: 'GET' }).reply(200, { data: [] });
    await client.request('get_accounts');
    expect(calls()[0].headers).toMatchObject({ revision: '2026-07-15' });
  });

  it('builds the URL from the operation: path parameters encoded, query in Klaviyo form', async () => {
    const { client, pool } = setup();
    pool.intercept({ path: anyPath('/api/profiles/01H%2FX'), method: 'GET' }).reply(200, { data: profile('01H/X') });
    await client.request('get_profile', {
      pathParams: { id: '01H/X' },
      query: { 'fields[profile]': ['email', 'first_name'], 'additional-fields[profile]': ['subscriptions'] },
    });
    expect(calls()[0].fullUrl).toBe(
      `${ORIGIN}/api/profiles/01H%2FX?fields[profile]=email,first_name&additional-fields[profile]=subscriptions`,
    );
  });

  it('returns headers lower-cased, the rate-limit state and the request id', async () => {
    const { client, pool } = setup();
    pool
      .intercept({ path: anyPath('/api/accounts'), method: 'GET' })
      .reply(200, { data: [] }, { headers: { 'RateLimit-Limit': '15', 'RateLimit-Remaining': '14', 'RateLimit-Reset': '60', 'X-Request-Id': 'r-1' } });
    const res = await client.request('get_accounts');
    expect(res.rateLimit).toEqual({ limit: 15, remaining: 14, reset: 60 });
    expect(res.requestId).toBe('r-1');
    expect(res.headers['ratelimit-remaining']).toBe('14');
    expect(client.lastRateLimit).toMatchObject({ operationId: 'get_accounts', remaining: 14 });
    expect(journal).toEqual(['HTTP GET /api/accounts -> 200 0ms remaining=14 retry=0']);
  });
});

describe('paginate', () => {
  it('asks for the largest page size, follows links.next and joins included resources', async () => {
    const { client, pool } = setup();
    const page = (n: number, next: string | null) => ({
      data: [profile(`p${n}a`, { relationships: { lists: { data: [{ type: 'list', id: `L${n}` }] } } }), profile(`p${n}b`)],
      included: [{ type: 'list', id: `L${n}`, attributes: { name: `List ${n}` } }],
      links: { self: 'x', next },
    });
    pool.intercept({ path: anyPath('/api/profiles'), method: 'GET' }).reply(200, page(1, `${ORIGIN}/api/profiles?page%5Bcursor%5D=c2&page%5Bsize%5D=100`));
    pool.intercept({ path: anyPath('/api/profiles'), method: 'GET' }).reply(200, page(2, `${ORIGIN}/api/profiles?page%5Bcursor%5D=c3&page%5Bsize%5D=100`));
    pool.intercept({ path: anyPath('/api/profiles'), method: 'GET' }).reply(200, page(3, null));

    const ids: string[] = [];
    const listNames: unknown[] = [];
    for await (const r of client.paginate('get_profiles', { query: { include: ['lists'] } })) {
      ids.push(r.id);
      const lists = r.includedRelationships?.lists;
      if (Array.isArray(lists)) listNames.push(...lists.map((l) => l.attributes?.name));
    }

    expect(ids).toEqual(['p1a', 'p1b', 'p2a', 'p2b', 'p3a', 'p3b']);
    expect(listNames).toEqual(['List 1', 'List 2', 'List 3']);
    expect(calls().map((c) => c.fullUrl)).toEqual([
      `${ORIGIN}/api/profiles?include=lists&page[size]=100`,
      `${ORIGIN}/api/profiles?page%5Bcursor%5D=c2&page%5Bsize%5D=100`,
      `${ORIGIN}/api/profiles?page%5Bcursor%5D=c3&page%5Bsize%5D=100`,
    ]);
    agent.assertNoPendingInterceptors();
  });

  it('sends no page size to endpoints that take none', async () => {
    const { client, pool } = setup();
    pool.intercept({ path: anyPath('/api/metrics'), method: 'GET' }).reply(200, { data: [{ type: 'metric', id: 'm1' }], links: { next: null } });
    const got = [];
    for await (const r of client.paginate('get_metrics')) got.push(r.id);
    expect(got).toEqual(['m1']);
    expect(calls()[0].fullUrl).toBe(`${ORIGIN}/api/metrics`);
  });

  it('stops paging once the limit is reached', async () => {
    const { client, pool } = setup();
    pool
      .intercept({ path: anyPath('/api/profiles'), method: 'GET' })
      .reply(200, { data: [profile('a'), profile('b'), profile('c')], links: { next: `${ORIGIN}/api/profiles?page%5Bcursor%5D=c2` } });
    const got = [];
    for await (const r of client.paginate('get_profiles', { limit: 3 })) got.push(r.id);
    expect(got).toEqual(['a', 'b', 'c']);
    expect(calls()).toHaveLength(1);
    expect(calls()[0].fullUrl).toBe(`${ORIGIN}/api/profiles?page[size]=3`);
  });

  it('refuses a next link to another host, without sending anything there', async () => {
    const { client, pool } = setup();
    pool
      .intercept({ path: anyPath('/api/profiles'), method: 'GET' })
      .reply(200, { data: [profile('a')], links: { next: 'https://attacker.example/api/profiles?page%5Bcursor%5D=x' } });
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const r of client.paginate('get_profiles')) got.push(r.id);
      })(),
    ).rejects.toThrow(/another host \(attacker\.example/);
    expect(got).toEqual(['a']);
    expect(calls()).toHaveLength(1);
  });

  it('refuses a page size the endpoint does not allow', async () => {
    const { client } = setup();
    await expect(client.paginate('get_profiles', { pageSize: 500 }).next()).rejects.toThrow('it allows 1 to 100');
  });
});

describe('retries', () => {
  it('retries a 429 after Retry-After, holding the operation meanwhile', async () => {
    const { client, clock, pool } = setup();
    const start = clock.now();
    pool.intercept({ path: anyPath('/api/profiles'), method: 'GET' }).reply(429, { errors: [{ code: 'throttled', detail: 'slow down' }] }, { headers: { 'Retry-After': '3' } });
    pool.intercept({ path: anyPath('/api/profiles'), method: 'GET' }).reply(200, { data: [] });

    const res = await client.request('get_profiles');

    expect(res.attempts).toBe(2);
    expect(calls()).toHaveLength(2);
    expect(clock.now() - start).toBe(3_000);
    expect(journal).toEqual([
      'HTTP GET /api/profiles -> 429 0ms retry=0',
      'HTTP GET /api/profiles retry 1 in 3000ms after 429, Retry-After 3s',
      'HTTP GET /api/profiles waited 3000ms for rate limit (Retry-After after 429)',
      'HTTP GET /api/profiles -> 200 0ms retry=1',
    ]);
    expect(client.stats()).toEqual({
      requests: 2,
      retries: 1,
      rateLimited: 1,
      throttledMs: 3_000,
      byOperation: { get_profiles: { requests: 2, retries: 1, rateLimited: 1, throttledMs: 3_000 } },
    });
  });

  it('retries a 429 on a POST too: Klaviyo did not process it', async () => {
    const { client, pool } = setup();
    pool.intercept({ path: anyPath('/api/profiles'), method: 'POST' }).reply(429, {}, { headers: { 'retry-after': '1' } });
    pool.intercept({ path: anyPath('/api/profiles'), method: 'POST' }).reply(201, { data: profile('p1') });
    await expect(client.request('create_profile', { body: {} })).resolves.toMatchObject({ status: 201, attempts: 2 });
  });

  it('gives up on 429 after the retry budget with a hint to lower concurrency', async () => {
    const { client, pool } = setup({ maxRetries: 2 });
    pool.intercept({ path: anyPath('/api/profiles'), method: 'GET' }).reply(429, {}, { headers: { 'retry-after': '1' } }).times(3);
    const err = await client.request('get_profiles').catch((e) => e);
    expect(err).toBeInstanceOf(KlaviyoApiError);
    expect(err.status).toBe(429);
    expect(err.hint).toContain('after 3 attempts');
    expect(err.hint).toContain('concurrency');
    expect(calls()).toHaveLength(3);
  });

  it('retries a 503 for a GET', async () => {
    const { client, pool } = setup();
    pool.intercept({ path: anyPath('/api/profiles'), method: 'GET' }).reply(503, 'unavailable');
    pool.intercept({ path: anyPath('/api/profiles'), method: 'GET' }).reply(200, { data: [] });
    await expect(client.request('get_profiles')).resolves.toMatchObject({ status: 200, attempts: 2 });
    expect(journal).toContain('HTTP GET /api/profiles retry 1 in 250ms after 503');
  });

  it('gives up after 5 retries of a 5xx: Klaviyo is failing, try later', async () => {
    const { client, pool } = setup();
    pool.intercept({ path: anyPath('/api/profiles'), method: 'GET' }).reply(502, 'bad gateway').times(6);
    const err = await client.request('get_profiles').catch((e) => e);
    expect(err).toBeInstanceOf(KlaviyoApiError);
    expect(err).toMatchObject({ status: 502, attempts: 6 });
    expect(err.hint).toMatch(/^Klaviyo is failing after 6 attempts/);
    expect(calls()).toHaveLength(6);
  });

  it('retries a dropped connection for a GET', async () => {
    const { client, pool } = setup();
    pool.intercept({ path: anyPath('/api/profiles'), method: 'GET' }).replyWithError(new undiciErrors.SocketError('other side closed'));
    pool.intercept({ path: anyPath('/api/profiles'), method: 'GET' }).reply(200, { data: [] });
    await expect(client.request('get_profiles')).resolves.toMatchObject({ attempts: 2 });
    expect(journal[0]).toBe('HTTP GET /api/profiles -> UND_ERR_SOCKET 0ms retry=0');
  });

  it('never re-sends a POST that is not idempotent after a dropped connection: outcome unknown', async () => {
    const { client, pool } = setup();
    pool.intercept({ path: anyPath('/api/profiles'), method: 'POST' }).replyWithError(new undiciErrors.SocketError('other side closed'));
    pool.intercept({ path: anyPath('/api/profiles'), method: 'POST' }).reply(201, { data: profile('p1') });

    const err = await client.request('create_profile', { body: { data: { type: 'profile', attributes: { email: 'a@b.c' } } } }).catch((e) => e);

    expect(err).toBeInstanceOf(UnknownOutcomeError);
    expect(err.message).toMatch(/^POST \/api\/profiles failed with UND_ERR_SOCKET .* the outcome is unknown/);
    expect(calls().filter((c) => c.method === 'POST')).toHaveLength(1);
  });

  it('never re-sends a POST that is not idempotent after a 503 either', async () => {
    const { client, pool } = setup();
    pool.intercept({ path: anyPath('/api/profile-import'), method: 'POST' }).reply(503, 'x', { headers: { 'x-request-id': 'r-9' } });
    const err = await client.request('create_or_update_profile', { body: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(UnknownOutcomeError);
    expect(err).toMatchObject({ status: 503, requestId: 'r-9' });
    expect(calls()).toHaveLength(1);
  });

  it('re-sends a POST marked idempotent', async () => {
    const { client, pool } = setup();
    pool.intercept({ path: anyPath('/api/profile-import'), method: 'POST' }).replyWithError(new undiciErrors.SocketError('other side closed'));
    pool.intercept({ path: anyPath('/api/profile-import'), method: 'POST' }).reply(200, { data: profile('p1') });
    await expect(client.request('create_or_update_profile', { body: {}, idempotent: true })).resolves.toMatchObject({ attempts: 2 });
    expect(calls()).toHaveLength(2);
  });

  it('a network failure that outlasts the retries is a KlaviyoNetworkError', async () => {
    const { client, pool } = setup({ maxRetries: 1 });
    pool.intercept({ path: anyPath('/api/profiles'), method: 'GET' }).replyWithError(new undiciErrors.SocketError('other side closed')).times(2);
    const err = await client.request('get_profiles').catch((e) => e);
    expect(err).toBeInstanceOf(KlaviyoNetworkError);
    expect(err).toMatchObject({ code: 'UND_ERR_SOCKET', attempts: 2 });
    expect(err.message).toMatch(/^GET \/api\/profiles failed: could not reach Klaviyo at https:\/\/a\.klaviyo\.com: other side closed/);
  });
});

describe('typed errors', () => {
  it('a 400 becomes a KlaviyoApiError with code, detail, source, request id and hint', async () => {
    const { client, pool } = setup();
    pool.intercept({ path: anyPath('/api/profiles'), method: 'GET' }).reply(
      400,
      {
        errors: [
          {
            id: 'x',
            status: 400,
            code: 'invalid',
            title: 'Invalid input.',
            detail: "'foo' is not a valid field for the resource 'profile'",
            source: { parameter: 'filter' },
          },
        ],
      },
      { headers: { ...JSON_API, 'cf-ray': 'ray-1' } },
    );
    const err = await client.request('get_profiles', { query: { filter: "equals(foo,'x')" } }).catch((e) => e);
    expect(err).toBeInstanceOf(KlaviyoApiError);
    expect(err).toMatchObject({
      name: 'KlaviyoApiError',
      status: 400,
      code: 'invalid',
      detail: "'foo' is not a valid field for the resource 'profile'",
      source: { parameter: 'filter' },
      requestId: 'ray-1',
      operationId: 'get_profiles',
      method: 'GET',
      path: '/api/profiles',
    });
    expect(err.message).toBe("GET /api/profiles failed: 400 invalid: 'foo' is not a valid field for the resource 'profile' (filter)");
    expect(err.hint).toContain('email (any, equals)');
    expect(calls()).toHaveLength(1);
  });

  it('a 403 names the scope the key lacks', async () => {
    const { client, pool } = setup();
    pool.intercept({ path: anyPath('/api/lists'), method: 'GET' }).reply(403, { errors: [{ code: 'permission_denied', detail: 'no' }] });
    const err = await client.request('get_lists').catch((e) => e);
    expect(err.status).toBe(403);
    expect(err.hint).toContain('lists:read');
  });
});

describe('the API key never leaks', () => {
  it('is absent from every error message, stack, hint and journal line', async () => {
    const { client, pool } = setup({ maxRetries: 1 });
    // A server that echoes the key, and a transport error that carries it: both must be scrubbed.
    pool.intercept({ path: anyPath('/api/accounts'), method: 'GET' }).reply(401, { errors: [{ code: 'not_authenticated', detail: `bad key ${KEY}`, title: KEY }] });
    pool.intercept({ path: anyPath('/api/lists'), method: 'GET' }).replyWithError(Object.assign(new Error(`connect failed for ${KEY}`), { code: 'ECONNRESET' })).times(2);
    pool.intercept({ path: anyPath('/api/profiles'), method: 'POST' }).replyWithError(Object.assign(new Error(`reset ${KEY}`), { code: 'ECONNRESET' }));

    const errors = [
      await client.request('get_accounts').catch((e) => e),
      await client.request('get_lists').catch((e) => e),
      await client.request('create_profile', { body: {} }).catch((e) => e),
    ];

    expect(errors[0]).toBeInstanceOf(KlaviyoApiError);
    expect(errors[0].hint).toBe('Klaviyo did not accept the Private API Key. Check the key: klv config show');
    expect(errors[1]).toBeInstanceOf(KlaviyoNetworkError);
    expect(errors[2]).toBeInstanceOf(UnknownOutcomeError);
    for (const err of errors) {
      const text = allTextOf(err);
      expect(text).not.toContain(KEY);
      expect(text).not.toContain(KEY.slice(3));
    }
    expect(allTextOf(errors[1])).toContain('connect failed for pk_live…a7b8');
    expect(journal.length).toBeGreaterThan(3);
    for (const line of journal) expect(line).not.toContain(KEY);
    expect(inspect(client, { depth: 5 })).not.toContain(KEY);
    expect(JSON.stringify(client.stats())).not.toContain(KEY);
  });
});

describe('interruption and concurrency', () => {
  it('an aborted client stops with InterruptedError before sending', async () => {
    const ac = new AbortController();
    const { client } = setup({ signal: ac.signal });
    ac.abort(new InterruptedError());
    await expect(client.request('get_profiles')).rejects.toBeInstanceOf(InterruptedError);
    expect(calls()).toHaveLength(0);
  });

  it('Ctrl-C during a retry wait ends the wait at once', async () => {
    const ac = new AbortController();
    const clock = new FakeClock();
    const { client, pool } = setup({ signal: ac.signal, clock });
    pool.intercept({ path: anyPath('/api/profiles'), method: 'GET' }).reply(503, 'x');
    const pending = client.request('get_profiles');
    while (clock.pendingSleepers === 0) await new Promise((r) => setImmediate(r));
    ac.abort(new InterruptedError());
    await expect(pending).rejects.toBeInstanceOf(InterruptedError);
    expect(calls()).toHaveLength(1);
  });

  it('many requests in flight under one signal add one abort listener, and Ctrl-C stops them all', async () => {
    const ac = new AbortController();
    let inFlight = 0;
    const fake = {
      // Never answers: each request ends only when its own signal aborts.
      request: (opts: { signal: AbortSignal }) =>
        new Promise((_, reject) => {
          inFlight += 1;
          opts.signal.addEventListener('abort', () => reject(opts.signal.reason), { once: true });
        }),
      close: async () => undefined,
    } as unknown as Dispatcher;
    const { client } = setup({ dispatcher: fake, concurrency: 30, signal: ac.signal });
    const all = Promise.allSettled(Array.from({ length: 30 }, () => client.request('get_lists')));
    while (inFlight < 30) await new Promise((r) => setImmediate(r));
    // A listener per request would be 30 here, and Node warns (MaxListenersExceeded) above 10.
    expect(getEventListeners(ac.signal, 'abort').length).toBeLessThanOrEqual(2);
    ac.abort(new InterruptedError());
    const results = await all;
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof InterruptedError)).toBe(true);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const releases: Array<() => void> = [];
    const fake = {
      request: async () => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise<void>((resolve) => releases.push(resolve));
        inFlight -= 1;
        return { statusCode: 200, headers: {}, body: { text: async () => '{"data":[]}' } };
      },
      close: async () => undefined,
    } as unknown as Dispatcher;
    const { client } = setup({ dispatcher: fake, concurrency: 3 });
    const all = Promise.all(Array.from({ length: 10 }, () => client.request('get_lists')));
    let served = 0;
    while (served < 10) {
      await new Promise((r) => setImmediate(r));
      const batch = releases.splice(0);
      expect(inFlight).toBeLessThanOrEqual(3);
      for (const release of batch) release();
      served += batch.length;
    }
    await all;
    expect(maxInFlight).toBe(3);
    expect(client.stats().requests).toBe(10);
  });
});
