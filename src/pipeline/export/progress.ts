/**
 * The live progress line of an export on a terminal (stderr, with ora): rows, requests, rows
 * per second, and whether the rate governor is holding requests back. Only when a person is
 * watching (IO.progressEnabled), and never while rows themselves go to the same terminal.
 * ora is loaded only then, so a cron run never pays for it.
 */
import type { Writable } from 'node:stream';

export interface ProgressFigures {
  /** Object noun (`profiles`). */
  noun: string;
  rows: number;
  requests: number;
  elapsedMs: number;
  /** The rate governor held requests back since the previous update. */
  waiting: boolean;
}

/** Time held back by the governor, per update, that counts as waiting for the rate limit. */
const WAIT_NOTICE_MS = 100;

const int = (n: number) => n.toLocaleString('en-US');

export function progressText(p: ProgressFigures): string {
  const rate = p.elapsedMs > 0 ? Math.round((p.rows * 1000) / p.elapsedMs) : 0;
  const base = `Exporting ${p.noun}: ${int(p.rows)} rows, ${int(p.requests)} request${p.requests === 1 ? '' : 's'}, ${int(rate)} rows/s`;
  return p.waiting ? `${base} (waiting for the rate limit)` : base;
}

export interface StatsSource {
  stats(): { requests: number; throttledMs: number };
}

interface Spinner {
  text: string;
  start(): unknown;
  stop(): unknown;
}

export class ExportProgress {
  #spinner: Spinner;
  #timer: NodeJS.Timeout;
  #rows = 0;
  #started = Date.now();
  #lastThrottledMs = 0;
  #lastWaitSeen = -Infinity;
  #stopped = false;

  private constructor(spinner: Spinner, private readonly source: StatsSource, private readonly noun: string) {
    this.#spinner = spinner;
    this.#timer = setInterval(() => this.#render(), 200);
    this.#timer.unref();
    this.#render();
  }

  /** Undefined when the terminal reports no width: ora would count each line as infinitely tall. */
  static async start(stream: Writable, source: StatsSource, noun: string): Promise<ExportProgress | undefined> {
    if ((stream as { columns?: number }).columns === 0) return undefined;
    const { default: ora } = await import('ora');
    // discardStdin off: klv never reads the terminal during an export, and ora's raw mode
    // would swallow the Ctrl-C that must reach the signal handler.
    const spinner = ora({ stream: stream as NodeJS.WritableStream, discardStdin: false, text: `Exporting ${noun}...` });
    spinner.start();
    return new ExportProgress(spinner, source, noun);
  }

  set rows(n: number) {
    this.#rows = n;
  }

  #render(): void {
    if (this.#stopped) return;
    const stats = this.source.stats();
    const now = Date.now();
    // Requests queued a millisecond behind each other are not worth a notice; a real hold is.
    if (stats.throttledMs - this.#lastThrottledMs >= WAIT_NOTICE_MS) this.#lastWaitSeen = now;
    this.#lastThrottledMs = stats.throttledMs;
    // The governor reports a hold when it ends: keep the notice up a moment so it can be read.
    this.#spinner.text = progressText({
      noun: this.noun,
      rows: this.#rows,
      requests: stats.requests,
      elapsedMs: now - this.#started,
      waiting: now - this.#lastWaitSeen < 2_000,
    });
  }

  /** Clears the line (idempotent): the summary follows on a clean line. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#spinner.stop();
  }
}
