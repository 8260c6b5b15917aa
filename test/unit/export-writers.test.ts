/**
 * The export writers: CSV (csv-stringify's stream API), JSON and NDJSON, format inference and
 * CSV options, and the streaming contract: rows reach the output while the source is still
 * waiting for its next page, backpressure holds the source, failures keep what was written.
 */
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { parseDelimiter, resolveFormat } from '../../src/pipeline/export/formats.js';
import { writeRows } from '../../src/pipeline/export/write-rows.js';
import { InterruptedError, UsageError } from '../../src/core/errors.js';
import type { Row } from '../../src/objects/types.js';
import { DEFAULT_CSV } from '../../src/pipeline/export/formats.js';

const columns = [
  { name: 'Id', type: 'id' },
  { name: 'Email', type: 'email' },
  { name: 'Orders', type: 'integer' },
  { name: 'Created', type: 'datetime' },
  { name: 'Properties', type: 'json' },
] as const;

const ROWS: Row[] = [
  { Id: 'p1', Email: 'ann@example.com', Orders: 3, Created: '2026-07-15T10:00:00+00:00', Properties: { tier: 'gold' } },
  { Id: 'p2', Email: 'bob, "the builder"@example.com', Orders: null, Created: null, Properties: {} },
  { Id: 'p3', Email: '=cmd()', Orders: 0, Created: '2026-01-01T00:00:00Z', Properties: null },
];

