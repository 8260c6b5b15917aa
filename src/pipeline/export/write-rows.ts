/**
 * The export's streaming core: rows in (an async iterable fed page by page by the object's read
 * plan), encoded text out to a Writable, with backpressure all the way (a slow disk or a slow
 * `| gzip` holds the reading back instead of filling memory).
 *
 * A failing source (Klaviyo error, network failure, Ctrl-C) does not tear the output down: the
 * rows already read are encoded and flushed, the encoders end cleanly, and the failure comes
 * back in the result so that the command can keep the partial file and say how far it got. A
 * failing output (disk full, closed pipe) is thrown: nothing more can be written anyway.
 */
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InterruptedError } from '../../core/errors.js';
import type { Row } from '../../objects/types.js';
import { DEFAULT_CSV, csvEncoder, csvRecord, jsonChunks, ndjsonChunks, type CsvOptions, type EncodeState, type ExportFormat } from './formats.js';
import type { ValueColumn } from './values.js';

export interface WriteRowsOptions {
  format: ExportFormat;
  columns: readonly ValueColumn[];
  csv?: CsvOptions;
  /** Stop after this many rows (stops the paging too: the source is closed early). */
  limit?: number;
  /** Ctrl-C: stop taking rows, flush what was taken. */
  signal?: AbortSignal;
  /** Called with the running row count after each row is handed to the encoder. */
  onRow?: (rows: number) => void;
}

export interface WriteRowsResult {
  /** Rows written (all of them reached the output). */
  rows: number;
  /** Why the rows stopped early; undefined when the source ended (or the limit was reached). */
  error?: unknown;
}

/** Resolves on 'drain'; rejects when the stream fails or closes first. */
function drained(dest: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      dest.off('drain', onDrain);
      dest.off('error', onError);
      dest.off('close', onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onError = (err: unknown) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('the output was closed before the export finished'));
    };
    dest.on('drain', onDrain);
    dest.on('error', onError);
    dest.on('close', onClose);
  });
}

export async function writeRows(rows: AsyncIterable<Row>, dest: Writable, o: WriteRowsOptions): Promise<WriteRowsResult> {
  const state: EncodeState & { rows: number; error?: unknown } = { failed: false, rows: 0 };
  const limit = o.limit;

  // Rows from the source until it ends, fails, is interrupted or reaches the limit. Breaking
  // out of the loop closes the source iterator, which stops the paging.
  async function* guarded(): AsyncGenerator<Row> {
    if (limit !== undefined && limit <= 0) return;
    try {
      for await (const row of rows) {
        if (o.signal?.aborted) {
          state.failed = true;
          state.error = o.signal.reason instanceof Error ? o.signal.reason : new InterruptedError();
          return;
        }
        state.rows += 1;
        o.onRow?.(state.rows);
        yield row;
        if (limit !== undefined && state.rows >= limit) return;
      }
    } catch (err) {
      state.failed = true;
      state.error = err;
    }
  }

  // Errors the output reports outside a write call (fs streams do) must not go unhandled.
  let outputError: unknown;
  const onOutputError = (err: unknown) => {
    outputError ??= err;
  };
  dest.on('error', onOutputError);

  const sink = async (chunks: AsyncIterable<string | Buffer>): Promise<void> => {
    for await (const chunk of chunks) {
      if (outputError) throw outputError;
      if (!dest.write(chunk)) await drained(dest);
    }
    if (outputError) throw outputError;
  };

  try {
    if (o.format === 'csv') {
      const csv = o.csv ?? DEFAULT_CSV;
      const records = async function* () {
        for await (const row of guarded()) yield csvRecord(row, o.columns, csv);
      };
      await pipeline(records(), csvEncoder(o.columns, csv), sink);
    } else if (o.format === 'json') {
      await sink(jsonChunks(guarded(), o.columns, state));
    } else {
      await sink(ndjsonChunks(guarded(), o.columns));
    }
  } finally {
    dest.off('error', onOutputError);
  }
  return { rows: state.rows, error: state.error };
}
