/**
 * Opening a destination from a `--to` URL: which database each form names, refusals with exit 2,
 * connection failures that name the host and never the password, and the SQL type and name rules
 * shared by the three dialects.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KlvError, UsageError } from '../../src/core/errors.js';
import { sqlIdentifier, sqlType } from '../../src/db/dialect.js';
import { redactUrl } from '../../src/db/errors.js';
import { databaseKind as destinationKind } from '../../src/db/open.js';
import { sqlitePath } from '../../src/db/sqlite.js';
import { toSqlValue } from '../../src/db/values.js';
import { openDestination } from '../../src/replicate/destinations/index.js';
import { unreachableReason } from '../helpers/databases.js';

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('destination URLs', () => {
  it('names the database from the scheme or a .db path', () => {
    expect(destinationKind('sqlite:./k.db')).toBe('sqlite');
    expect(destinationKind('sqlite:///abs/path.db')).toBe('sqlite');
    expect(destinationKind('./replica.db')).toBe('sqlite');
    expect(destinationKind('/var/lib/klv/replica.sqlite')).toBe('sqlite');
    expect(destinationKind('postgres://u@h/db')).toBe('postgres');
    expect(destinationKind('postgresql://u@h/db')).toBe('postgres');
    expect(destinationKind('mysql://u@h/db')).toBe('mysql');
    expect(destinationKind('mariadb://u@h/db')).toBe('mysql');
  });

  it('refuses unknown schemes and plain names with exit 2, without echoing a password', () => {
    for (const url of ['mongodb://u:hunter2@h/db', 'replica.csv', 'oracle:x']) {
      let err: unknown;
      try {
        destinationKind(url);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UsageError);
      expect((err as UsageError).exitCode).toBe(2);
      expect((err as UsageError).message).not.toContain('hunter2');
      expect((err as UsageError).hint).toMatch(/sqlite:.*postgres:.*mysql:/);
    }
  });

  it('resolves SQLite paths: relative, absolute, memory', () => {
    expect(sqlitePath('sqlite:./k.db')).toBe(resolve('k.db'));
    expect(sqlitePath('sqlite:k.db')).toBe(resolve('k.db'));
    expect(sqlitePath('sqlite:///abs/path.db')).toBe('/abs/path.db');
    expect(sqlitePath('sqlite::memory:')).toBe(':memory:');
    expect(() => sqlitePath('sqlite:')).toThrow(UsageError);
  });

  it('opens a bare .db path as SQLite and refuses --schema there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klv-open-'));
    try {
      const d = await openDestination(join(dir, 'x.db'));
      expect(d.kind).toBe('sqlite');
      expect(d.description).toBe(`sqlite:${join(dir, 'x.db')}`);
      await d.close();
      await expect(openDestination(`sqlite:${join(dir, 'x.db')}`, { schema: 'klaviyo' })).rejects.toBeInstanceOf(UsageError);
      await expect(openDestination(`sqlite:${join(dir, 'missing', 'x.db')}`)).rejects.toThrow(/directory .*missing does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('redacts passwords in descriptions', () => {
    expect(redactUrl('postgres://klv:s3cret@db.internal:5432/warehouse?sslmode=require')).toBe('postgres://klv@db.internal:5432/warehouse');
    expect(redactUrl('mysql://root@127.0.0.1:3306/test')).toBe('mysql://root@127.0.0.1:3306/test');
  });

  it('a MySQL URL without a database and no --schema is a usage error', async () => {
    await expect(openDestination('mysql://root@127.0.0.1:3306')).rejects.toBeInstanceOf(UsageError);
  });

  for (const scheme of ['postgres', 'mysql'] as const) {
    it(`an unreachable ${scheme} server fails clearly, naming the host and not the password`, async () => {
      const port = await closedPort();
      const url = `${scheme}://klv:hunter2@127.0.0.1:${port}/db`;
      let err: unknown;
      try {
        await openDestination(url);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KlvError);
      const e = err as KlvError;
      expect(e.exitCode).toBe(1);
      expect(e.message).toContain(`127.0.0.1:${port}`);
      expect(e.message).toMatch(/ECONNREFUSED/);
      expect(`${e.message} ${e.hint}`).not.toContain('hunter2');
      expect(e.hint).toMatch(/running and reachable/);
    });
  }

  it('the test helper reports an unreachable database with its reason', async () => {
    expect(await unreachableReason(`postgres://x@127.0.0.1:${await closedPort()}/db`)).toMatch(/ECONNREFUSED/);
  });
});

describe('SQL types and names', () => {
  it('maps catalog types per dialect', () => {
    expect(['id', 'string', 'integer', 'number', 'boolean', 'datetime', 'json'].map((t) => sqlType('postgres', t as never, false))).toEqual([
      'TEXT',
      'TEXT',
      'BIGINT',
      'DOUBLE PRECISION',
      'BOOLEAN',
      'TIMESTAMPTZ',
      'JSONB',
    ]);
    expect(['id', 'string', 'integer', 'number', 'boolean', 'datetime', 'json'].map((t) => sqlType('mysql', t as never, false))).toEqual([
      'VARCHAR(255)',
      'LONGTEXT',
      'BIGINT',
      'DOUBLE',
      'BOOLEAN',
      'DATETIME(6)',
      'JSON',
    ]);
    expect(sqlType('mysql', 'string', true)).toBe('VARCHAR(255)');
    expect(['id', 'integer', 'number', 'boolean', 'datetime', 'json'].map((t) => sqlType('sqlite', t as never, false))).toEqual(['TEXT', 'INTEGER', 'REAL', 'INTEGER', 'TEXT', 'TEXT']);
  });

  it('writes datetimes as UTC in each dialect', () => {
    expect(toSqlValue('sqlite', 'datetime', '2024-05-01T12:00:00+02:00', 'C')).toBe('2024-05-01T10:00:00.000000Z');
    expect(toSqlValue('mysql', 'datetime', '2024-05-01T12:00:00.5+02:00', 'C')).toBe('2024-05-01 10:00:00.500000');
    expect(toSqlValue('postgres', 'datetime', '2024-05-01 12:00:00', 'C')).toBe('2024-05-01T12:00:00.000000Z');
    expect(() => toSqlValue('postgres', 'datetime', 'soon', 'Created')).toThrow(/Created/);
  });

  it('shortens long identifiers deterministically to 63 bytes', () => {
    const long = 'Properties.' + 'x'.repeat(80);
    const a = sqlIdentifier(long);
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(63);
    expect(sqlIdentifier(long)).toBe(a);
    expect(sqlIdentifier(long + 'y')).not.toBe(a);
    expect(sqlIdentifier('Properties.color')).toBe('Properties.color');
    expect(Buffer.byteLength(sqlIdentifier('é'.repeat(40)))).toBeLessThanOrEqual(63);
  });
});
