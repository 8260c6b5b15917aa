/**
 * Metrics (GET /api/metrics): the kinds of events (Placed Order, Opened Email ...). Klaviyo
 * cannot filter metrics by time, so an incremental read (--since) reads them all (at most 200
 * per page, and accounts have few) and keeps the newer ones locally.
 */
import { collectionObject } from '../read/collection-reader.js';
import { idColumn, timestampColumn } from './common-columns.js';

export const Metrics = collectionObject(
  {
    name: 'Metrics',
    description: 'Kinds of events (Placed Order, Opened Email ...) and the integration that sends them',
    key: ['Id'],
    columns: [
      idColumn('metric', undefined),
      { name: 'Name', type: 'string', description: 'Name of the metric', path: 'name', aliases: ['name'], readOnly: true },
      {
        name: 'IntegrationName',
        type: 'string',
        description: 'The integration that records it (Shopify, Klaviyo, API ...)',
        path: 'integration.name',
        readOnly: true,
        filterField: 'integration.name',
        sparseField: 'integration',
      },
      {
        name: 'IntegrationCategory',
        type: 'string',
        description: 'The integration\'s category',
        path: 'integration.category',
        readOnly: true,
        filterField: 'integration.category',
        sparseField: 'integration',
      },
      { name: 'Integration', type: 'json', description: 'The integration, as JSON', path: 'integration', aliases: ['integration'], readOnly: true },
      timestampColumn('Created', 'created', 'When the metric was first recorded'),
      timestampColumn('Updated', 'updated', 'When the metric last changed'),
    ],
    operations: [],
    incremental: { column: 'Updated', serverSide: false },
    constraints: [
      'Metrics are read-only: Klaviyo creates them when events are recorded.',
      'Klaviyo cannot filter metrics by time: --since reads them all and keeps the newer ones.',
    ],
  },
  { resourceType: 'metric', list: 'get_metrics', byId: 'get_metric', purpose: 'every metric' },
);
