/**
 * Events (GET /api/events): what profiles did (Placed Order, Opened Email ...). Datetime is
 * both the sort and the incremental column, filtered by Klaviyo.
 * MetricName and Email come from the included metric and profile (`include=metric,profile`
 * with `fields[metric]=name`, `fields[profile]=email`), asked for only when those columns are
 * selected. Properties is the event's `event_properties`; `--properties a,b` expands them.
 */
import type { JsonApiResource } from '../../klaviyo/json-api.js';
import { propertyColumn } from '../columns.js';
import { planCollectionRead, project, type CollectionSource } from '../read/collection-reader.js';
import type { ColumnDef, ObjectDefinition, ReadPlan, ReadRequest } from '../types.js';
import { eventWriteHandlers } from '../write/events.js';
import { idColumn, timestampColumn } from './common-columns.js';

function related(resource: JsonApiResource, name: string): JsonApiResource | undefined {
  const r = resource.includedRelationships?.[name];
  return Array.isArray(r) ? r[0] : r;
}

function relatedId(resource: JsonApiResource, name: string): string | null {
  const data = resource.relationships?.[name]?.data;
  if (Array.isArray(data)) return data[0]?.id ?? null;
  return data?.id ?? null;
}

const METRIC_NAME: ColumnDef = {
  name: 'MetricName',
  type: 'string',
  description: 'Name of the metric (Placed Order, Opened Email ...), from the included metric; on import, Klaviyo creates a missing metric',
  requiredOnInsert: true,
  aliases: ['metric_name', 'metric'],
  get: (r) => related(r, 'metric')?.attributes?.name ?? null,
  sparseField: null,
};

const EMAIL: ColumnDef = {
  name: 'Email',
  type: 'email',
  description: 'Email address of the profile, from the included profile',
  aliases: ['email', '$email'],
  get: (r) => related(r, 'profile')?.attributes?.email ?? null,
  sparseField: null,
};

/** The included profile's identifiers an event row can name it by (fields[profile]). */
const PROFILE_ATTRIBUTES: Record<string, string> = { Email: 'email', PhoneNumber: 'phone_number', ExternalId: 'external_id' };

const profileIdentifier = (name: string, attribute: string, description: string, aliases: string[]): ColumnDef => ({
  name,
  type: name === 'PhoneNumber' ? 'phone' : 'string',
  description,
  aliases,
  // Read only when selected, so that a default export asks for the profile's email only.
  onDemand: true,
  get: (r) => related(r, 'profile')?.attributes?.[attribute] ?? null,
  sparseField: null,
});

const PROPERTIES_PATH = 'event_properties';

const COLUMNS: ColumnDef[] = [
  idColumn('event', undefined),
  { ...timestampColumn('Datetime', 'datetime', 'When the event happened (on import: its time; default: when Klaviyo receives it)', 'datetime'), readOnly: false, aliases: ['datetime', 'time'] },
  {
    name: 'Timestamp',
    type: 'integer',
    description: 'When the event happened, in seconds since 1970-01-01 UTC',
    path: 'timestamp',
    readOnly: true,
    aliases: ['timestamp'],
    filterField: 'timestamp',
  },
  {
    name: 'MetricId',
    type: 'id',
    description: 'Id of the metric',
    readOnly: true,
    aliases: ['metric_id'],
    get: (r) => relatedId(r, 'metric'),
    filterField: 'metric_id',
    sparseField: null,
  },
  METRIC_NAME,
  {
    name: 'ProfileId',
    type: 'id',
    description: 'Id of the profile the event belongs to',
    aliases: ['profile_id'],
    get: (r) => relatedId(r, 'profile'),
    filterField: 'profile_id',
    sparseField: null,
  },
  EMAIL,
  profileIdentifier('PhoneNumber', 'phone_number', 'Phone number of the profile, from the included profile (read when selected)', ['phone_number', '$phone_number']),
  profileIdentifier('ExternalId', 'external_id', 'External id of the profile, from the included profile (read when selected)', ['external_id']),
  {
    name: 'Value',
    type: 'number',
    description: 'The monetary value of the event ($value), e.g. the order total',
    path: `${PROPERTIES_PATH}.$value`,
    aliases: ['$value', 'value'],
    sparseField: PROPERTIES_PATH,
  },
  {
    name: 'Properties',
    type: 'json',
    description: 'The event properties, as a JSON object (--properties a,b adds one column each)',
    path: PROPERTIES_PATH,
    aliases: ['event_properties', 'properties'],
  },
  { name: 'Uuid', type: 'string', description: 'The event\'s UUID', path: 'uuid', readOnly: true, aliases: ['uuid'] },
  {
    name: 'UniqueId',
    type: 'string',
    description:
      'Import only: the event\'s unique id, which makes Klaviyo record it once per profile and metric; without it klv derives one from the row (--unique-by). Klaviyo does not return it, so exports leave it empty.',
    aliases: ['unique_id'],
    onDemand: true,
    get: () => null,
    sparseField: null,
  },
];

