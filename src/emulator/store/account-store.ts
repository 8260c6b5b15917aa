/**
 * The emulator's account: collections of JSON:API resources by type, list and segment
 * memberships, a clock and a deterministic id generator. Also the JSON snapshot form used by
 * `--data FILE`, POST /_emulator/load and GET /_emulator/state.
 */
import { idFor } from './ids.js';
import { MapCollection } from './map-collection.js';
import { Rng, hash32, hashString } from './prng.js';
import { validateSnapshot } from './snapshot-validation.js';
import type { AccountSnapshot, AccountStore, Collection, Membership, PendingConfirmation, PendingConfirmations, StoredResource } from './types.js';

export { SnapshotError } from './snapshot-validation.js';

export interface StoreOptions {
  /** Seeds the id generator: the same seed and clock hand out the same ids. */
  seed?: number;
  /** "Now" for the emulator; defaults to the real clock. */
  clock?: () => Date;
}

export const DEFAULT_SEED = 0x4b4c56; // "KLV"

/** The resource types every account has a collection for, even when empty. */
export const CORE_TYPES = [
  'profile',
  'list',
  'segment',
  'metric',
  'event',
  'template',
  'campaign',
  'campaign-message',
  'flow',
  'tag',
  'tag-group',
  'coupon',
  'coupon-code',
  'catalog-item',
  'catalog-variant',
  'catalog-category',
] as const;

export interface StoreParts {
  account: StoredResource;
  /** Prebuilt collections (e.g. the demo's lazy profiles); missing core types start empty. */
  collections?: Collection[];
  listMembers?: Membership;
  segmentMembers?: Membership;
  pendingConfirmations?: PendingConfirmations;
}

class InMemoryAccountStore implements AccountStore {
  account: StoredResource;
  listMembers: Membership;
  segmentMembers: Membership;
  pendingConfirmations: PendingConfirmations;
  private readonly collections = new Map<string, Collection>();
  private readonly ids: Rng;
  private readonly clock: () => Date;

  constructor(parts: StoreParts, opts: StoreOptions) {
    this.account = parts.account;
    this.listMembers = parts.listMembers ?? new Map();
    this.segmentMembers = parts.segmentMembers ?? new Map();
    this.pendingConfirmations = parts.pendingConfirmations ?? new Map();
    this.clock = opts.clock ?? (() => new Date());
    // Its own stream, so loading data never shifts the ids handed out afterwards.
    this.ids = new Rng(hash32(opts.seed ?? DEFAULT_SEED, hashString('new-ids')));
    for (const collection of parts.collections ?? []) this.collections.set(collection.type, collection);
    for (const type of CORE_TYPES) if (!this.collections.has(type)) this.collections.set(type, new MapCollection(type));
  }

  /** The collection for `type`, created empty on first use so handlers of rarer types can write. */
  collection(type: string): Collection {
    let collection = this.collections.get(type);
    if (!collection) this.collections.set(type, (collection = new MapCollection(type)));
    return collection;
  }

  types(): string[] {
    return [...this.collections.keys()];
  }

  newId(type: string): string {
    const existing = this.collections.get(type);
    for (;;) {
      const id = idFor(type, this.now().getTime(), this.ids);
      if (!existing?.get(id)) return id;
    }
  }

  now(): Date {
    return this.clock();
  }
}

/** Builds a store from parts; the demo account uses this with its lazy collections. */
export function createStore(parts: StoreParts, opts: StoreOptions = {}): AccountStore {
  return new InMemoryAccountStore(parts, opts);
}

/** The account resource of an account with no data (what `--data empty` serves). */
export function emptyAccount(seed: number = DEFAULT_SEED): StoredResource {
  const id = idFor('account', 0, new Rng(hash32(seed, hashString('account'))));
  return {
    type: 'account',
    id,
    attributes: {
      test_account: true,
      contact_information: {
        default_sender_name: 'klv emulator',
        default_sender_email: 'sender@example.com',
        website_url: null,
        organization_name: 'klv emulator (empty account)',
        street_address: { address1: null, address2: null, city: null, region: null, country: null, zip: null },
      },
      industry: null,
      timezone: 'UTC',
      preferred_currency: 'USD',
      public_api_key: id,
      locale: 'en-US',
    },
    relationships: {},
  };
}

export function createEmptyStore(opts: StoreOptions = {}): AccountStore {
  return createStore({ account: emptyAccount(opts.seed) }, opts);
}

/**
 * A store holding a snapshot's data. Throws SnapshotError naming what is wrong when the
 * snapshot is malformed. The snapshot is copied, so later changes to either side stay apart.
 */
export function storeFromSnapshot(snapshot: AccountSnapshot, opts: StoreOptions = {}): AccountStore {
  validateSnapshot(snapshot);
  const s = structuredClone(snapshot);
  const collections = Object.entries(s.resources).map(
    ([type, resources]) => new MapCollection(type, resources.map((r) => ({ ...r, relationships: r.relationships ?? {} }))),
  );
  const listMembers = membershipFromJson(s.listMembers);
  const segmentMembers = membershipFromJson(s.segmentMembers);
  // Every list and segment has a (possibly empty) member map, so handlers never meet undefined.
  for (const list of s.resources.list ?? []) if (!listMembers.has(list.id)) listMembers.set(list.id, new Map());
  for (const segment of s.resources.segment ?? []) if (!segmentMembers.has(segment.id)) segmentMembers.set(segment.id, new Map());
  const pendingConfirmations: PendingConfirmations = new Map();
  for (const [listId, pending] of Object.entries(s.pendingConfirmations ?? {})) pendingConfirmations.set(listId, new Map(Object.entries(pending)));
  return createStore(
    { account: { ...s.account, relationships: s.account.relationships ?? {} }, collections, listMembers, segmentMembers, pendingConfirmations },
    opts,
  );
}

/** The JSON form of a store. Resources are the store's own objects: serialise, don't mutate. */
export function snapshotOf(store: AccountStore): AccountSnapshot {
  const resources: Record<string, StoredResource[]> = {};
  for (const type of store.types()) resources[type] = [...store.collection(type).values()];
  const snapshot: AccountSnapshot = {
    account: store.account,
    resources,
    listMembers: membershipToJson(store.listMembers),
    segmentMembers: membershipToJson(store.segmentMembers),
  };
  // Only when there is something to keep, so snapshots of accounts without any stay as they were.
  const pending: Record<string, Record<string, PendingConfirmation>> = {};
  for (const [listId, byProfile] of store.pendingConfirmations ?? []) if (byProfile.size > 0) pending[listId] = Object.fromEntries(byProfile);
  if (Object.keys(pending).length > 0) snapshot.pendingConfirmations = pending;
  return snapshot;
}

function membershipFromJson(json: Record<string, Record<string, string>> | undefined): Membership {
  const membership: Membership = new Map();
  for (const [groupId, members] of Object.entries(json ?? {})) membership.set(groupId, new Map(Object.entries(members)));
  return membership;
}

function membershipToJson(membership: Membership): Record<string, Record<string, string>> {
  const json: Record<string, Record<string, string>> = {};
  for (const [groupId, members] of membership) json[groupId] = Object.fromEntries(members);
  return json;
}
