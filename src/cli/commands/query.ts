/**
 * `klv query "<SQL>"` (or -f FILE, or SQL on standard input): SQL over Klaviyo's objects.
 *
 * The statement is parsed (node-sql-parser) and analysed before anything is sent: unknown
 * objects and columns, syntax errors and unsupported constructs are usage errors (exit 2).
 * SELECT runs in src/query/engine.ts (conditions pushed down to Klaviyo's filters, the rest in
 * SQLite); INSERT, UPDATE and DELETE go to src/query/write.ts, through the import handlers.
 * Both libraries load only here, so other commands never pay for them.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import type { QueryFlags } from '../flags.js';
import { canAsk, confirm } from '../confirm.js';
import { InterruptedError, KlvError, UsageError } from '../../core/errors.js';
import type { WriteOptions } from '../../query/write.js';

async function readStdin(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** The SQL from the argument, -f FILE, or standard input (in that order; only one of them). */
export async function querySql(ctx: CommandContext, args: string[], flags: QueryFlags): Promise<string> {
  const arg = args.join(' ').trim();
  if (arg !== '' && flags.file) throw new UsageError('Give the SQL either as an argument or with -f FILE, not both.');
  if (arg !== '') return arg;
  if (flags.file) {
    const path = resolve(ctx.io.cwd, flags.file);
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      throw new UsageError(`Cannot read the query file ${flags.file}: ${(err as Error).message}`, 'Check the path.');
    }
  }
  if (ctx.io.stdinIsTTY) {
    throw new UsageError('Which query? klv query "<SQL>", klv query -f query.sql, or the SQL on standard input.', `For instance: klv query "SELECT Name FROM Lists". 'klv objects' lists the objects.`);
  }
  return readStdin(ctx.io.stdin);
}

/**
 * What an INSERT, UPDATE or DELETE gets from the command: the IO for its report, a client whose
 * writes in flight survive the first Ctrl-C, the Ctrl-C signal, and the terminal to confirm on.
 */
export function writeOptions(ctx: CommandContext, o: Pick<WriteOptions, 'yes' | 'sql' | 'format'>): WriteOptions {
  return {
    ...o,
    output: ctx.io,
    client: (concurrency) => ctx.client({ concurrency, interruptible: false }),
    signal: ctx.signal,
    confirm: canAsk(ctx.io) ? (question, interrupted) => confirm(ctx.io, ctx.signal, question, interrupted) : undefined,
  };
}

export async function run(ctx: CommandContext, args: string[], flags: QueryFlags): Promise<number> {
  const io = ctx.io;
  const { QUERY_FORMATS } = await import('../../query/output.js');
  const format = (flags.format ?? (io.stdoutIsTTY ? 'table' : 'csv')).toLowerCase();
  if (!(QUERY_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format '${flags.format}' is not one of ${QUERY_FORMATS.join(', ')}.`);
  }
  const sql = await querySql(ctx, args, flags);
  const { parseSql } = await import('../../query/parse.js');
  const ast = parseSql(sql);
  const kind = String(ast.type ?? '').toLowerCase();

  if (kind === 'insert' || kind === 'update' || kind === 'delete' || kind === 'replace') {
    if (flags.explain) throw new UsageError(`--explain shows the plan of a SELECT; ${kind.toUpperCase()} has none to show.`, 'Try the change on the demo emulator first: klv --demo query ...');
    const { runWriteStatement } = await import('../../query/write.js');
    return runWriteStatement(ast, writeOptions(ctx, { yes: Boolean(flags.yes), sql, format: flags.format }));
  }
  if (kind !== 'select') throw new UsageError(`klv query does not support ${kind.toUpperCase() || 'this'} statements.`, 'It runs SELECT, INSERT, UPDATE and DELETE.');

  const { analyzeSelect } = await import('../../query/analyze.js');
  const { planTables, runSelect } = await import('../../query/engine.js');
  const analysis = analyzeSelect(ast);
  const tables = planTables(analysis);

  if (flags.explain) {
    const { queryExplain, renderQueryExplain } = await import('../../query/explain.js');
    const report = queryExplain(sql.trim(), analysis, tables);
    io.data(io.json ? JSON.stringify(report, null, 2) : renderQueryExplain(report).trimEnd());
    return 0;
  }

  const client = await ctx.client({ concurrency: 16 });
  const { writeResult } = await import('../../query/output.js');
  const started = performance.now();
  let result;
  try {
    result = await runSelect(analysis, tables, client, ctx.signal, (table, n) => io.debug(`loaded ${n} ${table} rows into SQLite`));
  } catch (err) {
    if (ctx.signal.aborted) throw new InterruptedError('Query interrupted while reading from Klaviyo; nothing was written.');
    const e = err as { code?: unknown; message?: string; name?: string };
    if (e?.name === 'SqliteError') throw new UsageError(`SQLite cannot run the query: ${e.message}.`, 'Check the SQL; klv query reads SQLite\'s dialect and functions.');
    throw err;
  }
  ctx.onCleanup(result.dispose);
  const written = await writeResult(result.rows, io.stdout, format as import('../../query/output.js').QueryFormat, result.columns, ctx.signal);
  result.dispose();
  if (written.error !== undefined) {
    if (written.error instanceof InterruptedError || ctx.signal.aborted) throw new InterruptedError(`Query interrupted after ${written.rows} rows.`);
    const e = written.error as { name?: string; message?: string };
    if (e?.name === 'SqliteError') throw new KlvError(`SQLite failed while running the query: ${e.message}`, { cause: written.error });
    throw written.error;
  }
  const stats = client.stats();
  const seconds = (performance.now() - started) / 1000;
  if (io.json) {
    io.stderr.write(`${JSON.stringify({ rows: written.rows, requests: stats.requests, retries: stats.retries, seconds: Number(seconds.toFixed(3)) })}\n`);
  } else {
    io.info(io.style.dim(`${written.rows.toLocaleString('en-US')} row${written.rows === 1 ? '' : 's'}, ${stats.requests.toLocaleString('en-US')} request${stats.requests === 1 ? '' : 's'}, ${seconds.toFixed(1)} s`));
  }
  return 0;
}
