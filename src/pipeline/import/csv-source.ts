/**
 * Reads the CSV an import starts from, as a stream of records: the header first, then one
 * record per data row with its 1-based row number and the physical line it starts on (a quoted
 * field may span lines, so the two differ). Memory stays flat: rows are parsed as bytes arrive
 * and handed over one at a time, with backpressure all the way back to the file.
 *
 * Broken input stops the read with a `CsvInputError` naming the line, AFTER every row before the
 * broken one has been yielded: the caller logs and sends those rows, and none of them is seen
 * twice. What counts as broken: an unclosed quote, a stray quote, a row with more or fewer
 * fields than the header, bytes that are not UTF-8, an empty file, empty or duplicate header
 * names. A byte order mark is dropped, CRLF line ends are fine, blank lines are skipped, and a
 * file with a header and no rows is simply an import of nothing.
 *
 * UTF-8 is checked in front of csv-parse, chunk by chunk, with Node's native `isUtf8` (the same
 * check a fatal TextDecoder makes, without building strings csv-parse would throw away: it
 * parses bytes). Bytes reach the parser only up to the last line break seen, so that when a bad
 * byte turns up the parser can be ended cleanly at the start of the line that holds it: the rows
 * before come out, the broken line never does.
 */
import { isUtf8 } from 'node:buffer';
import { parse, type CsvError, type Parser } from 'csv-parse';
import { KlvError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-code.js';

export interface CsvHeader {
  kind: 'header';
  /** The header's names, exactly as written (the BOM removed). */
  headers: string[];
  /** Physical line of the header: 1 unless blank lines come first. */
  line: number;
}

export interface CsvRow {
  kind: 'row';
  /** 1-based number of the data row (the header is not counted; blank lines are not rows). */
  rowNumber: number;
  /** Physical line (1-based) where the record starts. */
  line: number;
  /** Cell text by header name. */
  cells: Record<string, string>;
  /** Cell text in header order. */
  values: string[];
}

export type CsvRecord = CsvHeader | CsvRow;

export interface ReadCsvOptions {
  /** One character; default `,`. */
  delimiter?: string;
  /** The file name, or `stdin`: how messages name the input. */
  source: string;
}

/**
 * The input is not a CSV klv can read. Exit 2. Every row before `rowNumber` was yielded; the row
 * `rowNumber` and whatever follows it were not.
 */
export class CsvInputError extends KlvError {
  /** Physical line (1-based) of the problem; 0 when the input could not be read at all. */
  readonly line: number;
  /**
   * The data row that could not be read (rows yielded before it + 1); 0 when the problem is in
   * the header or the file itself (nothing was yielded but, perhaps, the header).
   */
  readonly rowNumber: number;
  /** A short machine-readable kind, for logs and tests. */
  readonly reason: CsvProblem;
  constructor(message: string, options: { line: number; rowNumber: number; reason: CsvProblem; hint?: string; cause?: unknown }) {
    super(message, { exitCode: ExitCode.Usage, hint: options.hint, cause: options.cause });
    this.line = options.line;
    this.rowNumber = options.rowNumber;
    this.reason = options.reason;
  }
}

export type CsvProblem =
  | 'unreadable'
  | 'empty'
  | 'invalid-utf8'
  | 'unclosed-quote'
  | 'stray-quote'
  | 'field-count'
  | 'record-too-large'
  | 'empty-header'
  | 'duplicate-header'
  | 'malformed';

/**
 * A record (a field, really) longer than this stops the read: it is almost always a quote opened
 * and never closed, and without a cap csv-parse would buffer the rest of the file looking for
 * the closing one. Far above any real cell (a template's HTML included).
 */
export const MAX_RECORD_CHARS = 16 * 1024 * 1024;

/** Bytes held back waiting for a line break before they are parsed anyway (a file with no line breaks). */
const MAX_PENDING_BYTES = MAX_RECORD_CHARS;

const LF = 0x0a;
const CR = 0x0d;

interface FeedState {
  /**
   * Set once a bad byte was found: the parser was ended before its line, and this error is
   * thrown after the rows before it (given the number of the first row not read).
   */
  decodeError?: (rowNumber: number) => CsvInputError;
  /** The input stream itself failed (missing file, I/O error). */
  readError?: unknown;
  stopped: boolean;
}

/** A record as csv-parse hands it over, with the line counters at that point. */
interface Parsed {
  record: string[];
  /** Lines seen when the record ended. */
  lines: number;
  /** Blank lines skipped so far. */
  empty: number;
}

/**
 * Records wait here between the parser and the consumer. The feeder stops writing while more
 * than this many are waiting, so the queue holds at most this plus one chunk's worth.
 */
const QUEUE_HIGH = 2048;

export async function* readCsv(input: NodeJS.ReadableStream, opts: ReadCsvOptions): AsyncGenerator<CsvRecord> {
  const source = opts.source;
  let queue: Parsed[] = [];
  let head = 0;
  let finished = false;
  let parseError: unknown;
  let wakeConsumer: (() => void) | undefined;
  let wakeFeeder: (() => void) | undefined;
  const notify = () => {
    const w = wakeConsumer;
    wakeConsumer = undefined;
    w?.();
  };
  const release = () => {
    const w = wakeFeeder;
    wakeFeeder = undefined;
    w?.();
  };
  const parser = parse({
    bom: true,
    delimiter: opts.delimiter ?? ',',
    relax_column_count: false,
    skip_empty_lines: true,
    max_record_size: MAX_RECORD_CHARS,
  });
  // Records are taken as csv-parse pushes them, rather than read from the stream: when csv-parse
  // meets an error it destroys the stream, and records it had pushed that nobody had read yet
  // would be lost with it. They go to this queue instead, with csv-parse's live line counters
  // at that moment (its `info`/`on_record` options would copy its whole state per record, which
  // costs more than the parse). Only end-of-stream goes through to the stream itself.
  const pushToStream = parser.push.bind(parser);
  parser.push = (chunk: unknown): boolean => {
    if (chunk === null) return pushToStream(null);
    queue.push({ record: chunk as string[], lines: parser.info.lines, empty: parser.info.empty_lines });
    notify();
    return true;
  };
  parser.on('error', (err: unknown) => {
    parseError ??= err;
    finished = true;
    notify();
  });
  const end = () => {
    finished = true;
    notify();
  };
  parser.on('end', end);
  parser.on('close', end);
  parser.resume(); // flowing, so that 'end' comes although nothing is ever pushed
  const state: FeedState = { stopped: false };
  const room = (): Promise<void> | undefined =>
    queue.length - head <= QUEUE_HIGH || state.stopped ? undefined : new Promise<void>((resolve) => (wakeFeeder = resolve));
  const feeding = feed(input, parser, state, source, room);

  let headers: string[] | undefined;
  let rowNumber = 0;
  // Physical lines. A record starts one past the previous record's last line, plus the blank
  // lines skipped in between. csv-parse's own count cannot be used as it is: it counts a CRLF
  // inside a quoted field as two lines. It is right for one-line records, so only records it
  // says span several lines have their line breaks counted here.
  let prevEnd = 0;
  let prevEmpty = 0;
  let prevParserLines = 0;
  // Plain objects are much faster than null-prototype ones; only a header literally named
  // __proto__ needs the latter (a plain object would take it as its prototype).
  let nullProto = false;
  let completed = false;

  try {
    for (;;) {
      if (head < queue.length) {
        const { record, lines, empty } = queue[head++];
        const line = prevEnd + 1 + (empty - prevEmpty);
        const spanned = lines - prevParserLines - (empty - prevEmpty);
        prevEnd = spanned <= 1 ? line : line + lineBreaks(record);
        prevParserLines = lines;
        prevEmpty = empty;
        if (headers === undefined) {
          checkHeader(record, line, source);
          headers = record;
          nullProto = headers.includes('__proto__');
          yield { kind: 'header', headers: [...headers], line };
          continue;
        }
        rowNumber++;
        const cells: Record<string, string> = nullProto ? Object.create(null) : {};
        for (let i = 0; i < headers.length; i++) cells[headers[i]] = record[i];
        yield { kind: 'row', rowNumber, line, cells, values: record };
        continue;
      }
      queue = [];
      head = 0;
      release();
      if (finished) break;
      await new Promise<void>((resolve) => (wakeConsumer = resolve));
    }
    completed = true;
  } finally {
    // Also reached on an error and when the consumer stops early (return/throw into the
    // generator): stop reading the input so that no file handle or stdin listener outlives it.
    state.stopped = true;
    release();
    parser.destroy();
    if (!completed) (input as { destroy?: () => void }).destroy?.();
  }
  await feeding;
  const nextRow = headers === undefined ? 0 : rowNumber + 1;
  if (parseError !== undefined) {
    if (state.readError !== undefined && parseError === state.readError) throw readFailure(state.readError, source, headers, rowNumber);
    // The parser only ever got the lines before a bad byte, so its own error comes first in the
    // file, unless it is the quote left open by cutting the input at the bad line.
    if (state.decodeError && (parseError as Partial<CsvError>).code === 'CSV_QUOTE_NOT_CLOSED') throw state.decodeError(nextRow);
    const emptyBefore = numberField(parseError, 'empty_lines') - prevEmpty;
    const startLine = prevEnd + 1 + emptyBefore;
    // Where in the record csv-parse stopped (exact unless the record has a quoted CRLF before it).
    const atLine = startLine + Math.max(0, numberField(parseError, 'lines') - prevParserLines - emptyBefore - 1);
    throw parseFailure(parseError, { source, headerCount: headers?.length, rowNumber: nextRow, startLine, atLine });
  }
  if (state.decodeError) throw state.decodeError(nextRow);
  if (state.readError !== undefined) throw readFailure(state.readError, source, headers, rowNumber);
  if (headers === undefined) {
    throw new CsvInputError(`${source} is empty: there is no header line.`, {
      line: 0,
      rowNumber: 0,
      reason: 'empty',
      hint: 'The first line of the CSV must name the columns (Email,FirstName,...).',
    });
  }
}

/**
 * Copies the input into the parser, checking UTF-8 on the way and holding back the bytes after
 * the last line break. Never rejects: failures land in `state` (and end or destroy the parser).
 */
async function feed(
  input: NodeJS.ReadableStream,
  parser: Parser,
  state: FeedState,
  source: string,
  room: () => Promise<void> | undefined,
): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  /** Line breaks (LF) in the bytes already written: the line of a bad byte is counted from here. */
  let linesWritten = 0;
  const write = async (bytes: Buffer | string): Promise<boolean> => {
    if (bytes.length === 0) return true;
    const wait = room();
    if (wait) await wait;
    if (state.stopped || parser.destroyed) return false;
    if (!parser.write(bytes)) await drained(parser);
    return !(state.stopped || parser.destroyed);
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer | string>) {
      if (state.stopped || parser.destroyed) break;
      if (typeof chunk === 'string') {
        // Already text (a caller's setEncoding): nothing to check, nothing to hold back.
        if (pending.length > 0) {
          if (!(await write(pending))) break;
          pending = Buffer.alloc(0);
        }
        if (!(await write(chunk))) break;
        continue;
      }
      const data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      const tail = incompleteTail(data);
      if (!isUtf8(data.subarray(0, data.length - tail))) {
        await stopAtBadByte(data, firstInvalidUtf8(data), linesWritten, parser, state, source, write);
        return;
      }
      let cut = data.lastIndexOf(LF);
      if (cut < 0) cut = data.lastIndexOf(CR);
      if (cut < 0 && data.length > MAX_PENDING_BYTES) cut = data.length - tail - 1;
      if (cut < 0) {
        pending = data;
        continue;
      }
      const ready = data.subarray(0, cut + 1);
      linesWritten += countLf(ready, ready.length);
      pending = data.subarray(cut + 1);
      if (!(await write(ready))) break;
    }
    if (state.stopped || parser.destroyed) return;
    if (pending.length > 0) {
      // At the end of the input an incomplete multi-byte sequence is invalid too.
      if (!isUtf8(pending)) {
        await stopAtBadByte(pending, firstInvalidUtf8(pending), linesWritten, parser, state, source, write);
        return;
      }
      if (!(await write(pending))) return;
    }
    parser.end();
  } catch (err) {
    state.readError = err;
    parser.destroy(err instanceof Error ? err : new Error(String(err)));
  }
}

