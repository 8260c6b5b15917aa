/**
 * The success and error logs of `klv import` (the Salesforce Data Loader model): one line per
 * input row, in one of the two files, with the input's row number and its cells as read.
 *
 *   success: Row, <input columns>, Id, Status[, TemplateId | ChangedColumns]
 *   error:   Row, <input columns>, ErrorCode, ErrorMessage
 *
 * The error log is a valid input: `klv import profiles data.errors.csv --op upsert` retries the
 * failures (the mapping layer ignores Row, ErrorCode, ErrorMessage, Status, ChangedColumns).
 * Because a log may itself be the input, the input's own log columns are not echoed twice: a
 * header can appear only once in a CSV, and a retry of a retry must still parse.
 *
 * Durability: lines are buffered and written by `commit()` after each batch, which also fsyncs
 * (fdatasync) both files, so a SIGKILL loses at most the outcomes of the batches in flight (the
 * write-ahead journal, resume.ts, knows which rows those were). `committedBytes` is how far each
 * file is known to be on disk; the journal records it so that `--resume` can tell a line torn by
 * a kill from damage done to the file afterwards.
 *
 * A full disk: found on open (the header is written at once, so /dev/full or a full disk fails
 * there, before anything is sent) it is a usage error like any unwritable path; found mid-run it
 * stops the import (every later write fails too) with an error naming the log, and the rows sent
 * but not logged are in the journal for `--resume`.
 */
import { existsSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { KlvError, UsageError } from '../../core/errors.js';
import { FREE_SPACE, fsFailureReason, isDiskFull } from '../../core/fs-errors.js';
import type { LoggedOutcome } from './batches.js';

export const ROW = 'Row';
export const ID = 'Id';
export const STATUS = 'Status';
export const ERROR_CODE = 'ErrorCode';
export const ERROR_MESSAGE = 'ErrorMessage';
export const CHANGED_COLUMNS = 'ChangedColumns';

/**
 * Object-specific success-log columns, fixed up front (a CSV header cannot grow mid-file):
 * Campaigns get the TemplateId of the copy Klaviyo made for each new campaign's message.
 */
export const SUCCESS_EXTRAS: Readonly<Record<string, readonly string[]>> = {
  Campaigns: ['TemplateId'],
};

/** The extra success-log columns of an object's import, or of its dry run. */
export function successExtras(objectName: string, dryRun: boolean): string[] {
  return dryRun ? [CHANGED_COLUMNS] : [...(SUCCESS_EXTRAS[objectName] ?? [])];
}

/**
 * One CSV record, quoted exactly as csv-stringify quotes by default (a cell holding the
 * delimiter, a quote, CR or LF is quoted, quotes doubled; nothing else), LF-terminated.
 * Written by hand because the logs are on the hot path of a million-row import, where
 * csv-stringify's per-field machinery cost more than parsing the input did (the tests check the
 * two agree).
 */
export function csvLine(cells: readonly string[], delimiter: string): string {
  let line = '';
  for (let i = 0; i < cells.length; i++) {
    const v = cells[i];
    if (i > 0) line += delimiter;
    if (v.includes('"')) line += `"${v.replace(/"/g, '""')}"`;
    else if (v.includes(delimiter) || v.includes('\n') || v.includes('\r')) line += `"${v}"`;
    else line += v;
  }
  return `${line}\n`;
}

/** Header names compared the way the mapping layer compares them: case, spaces, _ and - ignored. */
export function normalizeHeader(h: string): string {
  return h.toLowerCase().replace(/[\s_-]+/g, '');
}

/** Where each log column comes from, computed once from the input's header. */
export interface LogLayout {
  inputHeaders: readonly string[];
  extras: readonly string[];
  successHeader: string[];
  errorHeader: string[];
  /** Indexes of the input values echoed in each log, in order. */
  successEcho: number[];
  errorEcho: number[];
  /** Index of the input's own Id column (its value stands in the success log when the outcome has no id). */
  inputId: number;
  /**
   * The input values `--resume` compares with what the logs hold: every echoed column that both
   * logs carry unchanged (not Row, Id, Status, ErrorCode, ErrorMessage, ChangedColumns, extras).
   */
  hashInput: number[];
  /** Positions of those values in a success-log and an error-log record. */
  hashInSuccess: number[];
  hashInError: number[];
}

export function logLayout(inputHeaders: readonly string[], extras: readonly string[] = []): LogLayout {
  const norm = inputHeaders.map(normalizeHeader);
  const extraNorm = new Set(extras.map(normalizeHeader));
  const successReserved = new Set([ROW, ID, STATUS, ERROR_CODE, ERROR_MESSAGE, CHANGED_COLUMNS].map(normalizeHeader));
  const errorReserved = new Set([ROW, ERROR_CODE, ERROR_MESSAGE].map(normalizeHeader));
  const successEcho: number[] = [];
  const errorEcho: number[] = [];
  const hashInput: number[] = [];
  norm.forEach((n, i) => {
    const inSuccess = !successReserved.has(n) && !extraNorm.has(n);
    if (inSuccess) successEcho.push(i);
    if (!errorReserved.has(n)) errorEcho.push(i);
    if (inSuccess && !errorReserved.has(n)) hashInput.push(i);
  });
  const hashInSuccess = hashInput.map((i) => 1 + successEcho.indexOf(i));
  const hashInError = hashInput.map((i) => 1 + errorEcho.indexOf(i));
  return {
    inputHeaders,
    extras,
    successHeader: [ROW, ...successEcho.map((i) => inputHeaders[i]), ID, STATUS, ...extras],
    errorHeader: [ROW, ...errorEcho.map((i) => inputHeaders[i]), ERROR_CODE, ERROR_MESSAGE],
    successEcho,
    errorEcho,
    inputId: norm.indexOf(normalizeHeader(ID)),
    hashInput,
    hashInSuccess,
    hashInError,
  };
}

export interface LogPaths {
  success: string;
  error: string;
}

/** `20260715T101500Z`: sortable, and safe in file names on every system. */
export function fileTimestamp(now: Date): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
}

