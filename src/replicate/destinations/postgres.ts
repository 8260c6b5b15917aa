/**
 * PostgreSQL through pg (loaded only when a postgres:// destination is opened). A small pool:
 * each transaction and each deletion sweep (whose staging table lives on one session) holds one
 * connection; sessions run in UTC; timestamps are read as text (microseconds kept).
 */
import { KlvError } from '../../core/errors.js';
import type { DestinationOptions } from '../destination.js';
import { inTransaction, SqlDestination, type SessionConnection, type SqlConnection, type SqlDriver } from './sql-destination.js';
import { quoteIdent } from './sql-types.js';
import { connectError, redactUrl } from './url.js';

type PgModule = typeof import('pg');
type PoolClient = import('pg').PoolClient;
type Pool = import('pg').Pool;
type CustomTypesConfig = import('pg').CustomTypesConfig;

/** timestamp (1114) and timestamptz (1184). */
const TIMESTAMP_OIDS = new Set([1114, 1184]);

/**
 * pg's type parsers, but timestamps come back as the server's text (`2024-05-13
 * 08:01:45.276362+00`): the default parser makes a Date of them, which cuts Klaviyo's
 * microseconds to milliseconds.
 */
function timestampsAsText(pg: PgModule): CustomTypesConfig {
  const getTypeParser = (oid: number, format?: 'text' | 'binary') => (TIMESTAMP_OIDS.has(oid) ? (text: string) => text : pg.types.getTypeParser(oid, format));
  return { getTypeParser: getTypeParser as CustomTypesConfig['getTypeParser'] };
}

function connection(client: PoolClient): SqlConnection {
  return {
    query: async (sql, params = []) => (await client.query(sql, params)).rows as Record<string, unknown>[],
    run: async (sql, params = []) => (await client.query(sql, params)).rowCount ?? 0,
  };
}

class PgDriver implements SqlDriver {
  constructor(private readonly pool: Pool) {}

  async withConnection<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      return await fn(connection(client));
    } catch (err) {
      // A server-reported error (it has a severity) leaves the session usable; a lost connection does not.
      if ((err as { severity?: string }).severity === undefined) broken = err as Error;
      throw err;
    } finally {
      client.release(broken);
    }
  }

  session<T>(fn: (conn: SessionConnection) => Promise<T>): Promise<T> {
    return this.withConnection((conn) => fn({ ...conn, atomically: (body) => inTransaction(conn, 'BEGIN', body) }));
  }

  transaction<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    return this.withConnection((conn) => inTransaction(conn, 'BEGIN', fn));
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

export async function openPostgres(url: string, opts: DestinationOptions & { stagingBatch?: number }): Promise<SqlDestination> {
  const pg = ((await import('pg')) as unknown as { default: PgModule }).default;
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: 10_000,
    // Sessions in UTC: TIMESTAMPTZ values print and compare in UTC whatever the server's zone.
    options: '-c TimeZone=UTC',
    types: timestampsAsText(pg),
  });
  // An idle connection dropped by the server must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  let schema: string;
  try {
    const client = await pool.connect();
    try {
      if (opts.schema) {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent('postgres', opts.schema)}`);
        schema = opts.schema;
      } else {
        schema = String((await client.query('SELECT current_schema() AS s')).rows[0]?.s ?? 'public');
      }
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (err instanceof KlvError) throw err;
    throw connectError('PostgreSQL', url, err);
  }
  return new SqlDestination({
    kind: 'postgres',
    description: `${redactUrl(url)} (schema ${schema})`,
    driver: new PgDriver(pool),
    schema,
    tablePrefix: opts.tablePrefix,
    stagingBatch: opts.stagingBatch,
  });
}
