/**
 * Every write endpoint of the emulator's part 1 (profiles, bulk import jobs, lists and their
 * members, subscriptions, suppressions, events, push tokens), driven against `klv emulator` as a separate
 * process (the built CLI, an empty account), recorded, and checked against Klaviyo's OpenAPI
 * spec: each request must be one Klaviyo accepts (bodies included) and each answer, errors
 * included, one Klaviyo could give. The reads after the writes check that what the writes left
 * in the account (consent, suppressions, events, new metrics) is spec-shaped too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnEmulator, type EmulatorProcess } from '../helpers/emulator.js';
import { withRecording } from '../helpers/recording.js';

const HEADERS = {
  authorization: 'Klaviyo-API-Key pk_e2e_emulator_write_0123',
  revision: '2026-07-15',
  accept: 'application/vnd.api+json',
  'content-type': 'application/vnd.api+json',
};

describe('klv emulator: the write side, within the spec', () => {
  const recording = withRecording({ setEnv: false });
  let emulator: EmulatorProcess | undefined;
  let url = '';

  beforeAll(async () => {
    emulator = spawnEmulator(['--port', '0', '--data', 'empty', '--rate-limits', 'off'], recording.env);
    url = await emulator.url;
  });

  afterAll(async () => {
    await emulator?.stop();
  });

  async function call(method: string, path: string, body?: unknown, expected?: number): Promise<any> {
    const res = await fetch(url + path, { method, headers: HEADERS, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    const parsed = text ? JSON.parse(text) : null;
    if (expected !== undefined) expect(res.status, `${method} ${path}: ${text.slice(0, 500)}`).toBe(expected);
    return parsed;
  }

  const list = (name: string, opt_in_process: string) => ({ data: { type: 'list', attributes: { name, opt_in_process } } });
  const profiles = (type: string, data: unknown[], relationships?: unknown) => ({ data: { type, attributes: { profiles: { data } }, ...(relationships ? { relationships } : {}) } });
  const listRel = (id: string) => ({ list: { data: { type: 'list', id } } });

  it('answers every write as Klaviyo would, and the recording conforms to the spec', async () => {
    // Lists
    const single = (await call('POST', '/api/lists', list('Newsletter', 'single_opt_in'), 201)).data.id;
    const double = (await call('POST', '/api/lists', list('Confirmed', 'double_opt_in'), 201)).data.id;
    const scratch = (await call('POST', '/api/lists', list('Scratch', 'single_opt_in'), 201)).data.id;
    await call('PATCH', `/api/lists/${scratch}`, { data: { type: 'list', id: scratch, attributes: { name: 'Scratch 2' } } }, 200);

    // One profile at a time
    const ann = (await call('POST', '/api/profiles', { data: { type: 'profile', attributes: { email: 'ann@example.com', first_name: 'Ann', location: { city: 'Boston', latitude: 42.36 }, properties: { tier: 'gold' } } } }, 201)).data.id;
    const dup = await call('POST', '/api/profiles', { data: { type: 'profile', attributes: { email: 'ann@example.com' } } }, 409);
    expect(dup.errors[0].meta.duplicate_profile_id).toBe(ann);
    await call('PATCH', `/api/profiles/${ann}?additional-fields[profile]=subscriptions`, { data: { type: 'profile', id: ann, attributes: { last_name: 'Lee', title: null }, meta: { patch_properties: { append: { tags: 'vip' } } } } }, 200);
    await call('POST', '/api/profile-import', { data: { type: 'profile', attributes: { email: 'bob@example.com', phone_number: '+15005550002' } } }, 201);
    await call('POST', '/api/profile-import', { data: { type: 'profile', attributes: { email: 'bob@example.com', first_name: 'Bob' } } }, 200);
    await call('POST', '/api/profiles', { data: { type: 'profile', attributes: { email: 'not-an-email' } } }, 400);

    // Bulk import: refused as a whole for a bad profile, then accepted, polled and read back
    const rows = Array.from({ length: 25 }, (_, i) => ({ type: 'profile', attributes: { email: `bulk${i}@example.com`, first_name: `Bulk ${i}`, properties: { n: i } } }));
    const refused = await call('POST', '/api/profile-bulk-import-jobs', profiles('profile-bulk-import-job', [...rows, { type: 'profile', attributes: { email: 'broken' } }]), 400);
    expect(refused.errors[0].source.pointer).toBe('/data/attributes/profiles/data/25/attributes/email');
    const conflicting = { type: 'profile', attributes: { email: 'ann@example.com', phone_number: '+15005550002' } };
    const job = (await call('POST', '/api/profile-bulk-import-jobs', profiles('profile-bulk-import-job', [...rows, conflicting], { lists: { data: [{ type: 'list', id: single }] } }), 202)).data;
    expect(job.attributes.status).toBe('queued');
    await call('GET', `/api/profile-bulk-import-jobs/${job.id}`, undefined, 200);
    const done = await call('GET', `/api/profile-bulk-import-jobs/${job.id}?include=lists`, undefined, 200);
    expect(done.data.attributes).toMatchObject({ status: 'complete', total_count: 26, completed_count: 25, failed_count: 1 });
    await call('GET', `/api/profile-bulk-import-jobs?filter=${encodeURIComponent("equals(status,'complete')")}`, undefined, 200);
    const errors = await call('GET', `/api/profile-bulk-import-jobs/${job.id}/import-errors`, undefined, 200);
    expect(errors.data.map((e: any) => e.attributes.source.pointer)).toEqual(['/data/attributes/profiles/data/25/attributes/phone_number']);
    const imported = await call('GET', `/api/profile-bulk-import-jobs/${job.id}/profiles?page[size]=100`, undefined, 200);
    expect(imported.data).toHaveLength(25);
    await call('GET', `/api/profile-bulk-import-jobs/${job.id}/relationships/profiles?page[size]=10`, undefined, 200);
    await call('GET', `/api/profile-bulk-import-jobs/${job.id}/lists`, undefined, 200);
    await call('GET', `/api/profile-bulk-import-jobs/${job.id}/relationships/lists`, undefined, 200);

    // Memberships
    const ids = imported.data.slice(0, 3).map((p: any) => ({ type: 'profile', id: p.id }));
    await call('POST', `/api/lists/${scratch}/relationships/profiles`, { data: [...ids, { type: 'profile', id: ann }] }, 204);
    await call('DELETE', `/api/lists/${scratch}/relationships/profiles`, { data: ids.slice(0, 1) }, 204);
    await call('POST', `/api/lists/${scratch}/relationships/profiles`, { data: [{ type: 'profile', id: '01J0000000000000000000GHST' }] }, 404);
    expect((await call('GET', `/api/lists/${scratch}?additional-fields[list]=profile_count`, undefined, 200)).data.attributes.profile_count).toBe(3);

    // Consent
    const sub = (email: string, extra: Record<string, unknown> = {}) => ({ type: 'profile', attributes: { email, subscriptions: { email: { marketing: { consent: 'SUBSCRIBED', ...extra } } } } });
    await call('POST', '/api/profile-subscription-bulk-create-jobs', { data: { type: 'profile-subscription-bulk-create-job', attributes: { custom_source: 'klv e2e', profiles: { data: [sub('ann@example.com'), sub('carol@example.com')] } }, relationships: listRel(single) } }, 202);
    await call('POST', '/api/profile-subscription-bulk-create-jobs', { data: { type: 'profile-subscription-bulk-create-job', attributes: { profiles: { data: [sub('dave@example.com')] } }, relationships: listRel(double) } }, 202);
    await call('POST', '/api/profile-subscription-bulk-create-jobs', {
      data: { type: 'profile-subscription-bulk-create-job', attributes: { historical_import: true, profiles: { data: [{ type: 'profile', attributes: { email: 'erin@example.com', phone_number: '+15005550005', subscriptions: { email: { marketing: { consent: 'SUBSCRIBED', consented_at: '2025-01-01T00:00:00Z' } }, sms: { marketing: { consent: 'SUBSCRIBED', consented_at: '2025-01-01T00:00:00Z' } } } } }] } }, relationships: listRel(double) },
    }, 202);
    const unsub = (email: string) => ({ type: 'profile', attributes: { email, subscriptions: { email: { marketing: { consent: 'UNSUBSCRIBED' } } } } });
    await call('POST', '/api/profile-subscription-bulk-delete-jobs', { data: { type: 'profile-subscription-bulk-delete-job', attributes: { profiles: { data: [unsub('carol@example.com'), unsub('bulk7@example.com')] } }, relationships: listRel(single) } }, 202);
    await call('POST', '/api/profile-subscription-bulk-create-jobs', { data: { type: 'profile-subscription-bulk-create-job', attributes: { profiles: { data: [sub('x@example.com')] } }, relationships: listRel('NoList') } }, 400);

    // Suppressions
    const emails = (type: string, list: string[]) => profiles(type, list.map((email) => ({ type: 'profile', attributes: { email } })));
    const suppress = (await call('POST', '/api/profile-suppression-bulk-create-jobs', emails('profile-suppression-bulk-create-job', ['bulk1@example.com', 'bulk2@example.com']), 202)).data;
    await call('GET', `/api/profile-suppression-bulk-create-jobs/${suppress.id}`, undefined, 200);
    await call('GET', '/api/profile-suppression-bulk-create-jobs', undefined, 200);
    const unsuppress = (await call('POST', '/api/profile-suppression-bulk-delete-jobs', emails('profile-suppression-bulk-delete-job', ['bulk1@example.com', 'bulk7@example.com']), 202)).data;
    const unsuppressed = await call('GET', `/api/profile-suppression-bulk-delete-jobs/${unsuppress.id}`, undefined, 200);
    expect(unsuppressed.data.attributes.total_count).toBe(2);
    await call('GET', `/api/profile-suppression-bulk-delete-jobs?filter=${encodeURIComponent("equals(status,'processing')")}`, undefined, 200);

    // Events
    const ev = (metric: string, unique_id: string, time: string) => ({ type: 'event', attributes: { properties: { Source: 'e2e' }, time, value: 9.99, value_currency: 'USD', unique_id, metric: { data: { type: 'metric', attributes: { name: metric } } } } });
    const bulkEvents = {
      data: {
        type: 'event-bulk-create-job',
        attributes: {
          'events-bulk-create': {
            data: [
              { type: 'event-bulk-create', attributes: { profile: { data: { type: 'profile', attributes: { email: 'ann@example.com' } } }, events: { data: [ev('Placed Order', 'o-1', '2026-01-02T03:04:05Z'), ev('Placed Order', 'o-2', '2026-01-03T03:04:05Z')] } } },
              { type: 'event-bulk-create', attributes: { profile: { data: { type: 'profile', attributes: { email: 'frank@example.com', first_name: 'Frank' } } }, events: { data: [ev('Viewed Product', 'v-1', '2026-01-04T03:04:05Z')] } } },
            ],
          },
        },
      },
    };
    await call('POST', '/api/event-bulk-create-jobs', bulkEvents, 202);
    await call('POST', '/api/event-bulk-create-jobs', bulkEvents, 202);
    await call('POST', '/api/events', { data: { type: 'event', attributes: { ...ev('Placed Order', 'o-3', '2026-01-05T03:04:05Z').attributes, profile: { data: { type: 'profile', attributes: { phone_number: '+15005550002' } } } } } }, 202);
    const stored = await call('GET', '/api/events?include=metric,profile&sort=datetime', undefined, 200);
    expect(stored.data.map((e: any) => e.attributes.event_properties.$event_id)).toEqual(['o-1', 'o-2', 'v-1', 'o-3']);
    await call('GET', '/api/metrics', undefined, 200);

    // Push tokens
    await call('POST', '/api/push-tokens', { data: { type: 'push-token', attributes: { token: 'tok-e2e', platform: 'android', vendor: 'fcm', device_metadata: { os_name: 'android', app_version: '1.2' }, profile: { data: { type: 'profile', attributes: { email: 'ann@example.com' } } } } } }, 202);
    expect((await call('GET', `/api/profiles/${ann}/push-tokens`, undefined, 200)).data[0].attributes.token).toBe('tok-e2e');
    await call('GET', '/api/push-tokens?include=profile', undefined, 200);

    // What the writes left is readable in Klaviyo's shapes
    const read = await call('GET', `/api/profiles?additional-fields[profile]=subscriptions&filter=${encodeURIComponent("any(email,['ann@example.com','carol@example.com','dave@example.com','erin@example.com','bulk1@example.com','bulk2@example.com'])")}`, undefined, 200);
    const consent = Object.fromEntries(read.data.map((p: any) => [p.attributes.email, p.attributes.subscriptions.email.marketing.consent]));
    expect(consent).toEqual({ 'ann@example.com': 'SUBSCRIBED', 'carol@example.com': 'SUBSCRIBED', 'dave@example.com': 'NEVER_SUBSCRIBED', 'erin@example.com': 'SUBSCRIBED', 'bulk1@example.com': 'NEVER_SUBSCRIBED', 'bulk2@example.com': 'NEVER_SUBSCRIBED' });
    await call('GET', `/api/lists/${single}/profiles?additional-fields[profile]=subscriptions&page[size]=100`, undefined, 200);

    await call('DELETE', `/api/lists/${scratch}`, undefined, 204);
    await call('DELETE', `/api/lists/${scratch}`, undefined, 404);

    await emulator!.stop();
    recording.expectConformant({ minExchanges: 40 });
  });
});
