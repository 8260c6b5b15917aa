/**
 * The account store: Map-backed collections and their indexes, deterministic ids, snapshot
 * validation, and the lazily generated 1,000,000-profile demo store staying consistent under writes.
 */
import { describe, expect, it } from 'vitest';
import { createDemoStore } from '../../src/emulator/demo-data/index.js';
import { SnapshotError, createEmptyStore, snapshotOf, storeFromSnapshot } from '../../src/emulator/store/account-store.js';
import { MapCollection } from '../../src/emulator/store/map-collection.js';
import type { AccountSnapshot, StoredResource } from '../../src/emulator/store/types.js';

const NOW = new Date('2026-08-01T12:00:00Z');
const clock = () => NOW;

const profile = (id: string, attributes: Record<string, unknown>): StoredResource => ({ type: 'profile', id, attributes, relationships: {} });

describe('MapCollection', () => {
  it('keeps creation order and answers indexed lookups through updates and deletes', () => {
    const c = new MapCollection('profile');
    c.insert(profile('b', { email: 'x@example.com' }));
    c.insert(profile('a', { email: 'y@example.com', external_id: 'E1' }));
    expect([...c.values()].map((r) => r.id)).toEqual(['b', 'a']);
    expect(c.findBy('email', 'y@example.com').map((r) => r.id)).toEqual(['a']);

    const updated = c.update('a', { attributes: { email: 'z@example.com' } })!;
    expect(updated.attributes).toEqual({ email: 'z@example.com', external_id: 'E1' });
    expect(c.findBy('email', 'y@example.com')).toEqual([]);
    expect(c.findBy('email', 'z@example.com').map((r) => r.id)).toEqual(['a']);
    expect([...c.values()].map((r) => r.id)).toEqual(['b', 'a']);

    expect(c.delete('a')).toBe(true);
    expect(c.delete('a')).toBe(false);
    expect(c.findBy('external_id', 'E1')).toEqual([]);
    expect(c.count()).toBe(1);
  });

  it('finds by attributes it does not index, by scanning', () => {
    const c = new MapCollection('profile', [profile('a', { first_name: 'Ann' }), profile('b', { first_name: 'Bo' })]);
    expect(c.findBy('first_name', 'Bo').map((r) => r.id)).toEqual(['b']);
  });

  it('refuses a duplicate id or a resource of another type', () => {
    const c = new MapCollection('profile', [profile('a', {})]);
    expect(() => c.insert(profile('a', {}))).toThrow(/already exists/);
    expect(() => c.insert({ type: 'list', id: 'L', attributes: {}, relationships: {} })).toThrow(/Cannot insert a list/);
  });

  it('returns undefined when updating a resource that does not exist', () => {
    expect(new MapCollection('list').update('nope', { attributes: { name: 'x' } })).toBeUndefined();
  });
});

