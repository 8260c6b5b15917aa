/**
 * Consent: Klaviyo's subscribe and unsubscribe jobs. Both answer 202 with no body and have no
 * status endpoint; the emulator does the work at once.
 *
 *   POST /api/profile-subscription-bulk-create-jobs  bulk_subscribe_profiles    ≤ 1,000 profiles
 *   POST /api/profile-subscription-bulk-delete-jobs  bulk_unsubscribe_profiles  ≤ 100 profiles
 *
 * Subscribe creates or finds each profile by email / phone number, then:
 *  - into a single opt-in list (or with no list: the account's default, single opt-in here):
 *    consent SUBSCRIBED for the channels given, the profile joins the list, and UNSUBSCRIBE,
 *    SPAM_COMPLAINT and USER_SUPPRESSED suppressions are lifted (HARD_BOUNCE and INVALID_EMAIL
 *    stay, as the spec says);
 *  - into a DOUBLE opt-in list: nothing but a confirmation message. Consent and membership stay
 *    as they were; the request is kept in store.pendingConfirmations until the person confirms
 *    (confirmPendingSubscriptions, what clicking the link does);
 *  - `historical_import: true` skips double opt-in and needs a past `consented_at` on every
 *    channel; a `consented_at` earlier than the profile's last unsubscribe on that channel is
 *    refused (a backdated subscribe cannot override a newer unsubscribe).
 * Unsubscribe with a list removes the profile from that list with a list suppression when it is
 * a member; a profile NOT in the list is unsubscribed globally, exactly as Klaviyo warns
 * ("Profiles not in the specified list will be globally unsubscribed"). Without a list it is
 * always global.
 * Validation is all-or-nothing: any bad profile refuses the request (400), each with a pointer.
 */
import type { AccountStore, ResourceIdentifier, StoredResource } from '../store/types.js';
import { checkCount, nowIso, writeHandler } from './write-common.js';
import { DEFAULT_OPT_IN_PROCESS, membersOf } from './write-lists.js';
import {
  duplicateProblem,
  findOrCreateProfile,
  identifierProblems,
  resolveProfile,
  subscriptionsOf,
  writeSubscriptions,
  type Subscriptions,
} from './write-profile-core.js';
import { WriteRefusal, validateRequestBody, type Problem } from './write-schema.js';
import type { Handler } from './types.js';

export const MAX_SUBSCRIBE = 1000;
export const MAX_UNSUBSCRIBE = 100;
const PROFILES_POINTER = '/data/attributes/profiles/data';
/** Suppressions a subscription lifts (the spec's SPAM_REPORT is the SPAM_COMPLAINT reason of profiles). */
const LIFTED = new Set(['UNSUBSCRIBE', 'SPAM_COMPLAINT', 'SPAM_REPORT', 'USER_SUPPRESSED']);

type Consent = { consent: string; consented_at?: string | null };
type ChannelRequest = Record<string, Consent | unknown>;

interface SubscriptionProfile {
  type: 'profile';
  id?: string | null;
  attributes: {
    email?: string | null;
    phone_number?: string | null;
    subscriptions: Record<string, ChannelRequest | undefined>;
    age_gated_date_of_birth?: string | null;
  };
}

interface SubscriptionBody {
  data: {
    attributes: { profiles: { data: SubscriptionProfile[] }; custom_source?: string | null; historical_import?: boolean | null };
    relationships?: { list?: { data?: ResourceIdentifier } };
  };
}

/** A consent request for one channel and kind: `email.marketing`, `sms.transactional`, `push.marketing`. */
interface Requested {
  channel: string;
  kind: string;
  consentedAt: string | null;
}

function requestedOf(profile: SubscriptionProfile): Requested[] {
  const out: Requested[] = [];
  for (const [channel, kinds] of Object.entries(profile.attributes.subscriptions)) {
    if (!kinds) continue;
    for (const [kind, value] of Object.entries(kinds)) {
      // `push.tokens` and `push.anonymous_id` are not consents.
      if (value === null || typeof value !== 'object' || Array.isArray(value) || !('consent' in value)) continue;
      out.push({ channel, kind, consentedAt: (value as Consent).consented_at ?? null });
    }
  }
  return out;
}

/** Where a channel's consent lives on the profile (`push` is `mobile_push` there). */
function profileChannel(channel: string): string {
  return channel === 'push' ? 'mobile_push' : channel;
}

