/**
 * Checks a parsed filter against what one endpoint allows (the spec's `x-klaviyo-filters`, carried
 * in OPERATIONS[op].filters): the field, the operator for that field, and the value's type and
 * enum. Klaviyo enforces these strictly, so the emulator does too, with a detail that names the
 * field and operator and lists what is allowed. Returns the conditions as a flat conjunction,
 * because Klaviyo only combines with `and`.
 */
import type { FilterFieldMeta } from '../../klaviyo/api-metadata-types.js';
import { ApiError } from './api-error.js';
import { formatFilterValue, type FilterNode, type FilterScalar, type FilterValue } from './filter-parser.js';

export interface Condition {
  operator: string;
  field: string;
  value?: FilterValue;
  meta: FilterFieldMeta;
}

const LIST_OPERATORS = new Set(['any', 'contains-any', 'contains-all']);
const TEXT_OPERATORS = new Set(['contains', 'starts-with', 'ends-with']);
const ORDER_OPERATORS = new Set(['greater-than', 'less-than', 'greater-or-equal', 'less-or-equal']);

/**
 * The operators allowed for a field. The generator keeps the spec's `single` and `list`
 * operator groups; the spec's third group, `none`, holds only `has` (events: `has(profile)`),
 * so a field listed with no operators is a `has` field.
 */
export function allowedOperators(meta: FilterFieldMeta): string[] {
  return meta.operators.length > 0 ? meta.operators : ['has'];
}

function invalid(detail: string): ApiError {
  return new ApiError(400, 'invalid', detail, { source: { parameter: 'filter' } });
}

export function validateFilter(
  node: FilterNode,
  filters: Record<string, FilterFieldMeta>,
  options: { endpoint: string; requiredFields?: string[][] },
): Condition[] {
  const conditions: Condition[] = [];
  collect(node, filters, options.endpoint, conditions);
  checkRequired(conditions, filters, options);
  return conditions;
}

/**
 * Some endpoints refuse to list without a filter on a given field (campaigns need the channel,
 * coupon codes a coupon or a profile): each group lists fields of which one must be filtered on.
 */
export function checkRequired(
  conditions: Condition[],
  filters: Record<string, FilterFieldMeta>,
  options: { endpoint: string; requiredFields?: string[][] },
): void {
  for (const group of options.requiredFields ?? []) {
    if (conditions.some((c) => group.includes(c.field))) continue;
    const examples = group.map((f) => (filters[f] ? `filter=${exampleFor(f, filters[f])}` : f));
    throw invalid(`${options.endpoint} requires a filter on ${group.map((f) => `'${f}'`).join(' or ')}, e.g. ${examples.join(' or ')}.`);
  }
}

function collect(node: FilterNode, filters: Record<string, FilterFieldMeta>, endpoint: string, out: Condition[]): void {
  if (node.kind !== 'condition') {
    if (node.kind === 'and') {
      for (const operand of node.operands) collect(operand, filters, endpoint, out);
      return;
    }
    throw invalid(`The '${node.kind}' operator is not supported by ${endpoint}: Klaviyo filters combine conditions with and(...) or commas only.`);
  }
  const meta = filters[node.field];
  if (!meta) {
    throw invalid(`'${node.field}' is not a filterable field of ${endpoint}. Filterable fields: ${Object.keys(filters).join(', ')}.`);
  }
  const operators = allowedOperators(meta);
  if (!operators.includes(node.operator)) {
    throw invalid(`Operator '${node.operator}' is not allowed for field '${node.field}' of ${endpoint}. Allowed operators for '${node.field}': ${operators.join(', ')}.`);
  }
  checkValue(node.operator, node.field, node.value, meta);
  out.push({ operator: node.operator, field: node.field, value: node.value, meta });
}

function checkValue(operator: string, field: string, value: FilterValue | undefined, meta: FilterFieldMeta): void {
  const written = `${operator}(${field}${value === undefined ? '' : `,${formatFilterValue(value)}`})`;
  if (operator === 'has') {
    if (value !== undefined) throw invalid(`'has' takes only a field: write has(${field}), not ${written}.`);
    return;
  }
  if (value === undefined) throw invalid(`'${operator}' needs a value: ${written} has none.`);
  if (LIST_OPERATORS.has(operator)) {
    if (!Array.isArray(value) || value.length === 0) {
      throw invalid(`'${operator}' needs a non-empty list, e.g. ${operator}(${field},${exampleList(meta)}); got ${written}.`);
    }
    for (const item of value) checkScalar(item, operator, field, meta, written);
    return;
  }
  if (Array.isArray(value)) {
    // The spec lets `equals` take a list for a few fields (events: metric_id); nothing else does.
    if (operator !== 'equals') throw invalid(`'${operator}' takes a single value, not a list: ${written}.`);
    for (const item of value) checkScalar(item, operator, field, meta, written);
    return;
  }
  if (value === null && operator !== 'equals') throw invalid(`'${operator}' cannot compare with null: ${written}.`);
  checkScalar(value, operator, field, meta, written);
}

function checkScalar(value: FilterScalar, operator: string, field: string, meta: FilterFieldMeta, written: string): void {
  if (value === null) return;
  if (meta.format === 'date-time') {
    if (typeof value !== 'object') {
      throw invalid(`'${field}' is a datetime: write the value unquoted in ISO 8601, e.g. ${operator}(${field},2024-01-01T00:00:00Z); got ${written}.`);
    }
    return;
  }
  const type = meta.type;
  if (type === 'string') {
    if (typeof value !== 'string') throw invalid(`'${field}' is a string: quote the value, e.g. ${operator}(${field},'value'); got ${written}.`);
    if (meta.enum && !meta.enum.includes(value)) {
      throw invalid(`'${value}' is not a valid value for '${field}'. Valid values: ${meta.enum.join(', ')}.`);
    }
    return;
  }
  if (TEXT_OPERATORS.has(operator)) throw invalid(`'${operator}' applies to text, but '${field}' is a ${type}.`);
  if ((type === 'number' || type === 'integer') && typeof value !== 'number') {
    throw invalid(`'${field}' is a number: write it unquoted, e.g. ${operator}(${field},1700000000); got ${written}.`);
  }
  if (type === 'boolean' && typeof value !== 'boolean') {
    throw invalid(`'${field}' is a boolean: write true or false unquoted; got ${written}.`);
  }
  if (type === 'boolean' && ORDER_OPERATORS.has(operator)) throw invalid(`'${operator}' cannot compare booleans.`);
}

function exampleList(meta: FilterFieldMeta): string {
  if (meta.enum) return `[${meta.enum.slice(0, 2).map((v) => `'${v}'`).join(',')}]`;
  return meta.type === 'string' ? "['a','b']" : '[1,2]';
}

function exampleFor(field: string, meta: FilterFieldMeta): string {
  const operator = allowedOperators(meta)[0];
  if (operator === 'has') return `has(${field})`;
  if (LIST_OPERATORS.has(operator)) return `${operator}(${field},${exampleList(meta)})`;
  const value = meta.enum ? `'${meta.enum[0]}'` : meta.format === 'date-time' ? '2024-01-01T00:00:00Z' : meta.type === 'string' ? "'value'" : meta.type === 'boolean' ? 'true' : '1';
  return `${operator}(${field},${value})`;
}
