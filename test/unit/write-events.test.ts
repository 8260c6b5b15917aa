/**
 * Events insert handler against a fake Klaviyo behind MockAgent: the bulk create body grouped
 * per profile, unique ids (given, or derived from a stable hash that must not change between
 * runs or versions: importing a file twice must not duplicate events), batches of 1,000,
 * repeated rows caught before sending, and refusals isolated to the bad row.
 */
import { describe, expect, it } from 'vitest';
import { Events } from '../../src/objects/catalog/events.js';
import { findColumn } from '../../src/objects/columns.js';
import { canonicalJson } from '../../src/core/json.js';
import { eventInsert, eventsBody, rowsAtPointer, uniqueIdOf, validateEventRow } from '../../src/objects/write/events.js';
import type { ImportRow, RowOutcome } from '../../src/objects/write/types.js';
import { FakeKlaviyo, refusal } from '../helpers/fake-klaviyo.js';
import { row } from '../helpers/handlers.js';

let fake: FakeKlaviyo;

function byRow(outcomes: RowOutcome[]): Record<number, RowOutcome> {
  return Object.fromEntries(outcomes.map((o) => [o.rowNumber, o]));
}

const order = (n: number, extra: Record<string, unknown> = {}): ImportRow =>
  row(n, { Email: `c${n % 3}@example.com`, MetricName: 'Placed Order', Datetime: `2025-12-0${(n % 9) + 1}T10:00:00Z`, Value: n, ...extra });

describe('the catalog', () => {
  it('Events offers insert, with writable input columns (and UniqueId, PhoneNumber, ExternalId read only when selected)', () => {
    expect(Events.operations).toEqual(['insert']);
    expect(Object.keys(Events.write ?? {})).toEqual(['insert']);
    for (const name of ['MetricName', 'Email', 'PhoneNumber', 'ExternalId', 'ProfileId', 'Datetime', 'Value', 'Properties', 'UniqueId']) {
      const col = findColumn(Events, name);
      expect(col, name).toBeDefined();
      expect(col!.readOnly ?? false, name).toBe(false);
    }
    for (const name of ['PhoneNumber', 'ExternalId', 'UniqueId']) expect(findColumn(Events, name)!.onDemand, name).toBe(true);
    expect(eventInsert.acceptedColumns).toEqual(expect.arrayContaining(['MetricName', 'Email', 'ProfileId', 'Datetime', 'Value', 'Properties', 'UniqueId']));
  });

  it('an export selecting PhoneNumber and ExternalId includes the profile with exactly those fields', () => {
    const plan = Events.plan({ columns: ['Id', 'PhoneNumber', 'ExternalId'].map((n) => findColumn(Events, n)!), where: [{ column: 'ProfileId', op: '=', value: 'p1' }], options: {} });
    expect(plan.requests[0].query).toMatchObject({ include: 'profile', 'fields[profile]': 'phone_number,external_id' });
  });
});

describe('unique ids', () => {
  it('are derived from the row with a stable, documented hash: the same on every run and machine', () => {
    const r = row(1, {
      Value: 9.99,
      Email: 'ann@example.com',
      Properties: { b: ['x'], a: 1 },
      MetricName: 'Placed Order',
      Datetime: '2026-01-01T10:00:00Z',
    });
    // sha256 of [["Datetime",...],["Email",...],["MetricName",...],["Properties",{"a":1,"b":["x"]}],["Value",9.99]], 40 hex digits.
    expect(uniqueIdOf(r)).toEqual({ id: 'klv-a91062f57f593b00253bfe1d5fd2726cc19b35f4', derived: true });
    // Column order and key order in JSON do not matter; a different value does.
    expect(uniqueIdOf(row(2, { ...r.values, Properties: { a: 1, b: ['x'] } })).id).toBe('klv-a91062f57f593b00253bfe1d5fd2726cc19b35f4');
    expect(uniqueIdOf(row(3, { ...r.values, Value: 10 })).id).not.toBe('klv-a91062f57f593b00253bfe1d5fd2726cc19b35f4');
  });

  it('--unique-by picks the columns (Klaviyo names accepted); a UniqueId column wins', () => {
    const r = row(1, { Email: 'ann@example.com', MetricName: 'Placed Order', 'Properties.OrderId': '1234', Value: 5 });
    expect(uniqueIdOf(r, ['email', 'Properties.OrderId']).id).toBe('klv-68ef99d1b9048d436772e99b33ac8bb3bca6f461');
    expect(uniqueIdOf(row(2, { ...r.values, Value: 99 }), ['Email', 'properties.OrderId']).id).toBe('klv-68ef99d1b9048d436772e99b33ac8bb3bca6f461');
    expect(uniqueIdOf(row(3, { ...r.values, UniqueId: 'order-1234' }), ['Email'])).toEqual({ id: 'order-1234', derived: false });
  });

  it('canonicalJson sorts object keys at every depth', () => {
    expect(canonicalJson({ b: { d: 1, c: [{ f: 1, e: 2 }] }, a: null })).toBe('{"a":null,"b":{"c":[{"e":2,"f":1}],"d":1}}');
  });
});