/** A Writable that keeps what it gets and tells when the first chunk arrives. */
class Sink extends Writable {
  chunks: string[] = [];
  firstWrite: Promise<void>;
  #onFirst!: () => void;
  constructor(o: { highWaterMark?: number; hold?: boolean } = {}) {
    super({ highWaterMark: o.highWaterMark ?? 16_384, decodeStrings: false });
    this.firstWrite = new Promise((r) => (this.#onFirst = r));
  }
  override _write(chunk: unknown, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(String(chunk));
    this.#onFirst();
    cb();
  }
  get text(): string {
    return this.chunks.join('');
  }
}

async function* fromArray(rows: Row[]): AsyncGenerator<Row> {
  for (const r of rows) yield r;
}

/** A source the test drives: `push` hands out one row, `end` finishes, `fail` throws. */
function controllable() {
  const queue: Array<{ row?: Row; end?: boolean; error?: unknown }> = [];
  let wake: (() => void) | undefined;
  let finished = false;
  let pulls = 0;
  const put = (item: { row?: Row; end?: boolean; error?: unknown }) => {
    queue.push(item);
    wake?.();
  };
  async function* source(): AsyncGenerator<Row> {
    try {
      for (;;) {
        pulls += 1;
        while (queue.length === 0) await new Promise<void>((r) => (wake = r));
        const item = queue.shift()!;
        if (item.error) throw item.error;
        if (item.end) return;
        yield item.row!;
      }
    } finally {
      finished = true;
    }
  }
  return {
    source: source(),
    push: (row: Row) => put({ row }),
    end: () => put({ end: true }),
    fail: (error: unknown) => put({ error }),
    get finished() {
      return finished;
    },
    get pulls() {
      return pulls;
    },
  };
}

describe('resolveFormat', () => {
  it('uses --format when given, case-insensitively; jsonl means ndjson', () => {
    expect(resolveFormat('JSON', 'out.csv')).toEqual({ format: 'json' });
    expect(resolveFormat('ndjson', undefined)).toEqual({ format: 'ndjson' });
    expect(resolveFormat('jsonl', undefined)).toEqual({ format: 'ndjson' });
  });

  it('infers from the -o extension, else csv', () => {
    expect(resolveFormat(undefined, 'out.json')).toEqual({ format: 'json' });
    expect(resolveFormat(undefined, 'dir/out.NDJSON')).toEqual({ format: 'ndjson' });
    expect(resolveFormat(undefined, 'out.jsonl')).toEqual({ format: 'ndjson' });
    expect(resolveFormat(undefined, 'out.csv')).toEqual({ format: 'csv' });
    expect(resolveFormat(undefined, 'out.tsv')).toEqual({ format: 'csv', delimiter: '\t' });
    expect(resolveFormat(undefined, 'out.txt')).toEqual({ format: 'csv' });
    expect(resolveFormat(undefined, '-')).toEqual({ format: 'csv' });
    expect(resolveFormat(undefined, undefined)).toEqual({ format: 'csv' });
  });

  it('refuses an unknown format with the known ones named', () => {
    expect(() => resolveFormat('xml', undefined)).toThrow(UsageError);
    expect(() => resolveFormat('xml', undefined)).toThrow(/Unknown format 'xml'/);
  });
});

describe('parseDelimiter', () => {
  it('accepts one character, and \\t or tab for a tab', () => {
    expect(parseDelimiter(';')).toBe(';');
    expect(parseDelimiter('|')).toBe('|');
    expect(parseDelimiter('\\t')).toBe('\t');
    expect(parseDelimiter('tab')).toBe('\t');
    expect(parseDelimiter('TAB')).toBe('\t');
    expect(parseDelimiter('\t')).toBe('\t');
  });

  it('refuses several characters, quotes and line breaks', () => {
    expect(() => parseDelimiter(';;')).toThrow(/not one character/);
    expect(() => parseDelimiter('')).toThrow(UsageError);
    expect(() => parseDelimiter('"')).toThrow(/quote or a line break/);
    expect(() => parseDelimiter('\n')).toThrow(UsageError);
  });
});

describe('writeRows: formats', () => {
  it('CSV: header, quoting, ISO datetimes, JSON cells, empty nulls; csv-parse reads it back', async () => {
    const sink = new Sink();
    const r = await writeRows(fromArray(ROWS), sink, { format: 'csv', columns });
    expect(r).toEqual({ rows: 3, error: undefined });
    expect(sink.text.split('\n')[0]).toBe('Id,Email,Orders,Created,Properties');
    const records = parse(sink.text, { columns: true }) as Record<string, string>[];
    expect(records).toEqual([
      { Id: 'p1', Email: 'ann@example.com', Orders: '3', Created: '2026-07-15T10:00:00Z', Properties: '{"tier":"gold"}' },
      { Id: 'p2', Email: 'bob, "the builder"@example.com', Orders: '', Created: '', Properties: '{}' },
      { Id: 'p3', Email: '=cmd()', Orders: '0', Created: '2026-01-01T00:00:00Z', Properties: '' },
    ]);
  });

  it('CSV options: delimiter, BOM, no header, safe cells', async () => {
    const sink = new Sink();
    await writeRows(fromArray(ROWS), sink, {
      format: 'csv',
      columns,
      csv: { delimiter: '\t', bom: true, header: false, safe: true },
    });
    const text = sink.text;
    expect(text.startsWith('\uFEFF')).toBe(true);
    const lines = text.slice(1).trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('p1\tann@example.com\t3\t2026-07-15T10:00:00Z\t"{""tier"":""gold""}"');
    expect(lines[2].split('\t')[1]).toBe("'=cmd()");
  });

  it('CSV with no rows still writes the header', async () => {
    const sink = new Sink();
    const r = await writeRows(fromArray([]), sink, { format: 'csv', columns });
    expect(r.rows).toBe(0);
    expect(sink.text).toBe('Id,Email,Orders,Created,Properties\n');
  });

  it('JSON: one array, native types, columns in order', async () => {
    const sink = new Sink();
    await writeRows(fromArray(ROWS), sink, { format: 'json', columns });
    const parsed = JSON.parse(sink.text);
    expect(parsed).toEqual([
      { Id: 'p1', Email: 'ann@example.com', Orders: 3, Created: '2026-07-15T10:00:00Z', Properties: { tier: 'gold' } },
      { Id: 'p2', Email: 'bob, "the builder"@example.com', Orders: null, Created: null, Properties: {} },
      { Id: 'p3', Email: '=cmd()', Orders: 0, Created: '2026-01-01T00:00:00Z', Properties: null },
    ]);
    expect(Object.keys(parsed[0])).toEqual(['Id', 'Email', 'Orders', 'Created', 'Properties']);
    expect(sink.text.endsWith('\n]\n')).toBe(true);
  });

  it('JSON with no rows is []', async () => {
    const sink = new Sink();
    await writeRows(fromArray([]), sink, { format: 'json', columns });
    expect(sink.text).toBe('[]\n');
    expect(JSON.parse(sink.text)).toEqual([]);
  });

  it('NDJSON: one object per line', async () => {
    const sink = new Sink();
    await writeRows(fromArray(ROWS), sink, { format: 'ndjson', columns });
    const lines = sink.text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => JSON.parse(l).Id)).toEqual(['p1', 'p2', 'p3']);
    expect(JSON.parse(lines[0]).Properties).toEqual({ tier: 'gold' });
  });

  it('a missing column value is null / empty, extra row keys are ignored', async () => {
    const sink = new Sink();
    await writeRows(fromArray([{ Id: 'x', Other: 1 }]), sink, { format: 'ndjson', columns: [columns[0], columns[1]] });
    expect(JSON.parse(sink.text)).toEqual({ Id: 'x', Email: null });
  });
});

