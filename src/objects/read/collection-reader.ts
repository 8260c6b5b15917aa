/**
 * The generic reader for objects backed by one Klaviyo collection endpoint (Profiles, Lists,
 * EmailTemplates, Metrics, Segments, Flows, Tags ...): conditions pushed down as Klaviyo
 * filters where the endpoint allows, the rest checked locally; `Id = '...'` read by id; sparse
 * fieldsets and additional fields from the selected columns; rows streamed page by page.
 */
import type { KlaviyoClient } from '../../klaviyo/client.js';
import { isNotFound } from '../../klaviyo/errors.js';
import type { FilterCondition } from '../../klaviyo/filter-builder.js';
import { OPERATIONS, type OperationId } from '../../klaviyo/generated/api-metadata.js';
import { joinIncluded, type JsonApiResource } from '../../klaviyo/json-api.js';
import { UsageError } from '../../core/errors.js';
import { findColumn } from '../columns.js';
import type { ColumnDef, Condition, ObjectDefinition, ReadPlan, ReadRequest, Row } from '../types.js';
import { planPartitionedRead, type PartitionSpec } from './partitioned.js';
import { filterParam, pushdown } from './pushdown.js';
import { additionalFields, plannedRequest, sparseFieldset } from './query.js';
import { matchesAll, rowFrom } from './values.js';

export interface CollectionSource {
  /** JSON:API type of the records (`profile`). */
  resourceType: string;
  /** The collection endpoint (`get_profiles`). */
  list: OperationId;
  /** Read one record by id (`get_profile`), used for `Id = '...'`. */
  byId?: OperationId;
  /** Path parameters of the list endpoint (`/api/lists/{id}/profiles`). */
  pathParams?: Record<string, string>;
  /** Query parameters always sent (`include`, `fields[metric]`). */
  fixedQuery?: Record<string, string>;
  /** Filter conditions always sent (`equals(messages.channel,'email')`). */
  baseFilters?: FilterCondition[];
  /** Sort order to ask for, when the endpoint allows it. */
  sort?: string;
  /** Why this request, for --explain. */
  purpose?: string;
  /**
   * Large reads are cut into time slices on this datetime column, read concurrently to reach the
   * rate limit (see partitioned.ts). Reads made small by their conditions stay on one cursor.
   */
  partition?: PartitionSpec;
}

/** The incremental condition for --since, or a usage error for objects that cannot read incrementally. */
export function sinceCondition(def: ObjectDefinition, since: Date | undefined): Condition[] {
  if (!since) return [];
  if (!def.incremental) {
    throw new UsageError(`${def.name} cannot be read incrementally, so --since does not apply.`, `'klv objects' shows which objects can.`);
  }
  return [{ column: def.incremental.column, op: '>=', value: since.toISOString().replace('.000Z', 'Z') }];
}

/** Every column a plan needs: the output ones plus those the local conditions read. */
export function columnsNeeded(def: ObjectDefinition, output: readonly ColumnDef[], local: readonly Condition[]): ColumnDef[] {
  const all = new Map(output.map((c) => [c.name, c]));
  for (const cond of local) {
    if (!all.has(cond.column)) {
      const c = findColumn(def, cond.column);
      if (c) all.set(c.name, c);
    }
  }
  return [...all.values()];
}

export function columnMap(def: ObjectDefinition, extra: readonly ColumnDef[] = []): Map<string, ColumnDef> {
  const m = new Map<string, ColumnDef>();
  for (const c of def.columns) m.set(c.name, c);
  for (const c of extra) m.set(c.name, c);
  return m;
}

/** Keeps only the output columns, in order. */
export function project(row: Row, columns: readonly ColumnDef[]): Row {
  const out: Row = {};
  for (const c of columns) out[c.name] = row[c.name] ?? null;
  return out;
}

/** Streams rows from resources: maps, filters locally, projects, stops at the limit. */
export async function* rowsOf(
  resources: AsyncIterable<JsonApiResource>,
  needed: readonly ColumnDef[],
  output: readonly ColumnDef[],
  local: readonly Condition[],
  byName: ReadonlyMap<string, ColumnDef>,
  limit?: number,
): AsyncGenerator<Row> {
  let count = 0;
  if (limit !== undefined && limit <= 0) return;
  for await (const resource of resources) {
    const row = rowFrom(resource, needed);
    if (local.length > 0 && !matchesAll(row, local, byName)) continue;
    yield project(row, output);
    count += 1;
    if (limit !== undefined && count >= limit) return;
  }
}

