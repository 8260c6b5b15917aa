/**
 * The emulator's profile writes, in process over loopback HTTP, against a small account built
 * here: create (409 duplicate_profile), update (null clears, merge of properties and location,
 * patch_properties), upsert (201/200), and the bulk import job (its lifecycle under a fake clock,
 * whole-request validation with a pointer per bad profile, import errors, lists, limits).
 */
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { DEMO_PRIVATE_KEY } from '../../src/emulator/demo-data/index.js';
import { JOB_STEP_MS } from '../../src/emulator/handlers/write-common.js';
import type { AccountSnapshot, StoredResource } from '../../src/emulator/store/types.js';
import { apiHeaders, testAccount, useFixtureEmulator } from '../helpers/emulator-api.js';

const KEY = 'pk_unit_write_profiles_0123';
const HEADERS = apiHeaders(KEY);
const NOW = Date.parse('2026-03-01T12:00:00Z');

function profile(id: string, attributes: Record<string, unknown>): StoredResource {
  return {
    type: 'profile',
    id,
    attributes: {
      email: null, phone_number: null, external_id: null, first_name: null, last_name: null, organization: null, locale: null, title: null, image: null,
      created: '2025-01-01T00:00:00+00:00', updated: '2025-01-01T00:00:00+00:00', last_event_date: null,
      location: { city: 'Boston', country: 'United States', zip: null }, properties: { tier: 'gold', tags: ['a'] },
      ...attributes,
    },
    relationships: {},
  };
}

function fixture(): AccountSnapshot {
  return testAccount(
    {
      profile: [
        profile('P1', { email: 'ann@example.com', first_name: 'Ann', external_id: 'ext-1' }),
        profile('P2', { email: 'bob@example.com', phone_number: '+15005550002', first_name: 'Bob' }),
        profile('P3', { phone_number: '+15005550003' }),
      ],
      list: [{ type: 'list', id: 'L1', attributes: { name: 'Newsletter', opt_in_process: 'single_opt_in', created: '2025-01-01T00:00:00+00:00', updated: '2025-01-01T00:00:00+00:00' }, relationships: {} }],
    },
    { listMembers: { L1: { P2: '2025-01-02T00:00:00+00:00' } } },
  );
}

const fx = useFixtureEmulator(fixture, { key: KEY, now: NOW });
const api = fx.api;

const stored = (id: string) => fx.emu.store.collection('profile').get(id)!;
const profileDoc = (attributes: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ data: { type: 'profile', attributes, ...extra } });

describe('POST /api/profiles', () => {
  it('creates a profile: 201, a ULID, every attribute present, created = updated = now', async () => {
    const r = await api('POST', '/api/profiles', profileDoc({ email: 'new@example.com', first_name: 'New', properties: { plan: 'pro' }, location: { city: 'Lisbon' } }));
    expect(r.status).toBe(201);
    expect(r.body.data.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(r.body.data.attributes).toMatchObject({ email: 'new@example.com', first_name: 'New', last_name: null, properties: { plan: 'pro' }, created: '2026-03-01T12:00:00+00:00', updated: '2026-03-01T12:00:00+00:00' });
    expect(r.body.data.attributes.location).toMatchObject({ city: 'Lisbon', country: null });
    // subscriptions only when asked for, as on GET
    expect(r.body.data.attributes.subscriptions).toBeUndefined();
    const withSubs = await api('POST', '/api/profiles?additional-fields[profile]=subscriptions', profileDoc({ email: 'n2@example.com' }));
    expect(withSubs.body.data.attributes.subscriptions.email.marketing).toMatchObject({ consent: 'NEVER_SUBSCRIBED', can_receive_email_marketing: true, suppression: [] });
    expect((await api('GET', `/api/profiles/${r.body.data.id}`)).body.data.attributes.first_name).toBe('New');
  });

  it('answers 409 duplicate_profile with meta.duplicate_profile_id when an identifier is taken', async () => {
    for (const attributes of [{ email: 'ann@example.com' }, { phone_number: '+15005550003', email: 'x@example.com' }, { external_id: 'ext-1' }]) {
      const r = await api('POST', '/api/profiles', profileDoc(attributes));
      expect(r.status).toBe(409);
      expect(r.body.errors[0]).toMatchObject({ status: 409, code: 'duplicate_profile', title: 'Conflict.', detail: 'A profile already exists with one of these identifiers.', source: { pointer: '/data/attributes' } });
      expect(['P1', 'P3']).toContain(r.body.errors[0].meta.duplicate_profile_id);
    }
    expect(fx.emu.store.collection('profile').count()).toBe(3);
  });

  it('refuses bad emails, non-E.164 phone numbers, unknown fields and profiles without identifiers, each with a pointer', async () => {
    const r = await api('POST', '/api/profiles', profileDoc({ email: 'not-an-email', phone_number: '555-1234' }));
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: any) => [e.source.pointer, e.detail])).toEqual([
      ['/data/attributes/email', 'not-an-email is not a valid email address.'],
      ['/data/attributes/phone_number', expect.stringContaining('Invalid phone number format (Example of a valid format: +12345678901)')],
    ]);
    expect((await api('POST', '/api/profiles', profileDoc({ email: 'a@example.com', nickname: 'x' }))).body.errors[0].detail).toBe("'nickname' is not a valid field for the resource 'profile'.");
    expect((await api('POST', '/api/profiles', profileDoc({ first_name: 'Nobody' }))).body.errors[0].detail).toMatch(/at least one identifier/);
    expect(fx.emu.store.collection('profile').count()).toBe(3);
  });

  it('refuses payloads over 100 KB with 413', async () => {
    const r = await api('POST', '/api/profiles', profileDoc({ email: 'big@example.com', properties: { blob: 'x'.repeat(101 * 1024) } }));
    expect(r.status).toBe(413);
    expect(r.body.errors[0]).toMatchObject({ code: 'too_large', detail: expect.stringContaining('at most 100 KB') });
  });
});