/**
 * Default log paths: beside the input, named after it (`data.csv` -> `data.success.csv`,
 * `data.errors.csv`); for stdin, in the current folder with the object and a UTC timestamp.
 * A dry run writes `.dry-run.` logs, so it never overwrites a real run's.
 */
export function defaultLogPaths(o: { input: string; objectName: string; dryRun: boolean; cwd: string; now: Date }): LogPaths {
  const tag = o.dryRun ? '.dry-run' : '';
  if (o.input === '-') {
    const stem = join(o.cwd, `import-${o.objectName.toLowerCase()}-${fileTimestamp(o.now)}${tag}`);
    return { success: `${stem}.success.csv`, error: `${stem}.errors.csv` };
  }
  const full = resolve(o.cwd, o.input);
  const ext = extname(full);
  const keep = ['.csv', '.tsv', '.txt'].includes(ext.toLowerCase());
  const stem = join(dirname(full), keep ? basename(full, ext) : basename(full));
  const suffix = keep ? ext : '.csv';
  return { success: `${stem}${tag}.success${suffix}`, error: `${stem}${tag}.errors${suffix}` };
}

/** Writes/fsyncs for tests; production leaves it undefined. */
export interface LogsProbe {
  /** Before each write; a test may throw here to fail the write as a full disk would. */
  onWrite?(file: 'success' | 'error', text: string): void;
  onSync?(file: 'success' | 'error'): void;
}

export interface OpenLogsOptions {
  paths: LogPaths;
  layout: LogLayout;
  delimiter: string;
  /** --resume: append to the logs (their headers were checked by resume.ts); else truncate. */
  append: boolean;
  /** fdatasync on commit (not in a dry run: nothing was sent, so there is nothing to lose). */
  sync: boolean;
  /** Buffered lines that make `maybeFlush()` write (without fsync). */
  flushEvery?: number;
  probe?: LogsProbe;
}

