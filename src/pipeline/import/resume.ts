/**
 * `klv import --resume`: continue an interrupted import (Ctrl-C, a crash, a SIGKILL, a broken
 * line fixed) without sending any row twice.
 *
 * Two records make that possible:
 * - the logs: a row in the success or the error log is done, and is never sent again;
 * - a write-ahead journal (`<error log>.journal`, NDJSON): before a batch is sent, its row numbers
 *   are appended and fsynced. A row in the journal but in neither log was being sent when the
 *   run stopped: it may or may not have reached Klaviyo. When the operation is idempotent (an
 *   upsert, a membership add) it is simply sent again; otherwise it goes to the error log as
 *   `unknown_outcome`, for a person to check: klv never risks a duplicate.
 *
 * The input must be the same: the journal holds the header, and both the journal and the logs
 * hold each processed row's cells (a hash of them, in the journal), so a resumed run checks every
 * row it skips or re-sends against what the interrupted run saw, and refuses on the first
 * difference, before it is sent. Rows may be added at the end, and rows the interrupted run never
 * reached (the broken line that stopped it) may be fixed.
 *
 * The journal is removed when a run completes; one left behind means an unfinished run, and a new
 * run refuses to overwrite its logs unless told to resume it.
 */
import { createReadStream, existsSync } from 'node:fs';
import { open, readFile, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import { parse } from 'csv-parse';
import { KlvError, UsageError } from '../../core/errors.js';
import { FREE_SPACE, fsFailureReason, isDiskFull } from '../../core/fs-errors.js';
import type { LogLayout, LogPaths } from './logs.js';

export const JOURNAL_VERSION = 1;

export function journalPath(errorLog: string): string {
  return `${errorLog}.journal`;
}

/** FNV-1a (32 bits) over the chosen cells: cheap, and enough to tell a changed row from the same one. */
export function rowHash(values: readonly string[], indices: readonly number[]): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < indices.length; k++) {
    const v = values[indices[k]] ?? '';
    for (let i = 0; i < v.length; i++) {
      h ^= v.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 0x1f; // unit separator: ('ab','c') and ('a','bc') differ
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export const NONE = 0;
export const SENT = 1;
export const LOGGED = 2;
type RowState = typeof NONE | typeof SENT | typeof LOGGED;
/**
 * Set beside LOGGED when the row's logged outcome is in the error log: a resumed run that skips
 * the row still owes the user its failure (exit 3), since the interrupted run never reported it.
 */
const FAILED_BIT = 0x80;
const STATE_MASK = 0x7f;

/**
 * What the interrupted run did with each row number, in two flat arrays (5 bytes a row: a
 * million-row import costs 5 MB, not a Map of a million entries).
 */
export class RowTable {
  #state = new Uint8Array(1024);
  #hash = new Uint32Array(1024);
  #logged = 0;
  #sent = 0;
  #duplicates = 0;

  #grow(row: number): void {
    if (row < this.#state.length) return;
    let n = this.#state.length;
    while (n <= row) n *= 2;
    const s = new Uint8Array(n);
    s.set(this.#state);
    const h = new Uint32Array(n);
    h.set(this.#hash);
    this.#state = s;
    this.#hash = h;
  }

  /** A row's outcome is in a log (`failed`: the error log). The first one counts; a second is a duplicate. */
  markLogged(row: number, hash: number, failed = false): void {
    this.#grow(row);
    const st = this.#state[row] & STATE_MASK;
    if (st === LOGGED) {
      this.#duplicates++;
      return;
    }
    if (st === SENT) this.#sent--;
    this.#state[row] = failed ? LOGGED | FAILED_BIT : LOGGED;
    this.#hash[row] = hash;
    this.#logged++;
  }

  /** A row was sent (journal); a logged outcome wins over it. */
  markSent(row: number, hash: number): void {
    this.#grow(row);
    const st = this.#state[row];
    if (st !== NONE) return;
    this.#state[row] = SENT;
    this.#hash[row] = hash;
    this.#sent++;
  }

  /**
   * A row journaled as sent that was then held back (the run stopped fatally before sending it):
   * it was never sent, so --resume treats it as new rather than in doubt.
   */
  markUnsent(row: number): void {
    if (this.state(row) !== SENT) return;
    this.#state[row] = NONE;
    this.#hash[row] = 0;
    this.#sent--;
  }

  state(row: number): RowState {
    return (row < this.#state.length ? this.#state[row] & STATE_MASK : NONE) as RowState;
  }

  /** Whether the row's logged outcome is a failure (it is in the error log). */
  failed(row: number): boolean {
    return row < this.#state.length && (this.#state[row] & FAILED_BIT) !== 0;
  }

  hash(row: number): number {
    return row < this.#hash.length ? this.#hash[row] : 0;
  }

  get logged(): number {
    return this.#logged;
  }

  /** Rows sent whose outcome no log holds. */
  get inDoubt(): number {
    return this.#sent;
  }

  get duplicates(): number {
    return this.#duplicates;
  }
}

export type ResumeDecision = 'new' | 'done' | 'resend' | 'unknown';

/**
 * The decision for each row a resumed run reads (pure, given the table):
 * - `new`: the interrupted run never sent it;
 * - `done`: its outcome is in a log: skip it;
 * - `resend`: it was sent, no outcome was logged, and sending it again is harmless;
 * - `unknown`: the same, but sending again could duplicate it: log `unknown_outcome`.
 * A row whose cells differ from what the interrupted run saw throws (the input changed).
 */
export class ResumePlan {
  readonly table: RowTable;
  readonly idempotent: boolean;
  readonly hashIndices: readonly number[];
  readonly source: string;
  readonly journal: string;

  constructor(o: { table: RowTable; idempotent: boolean; hashIndices: readonly number[]; source: string; journal: string }) {
    this.table = o.table;
    this.idempotent = o.idempotent;
    this.hashIndices = o.hashIndices;
    this.source = o.source;
    this.journal = o.journal;
  }

  classify(rowNumber: number, values: readonly string[], line?: number): ResumeDecision {
    const st = this.table.state(rowNumber);
    if (st === NONE) return 'new';
    if (rowHash(values, this.hashIndices) !== this.table.hash(rowNumber)) {
      throw new UsageError(
        `Row ${rowNumber}${line !== undefined ? ` (line ${line})` : ''} of ${this.source} is not the row the interrupted import ${st === LOGGED ? 'logged' : 'sent'}: the input changed since then, so --resume cannot tell which rows were imported.`,
        `--resume needs the same input, rows in the same order (rows may be added at the end, and rows it never reached may be fixed). Nothing of this row was sent. To start over instead, remove ${this.journal} and move the logs away; rows already imported would then be sent again.`,
      );
    }
    if (st === LOGGED) return 'done';
    return this.idempotent ? 'resend' : 'unknown';
  }

  /** For a `done` row: whether the interrupted run logged it as failed. */
  failedBefore(rowNumber: number): boolean {
    return this.table.failed(rowNumber);
  }
}

export const UNKNOWN_OUTCOME_MESSAGE =
  'this row was being sent when the previous run was interrupted: it may have been applied before the interruption; check in Klaviyo and re-import this row if needed';

// ---------------------------------------------------------------------------------------------
// The journal

export interface JournalHeader {
  klvImportJournal: number;
  object: string;
  operation: string;
  /** Absolute path of the input, or `-`. */
  input: string;
  headers: string[];
  delimiter: string;
  successLog: string;
  errorLog: string;
  started: string;
}

interface JournalEntry {
  sent: number[];
  hashes: number[];
  /** Bytes of [success, error] log fsynced when the entry was written: what --resume must never cut. */
  logBytes: [number, number];
}

/** Rows of an earlier entry that were not sent after all (the run stopped before sending them). */
interface JournalUnsentEntry {
  unsent: number[];
}

export interface JournalProbe {
  /** Before each append; a test may throw here to fail the append as a full disk would. */
  onWrite?(text: string): void;
  onSync?(): void;
}

export class Journal {
  readonly path: string;
  readonly #handle: FileHandle;
  readonly #probe?: JournalProbe;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  /**
   * The first failed append (a full disk): every later one fails with it. An entry after a torn
   * one would leave the torn line in the middle of the journal, where --resume cannot skip it;
   * left last, it is a batch never sent (sending waits for the entry), which --resume ignores.
   */
  #failure?: KlvError;

  private constructor(path: string, handle: FileHandle, probe?: JournalProbe) {
    this.path = path;
    this.#handle = handle;
    this.#probe = probe;
  }

  /** A new journal (replacing any), its header fsynced. Failing that is a UsageError: exit 2, nothing sent. */
  static async create(path: string, header: JournalHeader, probe?: JournalProbe): Promise<Journal> {
    const unwritable = (err: unknown) =>
      Object.assign(
        new UsageError(
          `Cannot write the import journal ${path}: ${fsFailureReason(err)}.`,
          `It lives beside the error log: ${isDiskFull(err) ? 'free some space on that disk, or choose' : 'choose'} another --error-log. Nothing was sent.`,
        ),
        { cause: err },
      );
    const existed = existsSync(path);
    let handle: FileHandle;
    try {
      handle = await open(path, 'w', 0o644);
    } catch (err) {
      throw unwritable(err);
    }
    const j = new Journal(path, handle, probe);
    try {
      await j.#append(`${JSON.stringify(header)}\n`);
    } catch (err) {
      // A journal without its header is no journal: leave none behind (it would make the next
      // run refuse to start without --resume); but remove only a file this run created.
      await handle.close().catch(() => undefined);
      if (!existed) await rm(path, { force: true }).catch(() => undefined);
      throw unwritable(err instanceof KlvError && err.cause !== undefined ? err.cause : err);
    }
    return j;
  }

  /** The journal of the interrupted run, opened for appending after its last complete line. */
  static async reopen(path: string, validBytes: number, probe?: JournalProbe): Promise<Journal> {
    await truncate(path, validBytes);
    const handle = await open(path, 'a', 0o644);
    return new Journal(path, handle, probe);
  }

  /** Records a batch as being sent; resolves once it is on disk (only then may the batch go). */
  sent(rows: ReadonlyArray<{ rowNumber: number; hash: number }>, logBytes: [number, number]): Promise<void> {
    const entry: JournalEntry = { sent: rows.map((r) => r.rowNumber), hashes: rows.map((r) => r.hash), logBytes };
    return this.#append(`${JSON.stringify(entry)}\n`);
  }

  /**
   * Records that rows journaled by sent() were held back, never sent (a fatal stop came while
   * their entry was being written). Without it, --resume would have to treat them as in doubt.
   */
  unsent(rowNumbers: readonly number[]): Promise<void> {
    const entry: JournalUnsentEntry = { unsent: [...rowNumbers] };
    return this.#append(`${JSON.stringify(entry)}\n`);
  }

  #append(text: string): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#failure) throw this.#failure;
      if (this.#closed) throw new Error('the import journal is closed');
      try {
        this.#probe?.onWrite?.(text);
        await this.#handle.appendFile(text, 'utf8');
        await this.#handle.datasync();
      } catch (err) {
        this.#failure = new KlvError(`Cannot write the import journal ${this.path}: ${fsFailureReason(err)}.`, {
          hint: `${isDiskFull(err) ? FREE_SPACE : 'Check the disk'}, then run the same command again with --resume: the batch that could not be journaled was not sent, and no row is sent twice.`,
          cause: err,
        });
        throw this.#failure;
      }
      this.#probe?.onSync?.();
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue;
    this.#closed = true;
    await this.#handle.close();
  }

  /** The run completed: every row read is in a log, nothing is in doubt. */
  async remove(): Promise<void> {
    await this.close();
    await rm(this.path, { force: true });
  }
}

export interface JournalContents {
  header: JournalHeader;
  entries: number;
  /** Largest log sizes any entry recorded as fsynced. */
  logBytes: [number, number];
  /** Bytes up to the end of the last complete line (a torn last line was a batch never sent). */
  validBytes: number;
}

/** Reads a journal into the table (rows sent); undefined when there is none. */
export async function readJournal(path: string, table: RowTable): Promise<JournalContents | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`Cannot read the import journal ${path}: ${(err as Error).message}.`);
  }
  const damaged = (what: string) =>
    new UsageError(`The import journal ${path} is damaged (${what}).`, `It was not written by klv, or was edited. Without it --resume cannot tell which rows were being sent; remove it to start over (rows already imported would be sent again).`);
  const lines = text.split('\n');
  // The last element is '' after a final newline, or a line torn by a kill: that batch was
  // never sent (sending waits for the fsync), so it is ignored.
  const complete = lines.slice(0, -1);
  const validBytes = Buffer.byteLength(complete.map((l) => `${l}\n`).join(''), 'utf8');
  if (complete.length === 0) throw damaged('no header line');
  let header: JournalHeader;
  try {
    header = JSON.parse(complete[0]) as JournalHeader;
  } catch {
    throw damaged('line 1 is not JSON');
  }
  if (header.klvImportJournal !== JOURNAL_VERSION || !Array.isArray(header.headers)) throw damaged('not a klv import journal');
  const logBytes: [number, number] = [0, 0];
  for (let i = 1; i < complete.length; i++) {
    let e: JournalEntry;
    try {
      e = JSON.parse(complete[i]) as JournalEntry;
    } catch {
      throw damaged(`line ${i + 1} is not JSON`);
    }
    const unsent = (e as unknown as Partial<JournalUnsentEntry>).unsent;
    if (Array.isArray(unsent)) {
      for (const row of unsent) table.markUnsent(row);
      continue;
    }
    if (!Array.isArray(e.sent) || !Array.isArray(e.hashes) || e.sent.length !== e.hashes.length) throw damaged(`line ${i + 1}`);
    for (let k = 0; k < e.sent.length; k++) table.markSent(e.sent[k], e.hashes[k]);
    if (Array.isArray(e.logBytes)) {
      logBytes[0] = Math.max(logBytes[0], Number(e.logBytes[0]) || 0);
      logBytes[1] = Math.max(logBytes[1], Number(e.logBytes[1]) || 0);
    }
  }
  return { header, entries: complete.length - 1, logBytes, validBytes };
}

