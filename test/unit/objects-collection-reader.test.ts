/**
 * The generic collection reader and the objects built on it, against an in-process emulator
 * serving a small account defined here (so every expected row is known): by-id reads, sparse
 * fieldsets, additional fields for on-demand columns, limits that stop paging, local filtering,
 * --since, and the per-record and per-coupon plans of Segments, Flows and CouponCodes. Every
 * exchange is checked against Klaviyo's OpenAPI spec at the end.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { KlaviyoClient } from '../../src/klaviyo/client.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { storeFromSnapshot } from '../../src/emulator/store/account-store.js';
import type { AccountSnapshot, StoredResource } from '../../src/emulator/store/types.js';
import { selectColumns } from '../../src/objects/columns.js';
import { findObject } from '../../src/objects/registry.js';
import { Profiles } from '../../src/objects/catalog/profiles.js';
import { collectionObject } from '../../src/objects/read/collection-reader.js';
import { parseWhere } from '../../src/objects/where.js';
import { sparseFieldset } from '../../src/objects/read/query.js';
import type { ObjectDefinition, ReadPlan, ReadRequest, Row } from '../../src/objects/types.js';
import { startRecording, type Recording } from '../helpers/recording.js';
import { TEST_ACCOUNT } from '../helpers/emulator-api.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const day = (n: number) => `2025-01-${String(n).padStart(2, '0')}T00:00:00+00:00`;

function profile(n: number): StoredResource {
  return {
    type: 'profile',
    id: `P${String(n).padStart(2, '0')}`,
    attributes: {
      email: `person${n}@example.com`,
      phone_number: null,
      external_id: `ext-${n}`,
      first_name: `First${n}`,
      last_name: 'Last',
      location: { city: n % 3 === 0 ? 'Boston' : 'Lisbon', country: n % 3 === 0 ? 'United States' : 'Portugal' },
      properties: { tier: n % 2 ? 'gold' : 'silver' },
      created: day(n),
      updated: day(n + 1),
      subscriptions: { email: { marketing: { consent: n === 2 ? 'UNSUBSCRIBED' : 'SUBSCRIBED' } } },
      predictive_analytics: { historic_clv: n * 10 },
    },
    relationships: {},
  };
}

function segment(n: number): StoredResource {
  return {
    type: 'segment',
    id: `SEG${String(n).padStart(2, '0')}`,
    attributes: {
      name: `Segment ${n}`,
      definition: { condition_groups: [] },
      created: day(n),
      updated: day(n),
      is_active: n % 2 === 1,
      is_processing: false,
      is_starred: n === 1,
    },
    relationships: {},
  };
}

const code = (id: string, coupon: string, status: string, profileId?: string): StoredResource => ({
  type: 'coupon-code',
  id,
  attributes: { unique_code: id.split('-')[1], expires_at: '2027-01-01T00:00:00+00:00', status },
  relationships: { coupon: { type: 'coupon', id: coupon }, ...(profileId ? { profile: { type: 'profile', id: profileId } } : {}) },
});

function fixture(): AccountSnapshot {
  return {
    account: structuredClone(TEST_ACCOUNT),
    resources: {
      profile: Array.from({ length: 12 }, (_, i) => profile(i + 1)),
      segment: Array.from({ length: 23 }, (_, i) => segment(i + 1)),
      flow: [
        { type: 'flow', id: 'FL1', attributes: { name: 'Welcome', status: 'live', archived: false, trigger_type: 'Added to List', created: day(1), updated: day(5), definition: { triggers: [], profile_filter: null, actions: [], entry_action_id: null } }, relationships: {} },
        { type: 'flow', id: 'FL2', attributes: { name: 'Winback', status: 'draft', archived: false, trigger_type: 'Metric', created: day(2), updated: day(3), definition: { triggers: [{ type: 'metric', id: 'MET1' }], profile_filter: null, actions: [], entry_action_id: null } }, relationships: {} },
      ],
      'tag-group': [{ type: 'tag-group', id: 'TG1', attributes: { name: 'Season', exclusive: true, default: false }, relationships: { tags: [{ type: 'tag', id: 'TAG1' }, { type: 'tag', id: 'TAG2' }] } }],
      tag: [
        { type: 'tag', id: 'TAG1', attributes: { name: 'Spring' }, relationships: { 'tag-group': { type: 'tag-group', id: 'TG1' } } },
        { type: 'tag', id: 'TAG2', attributes: { name: 'Summer' }, relationships: { 'tag-group': { type: 'tag-group', id: 'TG1' } } },
      ],
      coupon: [
        { type: 'coupon', id: 'TENOFF', attributes: { external_id: 'TENOFF', description: '10% off', monitor_configuration: null }, relationships: {} },
        { type: 'coupon', id: 'SHIPFREE', attributes: { external_id: 'SHIPFREE', description: 'Free shipping', monitor_configuration: { low_balance_threshold: 5 } }, relationships: {} },
      ],
      'coupon-code': [
        code('TENOFF-AAA', 'TENOFF', 'ASSIGNED_TO_PROFILE', 'P01'),
        code('TENOFF-BBB', 'TENOFF', 'UNASSIGNED'),
        code('TENOFF-CCC', 'TENOFF', 'USED', 'P02'),
        code('SHIPFREE-DDD', 'SHIPFREE', 'UNASSIGNED'),
        code('SHIPFREE-EEE', 'SHIPFREE', 'ASSIGNED_TO_PROFILE', 'P01'),
      ],
      'catalog-item': ['A', 'B', 'C'].map((x, i) => ({
        type: 'catalog-item',
        id: `$custom:::$default:::SKU-${x}`,
        attributes: {
          external_id: `SKU-${x}`,
          title: `Item ${x}`,
          description: `The item ${x}`,
          url: `https://shop.example/${x}`,
          price: 10 + i,
          image_full_url: null,
          image_thumbnail_url: null,
          images: [],
          published: i !== 1,
          custom_metadata: null,
          created: day(i + 1),
          updated: day(i + 10),
        },
        relationships: {},
      })),
    },
    listMembers: {},
    segmentMembers: { SEG01: { P01: day(2), P03: day(3) }, SEG02: { P05: day(4) } },
  };
}

let emu: RunningEmulator;
let client: KlaviyoClient;
let recording: Recording;

beforeAll(async () => {
  recording = startRecording({ setEnv: false });
  emu = await startEmulator({ store: storeFromSnapshot(fixture(), { clock: () => NOW }), rateLimits: 'off', clock: () => NOW, record: recording.file });
});

beforeEach(async () => {
  await client?.close();
  client = new KlaviyoClient({ baseUrl: emu.url, apiKey: new Secret('pk_unit_test_0123456789'), userAgent: 'klv-test', rateLimits: 'off' });
});

afterAll(async () => {
  await client?.close();
  await emu.close();
  // Every request the readers made, and every response, within Klaviyo's OpenAPI spec.
  recording.expectConformant({ minExchanges: 20 });
  recording.dispose();
});

interface Read {
  plan: ReadPlan;
  rows: Row[];
  requests: Record<string, number>;
}

async function read(object: string, o: { columns?: string[]; where?: string[]; limit?: number; since?: Date; properties?: string[] } = {}): Promise<Read> {
  const def = lookup(object);
  const request: ReadRequest = {
    columns: selectColumns(def, o.columns, { properties: o.properties }),
    where: (o.where ?? []).map((w) => parseWhere(w, def)),
    limit: o.limit,
    since: o.since,
    options: {},
  };
  const plan = def.plan(request);
  const counts = () => Object.fromEntries(Object.entries(client.stats().byOperation).map(([op, s]) => [op, s.requests]));
  const before = counts();
  const rows: Row[] = [];
  for await (const row of plan.execute(client)) rows.push(row);
  const requests: Record<string, number> = {};
  for (const [op, n] of Object.entries(counts())) if (n - (before[op] ?? 0) > 0) requests[op] = n - (before[op] ?? 0);
  return { plan, rows, requests };
}

/**
 * Profiles as the plain generic reader reads them: the catalog's Profiles may cut large reads
 * into partitions (partitioned.ts, tested on its own), which would hide what this file checks.
 */
