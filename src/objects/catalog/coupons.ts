/**
 * Coupons (GET /api/coupons): the discounts whose unique codes Klaviyo hands out (CouponCodes).
 * The endpoint has no filters and no timestamps: every --where is checked by klv, and coupons
 * cannot be read incrementally. Accounts have few coupons (pages of 100).
 */
import { collectionObject } from '../read/collection-reader.js';
import { idColumn } from './common-columns.js';

export const Coupons = collectionObject(
  {
    name: 'Coupons',
    description: 'Discounts whose unique codes Klaviyo sends to profiles',
    key: ['Id'],
    columns: [
      // The endpoint filters nothing; Id = '...' reads the coupon by id.
      idColumn('coupon', undefined),
      {
        name: 'ExternalId',
        type: 'string',
        description: 'The coupon\'s id in your store (its name in the Klaviyo app, e.g. 10OFF)',
        path: 'external_id',
        aliases: ['external_id'],
        requiredOnInsert: true,
      },
      { name: 'Description', type: 'string', description: 'What the coupon is for', path: 'description', aliases: ['description'] },
      {
        name: 'MonitorConfiguration',
        type: 'json',
        description: 'Low-balance alert settings ({"low_balance_threshold": N}), as JSON',
        path: 'monitor_configuration',
        aliases: ['monitor_configuration'],
      },
    ],
    operations: [],
    constraints: [
      'Klaviyo cannot filter coupons: klv reads them all and checks every --where itself.',
      'Klaviyo has no timestamps on coupons, so they cannot be read incrementally.',
      'ExternalId is required and unique; creating, changing or deleting coupons is limited to 3/s, 60/m.',
    ],
  },
  { resourceType: 'coupon', list: 'get_coupons', byId: 'get_coupon', purpose: 'every coupon' },
);
