/**
 * readCsv: the header then one record per row, with row numbers and physical lines; every kind
 * of broken CSV stops with a CsvInputError naming the line, after the rows before it; memory
 * stays flat on large inputs.
 */
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CsvInputError, firstInvalidUtf8, incompleteTail, readCsv, type CsvRecord, type CsvRow } from '../../src/pipeline/import/csv-source.js';
import { ExitCode } from '../../src/core/exit-code.js';
import { REPO_ROOT } from '../helpers/cli.js';

const fixture = (name: string) => resolve(REPO_ROOT, 'fixtures/import', name);

/** Every record read, then the error that stopped the read (if any). */
async function readAll(input: NodeJS.ReadableStream, delimiter?: string): Promise<{ records: CsvRecord[]; rows: CsvRow[]; error?: CsvInputError }> {
  const records: CsvRecord[] = [];
  try {
    for await (const r of readCsv(input, { source: 'in.csv', delimiter })) records.push(r);
  } catch (err) {
    if (!(err instanceof CsvInputError)) throw err;
    return { records, rows: records.filter((r): r is CsvRow => r.kind === 'row'), error: err };
  }
  return { records, rows: records.filter((r): r is CsvRow => r.kind === 'row') };
}

const file = (name: string) => readAll(createReadStream(fixture(name)));
/** The bytes in chunks of `size`: splits lines, quoted fields and multi-byte characters anywhere. */
const chunked = (bytes: Buffer | string, size: number) => {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
};

describe('readCsv: well-formed input', () => {
  it('yields the header first, then rows with row numbers, lines, cells and values', async () => {
    const { records } = await file('profiles-basic.csv');
    expect(records[0]).toEqual({
      kind: 'header',
      headers: ['email', 'first_name', 'Last Name', 'PHONE-NUMBER', 'city', 'Properties.tier'],
      line: 1,
    });
    expect(records[1]).toMatchObject({
      kind: 'row',
      rowNumber: 1,
      line: 2,
      cells: { email: 'ann@example.com', first_name: 'Ann', 'Last Name': 'Archer', 'PHONE-NUMBER': '+15005550006', city: 'Portland', 'Properties.tier': 'gold' },
      values: ['ann@example.com', 'Ann', 'Archer', '+15005550006', 'Portland', 'gold'],
    });
    expect(records[2]).toMatchObject({ rowNumber: 2, line: 3 });
    expect(records).toHaveLength(3);
  });

  it('strips a BOM, accepts CRLF, skips blank lines without counting them as rows', async () => {
    const { records } = await file('bom-crlf.csv');
    expect(records[0]).toEqual({ kind: 'header', headers: ['Email', 'FirstName'], line: 1 });
    expect(records.slice(1)).toMatchObject([
      { rowNumber: 1, line: 2, cells: { Email: 'ann@example.com', FirstName: 'Ann' } },
      { rowNumber: 2, line: 4, cells: { Email: 'bob@example.com', FirstName: 'Bob' } },
    ]);
  });

  it('gives a quoted multi-line record the line it starts on, and the next one its own', async () => {
    const { rows } = await file('multiline.csv');
    expect(rows.map((r) => [r.rowNumber, r.line, r.cells.Notes])).toEqual([
      [1, 2, 'first line\nsecond line'],
      [2, 4, 'one line'],
    ]);
  });

  it('counts blank lines before the header in its line', async () => {
    const { records } = await readAll(Readable.from(['\n\nEmail\n\nann@example.com\n']));
    expect(records).toMatchObject([
      { kind: 'header', line: 3 },
      { kind: 'row', rowNumber: 1, line: 5 },
    ]);
  });

  it('a header with no rows is an import of nothing, not an error', async () => {
    const { records, error } = await file('header-only.csv');
    expect(error).toBeUndefined();
    expect(records).toEqual([{ kind: 'header', headers: ['Email', 'FirstName'], line: 1 }]);
  });

  it('reads the last row without a final line break', async () => {
    const { rows } = await readAll(Readable.from(['Email\nann@example.com\nbob@example.com']));
    expect(rows.map((r) => r.cells.Email)).toEqual(['ann@example.com', 'bob@example.com']);
  });

  it.each([
    ['semicolon.csv', ';'],
    ['tab.tsv', '\t'],
    ['pipe.csv', '|'],
  ])('%s with --delimiter %j', async (name, delimiter) => {
    const { rows } = await readAll(createReadStream(fixture(name)), delimiter);
    expect(rows).toMatchObject([{ cells: { Email: 'ann@example.com', FirstName: 'Ann' } }]);
  });

  it('is the same whatever the chunk boundaries (1-byte chunks, multi-byte characters split)', async () => {
    const text = '\ufeffEmail,Name\r\nann@example.com,"Zoë ""Z"" Ærø"\r\nbob@example.com,"日本,\r\n語"\r\n\r\ncat@example.com,😀\r\n';
    const whole = await readAll(Readable.from([Buffer.from(text)]));
    for (const size of [1, 2, 3, 5, 7]) {
      const part = await readAll(chunked(text, size));
      expect(part.records).toEqual(whole.records);
    }
    expect(whole.rows.map((r) => [r.line, r.cells.Name])).toEqual([
      [2, 'Zoë "Z" Ærø'],
      [3, '日本,\r\n語'],
      [6, '😀'],
    ]);
  });

  it('takes string chunks too (a stream with an encoding set)', async () => {
    const { rows } = await readAll(Readable.from(['Email,Na', 'me\nann@example.com,Zoë\n']));
    expect(rows).toMatchObject([{ cells: { Email: 'ann@example.com', Name: 'Zoë' } }]);
  });

  it('a header named __proto__ or constructor is an ordinary cell', async () => {
    const { rows } = await readAll(Readable.from(['__proto__,constructor\na,b\n']));
    expect(rows[0].cells.__proto__).toBe('a');
    expect(rows[0].cells.constructor).toBe('b');
    expect(Object.keys(rows[0].cells)).toEqual(['__proto__', 'constructor']);
  });
});

