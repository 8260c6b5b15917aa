/**
 * Flows (GET /api/flows): automated sequences of messages and actions. Klaviyo limits every
 * flow endpoint to 3/s, 60/m and pages of 50. The flow's definition (triggers and actions) is
 * returned only by GET /api/flows/{id} with additional-fields[flow]=definition, so Definition
 * costs one request per flow and is read only when selected.
 *
 * Archived flows: Klaviyo's app hides them from the Flows tab, and whether GET /api/flows lists
 * them without `equals(archived,true)` is not documented; other connectors read them with a
 * separate filtered request (Airbyte's flows stream is partitioned by `equals(archived,...)`).
 * So, as for Campaigns, every request says `equals(archived,false)` or `equals(archived,true)`
 * explicitly: archived flows are exported with --include-archived (or an Archived condition),
 * and replicate and its deletion sweep always read both, so that a flow archived in Klaviyo's app
 * is updated in a replica, never marked deleted.
 */
import type { KlaviyoClient } from '../../klaviyo/client.js';
import { filter as f } from '../../klaviyo/filter-builder.js';
import type { CollectionSource } from '../read/collection-reader.js';
import { matchesCondition } from '../read/values.js';
import type { ColumnDef, Condition, ObjectDefinition, PlannedRequest, ReadPlan, ReadReport, ReadRequest } from '../types.js';
import { idColumn, timestampColumn } from './common-columns.js';
import { planWithPerRecordRead, type PerRecordRead } from './segments.js';

const TRIGGER_TYPES = ['Added to List', 'Date Based', 'Low Inventory', 'Metric', 'Price Drop', 'Unconfigured'] as const;

const DEFINITION: ColumnDef = {
  name: 'Definition',
  type: 'json',
  description: 'Triggers, profile filter and actions, as JSON (read on demand: one request per flow at 3/s, 60/m)',
  path: 'definition',
  readOnly: true,
  onDemand: true,
  additionalField: 'definition',
  aliases: ['definition'],
};

const ARCHIVED: ColumnDef = {
  name: 'Archived',
  type: 'boolean',
  description: 'Whether the flow is archived (archived ones are exported with --include-archived)',
  path: 'archived',
  aliases: ['archived'],
  readOnly: true,
  filterField: 'archived',
};

const COLUMNS: ColumnDef[] = [
  idColumn('flow'),
  { name: 'Name', type: 'string', description: 'Name of the flow', path: 'name', aliases: ['name', 'flow_name'], filterField: 'name' },
  {
    name: 'Status',
    type: 'string',
    description: 'draft, manual or live',
    path: 'status',
    aliases: ['status'],
    filterField: 'status',
  },
  ARCHIVED,
  {
    name: 'TriggerType',
    type: 'string',
    enum: TRIGGER_TYPES,
    description: 'What starts the flow: Metric, Added to List, Date Based, Price Drop, Low Inventory or Unconfigured',
    path: 'trigger_type',
    aliases: ['trigger_type'],
    readOnly: true,
    filterField: 'trigger_type',
  },
  timestampColumn('Created', 'created', 'When the flow was created', 'created'),
  timestampColumn('Updated', 'updated', 'When the flow last changed', 'updated'),
  DEFINITION,
];

const SOURCE: CollectionSource = { resourceType: 'flow', list: 'get_flows', byId: 'get_flow', purpose: 'every flow' };

const DEFINITION_READ: PerRecordRead = {
  columns: [DEFINITION],
  operationId: 'get_flow',
  query: { 'additional-fields[flow]': 'definition' },
  purpose: 'the definition of each flow (3/s, 60/m)',
  note: "Definition costs one request per flow at Klaviyo's 3/s, 60/m limit.",
};

/** The flows that are archived, or those that are not: one request family with its explicit filter. */
function partSource(archived: boolean): CollectionSource {
  return { ...SOURCE, baseFilters: [f.equals('archived', archived)], purpose: archived ? 'every archived flow' : 'every flow not archived' };
}

const unique = <T>(items: T[], key: (item: T) => string): T[] => [...new Map(items.map((i) => [key(i), i])).values()];

function plan(request: ReadRequest): ReadPlan {
  const archivedConditions = request.where.filter((c) => c.column === ARCHIVED.name);
  // Klaviyo's app default, made explicit: archived flows only when asked for.
  const archivedDefault: Condition[] =
    archivedConditions.length === 0 && !request.options.includeArchived ? [{ column: ARCHIVED.name, op: '=', value: false }] : [];
  const defaultNote = archivedDefault.length > 0 ? ['Archived flows are left out: --include-archived adds them.'] : [];

  if (request.where.some((c) => c.column === 'Id' && c.op === '=' && typeof c.value === 'string')) {
    // One flow by id: one request whether it is archived or not; the default is checked on the row.
    const byId = planWithPerRecordRead(Flows, SOURCE, { ...request, where: [...request.where, ...archivedDefault] }, DEFINITION_READ);
    return { ...byId, notes: [...byId.notes, ...defaultNote] };
  }

  const archivedValues = [false, true].filter((a) => [...archivedConditions, ...archivedDefault].every((c) => matchesCondition({ Archived: a }, c, ARCHIVED)));
  const rest = { ...request, where: request.where.filter((c) => c.column !== ARCHIVED.name) };
  const partPlan = (archived: boolean, limit: number | undefined) => planWithPerRecordRead(Flows, partSource(archived), { ...rest, limit }, DEFINITION_READ);
  const parts = archivedValues.map((a) => partPlan(a, request.limit));
  // The listings first; the per-flow request (Definition) is the same for both parts: once.
  const all = parts.flatMap((p) => p.requests);
  const requests: PlannedRequest[] = [
    ...all.filter((r) => r.operationId === SOURCE.list),
    ...unique(
      all.filter((r) => r.operationId !== SOURCE.list),
      (r) => JSON.stringify([r.operationId, r.path, r.query]),
    ),
  ];
  const notes = [...new Set([...parts.flatMap((p) => p.notes), ...defaultNote])];
  if (parts.length === 0) notes.push('The Archived conditions leave no flow to read.');
  return {
    requests,
    // Every part checks the same conditions (only its archived filter differs).
    localConditions: parts[0]?.localConditions ?? [],
    notes,
    async *execute(client: KlaviyoClient, signal?: AbortSignal, report?: ReadReport) {
      if (request.limit !== undefined && request.limit <= 0) return;
      let count = 0;
      for (const archived of archivedValues) {
        const remaining = request.limit === undefined ? undefined : request.limit - count;
        for await (const row of partPlan(archived, remaining).execute(client, signal, report)) {
          yield row;
          count += 1;
          if (request.limit !== undefined && count >= request.limit) return;
        }
      }
    },
  };
}

export const Flows: ObjectDefinition = {
  name: 'Flows',
  description: 'Automations: triggered sequences of messages and actions',
  key: ['Id'],
  columns: COLUMNS,
  operations: [],
  incremental: { column: 'Updated', serverSide: true },
  constraints: [
    'Klaviyo limits every flow endpoint to 3 requests a second, 60 a minute, and returns at most 50 flows per page.',
    "Archived flows are exported only with --include-archived (or an Archived condition), as Klaviyo's app hides them; klv asks with equals(archived,false) and equals(archived,true) explicitly. klv replicate always reads both.",
    'Definition is read only when selected: one request per flow.',
    'Through the API a flow can only change Status (draft, manual, live); Klaviyo caps flow creation at 100 a day.',
  ],
  plan,
};
