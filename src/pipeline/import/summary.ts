/**
 * What an import reports: the summary on stderr (or one JSON object on stdout with --json), the
 * exit code, and the live progress line on a terminal.
 *
 *   Imported 1,000 profile rows from data.csv in 4.2 s: 950 succeeded (900 created, 50 updated), 50 failed
 *   12 requests, 0 rate-limited (429), 0 retries
 *   Success log: data.success.csv
 *   Error log:   data.errors.csv
 */
import type { Writable } from 'node:stream';
import { ExitCode } from '../../core/exit-code.js';
import { formatSeconds, objectNoun } from '../export/summary.js';

export interface RunCounts {
  /** Data rows read from the input in this run. */
  read: number;
  succeeded: number;
  failed: number;
  /** Success-log rows by Status. */
  statuses: Record<string, number>;
  /** Rows a previous run already logged (--resume): not sent again. */
  skipped: number;
  /**
   * Of those, the rows the previous run logged as failed: the run that failed them was
   * interrupted (exit 130) before it could exit 3, so the run that completes the import does.
   */
  skippedFailed: number;
  /** Rows read but neither sent nor logged because the run stopped (Ctrl-C, a fatal error): --resume sends them. */
  notProcessed: number;
}

export function emptyCounts(): RunCounts {
  return { read: 0, succeeded: 0, failed: 0, statuses: {}, skipped: 0, skippedFailed: 0, notProcessed: 0 };
}

export type StopReason = 'interrupted' | 'fatal' | 'input';

export interface ImportSummary {
  object: string;
  operation: string;
  /** The input as given (`-` for stdin). */
  input: string;
  dryRun: boolean;
  resumed: boolean;
  counts: RunCounts;
  requests: number;
  rateLimited: number;
  retries: number;
  seconds: number;
  successLog: string;
  errorLog: string;
  /** Why the run ended before the end of the input; undefined when it read all of it. */
  stopped?: StopReason;
}

const int = (n: number) => n.toLocaleString('en-US');

/** `EmailTemplates` -> `email templates` (the progress line's noun). */
export function objectNounFor(object: string): string {
  return objectNoun(object, 2);
}

/**
 * 0 when every row succeeded, 3 when any failed (with --resume: also a row the interrupted run
 * failed); an early stop has its own code (the caller's error).
 */
export function importExitCode(s: Pick<ImportSummary, 'counts' | 'stopped'>, stopCode?: number): number {
  if (s.stopped !== undefined) return stopCode ?? ExitCode.Failure;
  return s.counts.failed > 0 || (s.counts.skippedFailed ?? 0) > 0 ? ExitCode.RowsRejected : ExitCode.Ok;
}