describe('the request', () => {
  it('groups events per profile, names the metric, and sends time, value, properties and unique_id', async () => {
    fake = new FakeKlaviyo();
    const rows = [
      row(1, { Email: 'ann@example.com', MetricName: 'Placed Order', Datetime: '2026-01-01T10:00:00Z', Value: 9.99, Properties: { OrderId: 'A1' }, UniqueId: 'o-A1' }),
      row(2, { ProfileId: 'P9', MetricName: 'Viewed Product', 'Properties.Sku': 'S-1', UniqueId: 'v-1' }),
      row(3, { Email: 'ANN@example.com', MetricName: 'Placed Order', Value: 5, UniqueId: 'o-A2', 'Properties.Gone': null }),
    ];
    const out = await eventInsert.processBatch(rows, fake.ctx());
    expect(out.sort((a, b) => a.rowNumber - b.rowNumber)).toEqual([
      { ok: true, rowNumber: 1, status: 'created', extras: { UniqueId: 'o-A1' } },
      { ok: true, rowNumber: 2, status: 'created', extras: { UniqueId: 'v-1' } },
      { ok: true, rowNumber: 3, status: 'created', extras: { UniqueId: 'o-A2' } },
    ]);
    const posts = fake.callsTo('POST', '/api/event-bulk-create-jobs');
    expect(posts).toHaveLength(1);
    const metric = (name: string) => ({ data: { type: 'metric', attributes: { name } } });
    expect(posts[0].body).toEqual({
      data: {
        type: 'event-bulk-create-job',
        attributes: {
          'events-bulk-create': {
            data: [
              {
                type: 'event-bulk-create',
                attributes: {
                  profile: { data: { type: 'profile', attributes: { email: 'ann@example.com' } } },
                  events: {
                    data: [
                      { type: 'event', attributes: { properties: { OrderId: 'A1' }, metric: metric('Placed Order'), unique_id: 'o-A1', time: '2026-01-01T10:00:00Z', value: 9.99 } },
                      { type: 'event', attributes: { properties: {}, metric: metric('Placed Order'), unique_id: 'o-A2', value: 5 } },
                    ],
                  },
                },
              },
              {
                type: 'event-bulk-create',
                attributes: {
                  profile: { data: { type: 'profile', id: 'P9', attributes: {} } },
                  events: { data: [{ type: 'event', attributes: { properties: { Sku: 'S-1' }, metric: metric('Viewed Product'), unique_id: 'v-1' } }] },
                },
              },
            ],
          },
        },
      },
    });
  });

  it('importing the same rows twice sends the same unique ids (Klaviyo keeps one of each)', async () => {
    fake = new FakeKlaviyo();
    const rows = Array.from({ length: 5 }, (_, i) => order(i + 1));
    await eventInsert.processBatch(rows, fake.ctx());
    await eventInsert.processBatch(rows.map((r) => ({ ...r, values: { ...r.values } })), fake.ctx());
    const ids = fake.callsTo('POST', '/api/event-bulk-create-jobs').map((c) =>
      c.body.data.attributes['events-bulk-create'].data.flatMap((g: any) => g.attributes.events.data.map((e: any) => e.attributes.unique_id)).sort(),
    );
    expect(ids[0]).toHaveLength(5);
    expect(new Set(ids[0]).size).toBe(5);
    expect(ids[1]).toEqual(ids[0]);
  });

  it('sends the time with its microseconds, and derives the id klv derived when it rounded them to milliseconds', async () => {
    fake = new FakeKlaviyo();
    const micro = row(1, { Email: 'ann@example.com', MetricName: 'Placed Order', Datetime: '2026-07-15T10:00:00.123456Z' });
    const milli = row(2, { Email: 'bob@example.com', MetricName: 'Placed Order', Datetime: '2026-07-15T10:00:00.123Z' });
    await eventInsert.processBatch([micro], fake.ctx());
    const sent = fake.callsTo('POST', '/api/event-bulk-create-jobs')[0].body.data.attributes['events-bulk-create'].data[0].attributes.events.data[0];
    expect(sent.attributes.time).toBe('2026-07-15T10:00:00.123456Z');
    expect(uniqueIdOf(micro).id).toBe(uniqueIdOf({ ...milli, values: { ...milli.values, Email: 'ann@example.com' } }).id);
    expect(sent.attributes.unique_id).toBe(uniqueIdOf(micro).id);
  });

  it('1,500 events: two requests of at most 1,000', async () => {
    fake = new FakeKlaviyo();
    const out = await eventInsert.processBatch(Array.from({ length: 1500 }, (_, i) => order(i + 1, { UniqueId: `u${i}` })), fake.ctx());
    expect(out.filter((o) => o.ok)).toHaveLength(1500);
    const counts = fake
      .callsTo('POST', '/api/event-bulk-create-jobs')
      .map((c) => c.body.data.attributes['events-bulk-create'].data.reduce((n: number, g: any) => n + g.attributes.events.data.length, 0));
    expect(counts).toEqual([1000, 500]);
  });

  it('a repeated row of the batch (same profile, metric and unique id) fails duplicate_row, unsent: Klaviyo would refuse the whole request', async () => {
    fake = new FakeKlaviyo();
    const out = byRow(await eventInsert.processBatch([order(1), order(2), { ...order(1), rowNumber: 3 }], fake.ctx()));
    expect(out[3]).toMatchObject({ ok: false, code: 'duplicate_row', message: expect.stringContaining('Row 1') });
    expect(out[1]).toMatchObject({ ok: true });
    expect(out[2]).toMatchObject({ ok: true });
    const sent = fake.callsTo('POST', '/api/event-bulk-create-jobs')[0].body.data.attributes['events-bulk-create'].data;
    expect(sent.reduce((n: number, g: any) => n + g.attributes.events.data.length, 0)).toBe(2);
  });

  it('an event more than a year ahead fails before sending (Klaviyo refuses them)', async () => {
    fake = new FakeKlaviyo();
    const out = await eventInsert.processBatch([order(1, { Datetime: '2027-06-01T00:00:00Z' })], fake.ctx());
    expect(out).toEqual([{ ok: false, rowNumber: 1, code: 'invalid_value', message: expect.stringContaining('more than a year ahead') }]);
    expect(fake.writes()).toHaveLength(0);
  });

  it("a refusal pointing at one event fails that row with Klaviyo's detail; the others are sent again", async () => {
    fake = new FakeKlaviyo();
    let first = true;
    fake.override = (call) => {
      if (call.method === 'POST' && first) {
        first = false;
        return refusal('Metric name is too long', '/data/attributes/events-bulk-create/data/1/attributes/events/data/0/attributes/metric');
      }
      return undefined;
    };
    const rows = [order(1, { Email: 'a@example.com' }), order(2, { Email: 'b@example.com' }), order(3, { Email: 'a@example.com' })];
    const out = byRow(await eventInsert.processBatch(rows, fake.ctx()));
    expect(out[2]).toMatchObject({ ok: false, code: 'invalid', message: expect.stringContaining('Metric name is too long') });
    expect(out[1]).toMatchObject({ ok: true });
    expect(out[3]).toMatchObject({ ok: true });
    expect(fake.callsTo('POST', '/api/event-bulk-create-jobs')).toHaveLength(2);
  });

  it('rowsAtPointer: an event pointer names one row, a profile pointer every row of that profile', () => {
    const items = [order(1, { Email: 'a@x.com' }), order(2, { Email: 'b@x.com' }), order(3, { Email: 'a@x.com' })].map((r) => ({
      row: r,
      profileKey: String(r.values.Email),
      profile: { type: 'profile' as const, attributes: {} },
      event: { type: 'event' as const, attributes: {} },
      uniqueId: 'x',
      derived: true,
      bytes: 1,
    }));
    const { positions } = eventsBody(items);
    expect(positions).toEqual([
      { group: 0, event: 0 },
      { group: 1, event: 0 },
      { group: 0, event: 1 },
    ]);
    expect(rowsAtPointer('/data/attributes/events-bulk-create/data/0/attributes/events/data/1/attributes/time', positions)).toEqual([2]);
    expect(rowsAtPointer('/data/attributes/events-bulk-create/data/0/attributes/profile/data/attributes/email', positions)).toEqual([0, 2]);
    expect(rowsAtPointer('/data/attributes', positions)).toEqual([]);
  });
});

