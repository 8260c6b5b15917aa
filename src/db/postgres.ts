/**
 * PostgreSQL through pg (loaded only when a postgres:// database is opened). A small pool:
 * each transaction and each deletion sweep (whose staging table lives on one session) holds one
 * connection; sessions run in UTC; timestamps are read as text (microseconds kept).
 */
import { KlvError } from '../core/errors.js';
import { inTransaction, type SessionConnection, type SqlConnection, type SqlDriver } from './connection.js';
import { Database, type OpenOptions } from './database.js';
import { beginStatement, quoteIdent } from './dialect.js';
import { connectError, connectionLostError, redactUrl } from './errors.js';

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

/**
 * Whether a failed query means the session is gone (rather than a statement the server refused,
 * after which the session goes on): the server's FATAL or PANIC, or pg's own words for a socket
 * that closed.
 */
function sessionGone(err: unknown): boolean {
  const e = err as { severity?: string; code?: string; message?: string };
  if (e.severity === 'FATAL' || e.severity === 'PANIC') return true;
  if (e.severity !== undefined) return false;
  return /^(ECONNRESET|EPIPE|ETIMEDOUT)$/.test(e.code ?? '') || /Connection terminated|not queryable/i.test(e.message ?? '');
}

/**
 * One pooled client, held for a callback. pg-pool listens for a client's 'error' only while it
 * is idle in the pool: a client held through a long task (a deletion sweep waiting for Klaviyo's
 * pages) whose backend is terminated would emit 'error' to nobody and end the process. So every
 * held client is listened to until it goes back, and the loss comes out of the next statement
 * as a klv error.
 */
class HeldClient {
  private lost: unknown;
  private readonly onError = (err: unknown) => {
    this.lost ??= err;
  };

  constructor(
    private readonly client: PoolClient,
    private readonly url: string,
  ) {
    client.on('error', this.onError);
  }

  readonly connection: SqlConnection = {
    query: async (sql, params = []) => (await this.run(sql, params)).rows as Record<string, unknown>[],
    run: async (sql, params = []) => (await this.run(sql, params)).rowCount ?? 0,
  };

  private async run(sql: string, params: unknown[]): Promise<import('pg').QueryResult> {
    if (this.lost !== undefined) throw connectionLostError('PostgreSQL', this.url, this.lost);
    try {
      return await this.client.query(sql, params);
    } catch (err) {
      if (this.lost === undefined && !sessionGone(err)) throw err;
      this.lost ??= err;
      throw connectionLostError('PostgreSQL', this.url, this.lost);
    }
  }

  /**
   * Back to the pool (which listens again), or destroyed when the session is gone or may be in a
   * state of its own: `failure` is what the callback threw, and only a server-reported error (it
   * has a severity) leaves the session usable.
   */
  release(failure?: unknown): void {
    this.client.removeListener('error', this.onError);
    const suspect = failure !== undefined && (failure as { severity?: string }).severity === undefined;
    const reason = this.lost ?? (suspect ? failure : undefined);
    this.client.release(reason === undefined ? undefined : reason instanceof Error ? reason : new Error(String(reason)));
  }
}

class PgDriver implements SqlDriver {
  constructor(
    private readonly pool: Pool,
    private readonly url: string,
  ) {}

  async withConnection<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw connectError('PostgreSQL', this.url, err);
    }
    const held = new HeldClient(client, this.url);
    let failure: unknown;
    try {
      return await fn(held.connection);
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      held.release(failure);
    }
  }

  session<T>(fn: (conn: SessionConnection) => Promise<T>): Promise<T> {
    return this.withConnection((conn) => fn({ ...conn, atomically: (body) => inTransaction(conn, beginStatement('postgres'), body) }));
  }

  transaction<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    return this.withConnection((conn) => inTransaction(conn, beginStatement('postgres'), fn));
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

export async function openPostgres(url: string, opts: OpenOptions = {}): Promise<Database> {
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
  const driver = new PgDriver(pool, url);
  let schema: string;
  try {
    schema = await driver.withConnection(async (conn) => {
      if (!opts.schema) return String((await conn.query('SELECT current_schema() AS s'))[0]?.s ?? 'public');
      await conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent('postgres', opts.schema)}`);
      return opts.schema;
    });
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (err instanceof KlvError) throw err;
    throw connectError('PostgreSQL', url, err);
  }
  return new Database({ kind: 'postgres', description: `${redactUrl(url)} (schema ${schema})`, driver, schema });
}
