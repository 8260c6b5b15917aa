/**
 * The demo shop's commerce data: coupons with their codes (some handed to profiles, some used),
 * and the product catalog (items with their variants, in categories). Shapes follow Klaviyo's
 * spec: a coupon's id is its external id (`WELCOME10`), a coupon code's id is
 * `<coupon id>-<unique code>`, catalog ids are `$custom:::$default:::<external id>`.
 */
import { Rng } from '../store/prng.js';
import type { ResourceIdentifier, StoredResource } from '../store/types.js';
import { STORE_URL } from './events.js';
import { DAY, HOUR, klaviyoTime } from './time.js';
import { CATEGORIES, PRODUCTS, type Product } from './words.js';

export interface CommerceInput {
  rng: Rng;
  nowMs: number;
  accountStartMs: number;
  profiles: number;
  profileIdAt(i: number): string;
}

export interface DemoCommerce {
  coupons: StoredResource[];
  couponCodes: StoredResource[];
  catalogItems: StoredResource[];
  catalogVariants: StoredResource[];
  catalogCategories: StoredResource[];
}

const ref = (type: string, id: string): ResourceIdentifier => ({ type, id });

/** The discount codes the demo's Placed Order events mention are among these. */
const COUPONS = [
  { id: 'WELCOME10', description: '10% off a first order, for new newsletter subscribers', codes: 60, monitor: { low_balance_threshold: 20 } },
  { id: 'SPRING15', description: '15% off the spring collection', codes: 40, monitor: null },
  { id: 'VIP20', description: '20% off for VIP customers, one use per code', codes: 30, monitor: { low_balance_threshold: 5 } },
  { id: 'WINBACK15', description: null, codes: 25, monitor: null },
] as const;

/** Unique codes avoid look-alike characters (0/O, 1/I), as coupon generators do. */
const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

type CodeStatus = 'UNASSIGNED' | 'ASSIGNED_TO_PROFILE' | 'USED';

/** Catalog ids are compound: `{integration}:::{catalog}:::{external_id}`; only $custom/$default exist. */
export function catalogId(externalId: string): string {
  return `$custom:::$default:::${externalId}`;
}

function sizesOf(p: Product): string[] {
  if (p.category === 'Outerwear' || p.category === 'Knitwear') return ['S', 'M', 'L'];
  if (p.category === 'Footwear') return ['8', '9', '10', '11'];
  return ['OS'];
}

