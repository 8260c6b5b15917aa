/**
 * One conformance suite for every replication destination: SQLite always, PostgreSQL and
 * MySQL/MariaDB where reachable (test/helpers/databases.ts; KLV_REQUIRE_DB=1 makes them
 * mandatory). Each suite works in its own schema/database or file and removes it at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row } from '../../src/objects/types.js';
import { allObjects } from '../../src/objects/registry.js';
import type { SweepOptions, TableSpec } from '../../src/replicate/destination.js';
import { tableSpec } from '../../src/replicate/table-spec.js';
import { openDestination, type SqlDestination } from '../../src/replicate/destinations/index.js';
import { STAGING_BATCH } from '../../src/replicate/destinations/sql-destination.js';
import { IncompleteSweepError } from '../../src/replicate/sweep.js';
import { adminQuery, describeDb, dropTestSchema, mysqlUrl, pgUrl, uniqueName } from '../helpers/databases.js';

const LONG = 'Properties.' + 'a_very_long_custom_property_name_that_exceeds_identifier_limits_'.repeat(2);

function items(name: string, extra: TableSpec['columns'] = []): TableSpec {
  return {
    name,
    columns: [
      { name: 'Id', type: 'id' },
      { name: 'Name', type: 'string' },
      { name: 'ListId', type: 'id' },
      { name: 'Count', type: 'integer' },
      { name: 'Score', type: 'number' },
      { name: 'Active', type: 'boolean' },
      { name: 'Created', type: 'datetime' },
      { name: 'Properties', type: 'json' },
      ...extra,
    ],
    primaryKey: ['Id'],
    indexes: [['ListId']],
  };
}

function members(name: string): TableSpec {
  return {
    name,
    columns: [
      { name: 'ListId', type: 'id' },
      { name: 'ProfileId', type: 'id' },
      { name: 'JoinedAt', type: 'datetime' },
    ],
    primaryKey: ['ListId', 'ProfileId'],
    indexes: [['ProfileId']],
  };
}

function item(id: string, over: Row = {}): Row {
  return { Id: id, Name: `name ${id}`, ListId: 'L1', Count: 1, Score: 0.5, Active: true, Created: '2024-05-01T10:00:00.000Z', Properties: { k: id }, ...over };
}

async function* keys(rows: Row[]): AsyncIterable<Row> {
  for (const r of rows) yield r;
}

const soft: SweepOptions = { hard: false };
const hard: SweepOptions = { hard: true };

const T0 = new Date('2025-01-01T00:00:00.000Z');
const T1 = new Date('2025-01-02T00:00:00.000Z');
const T2 = new Date('2025-01-03T00:00:00.000Z');

interface Target {
  /** Opens a destination in this suite's isolated schema/file. */
  open(opts?: { tablePrefix?: string }): Promise<SqlDestination>;
  /** Tables in the suite's schema, as the database lists them. */
  tables(): Promise<string[]>;
}