// ---------------------------------------------------------------------------------------------
// The logs of the interrupted run

export interface LogScan {
  rows: number;
  /** Bytes cut off the end: a line torn by a kill. */
  repairedBytes: number;
  exists: boolean;
}

/**
 * Reads one log of the interrupted run into the table (rows done). The header must be the one
 * this import writes. A last record torn by a kill (no final newline, too few cells, an open
 * quote) is cut off, but never below `keepBytes` (what the journal knew to be fsynced): damage
 * there is not a kill's doing, and klv refuses rather than guess.
 */
export async function scanLog(o: {
  path: string;
  kind: 'success' | 'error';
  header: readonly string[];
  hashPositions: readonly number[];
  delimiter: string;
  table: RowTable;
  keepBytes: number;
}): Promise<LogScan> {
  let size: number;
  try {
    size = (await stat(o.path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { rows: 0, repairedBytes: 0, exists: false };
    throw err;
  }
  if (size === 0) return { rows: 0, repairedBytes: 0, exists: true };
  const flag = o.kind === 'success' ? '--success-log' : '--error-log';
  const parser = parse({ delimiter: o.delimiter, info: true, relax_column_count: true, bom: true });
  const input = createReadStream(o.path);
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);

  let headerSeen = false;
  /** End (bytes) of the last record known to be complete: followed by another one. */
  let goodEnd = 0;
  let last: { record: string[]; end: number; line: number } | undefined;
  let rows = 0;
  let parseError: unknown;
  const accept = (rec: { record: string[]; end: number; line: number }) => {
    if (rec.record.length !== o.header.length) {
      throw new UsageError(
        `The ${o.kind} log ${o.path} is damaged at line ${rec.line}: ${rec.record.length} cells, expected ${o.header.length}.`,
        `It was edited after the interrupted run. Fix that line, or move the logs away and remove ${journalPath('<error log>')} to start over.`,
      );
    }
    const row = Number(rec.record[0]);
    if (!Number.isInteger(row) || row < 1) {
      throw new UsageError(`The ${o.kind} log ${o.path} is damaged at line ${rec.line}: Row '${rec.record[0]}' is not a row number.`, `Fix that line, or use other logs (${flag}).`);
    }
    o.table.markLogged(row, rowHash(rec.record, o.hashPositions), o.kind === 'error');
    rows++;
    goodEnd = rec.end;
  };
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { bytes: number; lines: number } }>) {
      if (!headerSeen) {
        headerSeen = true;
        if (record.length !== o.header.length || record.some((h, i) => h !== o.header[i])) {
          throw new UsageError(
            `The ${o.kind} log ${o.path} has other columns than this import writes (${record.join(', ')}), so it is not the log of an interrupted run of this import.`,
            `Resume with the same input and options, or give the right log with ${flag}.`,
          );
        }
        goodEnd = info.bytes;
        continue;
      }
      if (last) accept(last);
      last = { record, end: info.bytes, line: info.lines };
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    parseError = err;
  } finally {
    input.destroy();
  }
  // The last record is complete only if the file parsed to the end and ends with a line break.
  let torn = parseError !== undefined;
  if (!torn && last) {
    const endsWithNewline = last.end === size && (await lastByte(o.path, size)) === 0x0a;
    if (endsWithNewline && last.record.length === o.header.length) accept(last);
    else torn = true;
  } else if (torn && last && last.record.length === o.header.length) {
    // The parse failed after `last`, so `last` was followed by more text: it is complete.
    accept(last);
  }
  if (!headerSeen) {
    if (size > 0 && parseError === undefined) {
      throw new UsageError(`The ${o.kind} log ${o.path} has no header line.`, `Give the right log with ${flag}.`);
    }
  }
  if (!torn) return { rows, repairedBytes: 0, exists: true };
  if (goodEnd < o.keepBytes || !headerSeen) {
    throw new UsageError(
      `The ${o.kind} log ${o.path} is damaged after byte ${goodEnd}${parseError instanceof Error ? ` (${parseError.message})` : ''}, inside what the interrupted run had saved.`,
      `It was edited after the run. Fix it, or move the logs away and remove the journal to start over.`,
    );
  }
  await truncate(o.path, goodEnd);
  return { rows, repairedBytes: size - goodEnd, exists: true };
}

