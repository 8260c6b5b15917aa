/**
 * The generic read path: list a source of resources (filter, sort, page), render each one,
 * and add the `included` resources, as one JSON:API document. Every read endpoint goes
 * through here; endpoints differ only in their source (a collection, a list's members, a
 * relationship) and in the filter fields that are not attributes.
 */
import type { AccountStore, ResourceIdentifier, StoredResource } from '../store/types.js';
import { compareSortKeys, matchesAll, sortKey, type FieldResolver } from '../http/filter-evaluator.js';
import type { Condition } from '../http/filter-validator.js';
import { encodeCursor, readPage } from '../http/paging.js';
import { notFound } from '../http/api-error.js';
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
  resolve?: FieldResolver;
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
        if (c.field === 'id') return uniqueRows(values.map((id) => collection.get(id)));
        if (INDEXED[type]?.includes(c.field)) return uniqueRows(values.flatMap((v) => collection.findBy(c.field, v)));
      }
      return null;
    },
    resolve: resolverFor(store, type),
  };
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
  const matching = function* (): Generator<Row> {
    for (const row of source.candidates?.(conditions) ?? source.rows()) {
      if (matchesAll(row.resource, conditions, resolve)) yield row;
    }
  };
  const sort = ctx.query.sort;
  const iterate = sort
    ? (): Iterator<Row> => {
        // Sorting needs every match; keep only ids and keys so a million profiles stay small.
        const keyed: Array<{ id: string; key: number | string | null }> = [];
        for (const row of matching()) keyed.push({ id: row.resource.id, key: sortKey(row.resource, sort.field, resolve) });
        keyed.sort((a, b) => compareSortKeys(a.key, b.key) * (sort.descending ? -1 : 1));
        return mapIterable(keyed, (k) => source.lookup(k.id))[Symbol.iterator]() as Iterator<Row>;
      }
    : () => matching();

  let rows: Row[];
  const links: Record<string, string> = { self: selfLink(ctx.url) };
  if (ctx.query.pageSize === null) {
    rows = [...{ [Symbol.iterator]: iterate }].filter(Boolean);
  } else {
    const page = readPage({
      source: () => filterDefined(iterate()),
      offset: ctx.query.offset,
      pageSize: ctx.query.pageSize,
      signature: `${ctx.url.pathname}|${ctx.url.searchParams.get('filter') ?? ''}|${ctx.url.searchParams.get('sort') ?? ''}`,
      cache: ctx.pageCache,
    });
    rows = page.items;
    if (page.nextOffset !== null) links.next = withCursor(ctx.url, page.nextOffset);
    if (page.prevOffset !== null) links.prev = withCursor(ctx.url, page.prevOffset);
  }
  if (options.identifiersOnly) {
    return { status: 200, body: { data: rows.map((r) => ({ type: r.resource.type, id: r.resource.id })), links } };
  }
  const included = new Included(ctx, rows.map((r) => r.resource));
  const data = rows.map((row) => renderRow(ctx, row, included));
  return { status: 200, body: { data, links, ...included.section() } };
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