describe('PATCH /api/profiles/{id}', () => {
  it('changes only what is given; null clears; properties and location merge key by key', async () => {
    fx.now = NOW + 60_000;
    const r = await api('PATCH', '/api/profiles/P1', { data: { type: 'profile', id: 'P1', attributes: { first_name: null, last_name: 'Smith', properties: { plan: 'pro', tier: null }, location: { zip: '02110' } } } });
    expect(r.status).toBe(200);
    expect(r.body.data.attributes).toMatchObject({ email: 'ann@example.com', first_name: null, last_name: 'Smith', properties: { plan: 'pro', tags: ['a'] }, updated: '2026-03-01T12:01:00+00:00' });
    expect(r.body.data.attributes.properties).not.toHaveProperty('tier');
    expect(r.body.data.attributes.location).toEqual({ city: 'Boston', country: 'United States', zip: '02110' });
  });

  it('leaves updated alone when nothing changes', async () => {
    fx.now = NOW + 60_000;
    const r = await api('PATCH', '/api/profiles/P1', { data: { type: 'profile', id: 'P1', attributes: { first_name: 'Ann' } } });
    expect(r.body.data.attributes.updated).toBe('2025-01-01T00:00:00+00:00');
  });

  it('applies meta.patch_properties (append, unappend, unset)', async () => {
    const r = await api('PATCH', '/api/profiles/P1', { data: { type: 'profile', id: 'P1', attributes: {}, meta: { patch_properties: { append: { tags: 'b' }, unappend: { tags: 'a' }, unset: 'tier' } } } });
    expect(r.body.data.attributes.properties).toEqual({ tags: ['b'] });
  });

  it('answers 404 for an unknown id, 400 when the ids differ, 409 when an identifier belongs to another profile', async () => {
    expect((await api('PATCH', '/api/profiles/NOPE', { data: { type: 'profile', id: 'NOPE', attributes: { first_name: 'x' } } })).status).toBe(404);
    const mismatch = await api('PATCH', '/api/profiles/P1', { data: { type: 'profile', id: 'P2', attributes: {} } });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.errors[0].source.pointer).toBe('/data/id');
    const taken = await api('PATCH', '/api/profiles/P1', { data: { type: 'profile', id: 'P1', attributes: { email: 'bob@example.com' } } });
    expect(taken.status).toBe(409);
    expect(taken.body.errors[0].meta).toEqual({ duplicate_profile_id: 'P2' });
    expect(stored('P1').attributes.email).toBe('ann@example.com');
  });

  it('refuses to clear the last identifier', async () => {
    const r = await api('PATCH', '/api/profiles/P3', { data: { type: 'profile', id: 'P3', attributes: { phone_number: null } } });
    expect(r.status).toBe(400);
    expect(stored('P3').attributes.phone_number).toBe('+15005550003');
  });
});

