import { describe, expect, it } from 'vitest';
import { defaultObjects, replicate } from '../../src/replicate/engine.js';
import { nextCursor, readSince, parseSpan, defaultLookbackMs } from '../../src/replicate/state.js';
import { parseSweepSetting, sweepDue, sweepPolicy } from '../../src/replicate/sweep.js';
import { snakeCase, tableSpec } from '../../src/replicate/table-spec.js';
import { allObjects, findObject } from '../../src/objects/registry.js';
import { FakeDestination, fakeClient, fakeObject, type FakeRecord } from './replicate-engine-fake.js';

const NOW = new Date('2026-12-01T12:00:00Z');
const now = () => NOW;

function records(n: number, updated = '2026-11-01T00:00:00Z'): FakeRecord[] {
  return Array.from({ length: n }, (_, i) => ({ Id: `L${String(i).padStart(3, '0')}`, Name: `List ${i}`, Updated: updated }));
}

describe('table specs', () => {
  it('names tables in snake_case, with the prefix', () => {
    expect(snakeCase('ListMembers')).toBe('list_members');
    expect(snakeCase('EmailTemplates')).toBe('email_templates');
    expect(tableSpec(findObject('list-members'), { tablePrefix: 'klaviyo_' }).name).toBe('klaviyo_list_members');
  });
  it('uses the default columns, the key, and indexes reference columns', () => {
    const events = tableSpec(findObject('events'));
    expect(events.primaryKey).toEqual(['Id']);
    expect(events.indexes).toEqual([['MetricId'], ['ProfileId']]);
    expect(events.columns.map((c) => c.name)).not.toContain('UniqueId'); // on demand
    const members = tableSpec(findObject('ListMembers'));
    expect(members.primaryKey).toEqual(['ListId', 'ProfileId']);
    expect(members.indexes).toEqual([['ProfileId']]); // ListId leads the key
    expect(tableSpec(findObject('Lists')).columns.map((c) => c.name)).not.toContain('ProfileCount');
  });
  it('replicates every object readable without a required filter', () => {
    const names = defaultObjects(allObjects()).map((d) => d.name);
    expect(names).not.toContain('ListSubscribe');
    expect(names).toEqual(expect.arrayContaining(['Profiles', 'Events', 'Campaigns', 'ListMembers', 'CouponCodes', 'PeopleExclusions']));
  });
});

describe('cursors', () => {
  const lists = findObject('Lists');
  const state = (cursor: string | null) => ({ object: 'Lists', cursor, lastCompleteRunAt: null, lastSweepAt: null });
  it('reads in full without a cursor, else from cursor minus the lookback', () => {
    expect(readSince(lists, null, 3_600_000, NOW)).toBeUndefined();
    expect(readSince(lists, state('2026-11-30T10:00:00Z'), 3_600_000, NOW)?.toISOString()).toBe('2026-11-30T09:00:00.000Z');
  });
  it('clamps a cursor in the future to now', () => {
    expect(readSince(lists, state('2030-01-01T00:00:00Z'), 3_600_000, NOW)?.toISOString()).toBe('2026-12-01T11:00:00.000Z');
    expect(nextCursor(null, Date.parse('2031-01-01T00:00:00Z'), NOW)).toBe(NOW.toISOString());
  });
  it('never moves a cursor back, keeps it when nothing newer was seen', () => {
    expect(nextCursor('2026-11-30T00:00:00Z', Date.parse('2026-11-01T00:00:00Z'), NOW)).toBe('2026-11-30T00:00:00.000Z');
    expect(nextCursor('2026-11-30T00:00:00Z', undefined, NOW)).toBe('2026-11-30T00:00:00.000Z');
    expect(nextCursor(null, undefined, NOW)).toBeNull();
  });
  it('reads objects Klaviyo cannot filter by time in full', () => {
    expect(readSince(findObject('Metrics'), state('2026-11-30T10:00:00Z'), 0, NOW)).toBeUndefined();
  });
  it('looks back 7 days for events, an hour elsewhere; spans parse', () => {
    expect(defaultLookbackMs(findObject('Events'))).toBe(7 * 86_400_000);
    expect(defaultLookbackMs(lists)).toBe(3_600_000);
    expect(parseSpan('2h')).toBe(7_200_000);
    expect(() => parseSpan('soon')).toThrow(/not a span/);
  });
});

