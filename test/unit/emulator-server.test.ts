/**
 * The emulator's HTTP behaviour, in process, over real loopback HTTP, against a small account
 * built here so every expected value is known.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { storeFromSnapshot } from '../../src/emulator/store/account-store.js';
import { startDemoEmulator } from '../../src/emulator/demo.js';
import { DEMO_PRIVATE_KEY } from '../../src/emulator/demo-data/index.js';
import type { AccountSnapshot, StoredResource } from '../../src/emulator/store/types.js';
import { TEST_ACCOUNT } from '../helpers/emulator-api.js';

const KEY = 'pk_unit_test_0123456789';
const HEADERS = { authorization: `Klaviyo-API-Key ${KEY}`, revision: '2026-07-15' };
const NOW = new Date('2026-03-01T12:00:00Z');

function profile(n: number, extra: Record<string, unknown> = {}): StoredResource {
  const day = String(n).padStart(2, '0');
  return {
    type: 'profile',
    id: `P${day}`,
    attributes: {
      email: `person${n}@example.com`,
      phone_number: null,
      external_id: null,
      first_name: `First${n}`,
      last_name: 'Last',
      location: { city: n % 2 ? 'Boston' : 'Lisbon', country: n % 2 ? 'United States' : 'Portugal' },
      properties: { n },
      created: `2025-01-${day}T00:00:00+00:00`,
      // Reverse order of creation, so sorting by updated is visibly different from the default.
      updated: `2025-02-${String(29 - n).padStart(2, '0')}T00:00:00+00:00`,
      subscriptions: {
        email: {
          marketing: {
            consent: n === 3 ? 'UNSUBSCRIBED' : 'SUBSCRIBED',
            suppression: n === 3 ? [{ reason: 'HARD_BOUNCE', timestamp: '2025-01-10T00:00:00+00:00' }] : [],
            list_suppressions:
              n === 4 ? [{ list_id: 'LST001', reason: 'UNSUBSCRIBE', timestamp: '2025-01-11T00:00:00+00:00' }]
              // Two suppressions, so that conditions on one element can be told from conditions on any.
              : n === 6 ? [
                  { list_id: 'LST002', reason: 'UNSUBSCRIBE', timestamp: '2025-01-05T00:00:00+00:00' },
                  { list_id: 'LST009', reason: 'SPAM_COMPLAINT', timestamp: '2025-02-01T00:00:00+00:00' },
                ]
              : [],
          },
        },
      },
      predictive_analytics: { historic_clv: n * 10 },
      ...extra,
    },
    relationships: {},
  };
}

function fixture(): AccountSnapshot {
  const profiles = Array.from({ length: 25 }, (_, i) => profile(i + 1));
  return {
    account: structuredClone(TEST_ACCOUNT),
    resources: {
      profile: profiles,
      list: [
        { type: 'list', id: 'LST001', attributes: { name: 'Newsletter', opt_in_process: 'double_opt_in', created: '2025-01-01T00:00:00+00:00', updated: '2025-01-01T00:00:00+00:00' }, relationships: { tags: [{ type: 'tag', id: 'TAG1' }] } },
        { type: 'list', id: 'LST002', attributes: { name: 'VIP', opt_in_process: 'single_opt_in', created: '2025-01-02T00:00:00+00:00', updated: '2025-01-02T00:00:00+00:00' }, relationships: {} },
      ],
      tag: [{ type: 'tag', id: 'TAG1', attributes: { name: 'Weekly' }, relationships: {} }],
      segment: [
        { type: 'segment', id: 'SEG001', attributes: { name: 'Boston', definition: null, created: '2025-01-01T00:00:00+00:00', updated: '2025-01-01T00:00:00+00:00', is_active: true, is_processing: false, is_starred: false }, relationships: {} },
      ],
      template: [
        { type: 'template', id: 'TPL001', attributes: { name: 'Welcome', editor_type: 'CODE', html: '<p>hi</p>', text: 'hi', amp: null, definition: null, created: '2025-01-01T00:00:00+00:00', updated: '2025-01-01T00:00:00+00:00' }, relationships: {} },
        { type: 'template', id: 'TPL002', attributes: { name: 'Drag', editor_type: 'SYSTEM_DRAGGABLE', html: '<p>d</p>', text: null, amp: null, definition: { body: {} }, created: '2025-01-01T00:00:00+00:00', updated: '2025-01-01T00:00:00+00:00' }, relationships: {} },
      ],
      campaign: [
        { type: 'campaign', id: 'CMP_EMAIL', attributes: { name: 'Spring sale', status: 'Sent', archived: false, created_at: '2025-01-01T00:00:00+00:00', updated_at: '2025-01-05T00:00:00+00:00' }, relationships: { 'campaign-messages': [{ type: 'campaign-message', id: 'MSG_EMAIL' }], tags: [] } },
        { type: 'campaign', id: 'CMP_SMS', attributes: { name: 'Flash sms', status: 'Draft', archived: false, created_at: '2025-01-02T00:00:00+00:00', updated_at: '2025-01-03T00:00:00+00:00' }, relationships: { 'campaign-messages': [{ type: 'campaign-message', id: 'MSG_SMS' }], tags: [] } },
        { type: 'campaign', id: 'CMP_OLD', attributes: { name: 'Old news', status: 'Sent', archived: true, created_at: '2024-06-01T00:00:00+00:00', updated_at: '2024-06-02T00:00:00+00:00' }, relationships: { 'campaign-messages': [{ type: 'campaign-message', id: 'MSG_OLD' }], tags: [] } },
      ],
      'campaign-message': [
        { type: 'campaign-message', id: 'MSG_EMAIL', attributes: { definition: { channel: 'email', label: 'Spring', content: { subject: 'Hi' } }, created_at: '2025-01-01T00:00:00+00:00', updated_at: '2025-01-01T00:00:00+00:00' }, relationships: { campaign: { type: 'campaign', id: 'CMP_EMAIL' }, template: { type: 'template', id: 'TPL001' } } },
        { type: 'campaign-message', id: 'MSG_OLD', attributes: { definition: { channel: 'email', label: 'Old', content: { subject: 'Old' } }, created_at: '2024-06-01T00:00:00+00:00', updated_at: '2024-06-01T00:00:00+00:00' }, relationships: { campaign: { type: 'campaign', id: 'CMP_OLD' }, template: { type: 'template', id: 'TPL002' } } },
        { type: 'campaign-message', id: 'MSG_SMS', attributes: { definition: { channel: 'sms', label: 'Flash', content: { body: 'Hi' } }, created_at: '2025-01-02T00:00:00+00:00', updated_at: '2025-01-02T00:00:00+00:00' }, relationships: { campaign: { type: 'campaign', id: 'CMP_SMS' }, template: null } },
      ],
      metric: [
        { type: 'metric', id: 'MET001', attributes: { name: 'Placed Order', created: '2025-01-01T00:00:00+00:00', updated: '2025-01-01T00:00:00+00:00', integration: { name: 'Shopify', category: 'eCommerce' } }, relationships: {} },
        { type: 'metric', id: 'MET002', attributes: { name: 'Opened Email', created: '2025-01-01T00:00:00+00:00', updated: '2025-01-01T00:00:00+00:00', integration: { name: 'Klaviyo', category: 'Internal' } }, relationships: {} },
      ],
      event: [
        { type: 'event', id: 'EV1', attributes: { timestamp: 1735689600, datetime: '2025-01-01T00:00:00+00:00', event_properties: { value: 10 }, uuid: 'u1' }, relationships: { metric: { type: 'metric', id: 'MET001' }, profile: { type: 'profile', id: 'P01' } } },
        { type: 'event', id: 'EV2', attributes: { timestamp: 1735776000, datetime: '2025-01-02T00:00:00+00:00', event_properties: {}, uuid: 'u2' }, relationships: { metric: { type: 'metric', id: 'MET002' }, profile: { type: 'profile', id: 'P01' } } },
        { type: 'event', id: 'EV3', attributes: { timestamp: 1735862400, datetime: '2025-01-03T00:00:00+00:00', event_properties: {}, uuid: 'u3' }, relationships: { metric: { type: 'metric', id: 'MET001' }, profile: { type: 'profile', id: 'P02' } } },
      ],
    },
    listMembers: {
      LST001: { P05: '2025-01-20T00:00:00+00:00', P01: '2025-01-10T00:00:00+00:00', P03: '2025-01-15T00:00:00+00:00' },
      LST002: {},
    },
    segmentMembers: { SEG001: { P07: '2025-01-08T00:00:00+00:00', P03: '2025-01-04T00:00:00+00:00', P09: '2025-01-12T00:00:00+00:00' } },
  };
}

let emu: RunningEmulator;
let clockMs = NOW.getTime();
let recordDir: string;
let recordFile: string;

beforeAll(async () => {
  recordDir = mkdtempSync(join(tmpdir(), 'klv-emu-unit-'));
  recordFile = join(recordDir, 'exchanges.ndjson');
  emu = await startEmulator({
    store: storeFromSnapshot(fixture(), { clock: () => NOW }),
    rateLimits: 'off',
    clock: () => new Date(clockMs),
    record: recordFile,
  });
});

afterAll(async () => {
  await emu.close();
  rmSync(recordDir, { recursive: true, force: true });
});

beforeEach(async () => {
  clockMs = NOW.getTime();
  await admin('POST', '/_emulator/reset');
  await admin('POST', '/_emulator/rate-limits', { mode: 'off' });
  await admin('POST', '/_emulator/faults', { rate: 0 });
  await admin('DELETE', '/_emulator/requests');
});

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(emu.url + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

async function get(path: string, headers: Record<string, string> = HEADERS) {
  const res = await fetch(path.startsWith('http') ? path : emu.url + path, { headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: (text ? JSON.parse(text) : null) as any };
}

const f = (filter: string) => `filter=${encodeURIComponent(filter)}`;

function expectError(r: { status: number; body: any; headers: Headers }, status: number, code: string, detail?: string | RegExp) {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toBe('application/vnd.api+json');
  expect(r.body.errors).toHaveLength(1);
  const e = r.body.errors[0];
  expect(e).toMatchObject({ status, code });
  expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
  expect(typeof e.title).toBe('string');
  if (detail) expect(e.detail).toMatch(detail);
  return e;
}

describe('authentication and revision', () => {
  it('answers 401 not_authenticated without an Authorization header', async () => {
    expectError(await get('/api/accounts', { revision: '2026-07-15' }), 401, 'not_authenticated', /Klaviyo-API-Key/);
  });

  it('refuses keys that are not private keys, and bearer tokens, without echoing them', async () => {
    const bad = await get('/api/accounts', { authorization: 'Klaviyo-API-Key xx_secret_value_123', revision: '2026-07-15' });
    expectError(bad, 401, 'authentication_failed');
    expect(bad.text).not.toContain('xx_secret_value_123');
    expectError(await get('/api/accounts', { authorization: 'Bearer abc', revision: '2026-07-15' }), 401, 'not_authenticated');
  });

  it('needs a well-formed revision header, not newer than the spec', async () => {
    const missing = expectError(await get('/api/accounts', { authorization: HEADERS.authorization }), 400, 'invalid', /Missing revision/);
    expect(missing.source).toEqual({ parameter: 'revision' });
    expectError(await get('/api/accounts', { ...HEADERS, revision: '15-07-2026' }), 400, 'invalid', /Invalid revision/);
    expectError(await get('/api/accounts', { ...HEADERS, revision: '2026-02-30' }), 400, 'invalid', /Invalid revision/);
    expectError(await get('/api/accounts', { ...HEADERS, revision: '2099-01-15' }), 400, 'invalid', /newest revision/);
    expect((await get('/api/accounts', { ...HEADERS, revision: '2024-10-15.pre' })).status).toBe(200);
  });

  it('accepts only the --key key when one is set', async () => {
    const strict = await startEmulator({ store: storeFromSnapshot(fixture()), rateLimits: 'off', key: KEY });
    try {
      const other = await get(`${strict.url}/api/accounts`, { ...HEADERS, authorization: 'Klaviyo-API-Key pk_other_key_99999' });
      expectError(other, 401, 'authentication_failed', /--key/);
      expect(other.text).not.toContain('pk_other_key_99999');
      expect((await get(`${strict.url}/api/accounts`)).status).toBe(200);
    } finally {
      await strict.close();
    }
  });
});

describe('routing', () => {
  it('answers 404 for unknown paths and 405 with Allow for known paths', async () => {
    expectError(await get('/api/nothing-here'), 404, 'not_found');
    expectError(await get('/elsewhere'), 404, 'not_found');
    const res = await fetch(`${emu.url}/api/accounts`, { method: 'DELETE', headers: HEADERS });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
  });

  it('answers 501 for operations the emulator does not implement', async () => {
    const res = await fetch(`${emu.url}/api/images`, { method: 'POST', headers: HEADERS, body: '{}' });
    expect(res.status).toBe(501);
    expect(((await res.json()) as any).errors[0].detail).toContain('POST /api/images');
  });

  it('refuses a parameter given twice', async () => {
    expectError(await get('/api/profiles?page[size]=1&page[size]=2'), 400, 'invalid', /more than once/);
  });

  it('refuses a body that is not JSON', async () => {
    const res = await fetch(`${emu.url}/api/profiles`, { method: 'POST', headers: HEADERS, body: '{not json' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).errors[0].detail).toContain('not valid JSON');
  });

  it('delays responses by latencyMs', async () => {
    const slow = await startEmulator({ store: storeFromSnapshot(fixture()), rateLimits: 'off', latencyMs: 60 });
    try {
      const started = performance.now();
      expect((await get(`${slow.url}/api/accounts`)).status).toBe(200);
      // Timers may fire a millisecond early; the point is that the delay is there.
      expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    } finally {
      await slow.close();
    }
  });

  it('refuses to listen on a non-loopback address', async () => {
    await expect(startEmulator({ host: '0.0.0.0', store: storeFromSnapshot(fixture()) })).rejects.toThrow(/loopback/);
  });
});

describe('accounts', () => {
  it('serves the account as a one-item collection and by id', async () => {
    const r = await get('/api/accounts');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/vnd.api+json');
    expect(r.body.data).toHaveLength(1);
    expect(r.body.data[0]).toMatchObject({ type: 'account', id: 'AbC123', attributes: { public_api_key: 'AbC123' } });
    expect(r.body.data[0].links.self).toBe(`${emu.url}/api/accounts/AbC123/`);
    expect(r.body.links.self).toBe(`${emu.url}/api/accounts`);
    expect((await get('/api/accounts/AbC123')).body.data.id).toBe('AbC123');
    expectError(await get('/api/accounts/other'), 404, 'not_found');
  });
});

describe('profiles', () => {
  it('strips additional fields unless asked for, then returns them', async () => {
    const plain = await get('/api/profiles?page[size]=1');
    expect(plain.body.data[0].attributes).not.toHaveProperty('subscriptions');
    expect(plain.body.data[0].attributes).not.toHaveProperty('predictive_analytics');
    expect(plain.body.data[0].attributes.email).toBe('person1@example.com');
    const asked = await get('/api/profiles?page[size]=1&additional-fields[profile]=subscriptions');
    expect(asked.body.data[0].attributes.subscriptions.email.marketing.consent).toBe('SUBSCRIBED');
    expect(asked.body.data[0].attributes).not.toHaveProperty('predictive_analytics');
  });

  it('applies sparse fieldsets, including dotted sub-fields', async () => {
    const r = await get('/api/profiles?page[size]=1&fields[profile]=email,location.city');
    expect(r.body.data[0].attributes).toEqual({ email: 'person1@example.com', location: { city: 'Boston' } });
    expectError(await get('/api/profiles?fields[profile]=email,shoe_size'), 400, 'invalid', /'shoe_size' is not a valid field/);
    expectError(await get('/api/profiles?fields[list]=name'), 400, 'invalid', /not a valid query parameter/);
  });

  it('pages through every profile exactly once via links.next, with prev links', async () => {
    const ids: string[] = [];
    let url: string | undefined = '/api/profiles?page[size]=10&fields[profile]=email';
    let pages = 0;
    while (url) {
      const r = await get(url);
      expect(r.status).toBe(200);
      if (pages > 0) expect(r.body.links.prev).toBeDefined();
      else expect(r.body.links.prev).toBeUndefined();
      ids.push(...r.body.data.map((p: any) => p.id));
      url = r.body.links.next;
      if (url) expect(url).toContain('fields%5Bprofile%5D=email');
      pages += 1;
    }
    expect(pages).toBe(3);
    expect(ids).toHaveLength(25);
    expect(new Set(ids).size).toBe(25);
  });

  it('uses the default page size and refuses sizes outside the spec range', async () => {
    expect((await get('/api/profiles')).body.data).toHaveLength(20);
    const e = expectError(await get('/api/profiles?page[size]=101'), 400, 'invalid', /1 to 100/);
    expect(e.source).toEqual({ parameter: 'page[size]' });
    expectError(await get('/api/profiles?page[size]=0'), 400, 'invalid');
    expectError(await get('/api/profiles?page[size]=ten'), 400, 'invalid');
    expectError(await get('/api/profiles?page[cursor]=nonsense'), 400, 'invalid', /page cursor/);
  });

  it('sorts ascending and descending on allowed fields only', async () => {
    const asc = await get('/api/profiles?sort=updated&page[size]=3&fields[profile]=updated');
    expect(asc.body.data.map((p: any) => p.id)).toEqual(['P25', 'P24', 'P23']);
    const desc = await get('/api/profiles?sort=-updated&page[size]=3');
    expect(desc.body.data.map((p: any) => p.id)).toEqual(['P01', 'P02', 'P03']);
    const next = await get(desc.body.links.next);
    expect(next.body.data.map((p: any) => p.id)).toEqual(['P04', 'P05', 'P06']);
    expectError(await get('/api/profiles?sort=first_name'), 400, 'invalid', /not a valid sort/);
  });

  it('filters on attributes, ids, datetimes and suppressions', async () => {
    const ids = async (q: string) => (await get(`/api/profiles?${q}`)).body.data.map((p: any) => p.id);
    expect(await ids(f("equals(email,'person7@example.com')"))).toEqual(['P07']);
    expect(await ids(f("any(id,['P02','P09','nope'])"))).toEqual(['P02', 'P09']);
    expect(await ids(f('greater-than(created,2025-01-22T00:00:00Z)'))).toEqual(['P23', 'P24', 'P25']);
    expect(await ids(f("equals(subscriptions.email.marketing.suppression.reason,'HARD_BOUNCE')"))).toEqual(['P03']);
    expect(await ids(f("equals(subscriptions.email.marketing.list_suppressions.list_id,'LST001')"))).toEqual(['P04']);
    expect(await ids(f("equals(email,'person7@example.com'),greater-than(created,2025-02-01T00:00:00Z)"))).toEqual([]);
  });

  it('matches conditions on the same suppression array against one and the same element', async () => {
    const ids = async (filter: string) => (await get(`/api/profiles?${f(filter)}&page[size]=100`)).body.data.map((p: any) => p.id);
    const list = 'subscriptions.email.marketing.list_suppressions';
    expect(await ids(`equals(${list}.reason,'UNSUBSCRIBE')`)).toEqual(['P04', 'P06']);
    // P06 has an old LST002 suppression and a recent one from another list: no single element matches both.
    expect(await ids(`equals(${list}.list_id,'LST002'),greater-than(${list}.timestamp,2025-01-20T00:00:00Z)`)).toEqual([]);
    expect(await ids(`equals(${list}.list_id,'LST002'),less-than(${list}.timestamp,2025-01-20T00:00:00Z)`)).toEqual(['P06']);
    expect(await ids(`equals(${list}.reason,'SPAM_COMPLAINT'),greater-or-equal(${list}.timestamp,2025-02-01T00:00:00Z)`)).toEqual(['P06']);
    expect(await ids(`greater-or-equal(${list}.timestamp,2025-01-01T00:00:00Z),less-or-equal(${list}.timestamp,2025-01-06T00:00:00Z)`)).toEqual(['P06']);
    const global = 'subscriptions.email.marketing.suppression';
    expect(await ids(`equals(${global}.reason,'HARD_BOUNCE'),greater-than(${global}.timestamp,2025-01-09T00:00:00Z)`)).toEqual(['P03']);
    expect(await ids(`equals(${global}.reason,'HARD_BOUNCE'),greater-than(${global}.timestamp,2025-01-10T00:00:00Z)`)).toEqual([]);
  });

  it('refuses filters the endpoint does not allow, naming field and operator', async () => {
    expectError(await get(`/api/profiles?${f("equals(first_name,'Ann')")}`), 400, 'invalid', /'first_name' is not a filterable field/);
    expectError(await get(`/api/profiles?${f("contains(email,'x')")}`), 400, 'invalid', /Operator 'contains' is not allowed for field 'email'/);
    expectError(await get(`/api/profiles?${f("equals(email,'x'")}`), 400, 'invalid', /Invalid filter/);
  });

  it('serves one profile with its lists included', async () => {
    const r = await get('/api/profiles/P03?include=lists');
    expect(r.body.data.id).toBe('P03');
    expect(r.body.data.relationships.lists.data).toEqual([{ type: 'list', id: 'LST001' }]);
    expect(r.body.included.map((i: any) => `${i.type}:${i.id}`)).toEqual(['list:LST001']);
    expect(r.body.links.self).toBe(`${emu.url}/api/profiles/P03?include=lists`);
    expectError(await get('/api/profiles/NOPE'), 404, 'not_found', /profile with id 'NOPE'/);
  });

  it('serves the lists of a profile through the related endpoint', async () => {
    const r = await get('/api/profiles/P05/lists');
    expect(r.body.data.map((l: any) => l.id)).toEqual(['LST001']);
    const ids = await get('/api/profiles/P05/relationships/lists');
    expect(ids.body.data).toEqual([{ type: 'list', id: 'LST001' }]);
  });
});

describe('lists and membership', () => {
  it('lists members with joined_group_at, filterable and sortable by it', async () => {
    const r = await get('/api/lists/LST001/profiles');
    expect(r.body.data.map((p: any) => [p.id, p.attributes.joined_group_at])).toEqual([
      ['P05', '2025-01-20T00:00:00+00:00'],
      ['P01', '2025-01-10T00:00:00+00:00'],
      ['P03', '2025-01-15T00:00:00+00:00'],
    ]);
    const sorted = await get('/api/lists/LST001/profiles?sort=joined_group_at');
    expect(sorted.body.data.map((p: any) => p.id)).toEqual(['P01', 'P03', 'P05']);
    const since = await get(`/api/lists/LST001/profiles?${f('greater-or-equal(joined_group_at,2025-01-15T00:00:00Z)')}`);
    expect(since.body.data.map((p: any) => p.id)).toEqual(['P05', 'P03']);
    const ids = await get('/api/lists/LST001/relationships/profiles?page[size]=2');
    expect(ids.body.data).toEqual([{ type: 'profile', id: 'P05' }, { type: 'profile', id: 'P01' }]);
    expect(ids.body.links.next).toBeDefined();
    expectError(await get('/api/lists/NOPE/profiles'), 404, 'not_found');
  });

  it('filters list members by email, phone number and push token, and sorts them either way', async () => {
    const ids = async (q: string) => (await get(`/api/lists/LST001/profiles?${q}`)).body.data.map((p: any) => p.id);
    expect(await ids(f("equals(email,'person3@example.com')"))).toEqual(['P03']);
    expect(await ids(f("equals(email,'person2@example.com')"))).toEqual([]); // a profile, but not a member
    // Several in membership order, whatever the order of the list in the filter.
    expect(await ids(f("any(email,['person1@example.com','person5@example.com','nobody@example.com'])"))).toEqual(['P05', 'P01']);
    expect(await ids(f("equals(phone_number,'+15555550100')"))).toEqual([]);
    expect(await ids(f("any(push_token,['tok'])"))).toEqual([]);
    expect(await ids('sort=-joined_group_at')).toEqual(['P05', 'P03', 'P01']);
    expect(await ids(`${f('less-than(joined_group_at,2025-01-15T00:00:00Z)')}&sort=-joined_group_at`)).toEqual(['P01']);
    const page = await get(`/api/lists/LST001/profiles?${f("equals(email,'person5@example.com')")}&fields[profile]=email,joined_group_at`);
    expect(page.body.data[0].attributes).toEqual({ email: 'person5@example.com', joined_group_at: '2025-01-20T00:00:00+00:00' });
  });

  it('lists segment members with joined_group_at, filterable by profile_id', async () => {
    const r = await get('/api/segments/SEG001/profiles?sort=joined_group_at');
    expect(r.body.data.map((p: any) => [p.id, p.attributes.joined_group_at])).toEqual([
      ['P03', '2025-01-04T00:00:00+00:00'],
      ['P07', '2025-01-08T00:00:00+00:00'],
      ['P09', '2025-01-12T00:00:00+00:00'],
    ]);
    expect((await get(`/api/segments/SEG001/profiles?${f("any(profile_id,['P09','P07','P01'])")}`)).body.data.map((p: any) => p.id)).toEqual(['P07', 'P09']);
    expect((await get(`/api/segments/SEG001/profiles?${f("equals(email,'person9@example.com')")}`)).body.data.map((p: any) => p.id)).toEqual(['P09']);
  });

  it('adds profile_count only when asked for', async () => {
    expect((await get('/api/lists/LST001')).body.data.attributes).not.toHaveProperty('profile_count');
    expect((await get('/api/lists/LST001?additional-fields[list]=profile_count')).body.data.attributes.profile_count).toBe(3);
    expect((await get('/api/lists/LST002?additional-fields[list]=profile_count')).body.data.attributes.profile_count).toBe(0);
    expectError(await get('/api/lists?additional-fields[list]=profile_count'), 400, 'invalid');
  });

  it('includes tags and serves them through the related endpoint', async () => {
    const r = await get('/api/lists?include=tags&fields[tag]=name');
    expect(r.body.included).toEqual([expect.objectContaining({ type: 'tag', id: 'TAG1', attributes: { name: 'Weekly' } })]);
    expect((await get('/api/lists/LST001/tags')).body.data.map((t: any) => t.id)).toEqual(['TAG1']);
    expect((await get('/api/tags/TAG1/relationships/lists')).body.data).toEqual([{ type: 'list', id: 'LST001' }]);
  });
});

describe('campaigns, messages and templates', () => {
  it('requires the channel filter, and filters by the channel of the messages', async () => {
    expectError(await get('/api/campaigns'), 400, 'invalid', /messages\.channel/);
    expectError(await get(`/api/campaigns?${f("equals(status,'Sent')")}`), 400, 'invalid', /messages\.channel/);
    const email = await get(`/api/campaigns?${f("equals(messages.channel,'email')")}`);
    expect(email.body.data.map((c: any) => c.id)).toEqual(['CMP_EMAIL']);
    const sms = await get(`/api/campaigns?${f("equals(messages.channel,'sms'),equals(archived,false)")}`);
    expect(sms.body.data.map((c: any) => c.id)).toEqual(['CMP_SMS']);
  });

  it('leaves archived campaigns out unless the filter asks for them', async () => {
    const ids = async (filter: string) => (await get(`/api/campaigns?${f(filter)}`)).body.data.map((c: any) => c.id);
    expect(await ids("equals(messages.channel,'email')")).toEqual(['CMP_EMAIL']);
    expect(await ids("equals(messages.channel,'email'),equals(archived,false)")).toEqual(['CMP_EMAIL']);
    expect(await ids("equals(messages.channel,'email'),equals(archived,true)")).toEqual(['CMP_OLD']);
    expect(await ids("equals(messages.channel,'sms'),equals(archived,true)")).toEqual([]);
    // By id too: an archived campaign is still there, just not listed by default.
    expect((await get('/api/campaigns/CMP_OLD')).body.data.attributes.archived).toBe(true);
  });

  it('includes campaign messages and links them in relationships', async () => {
    const r = await get(`/api/campaigns?${f("equals(messages.channel,'email')")}&include=campaign-messages`);
    expect(r.body.data[0].relationships['campaign-messages'].data).toEqual([{ type: 'campaign-message', id: 'MSG_EMAIL' }]);
    expect(r.body.included.map((i: any) => i.id)).toEqual(['MSG_EMAIL']);
    expect(r.body.included[0].relationships.template.data).toEqual({ type: 'template', id: 'TPL001' });
  });

  it('serves messages of a campaign, a message, its template and the template relationship', async () => {
    expect((await get('/api/campaigns/CMP_EMAIL/campaign-messages')).body.data.map((m: any) => m.id)).toEqual(['MSG_EMAIL']);
    expect((await get('/api/campaigns/CMP_EMAIL/relationships/campaign-messages')).body.data).toEqual([{ type: 'campaign-message', id: 'MSG_EMAIL' }]);
    const message = await get('/api/campaign-messages/MSG_EMAIL?include=template');
    expect(message.body.data.attributes.definition.channel).toBe('email');
    expect(message.body.included.map((i: any) => i.id)).toEqual(['TPL001']);
    const template = await get('/api/campaign-messages/MSG_EMAIL/template');
    expect(template.body.data).toMatchObject({ type: 'template', id: 'TPL001', attributes: { html: '<p>hi</p>' } });
    expect(template.body.data.attributes).not.toHaveProperty('definition');
    expect((await get('/api/campaign-messages/MSG_EMAIL/relationships/template')).body.data).toEqual({ type: 'template', id: 'TPL001' });
    expect((await get('/api/campaign-messages/MSG_SMS/relationships/template')).body.data).toBeNull();
    expect((await get('/api/campaign-messages/MSG_SMS/campaign')).body.data.id).toBe('CMP_SMS');
  });

  it('returns a template definition only with additional-fields', async () => {
    expect((await get('/api/templates/TPL002')).body.data.attributes).not.toHaveProperty('definition');
    expect((await get('/api/templates/TPL002?additional-fields[template]=definition')).body.data.attributes.definition).toEqual({ body: {} });
    expect((await get(`/api/templates?${f("contains(name,'Dra')")}`)).body.data.map((t: any) => t.id)).toEqual(['TPL002']);
  });
});

describe('metrics and events', () => {
  it('serves metrics at their fixed page size and filters by integration', async () => {
    expectError(await get('/api/metrics?page[size]=5'), 400, 'invalid', /not a valid query parameter/);
    const r = await get(`/api/metrics?${f("equals(integration.name,'Shopify')")}`);
    expect(r.body.data.map((m: any) => m.id)).toEqual(['MET001']);
  });

  it('filters events by metric and profile, sorts by datetime and includes metric and profile', async () => {
    const r = await get(`/api/events?${f("equals(metric_id,'MET001')")}&sort=-datetime&include=metric,profile&fields[profile]=email`);
    expect(r.body.data.map((e: any) => e.id)).toEqual(['EV3', 'EV1']);
    expect(r.body.data[0].relationships.metric.data).toEqual({ type: 'metric', id: 'MET001' });
    expect(r.body.included.map((i: any) => `${i.type}:${i.id}`).sort()).toEqual(['metric:MET001', 'profile:P01', 'profile:P02']);
    expect(r.body.included.find((i: any) => i.type === 'profile').attributes).toEqual({ email: expect.any(String) });
    const window = await get(`/api/events?${f('greater-or-equal(datetime,2025-01-02T00:00:00Z),less-than(datetime,2025-01-03T00:00:00Z)')}`);
    expect(window.body.data.map((e: any) => e.id)).toEqual(['EV2']);
    expect((await get(`/api/events?${f("equals(profile_id,'P02')")}`)).body.data.map((e: any) => e.id)).toEqual(['EV3']);
    expect((await get(`/api/events?${f('has(profile)')}`)).body.data).toHaveLength(3);
    expect((await get(`/api/events?${f('greater-than(timestamp,1735700000)')}`)).body.data.map((e: any) => e.id)).toEqual(['EV2', 'EV3']);
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After past the burst and RateLimit headers otherwise', async () => {
    await admin('POST', '/_emulator/rate-limits', { mode: 'spec' });
    clockMs = Date.UTC(2026, 2, 1, 12, 0, 30, 250);
    const first = await get('/api/accounts');
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-limit')).toBe('15');
    expect(first.headers.get('ratelimit-remaining')).toBe('14');
    expect(first.headers.get('ratelimit-reset')).toBe('30');
    const second = await get('/api/accounts');
    const e = expectError(second, 429, 'throttled', /allows 1 request per second/);
    expect(second.headers.get('retry-after')).toBe('1');
    expect(second.headers.get('ratelimit-limit')).toBeNull();
    expect(e.title).toBe('Request was throttled.');
    // Another endpoint has its own bucket.
    expect((await get('/api/profiles?page[size]=1')).status).toBe(200);
    clockMs += 1000;
    expect((await get('/api/accounts')).status).toBe(200);
  });

  it('reports the steady window in Retry-After once the minute is used up', async () => {
    await admin('POST', '/_emulator/rate-limits', { mode: 'spec' });
    clockMs = Date.UTC(2026, 2, 1, 12, 0, 0);
    for (let i = 0; i < 15; i++) {
      expect((await get('/api/accounts')).status).toBe(200);
      clockMs += 1000;
    }
    const refused = await get('/api/accounts');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('45');
  });
});

describe('faults', () => {
  it('fails every request at rate 1 with a 5xx or a dropped connection', async () => {
    await admin('POST', '/_emulator/faults', { rate: 1 });
    const outcomes = new Set<string>();
    for (let i = 0; i < 40; i++) {
      try {
        const r = await get('/api/accounts');
        expect([500, 502, 503]).toContain(r.status);
        expect(r.body.errors[0].detail).toContain('Injected fault');
        outcomes.add(String(r.status));
      } catch (err) {
        expect(String((err as Error).cause ?? err)).toMatch(/other side closed|ECONNRESET|socket/i);
        outcomes.add('drop');
      }
    }
    expect(outcomes.has('drop')).toBe(true);
    expect([...outcomes].some((o) => o !== 'drop')).toBe(true);
    await admin('POST', '/_emulator/faults', { rate: 0 });
    expect((await get('/api/accounts')).status).toBe(200);
  });

  it('refuses an invalid fault rate', async () => {
    expect((await admin('POST', '/_emulator/faults', { rate: 2 })).status).toBe(400);
  });
});

describe('admin endpoints', () => {
  it('counts every /api request by operation, including refused ones, and clears the counts', async () => {
    await get('/api/accounts');
    await get('/api/accounts', {});
    await get('/api/profiles?page[size]=500');
    await get('/api/unknown');
    const counts = await admin('GET', '/_emulator/requests');
    expect(counts.body).toEqual({ total: 4, byOperation: { get_accounts: 2, get_profiles: 1 } });
    await admin('DELETE', '/_emulator/requests');
    expect((await admin('GET', '/_emulator/requests')).body).toEqual({ total: 0, byOperation: {} });
  });

  it('loads a snapshot, shows it as state, and resets to the initial data', async () => {
    const snapshot = fixture();
    snapshot.resources.profile = [profile(99)];
    snapshot.resources.event = [];
    snapshot.listMembers = { LST001: { P99: '2025-02-01T00:00:00+00:00' } };
    snapshot.segmentMembers = {};
    const loaded = await admin('POST', '/_emulator/load', snapshot);
    expect(loaded.status).toBe(200);
    expect(loaded.body.resources.profile).toBe(1);
    expect((await get('/api/profiles')).body.data.map((p: any) => p.id)).toEqual(['P99']);
    const state = await admin('GET', '/_emulator/state');
    expect(state.body.resources.profile.map((p: any) => p.id)).toEqual(['P99']);
    await admin('POST', '/_emulator/reset');
    expect((await get('/api/profiles?page[size]=100')).body.data).toHaveLength(25);
  });

  it('refuses a malformed snapshot with the reason', async () => {
    const r = await admin('POST', '/_emulator/load', { account: 5 });
    expect(r.status).toBe(400);
    expect(r.body.errors[0].detail).toMatch(/not loaded: .*account/);
  });

  it('answers 404 for unknown admin endpoints', async () => {
    expect((await admin('GET', '/_emulator/nothing')).status).toBe(404);
  });
});

describe('exchange recording', () => {
  afterEach(() => rmSync(recordFile, { force: true }));

  it('appends one line per /api exchange, without the Authorization header', async () => {
    rmSync(recordFile, { force: true });
    await get(`/api/profiles?page[size]=2&${f("equals(email,'person1@example.com')")}`);
    await get('/api/accounts', { revision: '2026-07-15' });
    await admin('GET', '/_emulator/requests');
    const lines = readFileSync(recordFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      operationId: 'get_profiles',
      method: 'GET',
      path: '/api/profiles',
      query: { 'page[size]': '2', filter: "equals(email,'person1@example.com')" },
      requestHeaders: { revision: '2026-07-15' },
      requestBody: null,
      status: 200,
    });
    expect(lines[0].responseBody.data[0].id).toBe('P01');
    expect(lines[1]).toMatchObject({ operationId: 'get_accounts', status: 401 });
    expect(readFileSync(recordFile, 'utf8')).not.toContain(KEY);
  });
});

describe('startDemoEmulator', () => {
  it('serves the demo account to the demo key only, with spec rate limits', async () => {
    const demo = await startDemoEmulator();
    try {
      expect(demo.privateKey).toBe(DEMO_PRIVATE_KEY);
      expect(demo.publicKey).toBe('KlvDmo');
      const ok = await get(`${demo.url}/api/accounts`, { authorization: `Klaviyo-API-Key ${demo.privateKey}`, revision: '2026-07-15' });
      expect(ok.status).toBe(200);
      expect(ok.body.data[0].attributes.public_api_key).toBe(demo.publicKey);
      expect(ok.headers.get('ratelimit-limit')).toBe('15');
      expect((await get(`${demo.url}/api/accounts`)).status).toBe(401);
    } finally {
      await demo.close();
    }
  });
});

describe('request targets', () => {
  it('treats a path starting with // as a path, not a host', async () => {
    const res = await fetch(`${emu.url}//evil.example/api/accounts`, { headers: HEADERS });
    expect(res.status).toBe(404);
  });
});