const PlainProfiles = collectionObject(
  { ...Profiles, name: 'PlainProfiles' },
  { resourceType: 'profile', list: 'get_profiles', byId: 'get_profile', purpose: 'every profile' },
);

function lookup(name: string): ObjectDefinition {
  return name === 'plain-profiles' ? PlainProfiles : findObject(name);
}

describe('generic collection reads (Profiles without partitions, Segments)', () => {
  it("Id = '...' is one GET /api/profiles/{id}", async () => {
    const r = await read('plain-profiles', { columns: ['Id', 'Email'], where: ["Id = 'P03'"] });
    expect(r.plan.requests).toHaveLength(1);
    expect(r.plan.requests[0]).toMatchObject({ operationId: 'get_profile', path: '/api/profiles/P03', pageSize: null });
    expect(r.rows).toEqual([{ Id: 'P03', Email: 'person3@example.com' }]);
    expect(r.requests).toEqual({ get_profile: 1 });
  });

  it('an unknown id reads no row instead of failing', async () => {
    const r = await read('plain-profiles', { columns: ['Id'], where: ["Id = 'NOPE'"] });
    expect(r.rows).toEqual([]);
    expect(r.requests).toEqual({ get_profile: 1 });
  });

  it('with Id = and other conditions, the others are checked locally on the one record', async () => {
    const hit = await read('plain-profiles', { columns: ['Id'], where: ["Id = 'P03'", "City = 'Boston'"] });
    expect(hit.rows).toEqual([{ Id: 'P03' }]);
    expect(hit.plan.localConditions).toEqual([{ column: 'City', op: '=', value: 'Boston' }]);
    const miss = await read('plain-profiles', { columns: ['Id'], where: ["Id = 'P03'", "City = 'Lisbon'"] });
    expect(miss.rows).toEqual([]);
  });

  it('asks only for the selected attributes (sparse fieldsets) and outputs the columns in order', async () => {
    const r = await read('plain-profiles', { columns: ['City', 'Email'] });
    expect(r.plan.requests[0].query['fields[profile]']).toBe('email,location.city');
    expect(r.plan.requests[0].query['page[size]']).toBe('100');
    expect(r.rows).toHaveLength(12);
    expect(Object.keys(r.rows[0])).toEqual(['City', 'Email']);
    expect(r.rows[2]).toEqual({ City: 'Boston', Email: 'person3@example.com' });
  });

  it('sparse fieldsets: parents cover children, Properties.x reads properties, Id alone still names one attribute', () => {
    const p = PlainProfiles;
    expect(sparseFieldset('get_profiles', 'profile', selectColumns(p, ['Address1', 'City']))).toBe('location.address1,location.city');
    expect(sparseFieldset('get_profiles', 'profile', selectColumns(p, ['Id'], { properties: ['tier'] }))).toBe('properties');
    const idOnly = sparseFieldset('get_profiles', 'profile', selectColumns(p, ['Id']));
    expect(idOnly).toBeTruthy();
    expect(idOnly).not.toContain(',');
  });

  it('Properties.<name> columns come from custom properties', async () => {
    const r = await read('plain-profiles', { columns: ['Id'], properties: ['tier'], limit: 2 });
    expect(r.rows).toEqual([
      { Id: 'P01', 'Properties.tier': 'gold' },
      { Id: 'P02', 'Properties.tier': 'silver' },
    ]);
  });

  it('on-demand columns are read only when selected, through additional-fields', async () => {
    const plain = await read('plain-profiles', { limit: 1 });
    expect(plain.plan.requests[0].query['additional-fields[profile]']).toBeUndefined();
    expect(plain.rows[0]).not.toHaveProperty('EmailConsent');

    const r = await read('plain-profiles', { columns: ['Id', 'EmailConsent', 'PredictiveAnalytics'], where: ["Id in ('P01','P02')"] });
    expect(r.plan.requests[0].query['additional-fields[profile]']).toBe('predictive_analytics,subscriptions');
    expect(r.rows).toEqual([
      { Id: 'P01', EmailConsent: 'SUBSCRIBED', PredictiveAnalytics: { historic_clv: 10 } },
      { Id: 'P02', EmailConsent: 'UNSUBSCRIBED', PredictiveAnalytics: { historic_clv: 20 } },
    ]);
  });

  it('conditions Klaviyo cannot filter are applied locally, pushed ones are in the filter', async () => {
    const r = await read('plain-profiles', { columns: ['Id', 'City'], where: ["City = 'Boston'", "Email != 'person6@example.com'"] });
    expect(r.plan.requests[0].query.filter).toBeUndefined();
    expect(r.plan.localConditions.map((c) => c.column)).toEqual(['City', 'Email']);
    expect(r.rows.map((x) => x.Id)).toEqual(['P03', 'P09', 'P12']);
  });

  it('a widened filter (>= as greater-than one second earlier) still gives exact rows', async () => {
    // created = 2025-01-05 must be included: >= is inclusive even though Klaviyo only has >.
    const r = await read('plain-profiles', { columns: ['Id'], where: ['Created >= 2025-01-05', 'Created < 2025-01-08'] });
    expect(r.plan.requests[0].query.filter).toBe('and(greater-than(created,2025-01-04T23:59:59Z),less-than(created,2025-01-08T00:00:00Z))');
    expect(r.rows.map((x) => x.Id)).toEqual(['P05', 'P06', 'P07']);
  });

  it('--since reads the incremental column from that instant (inclusive)', async () => {
    const r = await read('plain-profiles', { columns: ['Id', 'Updated'], since: new Date('2025-01-12T00:00:00Z') });
    expect(r.plan.requests[0].query.filter).toBe('greater-than(updated,2025-01-11T23:59:59Z)');
    expect(r.rows.map((x) => x.Id)).toEqual(['P11', 'P12']);
  });

  it('--since on an object without an incremental column is a usage error', () => {
    const tags = findObject('tags');
    expect(() => tags.plan({ columns: selectColumns(tags), where: [], since: new Date(), options: {} })).toThrow(UsageError);
  });

  it('--limit stops paging early when nothing is filtered locally', async () => {
    const r = await read('segments', { columns: ['Id'], limit: 5 });
    expect(r.rows.map((x) => x.Id)).toEqual(['SEG01', 'SEG02', 'SEG03', 'SEG04', 'SEG05']);
    expect(r.requests).toEqual({ get_segments: 1 });
    const all = await read('segments', { columns: ['Id'] });
    expect(all.rows).toHaveLength(23);
    expect(all.requests).toEqual({ get_segments: 3 });
  });

  it('--limit with local conditions pages on until enough rows matched', async () => {
    // IsProcessing is never filtered by Klaviyo; Name ends-with '3' matches SEG03, SEG13, SEG23.
    const r = await read('segments', { columns: ['Id'], where: ["Name ends-with '3'"], limit: 2 });
    expect(r.rows.map((x) => x.Id)).toEqual(['SEG03', 'SEG13']);
    expect(r.requests).toEqual({ get_segments: 2 });
  });

  it('--limit 0 reads nothing', async () => {
    const r = await read('segments', { columns: ['Id'], limit: 0 });
    expect(r.rows).toEqual([]);
    expect(r.requests).toEqual({});
  });
});

