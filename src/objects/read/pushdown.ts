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
import { epochMsFloor, hasSubMillisecond, type Instant, parseInstant } from '../../core/timestamps.js';
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

/** A datetime value's instant (zoneless text is UTC), or undefined for other values. */
function instantFor(value: ScalarValue, column: ColumnDef): Instant | undefined {
  return column.type === 'datetime' && typeof value === 'string' ? parseInstant(value, { dateAsMidnight: true }) : undefined;
}

function scalarFor(value: ScalarValue, column: ColumnDef): FilterScalar {
  const instant = instantFor(value, column);
  return instant ? new Date(epochMsFloor(instant)) : (value as FilterScalar);
}

function shift(value: ScalarValue, column: ColumnDef, ms: number): FilterScalar | undefined {
  const instant = instantFor(value, column);
  return instant ? new Date(epochMsFloor(instant) + ms) : undefined;
}

/**
 * A datetime bound with microseconds (`Created > '...45.276362'`) has no exact filter: the filter
 * takes a Date, which holds milliseconds. It is sent as the millisecond bound around it (a
 * superset: the millisecond it falls in is read) and kept local, where it is checked to the last
 * digit. Equality and lists of such values are not sent at all.
 */
function translateFine(
  condition: Condition,
  instant: Instant,
  field: string,
  allows: (op: FilterOperator) => boolean,
): { filter: FilterCondition; exact: boolean } | undefined {
  const floor = new Date(epochMsFloor(instant));
  const ceil = new Date(epochMsFloor(instant) + 1);
  switch (condition.op) {
    case '>':
    case '>=':
      if (allows('greater-than')) return { filter: f.greaterThan(field, floor), exact: false };
      if (allows('greater-or-equal')) return { filter: f.greaterOrEqual(field, floor), exact: false };
      return undefined;
    case '<':
    case '<=':
      if (allows('less-than')) return { filter: f.lessThan(field, ceil), exact: false };
      if (allows('less-or-equal')) return { filter: f.lessOrEqual(field, ceil), exact: false };
      return undefined;
    default:
      return undefined;
  }
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
  const fine = [v].flat().map((x) => instantFor(x as ScalarValue, column)).filter((i): i is Instant => i !== undefined && hasSubMillisecond(i));
  if (fine.length > 0) return condition.op === 'in' ? undefined : translateFine(condition, fine[0]!, field, allows);
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
