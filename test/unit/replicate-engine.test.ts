import { describe, expect, it } from 'vitest';
import { parseInstant } from '../../src/core/timestamps.js';
import { defaultObjects, replicate } from '../../src/replicate/engine.js';
import { CursorTracker, nextCursor, readSince, parseSpan, defaultLookbackMs } from '../../src/replicate/state.js';
import { MASS_DELETION_MIN_ROWS, massDeletionReason, parseSweepSetting, sweepCascades, sweepDue, sweepPolicy } from '../../src/replicate/sweep.js';
import { snakeCase, tableSpec } from '../../src/replicate/table-spec.js';
import { allObjects, findObject } from '../../src/objects/registry.js';
import { FakeDestination, fakeClient, fakeObject, type FakeRecord } from './replicate-engine-fake.js';
import { notFound, scripted } from '../helpers/scripted-client.js';
import type { JsonApiResource } from '../../src/klaviyo/json-api.js';

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
    expect(nextCursor(null, parseInstant('2031-01-01T00:00:00Z'), NOW)).toBe(NOW.toISOString());
  });
  it('never moves a cursor back, keeps it when nothing newer was seen', () => {
    expect(nextCursor('2026-11-30T00:00:00Z', parseInstant('2026-11-01T00:00:00Z'), NOW)).toBe('2026-11-30T00:00:00.000Z');
    expect(nextCursor('2026-11-30T00:00:00Z', undefined, NOW)).toBe('2026-11-30T00:00:00.000Z');
    expect(nextCursor(null, undefined, NOW)).toBeNull();
  });
  it('keeps the exact largest value seen, microseconds and the space form included, and compares exactly', () => {
    const tracker = new CursorTracker('Updated');
    for (const Updated of ['2026-11-30T08:01:45.276100+00:00', '2026-11-30 08:01:45.276362', '2026-11-30T08:01:45.276Z', null, 'garbage']) tracker.see({ Updated });
    expect(nextCursor('2026-11-30T08:01:45.276Z', tracker.max, NOW)).toBe('2026-11-30T08:01:45.276362Z');
    // A previous cursor with microseconds is not moved back by a value in the same millisecond.
    expect(nextCursor('2026-11-30T08:01:45.276999Z', tracker.max, NOW)).toBe('2026-11-30T08:01:45.276999Z');
    expect(nextCursor('2026-11-30T08:01:45.276362Z', undefined, NOW)).toBe('2026-11-30T08:01:45.276362Z');
  });
  it('reads a zoneless space-separated value as UTC whatever the machine zone', () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      const tracker = new CursorTracker('Updated');
      tracker.see({ Updated: '2026-11-30 09:00:00' });
      tracker.see({ Updated: '2026-11-30T10:00:00Z' });
      expect(nextCursor(null, tracker.max, NOW)).toBe('2026-11-30T10:00:00.000Z');
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
  it('reads from a microsecond cursor rounded down to the millisecond, minus the lookback', () => {
    // The lookback re-reads a window anyway; rounding down only widens it, never skips a row.
    expect(readSince(lists, state('2026-11-30T10:00:00.276362Z'), 0, NOW)?.toISOString()).toBe('2026-11-30T10:00:00.276Z');
    expect(readSince(lists, state('2026-11-30 10:00:00.999999'), 3_600_000, NOW)?.toISOString()).toBe('2026-11-30T09:00:00.999Z');
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
  it('reads a zoneless last sweep time as UTC whatever the machine zone', () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      const st = { object: 'X', cursor: null, lastCompleteRunAt: null, lastSweepAt: '2026-11-30 10:00:00' };
      // 26 hours before NOW in UTC (due daily); read in New York's zone it would be 21 hours.
      expect(sweepDue(findObject('ListMembers'), undefined, st, NOW)).toBe(true);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});

describe('replicate', () => {
  it('loads everything first, then reads from the cursor minus the lookback and upserts', async () => {
    const data = records(1200);
    const { def, reads } = fakeObject(data);
    const dest = new FakeDestination();
    const client = fakeClient();
    const first = await replicate({ objects: [def], destination: dest, client, now, batchSize: 500 });
    expect(first.results[0]).toMatchObject({ object: 'Lists', table: 'lists', full: true, inserted: 1200, updated: 0, unchanged: 0, deleted: 0, requests: 1 });
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
    // The lookback reads all 1200 again: one changed, the rest as stored.
    expect(second.results[0]).toMatchObject({ rowsRead: 1200, inserted: 0, updated: 1, unchanged: 1199 });
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
    // As the SQL destinations do: a hard sweep removes the rows marked earlier (L002) too.
    expect(dest.contents('lists').map((x) => x.row.Id)).toEqual(['L001', 'L003', 'L004']);
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

  it('records the microseconds Klaviyo sent in the cursor', async () => {
    const data = records(3);
    data[1]!.Updated = '2026-11-20T08:01:45.276362+00:00';
    data[2]!.Updated = '2026-11-20 08:01:45.2761';
    const { def, reads } = fakeObject(data);
    const dest = new FakeDestination();
    await replicate({ objects: [def], destination: dest, client: fakeClient(), now });
    expect(dest.states.get('Lists')!.cursor).toBe('2026-11-20T08:01:45.276362Z');
    await replicate({ objects: [def], destination: dest, client: fakeClient(), now, lookbackMs: 0 });
    expect(reads[1]!.since?.toISOString()).toBe('2026-11-20T08:01:45.276Z');
  });
});

describe('the mass-deletion guard', () => {
  const check = (liveRows: number, liveKeys: number, absent: number) => ({ liveRows, liveKeys, absent });
  it('refuses a sweep that lists nothing for a non-empty table, or deletes more than half of a larger one', () => {
    expect(massDeletionReason(check(1, 0, 1))).toMatch(/listed no record at all, and the table has 1 live rows/);
    expect(massDeletionReason(check(0, 0, 0))).toBeNull();
    expect(massDeletionReason(check(MASS_DELETION_MIN_ROWS, 4, 6))).toMatch(/6 of the table's 10 live rows \(60%\)/);
    expect(massDeletionReason(check(MASS_DELETION_MIN_ROWS, 5, 5))).toBeNull(); // half is not more than half
    expect(massDeletionReason(check(MASS_DELETION_MIN_ROWS - 1, 1, 8))).toBeNull(); // a small table
    expect(massDeletionReason(check(1_000_000, 499_000, 501_000))).toMatch(/501,000 of the table's 1,000,000/);
    expect(massDeletionReason(check(1_000_000, 999_000, 1000))).toBeNull();
  });

  it('a sweep that reads no key marks nothing, keeps the last sweep time, and says so; --allow-mass-deletes applies it', async () => {
    const data = records(3);
    const { def } = fakeObject(data);
    const dest = new FakeDestination();
    const first = new Date('2026-11-30T00:00:00Z');
    await replicate({ objects: [def], destination: dest, client: fakeClient(), now: () => first });
    const before = dest.states.get('Lists')!;
    data.splice(0); // Klaviyo answers an empty list

    const r = await replicate({ objects: [def], destination: dest, client: fakeClient(), now });
    expect(r.results[0]).toMatchObject({ deleted: 0, swept: false, sweepRefused: { liveRows: 3, liveKeys: 0, absent: 3, reason: expect.stringMatching(/no record/) } });
    expect(r.refused.map((x) => x.object)).toEqual(['Lists']);
    expect(r.failed).toEqual([]);
    expect(dest.contents('lists').every((x) => x.deletedAt === null)).toBe(true);
    expect(dest.states.get('Lists')).toMatchObject({ lastSweepAt: before.lastSweepAt, lastCompleteRunAt: NOW.toISOString() });

    const hard = await replicate({ objects: [def], destination: dest, client: fakeClient(), now, hardDeletes: true });
    expect(hard.results[0]!.sweepRefused).not.toBeNull();
    expect(dest.contents('lists')).toHaveLength(3);

    const allowed = await replicate({ objects: [def], destination: dest, client: fakeClient(), now, allowMassDeletes: true });
    expect(allowed.results[0]).toMatchObject({ deleted: 3, swept: true, sweepRefused: null });
    expect(allowed.refused).toEqual([]);
    expect(dest.contents('lists').every((x) => x.deletedAt === NOW.toISOString())).toBe(true);
    expect(dest.states.get('Lists')!.lastSweepAt).toBe(NOW.toISOString());
  });

  it('refuses a drop of more than half of a table of 10+ rows, not a smaller one, and guards full-read objects too', async () => {
    const data = records(20);
    const { def } = fakeObject(data, { name: 'Tags', incremental: false });
    const dest = new FakeDestination();
    await replicate({ objects: [def], destination: dest, client: fakeClient(), now });
    data.splice(0, 10); // exactly half: real deletions
    const half = await replicate({ objects: [def], destination: dest, client: fakeClient(), now });
    expect(half.results[0]).toMatchObject({ deleted: 10, sweepRefused: null });
    data.splice(0, 6); // 6 of the 10 live rows
    const most = await replicate({ objects: [def], destination: dest, client: fakeClient(), now });
    expect(most.results[0]).toMatchObject({ deleted: 0, sweepRefused: { liveRows: 10, liveKeys: 4, absent: 6 } });
    expect(await dest.countRows(dest.tables.get('tags')!.spec)).toBe(10);
  });
});

describe('a sweep whose read fails or is incomplete marks nothing', () => {
  /** A replica of 20 lists, then 5 of them deleted in Klaviyo and one renamed: a sound sweep marks 5 (25%, under the guard). */
  async function replicaWithDeletions() {
    const data = records(20);
    const dest = new FakeDestination();
    await replicate({ objects: [fakeObject(data).def], destination: dest, client: fakeClient(), now: () => new Date('2026-11-30T00:00:00Z') });
    data.splice(0, 5);
    data[0]!.Name = 'Renamed';
    data[0]!.Updated = '2026-11-20T00:00:00Z';
    return { data, dest, before: { ...dest.states.get('Lists')! } };
  }

  it('a read that throws after some keys: every row stays live, the state does not move, the object fails', async () => {
    const { data, dest, before } = await replicaWithDeletions();
    const { def } = fakeObject(data, { sweepFault: { afterKeys: 10, how: 'throw' } });
    const r = await replicate({ objects: [def], destination: dest, client: fakeClient(), now });
    expect(r.failed.map((f) => f.object)).toEqual(['Lists']);
    expect(r.failed[0]!.error!.message).toMatch(/not a JSON:API document/);
    expect(dest.contents('lists').filter((x) => x.deletedAt !== null)).toEqual([]);
    expect(dest.states.get('Lists')).toEqual(before);
  });

  it('a read that leaves a part out without failing: nothing marked, a warning, lastSweepAt kept; the next complete sweep marks them', async () => {
    const { data, dest, before } = await replicaWithDeletions();
    const { def } = fakeObject(data, { sweepFault: { afterKeys: 10, how: 'skip' } });
    const r = await replicate({ objects: [def], destination: dest, client: fakeClient(), now });
    expect(r.failed).toEqual([]);
    expect(r.incomplete.map((x) => x.object)).toEqual(['Lists']);
    expect(r.refused).toEqual([]);
    expect(r.results[0]).toMatchObject({
      deleted: 0,
      swept: false,
      sweepRefused: null,
      sweepIncomplete: 'the lists after the first page: Klaviyo answered 404 Not Found',
      updated: 1, // the rows read were written
    });
    expect(dest.contents('lists').filter((x) => x.deletedAt !== null)).toEqual([]);
    expect(dest.contents('lists').find((x) => x.row.Id === 'L005')!.row.Name).toBe('Renamed');
    // The read itself was complete: the cursor moves. The sweep was not: its time stays.
    expect(dest.states.get('Lists')).toMatchObject({ cursor: '2026-11-20T00:00:00.000Z', lastCompleteRunAt: NOW.toISOString(), lastSweepAt: before.lastSweepAt });

    const next = await replicate({ objects: [fakeObject(data).def], destination: dest, client: fakeClient(), now });
    expect(next.results[0]).toMatchObject({ deleted: 5, swept: true, sweepIncomplete: null });
    expect(dest.states.get('Lists')!.lastSweepAt).toBe(NOW.toISOString());
  });

  it('ListMembers: a list deleted while the sweep reads its members leaves every membership live, with a warning naming the list', async () => {
    const lists = [{ type: 'list', id: 'a' }, { type: 'list', id: 'b' }, { type: 'list', id: 'c' }];
    const member = (id: string, day: number): JsonApiResource => ({ type: 'profile', id, attributes: { email: `${id}@x.example`, joined_group_at: `2026-11-0${day}T00:00:00+00:00` } });
    const members: Record<string, JsonApiResource[]> = { a: [member('p1', 1), member('p2', 2)], b: [member('p3', 3)], c: [member('p4', 4)] };
    let listBDeleted = false;
    const { client } = scripted({
      pages: (op) => (op === 'get_lists' ? [lists] : []),
      request: (op, o) => {
        const id = o.pathParams!.id!;
        // The sweep's id-only read asks for joined_group_at alone; list b is gone by then.
        const idOnly = o.query?.['fields[profile]'] === 'joined_group_at';
        if (id === 'b' && idOnly && listBDeleted) throw notFound(op, '/api/lists/b/profiles');
        // p2 left list a: a complete sweep would mark that one membership.
        return { data: members[id]!.filter((m) => !(listBDeleted && m.id === 'p2')), links: { next: null } };
      },
    });
    const def = findObject('ListMembers');
    const dest = new FakeDestination();
    await replicate({ objects: [def], destination: dest, client, now: () => new Date('2026-11-30T00:00:00Z') });
    expect(dest.contents('list_members')).toHaveLength(4);
    listBDeleted = true;

    const r = await replicate({ objects: [def], destination: dest, client, now, sweepDeletes: 'always' });
    expect(r.failed).toEqual([]);
    expect(r.results[0]).toMatchObject({ deleted: 0, swept: false, sweepIncomplete: expect.stringMatching(/^the members of list b: Klaviyo answered 404 Not Found/) });
    expect(dest.contents('list_members').every((m) => m.deletedAt === null)).toBe(true);
  });
});

describe('archived flows', () => {
  it('are replicated, and a flow archived between two runs is updated, never marked deleted', async () => {
    const flow = (id: string, archived: boolean, updated: string): JsonApiResource => ({
      type: 'flow',
      id,
      attributes: { name: `Flow ${id}`, status: 'live', archived, trigger_type: 'Metric', created: '2026-01-01T00:00:00+00:00', updated },
    });
    const flows = [flow('F1', false, '2026-11-01T00:00:00+00:00'), flow('F2', false, '2026-11-01T00:00:00+00:00'), flow('F3', true, '2026-10-01T00:00:00+00:00')];
    // Klaviyo's app hides archived flows; GET /api/flows is taken to do the same unless the filter
    // names archived (what Airbyte's partitioning by archived implies). klv must not depend on it.
    const { client, calls } = scripted({
      pages: (op, o) => {
        expect(op).toBe('get_flows');
        const filter = String(o.query?.filter ?? '');
        const wanted = filter.includes('equals(archived,true)') ? [true] : [false];
        return [flows.filter((f) => wanted.includes(f.attributes!.archived as boolean))];
      },
    });
    const def = findObject('Flows');
    const dest = new FakeDestination();
    await replicate({ objects: [def], destination: dest, client, now: () => new Date('2026-11-30T00:00:00Z') });
    expect(dest.contents('flows').map((x) => [x.row.Id, x.row.Archived])).toEqual([
      ['F1', false],
      ['F2', false],
      ['F3', true],
    ]);

    flows[0] = flow('F1', true, '2026-11-29T00:00:00+00:00'); // archived in Klaviyo's app
    const r = await replicate({ objects: [def], destination: dest, client, now });
    expect(r.results[0]).toMatchObject({ deleted: 0, swept: true, updated: 1 });
    expect(dest.contents('flows').map((x) => [x.row.Id, x.row.Archived, x.deletedAt])).toEqual([
      ['F1', true, null],
      ['F2', false, null],
      ['F3', true, null],
    ]);
    // The read and the sweep each asked both ways, explicitly.
    expect(calls.map((c) => c.query?.filter)).toEqual([
      'equals(archived,false)',
      'equals(archived,true)',
      'and(equals(archived,false),greater-or-equal(updated,2026-10-31T23:00:00Z))', // the cursor minus the lookback
      'and(equals(archived,true),greater-or-equal(updated,2026-10-31T23:00:00Z))',
      'equals(archived,false)',
      'equals(archived,true)',
    ]);
  });
});

describe('deletions cascading to memberships', () => {
  it('names list_members for Lists and segment_members for Segments, with the prefix, and nothing for others', () => {
    expect(sweepCascades(findObject('Lists'))).toEqual([{ table: 'list_members', column: 'ListId' }]);
    expect(sweepCascades(findObject('Segments'), 'k_')).toEqual([{ table: 'k_segment_members', column: 'SegmentId' }]);
    expect(sweepCascades(findObject('Campaigns'))).toEqual([]);
  });

  it("a deleted list's members are marked deleted in the same run; other lists' members stay", async () => {
    const data = records(4);
    const { def } = fakeObject(data);
    const dest = new FakeDestination();
    const members = tableSpec(findObject('ListMembers'));
    await dest.ensureTable(members);
    await dest.upsertRows(members, data.flatMap((l) => ['P1', 'P2'].map((p) => ({ ListId: l.Id, ProfileId: p }))), NOW);
    await replicate({ objects: [def], destination: dest, client: fakeClient(), now });
    data.splice(1, 1); // L001
    const r = await replicate({ objects: [def], destination: dest, client: fakeClient(), now });
    expect(r.results[0]).toMatchObject({ deleted: 1, cascaded: [{ table: 'list_members', deleted: 2 }] });
    const marked = dest.contents('list_members').filter((m) => m.deletedAt).map((m) => m.row.ListId);
    expect(marked).toEqual(['L001', 'L001']);

    // Without a list_members table (only lists replicated here), nothing to cascade to.
    const alone = new FakeDestination();
    await replicate({ objects: [def], destination: alone, client: fakeClient(), now });
    data.splice(0, 1);
    expect((await replicate({ objects: [def], destination: alone, client: fakeClient(), now })).results[0]).toMatchObject({ deleted: 1, cascaded: [] });
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
  it.each(['edge-blocked', 'retry-after-too-long'] as const)("Klaviyo's %s stops the whole run (exit 1): the next objects would only meet it again", async (kind) => {
    const { KlaviyoResponseError } = await import('../../src/klaviyo/errors.js');
    const { def } = fakeObject(records(2));
    const blocked = { ...def, plan: () => ({ requests: [], localConditions: [], notes: [], execute: async function* () { throw new KlaviyoResponseError({ kind, operationId: 'get_lists', method: 'GET', path: '/api/lists', message: 'blocked', hint: 'later' }); } }) };
    const { def: tags } = fakeObject(records(2), { name: 'Tags', incremental: false });
    const dest = new FakeDestination();
    await expect(replicate({ objects: [blocked, tags], destination: dest, client: fakeClient(), now })).rejects.toMatchObject({ exitCode: 1, kind });
    expect(dest.states.size).toBe(0);
  });
});
