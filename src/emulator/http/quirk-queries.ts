/**
 * Quirks that change what a read matches, as rewrites of the validated filter conditions before
 * the handler sees them (so the evaluator and the sorted indexes need not know about quirks):
 *
 *   inclusive-bounds       `greater-than` and `less-than` also match a value equal to the bound,
 *                          as estuary/connectors PR #4062 saw Klaviyo do with greater-than
 *                          ("documents whose cursor field was at the lower bound").
 *   archived-flows-hidden  GET /api/flows leaves archived flows out unless the filter names
 *                          `archived` (then the filter decides), as GET /api/campaigns always does.
 *   microseconds           filters compare the rendered microsecond values (quirk-datetimes.ts).
 */
import type { OperationMeta } from '../../klaviyo/api-metadata-types.js';
import type { Condition } from './filter-validator.js';
import type { ParsedQuery } from './query.js';
import { microsecondConditions } from './quirk-datetimes.js';
import type { QuirkName } from './quirks.js';

const INCLUSIVE: Record<string, string> = { 'greater-than': 'greater-or-equal', 'less-than': 'less-or-equal' };

export function inclusiveBounds(conditions: readonly Condition[]): { conditions: Condition[]; changed: boolean } {
  let changed = false;
  const out = conditions.map((c) => {
    const operator = INCLUSIVE[c.operator];
    if (!operator) return c;
    changed = true;
    return { ...c, operator };
  });
  return { conditions: out, changed };
}

export function hideArchivedFlows(conditions: readonly Condition[], operationId: string, op: OperationMeta): { conditions: Condition[]; changed: boolean } {
  const archived = op.filters.archived;
  if (operationId !== 'get_flows' || !archived || conditions.some((c) => c.field === 'archived')) return { conditions: [...conditions], changed: false };
  return { conditions: [...conditions, { operator: 'equals', field: 'archived', value: false, meta: archived }], changed: true };
}

/** The query as the quirks that are on make the handler read it, and the quirks that changed it. */
export function quirkedQuery(
  query: ParsedQuery,
  request: { operationId: string; op: OperationMeta },
  on: (name: QuirkName) => boolean,
): { query: ParsedQuery; applied: QuirkName[] } {
  const applied: QuirkName[] = [];
  let conditions = query.filter;
  // The client's operators first: an inclusive greater-than is then a greater-or-equal on microseconds.
  if (on('inclusive-bounds')) {
    const r = inclusiveBounds(conditions);
    if (r.changed) {
      conditions = r.conditions;
      applied.push('inclusive-bounds');
    }
  }
  if (on('archived-flows-hidden')) {
    const r = hideArchivedFlows(conditions, request.operationId, request.op);
    if (r.changed) {
      conditions = r.conditions;
      applied.push('archived-flows-hidden');
    }
  }
  if (on('microseconds') && request.op.responseType) {
    // Applied is counted when the answer is rendered; this only keeps filters consistent with it.
    conditions = microsecondConditions(conditions, request.op.responseType).conditions;
  }
  return { query: conditions === query.filter ? query : { ...query, filter: conditions }, applied };
}