describe('objects with their own plans', () => {
  it("Profiles: Email = '...' is one request with the filter pushed down", async () => {
    const r = await read('profiles', { columns: ['Id', 'Email'], where: ["Email = 'person4@example.com'"] });
    expect(r.plan.requests.map((q) => q.query.filter)).toEqual(["equals(email,'person4@example.com')"]);
    expect(r.plan.localConditions).toEqual([]);
    expect(r.rows).toEqual([{ Id: 'P04', Email: 'person4@example.com' }]);
    expect(r.requests).toEqual({ get_profiles: 1 });
  });

  it("Profiles: Id = '...' is one GET /api/profiles/{id}", async () => {
    const r = await read('profiles', { columns: ['Id'], where: ["Id = 'P04'"] });
    expect(r.plan.requests.map((q) => q.path)).toEqual(['/api/profiles/P04']);
    expect(r.requests).toEqual({ get_profile: 1 });
  });

  it('Segments.ProfileCount: the segments, then one get_segment per segment with profile_count', async () => {
    const r = await read('segments', { columns: ['Name', 'ProfileCount'], limit: 3 });
    expect(r.plan.requests.map((q) => q.operationId)).toEqual(['get_segments', 'get_segment']);
    expect(r.plan.requests[1].query['additional-fields[segment]']).toBe('profile_count');
    expect(r.rows).toEqual([
      { Name: 'Segment 1', ProfileCount: 2 },
      { Name: 'Segment 2', ProfileCount: 1 },
      { Name: 'Segment 3', ProfileCount: 0 },
    ]);
    expect(r.requests).toEqual({ get_segments: 1, get_segment: 3 });
  });

  it('Segments: a condition on ProfileCount is checked after the count is read', async () => {
    const r = await read('segments', { columns: ['Id'], where: ['ProfileCount > 0'] });
    expect(r.rows).toEqual([{ Id: 'SEG01' }, { Id: 'SEG02' }]);
    expect(r.plan.localConditions).toEqual([{ column: 'ProfileCount', op: '>', value: 0 }]);
    expect(r.requests.get_segment).toBe(23);
  });

  it("Segments: Id = '...' with ProfileCount is one request", async () => {
    const r = await read('segments', { columns: ['Id', 'ProfileCount'], where: ["Id = 'SEG01'"] });
    expect(r.rows).toEqual([{ Id: 'SEG01', ProfileCount: 2 }]);
    expect(r.requests).toEqual({ get_segment: 1 });
  });

  it('Segments: IsActive and Updated > are pushed down (Updated > checked locally too)', async () => {
    const r = await read('segments', { columns: ['Id'], where: ['IsActive = true', 'Updated > 2025-01-18'] });
    expect(r.plan.requests[0].query.filter).toBe('and(equals(is_active,true),greater-than(updated,2025-01-18T00:00:00Z))');
    expect(r.plan.localConditions.map((c) => `${c.column} ${c.op}`)).toEqual(['Updated >']);
    expect(r.rows.map((x) => x.Id)).toEqual(['SEG19', 'SEG21', 'SEG23']);
  });

  it('Flows.Definition: read per flow only when selected', async () => {
    const plain = await read('flows');
    expect(plain.rows).toHaveLength(2);
    expect(plain.rows[0]).not.toHaveProperty('Definition');
    expect(plain.requests).toEqual({ get_flows: 1 });

    const r = await read('flows', { columns: ['Id', 'Definition'], where: ["TriggerType = 'Metric'"] });
    expect(r.plan.requests[0].query.filter).toBe("and(equals(archived,false),equals(trigger_type,'Metric'))");
    expect(r.rows).toEqual([{ Id: 'FL2', Definition: { triggers: [{ type: 'metric', id: 'MET1' }], profile_filter: null, actions: [], entry_action_id: null } }]);
    expect(r.requests).toEqual({ get_flows: 1, get_flow: 1 });
  });

  it('Tags carry their tag group from include=tag-group', async () => {
    const r = await read('tags');
    expect(r.plan.requests[0].query.include).toBe('tag-group');
    expect(r.rows).toEqual([
      { Id: 'TAG1', Name: 'Spring', TagGroupId: 'TG1', TagGroupName: 'Season' },
      { Id: 'TAG2', Name: 'Summer', TagGroupId: 'TG1', TagGroupName: 'Season' },
    ]);
    const one = await read('tags', { where: ["Id = 'TAG2'"] });
    expect(one.rows).toEqual([{ Id: 'TAG2', Name: 'Summer', TagGroupId: 'TG1', TagGroupName: 'Season' }]);
  });

  it('CouponCodes without a coupon or profile filter: every coupon, then its codes', async () => {
    const r = await read('coupon-codes', { columns: ['Id', 'CouponId', 'ProfileId', 'Status'] });
    expect(r.plan.requests.map((q) => q.operationId)).toEqual(['get_coupons', 'get_coupon_codes']);
    expect(r.plan.requests[1].query.filter).toBe("equals(coupon.id,'{coupon id}')");
    expect(r.rows).toHaveLength(5);
    expect(r.rows).toContainEqual({ Id: 'TENOFF-BBB', CouponId: 'TENOFF', ProfileId: null, Status: 'UNASSIGNED' });
    expect(r.rows).toContainEqual({ Id: 'SHIPFREE-EEE', CouponId: 'SHIPFREE', ProfileId: 'P01', Status: 'ASSIGNED_TO_PROFILE' });
    expect(r.requests).toEqual({ get_coupons: 1, get_coupon_codes: 2 });
  });

  it('CouponCodes: Status is pushed into each per-coupon request; --limit stops early', async () => {
    const r = await read('coupon-codes', { columns: ['Id'], where: ["Status = 'UNASSIGNED'"], limit: 1 });
    expect(r.plan.requests[1].query.filter).toBe("and(equals(coupon.id,'{coupon id}'),equals(status,'UNASSIGNED'))");
    expect(r.rows).toHaveLength(1);
    expect(r.requests).toEqual({ get_coupons: 1, get_coupon_codes: 1 });
  });

  it("CouponCodes with CouponId = '...' is one request, filtered by Klaviyo", async () => {
    const r = await read('coupon-codes', { columns: ['UniqueCode'], where: ["CouponId = 'TENOFF'"] });
    expect(r.plan.requests).toHaveLength(1);
    expect(r.plan.requests[0].query.filter).toBe("equals(coupon.id,'TENOFF')");
    expect(r.rows.map((x) => x.UniqueCode).sort()).toEqual(['AAA', 'BBB', 'CCC']);
    expect(r.requests).toEqual({ get_coupon_codes: 1 });
  });

  it('CouponCodes by ProfileId: one request across coupons', async () => {
    const r = await read('coupon-codes', { columns: ['Id'], where: ["ProfileId in ('P01')"] });
    expect(r.plan.requests[0].query.filter).toBe("any(profile.id,['P01'])");
    expect(r.rows.map((x) => x.Id).sort()).toEqual(['SHIPFREE-EEE', 'TENOFF-AAA']);
    expect(r.requests).toEqual({ get_coupon_codes: 1 });
  });

  it('CouponCodes: CouponId != is not a scope, so every coupon is read and the condition checked locally', async () => {
    const r = await read('coupon-codes', { columns: ['Id'], where: ["CouponId != 'TENOFF'"] });
    expect(r.plan.localConditions).toEqual([{ column: 'CouponId', op: '!=', value: 'TENOFF' }]);
    expect(r.rows.map((x) => x.Id).sort()).toEqual(['SHIPFREE-DDD', 'SHIPFREE-EEE']);
  });

  it('Coupons: every coupon, JSON columns as values', async () => {
    const r = await read('coupons');
    expect(r.rows).toEqual([
      { Id: 'TENOFF', ExternalId: 'TENOFF', Description: '10% off', MonitorConfiguration: null },
      { Id: 'SHIPFREE', ExternalId: 'SHIPFREE', Description: 'Free shipping', MonitorConfiguration: { low_balance_threshold: 5 } },
    ]);
  });

  it('CatalogItems: Id in (...) is any(ids,...), Published pushed, --since (local) keeps newer items', async () => {
    const r = await read('catalog-items', { columns: ['ExternalId'], where: ["Id in ('$custom:::$default:::SKU-A','$custom:::$default:::SKU-B')", 'Published = true'] });
    expect(r.plan.requests[0].query.filter).toBe("and(any(ids,['$custom:::$default:::SKU-A','$custom:::$default:::SKU-B']),equals(published,true))");
    expect(r.rows).toEqual([{ ExternalId: 'SKU-A' }]);

    const since = await read('catalog-items', { columns: ['ExternalId'], since: new Date('2025-01-11T00:00:00Z') });
    expect(since.plan.requests[0].query.filter).toBeUndefined();
    expect(since.plan.notes.join(' ')).toMatch(/cannot filter CatalogItems by Updated/);
    expect(since.rows).toEqual([{ ExternalId: 'SKU-B' }, { ExternalId: 'SKU-C' }]);
  });
});
