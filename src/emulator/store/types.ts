/**
 * The emulator's account model: JSON:API resources kept by type, plus the membership relations
 * that Klaviyo exposes only through relationship endpoints. The HTTP layer (src/emulator/http,
 * src/emulator/handlers) reads and writes only through these interfaces, so a collection may be
 * a plain Map or a lazily generated one (the demo account's 1,000,000 profiles).
 */
import type { SortedIndex } from './sorted-index.js';

export interface ResourceIdentifier {
  type: string;
  id: string;
}

export type RelationshipData = ResourceIdentifier | ResourceIdentifier[] | null;

export interface StoredResource {
  type: string;
  id: string;
  /**
   * Every attribute Klaviyo can return, including those only returned on request
   * (profile.subscriptions, profile.predictive_analytics, template.definition ...):
   * the handlers strip what the request did not ask for.
   */
  attributes: Record<string, unknown>;
  relationships: Record<string, RelationshipData>;
}

export interface Collection {
  readonly type: string;
  count(): number;
  get(id: string): StoredResource | undefined;
  /** All resources in a stable order (creation order), lazily. */
  values(): Iterable<StoredResource>;
  /** Exact-match lookups on indexed attributes (profile: email, phone_number, external_id). */
  findBy(attribute: string, value: unknown): StoredResource[];
  insert(resource: StoredResource): StoredResource;
  /** Shallow-merges attributes and relationships; returns the updated resource. */
  update(id: string, patch: Partial<Pick<StoredResource, 'attributes' | 'relationships'>>): StoredResource | undefined;
  delete(id: string): boolean;
  /**
   * The resources ordered by a datetime or numeric attribute (see sorted-index.ts), built on
   * first use and dropped on the next write; null when the attribute's values are not all
   * datetimes or numbers. Optional: a collection without it is always scanned.
   */
  sortedIndex?(attribute: string): SortedIndex | null;
}

/** listId or segmentId -> profileId -> joined_group_at (ISO 8601). */
export type Membership = Map<string, Map<string, string>>;

/**
 * A subscription into a double opt-in list that waits for the person to confirm: Klaviyo sends a
 * confirmation message and changes neither consent nor membership until they click it.
 */
export interface PendingConfirmation {
  /** When the subscription was requested (ISO 8601). */
  requestedAt: string;
  /** The channels asked for: `email`, `sms`. */
  channels: string[];
  /** The `custom_source` of the request, kept for the consent record once confirmed. */
  customSource?: string | null;
}

/** listId -> profileId -> the confirmation Klaviyo waits for. */
export type PendingConfirmations = Map<string, Map<string, PendingConfirmation>>;

export interface AccountStore {
  account: StoredResource;
  collection(type: string): Collection;
  /** The JSON:API types that have a collection. */
  types(): string[];
  listMembers: Membership;
  segmentMembers: Membership;
  /** Double opt-in subscriptions not confirmed yet (see write-subscriptions.ts). */
  pendingConfirmations: PendingConfirmations;
  /** Deterministic id generator (Klaviyo-like 26-char ULIDs for profiles, 6-char ids for lists...). */
  newId(type: string): string;
  /** The emulator's clock, so tests can fix time. */
  now(): Date;
}

/** The JSON form of an account: `--data FILE`, POST /_emulator/load and GET /_emulator/state. */
export interface AccountSnapshot {
  account: StoredResource;
  resources: Record<string, StoredResource[]>;
  listMembers: Record<string, Record<string, string>>;
  segmentMembers: Record<string, Record<string, string>>;
  /** Written only when some subscription waits for confirmation; absent in older snapshots. */
  pendingConfirmations?: Record<string, Record<string, PendingConfirmation>>;
}
