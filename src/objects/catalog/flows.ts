/**
 * Flows (GET /api/flows): automated sequences of messages and actions. Klaviyo limits every
 * flow endpoint to 3/s, 60/m and pages of 50. The flow's definition (triggers and actions) is
 * returned only by GET /api/flows/{id} with additional-fields[flow]=definition, so Definition
 * costs one request per flow and is read only when selected.
 */
import type { CollectionSource } from '../read/collection-reader.js';
import type { ColumnDef, ObjectDefinition, ReadRequest } from '../types.js';
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
  { name: 'Archived', type: 'boolean', description: 'Whether the flow is archived', path: 'archived', aliases: ['archived'], readOnly: true, filterField: 'archived' },
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

export const Flows: ObjectDefinition = {
  name: 'Flows',
  description: 'Automations: triggered sequences of messages and actions',
  key: ['Id'],
  columns: COLUMNS,
  operations: [],
  incremental: { column: 'Updated', serverSide: true },
  constraints: [
    'Klaviyo limits every flow endpoint to 3 requests a second, 60 a minute, and returns at most 50 flows per page.',
    'Definition is read only when selected: one request per flow.',
    'Through the API a flow can only change Status (draft, manual, live); Klaviyo caps flow creation at 100 a day.',
  ],
  plan: (request: ReadRequest) => planWithPerRecordRead(Flows, SOURCE, request, DEFINITION_READ),
};