/** The list named by `relationships.list`, or a 400 pointing at it. */
function listOf(store: AccountStore, body: SubscriptionBody): StoredResource | null {
  const ref = body.data.relationships?.list?.data;
  if (!ref) return null;
  const list = store.collection('list').get(ref.id);
  if (!list) throw new WriteRefusal(400, [{ code: 'invalid', detail: `List not found with id ${ref.id}.`, pointer: '/data/relationships/list/data/id' }]);
  return list;
}

/** Checks what Klaviyo checks before accepting the job; throws a 400 listing every problem. */
function validateProfiles(store: AccountStore, profiles: SubscriptionProfile[], options: { historical: boolean; subscribe: boolean }): void {
  const problems: Problem[] = [];
  const now = store.now().getTime();
  profiles.forEach((profile, i) => {
    const at = `${PROFILES_POINTER}/${i}/attributes`;
    const attrs = profile.attributes;
    problems.push(...identifierProblems(attrs as Record<string, unknown>, at));
    if (!attrs.email && !attrs.phone_number && !profile.id) {
      problems.push({ code: 'invalid', detail: 'A profile needs an email or a phone_number to change its consent.', pointer: at });
      return;
    }
    const requested = requestedOf(profile);
    if (requested.length === 0) problems.push({ code: 'invalid', detail: 'No consent was given in subscriptions: name at least one channel (email.marketing, sms.marketing ...).', pointer: `${at}/subscriptions` });
    const resolution = resolveProfile(store, profile.id, attrs as Record<string, unknown>);
    if (resolution.kind === 'conflict') problems.push(duplicateProblem(resolution.duplicateId, `${at}/${resolution.identifier}`));
    if (resolution.kind === 'not_found') problems.push({ code: 'not_found', detail: `A profile with id '${resolution.id}' does not exist.`, pointer: `${PROFILES_POINTER}/${i}/id` });
    const existing = resolution.kind === 'existing' ? resolution.profile : null;
    for (const r of requested) {
      const pointer = `${at}/subscriptions/${r.channel}/${r.kind}`;
      if (r.channel === 'email' && !attrs.email && !existing?.attributes.email) {
        problems.push({ code: 'invalid', detail: `Email consent needs an email address for this profile.`, pointer });
      }
      if ((r.channel === 'sms' || r.channel === 'whatsapp') && !attrs.phone_number && !existing?.attributes.phone_number) {
        problems.push({ code: 'invalid', detail: `${r.channel === 'sms' ? 'SMS' : 'WhatsApp'} consent needs a phone_number for this profile.`, pointer });
      }
      if (!options.subscribe) continue;
      if (options.historical && !r.consentedAt) {
        problems.push({ code: 'invalid', detail: 'consented_at is required when historical_import is true.', pointer: `${pointer}/consented_at` });
        continue;
      }
      if (!r.consentedAt) continue;
      const consentedMs = Date.parse(r.consentedAt);
      if (consentedMs > now) {
        problems.push({ code: 'invalid', detail: `consented_at (${r.consentedAt}) must be in the past.`, pointer: `${pointer}/consented_at` });
        continue;
      }
      const unsubscribedMs = lastUnsubscribeMs(existing, r);
      if (unsubscribedMs !== null && consentedMs < unsubscribedMs) {
        problems.push({
          code: 'invalid',
          detail: `consented_at (${r.consentedAt}) is before this profile's last unsubscribe from ${r.channel} ${r.kind}; a backdated subscription cannot override a newer unsubscribe.`,
          pointer: `${pointer}/consented_at`,
        });
      }
    }
  });
  if (problems.length > 0) throw new WriteRefusal(400, problems);
}

function lastUnsubscribeMs(profile: StoredResource | null, r: Requested): number | null {
  if (!profile) return null;
  const state = (profile.attributes.subscriptions as Subscriptions | null | undefined)?.[profileChannel(r.channel)]?.[r.kind];
  if (!state || state.consent !== 'UNSUBSCRIBED') return null;
  const at = Date.parse(state.last_updated ?? state.consent_timestamp ?? '');
  return Number.isNaN(at) ? null : at;
}