function conformance(target: () => Target): void {
  let dest: SqlDestination;
  beforeAll(async () => {
    dest = await target().open();
  });
  afterAll(async () => {
    await dest?.close();
  });

  it('ensureTable creates the table with its key, indexes and sync columns, then adds drifted columns and drops nothing', async () => {
    const spec = items('drift');
    expect(await dest.ensureTable(spec)).toEqual({ created: true, addedColumns: [] });
    expect(await dest.ensureTable(spec)).toEqual({ created: false, addedColumns: [] });
    expect(await target().tables()).toContain('drift');

    const drifted = items('drift', [
      { name: 'Properties.favorite_color', type: 'string' },
      { name: LONG, type: 'integer' },
    ]);
    expect(await dest.ensureTable(drifted)).toEqual({ created: false, addedColumns: ['Properties.favorite_color', LONG] });
    expect(await dest.ensureTable(drifted)).toEqual({ created: false, addedColumns: [] });
    // The older spec (without the new columns) neither drops nor re-adds anything.
    expect(await dest.ensureTable(spec)).toEqual({ created: false, addedColumns: [] });

    await dest.upsertRows(drifted, [item('a', { 'Properties.favorite_color': 'teal', [LONG]: 7 })], T0);
    const [row] = await dest.readRows(drifted);
    expect(row).toMatchObject({ Id: 'a', 'Properties.favorite_color': 'teal', [LONG]: 7, _klv_synced_at: T0.toISOString(), _klv_deleted_at: null });
  });

  it('upsertRows counts inserted, updated and unchanged rows, last row wins for a key repeated in one call', async () => {
    const spec = items('upserts');
    await dest.ensureTable(spec);
    expect(await dest.upsertRows(spec, [item('a'), item('b'), item('c')], T0)).toEqual({ inserted: 3, updated: 0, unchanged: 0 });
    expect(await dest.upsertRows(spec, [item('b', { Name: 'B1' }), item('d'), item('c', { Count: 9 }), item('b', { Name: 'B2' })], T1)).toEqual({ inserted: 1, updated: 2, unchanged: 0 });
    expect(await dest.countRows(spec)).toBe(4);
    const rows = await dest.readRows(spec);
    expect(rows.map((r) => [r.Id, r.Name, r.Count, r._klv_synced_at])).toEqual([
      ['a', 'name a', 1, T0.toISOString()],
      ['b', 'B2', 1, T1.toISOString()],
      ['c', 'name c', 9, T1.toISOString()],
      ['d', 'name d', 1, T1.toISOString()],
    ]);
    expect(await dest.upsertRows(spec, [], T1)).toEqual({ inserted: 0, updated: 0, unchanged: 0 });
    // The same values again: unchanged, only their sync time moves; a repeat within the call that
    // ends on the stored value is unchanged too.
    expect(await dest.upsertRows(spec, [item('a'), item('b', { Name: 'B2' }), item('d', { Name: 'x' }), item('d')], T2)).toEqual({ inserted: 0, updated: 0, unchanged: 3 });
    expect((await dest.readRows(spec)).map((r) => [r.Id, r.Name, r._klv_synced_at])).toEqual([
      ['a', 'name a', T2.toISOString()],
      ['b', 'B2', T2.toISOString()],
      ['c', 'name c', T1.toISOString()],
      ['d', 'name d', T2.toISOString()],
    ]);
  });

  it('tells changed from unchanged rows for every column type, whatever form the values arrive in', async () => {
    const spec = items('changes');
    await dest.ensureTable(spec);
    const json = { b: [1, 'two', null, { z: 0.1 + 0.2, a: true }], a: { émoji: '✓ 🙂', quote: `it's "x"` }, n: 1.25, big: 2 ** 53 };
    const rows = [
      item('offset', { Created: '2024-05-01T12:30:00.250+02:00', Properties: json, Active: false, Count: 2 ** 40, Score: -3.75 }),
      item('zoneless', { Created: '2024-05-01 12:30:00', Properties: ['a', 1], Name: 'ünïcødé ✓', Score: 0.1 + 0.2 }),
      item('date', { Created: new Date('2024-06-01T00:00:00.000Z'), Properties: 'plain text', Count: '42' }),
      item('nulls', { Name: null, Count: null, Score: null, Active: null, Created: null, Properties: null }),
      item('empty', { Name: '', Properties: {}, Score: 0, Count: 0 }),
      item('spaces', { Name: '  padded  ', Properties: { nested: { deeper: [] } } }),
    ];
    expect(await dest.upsertRows(spec, rows, T0)).toEqual({ inserted: rows.length, updated: 0, unchanged: 0 });
    // The same records as Klaviyo would send them on the next read: other key order in JSON, the
    // same instants in another notation.
    const again = rows.map((r) => ({ ...r }));
    again[0] = { ...again[0]!, Created: '2024-05-01T10:30:00.250Z', Properties: { n: 1.25, big: 2 ** 53, a: { quote: `it's "x"`, émoji: '✓ 🙂' }, b: [1, 'two', null, { a: true, z: 0.1 + 0.2 }] } };
    again[1] = { ...again[1]!, Created: '2024-05-01T12:30:00Z' };
    again[2] = { ...again[2]!, Created: '2024-06-01T00:00:00+00:00', Count: 42 };
    expect(await dest.upsertRows(spec, again, T1)).toEqual({ inserted: 0, updated: 0, unchanged: rows.length });

    // One change per row, in each column type: every one is an update, and is stored.
    const changed = [
      { ...again[0]!, Properties: { ...json, n: 1.5 } },
      { ...again[1]!, Created: '2024-05-01T12:30:00.001Z' },
      { ...again[2]!, Active: false },
      { ...again[3]!, Score: 0 },
      { ...again[4]!, Name: null },
      { ...again[5]!, Name: 'padded' },
    ];
    expect(await dest.upsertRows(spec, changed, T2)).toEqual({ inserted: 0, updated: rows.length, unchanged: 0 });
    const byId = Object.fromEntries((await dest.readRows(spec)).map((r) => [r.Id, r]));
    expect(byId.offset!.Properties).toMatchObject({ n: 1.5 });
    expect(byId.zoneless!.Created).toBe('2024-05-01T12:30:00.001Z');
    expect(byId.nulls!.Score).toBe(0);
    expect(byId.empty!.Name).toBeNull();
    expect(byId.spaces!.Name).toBe('padded');
    expect((Object.values(byId) as Row[]).every((r) => r._klv_synced_at === T2.toISOString())).toBe(true);
  });

  it('a row marked deleted and seen again with the same values counts as updated; a column added later and still empty changes nothing', async () => {
    const spec = items('comeback');
    await dest.ensureTable(spec);
    await dest.upsertRows(spec, [item('a'), item('b')], T0);
    expect((await dest.reconcileDeletions(spec, keys([{ Id: 'a' }]), T1, soft)).deleted).toBe(1);
    expect(await dest.upsertRows(spec, [item('a'), item('b')], T2)).toEqual({ inserted: 0, updated: 1, unchanged: 1 });
    expect(await dest.countRows(spec)).toBe(2);

    const drifted = items('comeback', [{ name: 'Properties.tier', type: 'string' }]);
    await dest.ensureTable(drifted);
    expect(await dest.upsertRows(drifted, [item('a'), item('b', { 'Properties.tier': 'gold' })], T2)).toEqual({ inserted: 0, updated: 1, unchanged: 1 });
  });

  it('keys are case-sensitive (Klaviyo ids differ by case only)', async () => {
    const spec = items('cases');
    await dest.ensureTable(spec);
    expect(await dest.upsertRows(spec, [item('XyZ'), item('xyz')], T0)).toEqual({ inserted: 2, updated: 0, unchanged: 0 });
    expect(await dest.countRows(spec)).toBe(2);
  });

  it('upserts more rows than one statement holds, in one call', async () => {
    const spec = items('many');
    await dest.ensureTable(spec);
    const rows = Array.from({ length: 1234 }, (_, i) => item(`id${i}`));
    expect(await dest.upsertRows(spec, rows, T0)).toEqual({ inserted: 1234, updated: 0, unchanged: 0 });
    expect(await dest.upsertRows(spec, rows.slice(0, 700), T1)).toEqual({ inserted: 0, updated: 0, unchanged: 700 });
    const changed = rows.slice(0, 700).map((r, i) => (i % 3 === 0 ? { ...r, Count: 2 } : r));
    expect(await dest.upsertRows(spec, changed, T2)).toEqual({ inserted: 0, updated: 234, unchanged: 466 });
    expect(await dest.countRows(spec)).toBe(1234);
  });

  it('a failing upsert leaves nothing behind (one transaction)', async () => {
    const spec = items('atomic');
    await dest.ensureTable(spec);
    const rows = Array.from({ length: 600 }, (_, i) => item(`id${i}`));
    rows[599] = item('bad', { Created: 'not a date' });
    await expect(dest.upsertRows(spec, rows, T0)).rejects.toThrow(/Created/);
    expect(await dest.countRows(spec)).toBe(0);
  });

  it('reconcileDeletions marks rows missing from more keys than one staging batch, keeps the first mark, and a re-upsert un-deletes', async () => {
    const spec = items('sweep');
    await dest.ensureTable(spec);
    const live = Array.from({ length: STAGING_BATCH * 2 + 500 }, (_, i) => item(`live${i}`));
    const gone = Array.from({ length: 10 }, (_, i) => item(`gone${i}`));
    await dest.upsertRows(spec, [...live, ...gone], T0);
    expect(await dest.countRows(spec)).toBe(live.length + 10);

    expect(await dest.reconcileDeletions(spec, keys(live.map((r) => ({ Id: r.Id }))), T1, soft)).toEqual({
      deleted: 10,
      check: { liveRows: live.length + 10, liveKeys: live.length, absent: 10 },
      refused: false,
      cascaded: [],
    });
    expect(await dest.countRows(spec)).toBe(live.length);
    // Already marked rows keep the time they were first found missing, and are not at stake again.
    expect(await dest.reconcileDeletions(spec, keys(live.map((r) => ({ Id: r.Id }))), T2, soft)).toMatchObject({ deleted: 0, check: { liveRows: live.length, absent: 0 } });
    const all = await dest.readRows(spec, { includeDeleted: true });
    expect(all.filter((r) => r._klv_deleted_at !== null).map((r) => [r.Id, r._klv_deleted_at])).toEqual(gone.map((r) => [r.Id, T1.toISOString()]));

    expect(await dest.upsertRows(spec, [gone[0]!], T2)).toEqual({ inserted: 0, updated: 1, unchanged: 0 });
    expect(await dest.countRows(spec)).toBe(live.length + 1);
    const [back] = (await dest.readRows(spec)).filter((r) => r.Id === 'gone0');
    expect(back!._klv_deleted_at).toBeNull();
  });

  it('reconcileDeletions with hard removes absent rows, soft-marked ones included, on a composite key', async () => {
    const spec = members('members');
    await dest.ensureTable(spec);
    const rows = Array.from({ length: STAGING_BATCH + 200 }, (_, i) => ({ ListId: `L${i % 3}`, ProfileId: `P${i}`, JoinedAt: T0.toISOString() }));
    await dest.upsertRows(spec, rows, T0);
    // Soft-mark two, then hard-delete five (the two among them).
    expect((await dest.reconcileDeletions(spec, keys(rows.slice(2)), T1, soft)).deleted).toBe(2);
    expect((await dest.reconcileDeletions(spec, keys(rows.slice(5)), T2, hard)).deleted).toBe(5);
    expect(await dest.countRows(spec)).toBe(rows.length - 5);
    const left = await dest.readRows(spec, { includeDeleted: true });
    expect(left).toHaveLength(rows.length - 5);
    expect(left.some((r) => r.ProfileId === 'P0' || r.ProfileId === 'P4')).toBe(false);
    // Same ProfileId in another list is a different key: only the exact pair counts as live.
    expect((await dest.reconcileDeletions(spec, keys(rows.slice(5).map((r) => ({ ...r, ListId: r.ListId === 'L0' ? 'L9' : r.ListId }))), T2, hard)).deleted).toBe(
      rows.slice(5).filter((r) => r.ListId === 'L0').length,
    );
  });

  it('a sweep the guard refuses marks nothing and reports the numbers it judged; keys repeated by Klaviyo count once', async () => {
    const spec = items('guarded');
    await dest.ensureTable(spec);
    await dest.upsertRows(spec, ['a', 'b', 'c', 'd'].map((id) => item(id)), T0);
    await dest.reconcileDeletions(spec, keys(['a', 'b', 'c'].map((Id) => ({ Id }))), T0, soft); // d: marked earlier
    const judged: unknown[] = [];
    const refuseAll: SweepOptions = { hard: true, refuse: (check) => (judged.push(check), true) };
    const outcome = await dest.reconcileDeletions(spec, keys([{ Id: 'a' }, { Id: 'a' }, { Id: 'new' }]), T1, refuseAll);
    expect(outcome).toEqual({ deleted: 0, check: { liveRows: 3, liveKeys: 2, absent: 2 }, refused: true, cascaded: [] });
    expect(judged).toEqual([outcome.check]);
    expect((await dest.readRows(spec, { includeDeleted: true })).map((r) => [r.Id, r._klv_deleted_at])).toEqual([
      ['a', null],
      ['b', null],
      ['c', null],
      ['d', T0.toISOString()],
    ]);
    // Accepted: the same sweep marks them.
    expect(await dest.reconcileDeletions(spec, keys([{ Id: 'a' }]), T1, { hard: false, refuse: () => false })).toMatchObject({ deleted: 2, refused: false });
    expect(await dest.countRows(spec)).toBe(1);
  });

  it('deleted parents take their children along, soft or hard, in the child tables that exist', async () => {
    const lists = items('c_lists');
    const listMembers = members('c_list_members');
    await dest.ensureTable(lists);
    await dest.ensureTable(listMembers);
    await dest.upsertRows(lists, ['L1', 'L2', 'L3', 'L4'].map((id) => item(id)), T0);
    const memberRows = ['L1', 'L2', 'L3', 'L4'].flatMap((l) => ['P1', 'P2', 'P3'].map((p) => ({ ListId: l, ProfileId: p, JoinedAt: T0.toISOString() })));
    await dest.upsertRows(listMembers, memberRows, T0);
    // One membership of L2 was marked deleted before: it keeps its mark.
    await dest.reconcileDeletions(listMembers, keys(memberRows.filter((m) => !(m.ListId === 'L2' && m.ProfileId === 'P1'))), T0, soft);
    const cascades = [
      { table: 'c_list_members', column: 'ListId' },
      { table: 'c_segment_members', column: 'SegmentId' }, // not replicated here: skipped
    ];
    const outcome = await dest.reconcileDeletions(lists, keys([{ Id: 'L1' }, { Id: 'L4' }]), T1, { hard: false, cascades });
    expect(outcome).toMatchObject({ deleted: 2, refused: false, cascaded: [{ table: 'c_list_members', deleted: 5 }] });
    const stored = await dest.readRows(listMembers, { includeDeleted: true });
    const mark = (l: string, p: string) => stored.find((r) => r.ListId === l && r.ProfileId === p)!._klv_deleted_at;
    expect(mark('L2', 'P1')).toBe(T0.toISOString());
    expect([mark('L2', 'P2'), mark('L2', 'P3'), mark('L3', 'P1'), mark('L3', 'P2'), mark('L3', 'P3')]).toEqual(Array(5).fill(T1.toISOString()));
    expect(stored.filter((r) => r.ListId === 'L1' || r.ListId === 'L4').every((r) => r._klv_deleted_at === null)).toBe(true);
    // A sweep finding nothing new leaves the children alone.
    expect((await dest.reconcileDeletions(lists, keys([{ Id: 'L1' }, { Id: 'L4' }]), T2, { hard: false, cascades })).cascaded).toEqual([
      { table: 'c_list_members', deleted: 0 },
    ]);

    // Hard: the removed lists (the soft-marked ones included) take every membership row with them.
    const removed = await dest.reconcileDeletions(lists, keys([{ Id: 'L1' }]), T2, { hard: true, cascades });
    expect(removed).toMatchObject({ deleted: 3, cascaded: [{ table: 'c_list_members', deleted: 9 }] });
    expect((await dest.readRows(listMembers, { includeDeleted: true })).map((r) => r.ListId)).toEqual(['L1', 'L1', 'L1']);
    // A refused sweep cascades nothing either.
    const refused = await dest.reconcileDeletions(lists, keys([]), T2, { hard: true, cascades, refuse: () => true });
    expect(refused).toMatchObject({ deleted: 0, refused: true, cascaded: [] });
    expect(await dest.countRows(listMembers)).toBe(3);
  });

  it('a sweep whose keys throw half-way marks nothing, soft or hard, cascades included: both tables stay exactly as they were', async () => {
    const lists = items('swf_lists');
    const listMembers = members('swf_list_members');
    await dest.ensureTable(lists);
    await dest.ensureTable(listMembers);
    const listRows = Array.from({ length: STAGING_BATCH * 2 + 500 }, (_, i) => item(`L${i}`));
    await dest.upsertRows(lists, listRows, T0);
    await dest.upsertRows(listMembers, listRows.slice(-30).map((l, i) => ({ ListId: l.Id, ProfileId: `P${i}`, JoinedAt: T0.toISOString() })), T0);
    // One row marked by an earlier sweep keeps its mark whatever happens.
    await dest.reconcileDeletions(lists, keys(listRows.slice(1).map((r) => ({ Id: r.Id }))), T0, soft);
    const snapshot = async () => [await dest.readRows(lists, { includeDeleted: true }), await dest.readRows(listMembers, { includeDeleted: true })];
    const before = await snapshot();

    // Klaviyo listed the first lists (more than a staging batch, so some keys were staged), then a
    // page was not a document; or the read ended incomplete (a part left out) after all it had.
    const live = listRows.slice(0, -30).map((r) => ({ Id: r.Id }));
    async function* failing(n: number, error: Error): AsyncIterable<Row> {
      yield* live.slice(0, n);
      throw error;
    }
    const cascades = [{ table: 'swf_list_members', column: 'ListId' }];
    const notADocument = new Error('Klaviyo answered a page that is not a JSON:API document');
    for (const options of [{ hard: false, cascades }, { hard: true, cascades }, { hard: true, cascades, refuse: () => false }] as SweepOptions[]) {
      await expect(dest.reconcileDeletions(lists, failing(STAGING_BATCH + 100, notADocument), T1, options)).rejects.toBe(notADocument);
      expect(await snapshot()).toEqual(before);
      const incomplete = new IncompleteSweepError('Lists', ['the lists after page 3: Klaviyo answered 404 Not Found']);
      await expect(dest.reconcileDeletions(lists, failing(live.length, incomplete), T1, options)).rejects.toBe(incomplete);
      expect(await snapshot()).toEqual(before);
    }

    // Nothing lingers (staging tables, a held connection or lock): a complete sweep marks the 30
    // lists Klaviyo no longer has, and their members with them.
    expect(await dest.reconcileDeletions(lists, keys(live), T2, { hard: false, cascades })).toMatchObject({
      deleted: 30,
      refused: false,
      cascaded: [{ table: 'swf_list_members', deleted: 30 }],
    });
  });

  it('a sweep waiting for Klaviyo pages does not hold up writes to other tables', async () => {
    const swept = items('swept');
    const other = items('other');
    await dest.ensureTable(swept);
    await dest.ensureTable(other);
    await dest.upsertRows(swept, [item('a'), item('b')], T0);
    async function* liveWhileWriting(): AsyncIterable<Row> {
      yield { Id: 'a' };
      // The engine may upsert another object while this sweep is between pages.
      expect(await dest.upsertRows(other, [item('x')], T1)).toEqual({ inserted: 1, updated: 0, unchanged: 0 });
      expect(await dest.countRows(other)).toBe(1);
    }
    expect((await dest.reconcileDeletions(swept, liveWhileWriting(), T1, soft)).deleted).toBe(1);
  });

  it('keeps text with a NUL character (PostgreSQL: the NUL is dropped rather than failing the run)', async () => {
    const spec = items('nul');
    await dest.ensureTable(spec);
    await dest.upsertRows(spec, [item('a', { Name: 'a\u0000b', Properties: { note: 'x\u0000y' } })], T0);
    const [row] = await dest.readRows(spec);
    const expected = dest.kind === 'postgres' ? 'ab' : 'a\u0000b';
    expect(row).toMatchObject({ Name: expected, Properties: { note: dest.kind === 'postgres' ? 'xy' : 'x\u0000y' } });
  });

  it('creates a table for every catalog object, keys and indexes included, and takes a row of nulls besides the key', async () => {
    for (const def of allObjects()) {
      const spec = tableSpec(def, { tablePrefix: 'cat_' });
      expect(await dest.ensureTable(spec), def.name).toEqual({ created: true, addedColumns: [] });
      const row: Row = {};
      for (const c of spec.columns) row[c.name] = spec.primaryKey.includes(c.name) ? (c.type === 'datetime' ? T0.toISOString() : c.type === 'integer' || c.type === 'number' ? 1 : 'k1') : null;
      expect(await dest.upsertRows(spec, [row], T0), def.name).toEqual({ inserted: 1, updated: 0, unchanged: 0 });
      expect(await dest.upsertRows(spec, [row], T1), def.name).toEqual({ inserted: 0, updated: 0, unchanged: 1 });
      expect(await dest.countRows(spec)).toBe(1);
    }
  });

  it('stores state per object: get, set, overwrite, list, delete', async () => {
    expect(await dest.getState('Campaigns')).toBeNull();
    expect(await dest.listStates()).toEqual([]);
    const campaigns = { object: 'Campaigns', cursor: '2025-01-01T00:00:00.123Z', lastCompleteRunAt: '2025-01-02T00:00:00.000Z', lastSweepAt: null };
    await dest.setState(campaigns);
    await dest.setState({ object: 'Events', cursor: null, lastCompleteRunAt: null, lastSweepAt: null });
    expect(await dest.getState('Campaigns')).toEqual(campaigns);
    const moved = { ...campaigns, cursor: '2025-02-01T00:00:00.000Z', lastSweepAt: '2025-02-01T01:00:00.000Z' };
    await dest.setState(moved);
    expect(await dest.listStates()).toEqual([moved, { object: 'Events', cursor: null, lastCompleteRunAt: null, lastSweepAt: null }]);
    await dest.deleteState('Campaigns');
    expect(await dest.getState('Campaigns')).toBeNull();
    expect((await dest.listStates()).map((s) => s.object)).toEqual(['Events']);
    await dest.deleteState('Nothing');
  });

  it('round-trips JSON, datetimes (as UTC), booleans, integers, numbers and nulls', async () => {
    const spec = items('values');
    await dest.ensureTable(spec);
    const json = { nested: { list: [1, 'two', null, true], émoji: '✓ 🙂', quote: `it's "x"` }, n: 1.25 };
    await dest.upsertRows(
      spec,
      [
        item('offset', { Created: '2024-05-01T12:30:00.250+02:00', Properties: json, Active: false, Count: 2 ** 40, Score: -3.75 }),
        item('zoneless', { Created: '2024-05-01 12:30:00', Properties: ['a', 1], Name: 'ünïcødé ✓' }),
        item('date', { Created: new Date('2024-06-01T00:00:00.000Z'), Properties: 'plain text' }),
        item('nulls', { Name: null, Count: null, Score: null, Active: null, Created: null, Properties: null }),
      ],
      T0,
    );
    const byId = Object.fromEntries((await dest.readRows(spec)).map((r) => [r.Id, r]));
    expect(byId.offset).toMatchObject({ Created: '2024-05-01T10:30:00.250Z', Properties: json, Active: false, Count: 2 ** 40, Score: -3.75 });
    expect(byId.zoneless).toMatchObject({ Created: '2024-05-01T12:30:00.000Z', Properties: ['a', 1], Name: 'ünïcødé ✓', Active: true });
    expect(byId.date).toMatchObject({ Created: '2024-06-01T00:00:00.000Z', Properties: 'plain text' });
    expect(byId.nulls).toMatchObject({ Name: null, Count: null, Score: null, Active: null, Created: null, Properties: null });
  });

  it('--table-prefix keeps tables (and state) apart', async () => {
    const prefixed = await target().open({ tablePrefix: 'pfx_' });
    try {
      const spec = items('prefixed');
      expect(await prefixed.ensureTable(spec)).toEqual({ created: true, addedColumns: [] });
      // A name that arrives with the prefix applied is not prefixed twice.
      expect(await prefixed.ensureTable(items('pfx_prefixed'))).toEqual({ created: false, addedColumns: [] });
      await prefixed.upsertRows(spec, [item('a')], T0);
      await prefixed.setState({ object: 'Lists', cursor: null, lastCompleteRunAt: null, lastSweepAt: null });
      const tables = await target().tables();
      expect(tables).toContain('pfx_prefixed');
      expect(tables).toContain('pfx__klv_state');
      expect(tables).not.toContain('prefixed');
      expect(await dest.getState('Lists')).toBeNull();
    } finally {
      await prefixed.close();
    }
  });
}