/** Writes the lines before the one holding the bad byte, ends the parser, and records the error. */
async function stopAtBadByte(
  data: Buffer,
  bad: number,
  linesWritten: number,
  parser: Parser,
  state: FeedState,
  source: string,
  write: (bytes: Buffer) => Promise<boolean>,
): Promise<void> {
  const line = linesWritten + countLf(data, bad) + 1;
  const lineStart = bad === 0 ? -1 : data.lastIndexOf(LF, bad - 1);
  const utf16 = linesWritten === 0 && data.length >= 2 && ((data[0] === 0xff && data[1] === 0xfe) || (data[0] === 0xfe && data[1] === 0xff));
  const byte = data[bad];
  state.decodeError = (rowNumber) => new CsvInputError(
    utf16
      ? `${source} is UTF-16, not UTF-8 (line 1 starts with a UTF-16 byte order mark).`
      : `${source}, line ${line}: invalid UTF-8 (byte 0x${byte === undefined ? '??' : byte.toString(16).padStart(2, '0')}).`,
    {
      line,
      rowNumber,
      reason: 'invalid-utf8',
      hint: utf16
        ? 'Save it as "CSV UTF-8" (Excel), or convert it: iconv -f UTF-16 -t UTF-8 in.csv > out.csv.'
        : 'Save the file as "CSV UTF-8" (Excel), or convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8 in.csv > out.csv.',
    },
  );
  // The lines before the bad one are parsed; the parser then ends as if the file stopped there.
  if (lineStart >= 0 && !(await write(data.subarray(0, lineStart + 1)))) return;
  if (!parser.destroyed) parser.end();
}