describe('deletion sweeps', () => {
  it('sweeps small objects every run, memberships daily, profiles and events only when asked', () => {
    expect(sweepPolicy(findObject('Lists'))).toBe('every-run');
    expect(sweepPolicy(findObject('Tags'))).toBe('from-read');
    expect(sweepPolicy(findObject('ListMembers'))).toBe('daily');
    expect(sweepPolicy(findObject('Profiles'))).toBe('on-request');
    const st = (lastSweepAt: string | null) => ({ object: 'X', cursor: null, lastCompleteRunAt: null, lastSweepAt });
    expect(sweepDue(findObject('ListMembers'), undefined, st('2026-12-01T00:00:00Z'), NOW)).toBe(false);
    expect(sweepDue(findObject('ListMembers'), undefined, st('2026-11-30T00:00:00Z'), NOW)).toBe(true);
    expect(sweepDue(findObject('Profiles'), undefined, st(null), NOW)).toBe(false);
    expect(sweepDue(findObject('Profiles'), 'always', st(null), NOW)).toBe(true);
    expect(sweepDue(findObject('Lists'), 'never', st(null), NOW)).toBe(false);
    expect(sweepDue(findObject('Profiles'), parseSweepSetting('6'), st('2026-12-01T07:00:00Z'), NOW)).toBe(false);
    expect(() => parseSweepSetting('sometimes')).toThrow(/always, never/);
  });
});

