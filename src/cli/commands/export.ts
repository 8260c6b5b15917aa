/**
 * `klv export <object>`: reads a Klaviyo object page by page and writes its rows as CSV, JSON or
 * NDJSON to stdout or a file, streaming end to end.
 *
 * Everything a user can get wrong (object, columns, --where, --since, format flags, the output
 * path) is checked before the first request, and fails with exit 2. Then the object's read plan
 * runs: the requests it makes are the ones `--explain` prints.
 *
 * Where things go: rows on stdout (or the -o file); progress and the summary on stderr. With
 * the global --json the summary is a JSON object: on stdout when the rows went to a file (stdout
 * is then free for it), else as one line on stderr, so that stdout holds nothing but rows.
 */
import type { CommandContext } from '../context.js';
import type { ExportFlags } from '../flags.js';
import { KlvError, InterruptedError, UsageError } from '../../core/errors.js';
import type { ObjectDefinition, ReadPlan, ReadRequest } from '../../objects/types.js';
import { DEFAULT_CSV, parseDelimiter, resolveFormat, type CsvOptions, type ExportFormat } from '../../pipeline/export/formats.js';
import { exportNow, parseSince } from '../../pipeline/export/since.js';
import { PARTITIONED_READ_CONCURRENCY } from '../../objects/read/partitioned.js';

export interface ExportSettings {
  output: string | undefined;
  format: ExportFormat;
  csv: CsvOptions;
  columns: string[] | undefined;
  properties: string[] | undefined;
  where: string[];
  since: string | undefined;
  limit: number | undefined;
  includeArchived: boolean;
  explain: boolean;
}

/** `--columns A,B --columns C` -> [A, B, C]; undefined when not given. */
export function splitList(values: string[] | string | undefined, flag: string): string[] | undefined {
  if (values === undefined) return undefined;
  const items = [values]
    .flat()
    .flatMap((v) => v.split(','))
    .map((v) => v.trim());
  if (items.some((v) => v === '')) {
    throw new UsageError(`${flag} has an empty name in '${[values].flat().join(',')}'.`, `Separate names with commas: ${flag} A,B,C`);
  }
  return items;
}

export function parseLimit(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim().replace(/_/g, '');
  if (!/^\d+$/.test(t) || Number(t) < 1 || !Number.isSafeInteger(Number(t))) {
    throw new UsageError(`--limit '${text}' is not a whole number of rows above zero.`, 'Use e.g. --limit 100.');
  }
  return Number(t);
}

/**
 * The flags checked and normalized; pure (no I/O), so every usage error comes before a request.
 * Flags left out take their defaults (a test or a caller may give only some).
 */
export function exportSettings(flags: Partial<ExportFlags>): ExportSettings {
  const { format, delimiter: impliedDelimiter } = resolveFormat(flags.format, flags.output);
  if (format !== 'csv') {
    const csvOnly = [
      flags.delimiter !== undefined && '--delimiter',
      flags.bom && '--bom',
      flags.header === false && '--no-header',
      flags.safeCsv && '--safe-csv',
    ].filter(Boolean);
    if (csvOnly.length > 0) {
      throw new UsageError(`${csvOnly.join(', ')} apply to CSV output only, and the format is ${format}.`, `Drop them, or use --format csv.`);
    }
  }
  return {
    output: flags.output,
    format,
    csv: {
      delimiter: flags.delimiter !== undefined ? parseDelimiter(flags.delimiter) : (impliedDelimiter ?? DEFAULT_CSV.delimiter),
      bom: Boolean(flags.bom),
      header: flags.header !== false,
      safe: Boolean(flags.safeCsv),
    },
    columns: splitList(flags.columns, '--columns'),
    properties: splitList(flags.properties, '--properties'),
    where: flags.where ?? [],
    since: flags.since,
    limit: parseLimit(flags.limit),
    includeArchived: Boolean(flags.includeArchived),
    explain: Boolean(flags.explain),
  };
}

function sinceNotSupported(def: ObjectDefinition, all: readonly ObjectDefinition[]): UsageError {
  const incremental = all.filter((o) => o.incremental).map((o) => `${o.name} (${o.incremental!.column})`);
  return new UsageError(
    `${def.name} cannot be read incrementally, so --since does not apply to it.`,
    incremental.length > 0
      ? `--since works with ${incremental.join(', ')}. Use --where on a date column of ${def.name} instead, if it has one.`
      : `Use --where on a date column instead.`,
  );
}

/** Resolves the object and turns the settings into a read request (all usage errors, no I/O). */
export async function buildReadRequest(
  objectName: string,
  s: ExportSettings,
  env: NodeJS.ProcessEnv,
): Promise<{ def: ObjectDefinition; request: ReadRequest }> {
  const { findObject, allObjects } = await import('../../objects/registry.js');
  const { selectColumns } = await import('../../objects/columns.js');
  const { parseWhere } = await import('../../objects/where.js');
  const def = findObject(objectName);
  const columns = selectColumns(def, s.columns, { properties: s.properties });
  const where = s.where.map((w) => parseWhere(w, def));
  let since: Date | undefined;
  if (s.since !== undefined) {
    if (!def.incremental) throw sinceNotSupported(def, allObjects());
    since = parseSince(s.since, exportNow(env));
  }
  return {
    def,
    request: {
      columns,
      where,
      since,
      limit: s.limit,
      options: { includeArchived: s.includeArchived, properties: s.properties },
    },
  };
}

