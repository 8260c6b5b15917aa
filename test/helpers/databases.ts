/**
 * The databases tests replicate into besides SQLite. URLs come from the environment
 * (KLV_TEST_PG_URL, KLV_TEST_MYSQL_URL) with local defaults. A suite for a database that is not
 * reachable is skipped with the reason printed, except under KLV_REQUIRE_DB=1 (CI), where it
 * fails: a CI run must not go green because its database was missing.
 *
 * Each suite works in its own schema / database (`uniqueName`) and drops it at the end.
 */
import { randomBytes } from 'node:crypto';
import { describe, it } from 'vitest';

export function pgUrl(): string {
  return process.env.KLV_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
}

export function mysqlUrl(): string {
  return process.env.KLV_TEST_MYSQL_URL || 'mysql://root@127.0.0.1:3306/test';
}

export function requireDatabases(): boolean {
  return process.env.KLV_REQUIRE_DB === '1';
}

/** A schema / database / prefix name no other run uses: `klv_test_<tag>_<random>`. */
export function uniqueName(tag: string): string {
  return `klv_test_${tag}_${randomBytes(4).toString('hex')}`;
}

function safeUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@');
}

/** A mysql:// or mariadb:// URL as mysql2's connection options (the server's default database). */
export function mysqlConnection(url: string): { host: string; port: number; user?: string; password?: string } {
  const u = new URL(url.replace(/^mariadb:/i, 'mysql:'));
  return { host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username) || undefined, password: decodeURIComponent(u.password) || undefined };
}

/** Connects (and authenticates) once; null when it works, the reason when it does not. */
export async function unreachableReason(url: string): Promise<string | null> {
  try {
    if (/^postgres(ql)?:/i.test(url)) {
      const pg = (await import('pg')).default;
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
      client.on('error', () => undefined);
      await client.connect();
      await client.end();
      return null;
    }
    if (/^(mysql|mariadb):/i.test(url)) {
      const mysql = (await import('mysql2/promise')).default;
      const c = await mysql.createConnection({ ...mysqlConnection(url), connectTimeout: 3000 });
      await c.end();
      return null;
    }
    return `unsupported URL ${safeUrl(url)}`;
  } catch (err) {
    const e = err as { message?: string; code?: string };
    return e.message || e.code || String(err);
  }
}

/** Runs one statement on the database (as the URL's user), e.g. to drop a test schema; its rows. */
export async function adminQuery(url: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  if (/^postgres(ql)?:/i.test(url)) {
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  }
  const mysql = (await import('mysql2/promise')).default;
  const c = await mysql.createConnection(mysqlConnection(url));
  try {
    const [rows] = await c.query(sql, params);
    return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
  } finally {
    await c.end();
  }
}

/** Drops a test schema (PostgreSQL) or database (MySQL) with everything in it. */
export async function dropTestSchema(url: string, name: string): Promise<void> {
  if (!/^klv_test_/.test(name)) throw new Error(`refusing to drop ${name}: not a test schema`);
  if (/^postgres(ql)?:/i.test(url)) await adminQuery(url, `DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  else await adminQuery(url, `DROP DATABASE IF EXISTS \`${name}\``);
}

/**
 * `describe` for a suite that needs the database at `url`: skipped with the reason printed when
 * it is unreachable, failing instead under KLV_REQUIRE_DB=1. Await it at the top of the test
 * file (the reachability check is asynchronous).
 */
export async function describeDb(name: string, url: string, fn: (url: string) => void): Promise<void> {
  const reason = await unreachableReason(url);
  if (reason === null) {
    describe(name, () => fn(url));
    return;
  }
  const why = `${name}: database ${safeUrl(url)} unreachable (${reason})`;
  if (requireDatabases()) {
    describe(name, () => {
      it('database is reachable (KLV_REQUIRE_DB=1)', () => {
        throw new Error(`${why}; KLV_REQUIRE_DB=1 requires it`);
      });
    });
    return;
  }
  console.warn(`SKIPPED ${why}. Set KLV_TEST_PG_URL / KLV_TEST_MYSQL_URL, or KLV_REQUIRE_DB=1 to fail instead.`);
  // Skipped on purpose, with the reason printed above: the database is unreachable on this
  // machine and KLV_REQUIRE_DB is not set (CI sets it, so there these tests fail instead).
  describe.skip(`${name} (skipped: ${reason})`, () => fn(url));
}