describe('validateRow', () => {
  it('needs a metric name and a profile, a plausible time, a numeric value and object properties', () => {
    const v = (values: Record<string, unknown>, uniqueBy?: string[]) => validateEventRow(row(4, values), { uniqueBy });
    expect(v({ Email: 'a@example.com', MetricName: 'Placed Order' })).toBeNull();
    expect(v({ Email: 'a@example.com' })).toMatchObject({ code: 'missing_value', message: expect.stringContaining('MetricName') });
    expect(v({ MetricName: 'Placed Order' })).toMatchObject({ code: 'missing_value', message: expect.stringContaining('ProfileId, Email') });
    expect(v({ Email: 'a@example.com', MetricName: 'x'.repeat(128) })).toMatchObject({ code: 'invalid_value' });
    expect(v({ Email: 'a@example.com', MetricName: 'M', Datetime: '1989-12-31T00:00:00Z' })).toMatchObject({ code: 'invalid_value', message: expect.stringContaining('1990') });
    expect(v({ Email: 'a@example.com', MetricName: 'M', Value: 'abc' })).toMatchObject({ code: 'invalid_value' });
    expect(v({ Email: 'a@example.com', MetricName: 'M', Properties: 'x' })).toMatchObject({ code: 'invalid_value' });
    expect(v({ Email: 'a@example.com', MetricName: 'M', Properties: { big: 'x'.repeat(101 * 1024) } })).toMatchObject({ code: 'too_large' });
    expect(v({ Email: 'a@example.com', MetricName: 'M' }, ['Nope'])).toMatchObject({ code: 'invalid_option', message: expect.stringContaining("'Nope'") });
  });

  it('reads a time without a zone as UTC, not in the machine zone', async () => {
    const zone = process.env.TZ;
    process.env.TZ = 'Asia/Tokyo';
    try {
      // In Tokyo this is 1989-12-31T17:00:00Z; in UTC, where klv reads it, it is 1990.
      expect(validateEventRow(row(1, { Email: 'a@example.com', MetricName: 'M', Datetime: '1990-01-01T02:00:00' }), {})).toBeNull();
      expect(validateEventRow(row(2, { Email: 'a@example.com', MetricName: 'M', Datetime: '2024-02-30T02:00:00Z' }), {})).toMatchObject({ code: 'invalid_value' });
      process.env.TZ = 'America/Los_Angeles';
      fake = new FakeKlaviyo();
      // The fake clock says 2026-01-01T12:00:00.500Z: a year ahead is 2027-01-01T12:00:00.500Z.
      const out = await eventInsert.processBatch([row(3, { Email: 'a@example.com', MetricName: 'M', Datetime: '2027-01-01T06:00:00', UniqueId: 'u3' })], fake.ctx());
      expect(out).toEqual([{ ok: true, rowNumber: 3, status: 'created', extras: { UniqueId: 'u3' } }]);
      // Given straight to the handler, the zoneless time goes out as written, which the spec's
      // date-time refuses; in a real import the mapping layer has already made it UTC ISO ("Z").
      expect(fake.violations).toEqual([expect.stringMatching(/attributes\/time: must match format "date-time"/)]);
      fake.violations.length = 0;
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});