/**
 * `Properties.<name>` columns read `attributes.properties.<name>` for profiles; an event's
 * custom properties are `event_properties.<name>`.
 */
function eventPropertyColumn(column: ColumnDef): ColumnDef {
  if (!column.name.startsWith('Properties.')) return column;
  const name = column.name.slice('Properties.'.length);
  return { ...column, path: `${PROPERTIES_PATH}.${name}`, sparseField: PROPERTIES_PATH };
}

function plan(request: ReadRequest): ReadPlan {
  const output = request.columns.map(eventPropertyColumn);
  // A --where on a property that is not exported still has to be read from the right place.
  const extra = request.where
    .filter((c) => c.column.startsWith('Properties.') && !output.some((o) => o.name === c.column))
    .map((c) => eventPropertyColumn(propertyColumn(c.column.slice('Properties.'.length))));
  const columns = [...output, ...extra];
  const names = new Set(columns.map((c) => c.name));
  const wanted = (name: string) => names.has(name) || request.where.some((c) => c.column === name);
  const profileFields = Object.keys(PROFILE_ATTRIBUTES).filter(wanted).map((n) => PROFILE_ATTRIBUTES[n]);
  const include = [wanted(METRIC_NAME.name) ? 'metric' : null, profileFields.length > 0 ? 'profile' : null].filter((x): x is string => x !== null);
  const fixedQuery: Record<string, string> = {};
  if (include.length > 0) fixedQuery.include = include.join(',');
  if (include.includes('metric')) fixedQuery['fields[metric]'] = 'name';
  if (include.includes('profile')) fixedQuery['fields[profile]'] = profileFields.join(',');
  const source: CollectionSource = {
    resourceType: 'event',
    list: 'get_events',
    byId: 'get_event',
    fixedQuery,
    sort: 'datetime',
    purpose: 'every event, oldest first',
    // Large reads are cut into Datetime slices read concurrently (partitioned.ts): one cursor
    // reads ~7 pages a second, Klaviyo allows 350.
    // Only an Id or ProfileId keeps a read small; one metric can hold millions of events.
    partition: { column: 'Datetime', field: 'datetime', sort: 'datetime', narrowing: ['Id', 'ProfileId'], usuallyLarge: true },
  };
  const base = planCollectionRead(Events, source, { ...request, columns });
  if (extra.length === 0) return base;
  return {
    ...base,
    async *execute(client, signal, report) {
      for await (const row of base.execute(client, signal, report)) yield project(row, output);
    },
  };
}

export const Events: ObjectDefinition = {
  name: 'Events',
  aliases: ['activities', 'activity'],
  description: 'What profiles did: orders, email opens and clicks, site activity ... (one row per event)',
  key: ['Id'],
  columns: COLUMNS,
  operations: ['insert'],
  write: eventWriteHandlers,
  incremental: { column: 'Datetime', serverSide: true },
  constraints: [
    'Klaviyo filters events by MetricId and ProfileId (=) and Datetime and Timestamp (> >= < <=); other conditions are checked by klv, which still reads every event.',
    'Events are immutable: Klaviyo records them and the API cannot change or delete them.',
    'Import: bulk create, 1,000 events a request; Klaviyo records one event per profile, metric and unique id (UniqueId, or one klv derives from the row), so importing a file twice records each event once.',
    'MetricName and Email come from the included metric and profile, requested only when those columns are selected or filtered.',
  ],
  plan,
};
