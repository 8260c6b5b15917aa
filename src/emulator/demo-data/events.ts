/**
 * The demo account's metrics and events: an online shop's browsing, checkout, order and email
 * activity. Events belong to a fixed number of evenly spread "active" profiles, so the event
 * count stays in the thousands whether the account has 2,000 profiles or 1,000,000.
 */
import { alphanumeric, uuid } from '../store/ids.js';
import { Rng, hash32, hashString } from '../store/prng.js';
import type { StoredResource } from '../store/types.js';
import { profileTraits, type DemoFrame } from './profiles.js';
import { DAY, HOUR, MINUTE, klaviyoTime } from './time.js';
import { PRODUCTS, type Product } from './words.js';

export const METRIC_NAMES = [
  'Placed Order',
  'Viewed Product',
  'Opened Email',
  'Clicked Email',
  'Received Email',
  'Subscribed to List',
  'Started Checkout',
  'Ordered Product',
  'Fulfilled Order',
  'Active on Site',
] as const;

export type MetricName = (typeof METRIC_NAMES)[number];

const SHOPIFY = { object: 'integration', id: '0eMvjm', key: 'shopify', name: 'Shopify', category: 'eCommerce' };
const KLAVIYO = { object: 'integration', id: '0rG4eQ', key: 'klaviyo', name: 'Klaviyo', category: 'Internal' };
const API = { object: 'integration', id: '7FtS4J', key: 'api', name: 'API', category: 'API' };

const INTEGRATION_OF: Record<MetricName, object> = {
  'Placed Order': SHOPIFY,
  'Viewed Product': API,
  'Opened Email': KLAVIYO,
  'Clicked Email': KLAVIYO,
  'Received Email': KLAVIYO,
  'Subscribed to List': KLAVIYO,
  'Started Checkout': SHOPIFY,
  'Ordered Product': SHOPIFY,
  'Fulfilled Order': SHOPIFY,
  'Active on Site': API,
};

/** Profiles with events; the rest of the account is quiet. */
export const ACTIVE_PROFILES = 500;

export const STORE_URL = 'https://www.juniperandpine.example';

export function buildMetrics(ids: Record<MetricName, string>, accountStartMs: number, nowMs: number): StoredResource[] {
  return METRIC_NAMES.map((name, k) => ({
    type: 'metric',
    id: ids[name],
    attributes: {
      name,
      created: klaviyoTime(accountStartMs + k * 37 * MINUTE),
      updated: klaviyoTime(nowMs - (k + 1) * 3 * HOUR),
      integration: { ...INTEGRATION_OF[name] },
    },
    relationships: {},
  }));
}

/** An email campaign that was sent, as email events refer to it. */
export interface SentEmail {
  campaignId: string;
  campaignName: string;
  messageId: string;
  subject: string;
  sentMs: number;
}

export interface EventContext {
  frame: DemoFrame;
  metricIds: Record<MetricName, string>;
  newsletterListId: string;
  sentEmails: SentEmail[];
  profileIdAt(i: number): string;
}

export interface DemoEvents {
  events: StoredResource[];
  /** Latest event time per profile index, for profile.last_event_date. */
  lastEventAt: Map<number, number>;
}

/** Indexes of the profiles that have events: ACTIVE_PROFILES of them, evenly spread. */
export function activeProfileIndexes(profiles: number): number[] {
  const count = Math.min(profiles, ACTIVE_PROFILES);
  const out: number[] = [];
  for (let k = 0; k < count; k++) out.push(Math.floor(((k + 0.5) * profiles) / count));
  return out;
}

interface Draft {
  metric: MetricName;
  ms: number;
  properties: Record<string, unknown>;
}

function productProperties(p: Product): Record<string, unknown> {
  return {
    ProductName: p.name,
    ProductID: p.id,
    SKU: p.sku,
    Categories: [p.category],
    ImageURL: `${STORE_URL}/cdn/products/${p.slug}.jpg`,
    URL: `${STORE_URL}/products/${p.slug}`,
    Brand: 'Juniper & Pine',
    Price: p.price,
  };
}

function lineItem(p: Product, quantity: number): Record<string, unknown> {
  return {
    ProductID: p.id,
    SKU: p.sku,
    ProductName: p.name,
    Quantity: quantity,
    ItemPrice: p.price,
    RowTotal: Math.round(p.price * quantity * 100) / 100,
    ProductURL: `${STORE_URL}/products/${p.slug}`,
    ImageURL: `${STORE_URL}/cdn/products/${p.slug}.jpg`,
    Categories: [p.category],
  };
}

