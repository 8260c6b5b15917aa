/**
 * The demo account's profiles, generated on demand: profile i is a pure function of (seed, i,
 * now), so 1,000,000 of them cost nothing until read. Identifiers encode i so lookups need no
 * table: the id's characters 10-16 carry a keyed permutation of i, emails end in `<i>@domain`,
 * phone numbers end in the 7 digits of i, and external ids are an arithmetic series.
 */
import { decodeBase32, encodeBase32, encodeUlidTime } from '../store/ids.js';
import type { LazySource } from '../store/lazy-collection.js';
import type { GeneratedMembers } from '../store/lazy-membership.js';
import { Rng, hash32, hashString } from '../store/prng.js';
import type { StoredResource } from '../store/types.js';
import { DAY, HISTORY_MS, MINUTE, calendarDate, klaviyoTime } from './time.js';
import { BIRTH_YEARS, CATEGORIES, CITIES, EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES, ORGANIZATIONS, STREETS, TITLES } from './words.js';

export interface DemoFrame {
  seed: number;
  /** The store clock's "now" when the demo account was built; all times derive from it. */
  nowMs: number;
  profiles: number;
}

export interface DemoListIds {
  newsletter: string;
  vip: string;
  sms: string;
  winback: string;
}

export interface DemoSegmentIds {
  loyalty: string;
  usNewsletter: string;
}

export type EmailConsent = 'SUBSCRIBED' | 'UNSUBSCRIBED' | 'NEVER_SUBSCRIBED';
export type SuppressionReason = 'HARD_BOUNCE' | 'INVALID_EMAIL' | 'SPAM_COMPLAINT' | 'UNSUBSCRIBE' | 'USER_SUPPRESSED';
export type LoyaltyTier = 'bronze' | 'silver' | 'gold' | 'platinum';

/** The facts about profile i that memberships and events depend on; cheap to compute. */
export interface ProfileTraits {
  createdMs: number;
  city: number;
  hasPhone: boolean;
  emailConsent: EmailConsent;
  /** A global suppression other than the UNSUBSCRIBE that every UNSUBSCRIBED profile has. */
  extraSuppression: SuppressionReason | null;
  smsConsent: EmailConsent | null;
  tier: LoyaltyTier;
  lifetimeOrders: number;
  /** Days between the last order and now; null without orders. */
  lastOrderDaysAgo: number | null;
  hasExternalId: boolean;
  inNewsletter: boolean;
  /** Unsubscribed from the Newsletter list only (a list suppression, not a global one). */
  newsletterSuppressed: boolean;
  inVip: boolean;
  isUs: boolean;
}

const SALT = { created: 1, traits: 2, detail: 3, id: 4, joined: 5, feistel: 6 } as const;
const EXTERNAL_ID_BASE = 7_180_000_000_000;
const EXTERNAL_ID_STEP = 1_013;
const PHONE_INDEX_DIGITS = 10_000_000;
const CITY_WEIGHTS = CITIES.map((city, index) => [index, city.weight] as const);

/** Creation time of profile i: spread over the history window, increasing with i. */
export function profileCreatedMs(frame: DemoFrame, i: number): number {
  const start = frame.nowMs - HISTORY_MS;
  const span = HISTORY_MS - DAY;
  const jitter = hash32(frame.seed, i, SALT.created) / 4294967296;
  return Math.floor(start + ((i + jitter) / frame.profiles) * span);
}

