/**
 * Reads and checks the query string of one request against the operation's metadata: page size
 * and cursor, filter, sort, include, sparse fieldsets and additional fields. Anything the
 * operation does not declare is refused with a 400 naming the parameter, as Klaviyo does, so a
 * client bug shows up against the emulator rather than in production.
 */
import type { OperationMeta } from '../../klaviyo/api-metadata-types.js';
import { invalidParameter } from './api-error.js';
import { parseFilter, FilterSyntaxError } from './filter-parser.js';
import { validateFilter, checkRequired, type Condition } from './filter-validator.js';
import { decodeCursor } from './paging.js';

export interface SortSpec {
  field: string;
  descending: boolean;
}

export interface ParsedQuery {
  /** Items per page; null when the endpoint is not paginated (everything in one response). */
  pageSize: number | null;
  /** Offset decoded from page[cursor] (0 without one). */
  offset: number;
  filter: Condition[];
  sort: SortSpec | null;
  include: string[];
  /** fields[type] → requested attribute paths. */
  fields: Record<string, string[]>;
  /** additional-fields[type] → requested extra attributes. */
  additionalFields: Record<string, string[]>;
}

/**
 * Fields an endpoint insists on being filtered by, which the spec states only in prose
 * (the metadata knows that `filter` is required, not on which field).
 */
export const REQUIRED_FILTER_FIELDS: Record<string, string[][]> = {
  get_campaigns: [['messages.channel']],
  get_coupon_codes: [['coupon.id', 'profile.id']],
};

/** Paginated endpoints with neither page[size] nor a documented fixed size (bulk-job lists). */
const UNDOCUMENTED_PAGE_SIZE = 100;

export function parseQuery(operationId: string, op: OperationMeta, params: URLSearchParams): ParsedQuery {
  const endpoint = `${op.method} ${op.path}`;
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (seen.has(name)) throw invalidParameter(name, `'${name}' was given more than once; give it once (comma-separate multiple values).`);
    seen.add(name);
    if (!isDeclared(op, name)) throw invalidParameter(name, `'${name}' is not a valid query parameter for ${endpoint}.`);
  }

  const query: ParsedQuery = { pageSize: null, offset: 0, filter: [], sort: null, include: [], fields: {}, additionalFields: {} };

  if (op.paginated) query.pageSize = op.pageSize ? (op.pageSize.default ?? op.pageSize.max ?? UNDOCUMENTED_PAGE_SIZE) : (op.fixedPageSize ?? UNDOCUMENTED_PAGE_SIZE);
  const size = params.get('page[size]');
  if (size !== null && op.pageSize) {
    const min = op.pageSize.min;
    const max = op.pageSize.max ?? Number.MAX_SAFE_INTEGER;
    const n = /^\d{1,9}$/.test(size) ? Number(size) : NaN;
    if (!(n >= min && n <= max)) {
      throw invalidParameter('page[size]', `page[size] must be an integer from ${min} to ${max} for ${endpoint}; got '${size}'.`);
    }
    query.pageSize = n;
  }
  const cursor = params.get('page[cursor]');
  if (cursor !== null) query.offset = decodeCursor(cursor);

  const filter = params.get('filter');
  const requiredFields = REQUIRED_FILTER_FIELDS[operationId];
  if (filter === null || filter.trim() === '') {
    if (op.requiredQuery.includes('filter')) {
      // Names the field when the endpoint needs a particular one, generic otherwise.
      checkRequired([], op.filters, { endpoint, requiredFields });
      throw invalidParameter('filter', `${endpoint} requires the filter parameter.`);
    }
  } else {
    let ast;
    try {
      ast = parseFilter(filter);
    } catch (err) {
      if (err instanceof FilterSyntaxError) throw invalidParameter('filter', `Invalid filter: ${err.message}.`);
      throw err;
    }
    query.filter = validateFilter(ast, op.filters, { endpoint, requiredFields });
  }

  const sort = params.get('sort');
  if (sort !== null) {
    const descending = sort.startsWith('-');
    const field = descending ? sort.slice(1) : sort;
    if (!op.sort.includes(field)) {
      throw invalidParameter('sort', `'${sort}' is not a valid sort for ${endpoint}. Valid sorts: ${op.sort.flatMap((s) => [s, `-${s}`]).join(', ')}.`);
    }
    query.sort = { field, descending };
  }

  const include = params.get('include');
  if (include !== null) {
    query.include = splitList(include, 'include');
    for (const name of query.include) {
      if (!op.include.includes(name)) {
        throw invalidParameter('include', `'${name}' is not a valid include for ${endpoint}. Valid includes: ${op.include.join(', ')}.`);
      }
    }
  }

  for (const [name, value] of params) {
    const f = /^fields\[(.+)\]$/.exec(name);
    if (f) {
      const allowed = op.fields[f[1]] ?? [];
      const requested = splitList(value, name);
      for (const field of requested) {
        if (!allowed.includes(field)) {
          throw invalidParameter(name, `'${field}' is not a valid field for ${name} on ${endpoint}. Valid fields: ${allowed.join(', ')}.`);
        }
      }
      query.fields[f[1]] = requested;
    }
    const a = /^additional-fields\[(.+)\]$/.exec(name);
    if (a) {
      const allowed = op.additionalFields[a[1]] ?? [];
      const requested = splitList(value, name);
      for (const field of requested) {
        if (!allowed.includes(field)) {
          throw invalidParameter(name, `'${field}' is not a valid value for ${name} on ${endpoint}. Valid values: ${allowed.join(', ')}.`);
        }
      }
      query.additionalFields[a[1]] = requested;
    }
  }
  return query;
}

function isDeclared(op: OperationMeta, name: string): boolean {
  if (name === 'filter') return Object.keys(op.filters).length > 0;
  if (name === 'sort') return op.sort.length > 0;
  if (name === 'include') return op.include.length > 0;
  if (name === 'page[size]') return op.pageSize !== null;
  if (name === 'page[cursor]') return op.paginated;
  const f = /^fields\[(.+)\]$/.exec(name);
  if (f) return f[1] in op.fields;
  const a = /^additional-fields\[(.+)\]$/.exec(name);
  if (a) return a[1] in op.additionalFields;
  return false;
}

function splitList(value: string, parameter: string): string[] {
  const items = value.split(',');
  if (items.some((i) => i.trim() === '')) {
    throw invalidParameter(parameter, `${parameter} has an empty item in '${value}': separate values with single commas, no spaces.`);
  }
  return items;
}
