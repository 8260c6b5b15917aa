/**
 * Push-down: which --where conditions become part of Klaviyo's `filter` parameter for an
 * endpoint, and which klv must check locally. The allowed fields and operators come from the
 * spec (OPERATIONS[op].filters), so a condition is pushed only where the endpoint accepts it.
 *
 * A condition may also be pushed as a superset (e.g. `>=` on a field that only allows
 * `greater-than`, sent as greater-than(value - 1 s)); then it stays in the local conditions too,
 * so the rows are exact either way. So do `>` and `<` sent as greater-than and less-than:
 * Klaviyo's are reported to match the bound too (estuary/connectors PR #4062), and a row equal
 * to the bound must not get through. Checking a range locally is exact and cheap. Equality and
 * text conditions are left to Klaviyo's own matching.
 */
import type { FilterFieldMeta, FilterOperator } from '../../klaviyo/api-metadata-types.js';
import { filter as f, formatFilter, type FilterCondition, type FilterScalar } from '../../klaviyo/filter-builder.js';
import { OPERATIONS, type OperationId } from '../../klaviyo/generated/api-metadata.js';
import type { ColumnDef, Condition, ScalarValue } from '../types.js';

export interface PushdownResult {
  /** The API filter conditions, in the order of the conditions they came from. */
  filters: FilterCondition[];
  /** Conditions to check on each row (not pushed, or pushed only as a superset). */
  local: Condition[];
  /** Conditions fully answered by the API. */
  pushed: Condition[];
}

const ONE_SECOND = 1000;

function scalarFor(value: ScalarValue, column: ColumnDef): FilterScalar {
  if (column.type === 'datetime' && typeof value === 'string') return new Date(value);
  return value as FilterScalar;
}

function shift(value: ScalarValue, column: ColumnDef, ms: number): FilterScalar | undefined {
  if (column.type !== 'datetime' || typeof value !== 'string') return undefined;
  return new Date(Date.parse(value) + ms);
}

/** One condition as an API filter: exact, as a superset, or not at all. */
function translate(
  condition: Condition,
  column: ColumnDef,
  meta: FilterFieldMeta,
): { filter: FilterCondition; exact: boolean } | undefined {
  const field = column.filterField!;
  const allows = (op: FilterOperator) => meta.operators.includes(op);
  const v = condition.value;
  if (v === null || (Array.isArray(v) && v.some((x) => x === null))) return undefined;
  if (meta.enum && [v].flat().some((x) => !meta.enum!.includes(x as string))) return undefined;
  switch (condition.op) {
    case '=':
      if (allows('equals')) return { filter: f.equals(field, scalarFor(v as ScalarValue, column)), exact: true };
      if (allows('any')) return { filter: f.any(field, [scalarFor(v as ScalarValue, column)]), exact: true };
      return undefined;
    case 'in': {
      const list = (v as ScalarValue[]).map((x) => scalarFor(x, column));
      if (allows('any')) return { filter: f.any(field, list), exact: true };
      if (list.length === 1 && allows('equals')) return { filter: f.equals(field, list[0]), exact: true };
      return undefined;
    }
    case '>':
      if (allows('greater-than')) return { filter: f.greaterThan(field, scalarFor(v as ScalarValue, column)), exact: false };
      if (allows('greater-or-equal')) return { filter: f.greaterOrEqual(field, scalarFor(v as ScalarValue, column)), exact: false };
      return undefined;
    case '>=': {
      if (allows('greater-or-equal')) return { filter: f.greaterOrEqual(field, scalarFor(v as ScalarValue, column)), exact: true };
      const earlier = shift(v as ScalarValue, column, -ONE_SECOND);
      if (earlier !== undefined && allows('greater-than')) return { filter: f.greaterThan(field, earlier), exact: false };
      return undefined;
    }
    case '<':
      if (allows('less-than')) return { filter: f.lessThan(field, scalarFor(v as ScalarValue, column)), exact: false };
      if (allows('less-or-equal')) return { filter: f.lessOrEqual(field, scalarFor(v as ScalarValue, column)), exact: false };
      return undefined;
    case '<=': {
      if (allows('less-or-equal')) return { filter: f.lessOrEqual(field, scalarFor(v as ScalarValue, column)), exact: true };
      const later = shift(v as ScalarValue, column, ONE_SECOND);
      if (later !== undefined && allows('less-than')) return { filter: f.lessThan(field, later), exact: false };
      return undefined;
    }
    case 'contains':
      return allows('contains') ? { filter: f.contains(field, v as string), exact: true } : undefined;
    case 'starts-with':
      return allows('starts-with') ? { filter: f.startsWith(field, v as string), exact: true } : undefined;
    case 'ends-with':
      return allows('ends-with') ? { filter: f.endsWith(field, v as string), exact: true } : undefined;
    default:
      return undefined;
  }
}

export function pushdown(
  operationId: OperationId,
  conditions: readonly Condition[],
  columnsByName: ReadonlyMap<string, ColumnDef>,
): PushdownResult {
  const allowed = OPERATIONS[operationId].filters;
  const result: PushdownResult = { filters: [], local: [], pushed: [] };
  const usedExact = new Set<string>();
  for (const condition of conditions) {
    const column = columnsByName.get(condition.column);
    const meta = column?.filterField ? allowed[column.filterField] : undefined;
    const t = column && meta ? translate(condition, column, meta) : undefined;
    // Klaviyo refuses the same field twice with the same operator; keep the second one local.
    const key = t ? `${t.filter.operator}(${t.filter.field})` : '';
    if (!t || usedExact.has(key)) {
      result.local.push(condition);
      continue;
    }
    usedExact.add(key);
    result.filters.push(t.filter);
    if (t.exact) result.pushed.push(condition);
    else result.local.push(condition);
  }
  return result;
}

/** The `filter` query value for these conditions plus any fixed ones, or undefined for none. */
export function filterParam(operationId: OperationId, conditions: readonly FilterCondition[]): string | undefined {
  if (conditions.length === 0) return undefined;
  return formatFilter(f.and(...conditions), OPERATIONS[operationId].filters);
}
