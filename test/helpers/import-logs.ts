/**
 * What the import pipeline's tests share: a temporary folder of log paths, the journal header of
 * a test import, and the error a full disk gives.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { LogPaths } from '../../src/pipeline/import/logs.js';
import { JOURNAL_VERSION, type JournalHeader } from '../../src/pipeline/import/resume.js';

/**
 * A temporary folder for the file's logs, made in beforeAll and removed in afterAll; `paths()`
 * gives a fresh success/error pair in it on every call.
 */
export function useLogFolder(prefix: string): { dir: () => string; paths: () => LogPaths } {
  let dir: string | undefined;
  let n = 0;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const folder = () => {
    if (!dir) throw new Error('the log folder is made in beforeAll');
    return dir;
  };
  return {
    dir: folder,
    paths: () => {
      n++;
      return { success: join(folder(), `t${n}.success.csv`), error: join(folder(), `t${n}.errors.csv`) };
    },
  };
}

/** The journal header of an import of /in.csv (Email, Name) with these logs, started 2026-07-15. */
export function journalHeader(paths: LogPaths, over: Partial<JournalHeader> = {}): JournalHeader {
  return {
    klvImportJournal: JOURNAL_VERSION,
    object: 'Profiles',
    operation: 'upsert',
    input: '/in.csv',
    headers: ['Email', 'Name'],
    delimiter: ',',
    successLog: paths.success,
    errorLog: paths.error,
    started: '2026-07-15T00:00:00.000Z',
    ...over,
  };
}

/** The error a write to a full disk fails with. */
export const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
