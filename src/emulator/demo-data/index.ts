/**
 * The demo account: "Juniper & Pine", a deterministic online outdoor-apparel shop: profiles,
 * lists, segments, campaigns, templates, flows, metrics and events, coupons and a product
 * catalog. The same seed and clock always give the same account. Profiles (and their list and segment
 * memberships) are generated lazily, so `profiles: 1_000_000` starts in moments and uses
 * memory only for what is written to it.
 */
import { DEFAULT_SEED, createStore } from '../store/account-store.js';
import { LazyCollection } from '../store/lazy-collection.js';
import { LazyMemberMap } from '../store/lazy-membership.js';
import { MapCollection } from '../store/map-collection.js';
import { Rng, hash32, hashString } from '../store/prng.js';
import type { AccountStore, Membership, ResourceIdentifier } from '../store/types.js';
import { buildCommerce } from './commerce.js';
import { DemoIds, buildAccount, buildContent } from './content.js';
import { METRIC_NAMES, buildEvents, buildMetrics, type MetricName } from './events.js';
import { DemoProfiles, type DemoFrame, type DemoListIds, type DemoSegmentIds, type MembershipRule } from './profiles.js';
import { DAY, HISTORY_MS } from './time.js';

/** The demo account's public API key (site id), which is also its account id. */
export const DEMO_PUBLIC_KEY = 'KlvDmo';
/** The private key the demo emulator accepts. Not a secret: it only opens the local emulator. */
export const DEMO_PRIVATE_KEY = 'pk_demo_klv_emulator_0000000000';
export const DEFAULT_DEMO_PROFILES = 2000;

export interface DemoStoreOptions {
  /** How many profiles (default 2,000). Up to 10,000,000 keeps every phone number unique. */
  profiles?: number;
  seed?: number;
  /** "Now": every time in the account is derived from the clock's value at creation. */
  clock?: () => Date;
}

export function createDemoStore(opts: DemoStoreOptions = {}): AccountStore {
  const profileCount = opts.profiles ?? DEFAULT_DEMO_PROFILES;
  if (!Number.isSafeInteger(profileCount) || profileCount < 0 || profileCount > 2 ** 32) {
    throw new Error(`Demo profiles must be a whole number from 0 to ${2 ** 32}, got ${String(opts.profiles)}.`);
  }
  const seed = opts.seed ?? DEFAULT_SEED;
  const clock = opts.clock ?? (() => new Date());
  const nowMs = clock().getTime();
  const frame: DemoFrame = { seed, nowMs, profiles: profileCount };
  const accountStartMs = nowMs - HISTORY_MS - 30 * DAY;

  const ids = new DemoIds(new Rng(hash32(seed, hashString('demo-ids'))), nowMs);
  const lists: DemoListIds = { newsletter: ids.next('list'), vip: ids.next('list'), sms: ids.next('list'), winback: ids.next('list') };
  const segments: DemoSegmentIds = { loyalty: ids.next('segment'), usNewsletter: ids.next('segment') };
  const metricIds = Object.fromEntries(METRIC_NAMES.map((name) => [name, ids.next('metric')])) as Record<MetricName, string>;

  const content = buildContent({ ids, rng: new Rng(hash32(seed, hashString('content'))), nowMs, accountStartMs, lists, segments, metricIds });
  const metrics = buildMetrics(metricIds, accountStartMs, nowMs);
  for (const flow of content.flows) {
    const triggers = (flow.attributes.definition as { triggers: { type: string; id: string }[] }).triggers;
    for (const trigger of triggers.filter((t) => t.type === 'metric')) {
      const metric = metrics.find((m) => m.id === trigger.id)!;
      const flowTriggers = (metric.relationships['flow-triggers'] ??= []) as ResourceIdentifier[];
      flowTriggers.push({ type: 'flow', id: flow.id });
    }
  }

  // Profile ids are needed by events before the profile source exists; they depend on the
  // frame only, so a source with no event times can already compute them.
  const idSource = new DemoProfiles(frame, lists, new Map());
  const { events, lastEventAt } = buildEvents({
    frame,
    metricIds,
    newsletterListId: lists.newsletter,
    sentEmails: content.sentEmails,
    profileIdAt: (i) => idSource.idAt(i),
  });
  const profileSource = new DemoProfiles(frame, lists, lastEventAt);
  // Its own random stream: adding commerce data left every other resource of the account as it was.
  const commerce = buildCommerce({
    rng: new Rng(hash32(seed, hashString('commerce'))),
    nowMs,
    accountStartMs,
    profiles: profileCount,
    profileIdAt: (i) => idSource.idAt(i),
  });
  const profiles = new LazyCollection(profileSource);

  const members = (rule: MembershipRule) => new LazyMemberMap(profileSource.members(rule, profiles));
  const listMembers: Membership = new Map([
    [lists.newsletter, members('newsletter')],
    [lists.vip, members('vip')],
    [lists.sms, members('sms')],
    [lists.winback, members('winback')],
  ]);
  const segmentMembers: Membership = new Map([
    [segments.loyalty, members('loyalty')],
    [segments.usNewsletter, members('usNewsletter')],
  ]);

  return createStore(
    {
      account: buildAccount(DEMO_PUBLIC_KEY),
      collections: [
        profiles,
        new MapCollection('list', content.lists),
        new MapCollection('segment', content.segments),
        new MapCollection('metric', metrics),
        new MapCollection('event', events),
        new MapCollection('template', content.templates),
        new MapCollection('campaign', content.campaigns),
        new MapCollection('campaign-message', content.campaignMessages),
        new MapCollection('flow', content.flows),
        new MapCollection('tag', content.tags),
        new MapCollection('tag-group', content.tagGroups),
        new MapCollection('coupon', commerce.coupons),
        new MapCollection('coupon-code', commerce.couponCodes),
        new MapCollection('catalog-item', commerce.catalogItems),
        new MapCollection('catalog-variant', commerce.catalogVariants),
        new MapCollection('catalog-category', commerce.catalogCategories),
      ],
      listMembers,
      segmentMembers,
    },
    { seed, clock },
  );
}