export function buildCommerce(input: CommerceInput): DemoCommerce {
  const { rng, nowMs, accountStartMs } = input;

  const coupons: StoredResource[] = [];
  const couponCodes: StoredResource[] = [];
  for (const plan of COUPONS) {
    coupons.push({
      type: 'coupon',
      id: plan.id,
      attributes: { external_id: plan.id, description: plan.description, monitor_configuration: plan.monitor === null ? null : { ...plan.monitor } },
      relationships: {},
    });
    const seen = new Set<string>();
    for (let k = 0; k < plan.codes; k++) {
      let code = '';
      while (code === '' || seen.has(code)) {
        code = '';
        for (let c = 0; c < 12; c++) code += CODE_ALPHABET[rng.int(CODE_ALPHABET.length)];
      }
      seen.add(code);
      const status: CodeStatus = input.profiles === 0
        ? 'UNASSIGNED'
        : rng.weighted<CodeStatus>([['UNASSIGNED', 5], ['ASSIGNED_TO_PROFILE', 3], ['USED', 2]]);
      const profile = status === 'UNASSIGNED' ? null : ref('profile', input.profileIdAt(rng.int(input.profiles)));
      // Issued over the last 400 days and valid for a year, so some have already expired.
      const issuedMs = nowMs - rng.between(1, 400) * DAY;
      couponCodes.push({
        type: 'coupon-code',
        id: `${plan.id}-${code}`,
        attributes: { unique_code: code, expires_at: klaviyoTime(issuedMs + 365 * DAY), status },
        relationships: { coupon: ref('coupon', plan.id), profile },
      });
    }
  }

  const catalogItems: StoredResource[] = [];
  const catalogVariants: StoredResource[] = [];
  const itemsByCategory = new Map<string, ResourceIdentifier[]>(CATEGORIES.map((c) => [c, []]));
  const newArrivals: ResourceIdentifier[] = [];
  const giftsUnder50: ResourceIdentifier[] = [];
  const span = nowMs - 45 * DAY - accountStartMs;
  PRODUCTS.forEach((p, k) => {
    const createdMs = accountStartMs + Math.floor((k / PRODUCTS.length) * span) + rng.between(0, 23) * HOUR;
    const updatedMs = Math.min(nowMs - HOUR, createdMs + rng.between(1, 300) * DAY);
    const id = catalogId(p.sku);
    const image = `${STORE_URL}/cdn/products/${p.slug}.jpg`;
    const thumbnail = `${STORE_URL}/cdn/products/${p.slug}_thumb.jpg`;
    const url = `${STORE_URL}/products/${p.slug}`;
    // Two products are retired: still in the catalog, no longer published.
    const published = k !== 8 && k !== 15;
    const variants = sizesOf(p).map((size): StoredResource => {
      const sku = `${p.sku}-${size}`;
      return {
        type: 'catalog-variant',
        id: catalogId(sku),
        attributes: {
          external_id: sku,
          sku,
          title: size === 'OS' ? p.name : `${p.name} – ${size}`,
          description: `${p.name}, size ${size === 'OS' ? 'one size' : size}.`,
          price: p.price,
          url: `${url}?variant=${size}`,
          image_full_url: image,
          image_thumbnail_url: thumbnail,
          images: [image],
          custom_metadata: { size },
          published,
          inventory_policy: rng.pick([0, 1, 2]),
          inventory_quantity: published ? rng.between(0, 120) : 0,
          created: klaviyoTime(createdMs),
          updated: klaviyoTime(updatedMs),
        },
        relationships: { item: ref('catalog-item', id) },
      };
    });
    catalogVariants.push(...variants);
    catalogItems.push({
      type: 'catalog-item',
      id,
      attributes: {
        external_id: p.sku,
        title: p.name,
        description: `The ${p.name}, from Juniper & Pine's ${p.category.toLowerCase()} collection: made to last, for every trail and commute.`,
        price: p.price,
        url,
        image_full_url: image,
        image_thumbnail_url: thumbnail,
        images: [image, `${STORE_URL}/cdn/products/${p.slug}-detail.jpg`],
        custom_metadata: { product_id: p.id, brand: 'Juniper & Pine', category: p.category },
        published,
        created: klaviyoTime(createdMs),
        updated: klaviyoTime(updatedMs),
      },
      relationships: { variants: variants.map((v) => ref('catalog-variant', v.id)) },
    });
    itemsByCategory.get(p.category)!.push(ref('catalog-item', id));
    if (k >= PRODUCTS.length - 5) newArrivals.push(ref('catalog-item', id));
    if (p.price < 50) giftsUnder50.push(ref('catalog-item', id));
  });

  const category = (externalId: string, name: string, items: ResourceIdentifier[], k: number): StoredResource => ({
    type: 'catalog-category',
    id: catalogId(externalId),
    attributes: { external_id: externalId, name, updated: klaviyoTime(nowMs - (k + 1) * 5 * DAY) },
    relationships: { items },
  });
  const catalogCategories = [
    ...CATEGORIES.map((name, k) => category(name.toLowerCase(), name, itemsByCategory.get(name)!, k)),
    category('new-arrivals', 'New Arrivals', newArrivals, CATEGORIES.length),
    category('gifts-under-50', 'Gifts Under $50', giftsUnder50, CATEGORIES.length + 1),
  ];

  return { coupons, couponCodes, catalogItems, catalogVariants, catalogCategories };
}