export async function run(ctx: CommandContext, args: string[], flags: ExportFlags): Promise<number> {
  const io = ctx.io;
  const objectName = args[0];
  if (!objectName) throw new UsageError('Which object? klv export <object>.', `'klv objects' lists them.`);
  const settings = exportSettings(flags);
  const { def, request } = await buildReadRequest(objectName, settings, io.env);
  const plan = def.plan(request);

  if (settings.explain) {
    const { explainReport, renderExplain } = await import('../../pipeline/export/explain.js');
    const report = explainReport(def, request, plan);
    io.data(io.json ? JSON.stringify(report, null, 2) : renderExplain(report).trimEnd());
    return 0;
  }

  return exportRows(ctx, def, request, plan, settings);
}

/**
 * Runs a read plan into the output: opens it (exit 2 on a bad path, before any request), streams
 * the rows, then moves the file into place and prints the summary. On Ctrl-C or a failure the
 * rows written so far stay (in FILE.partial for a file) and the message says where.
 */
export async function exportRows(
  ctx: CommandContext,
  def: ObjectDefinition,
  request: ReadRequest,
  plan: ReadPlan,
  settings: Pick<ExportSettings, 'output' | 'format' | 'csv' | 'limit'>,
): Promise<number> {
  const io = ctx.io;
  const [{ openOutput }, { writeRows }, { formatSummary, objectNoun, summaryJson }] = await Promise.all([
    import('../../pipeline/export/output.js'),
    import('../../pipeline/export/write-rows.js'),
    import('../../pipeline/export/summary.js'),
  ]);

  // Partitioned reads keep many cursors busy; the rate governor, not this number, is the limit.
  const client = await ctx.client({ concurrency: PARTITIONED_READ_CONCURRENCY });
  const target = await openOutput(settings.output, io.stdout, io.cwd);
  const started = performance.now();

  let progress: import('../../pipeline/export/progress.js').ExportProgress | undefined;
  if (io.progressEnabled && !(target.isStdout && io.stdoutIsTTY)) {
    const { ExportProgress } = await import('../../pipeline/export/progress.js');
    progress = await ExportProgress.start(io.stderr, client, objectNoun(def.name, 2));
    ctx.onCleanup(() => progress?.stop());
  }

  // A plan that throws before its first row fails like one that throws later: as the source.
  async function* rows() {
    yield* plan.execute(client, ctx.signal);
  }

  let result: Awaited<ReturnType<typeof writeRows>>;
  try {
    result = await writeRows(rows(), target.stream, {
      format: settings.format,
      columns: request.columns,
      csv: settings.csv,
      limit: settings.limit,
      signal: ctx.signal,
      onRow: (n) => {
        if (progress) progress.rows = n;
      },
    });
  } catch (err) {
    progress?.stop();
    const kept = await target.abandon();
    throw new KlvError(`Writing the export to ${target.description} failed: ${(err as Error).message}`, {
      hint: kept ? `What was written is in ${kept}; ${target.description} was not changed. Check the disk and run again.` : 'Check where the output goes and run again.',
      cause: err,
    });
  }
  progress?.stop();

  const rowsText = `${result.rows.toLocaleString('en-US')} ${objectNoun(def.name, result.rows)}`;
  if (result.error !== undefined) {
    const kept = await target.abandon();
    const are = result.rows === 1 ? 'is' : 'are';
    const were = result.rows === 1 ? 'was' : 'were';
    const where = kept
      ? `the ${rowsText} written so far ${are} in ${kept}; ${target.description} was not changed`
      : target.isStdout
        ? `${rowsText} ${were} written to standard output before that`
        : `${rowsText} ${were} written to ${target.description} before that`;
    const interrupted = result.error instanceof InterruptedError || ctx.signal.aborted;
    if (interrupted) throw new InterruptedError(`Export interrupted: ${where}.`);
    // Nothing written and no file kept: the error alone says it all.
    if (kept || result.rows > 0) io.warn(`The export of ${def.name} stopped early: ${where}.`);
    throw result.error;
  }

  try {
    await target.commit();
  } catch (err) {
    const kept = await target.abandon();
    throw new KlvError(`Could not finish writing ${target.description}: ${(err as Error).message}`, {
      hint: kept ? `The rows are in ${kept}.` : undefined,
      cause: err,
    });
  }

  const stats = client.stats();
  const summary = {
    object: def.name,
    rows: result.rows,
    seconds: (performance.now() - started) / 1000,
    requests: stats.requests,
    retries: stats.retries,
    // Only when the client counts 429 answers (reported as `rateLimited`).
    rateLimited: (stats as { rateLimited?: number }).rateLimited,
    throttledSeconds: stats.throttledMs / 1000,
    format: settings.format,
    output: target.description,
  };
  if (io.json) {
    const line = JSON.stringify(summaryJson(summary));
    if (!target.isStdout) io.data(line);
    else if (!io.quiet) io.stderr.write(`${line}\n`);
  } else {
    io.info(formatSummary(summary));
  }
  return 0;
}
