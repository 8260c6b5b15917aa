/**
 * Events:
 *   POST /api/event-bulk-create-jobs  bulk_create_events  202, no body; ≤ 1,000 events, ≤ 5 MB
 *   POST /api/events                  create_event        202, no body
 * Each event names its metric by name (created when missing) and its profile by identifiers
 * (created or updated with the attributes given; nulls ignored). Klaviyo keeps one event per
 * profile, metric and `unique_id` (without one: per second of `time`): a repeat is accepted and
 * not stored again, so re-sending an import never duplicates events. Within one bulk request,
 * the same `unique_id` twice for the same profile and metric fails the whole request, as the
 * spec's note on bulk creation says. The unique id is kept as `$event_id` in event_properties
 * and the value as `$value`, where Klaviyo's track API has always put them.
 */
import { hash32, hashString, Rng } from '../store/prng.js';
import { uuid } from '../store/ids.js';
import type { AccountStore, StoredResource } from '../store/types.js';
import { klaviyoTime } from '../demo-data/time.js';
import { KB, MB, checkPayloadSize, writeHandler } from './write-common.js';
import { DUPLICATE_DETAIL, identifierProblems, insertProfile, resolveProfile, updateProfile, type PatchProperties } from './write-profile-core.js';
import { WriteRefusal, validateRequestBody, type Problem } from './write-schema.js';
import type { Handler } from './types.js';

export const MAX_EVENTS = 1000;
export const MAX_PAYLOAD_BYTES = 5 * MB;
const MAX_STRING_BYTES = 100 * KB;
const MAX_PROPERTIES = 400;
const MAX_METRIC_NAME = 128;
const EARLIEST_MS = Date.UTC(1990, 0, 1);
const YEAR_MS = 365 * 24 * 3_600_000;
/** The integration of metrics created through the API (the demo's "API" integration). */
const API_INTEGRATION = { object: 'integration', id: '7FtS4J', key: 'api', name: 'API', category: 'API' };

interface ProfileRef {
  type: 'profile';
  id?: string | null;
  attributes: Record<string, unknown>;
  meta?: { patch_properties?: PatchProperties | null } | null;
}

interface EventAttributes {
  properties: Record<string, unknown>;
  time?: string | null;
  value?: number | null;
  value_currency?: string | null;
  unique_id?: string | null;
  backfill?: boolean | null;
  metric: { data: { type: 'metric'; attributes: { name: string; service?: string | null } } };
}

/** One profile and its events, with the JSON pointers of both (for errors). */
interface Group {
  profile: ProfileRef;
  profilePointer: string;
  events: Array<{ attributes: EventAttributes; pointer: string }>;
}

const PROFILE_ONLY = ['anonymous_id', '_kx', 'meta'];

function profileAttributes(profile: ProfileRef): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(profile.attributes)) if (!PROFILE_ONLY.includes(k)) out[k] = v;
  return out;
}

function hasAnyIdentifier(profile: ProfileRef): boolean {
  return Boolean(profile.id) || ['email', 'phone_number', 'external_id', 'anonymous_id', '_kx'].some((k) => typeof profile.attributes[k] === 'string' && profile.attributes[k] !== '');
}