export function profileTraits(frame: DemoFrame, i: number): ProfileTraits {
  const r = new Rng(hash32(frame.seed, i, SALT.traits));
  const createdMs = profileCreatedMs(frame, i);
  const city = r.weighted(CITY_WEIGHTS);
  const hasPhone = r.chance(0.38);
  const emailConsent = r.weighted<EmailConsent>([['SUBSCRIBED', 58], ['NEVER_SUBSCRIBED', 28], ['UNSUBSCRIBED', 14]]);
  const extraSuppression = r.chance(0.05)
    ? r.weighted<SuppressionReason>([['HARD_BOUNCE', 40], ['USER_SUPPRESSED', 30], ['INVALID_EMAIL', 15], ['SPAM_COMPLAINT', 15]])
    : null;
  const smsConsent = hasPhone
    ? r.weighted<EmailConsent>([['SUBSCRIBED', 60], ['NEVER_SUBSCRIBED', 25], ['UNSUBSCRIBED', 15]])
    : null;
  const tier = r.weighted<LoyaltyTier>([['bronze', 55], ['silver', 25], ['gold', 13], ['platinum', 7]]);
  const ordersBase = { bronze: 0, silver: 2, gold: 5, platinum: 10 }[tier];
  const lifetimeOrders = tier === 'bronze' ? (r.chance(0.45) ? r.between(1, 2) : 0) : ordersBase + r.int(ordersBase + 2);
  const ageDays = Math.max(1, Math.floor((frame.nowMs - createdMs) / DAY));
  const lastOrderDaysAgo = lifetimeOrders > 0 ? r.int(ageDays) : null;
  const hasExternalId = lifetimeOrders > 0 || r.chance(0.2);
  const subscribedList = emailConsent === 'SUBSCRIBED' && extraSuppression !== 'SPAM_COMPLAINT';
  const inNewsletter = subscribedList && r.chance(0.9);
  const newsletterSuppressed = subscribedList && !inNewsletter && r.chance(0.5);
  const inVip = tier === 'platinum' || (tier === 'gold' && r.chance(0.5));
  return {
    createdMs,
    city,
    hasPhone,
    emailConsent,
    extraSuppression,
    smsConsent,
    tier,
    lifetimeOrders,
    lastOrderDaysAgo,
    hasExternalId,
    inNewsletter,
    newsletterSuppressed,
    inVip,
    isUs: CITIES[city]!.country === 'United States',
  };
}

/** The lists and segments a profile starts in, by its traits. */
export const MEMBERSHIP_RULES = {
  newsletter: (t: ProfileTraits) => t.inNewsletter,
  vip: (t: ProfileTraits) => t.inVip,
  sms: (t: ProfileTraits) => t.smsConsent === 'SUBSCRIBED',
  winback: (t: ProfileTraits) => t.lastOrderDaysAgo !== null && t.lastOrderDaysAgo > 180,
  loyalty: (t: ProfileTraits) => t.tier === 'gold' || t.tier === 'platinum',
  usNewsletter: (t: ProfileTraits) => t.inNewsletter && t.isUs,
} as const;

export type MembershipRule = keyof typeof MEMBERSHIP_RULES;

const asciiCache = new Map<string, string>();

/** A name as it appears in an email address: "Müller" -> "muller", "O'Brien" -> "obrien". */
function asciiLower(text: string): string {
  let ascii = asciiCache.get(text);
  if (ascii === undefined) {
    ascii = text
      .normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z]/g, '');
    asciiCache.set(text, ascii);
  }
  return ascii;
}

function money(value: number): number {
  return Math.round(value * 100) / 100;
}

/** A documentation-range IPv4 address (RFC 5737), so no real host is implied. */
function documentationIp(r: Rng): string {
  return `${r.pick(['192.0.2', '198.51.100', '203.0.113'])}.${r.between(1, 254)}`;
}

export class DemoProfiles implements LazySource {
  readonly type = 'profile';
  readonly size: number;

  constructor(
    readonly frame: DemoFrame,
    private readonly lists: DemoListIds,
    /** Time of each profile's latest event in the events collection, by profile index. */
    private readonly lastEventAt: ReadonlyMap<number, number>,
  ) {
    this.size = frame.profiles;
  }

  traits(i: number): ProfileTraits {
    return profileTraits(this.frame, i);
  }

  idAt(i: number): string {
    const r = new Rng(hash32(this.frame.seed, i, SALT.id));
    // Three random high bits make the index-carrying characters look as random as the rest.
    const carried = r.int(8) * 4294967296 + this.permute(i);
    let suffix = '';
    for (let k = 0; k < 9; k++) suffix += encodeBase32(r.int(32), 1);
    return encodeUlidTime(profileCreatedMs(this.frame, i)) + encodeBase32(carried, 7) + suffix;
  }

  indexOf(id: string): number | undefined {
    if (id.length !== 26) return undefined;
    const carried = decodeBase32(id.slice(10, 17));
    if (carried === undefined) return undefined;
    const i = this.unpermute(carried % 4294967296);
    return i < this.size && this.idAt(i) === id ? i : undefined;
  }

