/**
 * The generic read path: list a source of resources (filter, sort, page), render each one,
 * and add the `included` resources, as one JSON:API document. Every read endpoint goes
 * through here; endpoints differ only in their source (a collection, a list's members, a
 * relationship) and in the filter fields that are not attributes.
 */
import type { AccountStore, ResourceIdentifier, StoredResource } from '../store/types.js';
import type { KeyRange, SortedIndex } from '../store/sorted-index.js';
import { compareSortKeys, matchesAll, sortKey, type FieldResolver } from '../http/filter-evaluator.js';
import type { Condition } from '../http/filter-validator.js';
import type { SortSpec } from '../http/query.js';
import { encodeCursor, readPage } from '../http/paging.js';
import { unsortedPage } from '../http/quirk-unsorted.js';
import { notFound } from '../http/api-error.js';
import { RESOURCES } from '../../klaviyo/generated/api-metadata.js';
import { renderResource, type JsonApiResource } from './render.js';
import { collectionOf, memberships, relationshipOf, resolverFor } from './relations.js';
import type { HandlerContext, HandlerResult } from './types.js';

/** A resource as reached by one endpoint, with attributes that depend on the path (joined_group_at). */
export interface Row {
  resource: StoredResource;
  extra?: Record<string, unknown>;
}

export interface RowSource {
  type: string;
  /** Every row in a stable order, lazily. */
  rows(): Iterable<Row>;
  /** The current row for an id (sorted paging keeps ids and looks rows up page by page). */
  lookup(id: string): Row | undefined;
  /** A smaller candidate set when the filter pins the id or an indexed attribute; null to scan. */
  candidates?(conditions: Condition[]): Iterable<Row> | null;
  /**
   * Rows in the requested order straight from a sorted index (store/sorted-index.ts), narrowed
   * by the filter's comparisons on the indexed attribute; null when no index applies.
   */
  ordered?(conditions: Condition[], sort: SortSpec | null): OrderedRows | null;
  resolve?: FieldResolver;
}

export interface OrderedRows {
  /** The index range is exactly what the filter asks: rows need no check and skipping is arithmetic. */
  exact: boolean;
  /** Rows from the `offset`-th candidate on (undefined for a resource deleted since). */
  from(offset: number): Iterator<Row | undefined>;
}

/** Attributes the store indexes for findBy (see Collection.findBy). */
const INDEXED: Record<string, string[]> = { profile: ['email', 'phone_number', 'external_id'] };

export function collectionSource(store: AccountStore, type: string): RowSource {
  const collection = collectionOf(store, type);
  const toRow = (resource: StoredResource | undefined): Row | undefined => (resource ? { resource } : undefined);
  return {
    type,
    rows: () => (collection ? mapIterable(collection.values(), (resource) => ({ resource })) : []),
    lookup: (id) => toRow(collection?.get(id)),
    candidates(conditions) {
      if (!collection) return null;
      for (const c of conditions) {
        if (c.operator !== 'equals' && c.operator !== 'any') continue;
        const values = (Array.isArray(c.value) ? c.value : [c.value]).filter((v): v is string => typeof v === 'string');
        if (values.length === 0) continue;
        if (c.field === 'id' || c.field === 'ids') return uniqueRows(values.map((id) => collection.get(id)));
        if (INDEXED[type]?.includes(c.field)) return uniqueRows(values.flatMap((v) => collection.findBy(c.field, v)));
      }
      return null;
    },
    ordered(conditions, sort) {
      if (!collection?.sortedIndex) return null;
      const field = sort ? sort.field : conditions.find((c) => isIndexable(type, c.field) && rangeOf(c) !== null)?.field;
      if (!field || !isIndexable(type, field)) return null;
      const { range, consumed } = keyRange(conditions, field);
      if (!sort && consumed === 0) return null;
      const index = collection.sortedIndex(field);
      if (!index) return null;
      const [lo, hi] = index.range(range);
      const exact = consumed === conditions.length;
      const row = (resource: StoredResource | undefined): Row | undefined => (resource ? { resource } : undefined);
      if (sort) return { exact, from: (offset) => mapIterable(index.walk(lo, hi, sort.descending, offset), (rank) => row(index.resourceAt(rank))) };
      // No sort asked: the default order is creation order, so the narrowed range goes back to it.
      let positions: Uint32Array | undefined;
      return {
        exact,
        from(offset) {
          positions ??= positionsInSourceOrder(index, lo, hi);
          const list = positions;
          return mapIterable(rangeOfNumbers(offset, list.length), (i) => row(index.resourceAtPosition(list[i]!)));
        },
      };
    },
    resolve: resolverFor(store, type),
  };
}