describe('POST /api/profile-import', () => {
  it('updates a matched profile (200) and creates an unknown one (201)', async () => {
    const updated = await api('POST', '/api/profile-import', profileDoc({ email: 'bob@example.com', last_name: 'Jones', title: null }));
    expect(updated.status).toBe(200);
    expect(updated.body.data).toMatchObject({ id: 'P2', attributes: { last_name: 'Jones', first_name: 'Bob' } });
    const byPhone = await api('POST', '/api/profile-import', profileDoc({ phone_number: '+15005550003', email: 'carol@example.com' }));
    expect(byPhone.status).toBe(200);
    expect(byPhone.body.data.id).toBe('P3');
    expect(stored('P3').attributes.email).toBe('carol@example.com');
    const created = await api('POST', '/api/profile-import', profileDoc({ email: 'dan@example.com' }));
    expect(created.status).toBe(201);
    expect(fx.emu.store.collection('profile').count()).toBe(4);
  });

  it('matches by id first, and answers 409 when identifiers point at two profiles, 404 for an unknown id', async () => {
    const byId = await api('POST', '/api/profile-import', profileDoc({ first_name: 'Annie' }, { id: 'P1' }));
    expect(byId.status).toBe(200);
    expect(stored('P1').attributes.first_name).toBe('Annie');
    const clash = await api('POST', '/api/profile-import', profileDoc({ email: 'ann@example.com', phone_number: '+15005550002' }));
    expect(clash.status).toBe(409);
    expect(clash.body.errors[0]).toMatchObject({ code: 'duplicate_profile', meta: { duplicate_profile_id: 'P2' } });
    expect((await api('POST', '/api/profile-import', profileDoc({ email: 'z@example.com' }, { id: 'NOPE' }))).status).toBe(404);
  });
});

