/**
 * SQLite through better-sqlite3 (synchronous, one connection). Statements are wrapped in
 * promises and serialised with a queue, so two tasks writing concurrently never interleave
 * inside each other's transaction.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { KlvError, UsageError } from '../core/errors.js';
import { FREE_SPACE, fsFailureReason, isDiskFull } from '../core/fs-errors.js';
import type { SessionConnection, SqlConnection, SqlDriver } from './connection.js';
import { Database, type OpenOptions } from './database.js';

/** better-sqlite3's constructor, loaded when a SQLite database is opened (never for `klv --version`). */
export function loadBetterSqlite(): typeof BetterSqlite3 {
  return createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
}

class SqliteDriver implements SqlDriver {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly conn: SqlConnection;

  constructor(private readonly db: BetterSqlite3.Database) {
    this.conn = {
      query: async (sql, params = []) => db.prepare(sql).all(...params) as Record<string, unknown>[],
      run: async (sql, params = []) => db.prepare(sql).run(...params).changes,
    };
  }

  /** Runs fn after everything queued before it, holding the connection until it settles. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  withConnection<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    return this.serial(() => fn(this.conn));
  }

  session<T>(fn: (conn: SessionConnection) => Promise<T>): Promise<T> {
    return fn({
      query: (sql, params) => this.serial(() => this.conn.query(sql, params)),
      run: (sql, params) => this.serial(() => this.conn.run(sql, params)),
      // One connection: a transaction of the session is an ordinary one, held whole in the queue.
      atomically: (body) => this.transaction(body),
    });
  }

  transaction<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.conn);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.queue;
    this.db.close();
  }
}

/** `sqlite:./k.db`, `sqlite:///abs/k.db`, `sqlite::memory:` or a bare path: the file path. */
export function sqlitePath(url: string): string {
  let rest = url.replace(/^sqlite3?:/i, '');
  if (rest.startsWith('//')) rest = rest.slice(2); // sqlite:///abs -> /abs, sqlite://./k.db -> ./k.db
  if (rest === '') throw new UsageError(`No database file in ${JSON.stringify(url)}`, 'Write sqlite:./klaviyo.db or sqlite:///absolute/path.db.');
  return rest === ':memory:' ? rest : resolve(rest);
}

export async function openSqlite(url: string, opts: OpenOptions = {}): Promise<Database> {
  if (opts.schema) {
    throw new UsageError('--schema applies to PostgreSQL and MySQL; a SQLite file has one schema', 'Drop --schema, or use --table-prefix to keep tables apart.');
  }
  const file = sqlitePath(url);
  if (file !== ':memory:' && !existsSync(dirname(file))) {
    throw new KlvError(`Cannot open SQLite database ${file}: the directory ${dirname(file)} does not exist`, { hint: 'Create the directory first, or point --to at an existing one.' });
  }
  const BetterSqlite = loadBetterSqlite();
  let db: BetterSqlite3.Database;
  try {
    // timeout: wait for another klv process holding the write lock instead of failing at once.
    db = new BetterSqlite(file, { timeout: 30_000 });
  } catch (err) {
    throw new KlvError(`Cannot open SQLite database ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    // WAL: readers (dashboards, klv query) are not blocked while a run writes.
    if (file !== ':memory:') db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  } catch (err) {
    // The first write to the file happens here: a full disk or a file that is not a database
    // shows up now, and the message must name the file.
    db.close();
    const full = isDiskFull(err);
    throw new KlvError(`Cannot open SQLite database ${file}: ${full ? fsFailureReason(err) : (err as Error).message}`, {
      hint: full ? `${FREE_SPACE} (or point --to at another disk), then run the command again.` : 'Point --to at a SQLite database file, or at a new file klv can create.',
      cause: err,
    });
  }
  return new Database({ kind: 'sqlite', description: `sqlite:${file}`, driver: new SqliteDriver(db) });
}
