/**
 * `klv query` writes: INSERT, UPDATE and DELETE run through the very pipeline of `klv import`.
 * The statement becomes in-memory "CSV" rows (write-statement.ts), which go through the import's
 * mapping layer (coercion, required values, the handler's validateRow) and its run loop
 * (batches of the handler's size, concurrency, one outcome per row), to the object's operation
 * handler. So a statement row obeys exactly the constraints of an imported row and is reported
 * the same way: one line per row (Row, Id, Status, ErrorCode, ErrorMessage) on stdout, a summary
 * on stderr, exit 3 when any row failed.
 *
 * UPDATE and DELETE act on records that exist: `WHERE Id = '...'` / `Id IN (...)` names them;
 * any other WHERE is read first with the object's plan (filters pushed down to Klaviyo), and each
 * record read becomes one row. DELETE asks for confirmation on a terminal, and needs --yes
 * without one. No write-ahead journal (there is no file to resume): a statement interrupted by
 * Ctrl-C lets the rows in flight finish and reports the others as not sent.
 *
 * The command (src/cli/commands/query.ts) hands over what this needs: where the report goes, the
 * client, its Ctrl-C signal and, on a terminal, a way to ask.
 */
import { InterruptedError, KlvError, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-code.js';
import { systemClock } from '../core/clock.js';
import type { KlaviyoClient } from '../klaviyo/client.js';
import { selectColumns } from '../objects/columns.js';
import type { ObjectDefinition } from '../objects/types.js';
import type { WriteContext } from '../objects/write/types.js';
import type { LoggedOutcome } from '../pipeline/import/batches.js';
import type { LogSink, SourceRow } from '../pipeline/import/run.js';
import { neverAborted } from '../pipeline/import/setup.js';
import { NULL_TOKEN, targetCells, translateWrite, type Cells, type WriteStatement } from './write-statement.js';

/** Where the report and the messages go (src/cli/io.ts's IO is one). */
export interface WriteReportOutput {
  /** A terminal gets an aligned table by default, a pipe CSV. */
  readonly stdoutIsTTY: boolean;
  /** The global --json: one JSON object with the rows and the counts. */
  readonly json: boolean;
  /** The report (stdout). */
  data(text: string): void;
  /** The summary and notes for people (stderr; silenced by --quiet). */
  info(text: string): void;
  /** --verbose diagnostics. */
  debug(text: string): void;
}

export interface WriteOptions {
  output: WriteReportOutput;
  /**
   * The client of the writes, asked for once the statement is known to be runnable (a DELETE
   * refused for want of --yes reads no profile). Its requests in flight must survive the first
   * Ctrl-C (an aborted write is a row whose outcome nobody knows); `concurrency` is the number of
   * requests in flight the operation's handler uses.
   */
  client: (concurrency: number) => Promise<KlaviyoClient>;
  /** Ctrl-C: no new row is sent once it is aborted; the rows in flight finish. */
  signal: AbortSignal;
  /**
   * Asks a yes/no question (DELETE's confirmation); `interrupted` is the message should the
   * person press Ctrl-C instead. Absent when there is nobody to ask (no terminal).
   */
  confirm?: (question: string, interrupted: string) => Promise<boolean>;
  /** --yes: DELETE without asking. */
  yes: boolean;
  /** The statement's text, for the summary. */
  sql: string;
  /**
   * --format when given: the per-row report as table, csv, json (an array) or ndjson. Without
   * it: a table on a terminal, CSV otherwise; the global --json prints one object with the rows
   * and the counts instead.
   */
  format?: string;
  /** Tests: another catalog than the registry's. */
  findObject?: (name: string) => ObjectDefinition;
}

/** One line of the report: the statement row and what became of it. */
export interface WriteReportRow {
  Row: number;
  Id: string;
  Status: string;
  ErrorCode: string;
  ErrorMessage: string;
}

export async function runWriteStatement(ast: unknown, o: WriteOptions): Promise<number> {
  const io = o.output;
  const findObject = o.findObject ?? (await import('../objects/registry.js')).findObject;
  const st = translateWrite(ast, findObject);
  if (st.kind === 'delete' && !o.yes && !o.confirm) {
    throw new UsageError(
      `DELETE FROM ${st.def.name} changes Klaviyo and cannot be undone: it needs confirmation, and there is no terminal to ask on.`,
      'Add --yes to confirm.',
    );
  }

  const client = await o.client(st.handler.concurrency ?? 4);
  const started = performance.now();

  // The target rows: the statement's own (INSERT), or the records the WHERE selects.
  let cells: Cells[];
  if (st.kind === 'insert') cells = st.rows ?? [];
  else cells = await targetRows(st, client, o);

  if (st.kind !== 'insert' && cells.length === 0) {
    io.info(`No ${st.def.name} match the WHERE: nothing to ${st.kind}.`);
    if (io.json) io.data(JSON.stringify({ object: st.def.name, operation: st.operation, rows: [], succeeded: 0, failed: 0, statuses: {}, exitCode: 0 }));
    return ExitCode.Ok;
  }
  if (st.kind === 'delete' && !o.yes && o.confirm) {
    const n = cells.length;
    const ok = await o.confirm(`DELETE FROM ${st.def.name} deletes ${n.toLocaleString('en-US')} ${n === 1 ? 'record' : 'records'} in Klaviyo and cannot be undone. Continue? [y/N] `, 'Interrupted: nothing was deleted.');
    if (!ok) throw new UsageError('Not confirmed: nothing was deleted.', 'Add --yes to skip the question.');
  }

  const [{ buildMapping }, { runImport }, batches, summaryMod] = await Promise.all([
    import('../pipeline/import/mapping.js'),
    import('../pipeline/import/run.js'),
    import('../pipeline/import/batches.js'),
    import('../pipeline/import/summary.js'),
  ]);
  const mapping = buildMapping(st.headers, st.def, st.handler, { nullToken: NULL_TOKEN, strict: true });
  const outcomes: LoggedOutcome[] = [];
  const logs: LogSink = {
    add: (_values, outcome) => void outcomes.push(outcome),
    maybeFlush: async () => undefined,
    commit: async () => undefined,
    committedBytes: [0, 0],
  };
  const writeContext: WriteContext = { client, signal: neverAborted, options: {}, clock: systemClock, debug: (line) => io.debug(line) };
  const processBatch = st.handler.processBatch.bind(st.handler);
  const counts = summaryMod.emptyCounts();
  const result = await runImport({
    rows: sourceRows(st.headers, cells),
    mapRow: (c, rowNumber) => mapping.mapRow(c, rowNumber),
    process: (batch) => processBatch(batch, writeContext),
    handlerName: `${st.def.name} ${st.operation}`,
    batchSize: batches.effectiveBatchSize(undefined, st.handler.maxBatchSize),
    concurrency: st.handler.concurrency ?? batches.DEFAULT_HANDLER_CONCURRENCY,
    idempotent: st.handler.idempotent,
    logs,
    signal: o.signal,
    counts,
    debug: (line) => io.debug(line),
  });

  const report = reportRows(cells, outcomes);
  const stats = client.stats();
  const seconds = (performance.now() - started) / 1000;
  const stopCode = result.stopped === 'interrupted' ? ExitCode.Interrupted : (result.exitCode ?? ExitCode.Failure);
  const exitCode = summaryMod.importExitCode({ counts: result.counts, stopped: result.stopped }, stopCode);

  if (io.json && o.format === undefined) {
    io.data(
      JSON.stringify({
        object: st.def.name,
        operation: st.operation,
        rows: report,
        succeeded: result.counts.succeeded,
        failed: result.counts.failed,
        notSent: report.filter((r) => r.ErrorCode === 'not_sent').length,
        statuses: { ...result.counts.statuses },
        requests: stats.requests,
        seconds: Math.round(seconds * 1000) / 1000,
        exitCode,
      }),
    );
  } else {
    io.data(formatReport(report, o.format ?? (io.stdoutIsTTY ? 'table' : 'csv')));
    io.info(summaryLine(st, result.counts, report, stats.requests, seconds));
  }

  if (result.stopped === 'interrupted') {
    throw new KlvError(`${st.kind.toUpperCase()} interrupted: the rows in flight finished; the rows reported not_sent were not sent.`, {
      exitCode: ExitCode.Interrupted,
      hint: 'Run the statement again for those rows (WHERE Id IN (...) names them).',
    });
  }
  if (result.stopped !== undefined) {
    const e = result.error instanceof Error ? result.error : new Error(String(result.error));
    throw new KlvError(`${st.kind.toUpperCase()} stopped: ${e.message}`, {
      exitCode: exitCode as ExitCode,
      hint: `${(e as KlvError).hint ? `${(e as KlvError).hint} ` : ''}Rows refused with this error are reported above; the others were not sent.`,
      cause: result.error,
    });
  }
  return exitCode;
}

/** UPDATE/DELETE: one row per selected record, with its keys (and the SET values). */
async function targetRows(st: WriteStatement, client: KlaviyoClient, o: Pick<WriteOptions, 'output' | 'signal'>): Promise<Cells[]> {
  const sel = st.selection!;
  if (sel.kind === 'ids') return sel.ids.map((id) => targetCells(st, { Id: id }));
  const keys = st.keys ?? [];
  const wanted = [...new Set([...keys, ...sel.conditions.map((c) => c.column)])];
  const plan = st.def.plan({ columns: selectColumns(st.def, wanted), where: sel.conditions, options: {} });
  o.output.debug(`${st.kind}: reading the matching ${st.def.name}: ${plan.requests.map((r) => `${r.method} ${r.path}${r.query.filter ? ` filter=${r.query.filter}` : ''}`).join('; ')}`);
  const out: Cells[] = [];
  const seen = new Set<string>();
  for await (const row of plan.execute(client, o.signal)) {
    const cells = targetCells(st, row);
    const key = keys.map((k) => cells[k]).join('\u0000');
    if (seen.has(key)) continue; // a record met twice (partitioned reads) is changed once
    seen.add(key);
    out.push(cells);
  }
  if (o.signal.aborted) throw new InterruptedError('Interrupted while reading the rows to change: nothing was sent.');
  return out;
}

async function* sourceRows(headers: readonly string[], cells: readonly Cells[]): AsyncGenerator<SourceRow> {
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i];
    yield { rowNumber: i + 1, line: i + 1, cells: c, values: headers.map((h) => c[h] ?? '') };
  }
}

