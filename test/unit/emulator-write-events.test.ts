/**
 * The emulator's event writes: bulk create (metrics by name, profiles by identifiers, unique_id
 * dedupe across requests, a repeated unique_id within one request failing it) and POST /api/events.
 */
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { DEMO_PRIVATE_KEY } from '../../src/emulator/demo-data/index.js';
import type { AccountSnapshot } from '../../src/emulator/store/types.js';
import { apiHeaders, testAccount, useFixtureEmulator } from '../helpers/emulator-api.js';

const KEY = 'pk_unit_write_events_0123';
const HEADERS = apiHeaders(KEY);
const NOW = Date.parse('2026-03-01T12:00:00Z');

function fixture(): AccountSnapshot {
  return testAccount(
    {
      profile: [
        { type: 'profile', id: 'P1', attributes: { email: 'ann@example.com', phone_number: null, external_id: 'ext-1', last_event_date: '2025-01-01T00:00:00+00:00' }, relationships: {} },
        { type: 'profile', id: 'P2', attributes: { email: 'bob@example.com', phone_number: '+15005550002', external_id: null, last_event_date: null }, relationships: {} },
      ],
      metric: [{ type: 'metric', id: 'MET1', attributes: { name: 'Placed Order', created: '2025-01-01T00:00:00+00:00', updated: '2025-01-01T00:00:00+00:00', integration: null }, relationships: {} }],
      event: [
        { type: 'event', id: 'EV1', attributes: { timestamp: 1735689600, datetime: '2025-01-01T00:00:00+00:00', event_properties: { $event_id: 'order-1' }, uuid: 'u1' }, relationships: { metric: { type: 'metric', id: 'MET1' }, profile: { type: 'profile', id: 'P1' } } },
      ],
    },
    { listMembers: {} },
  );
}

const fx = useFixtureEmulator(fixture, { key: KEY, now: NOW });
const api = fx.api;

interface Ev {
  metric: string;
  time?: string;
  unique_id?: string;
  value?: number;
  properties?: Record<string, unknown>;
}

const event = (e: Ev) => ({
  type: 'event',
  attributes: {
    properties: e.properties ?? {},
    metric: { data: { type: 'metric', attributes: { name: e.metric } } },
    ...(e.time ? { time: e.time } : {}),
    ...(e.unique_id ? { unique_id: e.unique_id } : {}),
    ...(e.value !== undefined ? { value: e.value } : {}),
  },
});

function bulk(groups: Array<{ profile: Record<string, unknown>; events: Ev[] }>) {
  return {
    data: {
      type: 'event-bulk-create-job',
      attributes: {
        'events-bulk-create': {
          data: groups.map((g) => ({ type: 'event-bulk-create', attributes: { profile: { data: { type: 'profile', attributes: g.profile } }, events: { data: g.events.map(event) } } })),
        },
      },
    },
  };
}

const events = () => [...fx.emu.store.collection('event').values()];
const metricNamed = (name: string) => fx.emu.store.collection('metric').findBy('name', name)[0];