/** Sets SUBSCRIBED on the requested channels; lifts the suppressions a subscription lifts. */
function subscribe(store: AccountStore, profile: StoredResource, requested: Requested[], source: { customSource: string | null; doubleOptin: boolean; listId: string | null }): StoredResource {
  const subscriptions = subscriptionsOf(profile);
  const now = nowIso(store);
  for (const r of requested) {
    const channel = profileChannel(r.channel);
    const consentedAt = r.consentedAt ?? now;
    const state: Record<string, unknown> = (subscriptions[channel] ??= {})[r.kind] ?? {};
    state.consent = 'SUBSCRIBED';
    state.consent_timestamp = consentedAt;
    if (channel === 'email' && r.kind === 'marketing') {
      Object.assign(state, { last_updated: now, method: 'API', method_detail: 'API', custom_method_detail: source.customSource, double_optin: source.doubleOptin });
      state.suppression = (state.suppression as Array<{ reason: string }>).filter((s) => !LIFTED.has(s.reason));
      if (source.listId) state.list_suppressions = (state.list_suppressions as Array<{ list_id: string }>).filter((s) => s.list_id !== source.listId);
    } else if (channel === 'sms') {
      Object.assign(state, { [`can_receive_sms_${r.kind}`]: true, last_updated: now, method: 'API', method_detail: source.customSource ?? 'API' });
    } else if (channel === 'mobile_push') {
      state.can_receive_push_marketing = true;
    } else {
      // email.open_tracking and whatsapp.*: the spec's "can_receive" shape.
      Object.assign(state, { can_receive: true, created_timestamp: state.created_timestamp ?? now, last_updated: now, metadata: state.metadata ?? null, valid_until: null });
      if (channel === 'whatsapp') state.phone_number = profile.attributes.phone_number ?? null;
    }
    subscriptions[channel][r.kind] = state;
  }
  return writeSubscriptions(store, profile, subscriptions);
}

/** Sets UNSUBSCRIBED on the requested channels everywhere (the global unsubscribe). */
function unsubscribeGlobally(store: AccountStore, profile: StoredResource, requested: Requested[]): StoredResource {
  const subscriptions = subscriptionsOf(profile);
  const now = nowIso(store);
  for (const r of requested) {
    const channel = profileChannel(r.channel);
    const state: Record<string, unknown> = (subscriptions[channel] ??= {})[r.kind] ?? {};
    state.consent = 'UNSUBSCRIBED';
    state.consent_timestamp = now;
    if (channel === 'email' && r.kind === 'marketing') {
      Object.assign(state, { last_updated: now, method: 'API', method_detail: 'API' });
      const suppression = state.suppression as Array<{ reason: string; timestamp: string }>;
      if (!suppression.some((s) => s.reason === 'UNSUBSCRIBE')) suppression.push({ reason: 'UNSUBSCRIBE', timestamp: now });
    } else if (channel === 'sms') {
      Object.assign(state, { [`can_receive_sms_${r.kind}`]: false, last_updated: now, method: 'API' });
    } else if (channel === 'mobile_push') {
      state.can_receive_push_marketing = false;
    } else {
      Object.assign(state, { can_receive: false, last_updated: now });
    }
    subscriptions[channel][r.kind] = state;
  }
  return writeSubscriptions(store, profile, subscriptions);
}

/** Unsubscribes from one list only: out of the list, with a list suppression; global consent stays. */
function unsubscribeFromList(store: AccountStore, profile: StoredResource, listId: string): StoredResource {
  membersOf(store, listId).delete(profile.id);
  const subscriptions = subscriptionsOf(profile);
  const marketing = subscriptions.email.marketing;
  const now = nowIso(store);
  marketing.list_suppressions = (marketing.list_suppressions as Array<{ list_id: string }>).filter((s) => s.list_id !== listId);
  marketing.list_suppressions.push({ list_id: listId, reason: 'UNSUBSCRIBE', timestamp: now });
  return writeSubscriptions(store, profile, subscriptions);
}

function profileFor(store: AccountStore, p: SubscriptionProfile): StoredResource {
  const result = findOrCreateProfile(store, { id: p.id, email: p.attributes.email, phone_number: p.attributes.phone_number });
  // Validation resolved every profile already; a conflict here would be a bug.
  if (!('profile' in result)) throw new Error(`Profile resolution changed between validation and processing: ${result.kind}`);
  return result.profile;
}

/** A member of the list whose requested consents are all SUBSCRIBED already: nothing to confirm. */
function alreadySubscribed(store: AccountStore, profile: StoredResource, requested: Requested[], listId: string): boolean {
  if (!store.listMembers.get(listId)?.has(profile.id)) return false;
  const subscriptions = profile.attributes.subscriptions as Subscriptions | null | undefined;
  return requested.every((r) => subscriptions?.[profileChannel(r.channel)]?.[r.kind]?.consent === 'SUBSCRIBED');
}