/** What to do after a log write failed mid-run: the journal knows the rows sent but not logged. */
function midRunHint(err: unknown, journaled: boolean): string {
  const fix = isDiskFull(err) ? FREE_SPACE : 'Check the disk';
  return journaled
    ? `${fix}, then run the same command again with --resume: the rows sent but not logged are in the import journal, and none is sent twice.`
    : `${fix}, then run it again.`;
}

class LogFile {
  readonly #name: 'success' | 'error';
  readonly path: string;
  readonly #handle: FileHandle;
  /** A real run (journaled, fsynced): a failed write is resumed with --resume. Not in a dry run. */
  readonly #journaled: boolean;
  /** Lines added and not yet written, already encoded. */
  #buffer = '';
  #pending = 0;
  /** Bytes written (the OS has them; a process kill cannot lose them). */
  written: number;
  /** Bytes known to be on disk (after the last fdatasync). */
  committed: number;

  constructor(name: 'success' | 'error', path: string, handle: FileHandle, size: number, journaled: boolean) {
    this.#name = name;
    this.path = path;
    this.#handle = handle;
    this.#journaled = journaled;
    this.written = size;
    this.committed = size;
  }

  get pending(): number {
    return this.#pending;
  }

  add(line: string): void {
    this.#buffer += line;
    this.#pending++;
  }