/** Everything Klaviyo checks before accepting events; throws a 400 listing every problem. */
function validateGroups(store: AccountStore, groups: Group[], bulk: boolean): void {
  const problems: Problem[] = [];
  const now = store.now().getTime();
  const seen = new Map<string, string>();
  for (const group of groups) {
    const at = group.profilePointer;
    problems.push(...identifierProblems(group.profile.attributes, `${at}/attributes`));
    if (!hasAnyIdentifier(group.profile)) {
      problems.push({ code: 'invalid', detail: 'The profile needs at least one identifier: id, email, phone_number, external_id or anonymous_id.', pointer: `${at}/attributes` });
    }
    const resolution = resolveProfile(store, group.profile.id, profileAttributes(group.profile));
    if (resolution.kind === 'not_found') problems.push({ code: 'not_found', detail: `A profile with id '${resolution.id}' does not exist.`, pointer: `${at}/id` });
    if (resolution.kind === 'conflict') problems.push({ code: 'duplicate_profile', detail: DUPLICATE_DETAIL, pointer: `${at}/attributes/${resolution.identifier}`, meta: { duplicate_profile_id: resolution.duplicateId } });
    const profileKey = resolution.kind === 'existing' ? resolution.profile.id : JSON.stringify([group.profile.id, group.profile.attributes.email, group.profile.attributes.phone_number, group.profile.attributes.external_id, group.profile.attributes.anonymous_id]);
    for (const event of group.events) {
      const a = event.attributes;
      const name = a.metric.data.attributes.name;
      if (name.trim() === '' || name.length > MAX_METRIC_NAME) {
        problems.push({ code: 'invalid', detail: `A metric name must have 1 to ${MAX_METRIC_NAME} characters; got ${name.length}.`, pointer: `${event.pointer}/metric/data/attributes/name` });
      }
      if (a.time) {
        const ms = Date.parse(a.time);
        if (ms < EARLIEST_MS || ms > now + YEAR_MS) {
          problems.push({ code: 'invalid', detail: `time (${a.time}) must be after 1990-01-01 and at most one year in the future.`, pointer: `${event.pointer}/time` });
        }
      }
      if (Object.keys(a.properties).length > MAX_PROPERTIES) {
        problems.push({ code: 'invalid', detail: `An event may have at most ${MAX_PROPERTIES} properties; this one has ${Object.keys(a.properties).length}.`, pointer: `${event.pointer}/properties` });
      }
      if (longestString(a.properties) > MAX_STRING_BYTES) {
        problems.push({ code: 'invalid', detail: 'A string in properties is longer than 100 KB, the most Klaviyo takes.', pointer: `${event.pointer}/properties` });
      }
      if (bulk && a.unique_id) {
        const key = `${profileKey}|${name}|${a.unique_id}`;
        const first = seen.get(key);
        if (first !== undefined) {
          problems.push({
            code: 'invalid',
            detail: `unique_id '${a.unique_id}' is repeated for the same profile and metric (first at ${first}); the request fails and no events are processed.`,
            pointer: `${event.pointer}/unique_id`,
          });
        } else {
          seen.set(key, event.pointer);
        }
      }
    }
  }
  if (problems.length > 0) throw new WriteRefusal(400, problems);
}

function longestString(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (value === null || typeof value !== 'object') return 0;
  let max = 0;
  for (const v of Array.isArray(value) ? value : Object.values(value)) max = Math.max(max, longestString(v));
  return max;
}

/** profileId|metricId|dedupe key of the events an account has, built on first use. */
const dedupeKeys = new WeakMap<AccountStore, Set<string>>();

function dedupeKeyOf(profileId: string, metricId: string, eventProperties: Record<string, unknown>, timestamp: number): string {
  const uniqueId = eventProperties.$event_id;
  return `${profileId}|${metricId}|${typeof uniqueId === 'string' && uniqueId !== '' ? `u:${uniqueId}` : `t:${timestamp}`}`;
}

function keysOf(store: AccountStore): Set<string> {
  let keys = dedupeKeys.get(store);
  if (!keys) {
    keys = new Set();
    for (const event of store.collection('event').values()) {
      const profile = event.relationships.profile as { id: string } | null | undefined;
      const metric = event.relationships.metric as { id: string } | null | undefined;
      if (!profile || !metric) continue;
      keys.add(dedupeKeyOf(profile.id, metric.id, (event.attributes.event_properties ?? {}) as Record<string, unknown>, Number(event.attributes.timestamp)));
    }
    dedupeKeys.set(store, keys);
  }
  return keys;
}

function metricNamed(store: AccountStore, name: string): StoredResource {
  const metrics = store.collection('metric');
  const existing = metrics.findBy('name', name)[0];
  if (existing) return existing;
  const now = klaviyoTime(store.now().getTime());
  return metrics.insert({ type: 'metric', id: store.newId('metric'), attributes: { name, created: now, updated: now, integration: { ...API_INTEGRATION } }, relationships: {} });
}

