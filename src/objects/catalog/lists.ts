/**
 * Lists (GET /api/lists). ProfileCount is not returned by the list endpoint: it takes one
 * GET /api/lists/{id}?additional-fields[list]=profile_count per list, which Klaviyo limits to
 * 1/s and 15/m, so it is read only when selected.
 */
import type { KlaviyoClient } from '../../klaviyo/client.js';
import { planCollectionRead, project } from '../read/collection-reader.js';
import { plannedRequest } from '../read/query.js';
import { matchesAll } from '../read/values.js';
import type { ColumnDef, ObjectDefinition, ReadPlan, ReadReport, ReadRequest, Row } from '../types.js';
import { listWrites } from '../write/lists.js';
import { idColumn, timestampColumn } from './common-columns.js';

const PROFILE_COUNT: ColumnDef = {
  name: 'ProfileCount',
  type: 'integer',
  description: 'Number of profiles in the list (read on demand: one request per list at 1/s, 15/m)',
  path: 'profile_count',
  readOnly: true,
  onDemand: true,
  aliases: ['profile_count'],
  sparseField: null,
};

const COLUMNS: ColumnDef[] = [
  idColumn('list'),
  { name: 'Name', type: 'string', description: 'Name of the list', path: 'name', aliases: ['name', 'list_name'], filterField: 'name', requiredOnInsert: true },
  {
    name: 'OptInProcess',
    type: 'string',
    enum: ['single_opt_in', 'double_opt_in'],
    description: 'single_opt_in, or double_opt_in (subscribers confirm by email first)',
    path: 'opt_in_process',
    aliases: ['opt_in_process'],
  },
  timestampColumn('Created', 'created', 'When the list was created', 'created'),
  timestampColumn('Updated', 'updated', 'When the list last changed', 'updated'),
  PROFILE_COUNT,
];

const SOURCE = { resourceType: 'list', list: 'get_lists', byId: 'get_list', purpose: 'every list' } as const;

function plan(def: ObjectDefinition, request: ReadRequest): ReadPlan {
  const wantsCount = request.columns.some((c) => c.name === PROFILE_COUNT.name);
  if (!wantsCount) return planCollectionRead(def, SOURCE, request);
  // Read the lists with Id, then ask each list for its count; conditions on ProfileCount are
  // checked after the count is known.
  const countConditions = request.where.filter((c) => c.column === PROFILE_COUNT.name);
  const base = planCollectionRead(def, SOURCE, {
    ...request,
    where: request.where.filter((c) => c.column !== PROFILE_COUNT.name),
    columns: [...request.columns.filter((c) => c !== PROFILE_COUNT && c.name !== 'Id'), COLUMNS[0]],
    limit: countConditions.length > 0 ? undefined : request.limit,
  });
  return {
    requests: [
      ...base.requests,
      plannedRequest('get_list', { 'additional-fields[list]': 'profile_count' }, 'the profile count of each list (1/s, 15/m)', {
        repeat: null,
      }),
    ],
    localConditions: [...base.localConditions, ...countConditions],
    notes: [...base.notes, 'ProfileCount costs one request per list at Klaviyo\'s 1/s, 15/m limit.'],
    async *execute(client: KlaviyoClient, signal?: AbortSignal, report?: ReadReport) {
      let count = 0;
      for await (const row of base.execute(client, signal, report)) {
        const res = await client.request('get_list', {
          pathParams: { id: String(row.Id) },
          query: { 'additional-fields[list]': 'profile_count' },
          signal,
        });
        const full: Row = { ...row, ProfileCount: res.body.data.attributes?.profile_count ?? null };
        if (!matchesAll(full, countConditions, new Map([[PROFILE_COUNT.name, PROFILE_COUNT]]))) continue;
        yield project(full, request.columns);
        count += 1;
        if (request.limit !== undefined && count >= request.limit) return;
      }
    },
  };
}

export const Lists: ObjectDefinition = {
  name: 'Lists',
  description: 'Static lists of profiles, single or double opt-in',
  key: ['Id'],
  columns: COLUMNS,
  operations: ['insert', 'update', 'delete'],
  write: listWrites,
  incremental: { column: 'Updated', serverSide: true },
  constraints: [
    'Klaviyo caps list creation at 150 a day per account: once an import meets the cap, its remaining inserts fail with daily_limit, unsent.',
    'ProfileCount is read only when selected: one request per list at 1/s, 15/m.',
    'Klaviyo filters Created and Updated only with >: klv checks other comparisons itself.',
  ],
  plan: (request) => plan(Lists, request),
};
