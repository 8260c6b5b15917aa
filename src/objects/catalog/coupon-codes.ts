/**
 * CouponCodes (GET /api/coupon-codes): the unique codes of coupons. Klaviyo refuses to list
 * coupon codes without a filter on the coupon or the profile, so:
 * - `--where "CouponId = '...'"` (or `in`, or a ProfileId condition) is pushed down as that filter;
 * - without one, klv lists every coupon (GET /api/coupons) and reads each coupon's codes in turn.
 * Expiry comparisons and Status equality are pushed down in both cases.
 */
import type { KlaviyoClient } from '../../klaviyo/client.js';
import { filter as f } from '../../klaviyo/filter-builder.js';
import type { JsonApiResource } from '../../klaviyo/json-api.js';
import { planCollectionRead, type CollectionSource } from '../read/collection-reader.js';
import { plannedRequest } from '../read/query.js';
import type { ColumnDef, Condition, ObjectDefinition, ReadPlan, ReadReport, ReadRequest, Row } from '../types.js';
import { idColumn } from './common-columns.js';

const STATUSES = ['UNASSIGNED', 'PROCESSING', 'ASSIGNED_TO_PROFILE', 'VERSION_NOT_ACTIVE', 'DELETING', 'USED'] as const;

/** The id a to-one relationship points to, or null. */
function relatedId(name: string) {
  return (resource: JsonApiResource): string | null => {
    const data = resource.relationships?.[name]?.data;
    if (data && !Array.isArray(data)) return data.id;
    const included = resource.includedRelationships?.[name];
    return included && !Array.isArray(included) ? included.id : null;
  };
}

const COLUMNS: ColumnDef[] = [
  // get_coupon_codes cannot filter on id: Id = '...' reads the code by id.
  idColumn('coupon code', undefined),
  { name: 'UniqueCode', type: 'string', description: 'The code a customer types at checkout', path: 'unique_code', aliases: ['unique_code', 'code'], requiredOnInsert: true },
  {
    name: 'ExpiresAt',
    type: 'datetime',
    description: 'When the code stops working (Klaviyo defaults it to one year after creation)',
    path: 'expires_at',
    aliases: ['expires_at'],
    filterField: 'expires_at',
  },
  {
    name: 'Status',
    type: 'string',
    enum: STATUSES,
    description: 'UNASSIGNED, PROCESSING, ASSIGNED_TO_PROFILE, VERSION_NOT_ACTIVE, DELETING or USED',
    path: 'status',
    aliases: ['status'],
    readOnly: true,
    filterField: 'status',
  },
  {
    name: 'CouponId',
    type: 'id',
    description: 'Id of the coupon the code belongs to',
    get: relatedId('coupon'),
    aliases: ['coupon_id', 'coupon.id'],
    filterField: 'coupon.id',
    requiredOnInsert: true,
    sparseField: null,
  },
  {
    name: 'ProfileId',
    type: 'id',
    description: 'Id of the profile the code was given to, if any',
    get: relatedId('profile'),
    aliases: ['profile_id', 'profile.id'],
    readOnly: true,
    filterField: 'profile.id',
    sparseField: null,
  },
];

const SOURCE: CollectionSource = {
  resourceType: 'coupon-code',
  list: 'get_coupon_codes',
  byId: 'get_coupon_code',
  purpose: 'the codes of the coupons or profiles named in --where',
};

/** A condition the API can scope the listing with: CouponId or ProfileId = / in, no nulls. */
function isScope(c: Condition): boolean {
  if (c.column !== 'CouponId' && c.column !== 'ProfileId') return false;
  if (c.op === '=') return typeof c.value === 'string';
  if (c.op === 'in') return Array.isArray(c.value) && c.value.length > 0 && c.value.every((v) => typeof v === 'string');
  return false;
}

function plan(def: ObjectDefinition, request: ReadRequest): ReadPlan {
  const byId = request.where.some((c) => c.column === 'Id' && c.op === '=' && typeof c.value === 'string');
  if (byId || request.where.some(isScope)) return planCollectionRead(def, SOURCE, request);

  // No scope: one listing per coupon. The coupon id is placed by execute(); --explain shows a placeholder.
  const perCoupon = (couponId: string) =>
    planCollectionRead(
      def,
      { ...SOURCE, baseFilters: [f.equals('coupon.id', couponId)], purpose: 'the codes of each coupon' },
      { ...request, limit: undefined },
    );
  const sample = perCoupon('{coupon id}');
  const couponsQuery = { 'fields[coupon]': 'external_id' };
  return {
    requests: [plannedRequest('get_coupons', couponsQuery, 'every coupon, to read its codes'), ...sample.requests.map((r) => ({ ...r, repeat: null }))],
    localConditions: sample.localConditions,
    notes: [
      ...sample.notes,
      "Klaviyo lists coupon codes only for given coupons or profiles: klv reads every coupon, then each one's codes. --where \"CouponId = '...'\" reads one coupon's codes directly.",
    ],
    async *execute(client: KlaviyoClient, signal?: AbortSignal, report?: ReadReport) {
      if (request.limit !== undefined && request.limit <= 0) return;
      let count = 0;
      for await (const coupon of client.paginate('get_coupons', { query: couponsQuery, signal })) {
        for await (const row of perCoupon(coupon.id).execute(client, signal, report)) {
          // The listing was scoped to this coupon: the code belongs to it even if Klaviyo left the relationship out.
          const out: Row = 'CouponId' in row && row.CouponId === null ? { ...row, CouponId: coupon.id } : row;
          yield out;
          count += 1;
          if (request.limit !== undefined && count >= request.limit) return;
        }
      }
    },
  };
}

export const CouponCodes: ObjectDefinition = {
  name: 'CouponCodes',
  description: 'The unique codes of coupons, and the profiles they were given to',
  key: ['Id'],
  columns: COLUMNS,
  operations: [],
  constraints: [
    "Klaviyo lists coupon codes only for given coupons or profiles: with --where \"CouponId = '...'\" (or ProfileId) klv asks for those; without, it reads every coupon and then each coupon's codes.",
    'Klaviyo filters ExpiresAt with > >= < <= and Status with =; other conditions are checked by klv.',
    'A new code needs UniqueCode and CouponId; ExpiresAt defaults to one year later. Bulk creation takes at most 1,000 codes per job.',
    'Klaviyo has no created or updated time on coupon codes, so they cannot be read incrementally.',
  ],
  plan: (request) => plan(CouponCodes, request),
};