/**
 * Top-level datetime and numeric attributes, the ones a sorted index can order: the filter
 * evaluator compares them as numbers (epoch ms), exactly as the index does.
 */
function isIndexable(type: string, field: string): boolean {
  if (field.includes('.')) return false;
  const meta = RESOURCES[type]?.attributes[field];
  return meta !== undefined && (meta.format === 'date-time' || meta.type === 'number' || meta.type === 'integer');
}

/** The bounds one condition puts on a key, or null when it is not a plain comparison with a number or datetime. */
function rangeOf(c: Condition): KeyRange | null {
  const v = c.value;
  let key: number;
  if (c.meta.format === 'date-time') {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
    key = v.ms;
  } else if ((c.meta.type === 'number' || c.meta.type === 'integer') && typeof v === 'number') {
    key = v;
  } else {
    return null;
  }
  switch (c.operator) {
    case 'greater-than':
      return { min: { key, inclusive: false } };
    case 'greater-or-equal':
      return { min: { key, inclusive: true } };
    case 'less-than':
      return { max: { key, inclusive: false } };
    case 'less-or-equal':
      return { max: { key, inclusive: true } };
    case 'equals':
      return { min: { key, inclusive: true }, max: { key, inclusive: true } };
    default:
      return null;
  }
}

/** The tightest range the conditions on `field` allow, and how many conditions it accounts for. */
function keyRange(conditions: Condition[], field: string): { range: KeyRange; consumed: number } {
  const range: KeyRange = {};
  let consumed = 0;
  for (const c of conditions) {
    if (c.field !== field) continue;
    const r = rangeOf(c);
    if (!r) continue;
    consumed++;
    if (r.min && (!range.min || r.min.key > range.min.key || (r.min.key === range.min.key && !r.min.inclusive))) range.min = r.min;
    if (r.max && (!range.max || r.max.key < range.max.key || (r.max.key === range.max.key && !r.max.inclusive))) range.max = r.max;
  }
  return { range, consumed };
}

/** The last range put back in creation order, per index: each page of a cursor asks for the same one. */
const lastRangeInSourceOrder = new WeakMap<SortedIndex, { lo: number; hi: number; positions: Uint32Array }>();

function positionsInSourceOrder(index: SortedIndex, lo: number, hi: number): Uint32Array {
  const last = lastRangeInSourceOrder.get(index);
  if (last && last.lo === lo && last.hi === hi) return last.positions;
  const positions = new Uint32Array(hi - lo);
  for (let rank = lo; rank < hi; rank++) positions[rank - lo] = index.positionAt(rank);
  positions.sort();
  lastRangeInSourceOrder.set(index, { lo, hi, positions });
  return positions;
}

function* rangeOfNumbers(from: number, to: number): Generator<number> {
  for (let i = from; i < to; i++) yield i;
}

/** Profiles of a list or segment, in membership order, each with its joined_group_at. */
export function membershipSource(store: AccountStore, groupType: 'list' | 'segment', groupId: string): RowSource {
  const members = memberships(store, groupType)!.get(groupId) ?? new Map<string, string>();
  const profiles = collectionOf(store, 'profile');
  const lookup = (id: string): Row | undefined => {
    const joined = members.get(id);
    const resource = joined === undefined ? undefined : profiles?.get(id);
    return resource ? { resource, extra: { joined_group_at: joined } } : undefined;
  };
  return {
    type: 'profile',
    *rows() {
      for (const id of members.keys()) {
        const row = lookup(id);
        if (row) yield row;
      }
    },
    lookup,
    // ListSubscribe-style reads ask a big list for one email: find the profile, then check
    // membership, instead of generating every member.
    candidates(conditions) {
      for (const c of conditions) {
        if (c.operator !== 'equals' && c.operator !== 'any') continue;
        const values = (Array.isArray(c.value) ? c.value : [c.value]).filter((v): v is string => typeof v === 'string');
        if (values.length === 0) continue;
        let ids: string[] | undefined;
        if (c.field === 'profile_id') ids = values;
        else if ((c.field === 'email' || c.field === 'phone_number') && profiles) ids = values.flatMap((v) => profiles.findBy(c.field, v).map((p) => p.id));
        if (!ids) continue;
        const wanted = new Set(ids.filter((id) => members.has(id)));
        if (wanted.size <= 1) return [...wanted].map((id) => lookup(id)).filter((r): r is Row => r !== undefined);
        // Several: in membership order, as the scan gives them; one pass over ids, no profile generated.
        const rows: Row[] = [];
        for (const id of members.keys()) {
          if (!wanted.has(id)) continue;
          const row = lookup(id);
          if (row) rows.push(row);
          if (rows.length === wanted.size) break;
        }
        return rows;
      }
      return null;
    },
    resolve: resolverFor(store, 'profile', (id) => {
      const joined = members.get(id);
      return joined === undefined ? undefined : { joined_group_at: joined };
    }),
  };
}