// ---- SQLite: always ----------------------------------------------------------------------------

describe('SQLite destination', () => {
  const dir = mkdtempSync(join(tmpdir(), 'klv-dest-'));
  const file = join(dir, 'replica.db');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  conformance(() => ({
    open: async (opts = {}) => (await openDestination(`sqlite:${file}`, opts)) as SqlDestination,
    tables: async () => {
      const d = (await openDestination(`sqlite:${file}`)) as SqlDestination;
      await d.close();
      const { default: Database } = await import('better-sqlite3' as string);
      const db = new Database(file, { readonly: true });
      try {
        return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
      } finally {
        db.close();
      }
    },
  }));
});

// ---- PostgreSQL and MySQL/MariaDB: where reachable ------------------------------------------

for (const [label, url, kind] of [
  ['PostgreSQL destination', pgUrl(), 'postgres'],
  ['MySQL/MariaDB destination', mysqlUrl(), 'mysql'],
] as const) {
  await describeDb(label, url, (dbUrl) => {
    const schema = uniqueName(kind === 'postgres' ? 'pg' : 'my');
    afterAll(async () => {
      await dropTestSchema(dbUrl, schema);
    });
    conformance(() => ({
      open: async (opts = {}) => (await openDestination(dbUrl, { ...opts, schema })) as SqlDestination,
      tables: async () =>
        (
          await adminQuery(
            dbUrl,
            kind === 'postgres'
              ? 'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1'
              : 'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?',
            [schema],
          )
        ).map((r) => String(r.t)),
    }));

    it('puts tables in the --schema it creates, and the description has no password', async () => {
      const d = await openDestination(dbUrl, { schema });
      try {
        expect(d.kind).toBe(kind);
        expect(d.description).toContain(schema);
        expect(d.description).not.toMatch(/:[^:@/]+@/);
      } finally {
        await d.close();
      }
    });
  });
}
