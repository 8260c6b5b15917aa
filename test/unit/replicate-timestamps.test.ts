/**
 * Replicas keep Klaviyo's microseconds: values bound, stored and read back exactly in SQLite,
 * PostgreSQL and MySQL/MariaDB, a value read again compares equal to itself (no row reported
 * updated on every run), and an existing MySQL replica with DATETIME(3) columns is widened.
 * PostgreSQL and MySQL suites run where the servers are reachable (test/helpers/databases.ts),
 * each in a schema of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findObject } from '../../src/objects/registry.js';
import type { Row } from '../../src/objects/types.js';
import { syncSpec } from '../../src/sync/spec.js';
import { SyncStore } from '../../src/sync/store.js';
import type { TableSpec } from '../../src/replicate/destination.js';
import { openDestination, type SqlDestination } from '../../src/replicate/destinations/index.js';
import { comparable } from '../../src/db/compare.js';
import { sqlType } from '../../src/db/dialect.js';
import { type MysqlColumnInfo, planWidening, wideningSql } from '../../src/db/mysql-widen.js';
import { fromSqlValue, toSqlValue } from '../../src/db/values.js';
import { replicate } from '../../src/replicate/engine.js';
import { adminQuery, describeDb, dropTestSchema, mysqlUrl, pgUrl, uniqueName } from '../helpers/databases.js';
import { fakeClient, fakeObject } from './replicate-engine-fake.js';

const MICROS = '2024-05-13T08:01:45.276362+00:00';
const EXACT = '2024-05-13T08:01:45.276362Z';

describe('sql-types: datetimes to and from each database', () => {
  it('binds microseconds: fixed-width text for SQLite and PostgreSQL, a zoneless DATETIME(6) literal for MySQL', () => {
    expect(toSqlValue('sqlite', 'datetime', MICROS, 'C')).toBe('2024-05-13T08:01:45.276362Z');
    expect(toSqlValue('postgres', 'datetime', MICROS, 'C')).toBe('2024-05-13T08:01:45.276362Z');
    expect(toSqlValue('mysql', 'datetime', MICROS, 'C')).toBe('2024-05-13 08:01:45.276362');
    expect(toSqlValue('sqlite', 'datetime', '2024-05-13 10:01:45.276362+02:00', 'C')).toBe('2024-05-13T08:01:45.276362Z');
    // Databases hold microseconds: nanoseconds are cut, never rounded into the next microsecond.
    expect(toSqlValue('postgres', 'datetime', '2024-05-13T08:01:45.999999999Z', 'C')).toBe('2024-05-13T08:01:45.999999Z');
  });

  it('reads back what each driver returns as the same exact ISO text', () => {
    // pg (timestamptz as text), mysql2 (dateStrings), SQLite (the text klv wrote; older klv wrote milliseconds).
    expect(fromSqlValue('datetime', '2024-05-13 08:01:45.276362+00')).toBe(EXACT);
    expect(fromSqlValue('datetime', '2024-05-13 08:01:45.276362')).toBe(EXACT);
    expect(fromSqlValue('datetime', '2024-05-13T08:01:45.276362Z')).toBe(EXACT);
    expect(fromSqlValue('datetime', '2024-05-13 08:01:45.27636+00')).toBe('2024-05-13T08:01:45.276360Z');
    expect(fromSqlValue('datetime', '2024-05-13 08:01:45.276360')).toBe('2024-05-13T08:01:45.276360Z');
    // Milliseconds as klv read them back before (Date's toISOString).
    expect(fromSqlValue('datetime', '2024-05-13 08:01:45+00')).toBe('2024-05-13T08:01:45.000Z');
    expect(fromSqlValue('datetime', '2024-05-13 08:01:45.276000')).toBe('2024-05-13T08:01:45.276Z');
    expect(fromSqlValue('datetime', new Date(Date.UTC(2024, 4, 13, 8, 1, 45, 276)))).toBe('2024-05-13T08:01:45.276Z');
  });

  it('compares a microsecond value equal to itself after a round trip through each database', () => {
    for (const dialect of ['sqlite', 'postgres', 'mysql'] as const) {
      const bound = fromSqlValue('datetime', toSqlValue(dialect, 'datetime', '2024-05-13T08:01:45.276360+00:00', 'C'));
      for (const stored of ['2024-05-13 08:01:45.27636+00', '2024-05-13 08:01:45.276360', '2024-05-13T08:01:45.276360Z']) {
        expect(comparable('datetime', fromSqlValue('datetime', stored)), `${dialect} ${stored}`).toBe(comparable('datetime', bound));
      }
      const other = fromSqlValue('datetime', toSqlValue(dialect, 'datetime', '2024-05-13T08:01:45.276361+00:00', 'C'));
      expect(comparable('datetime', other)).not.toBe(comparable('datetime', bound));
    }
  });

  it('gives MySQL DATETIME(6) columns', () => {
    expect(sqlType('mysql', 'datetime', false)).toBe('DATETIME(6)');
  });
});

function spec(name: string): TableSpec {
  return {
    name,
    columns: [
      { name: 'Id', type: 'id' },
      { name: 'Updated', type: 'datetime' },
    ],
    primaryKey: ['Id'],
    indexes: [['Updated']],
  };
}

const T0 = new Date('2025-01-01T00:00:00.000Z');
const T1 = new Date('2025-01-02T00:00:00.000Z');

const ROWS: Row[] = [
  { Id: 'micro', Updated: MICROS },
  { Id: 'space', Updated: '2024-05-13 08:01:45.276362' },
  { Id: 'space-zone', Updated: '2024-05-13 10:01:45.5+02:00' },
  { Id: 'trailing-zero', Updated: '2024-05-13T08:01:45.276360+00:00' },
  { Id: 'whole', Updated: '2024-05-13T08:01:45+00:00' },
  { Id: 'nanos', Updated: '2024-05-13T08:01:45.123456789Z' },
];

const STORED: Record<string, string> = {
  micro: EXACT,
  space: EXACT,
  'space-zone': '2024-05-13T08:01:45.500Z',
  'trailing-zero': '2024-05-13T08:01:45.276360Z',
  whole: '2024-05-13T08:01:45.000Z',
  nanos: '2024-05-13T08:01:45.123456Z',
};

function roundTrips(open: () => Promise<SqlDestination>, table: string): void {
  let dest: SqlDestination;
  beforeAll(async () => {
    dest = await open();
  });
  afterAll(async () => {
    await dest?.close();
  });

  it('stores every microsecond, reads it back exactly, and finds the same rows unchanged on the next run', async () => {
    const s = spec(table);
    await dest.ensureTable(s);
    expect(await dest.upsertRows(s, ROWS, T0)).toEqual({ inserted: ROWS.length, updated: 0, unchanged: 0 });
    const back = Object.fromEntries((await dest.readRows(s)).map((r) => [r.Id, r.Updated]));
    expect(back).toEqual(STORED);
    expect(await dest.upsertRows(s, ROWS, T1)).toEqual({ inserted: 0, updated: 0, unchanged: ROWS.length });
    // What the replica gives back, written again, is the same too.
    const again = (await dest.readRows(s)).map((r) => ({ Id: r.Id, Updated: r.Updated }));
    expect(await dest.upsertRows(s, again, T1)).toEqual({ inserted: 0, updated: 0, unchanged: ROWS.length });
    // One microsecond later is a change.
    expect(await dest.upsertRows(s, [{ Id: 'micro', Updated: '2024-05-13T08:01:45.276363+00:00' }], T1)).toEqual({ inserted: 0, updated: 1, unchanged: 0 });
  });
}

describe('SQLite replica keeps microseconds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'klv-ts-'));
  const file = join(dir, 'replica.db');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  roundTrips(async () => (await openDestination(`sqlite:${file}`)) as SqlDestination, 'ts_sqlite');

  it('stores fixed-width text that sorts as time, and finds rows written by older klv (milliseconds) unchanged', async () => {
    const { default: Database } = await import('better-sqlite3' as string);
    const dest = (await openDestination(`sqlite:${file}`)) as SqlDestination;
    try {
      const s = spec('ts_sqlite_old');
      await dest.ensureTable(s);
      const db = new Database(file);
      try {
        db.prepare('INSERT INTO ts_sqlite_old ("Id", "Updated") VALUES (?, ?)').run('old', '2024-05-13T08:01:45.276Z');
      } finally {
        db.close();
      }
      expect(await dest.upsertRows(s, [{ Id: 'old', Updated: '2024-05-13T08:01:45.276+00:00' }, { Id: 'new', Updated: MICROS }], T0)).toEqual({ inserted: 1, updated: 0, unchanged: 1 });
      const raw = await dest.db.query('SELECT "Updated" AS u FROM ts_sqlite WHERE "Id" IN (?, ?) ORDER BY "Updated"', ['space', 'whole']);
      expect(raw.map((r) => r.u)).toEqual(['2024-05-13T08:01:45.000000Z', '2024-05-13T08:01:45.276362Z']);
    } finally {
      await dest.close();
    }
  });
});

describe('a replicate run into SQLite with microsecond data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'klv-ts-run-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stores and checkpoints the microseconds, and a second run finds every row unchanged', async () => {
    const records = [
      { Id: 'L1', Name: 'one', Updated: '2026-11-20T08:01:45.276362+00:00' },
      { Id: 'L2', Name: 'two', Updated: '2026-11-20 08:01:45.2761' },
      { Id: 'L3', Name: 'three', Updated: '2026-11-19T08:01:45+00:00' },
    ];
    const { def } = fakeObject(records);
    const dest = (await openDestination(`sqlite:${join(dir, 'run.db')}`)) as SqlDestination;
    try {
      const now = () => new Date('2026-12-01T00:00:00Z');
      const first = await replicate({ objects: [def], destination: dest, client: fakeClient(), now });
      expect(first.results[0]).toMatchObject({ inserted: 3, cursor: '2026-11-20T08:01:45.276362Z' });
      const second = await replicate({ objects: [def], destination: dest, client: fakeClient(), now, lookbackMs: 86_400_000 * 30 });
      expect(second.results[0]).toMatchObject({ rowsRead: 3, inserted: 0, updated: 0, unchanged: 3 });
      const stored = await dest.db.query('SELECT "Id", "Updated" FROM lists ORDER BY "Updated"');
      expect(stored).toEqual([
        { Id: 'L3', Updated: '2026-11-19T08:01:45.000000Z' },
        { Id: 'L2', Updated: '2026-11-20T08:01:45.276100Z' },
        { Id: 'L1', Updated: '2026-11-20T08:01:45.276362Z' },
      ]);
      expect((await dest.getState('Lists'))?.cursor).toBe('2026-11-20T08:01:45.276362Z');
    } finally {
      await dest.close();
    }
  });
});

await describeDb('PostgreSQL replica keeps microseconds', pgUrl(), (url) => {
  const schema = uniqueName('ts_pg');
  afterAll(async () => {
    await dropTestSchema(url, schema);
  });
  roundTrips(async () => (await openDestination(url, { schema })) as SqlDestination, 'ts_pg');
});

await describeDb('MySQL/MariaDB replica keeps microseconds', mysqlUrl(), (url) => {
  const schema = uniqueName('ts_my');
  afterAll(async () => {
    await dropTestSchema(url, schema);
  });
  roundTrips(async () => (await openDestination(url, { schema })) as SqlDestination, 'ts_my');

  it('widens the DATETIME(3) columns of an existing replica to DATETIME(6), keeping their values, keys and indexes', async () => {
    const dest = (await openDestination(url, { schema })) as SqlDestination;
    try {
      // A table as klv created it before: DATETIME(3), a datetime in the key, one indexed.
      await adminQuery(
        url,
        `CREATE TABLE \`${schema}\`.ts_my_old (\`Id\` VARCHAR(255) NOT NULL, \`At\` DATETIME(3) NOT NULL, \`Updated\` DATETIME(3), ` +
          `\`_klv_synced_at\` DATETIME(3), \`_klv_deleted_at\` DATETIME(3), PRIMARY KEY (\`Id\`, \`At\`), INDEX ts_my_old_u (\`Updated\`)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      );
      await adminQuery(url, `INSERT INTO \`${schema}\`.ts_my_old VALUES ('a', '2024-01-01 00:00:00.000', '2024-05-13 08:01:45.276', '2025-01-01 00:00:00.000', NULL)`);
      const s: TableSpec = { ...spec('ts_my_old'), columns: [...spec('ts_my_old').columns, { name: 'At', type: 'datetime' }], primaryKey: ['Id', 'At'] };
      expect(await dest.ensureTable(s)).toEqual({ created: false, addedColumns: [] });
      const columns = await adminQuery(
        url,
        'SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t, IS_NULLABLE AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
        [schema, 'ts_my_old'],
      );
      expect(columns.map((r) => [r.c, String(r.t).toLowerCase(), r.n])).toEqual([
        ['Id', 'varchar(255)', 'NO'],
        ['At', 'datetime(6)', 'NO'],
        ['Updated', 'datetime(6)', 'YES'],
        ['_klv_synced_at', 'datetime(6)', 'YES'],
        ['_klv_deleted_at', 'datetime(6)', 'YES'],
      ]);
      const indexes = await adminQuery(url, 'SELECT DISTINCT INDEX_NAME AS i FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [schema, 'ts_my_old']);
      expect(indexes.map((r) => String(r.i))).toEqual(expect.arrayContaining(['PRIMARY', 'ts_my_old_u']));
      expect((await dest.readRows(s)).map((r) => [r.Id, r.At, r.Updated])).toEqual([['a', '2024-01-01T00:00:00.000Z', '2024-05-13T08:01:45.276Z']]);
      // The same values again are unchanged; microseconds now fit.
      expect(await dest.upsertRows(s, [{ Id: 'a', At: '2024-01-01T00:00:00Z', Updated: '2024-05-13T08:01:45.276+00:00' }], T0)).toEqual({ inserted: 0, updated: 0, unchanged: 1 });
      expect(await dest.upsertRows(s, [{ Id: 'a', At: '2024-01-01T00:00:00Z', Updated: MICROS }], T0)).toEqual({ inserted: 0, updated: 1, unchanged: 0 });
      expect((await dest.readRows(s)).map((r) => r.Updated)).toEqual([EXACT]);
      // Already wide: nothing more to do.
      expect(await dest.ensureTable(s)).toEqual({ created: false, addedColumns: [] });
    } finally {
      await dest.close();
    }
  });

  it('widens the DATETIME(3) columns of an existing klv sync table too', async () => {
    const dest = (await openDestination(url, { schema })) as SqlDestination;
    try {
      // A Lists sync table as klv sync created it before.
      await adminQuery(
        url,
        `CREATE TABLE \`${schema}\`.ts_sync_old (\`_klv_row_id\` BIGINT AUTO_INCREMENT PRIMARY KEY, \`Id\` VARCHAR(255) UNIQUE, \`Name\` LONGTEXT, ` +
          `\`OptInProcess\` LONGTEXT, \`Updated\` DATETIME(3), \`_klv_modified_at\` DATETIME(3), \`_klv_synced_at\` DATETIME(3)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      );
      const store = new SyncStore({ db: dest.db, spec: syncSpec(findObject('lists')), table: 'ts_sync_old', objectKey: 'Lists:ts_sync_old', now: () => T0.toISOString() });
      expect(await store.ensureTables({ dryRun: false })).toEqual({ tableExists: true });
      const types = await adminQuery(url, 'SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND DATA_TYPE = ?', [
        schema,
        'ts_sync_old',
        'datetime',
      ]);
      expect(Object.fromEntries(types.map((r) => [r.c, String(r.t).toLowerCase()]))).toEqual({ Updated: 'datetime(6)', _klv_modified_at: 'datetime(6)', _klv_synced_at: 'datetime(6)' });
    } finally {
      await dest.close();
    }
  });
});

describe('widening plan (MySQL)', () => {
  const col = (name: string, over: Partial<MysqlColumnInfo> = {}): MysqlColumnInfo => ({
    name,
    dataType: 'datetime',
    precision: 3,
    nullable: true,
    defaultValue: null,
    extra: '',
    comment: '',
    ...over,
  });

  it('widens narrow datetimes klv manages, whatever the case of their names, and leaves the rest', () => {
    const plan = planWidening(
      [
        col('Updated'),
        col('created', { defaultValue: 'NULL' }), // MariaDB's spelling of "no default"
        col('At', { nullable: false, precision: 0 }),
        col('Wide', { precision: 6 }),
        col('Theirs'), // not a column klv manages
        col('Name', { dataType: 'varchar', precision: null }),
      ],
      ['Updated', 'Created', 'At', 'Wide', 'Name'],
    );
    expect(plan.widen.map((c) => c.name)).toEqual(['Updated', 'created', 'At']);
    expect(plan.customised).toEqual([]);
    expect(wideningSql('`db`.`t`', (n) => `\`${n}\``, plan.widen)).toBe(
      'ALTER TABLE `db`.`t` MODIFY COLUMN `Updated` DATETIME(6) NULL, MODIFY COLUMN `created` DATETIME(6) NULL, MODIFY COLUMN `At` DATETIME(6) NOT NULL',
    );
  });

  it('does not redefine a column with a default, ON UPDATE or a comment of its own', () => {
    const plan = planWidening(
      [col('A', { defaultValue: 'current_timestamp(3)' }), col('B', { extra: 'on update current_timestamp(3)' }), col('C', { comment: 'mine' })],
      ['A', 'B', 'C'],
    );
    expect(plan.widen).toEqual([]);
    expect(plan.customised.map((c) => c.name)).toEqual(['A', 'B', 'C']);
  });
});
