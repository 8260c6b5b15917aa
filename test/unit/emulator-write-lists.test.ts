/**
 * The emulator's list writes: create / update / delete, the daily creation cap (with the spec's
 * rate limits and a fake clock), and membership through the relationship endpoints, on a small
 * account and on the demo account's lazily generated lists.
 */
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { DEMO_PRIVATE_KEY } from '../../src/emulator/demo-data/index.js';
import type { AccountSnapshot, StoredResource } from '../../src/emulator/store/types.js';
import { apiHeaders, testAccount, useFixtureEmulator } from '../helpers/emulator-api.js';

const KEY = 'pk_unit_write_lists_0123';
const HEADERS = apiHeaders(KEY);
const NOW = Date.parse('2026-03-01T12:00:00Z');

const profile = (id: string, email: string): StoredResource => ({ type: 'profile', id, attributes: { email, phone_number: null, external_id: null }, relationships: {} });

function fixture(): AccountSnapshot {
  return testAccount(
    {
      profile: [profile('P1', 'a@example.com'), profile('P2', 'b@example.com'), profile('P3', 'c@example.com')],
      list: [{ type: 'list', id: 'L1', attributes: { name: 'Newsletter', opt_in_process: 'double_opt_in', created: '2025-01-01T00:00:00+00:00', updated: '2025-01-01T00:00:00+00:00' }, relationships: {} }],
    },
    { listMembers: { L1: { P1: '2025-01-05T00:00:00+00:00' } } },
  );
}

const fx = useFixtureEmulator(fixture, { key: KEY, now: NOW });
const api = fx.api;

const ids = (...list: string[]) => ({ data: list.map((id) => ({ type: 'profile', id })) });
const members = (listId: string) => Object.fromEntries(fx.emu.store.listMembers.get(listId) ?? []);

describe('POST /api/lists', () => {
  it('creates a list (201) with the account default opt-in process, and it reads back with no members', async () => {
    const r = await api('POST', '/api/lists', { data: { type: 'list', attributes: { name: 'VIP' } } });
    expect(r.status).toBe(201);
    expect(r.body.data).toMatchObject({ type: 'list', attributes: { name: 'VIP', opt_in_process: 'single_opt_in', created: '2026-03-01T12:00:00+00:00', updated: '2026-03-01T12:00:00+00:00' } });
    expect(r.body.data.id).toMatch(/^[A-Za-z0-9]{6}$/);
    const read = await api('GET', `/api/lists/${r.body.data.id}?additional-fields[list]=profile_count`);
    expect(read.body.data.attributes).toMatchObject({ name: 'VIP', profile_count: 0 });
    const double = await api('POST', '/api/lists', { data: { type: 'list', attributes: { name: 'Confirmed', opt_in_process: 'double_opt_in' } } });
    expect(double.body.data.attributes.opt_in_process).toBe('double_opt_in');
  });

  it('refuses a missing or empty name', async () => {
    expect((await api('POST', '/api/lists', { data: { type: 'list', attributes: {} } })).body.errors[0].source.pointer).toBe('/data/attributes/name');
    expect((await api('POST', '/api/lists', { data: { type: 'list', attributes: { name: '  ' } } })).status).toBe(400);
  });

  it('stops at the daily cap of 150 with a 429 that says so and a Retry-After to the next UTC day', async () => {
    await fetch(`${fx.emu.url}/_emulator/rate-limits`, { method: 'POST', body: JSON.stringify({ mode: 'spec' }) });
    // 10 a second keeps within the burst limit, 150 within the minute.
    for (let i = 0; i < 150; i++) {
      fx.now = NOW + Math.floor(i / 10) * 1000;
      const r = await api('POST', '/api/lists', { data: { type: 'list', attributes: { name: `List ${i}` } } });
      expect(r.status, `list ${i}: ${r.text}`).toBe(201);
    }
    fx.now = NOW + 90_000;
    const capped = await api('POST', '/api/lists', { data: { type: 'list', attributes: { name: 'One too many' } } });
    expect(capped.status).toBe(429);
    expect(capped.body.errors[0]).toMatchObject({ code: 'throttled', detail: expect.stringMatching(/150 requests per day/) });
    expect(capped.headers.get('retry-after')).toBe(String(12 * 3600 - 90));
    expect(fx.emu.store.collection('list').count()).toBe(151);
    // Other list writes have no daily cap.
    expect((await api('PATCH', '/api/lists/L1', { data: { type: 'list', id: 'L1', attributes: { name: 'Still fine' } } })).status).toBe(200);
    fx.now = Date.parse('2026-03-02T00:00:01Z');
    expect((await api('POST', '/api/lists', { data: { type: 'list', attributes: { name: 'Tomorrow' } } })).status).toBe(201);
  });
});