/** One active profile's activity, oldest first. */
function timeline(ctx: EventContext, i: number): Draft[] {
  const { frame } = ctx;
  const t = profileTraits(frame, i);
  const r = new Rng(hash32(frame.seed, i, hashString('events')));
  const drafts: Draft[] = [];
  const startMs = t.createdMs;
  const room = frame.nowMs - HOUR - startMs;
  if (room <= 0) return drafts;

  if (t.inNewsletter) {
    drafts.push({ metric: 'Subscribed to List', ms: startMs + MINUTE, properties: { List: 'Newsletter', 'List ID': ctx.newsletterListId } });
  }

  const sessions = r.between(1, 3);
  for (let s = 0; s < sessions; s++) {
    let ms = startMs + Math.floor(r.next() * room);
    const tick = () => (ms += r.between(1, 9) * MINUTE);
    drafts.push({ metric: 'Active on Site', ms: tick(), properties: { page: `${STORE_URL}/`, browser: r.pick(['Chrome', 'Safari', 'Firefox', 'Edge']), os: r.pick(['iOS', 'Android', 'Mac OS X', 'Windows']) } });
    const viewed = r.sample(PRODUCTS, r.between(1, 3));
    for (const p of viewed) drafts.push({ metric: 'Viewed Product', ms: tick(), properties: productProperties(p) });
    if (!r.chance(0.4)) continue;
    const cart = viewed.slice(0, r.between(1, viewed.length)).map((p) => ({ p, quantity: r.chance(0.8) ? 1 : 2 }));
    const value = Math.round(cart.reduce((sum, { p, quantity }) => sum + p.price * quantity, 0) * 100) / 100;
    const checkoutMs = tick();
    drafts.push({
      metric: 'Started Checkout',
      ms: checkoutMs,
      properties: {
        $event_id: `checkout-${i}-${s}`,
        $value: value,
        ItemNames: cart.map(({ p }) => p.name),
        Items: cart.map(({ p, quantity }) => lineItem(p, quantity)),
        CheckoutURL: `${STORE_URL}/checkouts/${alphanumeric(12, r).toLowerCase()}`,
      },
    });
    if (t.lifetimeOrders === 0 || !r.chance(0.65)) continue;
    const orderId = String(5_200_000 + ((hash32(frame.seed, i, s) % 900_000) | 0));
    const discount = r.chance(0.3) ? { code: r.pick(['WELCOME10', 'SPRING15', 'VIP20']), value: Math.round(value * 0.1 * 100) / 100 } : null;
    const orderMs = tick();
    drafts.push({
      metric: 'Placed Order',
      ms: orderMs,
      properties: {
        $event_id: orderId,
        $value: discount ? Math.round((value - discount.value) * 100) / 100 : value,
        OrderId: orderId,
        Categories: [...new Set(cart.map(({ p }) => p.category))],
        ItemNames: cart.map(({ p }) => p.name),
        Brands: ['Juniper & Pine'],
        DiscountCode: discount?.code ?? null,
        DiscountValue: discount?.value ?? 0,
        Items: cart.map(({ p, quantity }) => lineItem(p, quantity)),
      },
    });
    cart.forEach(({ p, quantity }, line) => {
      drafts.push({
        metric: 'Ordered Product',
        ms: orderMs + (line + 1) * 1000,
        properties: { $event_id: `${orderId}-${line + 1}`, $value: Math.round(p.price * quantity * 100) / 100, OrderId: orderId, ...productProperties(p), Quantity: quantity },
      });
    });
    const fulfilledMs = orderMs + r.between(1, 5) * DAY;
    if (fulfilledMs < frame.nowMs) {
      drafts.push({ metric: 'Fulfilled Order', ms: fulfilledMs, properties: { $event_id: `${orderId}-fulfilled`, $value: value, OrderId: orderId, FulfillmentStatus: 'fulfilled', Carrier: r.pick(['UPS', 'USPS', 'FedEx', 'DHL']) } });
    }
  }

  if (t.inNewsletter) {
    for (const email of ctx.sentEmails) {
      if (email.sentMs < startMs || !r.chance(0.35)) continue;
      const common = { 'Campaign Name': email.campaignName, Subject: email.subject, 'Email Domain': 'example.com', $message: email.messageId };
      const receivedMs = email.sentMs + r.between(0, 20) * MINUTE;
      drafts.push({ metric: 'Received Email', ms: receivedMs, properties: { ...common } });
      if (!r.chance(0.45)) continue;
      const openedMs = receivedMs + r.between(5, 600) * MINUTE;
      if (openedMs >= frame.nowMs) continue;
      drafts.push({ metric: 'Opened Email', ms: openedMs, properties: { ...common, 'Client Name': r.pick(['Apple Mail', 'Gmail', 'Outlook']), 'Client OS': r.pick(['iOS', 'Android', 'Mac OS X', 'Windows']) } });
      if (!r.chance(0.3)) continue;
      const p = r.pick(PRODUCTS);
      drafts.push({ metric: 'Clicked Email', ms: openedMs + r.between(1, 5) * MINUTE, properties: { ...common, URL: `${STORE_URL}/products/${p.slug}?utm_source=klaviyo&utm_medium=email` } });
    }
  }
  return drafts.filter((d) => d.ms < frame.nowMs);
}

export function buildEvents(ctx: EventContext): DemoEvents {
  const rows: { i: number; k: number; draft: Draft }[] = [];
  const lastEventAt = new Map<number, number>();
  for (const i of activeProfileIndexes(ctx.frame.profiles)) {
    timeline(ctx, i).forEach((draft, k) => {
      rows.push({ i, k, draft });
      lastEventAt.set(i, Math.max(lastEventAt.get(i) ?? 0, draft.ms));
    });
  }
  // Creation order is time order, like an account that recorded them as they happened.
  rows.sort((a, b) => a.draft.ms - b.draft.ms || a.i - b.i || a.k - b.k);
  const seen = new Set<string>();
  const events = rows.map(({ i, k, draft }): StoredResource => {
    const r = new Rng(hash32(ctx.frame.seed, i, k, hashString('event-id')));
    let id = alphanumeric(11, r);
    while (seen.has(id)) id = alphanumeric(11, r);
    seen.add(id);
    const seconds = Math.floor(draft.ms / 1000);
    return {
      type: 'event',
      id,
      attributes: {
        timestamp: seconds,
        datetime: klaviyoTime(draft.ms),
        event_properties: draft.properties,
        uuid: uuid(r),
      },
      relationships: {
        profile: { type: 'profile', id: ctx.profileIdAt(i) },
        metric: { type: 'metric', id: ctx.metricIds[draft.metric] },
      },
    };
  });
  return { events, lastEventAt };
}