describe('readCsv: broken input names the line, after yielding the rows before it', () => {
  it('an unclosed quote: the line where the quote opens', async () => {
    const { rows, error } = await file('unclosed-quote.csv');
    expect(rows.map((r) => r.cells.Email)).toEqual(['ann@example.com', 'bob@example.com']);
    expect(error).toMatchObject({ line: 4, rowNumber: 3, reason: 'unclosed-quote', exitCode: ExitCode.Usage });
    expect(error!.message).toBe('in.csv, line 4: a quoted field opened on this line is never closed (it runs to the end of the file).');
    expect(error!.hint).toMatch(/two quotes/);
  });

  it('a row with fewer fields than the header: line, fields, expected', async () => {
    const { rows, error } = await file('ragged-short.csv');
    expect(rows).toHaveLength(1);
    expect(error).toMatchObject({ line: 3, rowNumber: 2, reason: 'field-count' });
    expect(error!.message).toBe('in.csv, line 3: 2 fields, expected 3 (as many as the header).');
    expect(error!.hint).toMatch(/--delimiter/);
  });

  it('a row with more fields than the header', async () => {
    const { rows, error } = await file('ragged-long.csv');
    expect(rows).toHaveLength(1);
    expect(error).toMatchObject({ line: 3, rowNumber: 2, reason: 'field-count' });
    expect(error!.message).toContain('4 fields, expected 2');
  });

  it('a ragged multi-line record names the lines it spans', async () => {
    const { error } = await readAll(Readable.from(['a,b\n1,2\n"x\ny",2,3\n']));
    expect(error).toMatchObject({ line: 3, rowNumber: 2 });
    expect(error!.message).toBe('in.csv, lines 3-4: 3 fields, expected 2 (as many as the header).');
  });

  it('a stray quote inside an unquoted field', async () => {
    const { rows, error } = await file('stray-quote.csv');
    expect(rows).toHaveLength(1);
    expect(error).toMatchObject({ line: 3, rowNumber: 2, reason: 'stray-quote' });
    expect(error!.message).toBe("in.csv, line 3: a quote inside cell 2, which does not start with one (after 'Bob ').");
    expect(error!.hint).toMatch(/double every quote/);
  });

  it('text after a closing quote', async () => {
    const { error } = await readAll(Readable.from(['a,b\n1,2\n3,4\n"5"x,6\n']));
    expect(error).toMatchObject({ line: 4, rowNumber: 3, reason: 'stray-quote' });
    expect(error!.message).toMatch(/^in\.csv, line 4: cell 1 is quoted, and its closing quote is followed by more text/);
  });

  it('lines stay right after quoted fields with CRLF inside (csv-parse alone counts those twice)', async () => {
    const head = 'a,b\r\n1,"x\r\ny"\r\n\r\n2,"p\r\nq\nr"\r\n';
    const ok = await readAll(Readable.from([`${head}3,4\r\n`]));
    expect(ok.rows.map((r) => r.line)).toEqual([2, 5, 8]);
    const ragged = await readAll(Readable.from([`${head}3,4,5\r\n`]));
    expect(ragged.error).toMatchObject({ line: 8, rowNumber: 3, reason: 'field-count' });
    const quote = await readAll(Readable.from([`${head}3 "x",4\r\n`]));
    expect(quote.error).toMatchObject({ line: 8, rowNumber: 3, reason: 'stray-quote' });
    const open = await readAll(Readable.from([`${head}"3,4\r\n5,6\r\n`]));
    expect(open.error).toMatchObject({ line: 8, rowNumber: 3, reason: 'unclosed-quote' });
  });

  it('invalid UTF-8: the line of the bad byte; the rows before it come out, not the broken one', async () => {
    const { rows, error } = await file('invalid-utf8.csv');
    expect(rows.map((r) => r.cells.Email)).toEqual(['ann@example.com']);
    expect(error).toMatchObject({ line: 3, rowNumber: 2, reason: 'invalid-utf8', exitCode: ExitCode.Usage });
    expect(error!.message).toBe('in.csv, line 3: invalid UTF-8 (byte 0xe9).');
    expect(error!.hint).toMatch(/UTF-8/);
  });

  it('invalid UTF-8 is found at the same line whatever the chunking', async () => {
    const bytes = Buffer.concat([Buffer.from('Email,Name\nann@example.com,Zoë\nbob@example.com,"two\nlines"\ncat@example.com,Ca'), Buffer.from([0xff]), Buffer.from('t\n')]);
    for (const size of [1, 2, 4, 9, 1000]) {
      const { rows, error } = await readAll(chunked(bytes, size));
      expect(rows.map((r) => r.cells.Email)).toEqual(['ann@example.com', 'bob@example.com']);
      expect(error).toMatchObject({ line: 5, rowNumber: 3, reason: 'invalid-utf8' });
    }
  });

  it('a multi-byte character cut off by the end of the file is invalid UTF-8', async () => {
    const bytes = Buffer.concat([Buffer.from('Email\nann@example.com\nbob'), Buffer.from([0xe6, 0x97])]);
    const { rows, error } = await readAll(chunked(bytes, 3));
    expect(rows).toHaveLength(1);
    expect(error).toMatchObject({ line: 3, rowNumber: 2, reason: 'invalid-utf8' });
  });

  it('a bad byte inside a quoted field that spans lines: the UTF-8 error, not an unclosed quote', async () => {
    const bytes = Buffer.concat([Buffer.from('a,b\n1,"x\ny'), Buffer.from([0xc0]), Buffer.from('"\n')]);
    const { rows, error } = await readAll(chunked(bytes, 4));
    expect(rows).toHaveLength(0);
    expect(error).toMatchObject({ reason: 'invalid-utf8', line: 3, rowNumber: 1 });
  });

  it('a UTF-16 file says so', async () => {
    const { records, error } = await file('utf16.csv');
    expect(records).toHaveLength(0);
    expect(error).toMatchObject({ line: 1, rowNumber: 0, reason: 'invalid-utf8' });
    expect(error!.message).toBe('in.csv is UTF-16, not UTF-8 (line 1 starts with a UTF-16 byte order mark).');
  });

  it('an empty file: no header', async () => {
    const { records, error } = await file('empty.csv');
    expect(records).toHaveLength(0);
    expect(error).toMatchObject({ reason: 'empty', rowNumber: 0, exitCode: ExitCode.Usage });
    expect(error!.message).toBe('in.csv is empty: there is no header line.');
  });

  it('a file of blank lines is empty too', async () => {
    const { error } = await file('blank-lines.csv');
    expect(error).toMatchObject({ reason: 'empty' });
  });

  it('duplicate header names, with their positions', async () => {
    const { records, error } = await file('duplicate-headers.csv');
    expect(records).toHaveLength(0);
    expect(error).toMatchObject({ line: 1, rowNumber: 0, reason: 'duplicate-header' });
    expect(error!.message).toBe("in.csv, line 1: the header repeats 'Email' (columns 1, 3).");
  });

  it('empty header names, with their positions', async () => {
    const { error } = await file('empty-header.csv');
    expect(error).toMatchObject({ line: 1, rowNumber: 0, reason: 'empty-header' });
    expect(error!.message).toBe('in.csv, line 1: the header has empty column names (columns 2 and 4 of 4).');
  });

  it('a missing file is a usage error naming it', async () => {
    const { error } = await readAll(createReadStream(fixture('no-such-file.csv')));
    expect(error).toMatchObject({ reason: 'unreadable', exitCode: ExitCode.Usage });
    expect(error!.message).toMatch(/^Cannot read in\.csv: ENOENT/);
  });
});