  candidates(attribute: string, value: unknown): readonly number[] | undefined {
    if (attribute === 'id') {
      const i = typeof value === 'string' ? this.indexOf(value) : undefined;
      return i === undefined ? [] : [i];
    }
    if (attribute !== 'email' && attribute !== 'phone_number' && attribute !== 'external_id') return undefined;
    if (typeof value !== 'string') return [];
    if (attribute === 'email') {
      const match = /(\d+)@[^@]+$/.exec(value);
      const i = match ? Number(match[1]) : NaN;
      return Number.isSafeInteger(i) && i < this.size ? [i] : [];
    }
    if (attribute === 'phone_number') {
      if (!/^\+\d{8,15}$/.test(value)) return [];
      const found: number[] = [];
      for (let i = Number(value.slice(-7)); i < this.size; i += PHONE_INDEX_DIGITS) found.push(i);
      return found;
    }
    if (!/^\d+$/.test(value)) return [];
    const offset = Number(value) - EXTERNAL_ID_BASE;
    const i = offset / EXTERNAL_ID_STEP;
    return Number.isSafeInteger(i) && i >= 0 && i < this.size ? [i] : [];
  }

  /**
   * Sort keys the sorted index can have without generating the profile (a million profiles
   * would take seconds to generate): `created` and `last_event_date`, to the second as
   * klaviyoTime writes them. Other attributes: undefined, the index generates the profile.
   */
  keyAt(attribute: string, i: number): number | null | undefined {
    if (attribute === 'created') return Math.floor(profileCreatedMs(this.frame, i) / 1000) * 1000;
    if (attribute === 'last_event_date') {
      const last = this.lastEventAt.get(i);
      return last === undefined ? null : Math.floor(last / 1000) * 1000;
    }
    return undefined;
  }

  generate(i: number): StoredResource {
    const t = this.traits(i);
    const r = new Rng(hash32(this.frame.seed, i, SALT.detail));
    const nowMs = this.frame.nowMs;
    const city = CITIES[t.city]!;
    const firstName = r.pick(FIRST_NAMES);
    const lastName = r.pick(LAST_NAMES);
    const local = r.weighted<string>([
      [`${asciiLower(firstName)}.${asciiLower(lastName)}`, 6],
      [`${asciiLower(firstName)}${asciiLower(lastName)}`, 2],
      [`${asciiLower(firstName).charAt(0)}${asciiLower(lastName)}`, 2],
    ]);
    const email = `${local}${i}@${r.pick(EMAIL_DOMAINS)}`;
    const phoneNumber = t.hasPhone
      ? `${r.pick(city.phonePrefixes)}${String(i % PHONE_INDEX_DIGITS).padStart(7, '0')}`
      : null;
    const createdMs = t.createdMs;
    const updatedMs = createdMs + Math.floor(r.next() * (nowMs - createdMs));
    const subscribedMs = createdMs + Math.floor(r.next() * Math.min(30 * DAY, nowMs - createdMs));
    const hasLocation = r.chance(0.9);
    const favoriteCategory = r.pick(CATEGORIES);
    const birthday = r.chance(0.3)
      ? calendarDate(Date.UTC(r.between(BIRTH_YEARS.min, BIRTH_YEARS.max), r.int(12), r.between(1, 28)))
      : null;

    const properties: Record<string, unknown> = {
      loyalty_tier: t.tier,
      lifetime_orders: t.lifetimeOrders,
      favorite_category: favoriteCategory,
      accepts_marketing: t.emailConsent === 'SUBSCRIBED',
      signup_source: r.pick(['Footer form', 'Checkout', 'Popup', 'In-store', 'Instagram giveaway']),
    };
    if (birthday) properties.birthday = birthday;
    if (t.lifetimeOrders > 0) properties.total_spent = money(t.lifetimeOrders * (45 + r.next() * 120));

    const lastEvent = this.lastEventAt.get(i);
    return {
      type: 'profile',
      id: this.idAt(i),
      attributes: {
        email,
        phone_number: phoneNumber,
        external_id: t.hasExternalId ? String(EXTERNAL_ID_BASE + i * EXTERNAL_ID_STEP) : null,
        first_name: firstName,
        last_name: lastName,
        organization: r.chance(0.08) ? r.pick(ORGANIZATIONS) : null,
        locale: r.chance(0.45) ? city.locale : null,
        title: r.chance(0.05) ? r.pick(TITLES) : null,
        image: null,
        created: klaviyoTime(createdMs),
        updated: klaviyoTime(Math.max(updatedMs, lastEvent ?? 0)),
        last_event_date: lastEvent === undefined ? null : klaviyoTime(lastEvent),
        location: hasLocation
          ? {
              address1: `${r.between(1, 2400)} ${r.pick(STREETS)}`,
              address2: r.chance(0.2) ? `Apt ${r.between(1, 40)}${r.pick(['A', 'B', 'C', 'D'])}` : null,
              city: city.city,
              country: city.country,
              region: city.region,
              zip: city.zip,
              timezone: city.timezone,
              ip: documentationIp(r),
              latitude: Number((city.latitude + (r.next() - 0.5) * 0.1).toFixed(4)),
              longitude: Number((city.longitude + (r.next() - 0.5) * 0.1).toFixed(4)),
            }
          : {
              address1: null,
              address2: null,
              city: null,
              country: null,
              region: null,
              zip: null,
              timezone: null,
              ip: documentationIp(r),
              latitude: null,
              longitude: null,
            },
        properties,
        subscriptions: this.subscriptions(t, r, subscribedMs),
        predictive_analytics: this.predictiveAnalytics(t, r),
      },
      relationships: {},
    };
  }