describe('ids', () => {
  it('hands out Klaviyo-shaped ids', () => {
    const store = createEmptyStore({ clock });
    expect(store.newId('profile')).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(store.newId('campaign').slice(0, 10)).toBe(store.newId('profile').slice(0, 10)); // same clock, same time prefix
    expect(store.newId('list')).toMatch(/^[A-Za-z0-9]{6}$/);
    expect(store.newId('template')).toMatch(/^[A-Za-z0-9]{6}$/);
    expect(store.newId('event')).toMatch(/^[A-Za-z0-9]{11}$/);
    expect(store.newId('tag')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('gives the same ids for the same seed and clock, and other ids for another seed', () => {
    const ids = (seed: number) => {
      const store = createEmptyStore({ seed, clock });
      return ['profile', 'list', 'event', 'tag'].map((t) => store.newId(t));
    };
    expect(ids(1)).toEqual(ids(1));
    expect(ids(2)).not.toEqual(ids(1));
  });
});

describe('empty store', () => {
  it('has the core collections, empty, and an account', () => {
    const store = createEmptyStore({ clock });
    expect(store.types()).toEqual(expect.arrayContaining(['profile', 'list', 'segment', 'metric', 'event', 'template', 'campaign', 'campaign-message', 'flow', 'tag', 'tag-group']));
    for (const type of store.types()) expect(store.collection(type).count()).toBe(0);
    expect(store.account.attributes.public_api_key).toBe(store.account.id);
    expect(store.now()).toEqual(NOW);
    expect(store.collection('coupon').count()).toBe(0);
    expect(store.types()).toContain('coupon');
  });
});

describe('snapshot validation', () => {
  const valid = (): AccountSnapshot => ({
    account: { type: 'account', id: 'AbC123', attributes: {}, relationships: {} },
    resources: {
      profile: [profile('P1', { email: 'a@example.com' })],
      list: [{ type: 'list', id: 'L1', attributes: { name: 'Newsletter' }, relationships: {} }],
    },
    listMembers: { L1: { P1: '2026-01-01T00:00:00+00:00' } },
    segmentMembers: {},
  });

  it('accepts a valid snapshot and gives every list a member map', () => {
    const s = valid();
    s.resources.list!.push({ type: 'list', id: 'L2', attributes: {}, relationships: {} });
    const store = storeFromSnapshot(s);
    expect(store.listMembers.get('L1')!.get('P1')).toBe('2026-01-01T00:00:00+00:00');
    expect(store.listMembers.get('L2')!.size).toBe(0);
    expect(snapshotOf(store).listMembers).toEqual({ L1: { P1: '2026-01-01T00:00:00+00:00' }, L2: {} });
  });

  const broken: [string, (s: any) => void, RegExp][] = [
    ['a missing account', (s) => delete s.account, /account must be an object/],
    ['a resource under the wrong type', (s) => (s.resources.list[0].type = 'segment'), /resources\["list"\]\[0\]\.type must be "list"/],
    ['a repeated id', (s) => s.resources.profile.push(profile('P1', {})), /resources\["profile"\]\[1\]\.id repeats the profile id "P1"/],
    ['attributes that are not an object', (s) => (s.resources.profile[0].attributes = 'x'), /resources\["profile"\]\[0\]\.attributes must be an object/],
    ['a bad relationship', (s) => (s.resources.profile[0].relationships = { lists: [{ id: 'L1' }] }), /relationships\["lists"\]\[0\] must be a resource identifier/],
    ['a member of an unknown list', (s) => (s.listMembers.L9 = {}), /listMembers\["L9"\] names no list/],
    ['an unknown member profile', (s) => (s.listMembers.L1.P9 = '2026-01-01T00:00:00Z'), /listMembers\["L1"\]\["P9"\] names no profile/],
    ['a bad joined time', (s) => (s.listMembers.L1.P1 = 'yesterday'), /must be an ISO 8601 joined_group_at time/],
    ['resources that are not arrays', (s) => (s.resources.profile = {}), /resources\["profile"\] must be an array/],
  ];
  for (const [what, breakIt, message] of broken) {
    it(`rejects ${what} with a message naming it`, () => {
      const s = valid();
      breakIt(s);
      expect(() => storeFromSnapshot(s)).toThrow(SnapshotError);
      expect(() => storeFromSnapshot(s)).toThrow(message);
    });
  }

  it('rejects something that is not an object at all', () => {
    expect(() => storeFromSnapshot([] as unknown as AccountSnapshot)).toThrow(/must be a JSON object, got an array/);
  });
});

describe('lazy demo store with 1,000,000 profiles', () => {
  const store = createDemoStore({ profiles: 1_000_000, clock });
  const profiles = store.collection('profile');
  const newsletterId = [...store.collection('list').values()].find((l) => l.attributes.name === 'Newsletter')!.id;
  const newsletter = store.listMembers.get(newsletterId)!;

  // One pass over the generated profiles picks the ones the tests below work on.
  const picked = new Map<number, StoredResource>();
  const wanted = new Set([42, 123_456, ...Array.from({ length: 20 }, (_, k) => 900_000 + k), 999_000]);
  let index = 0;
  for (const p of profiles.values()) {
    if (wanted.has(index)) picked.set(index, p);
    if (++index > 999_000) break;
  }
  const nth = (i: number) => picked.get(i)!;

  it('counts and looks up generated profiles by id, email, phone and external id', () => {
    expect(profiles.count()).toBe(1_000_000);
    for (const attribute of ['email', 'phone_number', 'external_id']) {
      const holder = [...picked.values()].find((p) => p.attributes[attribute] !== null);
      expect(holder, `a picked profile with ${attribute}`).toBeDefined();
      expect(profiles.findBy(attribute, holder!.attributes[attribute])).toEqual([holder]);
      expect(profiles.get(holder!.id)).toEqual(holder);
    }
    expect(profiles.findBy('email', nth(999_000).attributes.email)).toEqual([nth(999_000)]);
    expect(profiles.findBy('email', 'nobody999999999@example.com')).toEqual([]);
    expect(profiles.findBy('email', nth(42).attributes.email + '.uk')).toEqual([]);
    expect(profiles.get('01ZZZZZZZZZZZZZZZZZZZZZZZZ')).toBeUndefined();
  });

  it('updates a generated profile and re-indexes it', () => {
    const target = nth(123_456);
    const oldEmail = target.attributes.email;
    const updated = profiles.update(target.id, { attributes: { email: 'renamed@example.com', first_name: 'Renamed' } })!;
    expect(updated.attributes).toMatchObject({ email: 'renamed@example.com', first_name: 'Renamed', last_name: target.attributes.last_name });
    expect(profiles.get(target.id)).toEqual(updated);
    expect(profiles.findBy('email', oldEmail)).toEqual([]);
    expect(profiles.findBy('email', 'renamed@example.com').map((p) => p.id)).toEqual([target.id]);
    profiles.update(target.id, { attributes: { email: 'renamed-again@example.com' } });
    expect(profiles.findBy('email', 'renamed@example.com')).toEqual([]);
    expect(profiles.get(target.id)!.attributes.first_name).toBe('Renamed');
    expect(profiles.count()).toBe(1_000_000);
  });

  it('inserts new profiles after the generated ones, and refuses a generated id', () => {
    const id = store.newId('profile');
    profiles.insert(profile(id, { email: 'new.person@example.com', phone_number: '+15005550006' }));
    expect(profiles.count()).toBe(1_000_001);
    expect(profiles.get(id)!.attributes.email).toBe('new.person@example.com');
    expect(profiles.findBy('phone_number', '+15005550006').map((p) => p.id)).toEqual([id]);
    const generated = nth(42);
    expect(() => profiles.insert(profile(generated.id, {}))).toThrow(/already exists/);
    expect(profiles.delete(id)).toBe(true);
    expect(profiles.count()).toBe(1_000_000);
  });

  it('deletes a generated profile everywhere: get, findBy, count and list membership', () => {
    const member = firstMemberAfter(newsletter, 500_000);
    const p = profiles.get(member)!;
    const sizeBefore = newsletter.size;
    expect(profiles.delete(member)).toBe(true);
    expect(profiles.delete(member)).toBe(false);
    expect(profiles.get(member)).toBeUndefined();
    expect(profiles.findBy('email', p.attributes.email)).toEqual([]);
    expect(profiles.update(member, { attributes: { first_name: 'Ghost' } })).toBeUndefined();
    expect(profiles.count()).toBe(999_999);
    expect(newsletter.has(member)).toBe(false);
    expect(newsletter.size).toBe(sizeBefore - 1);
  });

  it('keeps list membership a Map that follows adds, removals and new join times', () => {
    const sizeBefore = newsletter.size;
    const member = firstMemberAfter(newsletter, 600_000);
    expect(newsletter.delete(member)).toBe(true);
    expect(newsletter.has(member)).toBe(false);
    expect(newsletter.size).toBe(sizeBefore - 1);

    const newcomer = store.newId('profile');
    profiles.insert(profile(newcomer, { email: 'joiner@example.com' }));
    newsletter.set(newcomer, '2026-07-31T00:00:00+00:00');
    newsletter.set(member, '2026-07-30T00:00:00+00:00');
    expect(newsletter.size).toBe(sizeBefore + 1);
    expect(newsletter.get(newcomer)).toBe('2026-07-31T00:00:00+00:00');

    const other = firstMemberAfter(newsletter, 700_000);
    newsletter.set(other, '2026-07-29T00:00:00+00:00');
    expect(newsletter.get(other)).toBe('2026-07-29T00:00:00+00:00');
    expect(newsletter.size).toBe(sizeBefore + 1);
  });
});

describe('lazy membership agrees with its own iteration', () => {
  it('size, has, get and iteration stay consistent through random writes', () => {
    const store = createDemoStore({ profiles: 400, clock, seed: 11 });
    const profiles = store.collection('profile');
    const all = [...profiles.values()].map((p) => p.id);
    for (const members of [...store.listMembers.values(), ...store.segmentMembers.values()]) {
      for (let step = 0; step < 60; step++) {
        const id = all[(step * 37) % all.length]!;
        if (step % 3 === 0) members.delete(id);
        else if (step % 3 === 1) members.set(id, `2026-07-${String(1 + (step % 28)).padStart(2, '0')}T00:00:00+00:00`);
        else if (profiles.get(id)) profiles.delete(id);
      }
      const entries = [...members.entries()];
      expect(entries).toHaveLength(members.size);
      expect(new Set(entries.map(([id]) => id)).size).toBe(entries.length);
      for (const [id, joined] of entries) {
        expect(members.has(id)).toBe(true);
        expect(members.get(id)).toBe(joined);
      }
      expect([...members.keys()]).toEqual(entries.map(([id]) => id));
      members.clear();
      expect(members.size).toBe(0);
      expect([...members]).toEqual([]);
    }
  });
});

function firstMemberAfter(members: Map<string, string>, skip: number): string {
  let k = 0;
  for (const [id] of members) if (k++ >= skip / 2) return id;
  throw new Error('no member found');
}
