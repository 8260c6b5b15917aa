/**
 * Segments (GET /api/segments): dynamic groups of profiles defined by conditions. The list
 * endpoint returns the definition with every segment, but not the number of members:
 * ProfileCount takes one GET /api/segments/{id}?additional-fields[segment]=profile_count per
 * segment, which Klaviyo limits to 1/s and 15/m, so it is read only when selected.
 *
 * Also home of planWithPerRecordRead, the "read the collection, then one request per record for
 * the expensive columns" plan that Segments.ProfileCount and Flows.Definition share.
 */
import type { KlaviyoClient, OneOperation } from '../../klaviyo/client.js';
import { columnMap, planCollectionRead, project, type CollectionSource } from '../read/collection-reader.js';
import { plannedRequest } from '../read/query.js';
import { columnValue, matchesAll } from '../read/values.js';
import type { ColumnDef, ObjectDefinition, ReadPlan, ReadReport, ReadRequest, Row } from '../types.js';
import { idColumn, timestampColumn } from './common-columns.js';

/** Columns that only a per-record request returns, and that request. */
export interface PerRecordRead {
  /** The on-demand columns the per-record request fills. */
  columns: readonly ColumnDef[];
  /** The by-id endpoint (`get_segment`), called with `{id}` = the record's Id. */
  operationId: OneOperation;
  /** Its query (`additional-fields[segment]=profile_count`). */
  query: Record<string, string>;
  /** For --explain (`the profile count of each segment (1/s, 15/m)`). */
  purpose: string;
  /** What it costs, in plain words, for the plan's notes. */
  note: string;
}

/**
 * Plans a read where some selected columns need one extra request per record. Without those
 * columns (selected or in --where) this is the plain collection read; with `Id = '...'` the
 * by-id request returns them directly when it is the same endpoint. Otherwise the collection is
 * read (with the Id), then each record is asked for the missing columns, and conditions on them
 * are checked once they are known.
 */
export function planWithPerRecordRead(
  def: ObjectDefinition,
  source: CollectionSource,
  request: ReadRequest,
  extra: PerRecordRead,
): ReadPlan {
  const extraNames = new Set(extra.columns.map((c) => c.name));
  const wanted = request.columns.filter((c) => extraNames.has(c.name));
  const extraConditions = request.where.filter((c) => extraNames.has(c.column));
  if (wanted.length === 0 && extraConditions.length === 0) return planCollectionRead(def, source, request);
  const byId = request.where.some((c) => c.column === 'Id' && c.op === '=' && typeof c.value === 'string');
  if (byId && source.byId === extra.operationId) return planCollectionRead(def, source, request);

  const id = def.columns.find((c) => c.name === 'Id');
  if (!id) throw new Error(`${def.name} has no Id column, which a per-record read needs.`);
  const base = planCollectionRead(def, source, {
    ...request,
    where: request.where.filter((c) => !extraNames.has(c.column)),
    columns: [...request.columns.filter((c) => !extraNames.has(c.name) && c.name !== 'Id'), id],
    // With conditions on the extra columns, rows are dropped after the base read: no early stop there.
    limit: extraConditions.length > 0 ? undefined : request.limit,
  });
  const filled = extra.columns.filter((c) => wanted.includes(c) || extraConditions.some((w) => w.column === c.name));
  const byName = columnMap(def, request.columns);
  return {
    requests: [...base.requests, plannedRequest(extra.operationId, extra.query, extra.purpose, { repeat: null })],
    localConditions: [...base.localConditions, ...extraConditions],
    notes: [...base.notes, extra.note],
    async *execute(client: KlaviyoClient, signal?: AbortSignal, report?: ReadReport) {
      if (request.limit !== undefined && request.limit <= 0) return;
      let count = 0;
      for await (const row of base.execute(client, signal, report)) {
        const res = await client.request(extra.operationId, {
          pathParams: { id: String(row.Id) },
          query: extra.query,
          signal,
        });
        const full: Row = { ...row };
        for (const c of filled) full[c.name] = columnValue(res.body.data, c);
        if (extraConditions.length > 0 && !matchesAll(full, extraConditions, byName)) continue;
        yield project(full, request.columns);
        count += 1;
        if (request.limit !== undefined && count >= request.limit) return;
      }
    },
  };
}

const PROFILE_COUNT: ColumnDef = {
  name: 'ProfileCount',
  type: 'integer',
  description: 'Number of profiles in the segment (read on demand: one request per segment at 1/s, 15/m)',
  path: 'profile_count',
  readOnly: true,
  onDemand: true,
  additionalField: 'profile_count',
  aliases: ['profile_count'],
  // get_segment accepts it in fields[segment], so a by-id read can stay sparse.
  sparseField: 'profile_count',
};

const flag = (name: string, attribute: string, description: string, filterField?: string): ColumnDef => ({
  name,
  type: 'boolean',
  description,
  path: attribute,
  aliases: [attribute],
  filterField,
});

const COLUMNS: ColumnDef[] = [
  idColumn('segment'),
  { name: 'Name', type: 'string', description: 'Name of the segment', path: 'name', aliases: ['name', 'segment_name'], filterField: 'name', requiredOnInsert: true },
  {
    name: 'Definition',
    type: 'json',
    description: 'The conditions that define membership ({"condition_groups": [...]}), as JSON',
    path: 'definition',
    aliases: ['definition'],
    requiredOnInsert: true,
  },
  { ...flag('IsActive', 'is_active', 'Whether Klaviyo keeps the segment up to date', 'is_active'), readOnly: true },
  { ...flag('IsProcessing', 'is_processing', 'Whether Klaviyo is still computing the members'), readOnly: true },
  flag('IsStarred', 'is_starred', 'Starred in the Klaviyo app', 'is_starred'),
  timestampColumn('Created', 'created', 'When the segment was created', 'created'),
  timestampColumn('Updated', 'updated', 'When the segment last changed', 'updated'),
  PROFILE_COUNT,
];

const SOURCE: CollectionSource = { resourceType: 'segment', list: 'get_segments', byId: 'get_segment', purpose: 'every segment' };

const COUNT_READ: PerRecordRead = {
  columns: [PROFILE_COUNT],
  operationId: 'get_segment',
  query: { 'additional-fields[segment]': 'profile_count', 'fields[segment]': 'profile_count' },
  purpose: 'the profile count of each segment (1/s, 15/m)',
  note: "ProfileCount costs one request per segment at Klaviyo's 1/s, 15/m limit.",
};

export const Segments: ObjectDefinition = {
  name: 'Segments',
  description: 'Dynamic groups of profiles defined by conditions',
  key: ['Id'],
  columns: COLUMNS,
  operations: [],
  incremental: { column: 'Updated', serverSide: true },
  constraints: [
    'Klaviyo returns at most 10 segments per page.',
    'ProfileCount is read only when selected: one request per segment at 1/s, 15/m.',
    'Klaviyo filters Created and Updated only with >: klv sends >= as a slightly wider filter, and checks every bound itself (Klaviyo\'s > may match the bound); < and <= are checked by klv.',
    'Klaviyo caps segment creation and updates at 100 a day each per account.',
  ],
  plan: (request: ReadRequest) => planWithPerRecordRead(Segments, SOURCE, request, COUNT_READ),
};