/** The resources a relationship points to, as a source (for /api/X/{id}/rel endpoints). */
export function identifierSource(store: AccountStore, type: string, ids: ResourceIdentifier[]): RowSource {
  return {
    type,
    *rows() {
      for (const ref of ids) {
        const resource = collectionOf(store, ref.type)?.get(ref.id);
        if (resource) yield { resource };
      }
    },
    lookup: (id) => {
      const ref = ids.find((r) => r.id === id);
      const resource = ref ? collectionOf(store, ref.type)?.get(ref.id) : undefined;
      return resource ? { resource } : undefined;
    },
    resolve: resolverFor(store, type),
  };
}

/** GET of a collection: filter, sort, one page, rendered with links and included resources. */
export function listDocument(ctx: HandlerContext, source: RowSource, options: { identifiersOnly?: boolean } = {}): HandlerResult {
  const conditions = ctx.query.filter;
  const resolve = source.resolve;
  const sort = ctx.query.sort;
  const candidates = source.candidates?.(conditions) ?? null;
  // A pinned id or email beats an index walk; otherwise a sorted index serves range filters and
  // sorts on datetimes without touching the rest of the collection.
  const ordered = candidates === null ? (source.ordered?.(conditions, sort) ?? null) : null;
  const matching = function* (rows: Iterable<Row | undefined>): Generator<Row> {
    for (const row of rows) {
      if (row && matchesAll(row.resource, conditions, resolve)) yield row;
    }
  };
  const iterate = ordered
    ? (): Iterator<Row | undefined> => (ordered.exact ? ordered.from(0) : matching({ [Symbol.iterator]: () => ordered.from(0) }))
    : sort
    ? (): Iterator<Row> => {
        // Sorting needs every match; keep only ids and keys so a million profiles stay small.
        const keyed: Array<{ id: string; key: number | string | null }> = [];
        for (const row of matching(candidates ?? source.rows())) keyed.push({ id: row.resource.id, key: sortKey(row.resource, sort.field, resolve) });
        keyed.sort((a, b) => compareSortKeys(a.key, b.key) * (sort.descending ? -1 : 1));
        return mapIterable(keyed, (k) => source.lookup(k.id))[Symbol.iterator]() as Iterator<Row>;
      }
    : () => matching(candidates ?? source.rows());

  let rows: Row[];
  let unsorted = false;
  const links: Record<string, string> = { self: selfLink(ctx.url) };
  if (ctx.query.pageSize === null) {
    rows = [...filterDefined(iterate())];
  } else {
    const unsortedPages = ctx.quirks?.unsortedPages === true;
    const page = readPage({
      source: () => filterDefined(iterate()),
      seek: ordered?.exact ? (offset) => filterDefined(ordered.from(offset)) : undefined,
      offset: ctx.query.offset,
      pageSize: ctx.query.pageSize,
      signature: `${ctx.url.pathname}|${ctx.url.searchParams.get('filter') ?? ''}|${ctx.url.searchParams.get('sort') ?? ''}`,
      cache: ctx.pageCache,
      neighbours: unsortedPages,
    });
    rows = unsortedPages ? unsortedPage({ ...page, pageSize: ctx.query.pageSize }) : page.items;
    unsorted = rows.some((row, i) => row !== page.items[i]);
    if (page.nextOffset !== null) links.next = withCursor(ctx.url, page.nextOffset);
    if (page.prevOffset !== null) links.prev = withCursor(ctx.url, page.prevOffset);
  }
  const quirks = unsorted ? { quirks: ['unsorted-pages' as const] } : {};
  if (options.identifiersOnly) {
    return { status: 200, body: { data: rows.map((r) => ({ type: r.resource.type, id: r.resource.id })), links }, ...quirks };
  }
  const included = new Included(ctx, rows.map((r) => r.resource));
  const data = rows.map((row) => renderRow(ctx, row, included));
  return { status: 200, body: { data, links, ...included.section() }, ...quirks };
}

