/**
 * The emulator's consent writes: subscribe and unsubscribe jobs (single and double opt-in,
 * historical imports, the global unsubscribe of a profile outside the list) and suppression
 * jobs (USER_SUPPRESSED only is lifted), on a small account with a fake clock.
 */
import { describe, expect, it } from 'vitest';
import { snapshotOf, storeFromSnapshot } from '../../src/emulator/store/account-store.js';
import { confirmPendingSubscriptions } from '../../src/emulator/handlers/write-subscriptions.js';
import type { AccountSnapshot, StoredResource } from '../../src/emulator/store/types.js';
import { testAccount, useFixtureEmulator } from '../helpers/emulator-api.js';

const KEY = 'pk_unit_write_consent_0123';
const NOW = Date.parse('2026-03-01T12:00:00Z');
const NOW_ISO = '2026-03-01T12:00:00+00:00';

function profile(id: string, email: string | null, consent: string, suppression: Array<{ reason: string; timestamp: string }> = [], extra: Record<string, unknown> = {}): StoredResource {
  return {
    type: 'profile',
    id,
    attributes: {
      email,
      phone_number: null,
      external_id: null,
      first_name: id,
      updated: '2025-01-01T00:00:00+00:00',
      subscriptions: {
        email: { marketing: { can_receive_email_marketing: suppression.length === 0, consent, consent_timestamp: '2025-06-01T00:00:00+00:00', last_updated: '2025-06-01T00:00:00+00:00', method: null, method_detail: null, suppression, list_suppressions: [] } },
        sms: null,
        mobile_push: { marketing: { can_receive_push_marketing: false, consent: 'NEVER_SUBSCRIBED', consent_timestamp: null } },
      },
      ...extra,
    },
    relationships: {},
  };
}

const T = '2025-06-01T00:00:00+00:00';

function fixture(): AccountSnapshot {
  return testAccount(
    {
      profile: [
        profile('P1', 'ann@example.com', 'SUBSCRIBED'),
        profile('P2', 'bob@example.com', 'UNSUBSCRIBED', [{ reason: 'UNSUBSCRIBE', timestamp: T }, { reason: 'USER_SUPPRESSED', timestamp: T }]),
        profile('P3', 'carol@example.com', 'SUBSCRIBED', [{ reason: 'HARD_BOUNCE', timestamp: T }]),
        profile('P4', 'dave@example.com', 'SUBSCRIBED', [{ reason: 'USER_SUPPRESSED', timestamp: T }]),
        profile('P5', 'eve@example.com', 'NEVER_SUBSCRIBED', [], { phone_number: '+15005550005' }),
      ],
      list: [
        { type: 'list', id: 'LS', attributes: { name: 'Single', opt_in_process: 'single_opt_in' }, relationships: {} },
        { type: 'list', id: 'LD', attributes: { name: 'Double', opt_in_process: 'double_opt_in' }, relationships: {} },
      ],
      segment: [{ type: 'segment', id: 'S1', attributes: { name: 'Segment' }, relationships: {} }],
    },
    { listMembers: { LS: { P1: '2025-01-01T00:00:00+00:00' }, LD: {} }, segmentMembers: { S1: { P3: '2025-01-01T00:00:00+00:00', P4: '2025-01-01T00:00:00+00:00' } } },
  );
}

const fx = useFixtureEmulator(fixture, { key: KEY, now: NOW });
const api = fx.api;

type Sub = { email?: string; phone_number?: string; subscriptions: Record<string, unknown> };
const emailMarketing = (consented_at?: string) => ({ email: { marketing: { consent: 'SUBSCRIBED', ...(consented_at ? { consented_at } : {}) } } });

function subscribeBody(profiles: Sub[], listId?: string, extra: Record<string, unknown> = {}) {
  return {
    data: {
      type: 'profile-subscription-bulk-create-job',
      attributes: { profiles: { data: profiles.map((attributes) => ({ type: 'profile', attributes })) }, ...extra },
      ...(listId ? { relationships: { list: { data: { type: 'list', id: listId } } } } : {}),
    },
  };
}

function unsubscribeBody(emails: string[], listId?: string) {
  return {
    data: {
      type: 'profile-subscription-bulk-delete-job',
      attributes: { profiles: { data: emails.map((email) => ({ type: 'profile', attributes: { email, subscriptions: { email: { marketing: { consent: 'UNSUBSCRIBED' } } } } })) } },
      ...(listId ? { relationships: { list: { data: { type: 'list', id: listId } } } } : {}),
    },
  };
}

