/**
 * MySQL and MariaDB through mysql2 (loaded only when a mysql:// destination is opened). A small
 * pool; sessions in UTC so DATETIME(6) columns hold UTC wall-clock times, read back as text
 * (microseconds kept); utf8mb4 throughout.
 */
import { UsageError, KlvError } from '../../core/errors.js';
import type { DestinationOptions } from '../destination.js';
import { inTransaction, SqlDestination, type SessionConnection, type SqlConnection, type SqlDriver } from './sql-destination.js';
import { quoteIdent } from './sql-types.js';
import { connectError, redactUrl } from './url.js';

type Pool = import('mysql2/promise').Pool;
type PoolConnection = import('mysql2/promise').PoolConnection;

function connection(c: PoolConnection): SqlConnection {
  return {
    query: async (sql, params = []) => {
      const [rows] = await c.query(sql, params);
      return rows as Record<string, unknown>[];
    },
    run: async (sql, params = []) => {
      const [result] = await c.query(sql, params);
      return (result as { affectedRows?: number }).affectedRows ?? 0;
    },
  };
}

class MysqlDriver implements SqlDriver {
  constructor(private readonly pool: Pool) {}

  async withConnection<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    const c = await this.pool.getConnection();
    try {
      return await fn(connection(c));
    } finally {
      c.release();
    }
  }

  session<T>(fn: (conn: SessionConnection) => Promise<T>): Promise<T> {
    return this.withConnection((conn) => fn({ ...conn, atomically: (body) => inTransaction(conn, 'START TRANSACTION', body) }));
  }

  transaction<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    return this.withConnection((conn) => inTransaction(conn, 'START TRANSACTION', fn));
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

export async function openMysql(url: string, opts: DestinationOptions & { stagingBatch?: number }): Promise<SqlDestination> {
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
  // Every pooled session in UTC (DATETIME has no zone; NOW() and comparisons must agree).
  pool.on('connection', (c) => {
    (c as unknown as { query(sql: string): void }).query("SET time_zone = '+00:00'");
  });
  try {
    const c = await pool.getConnection();
    try {
      await c.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent('mysql', database)} DEFAULT CHARACTER SET utf8mb4 `);
    } finally {
      c.release();
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (err instanceof KlvError) throw err;
    throw connectError('MySQL', url, err);
  }
  return new SqlDestination({
    kind: 'mysql',
    description: `${redactUrl(url)} (database ${database})`,
    driver: new MysqlDriver(pool),
    schema: database,
    tablePrefix: opts.tablePrefix,
    stagingBatch: opts.stagingBatch,
  });
}