  async write(probe?: LogsProbe): Promise<boolean> {
    if (this.#pending === 0) return false;
    const text = this.#buffer;
    this.#buffer = '';
    this.#pending = 0;
    const bytes = Buffer.from(text, 'utf8');
    let off = 0;
    try {
      probe?.onWrite?.(this.#name, text);
      while (off < bytes.length) {
        const { bytesWritten } = await this.#handle.write(bytes, off, bytes.length - off);
        off += bytesWritten;
      }
    } catch (err) {
      // Part of the text may be in the file: a torn last line, past `committed`, which --resume
      // cuts off (resume.ts, scanLog). `written` stays where the last whole write ended.
      throw this.#failure(err);
    }
    this.written += bytes.length;
    return true;
  }

  async sync(probe?: LogsProbe): Promise<void> {
    if (this.committed === this.written) return;
    try {
      await this.#handle.datasync();
    } catch (err) {
      throw this.#failure(err);
    }
    probe?.onSync?.(this.#name);
    this.committed = this.written;
  }

  #failure(err: unknown): KlvError {
    return new KlvError(`Cannot write the ${this.#name} log ${this.path}: ${fsFailureReason(err)}.`, {
      hint: midRunHint(err, this.#journaled),
      cause: err,
    });
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}

/** A log that cannot be opened or started: exit 2, before anything is sent. */
function unwritable(name: 'success' | 'error', path: string, err: unknown): UsageError {
  const flag = name === 'success' ? '--success-log' : '--error-log';
  const fix = isDiskFull(err) ? `${FREE_SPACE}, or choose another file with ${flag} PATH.` : `Choose another file with ${flag} PATH.`;
  const e = new UsageError(`Cannot write the ${name} log ${path}: ${fsFailureReason(err)}.`, `${fix} Nothing was sent.`);
  return Object.assign(e, { cause: err });
}

async function openLog(name: 'success' | 'error', path: string, header: string[], o: OpenLogsOptions): Promise<LogFile> {
  const existed = existsSync(path);
  let handle: FileHandle;
  try {
    handle = await open(path, o.append ? 'a' : 'w', 0o644);
  } catch (err) {
    throw unwritable(name, path, err);
  }
  try {
    const stats = await handle.stat();
    const file = new LogFile(name, path, handle, stats.size, o.sync);
    if (stats.size === 0) {
      // The header is written at once: even an import that stops before its first batch leaves
      // two well-formed logs, and a full disk (or /dev/full) is found here, before any request.
      file.add(csvLine(header, o.delimiter));
      await file.write(o.probe);
      if (o.sync) await file.sync(o.probe);
    }
    return file;
  } catch (err) {
    await handle.close().catch(() => undefined);
    // Leave no empty (or half-headed) log behind, but only a regular file this run created:
    // never a device such as /dev/full, never a file that was there before.
    if (!existed) await rm(path, { force: true }).catch(() => undefined);
    throw unwritable(name, path, err instanceof KlvError && err.cause !== undefined ? err.cause : err);
  }
}

/**
 * The two logs of one run. All writes go through one queue, so that lines from batches that
 * finish at the same time never interleave and `commit()` covers everything added before it.
 */
export class ImportLogs {
  readonly paths: LogPaths;
  readonly layout: LogLayout;
  readonly #delimiter: string;
  readonly #sync: boolean;
  readonly #flushEvery: number;
  readonly #probe?: LogsProbe;
  readonly #success: LogFile;
  readonly #error: LogFile;
  #queue: Promise<void> = Promise.resolve();
  #failure?: unknown;
  #closed = false;

  private constructor(o: OpenLogsOptions, success: LogFile, error: LogFile) {
    this.paths = o.paths;
    this.layout = o.layout;
    this.#delimiter = o.delimiter;
    this.#sync = o.sync;
    this.#flushEvery = o.flushEvery ?? 1000;
    this.#probe = o.probe;
    this.#success = success;
    this.#error = error;
  }

  /** Opens (creates or, for --resume, appends to) both logs. An unwritable path is a UsageError: exit 2, nothing sent. */
  static async open(o: OpenLogsOptions): Promise<ImportLogs> {
    const successExisted = existsSync(o.paths.success);
    const success = await openLog('success', o.paths.success, o.layout.successHeader, o);
    let error: LogFile;
    try {
      error = await openLog('error', o.paths.error, o.layout.errorHeader, o);
    } catch (err) {
      await success.close();
      // Nothing was imported: leave no empty success log behind for a run that never started.
      if (!successExisted) await rm(o.paths.success, { force: true });
      throw err;
    }
    return new ImportLogs(o, success, error);
  }

  /** Lines added and not yet written. */
  get pending(): number {
    return this.#success.pending + this.#error.pending;
  }

  /** Bytes of each log known to be on disk: [success, error]. */
  get committedBytes(): [number, number] {
    return [this.#success.committed, this.#error.committed];
  }

  /** Records a row's outcome (written by the next flush or commit). */
  add(values: readonly string[], outcome: LoggedOutcome): void {
    const L = this.layout;
    const cells: string[] = [String(outcome.rowNumber)];
    if (outcome.ok) {
      for (const i of L.successEcho) cells.push(values[i] ?? '');
      cells.push(outcome.id ?? (L.inputId >= 0 ? (values[L.inputId] ?? '') : ''), outcome.status);
      for (const x of L.extras) cells.push(outcome.extras?.[x] ?? '');
      this.#success.add(csvLine(cells, this.#delimiter));
    } else {
      for (const i of L.errorEcho) cells.push(values[i] ?? '');
      cells.push(outcome.code, outcome.message.replace(/\s*[\r\n]+\s*/g, ' '));
      this.#error.add(csvLine(cells, this.#delimiter));
    }
  }

  /** Writes buffered lines when there are many (rows failing validation pile up between batches). */
  maybeFlush(): Promise<void> {
    return this.pending >= this.#flushEvery ? this.flush() : Promise.resolve();
  }

  /** Writes buffered lines, without fsync. */
  flush(): Promise<void> {
    return this.#enqueue(async () => {
      await this.#success.write(this.#probe);
      await this.#error.write(this.#probe);
    });
  }

  /** Writes buffered lines and, unless a dry run, fsyncs: the outcomes added so far survive a kill. */
  commit(): Promise<void> {
    return this.#enqueue(async () => {
      await this.#success.write(this.#probe);
      await this.#error.write(this.#probe);
      if (this.#sync) {
        await this.#success.sync(this.#probe);
        await this.#error.sync(this.#probe);
      }
    });
  }

  /** Commits what is left and closes both files (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.commit();
    } finally {
      this.#closed = true;
      await Promise.allSettled([this.#success.close(), this.#error.close()]);
    }
  }

  // A failed write (disk full) fails every later one too: half a log is worse than a clear stop.
  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#closed) throw new Error('the import logs are closed');
      try {
        await task();
      } catch (err) {
        this.#failure = err;
        throw err;
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
