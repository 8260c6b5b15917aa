/**
 * The emulator's quirks over real loopback HTTP, in process, against the demo account: each
 * quirk as a client sees it, the admin endpoint, recording, composition with fault injection,
 * and reproducibility by seed. The pure transformations are in emulator-quirks.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { QUIRK_NAMES } from '../../src/emulator/http/quirks.js';

const KEY = 'pk_quirks_server_0123456789';
const HEADERS = { authorization: `Klaviyo-API-Key ${KEY}`, revision: '2026-07-15' };
const JSON_HEADERS = { ...HEADERS, 'content-type': 'application/vnd.api+json' };
const NOW = new Date('2026-03-01T12:00:00Z');
const f = (filter: string) => `filter=${encodeURIComponent(filter)}`;
const ALL_OFF = Object.fromEntries(QUIRK_NAMES.map((n) => [n, false]));

let emu: RunningEmulator;
let clockMs = NOW.getTime();
let recordDir: string;
let recordFile: string;

beforeAll(async () => {
  recordDir = mkdtempSync(join(tmpdir(), 'klv-emu-quirks-'));
  recordFile = join(recordDir, 'exchanges.ndjson');
  emu = await startEmulator({ data: 'demo', profiles: 300, rateLimits: 'off', clock: () => new Date(clockMs), record: recordFile, quirks: 'unsorted-pages' });
});

afterAll(async () => {
  await emu.close();
  rmSync(recordDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await admin('POST', '/_emulator/reset');
  await admin('POST', '/_emulator/quirks', ALL_OFF);
  await admin('POST', '/_emulator/faults', { rate: 0, kinds: ['500', '502', '503', 'drop'], stormMs: 2000 });
  writeFileSync(recordFile, '');
});

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(emu.url + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

async function quirks(changes: Record<string, unknown>) {
  const r = await admin('POST', '/_emulator/quirks', changes);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

async function injected(): Promise<Record<string, number>> {
  return (await admin('GET', '/_emulator/quirks')).body.injected;
}

/** A request as the client sees it: status, headers and the raw body text. */
async function raw(method: string, path: string, body?: unknown) {
  const res = await fetch(path.startsWith('http') ? path : emu.url + path, { method, headers: JSON_HEADERS, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function api(method: string, path: string, body?: unknown) {
  const r = await raw(method, path, body);
  return { ...r, body: (r.text ? JSON.parse(r.text) : null) as any };
}

/** Every page of a read, following links.next (on the emulator's base when they name another host). */
async function chain(path: string): Promise<any[][]> {
  const pages: any[][] = [];
  let url: string | undefined = path;
  while (url) {
    const r = await api('GET', url);
    expect(r.status, r.text).toBe(200);
    pages.push(r.body.data);
    const next: string | undefined = r.body.links.next;
    url = next === undefined ? undefined : emu.url + new URL(next).pathname + new URL(next).search;
    expect(pages.length).toBeLessThan(1000);
  }
  return pages;
}

function createList(name: string) {
  return raw('POST', '/api/lists', { data: { type: 'list', attributes: { name } } });
}

function listNames(): string[] {
  return [...emu.store.collection('list').values()].map((l) => String(l.attributes.name));
}

function records(): any[] {
  return readFileSync(recordFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('GET and POST /_emulator/quirks', () => {
  it('reports the quirks that are on and a count for every quirk', async () => {
    await quirks({ 'unsorted-pages': true, 'html-200': 0.5 });
    const r = await admin('GET', '/_emulator/quirks');
    expect(r.status).toBe(200);
    expect(r.body.quirks).toEqual({ 'html-200': 0.5, 'unsorted-pages': 1 });
    expect(Object.keys(r.body.injected).sort()).toEqual([...QUIRK_NAMES].sort());
  });

  it('changes only the quirks named: true = on at the default rate, false or 0 = off', async () => {
    expect((await quirks({ 'html-200': true, microseconds: true })).quirks).toEqual({ 'html-200': 0.2, microseconds: 1 });
    expect((await quirks({ 'cf-challenge': 0.05, 'html-200': 0 })).quirks).toEqual({ 'cf-challenge': 0.05, microseconds: 1 });
    expect((await quirks({ microseconds: false })).quirks).toEqual({ 'cf-challenge': 0.05 });
    expect((await quirks({})).quirks).toEqual({ 'cf-challenge': 0.05 });
  });

  it.each([
    [{ 'empty-200': 1, teapot: true }, 'teapot'],
    [{ 'empty-200': 1, 'html-200': 2 }, 'html-200'],
    [{ 'empty-200': 1, 'html-200': 'half' }, 'html-200'],
    [{ 'empty-200': 1, 'unsorted-pages': 0.5 }, 'unsorted-pages'],
    [['html-200'], 'quirks'],
    ['html-200', 'quirks'],
  ])('refuses %j with a 400 naming "%s", changing nothing', async (body, field) => {
    await quirks({ microseconds: true });
    const r = await admin('POST', '/_emulator/quirks', body);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].detail).toContain(`POST /_emulator/quirks: "${field}"`);
    expect(r.body.errors[0].detail).toContain('archived-flows-hidden');
    // The valid change sent with the invalid one was not applied either.
    expect((await admin('GET', '/_emulator/quirks')).body.quirks).toEqual({ microseconds: 1 });
  });

  it('survives POST /_emulator/reset, and is listed in the 404 of an unknown admin endpoint', async () => {
    await quirks({ 'no-retry-after': true });
    await admin('POST', '/_emulator/reset');
    expect((await admin('GET', '/_emulator/quirks')).body.quirks).toEqual({ 'no-retry-after': 1 });
    const r = await admin('GET', '/_emulator/nope');
    expect(r.status).toBe(404);
    expect(r.body.errors[0].detail).toContain('GET|POST /_emulator/quirks');
  });

  it('startEmulator refuses invalid quirks at start', async () => {
    await expect(startEmulator({ data: 'empty', quirks: 'teapot' })).rejects.toThrow(/unknown quirk 'teapot'/);
    await expect(startEmulator({ data: 'empty', quirks: { 'unsorted-pages': 0.3 } })).rejects.toThrow(/structural quirk/);
  });
});

describe('edge answers: html-200 and cf-challenge (not handled)', () => {
  it('html-200: 200 text/html, the request not handled, counted and recorded', async () => {
    await quirks({ 'html-200': 1 });
    const before = (await injected())['html-200']!;
    const r = await createList('Edge list');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    expect(r.text).toMatch(/^<!DOCTYPE html>/);
    expect(listNames()).not.toContain('Edge list');
    expect((await injected())['html-200']).toBe(before + 1);
    const [exchange] = records();
    expect(exchange).toMatchObject({ operationId: 'create_list', status: 200, quirks: ['html-200'] });
    expect(exchange.responseBody).toMatch(/^<!DOCTYPE html>/);
  });

  it('cf-challenge: 403 text/html with cf-mitigated, server and cf-ray; not handled', async () => {
    await quirks({ 'cf-challenge': 1 });
    const r = await createList('Challenged list');
    expect(r.status).toBe(403);
    expect(r.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    expect(r.headers.get('cf-mitigated')).toBe('challenge');
    expect(r.headers.get('server')).toBe('cloudflare');
    expect(r.headers.get('cf-ray')).toMatch(/^[0-9a-f]{16}-[A-Z]{3}$/);
    expect(r.text).toContain('Just a moment...');
    expect(listNames()).not.toContain('Challenged list');
  });

  it('comes after the key check and the fault decision: a fault answers first', async () => {
    await quirks({ 'html-200': 1 });
    const unauthorized = await fetch(`${emu.url}/api/lists`, { headers: { revision: '2026-07-15' } });
    expect(unauthorized.status).toBe(401);
    await admin('POST', '/_emulator/faults', { rate: 1, kinds: ['500'] });
    const before = await injected();
    const r = await api('GET', '/api/lists');
    expect(r.status).toBe(500);
    expect(r.body.errors[0].detail).toContain('Injected fault');
    expect((await injected())['html-200']).toBe(before['html-200']);
  });
});

describe('body quirks: truncated-json and empty-200 (handled)', () => {
  it('truncated-json: a 2xx JSON body cut in half with its content-length; the write happened', async () => {
    await quirks({ 'truncated-json': 1 });
    const r = await createList('Cut list');
    expect(r.status).toBe(201);
    expect(r.headers.get('content-type')).toBe('application/vnd.api+json');
    expect(Number(r.headers.get('content-length'))).toBe(Buffer.byteLength(r.text));
    expect(r.text).toMatch(/^\{"data":/);
    expect(() => JSON.parse(r.text)).toThrow();
    expect(listNames()).toContain('Cut list');
    expect(records()[0]).toMatchObject({ status: 201, quirks: ['truncated-json'], responseBody: r.text });
  });

  it('truncated-json leaves errors and 204s alone', async () => {
    await quirks({ 'truncated-json': 1 });
    const err = await api('GET', '/api/lists?page[size]=1000');
    expect(err.status).toBe(400);
    expect(err.body.errors[0].source).toEqual({ parameter: 'page[size]' });
  });

  it('empty-200: 200 with a JSON content type and no body; the write happened', async () => {
    await quirks({ 'empty-200': 1 });
    const r = await createList('Empty answer list');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/vnd.api+json');
    expect(r.headers.get('content-length')).toBe('0');
    expect(r.text).toBe('');
    expect(listNames()).toContain('Empty answer list');
    expect(records()[0]).toMatchObject({ status: 200, quirks: ['empty-200'], responseBody: null });
  });
});

describe('cursor quirks', () => {
  it('expired-cursor: a GET with page[cursor] is refused 400 naming the parameter; first pages are not', async () => {
    const first = await api('GET', '/api/profiles?page[size]=10');
    await quirks({ 'expired-cursor': 1 });
    expect((await api('GET', '/api/profiles?page[size]=10')).status).toBe(200);
    const r = await api('GET', first.body.links.next);
    expect(r.status).toBe(400);
    expect(r.body.errors[0]).toMatchObject({ code: 'invalid', source: { parameter: 'page[cursor]' } });
    expect(r.body.errors[0].detail).toMatch(/invalid or has expired/);
  });

  it('repeat-cursor: links.next names the page just served, so following it does not advance', async () => {
    await quirks({ 'repeat-cursor': 1 });
    const first = await api('GET', '/api/profiles?page[size]=10');
    expect(first.body.links.next).toBe(first.body.links.self);
    const again = await api('GET', first.body.links.next);
    expect(again.body.data.map((p: any) => p.id)).toEqual(first.body.data.map((p: any) => p.id));
    // The last page has no next link: nothing to repeat.
    const last = await api('GET', '/api/flows');
    expect(last.body.links.next).toBeUndefined();
  });
});

describe('unsorted-pages', () => {
  it.each([
    ['/api/profiles?sort=created&page[size]=7'],
    ['/api/profiles?sort=-created&page[size]=20'],
    ['/api/profiles?page[size]=1&fields[profile]=email'],
    ['/api/events?sort=datetime&page[size]=50&fields[event]=datetime'],
    ['/api/lists/{newsletter}/profiles?page[size]=9'],
  ])('%s: every row exactly once, moved at most one place, page k ends after page k+1 starts', async (template) => {
    const newsletter = [...emu.store.collection('list').values()][0]!.id;
    const path = template.replace('{newsletter}', newsletter);
    const expected = (await chain(path.replace(/page\[size\]=\d+/, 'page[size]=100'))).flat().map((r) => r.id);
    await quirks({ 'unsorted-pages': true });
    const before = (await injected())['unsorted-pages']!;
    const pages = await chain(path);
    const ids = pages.flat().map((r) => r.id);
    expect([...ids].sort()).toEqual([...expected].sort());
    expect(new Set(ids).size).toBe(ids.length);
    ids.forEach((id, i) => expect(Math.abs(expected.indexOf(id) - i)).toBeLessThanOrEqual(1));
    expect(ids).not.toEqual(expected);
    expect(expected.indexOf(pages[0]!.at(-1).id)).toBeGreaterThan(expected.indexOf(pages[1]![0].id));
    expect((await injected())['unsorted-pages']).toBeGreaterThan(before);
  });

  it('is off by default: the same chain comes sorted', async () => {
    const ids = (await chain('/api/profiles?sort=created&page[size]=7')).flat().map((r) => r.attributes.created);
    expect(ids).toEqual([...ids].sort());
  });
});

describe('filter quirks', () => {
  it('inclusive-bounds: greater-than and less-than also return rows at the bound', async () => {
    const flows = (await api('GET', '/api/flows?sort=created')).body.data;
    const bound = flows[2].attributes.created;
    const after = async () => (await api('GET', `/api/flows?${f(`greater-than(created,${bound})`)}`)).body.data.map((x: any) => x.id);
    const before = async () => (await api('GET', `/api/flows?${f(`less-than(created,${bound})`)}`)).body.data.map((x: any) => x.id);
    expect(await after()).not.toContain(flows[2].id);
    await quirks({ 'inclusive-bounds': true });
    expect(await after()).toContain(flows[2].id);
    expect(await before()).toContain(flows[2].id);
    expect((await injected())['inclusive-bounds']).toBeGreaterThanOrEqual(2);
  });

  it('archived-flows-hidden: the demo account has archived flows; GET /api/flows leaves them out unless the filter names archived', async () => {
    const everyFlow = (await api('GET', '/api/flows')).body.data;
    const archived = everyFlow.filter((x: any) => x.attributes.archived);
    expect(archived.length).toBeGreaterThanOrEqual(3);
    await quirks({ 'archived-flows-hidden': true });
    const shown = (await api('GET', '/api/flows')).body.data;
    expect(shown.map((x: any) => x.id).sort()).toEqual(everyFlow.filter((x: any) => !x.attributes.archived).map((x: any) => x.id).sort());
    const onlyArchived = (await api('GET', `/api/flows?${f('equals(archived,true)')}`)).body.data;
    expect(onlyArchived.map((x: any) => x.id).sort()).toEqual(archived.map((x: any) => x.id).sort());
    expect((await api('GET', `/api/flows?${f("equals(status,'draft')")}`)).body.data.every((x: any) => !x.attributes.archived)).toBe(true);
  });
});

describe('no-retry-after', () => {
  it('a 429 storm answers without Retry-After and says 0 seconds', async () => {
    await admin('POST', '/_emulator/faults', { rate: 1, kinds: ['429'], stormMs: 5000 });
    const plain = await api('GET', '/api/lists');
    expect(plain.status).toBe(429);
    expect(plain.headers.get('retry-after')).toBe('5');
    await quirks({ 'no-retry-after': true });
    const r = await api('GET', '/api/lists');
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBeNull();
    expect(r.body.errors[0].detail).toContain('Expected available in 0 seconds.');
    await admin('POST', '/_emulator/faults', { rate: 0 });
    clockMs += 10_000;
  });
});

describe('klaviyo-host-links', () => {
  it('every link names https://a.klaviyo.com; following them by path on the emulator still reads every row', async () => {
    await quirks({ 'klaviyo-host-links': true });
    const first = await api('GET', '/api/flows?page[size]=2&include=tags');
    const links = [first.body.links.self, first.body.links.next, ...first.body.data.flatMap((x: any) => [x.links.self, ...Object.values(x.relationships).flatMap((rel: any) => Object.values(rel.links))]), ...first.body.included.map((x: any) => x.links.self)];
    expect(links.length).toBeGreaterThan(5);
    for (const link of links) expect(link).toMatch(/^https:\/\/a\.klaviyo\.com\/api\//);
    const ids = (await chain('/api/profiles?page[size]=100')).flat().map((p) => p.id);
    expect(new Set(ids).size).toBe(300);
  });
});

describe('datetime quirks', () => {
  it('microseconds: six fraction digits and +00:00 on every datetime attribute', async () => {
    await quirks({ microseconds: true });
    const profile = (await api('GET', '/api/profiles?page[size]=1')).body.data[0];
    expect(profile.attributes.created).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/);
    expect(profile.attributes.updated).toMatch(/\.\d{6}\+00:00$/);
    const flow = (await api('GET', '/api/flows')).body.data[0];
    expect(flow.attributes.created).toMatch(/\.\d{6}\+00:00$/);
  });

  it('microseconds: a filter on a rendered value gets exactly the rows after (or before) it, sorted as rendered', async () => {
    await quirks({ microseconds: true });
    const events = (await chain('/api/events?sort=datetime&page[size]=1000&fields[event]=datetime')).flat();
    const values = events.map((e) => e.attributes.datetime as string);
    // Same format and offset everywhere: text order is time order.
    expect(values).toEqual([...values].sort());
    for (const at of [0.1, 0.5, 0.9].map((x) => Math.floor(x * values.length))) {
      const bound = values[at]!;
      const after = (await chain(`/api/events?sort=datetime&page[size]=1000&fields[event]=datetime&${f(`greater-than(datetime,${bound})`)}`)).flat();
      expect(after.map((e) => e.id)).toEqual(events.filter((e) => e.attributes.datetime > bound).map((e) => e.id));
      const upTo = (await chain(`/api/events?sort=-datetime&page[size]=1000&fields[event]=datetime&${f(`less-or-equal(datetime,${bound})`)}`)).flat();
      expect(upTo.map((e) => e.id).sort()).toEqual(events.filter((e) => e.attributes.datetime <= bound).map((e) => e.id).sort());
      // Cut to milliseconds, the value is before the row it came from.
      const cut = `${bound.slice(0, 23)}+00:00`;
      const fromCut = (await chain(`/api/events?sort=datetime&page[size]=1000&fields[event]=datetime&${f(`greater-than(datetime,${cut})`)}`)).flat();
      expect(fromCut.length).toBeGreaterThan(after.length);
    }
  });

  it('microseconds: equals matches the rendered value only, not the value cut to milliseconds', async () => {
    await quirks({ microseconds: true });
    const flow = (await api('GET', '/api/flows?sort=created')).body.data[3];
    const exact = await api('GET', `/api/flows?${f(`equals(created,${flow.attributes.created})`)}`);
    expect(exact.body.data.map((x: any) => x.id)).toEqual([flow.id]);
    const cut = await api('GET', `/api/flows?${f(`equals(created,${flow.attributes.created.slice(0, 23)}+00:00)`)}&sort=-created`);
    expect(cut.status).toBe(200);
    expect(cut.body.data).toEqual([]);
  });

  it('space-datetimes: events, profiles and campaigns with a space; other types keep the T', async () => {
    await quirks({ 'space-datetimes': true });
    const event = (await api('GET', '/api/events?page[size]=1')).body.data[0];
    expect(event.attributes.datetime).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\+00:00$/);
    const profile = (await api('GET', '/api/profiles?page[size]=1')).body.data[0];
    expect(profile.attributes.created).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
    expect(profile.attributes.updated).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
    const campaign = (await api('GET', `/api/campaigns?${f("equals(messages.channel,'email')")}`)).body.data[0];
    expect(campaign.attributes.created_at).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
    const flow = (await api('GET', '/api/flows')).body.data[0];
    expect(flow.attributes.created).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    await quirks({ microseconds: true });
    const both = (await api('GET', '/api/events?page[size]=1')).body.data[0];
    expect(both.attributes.datetime).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/);
    const [exchange] = records().slice(-1);
    expect(exchange.quirks).toEqual(expect.arrayContaining(['microseconds', 'space-datetimes']));
  });

  it('leaves the store as it was', async () => {
    await quirks({ microseconds: true, 'space-datetimes': true });
    await api('GET', '/api/profiles?page[size]=5');
    const stored = [...emu.store.collection('profile').values()].slice(0, 5);
    for (const p of stored) expect(p.attributes.created).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/);
  });
});

describe('reproducibility', () => {
  it('the same seed and settings hit the same requests; another quirk does not move them', async () => {
    const run = async (seed: number, settings: Record<string, number>) => {
      const other = await startEmulator({ data: 'empty', rateLimits: 'off', seed, quirks: settings });
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 40; i++) statuses.push((await fetch(`${other.url}/api/lists`, { headers: HEADERS })).status);
        const count = ((await (await fetch(`${other.url}/_emulator/quirks`)).json()) as any).injected['cf-challenge'];
        return { hits: statuses.map((s) => s === 403), count };
      } finally {
        await other.close();
      }
    };
    const a = await run(11, { 'cf-challenge': 0.3 });
    expect(a.hits.filter(Boolean).length).toBe(a.count);
    expect(a.count).toBeGreaterThan(0);
    expect((await run(11, { 'cf-challenge': 0.3 })).hits).toEqual(a.hits);
    expect((await run(11, { 'cf-challenge': 0.3, 'empty-200': 0.5, 'repeat-cursor': 1 })).hits).toEqual(a.hits);
    expect((await run(12, { 'cf-challenge': 0.3 })).hits).not.toEqual(a.hits);
  });
});
