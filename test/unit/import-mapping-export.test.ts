/**
 * A CSV written by `klv export profiles` is a valid import: exported from the emulator's demo
 * account with the export's own writer, read back with readCsv and mapped for an upsert, it
 * maps with no warning about a column the operation takes, and every row coerces (E.164 phones,
 * ISO datetimes, Properties JSON, Properties.<name> cells) without a failure.
 */
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KlaviyoClient } from '../../src/klaviyo/client.js';
import { PROFILE_COLUMNS, Profiles } from '../../src/objects/catalog/profiles.js';
import { selectColumns } from '../../src/objects/columns.js';
import type { OperationHandler } from '../../src/objects/write/types.js';
import { writeRows } from '../../src/pipeline/export/write-rows.js';
import { readCsv, type CsvRow } from '../../src/pipeline/import/csv-source.js';
import { buildMapping } from '../../src/pipeline/import/mapping.js';
import { emulatorWithClient } from '../helpers/emulator-api.js';

let client: KlaviyoClient;
let closeAll: () => Promise<void>;

beforeAll(async () => {
  ({ client, close: closeAll } = await emulatorWithClient({ profiles: 300, rateLimits: 'off', record: '' }));
});
afterAll(() => closeAll?.());

/** `klv export profiles [--properties ...]` as CSV text. */
async function exportProfiles(properties: string[] = []): Promise<string> {
  const columns = selectColumns(Profiles, undefined, { properties });
  const plan = Profiles.plan({ columns, where: [], options: { properties }, limit: 300 });
  const out = new PassThrough();
  let text = '';
  out.setEncoding('utf8').on('data', (d: string) => (text += d));
  const result = await writeRows(plan.execute(client), out, { format: 'csv', columns, limit: 300 });
  expect(result.error).toBeUndefined();
  out.end();
  return text;
}

const upsert: OperationHandler = {
  operation: 'upsert',
  description: 'fake upsert taking what Klaviyo lets one write on a profile',
  requiredColumns: [['Id', 'Email', 'PhoneNumber', 'ExternalId']],
  acceptedColumns: ['Id', ...PROFILE_COLUMNS.filter((c) => !c.readOnly).map((c) => c.name)],
  maxBatchSize: 10_000,
  idempotent: true,
  processBatch: async () => [],
};

async function reimport(csv: string) {
  const records = readCsv(PassThrough.from([Buffer.from(csv)]), { source: 'profiles.csv' });
  const first = await records.next();
  if (first.done || first.value.kind !== 'header') throw new Error('no header');
  const headers = first.value.headers;
  const mapping = buildMapping(headers, Profiles, upsert, {});
  const failures: string[] = [];
  const rows: Record<string, unknown>[] = [];
  for await (const r of records) {
    const mapped = mapping.mapRow((r as CsvRow).cells, (r as CsvRow).rowNumber);
    if (mapped.ok) rows.push(mapped.row.values);
    else failures.push(`row ${mapped.failure.rowNumber}: ${mapped.failure.message}`);
  }
  return { headers, mapping, rows, failures };
}

describe('klv export profiles -> import', () => {
  it('maps every exported column the operation takes, warns only about the read-only ones, and every row coerces', async () => {
    const { headers, mapping, rows, failures } = await reimport(await exportProfiles());
    expect(headers).toContain('Created');
    expect(failures).toEqual([]);
    expect(rows).toHaveLength(300);
    const taken = new Set(upsert.acceptedColumns);
    // Every exported column the upsert takes is mapped, under its own name.
    expect(mapping.columns.map((c) => c.column.name)).toEqual(headers.filter((h) => taken.has(h)));
    expect(mapping.unknownHeaders).toEqual([]);
    expect(mapping.warnings).toEqual(['Ignoring read-only columns (Klaviyo sets them): Created, Updated, LastEventDate.']);
    // Values come back typed: the export's text is the import's input.
    const withPhone = rows.find((r) => typeof r.PhoneNumber === 'string');
    expect(withPhone?.PhoneNumber).toMatch(/^\+[1-9]\d{6,14}$/);
    expect(rows.every((r) => typeof r.Properties === 'object' && r.Properties !== null)).toBe(true);
    expect(rows.some((r) => typeof r.Latitude === 'number')).toBe(true);
  });

  it('with --properties, the Properties.<name> columns map and keep their types', async () => {
    const { mapping, rows, failures } = await reimport(await exportProfiles(['loyalty_tier', 'lifetime_orders', 'accepts_marketing']));
    expect(failures).toEqual([]);
    expect(mapping.columns.map((c) => c.column.name)).toEqual(expect.arrayContaining(['Properties.loyalty_tier', 'Properties.lifetime_orders', 'Properties.accepts_marketing']));
    expect(mapping.unknownHeaders).toEqual([]);
    for (const r of rows) {
      const props = r.Properties as Record<string, unknown>;
      expect(r['Properties.lifetime_orders']).toBe(props.lifetime_orders);
      expect(r['Properties.accepts_marketing']).toBe(props.accepts_marketing);
      expect(r['Properties.loyalty_tier']).toBe(props.loyalty_tier);
    }
  });
});