const byEmail = (email: string) => fx.emu.store.collection('profile').findBy('email', email)[0];
const marketing = (p: StoredResource | undefined) => (p!.attributes.subscriptions as any).email.marketing;
const isMember = (listId: string, id: string) => fx.emu.store.listMembers.get(listId)!.has(id);

describe('subscribe (profile-subscription-bulk-create-jobs)', () => {
  it('into a single opt-in list: 202 with no body, profile created, SUBSCRIBED, member', async () => {
    const r = await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody([{ email: 'new@example.com', subscriptions: emailMarketing() }], 'LS', { custom_source: 'CSV import' }));
    expect(r.status).toBe(202);
    expect(r.text).toBe('');
    const p = byEmail('new@example.com')!;
    expect(marketing(p)).toMatchObject({ consent: 'SUBSCRIBED', consent_timestamp: NOW_ISO, can_receive_email_marketing: true, double_optin: false, custom_method_detail: 'CSV import', method: 'API' });
    expect(isMember('LS', p.id)).toBe(true);
    const read = await api('GET', `/api/profiles/${p.id}?additional-fields[profile]=subscriptions`);
    expect(read.body.data.attributes.subscriptions.email.marketing.consent).toBe('SUBSCRIBED');
  });

  it('into a DOUBLE opt-in list: only a confirmation is pending; consent and membership wait for it', async () => {
    const r = await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody([{ email: 'eve@example.com', subscriptions: emailMarketing() }, { email: 'new@example.com', subscriptions: emailMarketing() }], 'LD'));
    expect(r.status).toBe(202);
    expect(marketing(byEmail('eve@example.com'))).toMatchObject({ consent: 'NEVER_SUBSCRIBED' });
    expect(marketing(byEmail('new@example.com'))).toMatchObject({ consent: 'NEVER_SUBSCRIBED' });
    expect(isMember('LD', 'P5')).toBe(false);
    expect(fx.emu.store.pendingConfirmations.get('LD')!.get('P5')).toEqual({ requestedAt: NOW_ISO, channels: ['email.marketing'], customSource: null });
    // The pending confirmations survive a snapshot round trip (GET /_emulator/state, --data FILE).
    const state = snapshotOf(fx.emu.store);
    expect(Object.keys(state.pendingConfirmations!.LD!)).toHaveLength(2);
    expect(storeFromSnapshot(structuredClone(state)).pendingConfirmations.get('LD')!.size).toBe(2);

    fx.now = NOW + 3_600_000;
    expect(confirmPendingSubscriptions(fx.emu.store, { profileId: 'P5' })).toBe(1);
    expect(marketing(fx.emu.store.collection('profile').get('P5'))).toMatchObject({ consent: 'SUBSCRIBED', double_optin: true, consent_timestamp: '2026-03-01T13:00:00+00:00' });
    expect(isMember('LD', 'P5')).toBe(true);
    expect(fx.emu.store.pendingConfirmations.get('LD')!.size).toBe(1);
  });

  it('POST /_emulator/confirm-subscriptions confirms pending double opt-ins over HTTP, all or by list and profile', async () => {
    await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody([{ email: 'eve@example.com', subscriptions: emailMarketing() }, { email: 'new@example.com', subscriptions: emailMarketing() }], 'LD'));
    const admin = async (body?: unknown) => {
      const res = await fetch(`${fx.emu.url}/_emulator/confirm-subscriptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as any };
    };
    expect((await admin({ listId: 'LD', profileId: 'P5' })).body).toEqual({ confirmed: 1 });
    expect(isMember('LD', 'P5')).toBe(true);
    expect(marketing(fx.emu.store.collection('profile').get('P5'))).toMatchObject({ consent: 'SUBSCRIBED', double_optin: true });
    const bad = await admin({ list: 'LD' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/takes no body.*listId.*profileId/);
    // No body: every pending confirmation left (the new profile's).
    expect((await admin()).body).toEqual({ confirmed: 1 });
    expect(isMember('LD', byEmail('new@example.com')!.id)).toBe(true);
    expect((await admin()).body).toEqual({ confirmed: 0 });
  });

  it('refuses a snapshot whose pending confirmations name unknown lists or profiles, or are malformed', () => {
    const snapshot = fixture();
    snapshot.pendingConfirmations = { LX: { P1: { requestedAt: NOW_ISO, channels: ['email.marketing'] } }, LD: { P9: { requestedAt: 'soon', channels: [] } } };
    expect(() => storeFromSnapshot(snapshot)).toThrow(/pendingConfirmations\["LX"\] names no list.*pendingConfirmations\["LD"\]\["P9"\] names no profile.*must be \{requestedAt/);
    // Older snapshots have none, and snapshots of accounts without any stay without the key.
    expect(snapshotOf(storeFromSnapshot(fixture()))).not.toHaveProperty('pendingConfirmations');
  });

  it('a member already subscribed to a double opt-in list needs no confirmation', async () => {
    await api('POST', '/api/lists/LD/relationships/profiles', { data: [{ type: 'profile', id: 'P1' }] });
    await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody([{ email: 'ann@example.com', subscriptions: emailMarketing() }], 'LD'));
    expect(fx.emu.store.pendingConfirmations.get('LD')?.size ?? 0).toBe(0);
  });

  it('historical_import skips double opt-in, and needs a past consented_at', async () => {
    const missing = await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody([{ email: 'eve@example.com', subscriptions: emailMarketing() }], 'LD', { historical_import: true }));
    expect(missing.status).toBe(400);
    expect(missing.body.errors[0]).toMatchObject({ detail: expect.stringContaining('consented_at is required'), source: { pointer: '/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consented_at' } });
    const future = await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody([{ email: 'eve@example.com', subscriptions: emailMarketing('2027-01-01T00:00:00Z') }], 'LD', { historical_import: true }));
    expect(future.body.errors[0].detail).toMatch(/must be in the past/);
    const ok = await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody([{ email: 'eve@example.com', subscriptions: emailMarketing('2025-12-01T00:00:00Z') }], 'LD', { historical_import: true }));
    expect(ok.status).toBe(202);
    expect(marketing(byEmail('eve@example.com'))).toMatchObject({ consent: 'SUBSCRIBED', consent_timestamp: '2025-12-01T00:00:00Z' });
    expect(isMember('LD', 'P5')).toBe(true);
  });

  it('refuses a consented_at before the profile\'s last unsubscribe', async () => {
    const r = await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody([{ email: 'bob@example.com', subscriptions: emailMarketing('2025-01-01T00:00:00Z') }], 'LS'));
    expect(r.status).toBe(400);
    expect(r.body.errors[0].source.pointer).toBe('/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consented_at');
    expect(marketing(byEmail('bob@example.com')).consent).toBe('UNSUBSCRIBED');
  });

  it('lifts UNSUBSCRIBE and USER_SUPPRESSED suppressions, keeps HARD_BOUNCE', async () => {
    await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody([{ email: 'bob@example.com', subscriptions: emailMarketing() }, { email: 'carol@example.com', subscriptions: emailMarketing() }]));
    expect(marketing(byEmail('bob@example.com'))).toMatchObject({ consent: 'SUBSCRIBED', suppression: [], can_receive_email_marketing: true });
    expect(marketing(byEmail('carol@example.com'))).toMatchObject({ suppression: [{ reason: 'HARD_BOUNCE', timestamp: T }], can_receive_email_marketing: false });
  });

  it('subscribes SMS with a phone number, and refuses SMS consent without one', async () => {
    const ok = await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody([{ email: 'eve@example.com', phone_number: '+15005550005', subscriptions: { sms: { marketing: { consent: 'SUBSCRIBED' }, transactional: { consent: 'SUBSCRIBED' } } } }], 'LS'));
    expect(ok.status).toBe(202);
    const sms = (fx.emu.store.collection('profile').get('P5')!.attributes.subscriptions as any).sms;
    expect(sms.marketing).toMatchObject({ consent: 'SUBSCRIBED', can_receive_sms_marketing: true });
    expect(sms.transactional).toMatchObject({ consent: 'SUBSCRIBED', can_receive_sms_transactional: true });
    const bad = await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody([{ email: 'ann@example.com', subscriptions: { sms: { marketing: { consent: 'SUBSCRIBED' } } } }]));
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].source.pointer).toBe('/data/attributes/profiles/data/0/attributes/subscriptions/sms/marketing');
  });

  it('refuses the whole request for one bad profile, an unknown list, or more than 1,000 profiles', async () => {
    const bad = await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody([{ email: 'ok@example.com', subscriptions: emailMarketing() }, { email: 'nope', subscriptions: emailMarketing() }], 'LS'));
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].source.pointer).toBe('/data/attributes/profiles/data/1/attributes/email');
    expect(byEmail('ok@example.com')).toBeUndefined();
    const list = await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody([{ email: 'ok@example.com', subscriptions: emailMarketing() }], 'NOPE'));
    expect(list.body.errors[0]).toMatchObject({ detail: 'List not found with id NOPE.', source: { pointer: '/data/relationships/list/data/id' } });
    const many = Array.from({ length: 1001 }, (_, i) => ({ email: `m${i}@example.com`, subscriptions: emailMarketing() }));
    expect((await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody(many))).status).toBe(400);
    expect((await api('POST', '/api/profile-subscription-bulk-create-jobs', subscribeBody(many.slice(1)))).status).toBe(202);
  });
});

describe('unsubscribe (profile-subscription-bulk-delete-jobs)', () => {
  it('from a list the profile is in: out of the list with a list suppression, global consent kept', async () => {
    const r = await api('POST', '/api/profile-subscription-bulk-delete-jobs', unsubscribeBody(['ann@example.com'], 'LS'));
    expect(r.status).toBe(202);
    expect(isMember('LS', 'P1')).toBe(false);
    expect(marketing(byEmail('ann@example.com'))).toMatchObject({ consent: 'SUBSCRIBED', suppression: [], list_suppressions: [{ list_id: 'LS', reason: 'UNSUBSCRIBE', timestamp: NOW_ISO }] });
  });

  it('from a list the profile is NOT in: unsubscribed globally, as Klaviyo does', async () => {
    await api('POST', '/api/profile-subscription-bulk-delete-jobs', unsubscribeBody(['eve@example.com'], 'LS'));
    expect(marketing(byEmail('eve@example.com'))).toMatchObject({ consent: 'UNSUBSCRIBED', can_receive_email_marketing: false, suppression: [{ reason: 'UNSUBSCRIBE', timestamp: NOW_ISO }] });
  });

  it('without a list: globally; an unknown email gets a profile that remembers it', async () => {
    await api('POST', '/api/profile-subscription-bulk-delete-jobs', unsubscribeBody(['ann@example.com', 'ghost@example.com']));
    expect(marketing(byEmail('ann@example.com')).consent).toBe('UNSUBSCRIBED');
    expect(isMember('LS', 'P1')).toBe(true);
    expect(marketing(byEmail('ghost@example.com')).consent).toBe('UNSUBSCRIBED');
  });

  it('takes at most 100 profiles', async () => {
    const many = Array.from({ length: 101 }, (_, i) => `m${i}@example.com`);
    const r = await api('POST', '/api/profile-subscription-bulk-delete-jobs', unsubscribeBody(many));
    expect(r.status).toBe(400);
    expect(r.body.errors[0].detail).toMatch(/at most 100/);
  });
});

describe('suppression jobs', () => {
  const body = (type: string, emails: string[], relationships?: Record<string, unknown>) => ({
    data: { type, attributes: { profiles: { data: emails.map((email) => ({ type: 'profile', attributes: { email } })) } }, ...(relationships ? { relationships } : {}) },
  });

  it('suppress: USER_SUPPRESSED added, already-suppressed skipped, unknown emails get a profile; the job completes as polled', async () => {
    const r = await api('POST', '/api/profile-suppression-bulk-create-jobs', body('profile-suppression-bulk-create-job', ['ann@example.com', 'dave@example.com', 'new@example.com']));
    expect(r.status).toBe(202);
    expect(r.body.data).toMatchObject({ type: 'profile-suppression-bulk-create-job', attributes: { status: 'queued', total_count: 3, completed_count: 0, skipped_count: 0 } });
    expect(marketing(byEmail('ann@example.com'))).toMatchObject({ suppression: [{ reason: 'USER_SUPPRESSED', timestamp: NOW_ISO }], can_receive_email_marketing: false, consent: 'SUBSCRIBED' });
    expect(marketing(byEmail('new@example.com')).suppression).toEqual([{ reason: 'USER_SUPPRESSED', timestamp: NOW_ISO }]);
    const id = r.body.data.id;
    await api('GET', `/api/profile-suppression-bulk-create-jobs/${id}`);
    const done = await api('GET', `/api/profile-suppression-bulk-create-jobs/${id}`);
    expect(done.body.data.attributes).toMatchObject({ status: 'complete', total_count: 3, completed_count: 2, skipped_count: 1, completed_at: NOW_ISO });
    const read = await api('GET', `/api/profiles?filter=${encodeURIComponent("equals(subscriptions.email.marketing.suppression.reason,'USER_SUPPRESSED')")}`);
    expect(read.body.data.map((p: any) => p.attributes.email).sort()).toEqual(['ann@example.com', 'bob@example.com', 'dave@example.com', 'new@example.com']);
  });

  it('suppress a segment\'s members; jobs list filters by segment_id', async () => {
    const r = await api('POST', '/api/profile-suppression-bulk-create-jobs', { data: { type: 'profile-suppression-bulk-create-job', attributes: {}, relationships: { segment: { data: { type: 'segment', id: 'S1' } } } } });
    expect(r.status).toBe(202);
    expect(r.body.data.attributes).toMatchObject({ total_count: 2 });
    expect(marketing(fx.emu.store.collection('profile').get('P3')).suppression.map((s: any) => s.reason)).toEqual(['HARD_BOUNCE', 'USER_SUPPRESSED']);
    const jobs = await api('GET', `/api/profile-suppression-bulk-create-jobs?filter=${encodeURIComponent("equals(segment_id,'S1')")}`);
    expect(jobs.body.data.map((j: any) => j.id)).toEqual([r.body.data.id]);
    expect((await api('GET', `/api/profile-suppression-bulk-create-jobs?filter=${encodeURIComponent("equals(segment_id,'S9')")}`)).body.data).toEqual([]);
  });

  it('unsuppress lifts USER_SUPPRESSED only: HARD_BOUNCE and UNSUBSCRIBE stay', async () => {
    const r = await api('POST', '/api/profile-suppression-bulk-delete-jobs', body('profile-suppression-bulk-delete-job', ['bob@example.com', 'carol@example.com', 'dave@example.com', 'nobody@example.com']));
    expect(r.status).toBe(202);
    expect(marketing(byEmail('dave@example.com'))).toMatchObject({ suppression: [], can_receive_email_marketing: true });
    expect(marketing(byEmail('bob@example.com')).suppression).toEqual([{ reason: 'UNSUBSCRIBE', timestamp: T }]);
    expect(marketing(byEmail('carol@example.com')).suppression).toEqual([{ reason: 'HARD_BOUNCE', timestamp: T }]);
    expect(byEmail('nobody@example.com')).toBeUndefined();
    fx.now = NOW + 10_000;
    const done = await api('GET', `/api/profile-suppression-bulk-delete-jobs/${r.body.data.id}`);
    expect(done.body.data.attributes).toMatchObject({ status: 'complete', total_count: 4, completed_count: 2, skipped_count: 2 });
  });

  it('refuses more than 100 emails, invalid emails, unknown lists and an empty request', async () => {
    const many = Array.from({ length: 101 }, (_, i) => `m${i}@example.com`);
    expect((await api('POST', '/api/profile-suppression-bulk-create-jobs', body('profile-suppression-bulk-create-job', many))).status).toBe(400);
    const bad = await api('POST', '/api/profile-suppression-bulk-create-jobs', body('profile-suppression-bulk-create-job', ['ok@example.com', 'bad']));
    expect(bad.body.errors[0].source.pointer).toBe('/data/attributes/profiles/data/1/attributes/email');
    const list = await api('POST', '/api/profile-suppression-bulk-create-jobs', { data: { type: 'profile-suppression-bulk-create-job', attributes: {}, relationships: { list: { data: { type: 'list', id: 'NOPE' } } } } });
    expect(list.body.errors[0].source.pointer).toBe('/data/relationships/list/data/id');
    expect((await api('POST', '/api/profile-suppression-bulk-create-jobs', { data: { type: 'profile-suppression-bulk-create-job', attributes: {} } })).status).toBe(400);
    expect(byEmail('ok@example.com')).toBeUndefined();
  });
});
