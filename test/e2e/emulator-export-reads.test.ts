/**
 * The reads `klv export` makes, sent to `klv emulator` as a separate process (the built CLI, a
 * 50,000-profile demo account), recorded, and checked against Klaviyo's OpenAPI spec: every
 * request shape the exporters use (required filters, includes with sparse fieldsets of the
 * included types, additional-fields, suppression filters, time slices on created) must be one
 * Klaviyo accepts, and every answer one Klaviyo could give.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnEmulator, type EmulatorProcess } from '../helpers/emulator.js';
import { withRecording } from '../helpers/recording.js';

const HEADERS = { authorization: 'Klaviyo-API-Key pk_e2e_export_reads_0123', revision: '2026-07-15' };
const f = (filter: string) => `filter=${encodeURIComponent(filter)}`;

describe('klv emulator answers the export reads within the spec', () => {
  const recording = withRecording({ setEnv: false });
  let emulator: EmulatorProcess | undefined;
  let url = '';

  beforeAll(async () => {
    emulator = spawnEmulator(['--port', '0', '--rate-limits', 'off', '--profiles', '50000'], recording.env);
    url = await emulator.url;
  });

  afterAll(async () => {
    await emulator?.stop();
  });

  async function get(path: string): Promise<any> {
    const res = await fetch(url + path, { headers: HEADERS });
    const body = (await res.json()) as any;
    expect(res.status, `${path}: ${JSON.stringify(body.errors?.[0])}`).toBe(200);
    return body;
  }

  it('serves every export read, and the recording conforms', async () => {
    // Profiles: the bounds of created, then a time slice in created order, page after page.
    const low = await get('/api/profiles?sort=created&page[size]=1&fields[profile]=created');
    const high = await get('/api/profiles?sort=-created&page[size]=1&fields[profile]=created');
    const min = Date.parse(low.data[0].attributes.created);
    const max = Date.parse(high.data[0].attributes.created);
    expect(max).toBeGreaterThan(min);
    const to = new Date(min + (max - min) / 8).toISOString().replace(/\.\d+Z$/, 'Z');
    const from = new Date(min - 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const slice = await get(`/api/profiles?${f(`and(greater-than(created,${from}),less-than(created,${to}))`)}&sort=created&page[size]=100`);
    expect(slice.data).toHaveLength(100);
    expect(slice.data[0].id).toBe(low.data[0].id);
    const next = await get(slice.links.next.slice(url.length));
    expect(Date.parse(next.data[0].attributes.created)).toBeGreaterThanOrEqual(Date.parse(slice.data[99].attributes.created));

    // Suppressions (PeopleExclusions, ListExclusions) with the subscriptions they live in.
    const excluded = await get(`/api/profiles?${f("equals(subscriptions.email.marketing.suppression.reason,'HARD_BOUNCE')")}&additional-fields[profile]=subscriptions&page[size]=100`);
    expect(excluded.data.length).toBeGreaterThan(0);
    const lists = await get('/api/lists');
    const listId = lists.data[0].id;
    const listExcluded = await get(`/api/profiles?${f(`equals(subscriptions.email.marketing.list_suppressions.list_id,'${listId}'),greater-than(subscriptions.email.marketing.list_suppressions.timestamp,2000-01-01T00:00:00Z)`)}&additional-fields[profile]=subscriptions&page[size]=100`);
    expect(listExcluded.data.length).toBeGreaterThan(0);

    // ListMembers and ListSubscribe.
    const members = await get(`/api/lists/${listId}/profiles?page[size]=100&sort=joined_group_at`);
    expect(members.data[0].attributes.joined_group_at).toEqual(expect.any(String));
    const email = members.data[3].attributes.email;
    const one = await get(`/api/lists/${listId}/profiles?${f(`equals(email,'${email}')`)}&additional-fields[profile]=subscriptions`);
    expect(one.data.map((p: any) => p.id)).toEqual([members.data[3].id]);

    // Campaigns on every channel with their messages; events with metric name and profile email.
    for (const channel of ['email', 'sms', 'mobile_push']) {
      const campaigns = await get(`/api/campaigns?${f(`equals(messages.channel,'${channel}')`)}&include=campaign-messages`);
      expect(campaigns.data.length).toBeGreaterThan(0);
    }
    await get(`/api/campaigns?${f("equals(messages.channel,'email'),equals(archived,true)")}&include=campaign-messages`);
    const events = await get('/api/events?sort=datetime&include=metric,profile&fields[metric]=name&fields[profile]=email&page[size]=200');
    expect(events.included.length).toBeGreaterThan(0);

    // Coupons, coupon codes, the catalog.
    await get('/api/coupons');
    await get(`/api/coupon-codes?${f("any(coupon.id,['WELCOME10','VIP20'])")}&include=coupon`);
    await get('/api/catalog-items?include=variants&sort=created');
    await get(`/api/catalog-items?${f("equals(category.id,'$custom:::$default:::footwear'),equals(published,true)")}`);
    await get('/api/catalog-categories');
    await get('/api/catalog-variants');

    await emulator!.stop();
    recording.expectConformant({ minExchanges: 20 });
  });
});