async function lastByte(path: string, size: number): Promise<number | undefined> {
  const h = await open(path, 'r');
  try {
    const buf = Buffer.alloc(1);
    const { bytesRead } = await h.read(buf, 0, 1, size - 1);
    return bytesRead === 1 ? buf[0] : undefined;
  } finally {
    await h.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Putting it together

export interface ResumeSetup {
  plan: ResumePlan;
  /** The journal of the interrupted run, when there was one (undefined: nothing was ever sent or the run completed). */
  journal?: JournalContents;
  success: LogScan;
  error: LogScan;
}

/**
 * Reads the journal and the logs of the interrupted run and checks that this run is the same
 * import (object, operation, header, delimiter). All failures are UsageErrors: exit 2, nothing sent.
 */
export async function loadResume(o: {
  paths: LogPaths;
  layout: LogLayout;
  object: string;
  operation: string;
  delimiter: string;
  idempotent: boolean;
  source: string;
}): Promise<ResumeSetup> {
  const table = new RowTable();
  const jPath = journalPath(o.paths.error);
  const journal = await readJournal(jPath, table);
  if (journal) {
    const h = journal.header;
    const differs = (what: string, was: string, now: string) =>
      new UsageError(`--resume: the interrupted import was ${what} ${was}, this one is ${now}.`, `Resume with the same command line (the journal is ${jPath}).`);
    if (h.object !== o.object) throw differs('of', h.object, o.object);
    if (h.operation !== o.operation) throw differs('--op', h.operation, o.operation);
    if (h.delimiter !== o.delimiter) throw differs('read with --delimiter', JSON.stringify(h.delimiter), JSON.stringify(o.delimiter));
    const same = h.headers.length === o.layout.inputHeaders.length && h.headers.every((x, i) => x === o.layout.inputHeaders[i]);
    if (!same) {
      throw new UsageError(
        `--resume: the header of ${o.source} changed since the interrupted import (it was: ${h.headers.join(', ')}).`,
        `Resume with the same input file. The journal is ${jPath}.`,
      );
    }
  }
  const keep = journal?.logBytes ?? [Infinity, Infinity];
  const success = await scanLog({
    path: o.paths.success,
    kind: 'success',
    header: o.layout.successHeader,
    hashPositions: o.layout.hashInSuccess,
    delimiter: o.delimiter,
    table,
    keepBytes: journal ? keep[0] : Infinity,
  });
  const error = await scanLog({
    path: o.paths.error,
    kind: 'error',
    header: o.layout.errorHeader,
    hashPositions: o.layout.hashInError,
    delimiter: o.delimiter,
    table,
    keepBytes: journal ? keep[1] : Infinity,
  });
  return {
    plan: new ResumePlan({ table, idempotent: o.idempotent, hashIndices: o.layout.hashInput, source: o.source, journal: jPath }),
    journal,
    success,
    error,
  };
}