describe('profile bulk import jobs', () => {
  const job = (profiles: unknown[], lists?: string[]) => ({
    data: {
      type: 'profile-bulk-import-job',
      attributes: { profiles: { data: profiles } },
      ...(lists ? { relationships: { lists: { data: lists.map((id) => ({ type: 'list', id })) } } } : {}),
    },
  });
  const p = (attributes: Record<string, unknown>, id?: string) => ({ type: 'profile', ...(id ? { id } : {}), attributes });

  it('upserts (nulls ignored), adds to lists, and reports queued → processing → complete as it is polled', async () => {
    const r = await api('POST', '/api/profile-bulk-import-jobs', job([
      p({ email: 'ann@example.com', first_name: null, last_name: 'Lee', properties: { tier: null, plan: 'pro' } }),
      p({ email: 'new1@example.com', first_name: 'New' }),
      p({ phone_number: '+15005550003', external_id: 'ext-3' }),
    ], ['L1']));
    expect(r.status).toBe(202);
    const id = r.body.data.id;
    expect(r.body.data.attributes).toMatchObject({ status: 'queued', total_count: 3, completed_count: 0, failed_count: 0, created_at: '2026-03-01T12:00:00+00:00', completed_at: null });
    expect(r.body.data.relationships.lists.data).toEqual([{ type: 'list', id: 'L1' }]);
    expect(r.body.data.relationships.profiles.data).toBeUndefined();

    // The account already holds the result (Klaviyo's is eventually there; the emulator's at once).
    expect(stored('P1').attributes).toMatchObject({ first_name: 'Ann', last_name: 'Lee', properties: { tier: 'gold', plan: 'pro', tags: ['a'] } });
    expect(stored('P3').attributes.external_id).toBe('ext-3');
    expect(fx.emu.store.collection('profile').count()).toBe(4);
    expect([...fx.emu.store.listMembers.get('L1')!.keys()].sort()).toEqual(['P1', 'P2', 'P3', fx.emu.store.collection('profile').findBy('email', 'new1@example.com')[0]!.id].sort());
    expect(fx.emu.store.listMembers.get('L1')!.get('P2')).toBe('2025-01-02T00:00:00+00:00');

    const first = await api('GET', `/api/profile-bulk-import-jobs/${id}`);
    expect(first.body.data.attributes).toMatchObject({ status: 'processing', completed_count: 1, failed_count: 0 });
    const second = await api('GET', `/api/profile-bulk-import-jobs/${id}?include=lists`);
    expect(second.body.data.attributes).toMatchObject({ status: 'complete', completed_count: 3, failed_count: 0, completed_at: '2026-03-01T12:00:00+00:00' });
    expect(second.body.included.map((l: any) => l.id)).toEqual(['L1']);

    const ids = await api('GET', `/api/profile-bulk-import-jobs/${id}/relationships/profiles`);
    expect(ids.body.data.map((d: any) => d.id).slice(0, 1)).toEqual(['P1']);
    expect(ids.body.data).toHaveLength(3);
    expect((await api('GET', `/api/profile-bulk-import-jobs/${id}/profiles`)).body.data[2].id).toBe('P3');
    expect((await api('GET', `/api/profile-bulk-import-jobs/${id}/import-errors`)).body.data).toEqual([]);
  });

  it('completes by the clock alone when nobody polls', async () => {
    const id = (await api('POST', '/api/profile-bulk-import-jobs', job([p({ email: 'c@example.com' })]))).body.data.id;
    fx.now = NOW + 2 * JOB_STEP_MS;
    expect((await api('GET', `/api/profile-bulk-import-jobs?${'filter=' + encodeURIComponent("equals(status,'complete')")}`)).body.data.map((j: any) => j.id)).toEqual([id]);
  });

  it('refuses the whole request when profiles fail validation, one error per bad profile with its pointer', async () => {
    const r = await api('POST', '/api/profile-bulk-import-jobs', job([
      p({ email: 'ok@example.com' }),
      p({ email: 'not-an-email' }),
      p({ phone_number: '12345' }),
      p({ first_name: 'no identifier' }),
    ]));
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: any) => e.source.pointer)).toEqual([
      '/data/attributes/profiles/data/1/attributes/email',
      '/data/attributes/profiles/data/2/attributes/phone_number',
      '/data/attributes/profiles/data/3/attributes',
    ]);
    expect(r.body.errors[0]).toMatchObject({ code: 'invalid', detail: 'not-an-email is not a valid email address.' });
    expect(fx.emu.store.collection('profile').findBy('email', 'ok@example.com')).toEqual([]);
  });

  it('refuses an unknown list at /data and unknown fields at their pointer', async () => {
    const list = await api('POST', '/api/profile-bulk-import-jobs', job([p({ email: 'x@example.com' })], ['NOPE']));
    expect(list.status).toBe(400);
    expect(list.body.errors[0]).toMatchObject({ detail: 'List ID NOPE does not exist.', source: { pointer: '/data' } });
    const field = await api('POST', '/api/profile-bulk-import-jobs', job([p({ email: 'x@example.com', frist_name: 'A' })]));
    expect(field.body.errors[0].source.pointer).toBe('/data/attributes/profiles/data/0/attributes/frist_name');
  });

  it('records what only processing finds as import errors, with pointer and original payload, and goes on', async () => {
    const conflicting = p({ email: 'ann@example.com', phone_number: '+15005550002' });
    const r = await api('POST', '/api/profile-bulk-import-jobs', job([p({ email: 'fine@example.com' }), conflicting, p({ first_name: 'X' }, 'NOPE')]));
    expect(r.status).toBe(202);
    const id = r.body.data.id;
    await api('GET', `/api/profile-bulk-import-jobs/${id}`);
    const done = await api('GET', `/api/profile-bulk-import-jobs/${id}`);
    expect(done.body.data.attributes).toMatchObject({ status: 'complete', total_count: 3, completed_count: 1, failed_count: 2 });
    const errors = (await api('GET', `/api/profile-bulk-import-jobs/${id}/import-errors`)).body.data;
    expect(errors.map((e: any) => [e.type, e.attributes.code, e.attributes.source.pointer])).toEqual([
      ['import-error', 'duplicate_profile', '/data/attributes/profiles/data/1/attributes/phone_number'],
      ['import-error', 'not_found', '/data/attributes/profiles/data/2/id'],
    ]);
    expect(errors[0].attributes.original_payload).toEqual(conflicting);
    expect(errors[0].attributes.detail).toContain('P2');
    expect(fx.emu.store.collection('profile').findBy('email', 'fine@example.com')).toHaveLength(1);
  });

  it('enforces 10,000 profiles (400), 5 MB (413) and 100 KB a profile (400 at the profile)', async () => {
    const many = Array.from({ length: 10_001 }, (_, i) => p({ email: `m${i}@example.com` }));
    const tooMany = await api('POST', '/api/profile-bulk-import-jobs', job(many));
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors[0].detail).toMatch(/10001 profiles .* at most 10000/);
    const heavy = Array.from({ length: 60 }, (_, i) => p({ email: `h${i}@example.com`, properties: { blob: 'x'.repeat(90 * 1024) } }));
    const tooBig = await api('POST', '/api/profile-bulk-import-jobs', job(heavy));
    expect(tooBig.status).toBe(413);
    const fat = await api('POST', '/api/profile-bulk-import-jobs', job([p({ email: 'ok@example.com' }), p({ email: 'fat@example.com', properties: { blob: 'x'.repeat(101 * 1024) } })]));
    expect(fat.status).toBe(400);
    expect(fat.body.errors[0].source.pointer).toBe('/data/attributes/profiles/data/1');
  });

  it('takes 10,000 profiles in one request', async () => {
    const many = Array.from({ length: 10_000 }, (_, i) => p({ email: `m${i}@example.com`, properties: { n: i } }));
    const r = await api('POST', '/api/profile-bulk-import-jobs', job(many));
    expect(r.status).toBe(202);
    expect(r.body.data.attributes.total_count).toBe(10_000);
    expect(fx.emu.store.collection('profile').count()).toBe(10_003);
  });
});