describe('POST /api/event-bulk-create-jobs', () => {
  it('stores events (202, no body), creating missing metrics and profiles, updating last_event_date', async () => {
    const r = await api('POST', '/api/event-bulk-create-jobs', bulk([
      { profile: { email: 'ann@example.com' }, events: [{ metric: 'Placed Order', time: '2026-02-01T10:00:00Z', unique_id: 'order-2', value: 42.5, properties: { OrderId: '2' } }] },
      { profile: { email: 'new@example.com', first_name: 'New' }, events: [{ metric: 'Viewed Product', time: '2026-02-02T10:00:00Z', properties: { Sku: 'A' } }, { metric: 'Viewed Product', time: '2026-02-02T10:05:00Z' }] },
    ]));
    expect(r.status).toBe(202);
    expect(r.text).toBe('');
    expect(events()).toHaveLength(4);
    const viewed = metricNamed('Viewed Product')!;
    expect(viewed.attributes).toMatchObject({ name: 'Viewed Product', created: '2026-03-01T12:00:00+00:00', integration: { name: 'API' } });
    const created = fx.emu.store.collection('profile').findBy('email', 'new@example.com')[0]!;
    expect(created.attributes).toMatchObject({ first_name: 'New', last_event_date: '2026-02-02T10:05:00+00:00' });
    expect(fx.emu.store.collection('profile').get('P1')!.attributes.last_event_date).toBe('2026-02-01T10:00:00+00:00');

    const read = await api('GET', `/api/events?filter=${encodeURIComponent(`equals(metric_id,"${metricNamed('Placed Order')!.id}")`)}&sort=datetime`);
    expect(read.body.data.map((e: any) => e.attributes.event_properties)).toEqual([{ $event_id: 'order-1' }, { OrderId: '2', $value: 42.5, $event_id: 'order-2' }]);
    expect(read.body.data[1].attributes).toMatchObject({ timestamp: Date.parse('2026-02-01T10:00:00Z') / 1000, datetime: '2026-02-01T10:00:00+00:00' });
    expect(read.body.data[1].attributes.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('never stores an event twice: same profile, metric and unique_id (or second, without one) is skipped', async () => {
    const body = bulk([{ profile: { external_id: 'ext-1' }, events: [{ metric: 'Placed Order', unique_id: 'order-1' }, { metric: 'Placed Order', time: '2026-02-01T00:00:00Z' }] }]);
    expect((await api('POST', '/api/event-bulk-create-jobs', body)).status).toBe(202);
    expect(events()).toHaveLength(2);
    expect((await api('POST', '/api/event-bulk-create-jobs', body)).status).toBe(202);
    expect(events()).toHaveLength(2);
    // The same unique id for another metric or another profile is another event.
    await api('POST', '/api/event-bulk-create-jobs', bulk([{ profile: { email: 'bob@example.com' }, events: [{ metric: 'Placed Order', unique_id: 'order-1' }] }, { profile: { email: 'ann@example.com' }, events: [{ metric: 'Refunded Order', unique_id: 'order-1' }] }]));
    expect(events()).toHaveLength(4);
  });

  it('fails the whole request when a unique_id repeats for the same profile and metric', async () => {
    const r = await api('POST', '/api/event-bulk-create-jobs', bulk([
      { profile: { email: 'bob@example.com' }, events: [{ metric: 'Placed Order', unique_id: 'x' }] },
      { profile: { phone_number: '+15005550002' }, events: [{ metric: 'Placed Order', unique_id: 'y' }, { metric: 'Placed Order', unique_id: 'x' }] },
    ]));
    expect(r.status).toBe(400);
    expect(r.body.errors[0]).toMatchObject({ code: 'invalid', source: { pointer: '/data/attributes/events-bulk-create/data/1/attributes/events/data/1/attributes/unique_id' } });
    expect(r.body.errors[0].detail).toMatch(/repeated for the same profile and metric/);
    expect(events()).toHaveLength(1);
  });

  it('refuses bad profiles and events with a pointer each, storing nothing', async () => {
    const r = await api('POST', '/api/event-bulk-create-jobs', bulk([
      { profile: { email: 'bad-email' }, events: [{ metric: 'M' }] },
      { profile: { first_name: 'anonymous?' }, events: [{ metric: 'M' }] },
      { profile: { email: 'ok@example.com' }, events: [{ metric: 'x'.repeat(129) }, { metric: 'M', time: '1980-01-01T00:00:00Z' }] },
      { profile: { email: 'ann@example.com', phone_number: '+15005550002' }, events: [{ metric: 'M' }] },
    ]));
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: any) => e.source.pointer)).toEqual([
      '/data/attributes/events-bulk-create/data/0/attributes/profile/data/attributes/email',
      '/data/attributes/events-bulk-create/data/1/attributes/profile/data/attributes',
      '/data/attributes/events-bulk-create/data/2/attributes/events/data/0/attributes/metric/data/attributes/name',
      '/data/attributes/events-bulk-create/data/2/attributes/events/data/1/attributes/time',
      '/data/attributes/events-bulk-create/data/3/attributes/profile/data/attributes/phone_number',
    ]);
    expect(r.body.errors[4]).toMatchObject({ code: 'duplicate_profile', meta: { duplicate_profile_id: 'P2' } });
    expect(events()).toHaveLength(1);
    expect(fx.emu.store.collection('profile').findBy('email', 'ok@example.com')).toEqual([]);
  });

  it('takes at most 1,000 events a request', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => ({ metric: 'M', unique_id: `u${i}` }));
    const r = await api('POST', '/api/event-bulk-create-jobs', bulk([{ profile: { email: 'ann@example.com' }, events: many }]));
    expect(r.status).toBe(400);
    expect(r.body.errors[0].detail).toMatch(/1001 events .* at most 1000/);
    expect((await api('POST', '/api/event-bulk-create-jobs', bulk([{ profile: { email: 'ann@example.com' }, events: many.slice(1) }]))).status).toBe(202);
    expect(events()).toHaveLength(1001);
  });
});

describe('POST /api/events', () => {
  const one = (profile: Record<string, unknown>, e: Ev) => ({ data: { type: 'event', attributes: { ...event(e).attributes, profile: { data: { type: 'profile', attributes: profile } } } } });

  it('stores one event (202) and skips a repeat', async () => {
    const body = one({ email: 'bob@example.com' }, { metric: 'Placed Order', unique_id: 'solo', value: 5 });
    expect((await api('POST', '/api/events', body)).status).toBe(202);
    expect((await api('POST', '/api/events', body)).status).toBe(202);
    expect(events()).toHaveLength(2);
  });

  it('refuses an event without properties (the spec requires them)', async () => {
    const body = one({ email: 'bob@example.com' }, { metric: 'M' }) as any;
    delete body.data.attributes.properties;
    const r = await api('POST', '/api/events', body);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].source.pointer).toBe('/data/attributes/properties');
  });

  it('dedupes against the demo account\'s own events (by $event_id, else by second)', async () => {
    const demo = await startEmulator({ data: 'demo', profiles: 300, rateLimits: 'off', key: DEMO_PRIVATE_KEY });
    try {
      const headers = { ...HEADERS, authorization: `Klaviyo-API-Key ${DEMO_PRIVATE_KEY}` };
      const all = [...demo.store.collection('event').values()];
      const withId = all.find((e) => typeof (e.attributes.event_properties as any).$event_id === 'string')!;
      const withoutId = all.find((e) => (e.attributes.event_properties as any).$event_id === undefined)!;
      const before = all.length;
      for (const [e, uniqueId] of [[withId, (withId.attributes.event_properties as any).$event_id], [withoutId, undefined]] as const) {
        const profileId = (e.relationships.profile as { id: string }).id;
        const email = demo.store.collection('profile').get(profileId)!.attributes.email as string;
        const metric = demo.store.collection('metric').get((e.relationships.metric as { id: string }).id)!.attributes.name as string;
        // A different time for the one with an id: the id alone decides.
        const time = uniqueId ? '2026-01-01T00:00:00Z' : String(e.attributes.datetime);
        expect((await api('POST', '/api/events', one({ email }, { metric, time, unique_id: uniqueId }), demo.url, headers)).status).toBe(202);
      }
      expect(demo.store.collection('event').count()).toBe(before);
    } finally {
      await demo.close();
    }
  });
});