describe('writeRows: streaming', () => {
  for (const format of ['csv', 'json', 'ndjson'] as const) {
    it(`${format}: the first row is written while the source still waits for its next page`, async () => {
      const src = controllable();
      const sink = new Sink();
      const done = writeRows(src.source, sink, { format, columns });
      src.push(ROWS[0]);
      await sink.firstWrite;
      // Wait until the first row itself (not only a header or '[') is out.
      while (!sink.text.includes('p1')) await new Promise((r) => setImmediate(r));
      expect(src.finished).toBe(false);
      src.push(ROWS[1]);
      src.end();
      const r = await done;
      expect(r.rows).toBe(2);
      expect(src.finished).toBe(true);
    });
  }

  it('backpressure: a stalled output stops the source from being read', async () => {
    // An output that accepts one chunk and then never calls back: nothing more may be pulled
    // than the few rows the streams buffer.
    let released: (() => void) | undefined;
    const stalled = new Writable({
      highWaterMark: 1,
      write(_chunk, _enc, cb) {
        released = () => cb();
      },
    });
    let pulled = 0;
    async function* endless(): AsyncGenerator<Row> {
      for (let i = 0; ; i++) {
        pulled += 1;
        yield { Id: `p${i}`, Email: 'x@example.com' };
      }
    }
    const done = writeRows(endless(), stalled, { format: 'ndjson', columns: [columns[0], columns[1]], limit: 10_000 });
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    expect(pulled).toBeLessThan(100);
    // Release it for good, so the run can finish.
    stalled._write = (_c, _e, cb) => cb();
    released?.();
    const r = await done;
    expect(r.rows).toBe(10_000);
  });

  it('--limit stops reading: the source is closed after the limit', async () => {
    const src = controllable();
    const sink = new Sink();
    const done = writeRows(src.source, sink, { format: 'ndjson', columns, limit: 2 });
    src.push(ROWS[0]);
    src.push(ROWS[1]);
    const r = await done;
    expect(r).toEqual({ rows: 2, error: undefined });
    expect(src.finished).toBe(true);
    expect(sink.text.trimEnd().split('\n')).toHaveLength(2);
  });

  it('a failing source keeps the rows written and reports the error; JSON stays an open array', async () => {
    const src = controllable();
    const sink = new Sink();
    const done = writeRows(src.source, sink, { format: 'json', columns });
    src.push(ROWS[0]);
    src.push(ROWS[1]);
    const boom = new Error('GET /api/profiles failed: 500');
    src.fail(boom);
    const r = await done;
    expect(r.rows).toBe(2);
    expect(r.error).toBe(boom);
    expect(sink.text).toContain('"p1"');
    expect(sink.text).toContain('"p2"');
    expect(() => JSON.parse(sink.text)).toThrow();
  });

  it('CSV: rows before a failure are all flushed', async () => {
    const src = controllable();
    const sink = new Sink();
    const done = writeRows(src.source, sink, { format: 'csv', columns, csv: DEFAULT_CSV });
    src.push(ROWS[0]);
    src.push(ROWS[2]);
    src.fail(new Error('network'));
    const r = await done;
    expect(r.rows).toBe(2);
    expect(parse(sink.text, { columns: true })).toHaveLength(2);
  });

  it('an aborted signal (Ctrl-C) stops before the next row, flushes, and reports an interruption', async () => {
    const src = controllable();
    const sink = new Sink();
    const abort = new AbortController();
    const done = writeRows(src.source, sink, { format: 'ndjson', columns, signal: abort.signal });
    src.push(ROWS[0]);
    await sink.firstWrite;
    abort.abort(new InterruptedError());
    src.push(ROWS[1]);
    const r = await done;
    expect(r.rows).toBe(1);
    expect(r.error).toBeInstanceOf(InterruptedError);
    expect(src.finished).toBe(true);
    expect(sink.text.trimEnd().split('\n')).toHaveLength(1);
  });

  it('an output that fails is thrown (there is nowhere left to write)', async () => {
    const failing = new Writable({
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
      },
    });
    await expect(writeRows(fromArray(ROWS), failing, { format: 'ndjson', columns })).rejects.toThrow(/no space left/);
  });

  it('onRow reports the running count', async () => {
    const counts: number[] = [];
    await writeRows(fromArray(ROWS), new Sink(), { format: 'csv', columns, onRow: (n) => counts.push(n) });
    expect(counts).toEqual([1, 2, 3]);
  });
});
