/**
 * GET /api/campaigns: the generic list, plus Klaviyo's default of leaving archived campaigns
 * out. Klaviyo lists archived campaigns only when the filter asks for them with
 * `equals(archived,true)` (and then only them); `equals(archived,false)` or no archived
 * condition at all lists the others. A client that wants both asks twice.
 */
import type { Condition } from '../http/filter-validator.js';
import { collectionSource, listDocument } from './read.js';
import type { Handler } from './types.js';

export const campaignHandlers: Record<string, Handler> = {
  get_campaigns: (ctx) => {
    const conditions = ctx.query.filter;
    if (conditions.some((c) => c.field === 'archived')) return listDocument(ctx, collectionSource(ctx.store, 'campaign'));
    const notArchived: Condition = { operator: 'equals', field: 'archived', value: false, meta: ctx.op.filters.archived! };
    const query = { ...ctx.query, filter: [...conditions, notArchived] };
    return listDocument({ ...ctx, query }, collectionSource(ctx.store, 'campaign'));
  },
};