describe('PATCH and DELETE /api/lists/{id}', () => {
  it('renames and changes the opt-in process; updated moves only on a change', async () => {
    fx.now = NOW + 60_000;
    const same = await api('PATCH', '/api/lists/L1', { data: { type: 'list', id: 'L1', attributes: { name: 'Newsletter' } } });
    expect(same.body.data.attributes.updated).toBe('2025-01-01T00:00:00+00:00');
    const r = await api('PATCH', '/api/lists/L1', { data: { type: 'list', id: 'L1', attributes: { name: 'Weekly', opt_in_process: 'single_opt_in' } } });
    expect(r.status).toBe(200);
    expect(r.body.data.attributes).toMatchObject({ name: 'Weekly', opt_in_process: 'single_opt_in', updated: '2026-03-01T12:01:00+00:00' });
    expect((await api('PATCH', '/api/lists/NOPE', { data: { type: 'list', id: 'NOPE', attributes: { name: 'x' } } })).status).toBe(404);
    expect((await api('PATCH', '/api/lists/L1', { data: { type: 'list', id: 'L2', attributes: { name: 'x' } } })).status).toBe(400);
  });

  it('deletes a list (204) with its memberships; a second delete is 404', async () => {
    const r = await api('DELETE', '/api/lists/L1');
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    expect(fx.emu.store.listMembers.has('L1')).toBe(false);
    expect((await api('GET', '/api/lists/L1')).status).toBe(404);
    expect((await api('GET', '/api/profiles/P1?include=lists')).body.included).toEqual([]);
    expect((await api('DELETE', '/api/lists/L1')).status).toBe(404);
  });
});

describe('list membership', () => {
  it('adds profiles (204); a member stays as it was, with its joined_group_at', async () => {
    fx.now = NOW + 5_000;
    const r = await api('POST', '/api/lists/L1/relationships/profiles', ids('P1', 'P2', 'P2'));
    expect(r.status).toBe(204);
    expect(members('L1')).toEqual({ P1: '2025-01-05T00:00:00+00:00', P2: '2026-03-01T12:00:05+00:00' });
    const read = await api('GET', '/api/lists/L1/profiles?sort=joined_group_at');
    expect(read.body.data.map((p: any) => [p.id, p.attributes.joined_group_at])).toEqual([['P1', '2025-01-05T00:00:00+00:00'], ['P2', '2026-03-01T12:00:05+00:00']]);
  });

  it('removes profiles (204); removing a non-member is a no-op', async () => {
    expect((await api('DELETE', '/api/lists/L1/relationships/profiles', ids('P1', 'P3'))).status).toBe(204);
    expect(members('L1')).toEqual({});
  });

  it('changes nothing and answers 404 naming each unknown profile; 404 for an unknown list', async () => {
    const r = await api('POST', '/api/lists/L1/relationships/profiles', ids('P2', 'GHOST', 'P3', 'NOBODY'));
    expect(r.status).toBe(404);
    expect(r.body.errors.map((e: any) => [e.code, e.source.pointer, e.detail])).toEqual([
      ['not_found', '/data/1/id', "A profile with id 'GHOST' does not exist."],
      ['not_found', '/data/3/id', "A profile with id 'NOBODY' does not exist."],
    ]);
    expect(members('L1')).toEqual({ P1: '2025-01-05T00:00:00+00:00' });
    expect((await api('POST', '/api/lists/NOPE/relationships/profiles', ids('P1'))).status).toBe(404);
  });

  it('takes at most 1,000 ids a call', async () => {
    const many = Array.from({ length: 1001 }, () => 'P1');
    const r = await api('POST', '/api/lists/L1/relationships/profiles', ids(...many));
    expect(r.status).toBe(400);
    expect(r.body.errors[0].detail).toMatch(/1001 profile ids .* at most 1000/);
    expect((await api('POST', '/api/lists/L1/relationships/profiles', ids(...many.slice(1)))).status).toBe(204);
  });

  it('refuses a body that is not a list of profile identifiers', async () => {
    const r = await api('POST', '/api/lists/L1/relationships/profiles', { data: [{ type: 'list', id: 'L1' }] });
    expect(r.status).toBe(400);
    expect(r.body.errors[0].source.pointer).toBe('/data/0/type');
  });

  it('works on the demo account\'s generated lists', async () => {
    const demo = await startEmulator({ data: 'demo', profiles: 300, rateLimits: 'off', key: DEMO_PRIVATE_KEY });
    try {
      const headers = { ...HEADERS, authorization: `Klaviyo-API-Key ${DEMO_PRIVATE_KEY}` };
      const lists = (await api('GET', '/api/lists', undefined, demo.url, headers)).body.data;
      const list = lists[0];
      const count = async () => (await api('GET', `/api/lists/${list.id}?additional-fields[list]=profile_count`, undefined, demo.url, headers)).body.data.attributes.profile_count;
      const before = await count();
      const member = (await api('GET', `/api/lists/${list.id}/relationships/profiles?page[size]=1`, undefined, demo.url, headers)).body.data[0].id;
      const outsider = (await api('GET', '/api/profiles?page[size]=100', undefined, demo.url, headers)).body.data.map((p: any) => p.id).find((id: string) => !demo.store.listMembers.get(list.id)!.has(id));
      expect((await api('POST', `/api/lists/${list.id}/relationships/profiles`, ids(member, outsider), demo.url, headers)).status).toBe(204);
      expect(await count()).toBe(before + 1);
      expect((await api('DELETE', `/api/lists/${list.id}/relationships/profiles`, ids(member, outsider), demo.url, headers)).status).toBe(204);
      expect(await count()).toBe(before - 1);
    } finally {
      await demo.close();
    }
  });
});