/**
 * What the person's click on the confirmation link does: consent and membership for the pending
 * double opt-in subscriptions matching the filter (all of them by default). Returns how many
 * were confirmed. `POST /_emulator/confirm-subscriptions` exposes it.
 */
export function confirmPendingSubscriptions(store: AccountStore, filter: { listId?: string; profileId?: string } = {}): number {
  let confirmed = 0;
  for (const [listId, pending] of [...store.pendingConfirmations]) {
    if (filter.listId && listId !== filter.listId) continue;
    for (const [profileId, entry] of [...pending]) {
      if (filter.profileId && profileId !== filter.profileId) continue;
      const profile = store.collection('profile').get(profileId);
      pending.delete(profileId);
      if (!profile || !store.collection('list').get(listId)) continue;
      const requested = entry.channels.map((c) => {
        const [channel, kind] = c.split('.');
        return { channel: channel!, kind: kind ?? 'marketing', consentedAt: null };
      });
      subscribe(store, profile, requested, { customSource: entry.customSource ?? null, doubleOptin: true, listId });
      const members = membersOf(store, listId);
      if (!members.has(profileId)) members.set(profileId, nowIso(store));
      confirmed++;
    }
    if (pending.size === 0) store.pendingConfirmations.delete(listId);
  }
  return confirmed;
}

export const subscriptionHandlers: Record<string, Handler> = {
  bulk_subscribe_profiles: writeHandler((ctx) => {
    const body = validateRequestBody<SubscriptionBody>('bulk_subscribe_profiles', ctx.body);
    const profiles = body.data.attributes.profiles.data;
    checkCount(profiles.length, MAX_SUBSCRIBE, 'profiles', PROFILES_POINTER);
    const store = ctx.store;
    const list = listOf(store, body);
    const historical = body.data.attributes.historical_import === true;
    validateProfiles(store, profiles, { historical, subscribe: true });
    const customSource = body.data.attributes.custom_source ?? null;
    const optIn = list ? (list.attributes.opt_in_process ?? DEFAULT_OPT_IN_PROCESS) : DEFAULT_OPT_IN_PROCESS;
    const confirmationNeeded = optIn === 'double_opt_in' && !historical;
    for (const p of profiles) {
      const profile = profileFor(store, p);
      const requested = requestedOf(p);
      if (confirmationNeeded && list && alreadySubscribed(store, profile, requested, list.id)) continue;
      if (confirmationNeeded && list) {
        // Only a confirmation message goes out: no consent, no membership until it is clicked.
        let pending = store.pendingConfirmations.get(list.id);
        if (!pending) store.pendingConfirmations.set(list.id, (pending = new Map()));
        const channels = new Set([...(pending.get(profile.id)?.channels ?? []), ...requested.map((r) => `${r.channel}.${r.kind}`)]);
        pending.set(profile.id, { requestedAt: nowIso(store), channels: [...channels], customSource });
        continue;
      }
      subscribe(store, profile, requested, { customSource, doubleOptin: false, listId: list?.id ?? null });
      if (list) {
        const members = membersOf(store, list.id);
        if (!members.has(profile.id)) members.set(profile.id, nowIso(store));
        store.pendingConfirmations.get(list.id)?.delete(profile.id);
      }
    }
    return { status: 202 };
  }),

  bulk_unsubscribe_profiles: writeHandler((ctx) => {
    const body = validateRequestBody<SubscriptionBody>('bulk_unsubscribe_profiles', ctx.body);
    const profiles = body.data.attributes.profiles.data;
    checkCount(profiles.length, MAX_UNSUBSCRIBE, 'profiles', PROFILES_POINTER);
    const store = ctx.store;
    const list = listOf(store, body);
    validateProfiles(store, profiles, { historical: false, subscribe: false });
    for (const p of profiles) {
      const profile = profileFor(store, p);
      if (list) store.pendingConfirmations.get(list.id)?.delete(profile.id);
      if (list && membersOf(store, list.id).has(profile.id)) unsubscribeFromList(store, profile, list.id);
      else unsubscribeGlobally(store, profile, requestedOf(p));
    }
    return { status: 202 };
  }),
};