describe('replicate', () => {
  it('loads everything first, then reads from the cursor minus the lookback and upserts', async () => {
    const data = records(1200);
    const { def, reads } = fakeObject(data);
    const dest = new FakeDestination();
    const client = fakeClient();
    const first = await replicate({ objects: [def], destination: dest, client, now, batchSize: 500 });
    expect(first.results[0]).toMatchObject({ object: 'Lists', table: 'lists', full: true, inserted: 1200, updated: 0, deleted: 0, requests: 1 });
    expect(dest.upserts).toBe(3); // batches of 500: flat memory
    expect(reads[0]!.columns.map((c) => c.name)).toEqual(['Id', 'Name', 'Updated']);
    expect(reads[0]!.since).toBeUndefined();
    expect(dest.states.get('Lists')).toMatchObject({ cursor: '2026-11-01T00:00:00.000Z', lastCompleteRunAt: NOW.toISOString() });

    data[5]!.Name = 'Renamed';
    data[5]!.Updated = '2026-11-20T00:00:00Z';
    const second = await replicate({ objects: [def], destination: dest, client, now });
    expect(reads[1]!.since?.toISOString()).toBe('2026-10-31T23:00:00.000Z'); // 1 h lookback
    expect(dest.contents('lists').find((r) => r.row.Id === 'L005')!.row.Name).toBe('Renamed');
    expect(second.results[0]!.full).toBe(false);
    expect(dest.states.get('Lists')!.cursor).toBe('2026-11-20T00:00:00.000Z');
  });

  it('marks records gone from Klaviyo with _klv_deleted_at, or removes them with --hard-deletes', async () => {
    const data = records(5);
    const { def } = fakeObject(data);
    const dest = new FakeDestination();
    await replicate({ objects: [def], destination: dest, client: fakeClient(), now });
    data.splice(2, 1);
    const r = await replicate({ objects: [def], destination: dest, client: fakeClient(), now });
    expect(r.results[0]).toMatchObject({ deleted: 1, swept: true });
    expect(dest.contents('lists').find((x) => x.row.Id === 'L002')!.deletedAt).toBe(NOW.toISOString());
    data.splice(0, 1);
    await replicate({ objects: [def], destination: dest, client: fakeClient(), now, hardDeletes: true });
    expect(dest.contents('lists').map((x) => x.row.Id)).toEqual(['L001', 'L002', 'L003', 'L004']);
  });

  it('does not sweep when told never, and reconciles full-read objects from their own read', async () => {
    const data = records(3);
    const { def, reads } = fakeObject(data, { name: 'Tags', incremental: false });
    const dest = new FakeDestination();
    const client = fakeClient();
    await replicate({ objects: [def], destination: dest, client, now });
    data.pop();
    const r = await replicate({ objects: [def], destination: dest, client, now });
    expect(r.results[0]).toMatchObject({ deleted: 1, requests: 1, full: true }); // no extra id-only read
    expect(reads.every((q) => q.since === undefined)).toBe(true);
    data.pop();
    const n = await replicate({ objects: [def], destination: dest, client, now, sweepDeletes: 'never' });
    expect(n.results[0]!.deleted).toBe(0);
  });

  it('a run killed mid-object leaves the state alone, and the next run converges to a clean replication', async () => {
    const data = records(1000);
    const { def } = fakeObject(data);
    const crashed = new FakeDestination();
    await replicate({ objects: [def], destination: crashed, client: fakeClient(), now });
    for (const r of data.slice(100, 900)) {
      r.Name += ' v2';
      r.Updated = '2026-11-25T00:00:00Z';
    }
    crashed.failUpsertAt = crashed.upserts + 2; // dies after one batch of the second run was written
    const killed = await replicate({ objects: [def], destination: crashed, client: fakeClient(), now, batchSize: 100 });
    expect(killed.failed).toHaveLength(1);
    expect(crashed.states.get('Lists')!.cursor).toBe('2026-11-01T00:00:00.000Z');
    crashed.failUpsertAt = undefined;
    await replicate({ objects: [def], destination: crashed, client: fakeClient(), now });

    const clean = new FakeDestination();
    await replicate({ objects: [def], destination: clean, client: fakeClient(), now });
    expect(crashed.contents('lists')).toEqual(clean.contents('lists'));
    expect(crashed.states.get('Lists')!.cursor).toBe(clean.states.get('Lists')!.cursor);
  });

  it('a read that fails keeps the previous state; other objects still replicate', async () => {
    const { def: broken } = fakeObject(records(10), { failAfterRows: 4 });
    const { def: tags } = fakeObject(records(2), { name: 'Tags', incremental: false });
    const dest = new FakeDestination();
    const r = await replicate({ objects: [broken, tags], destination: dest, client: fakeClient(), now });
    expect(r.failed.map((f) => f.object)).toEqual(['Lists']);
    expect(r.failed[0]!.error!.message).toBe('connection reset');
    expect(dest.states.has('Lists')).toBe(false);
    expect(dest.states.has('Tags')).toBe(true);
  });

  it('clamps a future timestamp in the data to now', async () => {
    const data = records(2);
    data[0]!.Updated = '2099-01-01T00:00:00Z';
    const { def } = fakeObject(data);
    const dest = new FakeDestination();
    await replicate({ objects: [def], destination: dest, client: fakeClient(), now });
    expect(dest.states.get('Lists')!.cursor).toBe(NOW.toISOString());
  });
});

describe('fatal errors', () => {
  it('a refused key stops the whole run (exit 4), it does not fail object after object', async () => {
    const { KlaviyoApiError } = await import('../../src/klaviyo/errors.js');
    const { def } = fakeObject(records(2));
    const refused = { ...def, plan: () => ({ requests: [], localConditions: [], notes: [], execute: async function* () { throw new KlaviyoApiError({ status: 401, operationId: 'get_lists', method: 'GET', path: '/api/lists', errors: [] } as never); } }) };
    const { def: tags } = fakeObject(records(2), { name: 'Tags', incremental: false });
    const dest = new FakeDestination();
    await expect(replicate({ objects: [refused, tags], destination: dest, client: fakeClient(), now })).rejects.toMatchObject({ exitCode: 4 });
    expect(dest.states.size).toBe(0);
  });
});