describe('readCsv: streaming', () => {
  /** A lazily generated CSV: `rows` data rows, produced only as the reader asks for more. */
  function generated(rows: number, onRead: (produced: number) => void): Readable {
    let i = 0;
    return new Readable({
      read() {
        if (i >= rows) {
          this.push(null);
          return;
        }
        let chunk = i === 0 ? 'Email,FirstName,City,Properties\n' : '';
        const end = Math.min(rows, i + 500);
        for (; i < end; i++) chunk += `person${i}@example.com,Name${i},City ${i % 97},"{""n"":${i}}"\n`;
        onRead(i);
        this.push(chunk);
      },
    });
  }

  it('200,000 rows pass through with backpressure: the reader never runs far ahead of the consumer', async () => {
    let produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    for await (const r of readCsv(generated(200_000, (n) => (produced = n)), { source: 'gen.csv' })) {
      if (r.kind !== 'row') continue;
      consumed++;
      expect(r.rowNumber).toBe(consumed);
      maxAhead = Math.max(maxAhead, produced - consumed);
    }
    expect(consumed).toBe(200_000);
    // Stream buffers hold a few chunks (tens of KB): a few thousand rows at most, never the file.
    expect(maxAhead).toBeLessThan(10_000);
  });

  it('stopping early stops reading the input', async () => {
    let produced = 0;
    const input = generated(1_000_000, (n) => (produced = n));
    let seen = 0;
    for await (const r of readCsv(input, { source: 'gen.csv' })) {
      if (r.kind === 'row' && ++seen === 1000) break;
    }
    await new Promise((r) => setImmediate(r));
    expect(input.destroyed).toBe(true);
    expect(produced).toBeLessThan(20_000);
  });
});

describe('UTF-8 helpers', () => {
  it('incompleteTail: a multi-byte sequence cut by the chunk end', () => {
    expect(incompleteTail(Buffer.from('abc'))).toBe(0);
    expect(incompleteTail(Buffer.from([0x61, 0xc3]))).toBe(1); // é cut after its lead byte
    expect(incompleteTail(Buffer.from([0x61, 0xe6, 0x97]))).toBe(2); // 日 cut after 2 of 3
    expect(incompleteTail(Buffer.from([0xe6, 0x97, 0xa5]))).toBe(0); // 日 complete
    expect(incompleteTail(Buffer.from([0xf0, 0x9f, 0x98]))).toBe(3); // 😀 cut after 3 of 4
  });

  it('firstInvalidUtf8: offset of the first bad byte', () => {
    expect(firstInvalidUtf8(Buffer.from('Zoë 日本 😀'))).toBe(Buffer.byteLength('Zoë 日本 😀'));
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xe9, 0x62]))).toBe(1); // Latin-1 é
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xc0, 0x80]))).toBe(1); // overlong
    expect(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBe(0); // surrogate
    expect(firstInvalidUtf8(Buffer.from([0x61, 0x62, 0xe6, 0x97]))).toBe(2); // truncated
  });
});
