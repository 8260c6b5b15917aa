/**
 * A scratch SQLite database: a temporary FILE in the system's temp folder (the data may be larger
 * than memory), tuned for one writer that fills it once and reads it once (no journal, no fsync,
 * a bounded page cache), deleted by `dispose`. `klv query` runs the SQL Klaviyo cannot in one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { loadBetterSqlite } from './sqlite.js';

export interface ScratchSqlite {
  db: BetterSqlite3.Database;
  /** Closes the database and removes its file; safe to call twice. */
  dispose(): void;
}

export function openScratchSqlite(options: { caseSensitiveLike?: boolean } = {}): ScratchSqlite {
  const BetterSqlite = loadBetterSqlite();
  const dir = mkdtempSync(join(tmpdir(), 'klv-query-'));
  const db = new BetterSqlite(join(dir, 'query.sqlite'));
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  // Pages spill to the file beyond this (KiB, negative): the cache, not the data, is in memory.
  db.pragma('cache_size = -32000');
  db.pragma('temp_store = FILE');
  if (options.caseSensitiveLike) db.pragma('case_sensitive_like = ON');
  let closed = false;
  return {
    db,
    dispose: () => {
      if (closed) return;
      closed = true;
      try {
        db.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