/** Line breaks inside a record's fields: CRLF, LF and a lone CR count one each. */
function lineBreaks(fields: readonly string[]): number {
  let n = 0;
  for (const f of fields) {
    for (let i = 0; i < f.length; i++) {
      const c = f.charCodeAt(i);
      if (c === LF) n++;
      else if (c === CR && f.charCodeAt(i + 1) !== LF) n++;
    }
  }
  return n;
}

/** Resolves when the parser wants more input, or is gone. */
function drained(stream: Parser): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/** How many LF bytes are in data[0, end). */
function countLf(data: Buffer, end: number): number {
  let n = 0;
  let i = data.indexOf(LF);
  while (i >= 0 && i < end) {
    n++;
    i = data.indexOf(LF, i + 1);
  }
  return n;
}

/**
 * Length of a multi-byte sequence cut by the end of the chunk (0 to 3 bytes): it is completed by
 * the next chunk, so it is checked with it.
 */
export function incompleteTail(data: Buffer): number {
  const n = data.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const b = data[n - back];
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

/** Offset of the first byte that is not part of well-formed UTF-8 (the error path only). */
export function firstInvalidUtf8(data: Buffer): number {
  let i = 0;
  const n = data.length;
  while (i < n) {
    const b = data[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min = 0x80;
    let max = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) min = 0xa0; // overlong
      if (b === 0xed) max = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) min = 0x90;
      if (b === 0xf4) max = 0x8f;
    } else return i;
    if (i + need >= n) return i; // cut short by the end of the input
    const second = data[i + 1];
    if (second === undefined || second < min || second > max) return i;
    for (let k = 2; k <= need; k++) {
      const c = data[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
    }
    i += need + 1;
  }
  return n;
}

