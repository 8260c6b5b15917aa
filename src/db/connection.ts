/**
 * A connection to one of klv's databases, whichever it is: statements run in order on it, in
 * transactions or sessions. The drivers (./sqlite.ts, ./postgres.ts, ./mysql.ts) implement
 * SqlDriver; everything above them (./database.ts, replicate, sync) speaks only these types.
 */

/** One connection: statements run in order on it. */
export interface SqlConnection {
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Runs a statement; returns the number of rows it changed. */
  run(sql: string, params?: unknown[]): Promise<number>;
}

/** The connection of a session (SqlDriver.session). */
export interface SessionConnection extends SqlConnection {
  /**
   * Runs the callback in one transaction on this session's connection, so that what the session
   * created (a temporary staging table) is visible inside it. SQLite holds its single connection
   * for the whole transaction, so no other statement of the process lands in the middle of it.
   */
  atomically<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T>;
}

/**
 * Runs fn in a transaction on conn: committed when it resolves, rolled back when it throws.
 * `begin` is the server's statement (PostgreSQL: BEGIN; MySQL: START TRANSACTION).
 */
export async function inTransaction<T>(conn: SqlConnection, begin: string, fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
  await conn.run(begin);
  try {
    const result = await fn(conn);
    await conn.run('COMMIT');
    return result;
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

export interface SqlDriver {
  /** A connection for the callback's duration (pooled drivers lend one; SQLite serialises). */
  withConnection<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T>;
  /**
   * One connection for a long task that awaits other work in between (a deletion sweep reading
   * Klaviyo): pooled drivers lend a connection; SQLite queues each statement on its own, so
   * other objects' writes are not held up (or deadlocked) while the sweep waits for pages.
   */
  session<T>(fn: (conn: SessionConnection) => Promise<T>): Promise<T>;
  /** Runs the callback in a transaction, committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
