/**
 * MySQL and MariaDB through mysql2 (loaded only when a mysql:// database is opened). A small
 * pool; sessions in UTC so DATETIME(6) columns hold UTC wall-clock times, read back as text
 * (microseconds kept); utf8mb4 throughout.
 */
import { UsageError, KlvError } from '../core/errors.js';
import { inTransaction, type SessionConnection, type SqlConnection, type SqlDriver } from './connection.js';
import { Database, type OpenOptions } from './database.js';
import { beginStatement, quoteIdent } from './dialect.js';
import { connectError, connectionLostError, redactUrl, sessionTimeZoneError } from './errors.js';

type Pool = import('mysql2/promise').Pool;
type PoolConnection = import('mysql2/promise').PoolConnection;

/** A session-level failure (mysql2 marks them fatal): the connection is closed, nothing more runs on it. */
function sessionGone(err: unknown): boolean {
  return (err as { fatal?: boolean }).fatal === true;
}

/**
 * One pooled connection, held for a callback, listened to until it goes back (a connection the
 * server closes while klv waits for Klaviyo reports it here), its loss coming out of the next
 * statement as a klv error.
 */
class HeldConnection {
  private lost: unknown;
  private readonly onError = (err: unknown) => {
    this.lost ??= err;
  };

  constructor(
    private readonly c: PoolConnection,
    private readonly url: string,
  ) {
    c.connection.on('error', this.onError);
  }

  readonly connection: SqlConnection = {
    query: async (sql, params = []) => (await this.run(sql, params)) as Record<string, unknown>[],
    run: async (sql, params = []) => ((await this.run(sql, params)) as { affectedRows?: number }).affectedRows ?? 0,
  };

  private async run(sql: string, params: unknown[]): Promise<unknown> {
    if (this.lost !== undefined) throw connectionLostError('MySQL', this.url, this.lost);
    try {
      const [result] = await this.c.query(sql, params);
      return result;
    } catch (err) {
      if (this.lost === undefined && !sessionGone(err)) throw err;
      this.lost ??= err;
      throw connectionLostError('MySQL', this.url, this.lost);
    }
  }

  /** Back to the pool, or destroyed when the session is gone. */
  release(): void {
    this.c.connection.removeListener('error', this.onError);
    if (this.lost === undefined) this.c.release();
    else this.c.destroy();
  }
}

class MysqlDriver implements SqlDriver {
  /** Sessions already put in UTC (the pool's connections, by their driver object). */
  private readonly inUtc = new WeakSet<object>();

  constructor(
    private readonly pool: Pool,
    private readonly url: string,
  ) {}

  /**
   * A pooled connection in UTC (DATETIME has no zone; NOW() and comparisons must agree). A new
   * session is put in UTC before its first statement, awaited: a server that refuses is an error
   * of the statement that needed the session, not an event nobody hears.
   */
  private async acquire(): Promise<HeldConnection> {
    let c: PoolConnection;
    try {
      c = await this.pool.getConnection();
    } catch (err) {
      throw connectError('MySQL', this.url, err);
    }
    if (!this.inUtc.has(c.connection)) {
      try {
        await c.query("SET time_zone = '+00:00'");
      } catch (err) {
        c.destroy();
        throw sessionGone(err) ? connectionLostError('MySQL', this.url, err) : sessionTimeZoneError(this.url, err);
      }
      this.inUtc.add(c.connection);
    }
    return new HeldConnection(c, this.url);
  }

  async withConnection<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    const held = await this.acquire();
    try {
      return await fn(held.connection);
    } finally {
      held.release();
    }
  }

  session<T>(fn: (conn: SessionConnection) => Promise<T>): Promise<T> {
    return this.withConnection((conn) => fn({ ...conn, atomically: (body) => inTransaction(conn, beginStatement('mysql'), body) }));
  }

  transaction<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    return this.withConnection((conn) => inTransaction(conn, beginStatement('mysql'), fn));
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

export async function openMysql(url: string, opts: OpenOptions = {}): Promise<Database> {
  const parsed = new URL(url.replace(/^mariadb:/i, 'mysql:'));
  const database = opts.schema ?? decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!database) {
    throw new UsageError(`No database in ${redactUrl(url)}`, 'Name one in the URL (mysql://user@host:3306/klaviyo) or with --schema.');
  }
  const mysql = ((await import('mysql2/promise')) as unknown as { default: typeof import('mysql2/promise') }).default;
  const pool = mysql.createPool({
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decodeURIComponent(parsed.username) || undefined,
    password: decodeURIComponent(parsed.password) || undefined,
    // Connect without a database: --schema may name one that does not exist yet.
    connectionLimit: 4,
    connectTimeout: 10_000,
    timezone: 'Z',
    // DATETIME values as the server's text (`2024-05-13 08:01:45.276362`): a Date would cut
    // Klaviyo's microseconds to milliseconds.
    dateStrings: true,
    charset: 'utf8mb4',
    supportBigNumbers: true,
    multipleStatements: false,
  });
  const driver = new MysqlDriver(pool, url);
  try {
    await driver.withConnection((conn) => conn.run(`CREATE DATABASE IF NOT EXISTS ${quoteIdent('mysql', database)} DEFAULT CHARACTER SET utf8mb4 `));
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (err instanceof KlvError) throw err;
    throw connectError('MySQL', url, err);
  }
  return new Database({ kind: 'mysql', description: `${redactUrl(url)} (database ${database})`, driver, schema: database });
}