function statusList(statuses: Record<string, number>): string {
  const parts = Object.entries(statuses)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([s, n]) => `${int(n)} ${s}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

export function formatImportSummary(s: ImportSummary): string {
  const c = s.counts;
  const noun = objectNoun(s.object, 2).replace(/ rows$/, '');
  const rows = `${int(c.read)} ${c.read === 1 ? 'row' : 'rows'}`;
  const from = s.input === '-' ? 'standard input' : s.input;
  const verb = s.dryRun ? 'Dry run of' : s.stopped ? 'Import stopped after' : 'Imported';
  const head = `${verb} ${rows} of ${noun} (--op ${s.operation}) from ${from} in ${formatSeconds(s.seconds)}: `;
  // A dry run's rows are all `valid` unless a preview said more (created, updated, unchanged).
  const statuses = s.dryRun ? Object.fromEntries(Object.entries(c.statuses).filter(([k]) => k !== 'valid')) : c.statuses;
  const parts = [`${int(c.succeeded)} ${s.dryRun ? 'valid' : 'succeeded'}${statusList(statuses)}`, `${int(c.failed)} ${s.dryRun ? 'invalid' : 'failed'}`];
  if (c.skipped > 0) {
    const failedBefore = c.skippedFailed > 0 ? `, ${int(c.skippedFailed)} of them failed (see the error log)` : '';
    parts.push(`${int(c.skipped)} already done by the interrupted run (skipped${failedBefore})`);
  }
  if (c.notProcessed > 0) parts.push(`${int(c.notProcessed)} not processed`);
  const lines = [`${head}${parts.join(', ')}${s.dryRun ? '; nothing was written to Klaviyo' : ''}`];
  lines.push(
    `${int(s.requests)} request${s.requests === 1 ? '' : 's'}, ${int(s.rateLimited)} rate-limited (429), ${int(s.retries)} retr${s.retries === 1 ? 'y' : 'ies'}`,
  );
  lines.push(`Success log: ${s.successLog}`);
  lines.push(`Error log:   ${s.errorLog}`);
  return lines.join('\n');
}

/** The summary as one JSON object (--json, on stdout). */
export function importSummaryJson(s: ImportSummary, exitCode: number): Record<string, unknown> {
  const c = s.counts;
  return {
    object: s.object,
    operation: s.operation,
    input: s.input,
    dryRun: s.dryRun,
    resumed: s.resumed,
    rowsRead: c.read,
    succeeded: c.succeeded,
    failed: c.failed,
    statuses: { ...c.statuses },
    skipped: c.skipped,
    skippedFailed: c.skippedFailed,
    notProcessed: c.notProcessed,
    requests: s.requests,
    rateLimited: s.rateLimited,
    retries: s.retries,
    seconds: Math.round(s.seconds * 1000) / 1000,
    successLog: s.successLog,
    errorLog: s.errorLog,
    completed: s.stopped === undefined,
    stopped: s.stopped ?? null,
    exitCode,
  };
}

/** The command that continues an interrupted run, for the last message. */
export function resumeCommandLine(argv: readonly string[]): string {
  const args = argv.includes('--resume') ? [...argv] : [...argv, '--resume'];
  return ['klv', ...args.map(shellQuote)].join(' ');
}

export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_./:=,@%+-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------------------------
// Progress on a terminal

export function importProgressText(p: { noun: string; counts: RunCounts; requests: number; elapsedMs: number; dryRun: boolean; waiting: boolean }): string {
  const c = p.counts;
  const rate = p.elapsedMs > 0 ? Math.round((c.read * 1000) / p.elapsedMs) : 0;
  const verb = p.dryRun ? 'Checking' : 'Importing';
  const ok = p.dryRun ? 'valid' : 'ok';
  const base = `${verb} ${p.noun}: ${int(c.read)} rows read, ${int(c.succeeded)} ${ok}, ${int(c.failed)} failed, ${int(p.requests)} request${p.requests === 1 ? '' : 's'}, ${int(rate)} rows/s`;
  return p.waiting ? `${base} (waiting for the rate limit)` : base;
}

interface Spinner {
  text: string;
  start(): unknown;
  stop(): unknown;
}

/** Like the export's progress line (src/pipeline/export/progress.ts), for an import. */
export class ImportProgress {
  #spinner: Spinner;
  #timer: NodeJS.Timeout;
  #started = Date.now();
  #lastThrottledMs = 0;
  #lastWaitSeen = -Infinity;
  #stopped = false;

  private constructor(
    spinner: Spinner,
    private readonly counts: RunCounts,
    private readonly stats: () => { requests: number; throttledMs: number },
    private readonly noun: string,
    private readonly dryRun: boolean,
  ) {
    this.#spinner = spinner;
    this.#timer = setInterval(() => this.#render(), 200);
    this.#timer.unref();
    this.#render();
  }

  static async start(
    stream: Writable,
    counts: RunCounts,
    stats: () => { requests: number; throttledMs: number },
    noun: string,
    dryRun: boolean,
  ): Promise<ImportProgress | undefined> {
    if ((stream as { columns?: number }).columns === 0) return undefined;
    const { default: ora } = await import('ora');
    // discardStdin off: a delete's confirmation is over by now, and ora's raw mode would
    // swallow the Ctrl-C that must reach the signal handler.
    const spinner = ora({ stream: stream as NodeJS.WritableStream, discardStdin: false, text: `${dryRun ? 'Checking' : 'Importing'} ${noun}...` });
    spinner.start();
    return new ImportProgress(spinner, counts, stats, noun, dryRun);
  }

  #render(): void {
    if (this.#stopped) return;
    const stats = this.stats();
    const now = Date.now();
    if (stats.throttledMs - this.#lastThrottledMs >= 100) this.#lastWaitSeen = now;
    this.#lastThrottledMs = stats.throttledMs;
    this.#spinner.text = importProgressText({
      noun: this.noun,
      counts: this.counts,
      requests: stats.requests,
      elapsedMs: now - this.#started,
      dryRun: this.dryRun,
      waiting: now - this.#lastWaitSeen < 2_000,
    });
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#spinner.stop();
  }
}