function checkHeader(record: string[], line: number, source: string): void {
  const empty = record.map((h, i) => (h.trim() === '' ? i + 1 : 0)).filter((i) => i > 0);
  if (empty.length > 0) {
    throw new CsvInputError(
      `${source}, line ${line}: the header has ${empty.length === 1 ? `an empty column name (column ${empty[0]}` : `empty column names (columns ${empty.slice(0, -1).join(', ')} and ${empty[empty.length - 1]}`} of ${record.length}).`,
      {
        line,
        rowNumber: 0,
        reason: 'empty-header',
        hint: 'Every column needs a name in the first line; a trailing delimiter at the end of the header makes an empty one.',
      },
    );
  }
  const positions = new Map<string, number[]>();
  record.forEach((h, i) => positions.set(h, [...(positions.get(h) ?? []), i + 1]));
  const dups = [...positions].filter(([, at]) => at.length > 1);
  if (dups.length > 0) {
    throw new CsvInputError(
      `${source}, line ${line}: the header repeats ${dups.map(([h, at]) => `'${h}' (columns ${at.join(', ')})`).join(', ')}.`,
      { line, rowNumber: 0, reason: 'duplicate-header', hint: 'Rename or remove the repeated columns: each cell must belong to one column.' },
    );
  }
}

function numberField(err: unknown, key: string): number {
  const v = err !== null && typeof err === 'object' ? (err as Record<string, unknown>)[key] : undefined;
  return typeof v === 'number' ? v : 0;
}

function readFailure(err: unknown, source: string, headers: string[] | undefined, rowsYielded: number): KlvError {
  const code = err !== null && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  const why = err instanceof Error ? err.message : String(err);
  if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES' || code === 'EPERM') {
    return new CsvInputError(`Cannot read ${source}: ${why}`, {
      line: 0,
      rowNumber: headers === undefined ? 0 : rowsYielded + 1,
      reason: 'unreadable',
      hint: code === 'ENOENT' ? 'Check the path, or give - to read standard input.' : undefined,
      cause: err,
    });
  }
  return new KlvError(`Reading ${source} failed after ${rowsYielded} rows: ${why}`, { cause: err });
}

function parseFailure(
  err: unknown,
  ctx: { source: string; headerCount: number | undefined; rowNumber: number; startLine: number; atLine: number },
): KlvError {
  const code = (err as Partial<CsvError> | undefined)?.code;
  const { source, rowNumber, startLine, atLine } = ctx;
  const where = (line: number) => `${source}, line ${line}`;
  const base = { rowNumber, cause: err };
  switch (code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return new CsvInputError(`${where(startLine)}: a quoted field opened on this line is never closed (it runs to the end of the file).`, {
        ...base,
        line: startLine,
        reason: 'unclosed-quote',
        hint: `Close the quote, or write a quote inside a quoted field as two quotes ("").`,
      });
    case 'CSV_MAX_RECORD_SIZE':
      return new CsvInputError(
        `${where(startLine)}: the record starting on this line runs past ${MAX_RECORD_CHARS / 1024 / 1024} MB, most likely because a quote opened there is never closed.`,
        { ...base, line: startLine, reason: 'record-too-large', hint: `Check the quotes on that line.` },
      );
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH': {
      const record = (err as { record?: unknown }).record;
      const got = Array.isArray(record) ? record.length : undefined;
      const endLine = Array.isArray(record) ? startLine + lineBreaks(record.map(String)) : startLine;
      const expected = ctx.headerCount;
      const lines = endLine > startLine ? `lines ${startLine}-${endLine}` : `line ${startLine}`;
      return new CsvInputError(
        `${source}, ${lines}: ${got ?? 'a different number of'} field${got === 1 ? '' : 's'}, expected ${expected ?? 'as many as the header has'} (as many as the header).`,
        {
          ...base,
          line: startLine,
          reason: 'field-count',
          hint: `Quote cells that contain the delimiter, check --delimiter, and give every row as many cells as the header.`,
        },
      );
    }
    case 'INVALID_OPENING_QUOTE':
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE': {
      const column = numberField(err, 'column') + 1;
      const field = (err as { field?: unknown }).field;
      const what =
        code === 'INVALID_OPENING_QUOTE'
          ? `a quote inside cell ${column}, which does not start with one${typeof field === 'string' && field !== '' ? ` (after '${field.slice(0, 40)}')` : ''}`
          : `cell ${column} is quoted, and its closing quote is followed by more text instead of the delimiter or the end of the line`;
      return new CsvInputError(`${where(atLine)}: ${what}.`, {
        ...base,
        line: atLine,
        reason: 'stray-quote',
        hint: `Quote the whole cell and double every quote inside it: "He said ""hi""".`,
      });
    }
    default:
      return new CsvInputError(`${where(atLine)}: ${err instanceof Error ? err.message : String(err)}`, { ...base, line: atLine, reason: 'malformed' });
  }
}