  /** The generated members of a list or segment, for a LazyMemberMap. */
  members(rule: MembershipRule, live: { isLive(i: number): boolean; deletedIndexes(): ReadonlySet<number> }): GeneratedMembers {
    const test = MEMBERSHIP_RULES[rule];
    return {
      size: this.size,
      isMember: (i) => test(this.traits(i)),
      joinedAt: (i) => this.joinedAt(rule, i),
      idAt: (i) => this.idAt(i),
      indexOf: (id) => this.indexOf(id),
      isLive: (i) => live.isLive(i),
      deletedIndexes: () => live.deletedIndexes(),
    };
  }

  private joinedAt(rule: MembershipRule, i: number): string {
    const createdMs = profileCreatedMs(this.frame, i);
    const room = this.frame.nowMs - MINUTE - createdMs;
    // Newsletter sign-ups happen at or near creation; other groups are joined later on.
    const spread = rule === 'newsletter' || rule === 'sms' ? Math.min(room, 2 * DAY) : room;
    const offset = Math.floor((hash32(this.frame.seed, i, SALT.joined, hashString(rule)) / 4294967296) * Math.max(0, spread));
    return klaviyoTime(createdMs + offset);
  }

  private subscriptions(t: ProfileTraits, r: Rng, subscribedMs: number): Record<string, unknown> {
    const consentMs = t.emailConsent === 'NEVER_SUBSCRIBED' ? null : subscribedMs;
    const unsubscribedMs = subscribedMs + Math.floor(r.next() * Math.max(0, this.frame.nowMs - subscribedMs));
    const suppression: { reason: SuppressionReason; timestamp: string }[] = [];
    if (t.emailConsent === 'UNSUBSCRIBED') suppression.push({ reason: 'UNSUBSCRIBE', timestamp: klaviyoTime(unsubscribedMs) });
    if (t.extraSuppression) suppression.push({ reason: t.extraSuppression, timestamp: klaviyoTime(unsubscribedMs) });
    const listSuppressions = t.newsletterSuppressed
      ? [{ list_id: this.lists.newsletter, reason: 'UNSUBSCRIBE', timestamp: klaviyoTime(unsubscribedMs) }]
      : [];
    const method =
      t.emailConsent === 'NEVER_SUBSCRIBED'
        ? null
        : r.weighted<[string, string]>([
            [['FORM', 'Newsletter popup'], 5],
            [['SHOPIFY_INTEGRATION', 'checkout'], 3],
            [['API', 'klv import'], 1],
            [['MANUAL_IMPORT', 'Spring trade show list'], 1],
          ]);
    const emailLastUpdated = t.emailConsent === 'UNSUBSCRIBED' ? unsubscribedMs : consentMs;
    const sms = t.smsConsent === null ? null : this.smsSubscription(t.smsConsent, subscribedMs, r);
    return {
      email: {
        marketing: {
          can_receive_email_marketing: suppression.length === 0,
          consent: t.emailConsent,
          consent_timestamp: consentMs === null ? null : klaviyoTime(t.emailConsent === 'UNSUBSCRIBED' ? unsubscribedMs : consentMs),
          last_updated: emailLastUpdated === null ? null : klaviyoTime(emailLastUpdated),
          method: t.emailConsent === 'UNSUBSCRIBED' ? 'PREFERENCE_PAGE' : (method?.[0] ?? null),
          method_detail: t.emailConsent === 'UNSUBSCRIBED' ? 'unsubscribe link' : (method?.[1] ?? ''),
          custom_method_detail: null,
          double_optin: t.inNewsletter ? true : null,
          suppression,
          list_suppressions: listSuppressions,
        },
      },
      sms,
      mobile_push: { marketing: { can_receive_push_marketing: false, consent: 'NEVER_SUBSCRIBED', consent_timestamp: null } },
    };
  }

