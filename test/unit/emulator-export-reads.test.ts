/**
 * The reads `klv export` makes, against the demo account over real loopback HTTP: coupons and
 * their codes (with the filter the spec requires), the catalog's filters, campaigns on every
 * channel with their messages' templates, events with their metric and profile, and profiles
 * read as concurrent time slices on `created`. Each answer is compared with what the store
 * holds, and the slices must add up to every profile exactly once. A last part counts how many
 * profiles a request generates, so that "cheap" is checked without timing anything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { createStore, emptyAccount } from '../../src/emulator/store/account-store.js';
import { LazyCollection, type LazySource } from '../../src/emulator/store/lazy-collection.js';
import type { ResourceIdentifier, StoredResource } from '../../src/emulator/store/types.js';

const NOW = new Date('2026-07-20T12:00:00Z');
const HEADERS = { authorization: 'Klaviyo-API-Key pk_unit_export_reads_0123', revision: '2026-07-15' };
const f = (filter: string) => `filter=${encodeURIComponent(filter)}`;

async function get(base: string, path: string) {
  const res = await fetch(path.startsWith('http') ? path : base + path, { headers: HEADERS });
  return { status: res.status, body: (await res.json()) as any };
}

/** Every page of a request, following links.next. */
async function all(base: string, path: string): Promise<any[]> {
  const out: any[] = [];
  let url: string | undefined = path;
  while (url) {
    const r = await get(base, url);
    expect(r.status, JSON.stringify(r.body.errors?.[0])).toBe(200);
    out.push(...r.body.data);
    url = r.body.links.next;
  }
  return out;
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

describe('export reads against the demo account', () => {
  let emu: RunningEmulator;
  const api = (path: string) => get(emu.url, path);
  const stored = (type: string): StoredResource[] => [...emu.store.collection(type).values()];

  beforeAll(async () => {
    emu = await startEmulator({ data: 'demo', profiles: 3000, rateLimits: 'off', clock: () => NOW });
  });
  afterAll(() => emu.close());

  it('lists coupon codes only for a coupon or a profile, as the spec requires', async () => {
    const refused = await api('/api/coupon-codes');
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0].detail).toMatch(/requires a filter on 'coupon\.id' or 'profile\.id'/);
    expect((await api(`/api/coupon-codes?${f("equals(status,'USED')")}`)).status).toBe(400);

    const vip = await all(emu.url, `/api/coupon-codes?${f("equals(coupon.id,'VIP20')")}&include=coupon&page[size]=7`);
    expect(vip.map((c) => c.id)).toEqual(stored('coupon-code').filter((c) => (c.relationships.coupon as ResourceIdentifier).id === 'VIP20').map((c) => c.id));
    const first = await api(`/api/coupon-codes?${f("any(coupon.id,['VIP20','SPRING15']),equals(status,'USED')")}&include=coupon`);
    expect(first.body.data.length).toBeGreaterThan(0);
    for (const code of first.body.data) expect(code.attributes.status).toBe('USED');
    expect(first.body.included.map((c: any) => c.id).sort()).toEqual(expect.arrayContaining([first.body.data[0].relationships.coupon.data.id]));

    const assigned = stored('coupon-code').find((c) => c.relationships.profile !== null)!;
    const profileId = (assigned.relationships.profile as ResourceIdentifier).id;
    const mine = await all(emu.url, `/api/coupon-codes?${f(`equals(profile.id,'${profileId}')`)}`);
    expect(mine.map((c) => c.id)).toEqual(stored('coupon-code').filter((c) => (c.relationships.profile as ResourceIdentifier | null)?.id === profileId).map((c) => c.id));
    expect(mine[0].relationships.profile.data).toEqual({ type: 'profile', id: profileId });

    const cutoff = NOW.getTime() - 30 * 86_400_000;
    const expiring = await all(emu.url, `/api/coupon-codes?${f(`equals(coupon.id,'WELCOME10'),less-than(expires_at,${iso(cutoff)})`)}`);
    expect(expiring.length).toBeGreaterThan(0);
    for (const code of expiring) expect(Date.parse(code.attributes.expires_at)).toBeLessThan(cutoff);
    expect((await all(emu.url, '/api/coupons')).map((c) => c.id)).toEqual(['WELCOME10', 'SPRING15', 'VIP20', 'WINBACK15']);
    expect((await all(emu.url, '/api/coupons/VIP20/coupon-codes')).map((c) => c.id)).toEqual(vip.map((c) => c.id));
  });

  it('serves the catalog with its filters: ids, category, title, published, items of a category', async () => {
    const ids = async (path: string) => (await all(emu.url, path)).map((r) => r.id);
    const items = stored('catalog-item');
    expect(await ids('/api/catalog-items?page[size]=5')).toEqual(items.map((i) => i.id));
    const footwear = '$custom:::$default:::footwear';
    expect(await ids(`/api/catalog-items?${f(`equals(category.id,'${footwear}')`)}`)).toEqual(
      (emu.store.collection('catalog-category').get(footwear)!.relationships.items as ResourceIdentifier[]).map((r) => r.id),
    );
    expect(await ids(`/api/catalog-items?${f("contains(title,'Wool')")}`)).toEqual(items.filter((i) => (i.attributes.title as string).includes('Wool')).map((i) => i.id));
    expect(await ids(`/api/catalog-items?${f('equals(published,false)')}`)).toEqual(items.filter((i) => i.attributes.published === false).map((i) => i.id));
    const two = [items[3]!.id, items[0]!.id];
    expect(await ids(`/api/catalog-items?${f(`any(ids,['${two[0]}','${two[1]}','$custom:::$default:::nope'])`)}`)).toEqual(two);
    const item = items[15]!;
    const categoriesOfItem = await ids(`/api/catalog-items/${encodeURIComponent(item.id)}/categories`);
    expect(categoriesOfItem.length).toBeGreaterThanOrEqual(2);
    expect(await ids(`/api/catalog-categories?${f(`equals(item.id,'${item.id}')`)}`)).toEqual(categoriesOfItem);
    const withVariants = await api(`/api/catalog-items/${encodeURIComponent(item.id)}?include=variants`);
    expect(withVariants.body.included.map((v: any) => v.id)).toEqual((item.relationships.variants as ResourceIdentifier[]).map((r) => r.id));
    expect(await ids(`/api/catalog-variants?${f(`equals(item.id,'${item.id}')`)}`)).toEqual((item.relationships.variants as ResourceIdentifier[]).map((r) => r.id));
    expect((await api(`/api/catalog-items?${f("equals(title,'x')")}`)).status).toBe(400);
  });

  it('lists 25 campaigns over the three channels, 5 more archived, each email message with its template', async () => {
    const listed = new Map<string, any>();
    const archived: string[] = [];
    for (const channel of ['email', 'sms', 'mobile_push']) {
      const page = await api(`/api/campaigns?${f(`equals(messages.channel,'${channel}')`)}&include=campaign-messages`);
      expect(page.status).toBe(200);
      for (const c of page.body.data) listed.set(c.id, c);
      for (const m of page.body.included) {
        expect(m.type).toBe('campaign-message');
        expect(m.attributes.definition.channel).toBe(channel);
        if (channel === 'email') {
          expect(m.relationships.template.data).toEqual({ type: 'template', id: expect.any(String) });
          expect(emu.store.collection('template').get(m.relationships.template.data.id)).toBeDefined();
        } else {
          expect(m.relationships.template.data).toBeUndefined();
        }
      }
      const old = await api(`/api/campaigns?${f(`equals(messages.channel,'${channel}'),equals(archived,true)`)}`);
      archived.push(...old.body.data.map((c: any) => c.id));
    }
    expect(listed.size).toBe(25);
    expect([...listed.values()].every((c) => c.attributes.archived === false)).toBe(true);
    expect(archived).toHaveLength(5);
    expect(new Set([...listed.keys(), ...archived])).toEqual(new Set(stored('campaign').map((c) => c.id)));
  });

  it('reads events with their metric name and profile email, by datetime range and metric, sorted by datetime', async () => {
    const events = stored('event');
    const from = Date.parse(events[Math.floor(events.length / 3)]!.attributes.datetime as string);
    const to = Date.parse(events[Math.floor((2 * events.length) / 3)]!.attributes.datetime as string);
    const metricId = (events[0]!.relationships.metric as ResourceIdentifier).id;
    const query = `${f(`greater-or-equal(datetime,${iso(from)}),less-than(datetime,${iso(to)}),equals(metric_id,'${metricId}')`)}&sort=datetime&include=metric,profile&fields[metric]=name&fields[profile]=email&page[size]=50`;
    const pages: any[] = [];
    let url: string | undefined = `/api/events?${query}`;
    while (url) {
      const r = await api(url);
      pages.push(r.body);
      url = r.body.links.next;
    }
    const got = pages.flatMap((p) => p.data);
    const expected = events.filter((e) => {
      const ms = Date.parse(e.attributes.datetime as string);
      return ms >= from && ms < to && (e.relationships.metric as ResourceIdentifier).id === metricId;
    });
    expect(got.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    for (const page of pages) {
      for (const inc of page.included) {
        if (inc.type === 'metric') expect(inc.attributes).toEqual({ name: expect.any(String) });
        else expect(inc.attributes).toEqual({ email: expect.any(String) });
      }
      for (const e of page.data) expect(page.included.some((i: any) => i.type === 'profile' && i.id === e.relationships.profile.data.id)).toBe(true);
    }
    const byProfile = (events[10]!.relationships.profile as ResourceIdentifier).id;
    expect((await all(emu.url, `/api/events?${f(`equals(profile_id,'${byProfile}')`)}&sort=-datetime`)).map((e) => e.id)).toEqual(
      events.filter((e) => (e.relationships.profile as ResourceIdentifier).id === byProfile).map((e) => e.id).reverse(),
    );
  });

  it('serves profiles as concurrent time slices on created: every profile exactly once, each slice in created order', async () => {
    const profiles = stored('profile');
    const first = await api('/api/profiles?sort=created&page[size]=1&fields[profile]=created');
    const last = await api('/api/profiles?sort=-created&page[size]=1&fields[profile]=created');
    const created = profiles.map((p) => Date.parse(p.attributes.created as string));
    expect(first.body.data[0].id).toBe(profiles[created.indexOf(Math.min(...created))]!.id);
    expect(last.body.data[0].id).toBe(profiles[created.lastIndexOf(Math.max(...created))]!.id);
    const min = Date.parse(first.body.data[0].attributes.created);
    const max = Date.parse(last.body.data[0].attributes.created);

    // Seven slices (greater-than and less-than are all Klaviyo allows on created), read round robin.
    const slices = 7;
    const step = Math.ceil((max - min + 2000) / slices / 1000) * 1000;
    const cursors: Array<string | undefined> = [];
    for (let k = 0; k < slices; k++) {
      const a = min - 1000 + k * step;
      const filter = `and(greater-than(created,${iso(a - 1000)}),less-than(created,${iso(a + step)}))`;
      cursors.push(`/api/profiles?${f(filter)}&sort=created&page[size]=100&fields[profile]=created`);
    }
    const seen = new Map<string, number>();
    const perSlice: number[][] = Array.from({ length: slices }, () => []);
    let round = 0;
    while (cursors.some((c) => c !== undefined)) {
      for (let k = 0; k < slices; k++) {
        const url = cursors[k];
        if (!url) continue;
        let r = await api(url);
        // Now and then ask for the same page twice: the second time no iterator waits for it.
        if ((round + k) % 3 === 0) r = await api(url);
        expect(r.status).toBe(200);
        for (const p of r.body.data) {
          seen.set(p.id, (seen.get(p.id) ?? 0) + 1);
          perSlice[k]!.push(Date.parse(p.attributes.created));
        }
        cursors[k] = r.body.links.next;
      }
      round++;
    }
    expect(seen.size).toBe(profiles.length);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    for (const times of perSlice) expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('answers indexed sorts and ranges exactly as a scan would: updated, descending, with other conditions', async () => {
    const profiles = stored('profile');
    const updated = (p: StoredResource) => Date.parse(p.attributes.updated as string);
    const cut = updated(profiles[1234]!);
    const desc = await all(emu.url, `/api/profiles?${f(`greater-than(updated,${iso(cut)})`)}&sort=-updated&page[size]=100&fields[profile]=updated`);
    const expected = profiles
      .map((p, i) => ({ p, i }))
      .filter(({ p }) => updated(p) > cut)
      .sort((a, b) => updated(b.p) - updated(a.p) || a.i - b.i)
      .map(({ p }) => p.id);
    expect(desc.map((p) => p.id)).toEqual(expected);

    // A range without sort keeps creation order.
    const created = (p: StoredResource) => Date.parse(p.attributes.created as string);
    const lo = created(profiles[500]!);
    const hi = created(profiles[900]!);
    const window = await all(emu.url, `/api/profiles?${f(`greater-than(created,${iso(lo)}),less-than(created,${iso(hi)})`)}&page[size]=100`);
    expect(window.map((p) => p.id)).toEqual(profiles.filter((p) => created(p) > lo && created(p) < hi).map((p) => p.id));

    // A range and a condition on something else: the index narrows, the filter still decides.
    const suppressed = await all(emu.url, `/api/profiles?${f(`greater-than(created,${iso(lo)}),equals(subscriptions.email.marketing.suppression.reason,'UNSUBSCRIBE')`)}&sort=created&page[size]=20`);
    const unsubscribed = profiles.filter((p) => created(p) > lo && ((p.attributes.subscriptions as any).email.marketing.suppression as any[]).some((s) => s.reason === 'UNSUBSCRIBE'));
    expect(suppressed.map((p) => p.id)).toEqual(unsubscribed.map((p) => p.id));
    expect(suppressed.length).toBeGreaterThan(20);

    // An email pins one profile even with a sort.
    const email = profiles[42]!.attributes.email as string;
    expect((await all(emu.url, `/api/profiles?${f(`equals(email,'${email}')`)}&sort=-created`)).map((p) => p.id)).toEqual([profiles[42]!.id]);
  });

  it('finds a list member by email without walking the list', async () => {
    const [listId, members] = [...emu.store.listMembers][0]!;
    const memberId = [...members.keys()][17]!;
    const email = emu.store.collection('profile').get(memberId)!.attributes.email as string;
    const r = await api(`/api/lists/${listId}/profiles?${f(`equals(email,'${email}')`)}&additional-fields[profile]=subscriptions`);
    expect(r.body.data.map((p: any) => p.id)).toEqual([memberId]);
    expect(r.body.data[0].attributes.joined_group_at).toBe(members.get(memberId));
    expect(r.body.data[0].attributes.subscriptions.email.marketing.consent).toEqual(expect.any(String));
  });
});

describe('filtered and sorted profile pages generate only the profiles they return', () => {
  const SIZE = 20_000;
  const START = Date.UTC(2024, 0, 1);
  let generated = 0;
  const source: LazySource = {
    type: 'profile',
    size: SIZE,
    generate(i) {
      generated++;
      return {
        type: 'profile',
        id: `P${String(i).padStart(6, '0')}`,
        attributes: { email: `p${i}@example.com`, created: iso(START + i * 60_000).replace('Z', '+00:00'), updated: iso(START + i * 60_000).replace('Z', '+00:00') },
        relationships: {},
      };
    },
    idAt: (i) => `P${String(i).padStart(6, '0')}`,
    indexOf: (id) => (/^P\d{6}$/.test(id) && Number(id.slice(1)) < SIZE ? Number(id.slice(1)) : undefined),
    candidates: () => undefined,
    keyAt: (attribute, i) => (attribute === 'created' ? START + i * 60_000 : undefined),
  };
  let emu: RunningEmulator;
  beforeAll(async () => {
    const store = createStore({ account: emptyAccount(), collections: [new LazyCollection(source)] }, { clock: () => NOW });
    emu = await startEmulator({ store, rateLimits: 'off', clock: () => NOW });
  });
  afterAll(() => emu.close());

  /** Profiles generated while serving `path`. */
  async function cost(path: string): Promise<{ generated: number; body: any }> {
    generated = 0;
    const r = await get(emu.url, path);
    expect(r.status).toBe(200);
    return { generated, body: r.body };
  }

  it('finds the bounds with page[size]=1 from the index, in both directions', async () => {
    const low = await cost('/api/profiles?sort=created&page[size]=1');
    expect(low.body.data[0].id).toBe('P000000');
    expect(low.generated).toBeLessThanOrEqual(2);
    const high = await cost('/api/profiles?sort=-created&page[size]=1');
    expect(high.body.data[0].id).toBe(`P0${SIZE - 1}`);
    expect(high.generated).toBeLessThanOrEqual(2);
  });

  it('serves a time slice page by page, including a page whose cursor has no cached iterator', async () => {
    const filter = `and(greater-than(created,${iso(START + 5000 * 60_000)}),less-than(created,${iso(START + 6000 * 60_000)}))`;
    const first = await cost(`/api/profiles?${f(filter)}&sort=created&page[size]=100`);
    expect(first.body.data[0].id).toBe('P005001');
    expect(first.generated).toBeLessThanOrEqual(101);
    const next = first.body.links.next as string;
    const second = await cost(next);
    expect(second.body.data[0].id).toBe('P005101');
    expect(second.generated).toBeLessThanOrEqual(101);
    // The iterator for `next` was used up: asking again seeks by arithmetic on the index.
    const again = await cost(next);
    expect(again.body.data.map((p: any) => p.id)).toEqual(second.body.data.map((p: any) => p.id));
    expect(again.generated).toBeLessThanOrEqual(101);
    const descending = await cost(`/api/profiles?${f(filter)}&sort=-created&page[size]=100`);
    expect(descending.body.data[0].id).toBe('P005999');
    expect(descending.generated).toBeLessThanOrEqual(101);
  });
});