/** GET of one resource. */
export function singleDocument(ctx: HandlerContext, row: Row): HandlerResult {
  const included = new Included(ctx, [row.resource]);
  const data = renderRow(ctx, row, included);
  return { status: 200, body: { data, links: { self: selfLink(ctx.url) }, ...included.section() } };
}

export function findOr404(store: AccountStore, type: string, id: string): StoredResource {
  const resource = collectionOf(store, type)?.get(id);
  if (!resource) throw notFound(`A ${type} with id '${id}' does not exist.`);
  return resource;
}

export function renderRow(ctx: HandlerContext, row: Row, included?: Included): JsonApiResource {
  return renderResource(row.resource, {
    baseUrl: ctx.baseUrl,
    fields: ctx.query.fields[row.resource.type],
    additional: ctx.query.additionalFields[row.resource.type],
    computed: computedAttributes(ctx.store, row.resource),
    extraAttributes: row.extra,
    relationshipData: included?.relationshipDataOf(row.resource),
  });
}

function computedAttributes(store: AccountStore, resource: StoredResource): ((name: string) => unknown) | undefined {
  const members = memberships(store, resource.type);
  if (!members) return undefined;
  return (name) => (name === 'profile_count' ? (members.get(resource.id)?.size ?? 0) : undefined);
}

/** The `included` section: related resources named by `include`, each once. */
class Included {
  readonly #ctx: HandlerContext;
  readonly #primary = new Set<string>();
  readonly #resources = new Map<string, JsonApiResource>();
  readonly #relationshipData = new Map<StoredResource, Record<string, ResourceIdentifier[] | ResourceIdentifier | null>>();

  constructor(ctx: HandlerContext, primary: StoredResource[]) {
    this.#ctx = ctx;
    for (const r of primary) this.#primary.add(`${r.type}:${r.id}`);
    if (ctx.query.include.length === 0) return;
    for (const resource of primary) {
      const data: Record<string, ResourceIdentifier[] | ResourceIdentifier | null> = {};
      for (const name of ctx.query.include) {
        const related = relationshipOf(ctx.store, resource, name);
        if (related === undefined) continue;
        data[name] = related;
        for (const ref of related === null ? [] : Array.isArray(related) ? related : [related]) this.#add(ref);
      }
      this.#relationshipData.set(resource, data);
    }
  }

  #add(ref: ResourceIdentifier): void {
    const key = `${ref.type}:${ref.id}`;
    if (this.#primary.has(key) || this.#resources.has(key)) return;
    const resource = collectionOf(this.#ctx.store, ref.type)?.get(ref.id);
    if (resource) this.#resources.set(key, renderRow(this.#ctx, { resource }));
  }

  relationshipDataOf(resource: StoredResource): Record<string, ResourceIdentifier[] | ResourceIdentifier | null> | undefined {
    return this.#relationshipData.get(resource);
  }

  section(): { included?: JsonApiResource[] } {
    return this.#ctx.query.include.length > 0 ? { included: [...this.#resources.values()] } : {};
  }
}

/**
 * The request's own URL as a valid URI: clients send `page[size]` with raw brackets, which
 * RFC 3986 does not allow in a query, so the query is re-encoded (same parameters, same order).
 */
export function selfLink(url: URL): string {
  const self = new URL(url.href);
  self.search = new URLSearchParams(url.searchParams).toString();
  return self.href;
}

function withCursor(url: URL, offset: number): string {
  const next = new URL(url.href);
  next.searchParams.set('page[cursor]', encodeCursor(offset));
  return next.href;
}

function* mapIterable<T, U>(items: Iterable<T>, fn: (item: T) => U): Generator<U> {
  for (const item of items) yield fn(item);
}

function* filterDefined<T>(items: Iterator<T | undefined>): Generator<T> {
  for (let r = items.next(); !r.done; r = items.next()) if (r.value !== undefined) yield r.value;
}

function uniqueRows(resources: Array<StoredResource | undefined>): Row[] {
  const seen = new Set<string>();
  const rows: Row[] = [];
  for (const resource of resources) {
    if (!resource || seen.has(resource.id)) continue;
    seen.add(resource.id);
    rows.push({ resource });
  }
  return rows;
}