  private smsSubscription(consent: EmailConsent, subscribedMs: number, r: Rng): Record<string, unknown> {
    const smsMs = subscribedMs + Math.floor(r.next() * Math.min(10 * DAY, Math.max(0, this.frame.nowMs - subscribedMs)));
    const given = consent !== 'NEVER_SUBSCRIBED';
    return {
      marketing: {
        can_receive_sms_marketing: consent === 'SUBSCRIBED',
        consent,
        consent_timestamp: given ? klaviyoTime(smsMs) : null,
        method: given ? 'TEXT' : null,
        method_detail: given ? 'JOIN keyword' : '',
        last_updated: given ? klaviyoTime(smsMs) : null,
      },
      transactional: {
        can_receive_sms_transactional: consent === 'SUBSCRIBED',
        consent: consent === 'SUBSCRIBED' ? 'SUBSCRIBED' : 'NEVER_SUBSCRIBED',
        consent_timestamp: consent === 'SUBSCRIBED' ? klaviyoTime(smsMs) : null,
        method: consent === 'SUBSCRIBED' ? 'TEXT' : null,
        method_detail: '',
        last_updated: consent === 'SUBSCRIBED' ? klaviyoTime(smsMs) : null,
      },
    };
  }

  private predictiveAnalytics(t: ProfileTraits, r: Rng): Record<string, unknown> {
    if (t.lifetimeOrders === 0) {
      return {
        historic_clv: null,
        predicted_clv: null,
        total_clv: null,
        historic_number_of_orders: 0,
        predicted_number_of_orders: null,
        average_days_between_orders: null,
        average_order_value: null,
        churn_probability: null,
        expected_date_of_next_order: null,
        ranked_channel_affinity: null,
      };
    }
    const averageOrderValue = money(45 + r.next() * 120);
    const historic = money(averageOrderValue * t.lifetimeOrders);
    const predictedOrders = money(r.next() * (t.lifetimeOrders / 2 + 1));
    const predicted = money(predictedOrders * averageOrderValue);
    const ageDays = (this.frame.nowMs - t.createdMs) / DAY;
    const gap = t.lifetimeOrders > 1 ? money(ageDays / t.lifetimeOrders) : null;
    const churn = money(Math.min(0.99, (t.lastOrderDaysAgo ?? 0) / 365 + r.next() * 0.1));
    return {
      historic_clv: historic,
      predicted_clv: predicted,
      total_clv: money(historic + predicted),
      historic_number_of_orders: t.lifetimeOrders,
      predicted_number_of_orders: predictedOrders,
      average_days_between_orders: gap,
      average_order_value: averageOrderValue,
      churn_probability: churn,
      expected_date_of_next_order:
        gap === null ? null : klaviyoTime(this.frame.nowMs - (t.lastOrderDaysAgo ?? 0) * DAY + gap * DAY),
      ranked_channel_affinity: t.smsConsent === 'SUBSCRIBED' ? ['sms', 'email', 'push'] : ['email', 'sms', 'push'],
    };
  }

  /** A keyed 32-bit Feistel permutation: ids look random yet decode back to the index. */
  private permute(value: number): number {
    let left = value >>> 16;
    let right = value & 0xffff;
    for (let round = 0; round < 4; round++) {
      const next = left ^ (hash32(this.frame.seed, SALT.feistel, round, right) & 0xffff);
      left = right;
      right = next;
    }
    return ((left << 16) | right) >>> 0;
  }

  private unpermute(value: number): number {
    let left = value >>> 16;
    let right = value & 0xffff;
    for (let round = 3; round >= 0; round--) {
      const previous = right ^ (hash32(this.frame.seed, SALT.feistel, round, left) & 0xffff);
      right = left;
      left = previous;
    }
    return ((left << 16) | right) >>> 0;
  }
}