export function planCollectionRead(def: ObjectDefinition, source: CollectionSource, request: ReadRequest): ReadPlan {
  const conditions = [...request.where, ...sinceCondition(def, request.since)];
  const byName = columnMap(def, request.columns);
  const idCondition = source.byId
    ? conditions.find((c) => c.column === 'Id' && c.op === '=' && typeof c.value === 'string')
    : undefined;

  if (idCondition && source.byId) {
    const byId = source.byId;
    const local = conditions.filter((c) => c !== idCondition);
    const needed = columnsNeeded(def, request.columns, local);
    const query = readQuery(byId, source, needed, undefined);
    const id = idCondition.value as string;
    return {
      requests: [plannedRequest(byId, query, `one ${source.resourceType} by id`, { pathParams: { id } })],
      localConditions: local,
      notes: [],
      async *execute(client: KlaviyoClient, signal?: AbortSignal) {
        let resource: JsonApiResource | undefined;
        try {
          const res = await client.request<{ data: JsonApiResource; included?: JsonApiResource[] }>(byId, {
            pathParams: { id },
            query,
            signal,
          });
          resource = joinIncluded([res.body.data], res.body.included)[0];
        } catch (err) {
          if (isNotFound(err)) return; // no such id: no row, as a filter that matches nothing
          throw err;
        }
        async function* one() {
          if (resource) yield resource;
        }
        yield* rowsOf(one(), needed, request.columns, local, byName, request.limit);
      },
    };
  }

  if (source.partition) {
    const partitioned = planPartitionedRead(def, { ...source, partition: source.partition }, request, conditions);
    if (partitioned) return partitioned;
  }

  const { filters, local } = pushdown(source.list, conditions, byName);
  const needed = columnsNeeded(def, request.columns, local);
  const query = readQuery(source.list, source, needed, [...(source.baseFilters ?? []), ...filters]);
  const notes: string[] = [];
  if (def.incremental && !def.incremental.serverSide && request.since) {
    notes.push(`Klaviyo cannot filter ${def.name} by ${def.incremental.column}: klv reads them all and keeps the newer ones.`);
  }
  return {
    requests: [plannedRequest(source.list, query, source.purpose ?? `all ${def.name}`, { pathParams: source.pathParams })],
    localConditions: local,
    notes,
    execute(client: KlaviyoClient, signal?: AbortSignal) {
      const resources = client.paginate(source.list, {
        pathParams: source.pathParams,
        query,
        // With local conditions, Klaviyo's page count says nothing about the rows kept.
        limit: local.length === 0 ? request.limit : undefined,
        signal,
      });
      return rowsOf(resources, needed, request.columns, local, byName, request.limit);
    },
  };
}

/** The query (without page parameters) of a read on `operationId` producing `columns`. */
export function readQuery(
  operationId: OperationId,
  source: Pick<CollectionSource, 'resourceType' | 'fixedQuery' | 'sort'>,
  columns: readonly ColumnDef[],
  filters: FilterCondition[] | undefined,
): Record<string, string> {
  const meta = OPERATIONS[operationId];
  const query: Record<string, string> = { ...(source.fixedQuery ?? {}) };
  const filter = filters ? filterParam(operationId, filters) : undefined;
  if (filter) query.filter = filter;
  const fields = sparseFieldset(operationId, source.resourceType, columns);
  if (fields) query[`fields[${source.resourceType}]`] = fields;
  const extra = additionalFields(operationId, source.resourceType, columns);
  if (extra) query[`additional-fields[${source.resourceType}]`] = extra;
  if (source.sort && meta.sort.includes(source.sort.replace(/^-/, ''))) query.sort = source.sort;
  return query;
}

/** An object read through one collection endpoint with the generic reader. */
export function collectionObject(meta: Omit<ObjectDefinition, 'plan'>, source: CollectionSource): ObjectDefinition {
  const def: ObjectDefinition = { ...meta, plan: (request) => planCollectionRead(def, source, request) };
  return def;
}
