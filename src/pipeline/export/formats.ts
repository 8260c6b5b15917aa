/**
 * Output formats of `klv export`: which one (explicit, or inferred from the output file's
 * extension), the CSV delimiter, and the encoders that turn rows into text as they arrive.
 *
 * Every encoder streams: CSV goes through csv-stringify's stream API, JSON is written as `[`,
 * one row at a time separated by `,`, then `]`; NDJSON one row per line. Nothing holds more than
 * the row in hand, so memory stays flat whatever the row count, and the first rows reach the
 * output while later pages are still being fetched.
 */
import { extname } from 'node:path';
import { stringify } from 'csv-stringify';
import { UsageError } from '../../core/errors.js';
import type { Row } from '../../objects/types.js';
import { csvCell, jsonValue, type ValueColumn } from './values.js';

export const EXPORT_FORMATS = ['csv', 'json', 'ndjson'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface CsvOptions {
  delimiter: string;
  /** A UTF-8 byte order mark first, for Excel. */
  bom: boolean;
  header: boolean;
  /** Defuse spreadsheet formulas (see values.ts). */
  safe: boolean;
}

export const DEFAULT_CSV: CsvOptions = { delimiter: ',', bom: false, header: true, safe: false };

const BY_EXTENSION: Record<string, { format: ExportFormat; delimiter?: string }> = {
  '.csv': { format: 'csv' },
  '.tsv': { format: 'csv', delimiter: '\t' },
  '.json': { format: 'json' },
  '.ndjson': { format: 'ndjson' },
  '.jsonl': { format: 'ndjson' },
};

/**
 * The format to write: `--format` when given, else the output file's extension (.csv, .tsv,
 * .json, .ndjson, .jsonl), else CSV. A .tsv file also implies a tab delimiter.
 */
export function resolveFormat(explicit: string | undefined, output: string | undefined): { format: ExportFormat; delimiter?: string } {
  if (explicit !== undefined) {
    const f = explicit.trim().toLowerCase();
    if (f === 'jsonl') return { format: 'ndjson' };
    if (!(EXPORT_FORMATS as readonly string[]).includes(f)) {
      throw new UsageError(`Unknown format '${explicit}'.`, `Use --format csv, json or ndjson.`);
    }
    return { format: f as ExportFormat };
  }
  if (output === undefined || output === '-') return { format: 'csv' };
  return BY_EXTENSION[extname(output).toLowerCase()] ?? { format: 'csv' };
}

/** `--delimiter`: one character; `\t`, `tab` and a real tab all mean a tab. */
export function parseDelimiter(text: string): string {
  const named: Record<string, string> = { '\\t': '\t', tab: '\t', comma: ',', semicolon: ';', pipe: '|' };
  const d = named[text.toLowerCase()] ?? text;
  if ([...d].length !== 1) {
    throw new UsageError(`--delimiter '${text}' is not one character.`, `Use e.g. --delimiter ';' or --delimiter '\\t' (tab).`);
  }
  if (d === '"' || d === '\n' || d === '\r') {
    throw new UsageError(`--delimiter cannot be a quote or a line break.`, `Use e.g. ',', ';', '|' or '\\t'.`);
  }
  return d;
}

/** What an encoder shares with the code feeding it: whether the source failed part-way. */
export interface EncodeState {
  /** Set when the rows stopped because of an error or Ctrl-C: a JSON array is then left open. */
  failed: boolean;
}

/** CSV: a csv-stringify stream (object mode in, text out) fed with rows already turned into cells. */
export function csvEncoder(columns: readonly ValueColumn[], csv: CsvOptions) {
  return stringify({
    header: csv.header,
    columns: columns.map((c) => c.name),
    delimiter: csv.delimiter,
    bom: csv.bom,
    record_delimiter: 'unix',
  });
}

/** One row as CSV cells, in column order. */
export function csvRecord(row: Row, columns: readonly ValueColumn[], csv: Pick<CsvOptions, 'safe'>): string[] {
  return columns.map((c) => csvCell(row[c.name], c, { safe: csv.safe }));
}

/** One row as a JSON object with the columns in order and native values. */
export function jsonRecord(row: Row, columns: readonly ValueColumn[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of columns) out[c.name] = jsonValue(row[c.name], c);
  return out;
}

function stringifyJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/**
 * JSON: `[`, then each row on its own line separated by `,`, then `]`. When the source failed
 * (state.failed) the array is left open on purpose: a truncated export must not parse as a
 * complete one.
 */
export async function* jsonChunks(rows: AsyncIterable<Row>, columns: readonly ValueColumn[], state: EncodeState): AsyncGenerator<string> {
  let first = true;
  for await (const row of rows) {
    yield `${first ? '[\n' : ',\n'}${stringifyJson(jsonRecord(row, columns))}`;
    first = false;
  }
  if (state.failed) return;
  yield first ? '[]\n' : '\n]\n';
}

/** NDJSON: one JSON object per line. */
export async function* ndjsonChunks(rows: AsyncIterable<Row>, columns: readonly ValueColumn[]): AsyncGenerator<string> {
  for await (const row of rows) yield `${stringifyJson(jsonRecord(row, columns))}\n`;
}