/** One report line per statement row, in order; rows the run never reached are `not_sent`. */
export function reportRows(cells: readonly Cells[], outcomes: readonly LoggedOutcome[]): WriteReportRow[] {
  const byRow = new Map(outcomes.map((x) => [x.rowNumber, x]));
  return cells.map((c, i) => {
    const rowNumber = i + 1;
    const x = byRow.get(rowNumber);
    const givenId = c.Id !== undefined && c.Id !== NULL_TOKEN ? c.Id : '';
    if (!x) return { Row: rowNumber, Id: givenId, Status: 'failed', ErrorCode: 'not_sent', ErrorMessage: 'not sent: the statement was interrupted before this row' };
    if (x.ok) return { Row: rowNumber, Id: x.id ?? givenId, Status: x.status, ErrorCode: '', ErrorMessage: '' };
    return { Row: rowNumber, Id: givenId, Status: 'failed', ErrorCode: x.code, ErrorMessage: x.message };
  });
}

const REPORT_COLUMNS = ['Row', 'Id', 'Status', 'ErrorCode', 'ErrorMessage'] as const;

/** The report: CSV by default when piped (a file a script can read, like import's logs), aligned columns on a terminal. */
export function formatReport(rows: readonly WriteReportRow[], format: string): string {
  const f = format.toLowerCase();
  if (f === 'json') return JSON.stringify(rows);
  if (f === 'ndjson') return rows.map((r) => JSON.stringify(r)).join('\n');
  const table = [REPORT_COLUMNS.map(String), ...rows.map((r) => REPORT_COLUMNS.map((c) => String(r[c])))];
  if (f !== 'table') return table.map((cells) => csvLine(cells)).join('\n');
  // The error message is last and left unpadded: it can be long.
  const widths = REPORT_COLUMNS.map((_, j) => Math.max(...table.map((cells) => cells[j].length)));
  return table.map((cells) => cells.map((v, j) => (j === cells.length - 1 ? v : v.padEnd(widths[j]))).join('  ').trimEnd()).join('\n');
}

function csvLine(cells: readonly string[]): string {
  return cells.map((v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',');
}

function summaryLine(
  st: WriteStatement,
  counts: { succeeded: number; failed: number; statuses: Record<string, number> },
  report: readonly WriteReportRow[],
  requests: number,
  seconds: number,
): string {
  const int = (n: number) => n.toLocaleString('en-US');
  const statuses = Object.entries(counts.statuses)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${int(n)} ${s}`)
    .join(', ');
  const notSent = report.filter((r) => r.ErrorCode === 'not_sent').length;
  const verb = { insert: `INSERT INTO ${st.def.name}`, update: `UPDATE ${st.def.name}`, delete: `DELETE FROM ${st.def.name}` }[st.kind];
  return (
    `${verb}: ${int(report.length)} row${report.length === 1 ? '' : 's'} in ${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s: ` +
    `${int(counts.succeeded)} succeeded${statuses ? ` (${statuses})` : ''}, ${int(counts.failed)} failed` +
    `${notSent > 0 ? `, ${int(notSent)} not sent` : ''}; ${int(requests)} request${requests === 1 ? '' : 's'}`
  );
}