describe('POST /api/push-tokens', () => {
  const token = (t: string, profile: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    data: { type: 'push-token', attributes: { token: t, platform: 'ios', vendor: 'apns', profile: { data: { type: 'profile', attributes: profile } }, ...extra } },
  });

  it('registers a token on the profile its identifiers name (202, no body), and moves it when posted again', async () => {
    const r = await api('POST', '/api/push-tokens', token('tok-1', { email: 'ann@example.com' }, { device_metadata: { device_model: 'iPhone' } }));
    expect(r.status).toBe(202);
    expect(r.body).toBeNull();
    const forAnn = await api('GET', '/api/profiles/P1/push-tokens');
    expect(forAnn.body.data.map((t: any) => t.attributes)).toEqual([
      expect.objectContaining({ token: 'tok-1', platform: 'ios', vendor: 'apns', enablement_status: 'AUTHORIZED', metadata: { device_model: 'iPhone' }, created: '2026-03-01T12:00:00+00:00' }),
    ]);
    await api('POST', '/api/push-tokens', token('tok-1', { phone_number: '+15005550003' }, { enablement_status: 'DENIED' }));
    expect((await api('GET', '/api/profiles/P1/push-tokens')).body.data).toEqual([]);
    expect((await api('GET', '/api/profiles/P3/push-tokens')).body.data[0].attributes).toMatchObject({ token: 'tok-1', enablement_status: 'DENIED' });
    expect(fx.emu.store.collection('push-token').count()).toBe(1);
  });

  it('creates the profile when none matches, and refuses a bad email', async () => {
    expect((await api('POST', '/api/push-tokens', token('tok-2', { email: 'newbie@example.com' }))).status).toBe(202);
    expect(fx.emu.store.collection('profile').findBy('email', 'newbie@example.com')).toHaveLength(1);
    const bad = await api('POST', '/api/push-tokens', token('tok-3', { email: 'nope' }));
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].source.pointer).toBe('/data/attributes/profile/data/attributes/email');
  });
});

describe('on the demo account', () => {
  it('upserts into lazily generated profiles and keeps ids', async () => {
    const server = await startEmulator({ data: 'demo', profiles: 300, rateLimits: 'off', key: DEMO_PRIVATE_KEY });
    try {
      const headers = { ...HEADERS, authorization: `Klaviyo-API-Key ${DEMO_PRIVATE_KEY}` };
      const first = (await (await fetch(`${server.url}/api/profiles?page[size]=1`, { headers })).json()) as any;
      const existing = first.data[0];
      const body = { data: { type: 'profile-bulk-import-job', attributes: { profiles: { data: [{ type: 'profile', attributes: { email: existing.attributes.email, first_name: 'Renamed' } }] } } } };
      const res = await fetch(`${server.url}/api/profile-bulk-import-jobs`, { method: 'POST', headers, body: JSON.stringify(body) });
      expect(res.status).toBe(202);
      const after = (await (await fetch(`${server.url}/api/profiles/${existing.id}`, { headers })).json()) as any;
      expect(after.data.attributes).toMatchObject({ first_name: 'Renamed', last_name: existing.attributes.last_name });
    } finally {
      await server.close();
    }
  });
});
