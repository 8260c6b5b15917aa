/**
 * Query results out: CSV, JSON and NDJSON through the export's writers (same cell values as
 * `klv export`), and a text table for terminals.
 *
 * The table is for people, so it sizes its columns from the first rows only and then streams:
 * a huge result never sits in memory just to be aligned. Later cells wider than their column
 * are cut with an ellipsis.
 */
import type { Writable } from 'node:stream';
import type { Row } from '../objects/types.js';
import { csvCell, type ValueColumn } from '../pipeline/export/values.js';
import { writeRows, type WriteRowsResult } from '../pipeline/export/write-rows.js';

export type QueryFormat = 'table' | 'csv' | 'json' | 'ndjson';

export const QUERY_FORMATS: readonly QueryFormat[] = ['table', 'csv', 'json', 'ndjson'];

const SAMPLE_ROWS = 200;
const MAX_WIDTH = 60;

function cut(text: string, width: number): string {
  const flat = text.replace(/\r?\n/g, ' ');
  return flat.length > width ? `${flat.slice(0, Math.max(0, width - 1))}…` : flat;
}

async function write(dest: Writable, text: string): Promise<void> {
  if (!dest.write(text)) await new Promise<void>((resolve, reject) => {
    dest.once('drain', resolve);
    dest.once('error', reject);
  });
}

export async function writeTable(rows: AsyncIterable<Row>, dest: Writable, columns: readonly ValueColumn[], signal?: AbortSignal): Promise<WriteRowsResult> {
  const sample: string[][] = [];
  const cells = (row: Row) => columns.map((c) => csvCell(row[c.name], c));
  let count = 0;
  let widths: number[] | undefined;
  const line = (values: string[]) => `${values.map((v, i) => cut(v, widths![i]).padEnd(widths![i])).join(' | ').trimEnd()}\n`;
  const rule = () => `${widths!.map((w) => '-'.repeat(w)).join('-+-')}\n`;
  const head = async () => {
    widths = columns.map((c, i) => Math.min(MAX_WIDTH, Math.max(c.name.length, ...sample.map((r) => r[i].length))));
    await write(dest, line(columns.map((c) => c.name)));
    await write(dest, rule());
    for (const r of sample) await write(dest, line(r));
    sample.length = 0;
  };
  try {
    for await (const row of rows) {
      if (signal?.aborted) break;
      count += 1;
      if (!widths) {
        sample.push(cells(row));
        if (sample.length >= SAMPLE_ROWS) await head();
      } else {
        await write(dest, line(cells(row)));
      }
    }
  } catch (err) {
    if (!widths) await head();
    return { rows: count, error: err };
  }
  if (!widths) await head();
  await write(dest, `(${count.toLocaleString('en-US')} row${count === 1 ? '' : 's'})\n`);
  return { rows: count };
}

export async function writeResult(rows: AsyncIterable<Row>, dest: Writable, format: QueryFormat, columns: readonly ValueColumn[], signal?: AbortSignal): Promise<WriteRowsResult> {
  if (format === 'table') return writeTable(rows, dest, columns, signal);
  return writeRows(rows, dest, { format, columns, signal });
}
