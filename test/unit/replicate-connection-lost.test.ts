/**
 * A database connection that dies while klv holds it (a deletion sweep holds one for as long as
 * it reads Klaviyo's keys) must end the work with a klv error that says so, never with an
 * unhandled 'error' event that kills the process with a stack; and a statement the server refuses
 * on a fresh MySQL session (its time zone) must reach the caller as well. Real servers: the
 * PostgreSQL backend is ended by pg_terminate_backend from a second connection, the MySQL one by
 * KILL CONNECTION (its id read through a loopback proxy, which also plays a server that refuses
 * `SET time_zone`). Skipped where the server is unreachable (KLV_REQUIRE_DB=1 makes it fail).
 */
import { afterAll, expect, it } from 'vitest';
import { KlvError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-code.js';
import type { Row } from '../../src/objects/types.js';
import type { TableSpec } from '../../src/replicate/destination.js';
import { openDestination } from '../../src/replicate/destinations/index.js';
import { adminQuery, describeDb, dropTestSchema, mysqlUrl, pgUrl, uniqueName } from '../helpers/databases.js';
import { startTcpProxy, throughProxy } from '../helpers/tcp-proxy.js';

const spec: TableSpec = {
  name: 'items',
  columns: [
    { name: 'Id', type: 'id' },
    { name: 'Name', type: 'string' },
  ],
  primaryKey: ['Id'],
  indexes: [],
};
const rows: Row[] = ['a', 'b', 'c'].map((id) => ({ Id: id, Name: `item ${id}` }));
const T0 = new Date('2025-01-01T00:00:00.000Z');
const T1 = new Date('2025-01-02T00:00:00.000Z');

/**
 * Live keys that end the session after the first one: `kill` ends it on the server, and the keys
 * go on only once the server no longer lists it (`gone`), as a sweep waiting for Klaviyo's next
 * page would find its connection.
 */
async function* keysThatKill(kill: () => Promise<void>, gone: () => Promise<boolean>): AsyncIterable<Row> {
  yield { Id: 'a' };
  await kill();
  while (!(await gone())) {
    // polled on a second connection: each round trip lets the dying session's socket be read
  }
  yield { Id: 'b' };
}

await describeDb('PostgreSQL connection ended mid-sweep', pgUrl(), (url) => {
  const schema = uniqueName('lost');
  // The sessions of this test, and only those, carry its name: they are the ones terminated.
  const named = `${url}${url.includes('?') ? '&' : '?'}application_name=${schema}`;
  afterAll(() => dropTestSchema(url, schema));

  it('fails the sweep with a klv error naming the closed connection; nothing is marked, and the next call works', async () => {
    const dest = await openDestination(named, { schema, stagingBatch: 1 });
    try {
      await dest.ensureTable(spec);
      await dest.upsertRows(spec, rows, T0);
      const sessions = async () => Number((await adminQuery(url, 'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [schema]))[0]?.n);
      const keys = keysThatKill(
        async () => void (await adminQuery(url, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [schema])),
        async () => (await sessions()) === 0,
      );
      const err = (await dest.reconcileDeletions(spec, keys, T1, { hard: false }).catch((e: unknown) => e)) as KlvError;
      expect(err).toBeInstanceOf(KlvError);
      expect(err.exitCode).toBe(ExitCode.Failure);
      expect(err.message).toMatch(/^The PostgreSQL connection to 127\.0\.0\.1:5432 was closed while klv was using it \(.*terminat.*\)$/);
      expect(err.hint).toMatch(/run the command again/i);
      // The pool lends a fresh connection: every row is still live.
      expect(await dest.countRows(spec)).toBe(3);
    } finally {
      await dest.close();
    }
  });
});

await describeDb('MySQL connection ended mid-sweep, and a session that refuses its time zone', mysqlUrl(), (url) => {
  const schema = uniqueName('lost');
  const target = new URL(url);
  const server = { host: target.hostname, port: Number(target.port || 3306) };
  afterAll(() => dropTestSchema(url, schema));

  it('fails the sweep with a klv error naming the closed connection; nothing is marked, and the next call works', async () => {
    const proxy = await startTcpProxy(server, { mysql: true });
    const dest = await openDestination(throughProxy(url, proxy), { schema, stagingBatch: 1 });
    try {
      await dest.ensureTable(spec);
      await dest.upsertRows(spec, rows, T0);
      const ids = () => [...proxy.mysqlConnectionIds];
      const alive = async () => (await adminQuery(url, `SELECT ID FROM information_schema.PROCESSLIST WHERE ID IN (${ids().join(', ')})`)).length;
      const keys = keysThatKill(
        async () => {
          for (const id of ids()) await adminQuery(url, `KILL CONNECTION ${Number(id)}`).catch(() => undefined);
        },
        async () => (await alive()) === 0,
      );
      const err = (await dest.reconcileDeletions(spec, keys, T1, { hard: false }).catch((e: unknown) => e)) as KlvError;
      expect(err).toBeInstanceOf(KlvError);
      expect(err.exitCode).toBe(ExitCode.Failure);
      expect(err.message).toMatch(/^The MySQL connection to 127\.0\.0\.1:\d+ was closed while klv was using it \(.+\)$/);
      expect(err.hint).toMatch(/run the command again/i);
      expect(await dest.countRows(spec)).toBe(3);
    } finally {
      await dest.close();
      await proxy.close();
    }
  });

  const refusal = { startsWith: 'SET time_zone', code: 1047, sqlState: '08S01', message: 'WSREP has not yet prepared node for application use' };

  it('a server that refuses SET time_zone on the first session: a klv error about the time zone', async () => {
    const proxy = await startTcpProxy(server, { mysql: true, refuseMysql: refusal });
    try {
      const err = (await openDestination(throughProxy(url, proxy), { schema }).catch((e: unknown) => e)) as KlvError;
      expect(err).toBeInstanceOf(KlvError);
      expect(err.exitCode).toBe(ExitCode.Failure);
      expect(err.message).toMatch(/^MySQL at 127\.0\.0\.1:\d+ refused to put a session in UTC \(SET time_zone = '\+00:00'\): WSREP has not yet prepared node for application use$/);
    } finally {
      await proxy.close();
    }
  });

  it('a server that refuses SET time_zone on a later session: the statement meant for it fails with that klv error', async () => {
    let refusing = false;
    const proxy = await startTcpProxy(server, { mysql: true, refuseMysql: { ...refusal, when: () => refusing } });
    const dest = await openDestination(throughProxy(url, proxy), { schema });
    try {
      await dest.ensureTable(spec);
      refusing = true;
      // Two at once: one on the pooled session, the other on a new one, which the server refuses.
      const [first, second] = await Promise.allSettled([dest.countRows(spec), dest.countRows(spec)]);
      expect([first.status, second.status].sort()).toEqual(['fulfilled', 'rejected']);
      const err = (first.status === 'rejected' ? first.reason : (second as PromiseRejectedResult).reason) as KlvError;
      expect(err).toBeInstanceOf(KlvError);
      expect(err.message).toMatch(/refused to put a session in UTC .*WSREP/);
      expect(proxy.connections).toBe(2);
    } finally {
      await dest.close();
      await proxy.close();
    }
  });
});
