/**
 * Relationships the store does not hold on the resource itself, and filter fields that are not
 * attributes. Klaviyo computes some relationships from other data: a profile's lists and
 * segments come from membership, a message's campaign is the campaign that lists it. The store
 * keeps each fact once (types.ts), so the handlers derive the other direction here.
 */
import type { AccountStore, Collection, RelationshipData, ResourceIdentifier, StoredResource } from '../store/types.js';
import type { FieldResolver } from '../http/filter-evaluator.js';
import { relationshipNames, relationshipType } from './resource-meta.js';

/** Reverse look-ups scan the other collection; above this size they would be too slow to do per request. */
const REVERSE_SCAN_LIMIT = 100_000;

export function collectionOf(store: AccountStore, type: string): Collection | null {
  return store.types().includes(type) ? store.collection(type) : null;
}

/** Plural relationship names (`tags`, `campaign-messages`, `flow-triggers`) are to-many. */
export function isToMany(relationship: string): boolean {
  return relationship.endsWith('s');
}

export function memberships(store: AccountStore, type: string): Map<string, Map<string, string>> | null {
  if (type === 'list') return store.listMembers;
  if (type === 'segment') return store.segmentMembers;
  return null;
}

/** The identifiers a relationship of `resource` points to, wherever Klaviyo would get them from. */
export function relationshipOf(store: AccountStore, resource: StoredResource, name: string): RelationshipData | undefined {
  if (resource.type === 'profile' && (name === 'lists' || name === 'segments')) {
    const groupType = name === 'lists' ? 'list' : 'segment';
    const members = memberships(store, groupType)!;
    const ids: ResourceIdentifier[] = [];
    for (const [groupId, profiles] of members) if (profiles.has(resource.id)) ids.push({ type: groupType, id: groupId });
    return ids;
  }
  const stored = resource.relationships[name];
  if (stored !== undefined) return stored;
  const members = memberships(store, resource.type);
  if (members && name === 'profiles') return undefined; // served by the membership endpoints, never inlined
  const reverse = reverseLookup(store, resource, name);
  if (reverse !== undefined) return reverse;
  return isToMany(name) ? [] : undefined;
}

/** Finds resources of the related type whose own relationship points back at `resource`. */
function reverseLookup(store: AccountStore, resource: StoredResource, name: string): RelationshipData | undefined {
  const targetType = relationshipType(resource.type, name);
  const target = collectionOf(store, targetType);
  if (!target || target.count() > REVERSE_SCAN_LIMIT) return undefined;
  const backNames = relationshipNames(targetType).filter((n) => relationshipType(targetType, n) === resource.type);
  if (backNames.length === 0) return undefined;
  const found: ResourceIdentifier[] = [];
  for (const candidate of target.values()) {
    for (const back of backNames) {
      const data = candidate.relationships[back];
      const refs = Array.isArray(data) ? data : data ? [data] : [];
      if (refs.some((r) => r.type === resource.type && r.id === resource.id)) {
        found.push({ type: targetType, id: candidate.id });
        break;
      }
    }
  }
  if (isToMany(name)) return found;
  return found[0];
}

function identifierIds(data: RelationshipData | undefined): string[] {
  if (!data) return [];
  return Array.isArray(data) ? data.map((d) => d.id) : [data.id];
}

/**
 * Filter fields that are not attribute paths, by resource type. `_kx` (Klaviyo's encrypted
 * exchange id) never matches: the emulator issues none.
 */
export function resolverFor(store: AccountStore, type: string, extra?: (id: string) => Record<string, unknown> | undefined): FieldResolver {
  return (resource, field) => {
    if (field === '_kx' || field === 'push_token') return [];
    if (field === 'profile_id' && type === 'profile') return [resource.id];
    if (extra) {
      const e = extra(resource.id);
      if (e && field in e) return [e[field]];
    }
    if (type === 'event') {
      if (field === 'metric_id' || field === 'metric') return identifierIds(resource.relationships.metric);
      if (field === 'profile_id' || field === 'profile') return identifierIds(resource.relationships.profile);
    }
    // A campaign or flow that never had the flag set (written by an older client) is not archived.
    if ((type === 'campaign' || type === 'flow') && field === 'archived') return [resource.attributes.archived === true];
    if (type === 'campaign' && field === 'messages.channel') {
      const messages = collectionOf(store, 'campaign-message');
      const ids = identifierIds(relationshipOf(store, resource, 'campaign-messages'));
      return ids.map((id) => {
        const m = messages?.get(id);
        const def = m?.attributes.definition as { channel?: unknown } | null | undefined;
        return def?.channel ?? m?.attributes.channel;
      }).filter((c) => c !== undefined);
    }
    // Catalog endpoints filter on `ids` (any) and mean the resource's own id.
    if (field === 'ids') return [resource.id];
    // `coupon.id`, `profile.id`, `item.id`: the id of a related resource, held on the resource
    // (a coupon code's coupon) or in plural form (a catalog category's items).
    const rel = /^(.+)\.id$/.exec(field);
    if (rel) {
      for (const name of [rel[1], `${rel[1]}s`]) {
        if (resource.relationships[name] !== undefined) return identifierIds(resource.relationships[name]);
      }
      // A catalog item's categories are held by the categories (their `items`): look them up.
      if (type === 'catalog-item' && rel[1] === 'category') return identifierIds(relationshipOf(store, resource, 'categories'));
    }
    return undefined;
  };
}
