/**
 * Answers that look successful but are not Klaviyo's document, and the other ways real Klaviyo
 * (and the CDN in front of it) misbehaves: each is a failed attempt or a loud error, never "no
 * rows". KlaviyoClient against undici's MockAgent with a FakeClock, as in client-http.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { MockAgent, MockCallHistoryLog } from 'undici';
import { Secret } from '../../src/core/secret.js';
import { ExitCode } from '../../src/core/exit-code.js';
import type { KlaviyoClientOptions } from '../../src/klaviyo/client.js';
import { CursorRejectedError, KlaviyoApiError, KlaviyoResponseError, UnknownOutcomeError } from '../../src/klaviyo/errors.js';
import { checkDocument, isEdgeBlock } from '../../src/klaviyo/response-check.js';
import { nextRequestPath } from '../../src/klaviyo/json-api.js';
import { JSON_API, mockKlaviyo, ORIGIN, pathIs as anyPath } from '../helpers/mock-klaviyo.js';

const KEY = 'pk_live_untrusted_test_a1b2c3d4e5f6a7b8';
const HTML = { 'content-type': 'text/html; charset=UTF-8' };
const PAGE = '<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>checking your browser</body></html>';

let agent: MockAgent;
let calls: () => MockCallHistoryLog[];

function setup(extra: Partial<KlaviyoClientOptions> = {}, origin = ORIGIN) {
  const mock = mockKlaviyo({ client: { apiKey: new Secret(KEY), revision: '2026-07-15', ...extra, baseUrl: extra.baseUrl ?? origin } });
  ({ agent, calls } = mock);
  return { client: mock.client, clock: mock.clock, journal: mock.journal, pool: mock.pool };
}
const list = (ids: string[], next?: string) => ({ data: ids.map((id) => ({ type: 'list', id, attributes: { name: id } })), links: { next: next ?? null } });

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('checkDocument', () => {
  const collection = { responseType: 'list', responseIsCollection: true, responseIsNullable: false };
  const one = { responseType: 'profile', responseIsCollection: false, responseIsNullable: false };
  const oneOrNull = { responseType: 'template', responseIsCollection: false, responseIsNullable: true };
  it('accepts a JSON:API document of the promised shape', () => {
    expect(checkDocument(200, JSON_API, '{"data":[]}', collection)).toEqual({ ok: true, body: { data: [] } });
    expect(checkDocument(200, JSON_API, '{"data":null}', oneOrNull).ok).toBe(true);
    expect(checkDocument(200, {}, '{"data":{"type":"profile","id":"x"}}', one).ok).toBe(true);
  });
  it('refuses "data": null where the spec promises a resource (a to-one relationship may be null)', () => {
    expect(checkDocument(200, JSON_API, '{"data":null}', one)).toMatchObject({ ok: false, problem: 'no-data' });
    expect(checkDocument(200, JSON_API, '{"data":null}', collection)).toMatchObject({ ok: false, problem: 'no-data' });
  });
  it.each([
    ['an HTML page', HTML, PAGE, 'html'],
    ['HTML sent as JSON', JSON_API, PAGE, 'truncated'],
    ['HTML without a content type', {}, PAGE, 'html'],
    ['truncated JSON', JSON_API, '{"data":[{"type":"list","id":"a"},{"ty', 'truncated'],
    ['an empty body', JSON_API, '', 'empty'],
    ['plain text', { 'content-type': 'text/plain' }, 'upstream connect error', 'content-type'],
    ['JSON without data', JSON_API, '{"links":{}}', 'no-data'],
    ['a JSON array', JSON_API, '[]', 'no-data'],
    ['data of the wrong shape', JSON_API, '{"data":{"type":"list","id":"a"}}', 'no-data'],
  ])('refuses %s', (_what, headers, text, problem) => {
    expect(checkDocument(200, headers, text, collection)).toMatchObject({ ok: false, problem });
  });
  it('accepts any body where the operation promises none (202/204), but not an HTML page', () => {
    const none = { responseType: null, responseIsCollection: false, responseIsNullable: false };
    expect(checkDocument(202, {}, '', none).ok).toBe(true);
    expect(checkDocument(204, JSON_API, '', one).ok).toBe(true);
    expect(checkDocument(202, HTML, PAGE, none)).toMatchObject({ ok: false, problem: 'html' });
  });
  it('names the HTML page by its title', () => {
    const r = checkDocument(200, HTML, PAGE, collection);
    expect(!r.ok && r.summary).toContain('"Just a moment..."');
  });
});

describe('isEdgeBlock', () => {
  it('is a Cloudflare challenge or an HTML 403, never Klaviyo\'s own JSON 403', () => {
    expect(isEdgeBlock(403, { 'cf-mitigated': 'challenge', ...HTML }, PAGE)).toBe(true);
    expect(isEdgeBlock(403, HTML, PAGE)).toBe(true);
    expect(isEdgeBlock(403, JSON_API, '{"errors":[{"code":"permission_denied"}]}')).toBe(false);
    expect(isEdgeBlock(200, JSON_API, '{"data":[]}')).toBe(false);
  });
});

describe('a 2xx that is not a document is a failed attempt', () => {
  it.each([
    ['an HTML page', 200, PAGE, HTML],
    ['truncated JSON', 200, '{"data":[{"type":"list","id":"L1","attri', JSON_API],
    ['an empty body', 200, '', JSON_API],
    ['JSON without data', 200, '{"meta":{}}', JSON_API],
  ])('GET with %s is retried, then the real page is read', async (_what, status, text, headers) => {
    const { client } = setup();
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: anyPath('/api/lists'), method: 'GET' }).reply(status, text, { headers });
    pool.intercept({ path: anyPath('/api/lists'), method: 'GET' }).reply(200, list(['L1', 'L2']), { headers: JSON_API });
    const rows = await collect(client.paginate('get_lists'));
    expect(rows.map((r) => r.id)).toEqual(['L1', 'L2']);
    expect(calls()).toHaveLength(2);
  });

  it('GET that keeps answering HTML fails loudly (exit 1) after the retries, naming the cause', async () => {
    const { client } = setup({ maxRetries: 2 });
    agent.get(ORIGIN).intercept({ path: anyPath('/api/lists'), method: 'GET' }).reply(200, PAGE, { headers: HTML }).times(3);
    const err = await collect(client.paginate('get_lists')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KlaviyoResponseError);
    const e = err as KlaviyoResponseError;
    expect(e.kind).toBe('malformed');
    expect(e.exitCode).toBe(ExitCode.Failure);
    expect(e.message).toMatch(/GET \/api\/lists answered 200 with an HTML page \("Just a moment\.\.\."\) instead of Klaviyo's JSON:API document \(3 attempts\)/);
    expect(e.hint).toMatch(/proxy/);
    expect(calls()).toHaveLength(3);
  });

  it('a create answered 201 with an empty body has an unknown outcome: not re-sent, never "created" without an id', async () => {
    const { client } = setup();
    agent.get(ORIGIN).intercept({ path: anyPath('/api/profiles'), method: 'POST' }).reply(201, '', { headers: JSON_API });
    const err = await client.request('create_profile', { body: { data: { type: 'profile', attributes: { email: 'a@b.c' } } } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownOutcomeError);
    expect((err as Error).message).toMatch(/status 201 and an empty body/);
    expect(calls()).toHaveLength(1);
  });
});

describe("Klaviyo's edge (Cloudflare)", () => {
  it('a challenge is retried, then reported as an edge block: exit 1, no word of scopes', async () => {
    const { client } = setup();
    agent
      .get(ORIGIN)
      .intercept({ path: anyPath('/api/lists'), method: 'GET' })
      .reply(403, PAGE, { headers: { ...HTML, 'cf-mitigated': 'challenge', 'cf-ray': '8f00aa-AMS' } })
      .times(4);
    const err = await collect(client.paginate('get_lists')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KlaviyoResponseError);
    const e = err as KlaviyoResponseError;
    expect(e.kind).toBe('edge-blocked');
    expect(e.exitCode).toBe(ExitCode.Failure);
    expect(e.message).toMatch(/blocked by Klaviyo's edge network before reaching the API/);
    expect(`${e.message} ${e.hint}`).not.toMatch(/lacks a scope|missing scope|lists:read/);
    expect(e.requestId).toBe('8f00aa-AMS');
    expect(e.message).toMatch(/ray 8f00aa-AMS/); // what Klaviyo support asks for
    expect(calls()).toHaveLength(4);
  });

  it('a challenge on a write is re-sent too: the request never reached Klaviyo', async () => {
    const { client } = setup();
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: anyPath('/api/profiles'), method: 'POST' }).reply(403, PAGE, { headers: { ...HTML, 'cf-mitigated': 'challenge' } });
    pool.intercept({ path: anyPath('/api/profiles'), method: 'POST' }).reply(201, { data: { type: 'profile', id: 'P1' } }, { headers: JSON_API });
    const res = await client.request('create_profile', { body: { data: { type: 'profile', attributes: { email: 'a@b.c' } } } });
    expect(res.body).toEqual({ data: { type: 'profile', id: 'P1' } });
  });

  it("Klaviyo's own JSON 403 is still a missing scope (exit 4)", async () => {
    const { client } = setup();
    agent
      .get(ORIGIN)
      .intercept({ path: anyPath('/api/lists'), method: 'GET' })
      .reply(403, { errors: [{ id: 'e', status: 403, code: 'permission_denied', title: 'You do not have permission to perform this action.', detail: 'You do not have permission to perform this action.' }] }, { headers: JSON_API });
    const err = await collect(client.paginate('get_lists')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KlaviyoApiError);
    expect((err as KlaviyoApiError).exitCode).toBe(ExitCode.Auth);
  });
});

describe('pagination that does not advance', () => {
  it('a links.next already followed is an error, not a loop', async () => {
    const { client } = setup();
    const pool = agent.get(ORIGIN);
    const page2 = `${ORIGIN}/api/lists?page%5Bcursor%5D=two`;
    pool.intercept({ path: (p) => !p.includes('cursor'), method: 'GET' }).reply(200, list(['L1'], page2), { headers: JSON_API });
    pool.intercept({ path: (p) => p.includes('cursor%5D=two'), method: 'GET' }).reply(200, list(['L2'], page2), { headers: JSON_API });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const r of client.paginate('get_lists')) seen.push(r.id);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(['L1', 'L2']);
    expect(err).toBeInstanceOf(KlaviyoResponseError);
    expect((err as KlaviyoResponseError).kind).toBe('pagination-stuck');
    expect((err as Error).message).toMatch(/pagination does not advance: links\.next of page 2 names a page this read already requested/);
    expect(calls()).toHaveLength(2);
  });
});

describe('a refused page cursor (expired)', () => {
  const refused = { errors: [{ id: 'e', status: 400, code: 'invalid', title: 'Invalid input.', detail: 'Invalid cursor provided.', source: { pointer: '/data/' } }] };

  it('restarts the chain and yields every record once', async () => {
    const { client, journal } = setup();
    const pool = agent.get(ORIGIN);
    const next = (c: string) => `${ORIGIN}/api/lists?page%5Bcursor%5D=${c}`;
    pool.intercept({ path: (p) => !p.includes('cursor'), method: 'GET' }).reply(200, list(['L1', 'L2'], next('b')), { headers: JSON_API });
    pool.intercept({ path: (p) => p.includes('cursor%5D=b'), method: 'GET' }).reply(400, refused, { headers: JSON_API });
    // The restarted chain: the first page again (already yielded), then on.
    pool.intercept({ path: (p) => !p.includes('cursor'), method: 'GET' }).reply(200, list(['L1', 'L2'], next('b2')), { headers: JSON_API });
    pool.intercept({ path: (p) => p.includes('cursor%5D=b2'), method: 'GET' }).reply(200, list(['L3']), { headers: JSON_API });
    const rows = await collect(client.paginate('get_lists'));
    expect(rows.map((r) => r.id)).toEqual(['L1', 'L2', 'L3']);
    expect(journal.join('\n')).toMatch(/page cursor refused/);
  });

  it('restarts from where the caller says, skipping what was already yielded', async () => {
    const { client } = setup();
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: (p) => !p.includes('cursor') && !p.includes('from'), method: 'GET' }).reply(200, list(['L1', 'L2'], `${ORIGIN}/api/lists?page%5Bcursor%5D=x`), { headers: JSON_API });
    pool.intercept({ path: (p) => p.includes('cursor%5D=x'), method: 'GET' }).reply(400, refused, { headers: JSON_API });
    pool.intercept({ path: (p) => p.includes('filter='), method: 'GET' }).reply(200, list(['L2', 'L3']), { headers: JSON_API });
    const rows = await collect(client.paginate('get_lists', { restartQuery: () => ({ filter: "equals(name,'from')" }) }));
    expect(rows.map((r) => r.id)).toEqual(['L1', 'L2', 'L3']);
  });

  it('fails loudly when Klaviyo keeps refusing with no progress in between', async () => {
    const { client } = setup();
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: (p) => !p.includes('cursor'), method: 'GET' }).reply(200, list(['L1'], `${ORIGIN}/api/lists?page%5Bcursor%5D=x`), { headers: JSON_API }).persist();
    pool.intercept({ path: (p) => p.includes('cursor'), method: 'GET' }).reply(400, refused, { headers: JSON_API }).persist();
    const err = await collect(client.paginate('get_lists')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KlaviyoResponseError);
    expect((err as KlaviyoResponseError).kind).toBe('cursor-refused');
    expect((err as Error).message).toMatch(/refused its page cursors 11 times, 10 times in a row without a new record/);
  });

  it('a refused cursor outside pagination stays a 400 KlaviyoApiError callers can recognise', async () => {
    const { client } = setup();
    agent.get(ORIGIN).intercept({ path: anyPath('/api/lists'), method: 'GET' }).reply(400, refused, { headers: JSON_API });
    const err = await client.request('get_lists', { query: { 'page[cursor]': 'zzz' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CursorRejectedError);
    expect(err).toBeInstanceOf(KlaviyoApiError);
    expect((err as KlaviyoApiError).status).toBe(400);
  });
});

describe("links naming Klaviyo's host through a proxy", () => {
  it("follows a.klaviyo.com links by path and query on the configured base, under its path prefix", () => {
    expect(nextRequestPath('https://a.klaviyo.com/api/lists?page%5Bcursor%5D=c2', 'http://127.0.0.1:8080')).toBe('/api/lists?page%5Bcursor%5D=c2');
    expect(nextRequestPath('https://a.klaviyo.com/api/lists?page%5Bcursor%5D=c2', 'https://proxy.corp.example/klaviyo/')).toBe('/klaviyo/api/lists?page%5Bcursor%5D=c2');
    expect(nextRequestPath('http://127.0.0.1:8080/api/lists?x=1', 'http://127.0.0.1:8080')).toBe('/api/lists?x=1');
  });
  it('still refuses every other host, and plain-http Klaviyo', () => {
    expect(() => nextRequestPath('https://evil.example/api/lists', 'http://127.0.0.1:8080')).toThrow(/another host \(evil\.example/);
    expect(() => nextRequestPath('http://a.klaviyo.com/api/lists', 'http://127.0.0.1:8080')).toThrow(/another host/);
    expect(() => nextRequestPath('https://a.klaviyo.com.evil.example/api/lists', 'http://127.0.0.1:8080')).toThrow(/another host/);
  });
  it('a read through a proxy base follows them', async () => {
    const { client } = setup({ baseUrl: 'http://127.0.0.1:8080' });
    const pool = agent.get('http://127.0.0.1:8080');
    pool.intercept({ path: (p) => !p.includes('cursor'), method: 'GET' }).reply(200, list(['L1'], 'https://a.klaviyo.com/api/lists?page%5Bcursor%5D=c2'), { headers: JSON_API });
    pool.intercept({ path: (p) => p.includes('cursor%5D=c2'), method: 'GET' }).reply(200, list(['L2']), { headers: JSON_API });
    const rows = await collect(client.paginate('get_lists'));
    expect(rows.map((r) => r.id)).toEqual(['L1', 'L2']);
  });
});

describe('long holds', () => {
  const throttled = (detail: string) => ({ errors: [{ id: 'e', status: 429, code: 'throttled', title: 'Request was throttled.', detail }] });

  it('a Retry-After past the ceiling stops the command with the time to come back (seconds)', async () => {
    const { client } = setup({ maxRetryAfterMs: 300_000 });
    agent.get(ORIGIN).intercept({ path: anyPath('/api/lists'), method: 'GET' }).reply(429, throttled('Request was throttled. Expected available in 3600 seconds.'), { headers: { ...JSON_API, 'retry-after': '3600' } });
    const err = await collect(client.paginate('get_lists')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KlaviyoResponseError);
    const e = err as KlaviyoResponseError;
    expect(e.kind).toBe('retry-after-too-long');
    expect(e.exitCode).toBe(ExitCode.Failure);
    expect(e.message).toMatch(/asked klv to wait 60 min before sending again \(until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\), longer than klv waits \(5 min\)/);
    expect(e.hint).toMatch(/KLV_MAX_RETRY_AFTER/);
    expect(calls()).toHaveLength(1);
  });

  it('an HTTP-date Retry-After is measured against the clock', async () => {
    const { client, clock } = setup({ maxRetryAfterMs: 60_000 });
    const date = new Date(clock.now() + 2 * 3_600_000).toUTCString();
    agent.get(ORIGIN).intercept({ path: anyPath('/api/lists'), method: 'GET' }).reply(429, throttled('Request was throttled.'), { headers: { ...JSON_API, 'retry-after': date } });
    const err = await collect(client.paginate('get_lists')).catch((e: unknown) => e);
    expect((err as KlaviyoResponseError).kind).toBe('retry-after-too-long');
    expect((err as Error).message).toMatch(/wait 2\.0 h/);
  });

  it("without a Retry-After header, Klaviyo's detail says how long", async () => {
    const { client } = setup();
    agent.get(ORIGIN).intercept({ path: anyPath('/api/lists'), method: 'GET' }).reply(429, throttled('Request was throttled. Expected available in 67608 seconds.'), { headers: JSON_API });
    const err = await collect(client.paginate('get_lists')).catch((e: unknown) => e);
    expect((err as KlaviyoResponseError).kind).toBe('retry-after-too-long');
  });

  it('a short wait (or "0 seconds" without a header) is waited out with backoff', async () => {
    const { client, clock } = setup();
    const pool = agent.get(ORIGIN);
    const start = clock.now();
    pool.intercept({ path: anyPath('/api/lists'), method: 'GET' }).reply(429, throttled('Request was throttled. Expected available in 0 seconds.'), { headers: JSON_API });
    pool.intercept({ path: anyPath('/api/lists'), method: 'GET' }).reply(200, list(['L1']), { headers: JSON_API });
    const rows = await collect(client.paginate('get_lists'));
    expect(rows).toHaveLength(1);
    // Backoff after a 429 without Retry-After: never an immediate hammering.
    expect(clock.now() - start).toBeGreaterThanOrEqual(500);
  });
});

describe('bounded responses', () => {
  it('a body announced past the limit fails its request without being read', async () => {
    const { client } = setup({ maxResponseBytes: 1024 });
    agent.get(ORIGIN).intercept({ path: anyPath('/api/lists'), method: 'GET' }).reply(200, 'x'.repeat(4096), { headers: { ...JSON_API, 'content-length': '4096' } });
    const err = await collect(client.paginate('get_lists')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KlaviyoResponseError);
    expect((err as KlaviyoResponseError).kind).toBe('too-large');
    expect((err as Error).message).toMatch(/body larger than klv accepts \(4096 bytes announced\)/);
    expect(calls()).toHaveLength(1);
  });

  it('a body that grows past the limit without announcing it fails too', async () => {
    const { client } = setup({ maxResponseBytes: 1024 });
    agent.get(ORIGIN).intercept({ path: anyPath('/api/lists'), method: 'GET' }).reply(200, JSON.stringify(list(Array.from({ length: 200 }, (_, i) => `L${i}`))), { headers: JSON_API });
    const err = await collect(client.paginate('get_lists')).catch((e: unknown) => e);
    expect((err as KlaviyoResponseError).kind).toBe('too-large');
    expect((err as Error).message).toMatch(/over 1024 bytes/);
  });
});