function profileFor(store: AccountStore, ref: ProfileRef): StoredResource {
  const attributes = profileAttributes(ref);
  const patch = ref.meta?.patch_properties ?? (ref.attributes.meta as { patch_properties?: PatchProperties } | undefined)?.patch_properties ?? null;
  const resolution = resolveProfile(store, ref.id, attributes);
  if (resolution.kind === 'existing') return updateProfile(store, resolution.profile, attributes, 'ignore', patch).profile;
  if (resolution.kind === 'new') return insertProfile(store, attributes, 'ignore', patch);
  throw new Error(`Profile resolution changed between validation and processing: ${resolution.kind}`);
}

/** Stores the group's events (each at most once); returns how many were new. */
function record(store: AccountStore, group: Group): number {
  let profile = profileFor(store, group.profile);
  const keys = keysOf(store);
  let stored = 0;
  for (const { attributes: a } of group.events) {
    const metric = metricNamed(store, a.metric.data.attributes.name);
    const ms = a.time ? Date.parse(a.time) : store.now().getTime();
    const timestamp = Math.floor(ms / 1000);
    const eventProperties: Record<string, unknown> = { ...a.properties };
    if (a.value !== undefined && a.value !== null) eventProperties.$value = a.value;
    if (a.unique_id) eventProperties.$event_id = a.unique_id;
    const key = dedupeKeyOf(profile.id, metric.id, eventProperties, timestamp);
    if (keys.has(key)) continue;
    keys.add(key);
    const id = store.newId('event');
    store.collection('event').insert({
      type: 'event',
      id,
      attributes: { timestamp, datetime: klaviyoTime(ms), event_properties: eventProperties, uuid: uuid(new Rng(hash32(hashString(id), timestamp))) },
      relationships: { profile: { type: 'profile', id: profile.id }, metric: { type: 'metric', id: metric.id } },
    });
    const last = Date.parse(String(profile.attributes.last_event_date ?? ''));
    if (Number.isNaN(last) || ms > last) profile = store.collection('profile').update(profile.id, { attributes: { last_event_date: klaviyoTime(ms) } }) ?? profile;
    stored++;
  }
  return stored;
}

interface BulkEventsBody {
  data: { attributes: { 'events-bulk-create': { data: Array<{ attributes: { profile: { data: ProfileRef }; events: { data: Array<{ attributes: EventAttributes }> } } }> } } };
}

interface EventBody {
  data: { attributes: EventAttributes & { profile: { data: ProfileRef } } };
}

export const eventWriteHandlers: Record<string, Handler> = {
  bulk_create_events: writeHandler((ctx) => {
    checkPayloadSize(ctx.body, MAX_PAYLOAD_BYTES, 'POST /api/event-bulk-create-jobs');
    const body = validateRequestBody<BulkEventsBody>('bulk_create_events', ctx.body);
    const base = '/data/attributes/events-bulk-create/data';
    const groups: Group[] = body.data.attributes['events-bulk-create'].data.map((item, i) => ({
      profile: item.attributes.profile.data,
      profilePointer: `${base}/${i}/attributes/profile/data`,
      events: item.attributes.events.data.map((e, j) => ({ attributes: e.attributes, pointer: `${base}/${i}/attributes/events/data/${j}/attributes` })),
    }));
    const count = groups.reduce((n, g) => n + g.events.length, 0);
    if (count > MAX_EVENTS) {
      throw new WriteRefusal(400, [{ code: 'invalid', detail: `${count} events were sent; this endpoint accepts at most ${MAX_EVENTS} per request. Split them over several requests.`, pointer: base }]);
    }
    validateGroups(ctx.store, groups, true);
    for (const group of groups) record(ctx.store, group);
    return { status: 202 };
  }),

  create_event: writeHandler((ctx) => {
    checkPayloadSize(ctx.body, MAX_PAYLOAD_BYTES, 'POST /api/events');
    const { data } = validateRequestBody<EventBody>('create_event', ctx.body);
    const { profile, ...attributes } = data.attributes;
    const group: Group = { profile: profile.data, profilePointer: '/data/attributes/profile/data', events: [{ attributes, pointer: '/data/attributes' }] };
    validateGroups(ctx.store, [group], false);
    record(ctx.store, group);
    return { status: 202 };
  }),
};
