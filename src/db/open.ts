/**
 * Opens the database a URL names: `sqlite:./klaviyo.db` (or a bare `.db` path),
 * `postgres://user@host:5432/db`, `mysql://user@host:3306/db` (`mariadb://` too). Drivers load
 * lazily, so `klv --version` and the commands that need no database never pay for them.
 */
import { UsageError } from '../core/errors.js';
import type { Database, OpenOptions } from './database.js';
import type { Dialect } from './dialect.js';
import { redactUrl } from './errors.js';

/** Which database a URL names, or UsageError. */
export function databaseKind(url: string): Dialect {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'sqlite' || scheme === 'sqlite3') return 'sqlite';
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  if (scheme === 'mysql' || scheme === 'mariadb') return 'mysql';
  // A bare file path (no scheme, or a Windows drive letter) ending like a SQLite file.
  if ((!scheme || scheme.length === 1) && /\.(db|sqlite3?)$/i.test(url)) return 'sqlite';
  throw new UsageError(
    // "destination": the word of --to and --with, the flags such a URL comes from.
    `Unknown destination ${JSON.stringify(redactUrl(url))}`,
    'Use sqlite:./klaviyo.db, postgres://user@host:5432/db, or mysql://user@host:3306/db (mariadb:// too).',
  );
}

export async function openDatabase(url: string, opts: OpenOptions = {}): Promise<Database> {
  switch (databaseKind(url)) {
    case 'sqlite': {
      const { openSqlite } = await import('./sqlite.js');
      return openSqlite(/^[a-z][a-z0-9+.-]+:/i.test(url) ? url : `sqlite:${url}`, opts);
    }
    case 'postgres': {
      const { openPostgres } = await import('./postgres.js');
      return openPostgres(url.replace(/^postgresql:/i, 'postgres:'), opts);
    }
    case 'mysql': {
      const { openMysql } = await import('./mysql.js');
      return openMysql(url, opts);
    }
  }
}
