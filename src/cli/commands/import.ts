/**
 * `klv import <object> <file|-> --op insert|update|upsert|delete`: a CSV into Klaviyo, through the
 * mapping layer and the object's operation handler, with one line per input row in a success or
 * an error log.
 *
 * Order matters, so that every mistake costs nothing: flags, object and operation are checked
 * before the file is opened; the header, the mapping, --resume's records and the profile before
 * the logs are touched; the logs are opened (exit 2 if they cannot be) before the first request.
 *
 * Ctrl-C stops the reading and lets the batches in flight finish, which is why the import makes
 * its own client rather than ctx.client(): that one aborts every request on the first Ctrl-C, and
 * an aborted write is a row whose outcome nobody knows. A second Ctrl-C exits at once (main.ts);
 * the write-ahead journal then tells --resume which rows were in flight.
 */
import { existsSync, createReadStream, openSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { InterruptedError, KlvError, UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-code.js';
import { FREE_SPACE, fsFailureReason, isDiskFull } from '../../core/fs-errors.js';
import { systemClock } from '../../core/clock.js';
import type { ObjectDefinition, Operation } from '../../objects/types.js';
import type { ImportOptions, OperationHandler, WriteContext } from '../../objects/write/types.js';
import { parseDelimiter } from '../../pipeline/export/formats.js';
import { confirm, neverAborted, writeClient } from '../../pipeline/import/setup.js';
import { splitList } from './export.js';

export const OPERATIONS: readonly Operation[] = ['insert', 'update', 'upsert', 'delete'];

export interface ImportFlags {
  op?: string;
  map?: string[];
  set?: string[];
  nullValue?: string;
  strict?: boolean;
  successLog?: string;
  errorLog?: string;
  batchSize?: string;
  dryRun?: boolean;
  yes?: boolean;
  resume?: boolean;
  list?: string;
  allowGlobalUnsubscribe?: boolean;
  uniqueBy?: string[];
  historicalImport?: boolean;
  delimiter?: string;
}

export interface ImportSettings {
  operation: Operation;
  map: string[];
  set: string[];
  nullValue?: string;
  strict: boolean;
  successLog?: string;
  errorLog?: string;
  batchSize?: number;
  dryRun: boolean;
  yes: boolean;
  resume: boolean;
  delimiter: string;
  options: ImportOptions;
}

/** Flags that belong to one object's import: given for another, they would be silently ignored. */
const OBJECT_FLAGS: ReadonlyArray<{ flag: string; object: string; given: (f: ImportFlags) => boolean }> = [
  { flag: '--list', object: 'Profiles', given: (f) => f.list !== undefined },
  { flag: '--allow-global-unsubscribe', object: 'ListSubscribe', given: (f) => Boolean(f.allowGlobalUnsubscribe) },
  { flag: '--historical-import', object: 'ListSubscribe', given: (f) => Boolean(f.historicalImport) },
  { flag: '--unique-by', object: 'Events', given: (f) => f.uniqueBy !== undefined },
];

export function parseBatchSize(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim().replace(/_/g, '');
  if (!/^\d+$/.test(t) || Number(t) < 1 || !Number.isSafeInteger(Number(t))) {
    throw new UsageError(`--batch-size '${text}' is not a whole number of rows above zero.`, 'Use e.g. --batch-size 500.');
  }
  return Number(t);
}

/** The flags checked and normalized; pure (no I/O): every usage error here comes before the file is read. */
export function importSettings(flags: ImportFlags): ImportSettings {
  const op = flags.op?.trim().toLowerCase();
  if (!op) {
    throw new UsageError('Which operation? --op insert, update, upsert or delete is required.', `'klv objects' shows the operations each object supports.`);
  }
  if (!(OPERATIONS as readonly string[]).includes(op)) {
    throw new UsageError(`--op '${flags.op}' is not an operation.`, `Use --op ${OPERATIONS.join(', ')}.`);
  }
  if (flags.resume && flags.dryRun) {
    throw new UsageError('--resume and --dry-run do not go together: a dry run sends nothing, so there is nothing to resume.', 'Drop one of them.');
  }
  if (flags.successLog !== undefined && flags.successLog.trim() === '') throw new UsageError('--success-log needs a file name.');
  if (flags.errorLog !== undefined && flags.errorLog.trim() === '') throw new UsageError('--error-log needs a file name.');
  if (flags.list !== undefined && flags.list.trim() === '') throw new UsageError('--list needs a list id.', "'klv export lists' shows them.");
  return {
    operation: op as Operation,
    map: flags.map ?? [],
    set: flags.set ?? [],
    nullValue: flags.nullValue,
    strict: Boolean(flags.strict),
    successLog: flags.successLog,
    errorLog: flags.errorLog,
    batchSize: parseBatchSize(flags.batchSize),
    dryRun: Boolean(flags.dryRun),
    yes: Boolean(flags.yes),
    resume: Boolean(flags.resume),
    delimiter: flags.delimiter !== undefined ? parseDelimiter(flags.delimiter) : ',',
    options: {
      listId: flags.list?.trim(),
      allowGlobalUnsubscribe: flags.allowGlobalUnsubscribe ? true : undefined,
      uniqueBy: splitList(flags.uniqueBy, '--unique-by'),
      historicalImport: flags.historicalImport ? true : undefined,
      batchSize: parseBatchSize(flags.batchSize),
    },
  };
}

/** The handler for the operation; exit 2 naming the supported operations when there is none. */
export function handlerFor(def: ObjectDefinition, op: Operation): OperationHandler {
  const handler = def.operations.includes(op) ? def.write?.[op] : undefined;
  if (handler) return handler;
  const supported = def.operations.filter((o) => def.write?.[o]);
  if (supported.length === 0) {
    throw new UsageError(`${def.name} cannot be imported: klv reads it but does not write it.`, `'klv objects' lists what each object supports.`);
  }
  throw new UsageError(
    `${def.name} does not support --op ${op}.`,
    `${def.name} supports --op ${supported.join(', ')}. 'klv describe ${def.name}' says what each does.`,
  );
}

/** Object-specific flags given to another object: exit 2 rather than ignore them. */
export function checkObjectFlags(def: ObjectDefinition, flags: ImportFlags): void {
  for (const f of OBJECT_FLAGS) {
    if (f.given(flags) && f.object !== def.name) {
      throw new UsageError(`${f.flag} applies to ${f.object} imports only, not to ${def.name}.`, `Drop ${f.flag}.`);
    }
  }
}

function canAsk(ctx: CommandContext, input: string): boolean {
  // The answer comes from the terminal on stdin: impossible when stdin is the data.
  return input !== '-' && ctx.io.stdinIsTTY && ctx.io.stderrIsTTY;
}

/** `--map file.yaml` or `--map "CSV Header=Column"`, in any mix; later ones win (a pair can correct a shared file). */
async function mappingFlags(values: string[], cwd: string): Promise<Record<string, string>> {
  const { loadMappingFile, parseMapPairs } = await import('../../pipeline/import/mapping-file.js');
  const merged: Record<string, string> = {};
  for (const v of values) {
    const path = resolve(cwd, v);
    const isFile = !v.includes('=') || (existsSync(path) && statSync(path).isFile());
    Object.assign(merged, isFile ? loadMappingFile(path) : parseMapPairs([v]));
  }
  return merged;
}

/** The command line that resumes this run, rebuilt from what was parsed (for the last message). */
function resumeArgs(objectName: string, input: string, s: ImportSettings, paths: { success: string; error: string }, explicitLogs: boolean): string[] {
  const a = ['import', objectName, input, '--op', s.operation];
  for (const m of s.map) a.push('--map', m);
  for (const x of s.set) a.push('--set', x);
  if (s.nullValue !== undefined) a.push('--null-value', s.nullValue);
  if (s.strict) a.push('--strict');
  if (s.delimiter !== ',') a.push('--delimiter', s.delimiter === '\t' ? '\\t' : s.delimiter);
  if (s.batchSize !== undefined) a.push('--batch-size', String(s.batchSize));
  if (s.options.listId) a.push('--list', s.options.listId);
  if (s.options.allowGlobalUnsubscribe) a.push('--allow-global-unsubscribe');
  if (s.options.historicalImport) a.push('--historical-import');
  if (s.options.uniqueBy) a.push('--unique-by', s.options.uniqueBy.join(','));
  if (explicitLogs || input === '-') a.push('--success-log', paths.success, '--error-log', paths.error);
  if (s.operation === 'delete') a.push('--yes');
  return a;
}

export async function run(ctx: CommandContext, args: string[], options: Record<string, unknown>): Promise<number> {
  const io = ctx.io;
  const [objectName, input] = args;
  if (!objectName) throw new UsageError('Which object? klv import <object> <file|-> --op <operation>.', `'klv objects' lists them.`);
  if (!input) throw new UsageError(`Which file? klv import ${objectName} <file|-> --op <operation> (- reads standard input).`);
  const flags = options as ImportFlags;
  const s = importSettings(flags);
  const { findObject } = await import('../../objects/registry.js');
  return importInto(ctx, findObject(objectName), input, flags, s, objectName);
}

/**
 * The import of one object (the catalog's, or a test's own definition with fake handlers).
 * `objectName` is what the user typed, for the resume command line.
 */
export async function importInto(
  ctx: CommandContext,
  def: ObjectDefinition,
  input: string,
  flags: ImportFlags,
  s: ImportSettings = importSettings(flags),
  objectName: string = def.name,
): Promise<number> {
  const io = ctx.io;
  const handler = handlerFor(def, s.operation);
  checkObjectFlags(def, flags);
  const writes = !s.dryRun;
  if (writes && s.operation === 'delete' && !s.yes && !canAsk(ctx, input)) {
    throw new UsageError(
      `--op delete changes ${def.name} in Klaviyo and cannot be undone: it needs confirmation, and there is no terminal to ask on.`,
      `Add --yes to confirm (try --dry-run first to check the file).`,
    );
  }
  if (s.resume && input === '-' && (s.successLog === undefined || s.errorLog === undefined)) {
    throw new UsageError(
      '--resume with standard input needs the logs of the interrupted run: give --success-log and --error-log.',
      'The interrupted run printed them in its summary.',
    );
  }
  const uniqueBy = s.options.uniqueBy;
  if (uniqueBy) {
    const { requireColumn } = await import('../../objects/columns.js');
    s.options.uniqueBy = uniqueBy.map((c) => requireColumn(def, c, 'column for --unique-by').name);
  }

  // The input: a missing or unreadable file is exit 2 before anything else. The file is opened
  // here, synchronously, so that its failure is this error; the stream over it is made only once
  // its reader is ready to listen (a stream that fails before anyone listens is an unhandled
  // 'error' event).
  let openInput: () => NodeJS.ReadableStream;
  let source: string;
  if (input === '-') {
    openInput = () => io.stdin;
    source = 'standard input';
  } else {
    const path = resolve(io.cwd, input);
    let fd: number;
    try {
      if (statSync(path).isDirectory()) throw new UsageError(`${input} is a folder, not a CSV file.`);
      fd = openSync(path, 'r');
    } catch (err) {
      if (err instanceof UsageError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? `permission denied (${code})` : fsFailureReason(err);
      throw new UsageError(`Cannot read ${input}: ${reason}.`, code === 'EACCES' || code === 'EPERM' ? 'Check the file\'s permissions (ls -l), or give - to read standard input.' : 'Check the path, or give - to read standard input.');
    }
    openInput = () => createReadStream(path, { fd });
    source = input;
  }

  const [{ readCsv }, { buildMapping }, logsMod, resumeMod, runMod, summaryMod, dryMod, batchesMod] = await Promise.all([
    import('../../pipeline/import/csv-source.js'),
    import('../../pipeline/import/mapping.js'),
    import('../../pipeline/import/logs.js'),
    import('../../pipeline/import/resume.js'),
    import('../../pipeline/import/run.js'),
    import('../../pipeline/import/summary.js'),
    import('../../pipeline/import/dry-run.js'),
    import('../../pipeline/import/batches.js'),
  ]);

  const stream = openInput();
  const records = readCsv(stream, { delimiter: s.delimiter, source });
  let streamOpen = true;
  // Standard input is left open after a normal end (it is the process's), but not after Ctrl-C:
  // a read waiting on a slow pipe must not keep the import from stopping.
  const closeInput = (interrupted = false) => {
    if (!streamOpen) return;
    streamOpen = false;
    void records.return(undefined).catch(() => undefined);
    if (stream !== io.stdin || interrupted) (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  };
  ctx.onCleanup(() => closeInput());

  const first = await records.next();
  if (first.done || first.value.kind !== 'header') throw new KlvError(`${source}: no header was read (this is a bug in klv).`);
  const headers = first.value.headers;

  const mapping = buildMapping(headers, def, handler, {
    map: s.map.length > 0 ? await mappingFlags(s.map, io.cwd) : undefined,
    set: s.set.length > 0 ? (await import('../../pipeline/import/mapping-file.js')).parseSetPairs(s.set) : undefined,
    nullToken: s.nullValue,
    strict: s.strict,
    importOptions: s.options,
  });
  for (const w of mapping.warnings) io.warn(w);

  const paths = {
    ...logsMod.defaultLogPaths({ input, objectName: def.name, dryRun: s.dryRun, cwd: io.cwd, now: new Date() }),
    ...(s.successLog !== undefined ? { success: resolve(io.cwd, s.successLog) } : {}),
    ...(s.errorLog !== undefined ? { error: resolve(io.cwd, s.errorLog) } : {}),
  };
  const inputPath = input === '-' ? undefined : resolve(io.cwd, input);
  if (paths.success === paths.error) throw new UsageError(`--success-log and --error-log are the same file (${paths.success}).`, 'Give two different files.');
  for (const p of [paths.success, paths.error]) {
    if (p === inputPath) throw new UsageError(`The log ${p} would overwrite the input.`, 'Give another file with --success-log or --error-log.');
  }
  const layout = logsMod.logLayout(headers, logsMod.successExtras(def.name, s.dryRun));
  const journalFile = resumeMod.journalPath(paths.error);
  // Paths inside the current folder are shown relative to it: shorter, and what was typed.
  const display = (p: string) => {
    const rel = relative(io.cwd, p);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : p;
  };

  let resume: Awaited<ReturnType<typeof resumeMod.loadResume>> | undefined;
  if (writes) {
    if (!s.resume && existsSync(journalFile)) {
      throw new UsageError(
        `An interrupted import left ${journalFile}: its logs (${paths.success}, ${paths.error}) say which rows were done.`,
        `Add --resume to continue it without sending any row twice. To start over instead, remove ${journalFile} (the logs will be overwritten, and rows already imported sent again).`,
      );
    }
    if (s.resume) {
      resume = await resumeMod.loadResume({
        paths,
        layout,
        object: def.name,
        operation: s.operation,
        delimiter: s.delimiter,
        idempotent: handler.idempotent,
        source,
      });
      if (!resume.journal && !resume.success.exists && !resume.error.exists) {
        io.info(`Nothing to resume (no logs at ${paths.success} or ${paths.error}): starting from the first row.`);
      } else {
        const t = resume.plan.table;
        io.info(
          `Resuming: ${t.logged.toLocaleString('en-US')} rows are in the logs and are skipped` +
            (t.inDoubt > 0
              ? `; ${t.inDoubt.toLocaleString('en-US')} were being sent when the run stopped: ${handler.idempotent ? 'they are sent again (safe: this operation is idempotent)' : 'they go to the error log as unknown_outcome (sending them again could duplicate them)'}`
              : '') +
            '.',
        );
        for (const [kind, scan] of [['success', resume.success], ['error', resume.error]] as const) {
          if (scan.repairedBytes > 0) io.warn(`The ${kind} log ended with a line cut short by the interruption (${scan.repairedBytes} bytes): removed; that row's outcome comes from the journal.`);
        }
        if (t.duplicates > 0) io.warn(`${t.duplicates} rows appear more than once in the logs; the first line of each counts.`);
      }
    }
  }

  // The delete question, once everything that could go wrong without asking has been checked.
  if (writes && s.operation === 'delete' && !s.yes) {
    const what = handler.description ? `${handler.description.trim().replace(/\.$/, '')}.\n` : '';
    const ok = await confirm(ctx, `${what}--op delete changes ${def.name} in Klaviyo for every row of ${source}, and cannot be undone. Continue? [y/N] `, 'Interrupted: nothing was sent.');
    if (!ok) throw new UsageError('Not confirmed: nothing was sent.', 'Add --yes to skip the question.');
  }

  // The plan: batches and concurrency (a dry run without reads needs no client, no key).
  const dry = s.dryRun ? dryMod.dryRunPlan(handler, s.operation, s.batchSize, () => writeContext()) : undefined;
  const concurrency = dry ? dry.concurrency : (handler.concurrency ?? batchesMod.DEFAULT_HANDLER_CONCURRENCY);
  const batchSize = dry ? dry.batchSize : batchesMod.effectiveBatchSize(s.batchSize, handler.maxBatchSize);
  if (s.batchSize !== undefined && s.batchSize > handler.maxBatchSize && !dry) {
    io.info(`--batch-size ${s.batchSize} is above what Klaviyo takes at once for ${def.name} ${s.operation} (${handler.maxBatchSize}): batches of ${handler.maxBatchSize}.`);
  }
  const client = writes || dry?.reads ? await writeClient(ctx, concurrency) : undefined;
  const writeContext = (): WriteContext => ({
    client: client!,
    signal: neverAborted,
    options: s.options,
    clock: systemClock,
    debug: (line) => io.debug(line),
  });

  const logs = await logsMod.ImportLogs.open({
    paths,
    layout,
    delimiter: s.delimiter,
    append: Boolean(resume && (resume.success.exists || resume.error.exists)),
    sync: writes,
  });
  ctx.onCleanup(() => logs.close().catch(() => undefined));

  let journal: import('../../pipeline/import/resume.js').Journal | undefined;
  if (writes) {
    journal = resume?.journal
      ? await resumeMod.Journal.reopen(journalFile, resume.journal.validBytes)
      : await resumeMod.Journal.create(journalFile, {
          klvImportJournal: resumeMod.JOURNAL_VERSION,
          object: def.name,
          operation: s.operation,
          input: inputPath ?? '-',
          headers: [...headers],
          delimiter: s.delimiter,
          successLog: paths.success,
          errorLog: paths.error,
          started: new Date().toISOString(),
        });
    ctx.onCleanup(() => journal?.close().catch(() => undefined));
  }

  const counts = summaryMod.emptyCounts();
  const noun = summaryMod.objectNounFor(def.name);
  let progress: import('../../pipeline/import/summary.js').ImportProgress | undefined;
  if (io.progressEnabled) {
    progress = await summaryMod.ImportProgress.start(io.stderr, counts, () => client?.stats() ?? { requests: 0, throttledMs: 0 }, noun, s.dryRun);
    ctx.onCleanup(() => progress?.stop());
  }

  // Ctrl-C: stop reading at once, even while a read waits on a slow pipe.
  const onAbort = () => closeInput(true);
  ctx.signal.addEventListener('abort', onAbort, { once: true });

  const started = performance.now();
  // The header is consumed: the rest of the generator is rows (no wrapper generator: a million
  // rows would pay for a second async hop each).
  const rows = records as AsyncIterable<import('../../pipeline/import/csv-source.js').CsvRow>;
  const processBatch = handler.processBatch.bind(handler);
  let result: Awaited<ReturnType<typeof runMod.runImport>>;
  try {
    result = await runMod.runImport({
      rows,
      mapRow: (cells, rowNumber) => mapping.mapRow(cells, rowNumber),
      process: dry ? dry.process : (batch) => processBatch(batch, writeContext()),
      handlerName: `${def.name} ${s.operation}`,
      batchSize,
      concurrency,
      idempotent: handler.idempotent,
      logs,
      journal,
      hashIndices: layout.hashInput,
      resume: resume?.plan,
      signal: ctx.signal,
      counts,
      debug: (line) => io.debug(line),
    });
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    progress?.stop();
  }

  let closeError: unknown;
  try {
    await logs.close();
  } catch (err) {
    closeError = err;
  }
  if (journal) {
    // Complete: every row read is in a log, so nothing is in doubt and the journal goes.
    if (result.stopped === undefined && closeError === undefined) await journal.remove();
    else await journal.close();
  }
  closeInput();

  const stats = client?.stats();
  const summary: import('../../pipeline/import/summary.js').ImportSummary = {
    object: def.name,
    operation: s.operation,
    input,
    dryRun: s.dryRun,
    resumed: Boolean(resume),
    counts: result.counts,
    requests: stats?.requests ?? 0,
    rateLimited: stats?.rateLimited ?? 0,
    retries: stats?.retries ?? 0,
    seconds: (performance.now() - started) / 1000,
    successLog: display(paths.success),
    errorLog: display(paths.error),
    stopped: result.stopped ?? (closeError !== undefined ? 'fatal' : undefined),
  };
  const stopCode =
    result.stopped === 'interrupted' ? ExitCode.Interrupted : result.stopped === 'input' ? ExitCode.Usage : (result.exitCode ?? ExitCode.Failure);
  const exitCode = summaryMod.importExitCode(summary, stopCode);
  if (io.json) io.data(JSON.stringify(summaryMod.importSummaryJson(summary, exitCode)));
  else io.info(summaryMod.formatImportSummary(summary));

  const resumeLine = summaryMod.resumeCommandLine(resumeArgs(objectName, input, s, { success: display(paths.success), error: display(paths.error) }, s.successLog !== undefined || s.errorLog !== undefined));
  if (closeError !== undefined) {
    throw new KlvError(`Writing the import logs failed: ${(closeError as Error).message}`, {
      hint: `The rows sent are in the journal ${journalFile}. ${isDiskFull(closeError) ? 'Once there is room on the disk' : 'Once that is fixed'}, run: ${resumeLine} (it logs them and continues without sending any row twice).`,
      cause: closeError,
    });
  }
  if (summary.stopped === undefined) return exitCode;

  const left = result.counts.notProcessed;
  const leftText = left > 0 ? ` ${left.toLocaleString('en-US')} row${left === 1 ? ' was' : 's were'} read but not sent.` : '';
  if (summary.stopped === 'interrupted') {
    if (s.dryRun) throw new InterruptedError('Dry run interrupted: nothing was sent.');
    throw new KlvError(`Import interrupted: the batches in flight finished and both logs are complete for the rows they hold.${leftText}`, {
      exitCode: ExitCode.Interrupted,
      hint: `To continue where it stopped, without sending any row twice: ${resumeLine}`,
    });
  }
  const err = result.error;
  if (summary.stopped === 'input') {
    const base = err instanceof KlvError ? err : new UsageError(String(err));
    const before = result.counts.read - result.counts.notProcessed;
    throw new KlvError(base.message, {
      exitCode: base.exitCode,
      hint:
        `${base.hint ? `${base.hint} ` : ''}` +
        (s.dryRun || before === 0 ? '' : `The ${before.toLocaleString('en-US')} rows before it were imported and logged; after fixing the file, ${resumeLine} continues without sending them again.`),
      cause: err,
    });
  }
  // Fatal: the key refused, the network gone, the logs unwritable.
  const e = err instanceof Error ? err : new Error(String(err));
  // A full disk stops the logs or the journal themselves: no row was refused for it, and the
  // rows sent but not logged are in the journal, which --resume reads.
  const ownHint = (e as KlvError).hint;
  let hint: string;
  if (isDiskFull(err) && s.dryRun) hint = ownHint ?? `${FREE_SPACE}, then run it again.`;
  else if (isDiskFull(err)) {
    hint = `${FREE_SPACE}. Rows sent but not yet logged are in the journal ${journalFile}. Once there is room, run: ${resumeLine} (it logs them and continues without sending any row twice).`;
  } else {
    hint =
      `${ownHint ? `${ownHint} ` : ''}` +
      `Rows refused with this error are in the error log; the rest of the file was not sent. Once it is fixed, ${resumeLine} continues (and the error log can be imported to retry its rows).`;
  }
  throw new KlvError(`Import stopped: ${e.message}`, { exitCode: exitCode as ExitCode, hint, cause: err });
}
