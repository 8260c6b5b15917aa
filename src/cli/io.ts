/**
 * Where output goes. Data goes to stdout, everything meant for people to stderr; progress
 * only when stderr is a TTY; colour unless NO_COLOR, --no-color or a non-TTY stderr.
 * Tests build an IO over in-memory streams.
 */
import type { Readable, Writable } from 'node:stream';
import chalk, { Chalk, type ChalkInstance } from 'chalk';

export interface IOOptions {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  stdinIsTTY: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
  quiet?: boolean;
  json?: boolean;
  verbose?: boolean;
  color?: boolean;
}

export class IO {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  readonly stdinIsTTY: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  quiet: boolean;
  json: boolean;
  verbose: boolean;
  readonly style: ChalkInstance;

  constructor(o: IOOptions) {
    this.stdout = o.stdout;
    this.stderr = o.stderr;
    this.stdin = o.stdin;
    this.stdoutIsTTY = o.stdoutIsTTY;
    this.stderrIsTTY = o.stderrIsTTY;
    this.stdinIsTTY = o.stdinIsTTY;
    this.env = o.env;
    this.cwd = o.cwd;
    this.quiet = o.quiet ?? false;
    this.json = o.json ?? false;
    this.verbose = o.verbose ?? false;
    const colorWanted = o.color ?? (this.stderrIsTTY && !('NO_COLOR' in o.env && o.env.NO_COLOR !== ''));
    this.style = new Chalk({ level: colorWanted ? Math.max(chalk.level, 1) as 1 | 2 | 3 : 0 });
  }

  static fromProcess(): IO {
    return new IO({
      stdout: process.stdout,
      stderr: process.stderr,
      stdin: process.stdin,
      stdoutIsTTY: Boolean(process.stdout.isTTY),
      stderrIsTTY: Boolean(process.stderr.isTTY),
      stdinIsTTY: Boolean(process.stdin.isTTY),
      env: process.env,
      cwd: process.cwd(),
    });
  }

  /** Progress spinners and live counters: only for a person watching a terminal. */
  get progressEnabled(): boolean {
    return this.stderrIsTTY && !this.quiet && !this.json && this.env.CI !== 'true';
  }

  /** Data: the command's result. */
  data(text: string): void {
    this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Informational message for people; silenced by --quiet. */
  info(text: string): void {
    if (!this.quiet) this.stderr.write(`${text}\n`);
  }

  /** Warnings are shown even with --quiet: they are about the data. */
  warn(text: string): void {
    this.stderr.write(`${this.style.yellow('warning:')} ${text}\n`);
  }

  error(text: string, hint?: string): void {
    this.stderr.write(`${this.style.red('error:')} ${text}\n`);
    if (hint) this.stderr.write(`${this.style.dim('hint:')} ${hint}\n`);
  }

  /** --verbose diagnostics (request journal and the like). */
  debug(text: string): void {
    if (this.verbose) this.stderr.write(`${this.style.dim(text)}\n`);
  }
}
