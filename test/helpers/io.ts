/**
 * The IO a command runs with, in process: fake streams whose output the test reads back, no
 * colour, and terminals only where the test says so (stdout is never one: output is data).
 */
import { PassThrough } from 'node:stream';
import { CommandContext, type GlobalOptions } from '../../src/cli/context.js';
import { IO } from '../../src/cli/io.js';
import { Secret } from '../../src/core/secret.js';
import type { ResolvedProfile } from '../../src/config/profile.js';

export interface TestIOOptions {
  /** The command's working folder. */
  cwd: string;
  /** Its environment: NO_COLOR, plus these (nothing of the test process's own). */
  env?: NodeJS.ProcessEnv;
  /** Whether stdin and stderr are terminals (a person there to answer prompts). */
  tty?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export interface TestIO {
  io: IO;
  /** What the command reads; write to it, then end it. */
  stdin: PassThrough;
  /** All the command wrote to stdout and stderr so far. */
  stdout: () => string;
  stderr: () => string;
  /**
   * Plays a person at the terminal: waits for each prompt to appear on stderr, then types its
   * answer (exactly as given: add the Enter, `\n` or `\r`), in order.
   */
  answer: (script: ReadonlyArray<readonly [prompt: string, typed: string]>) => void;
}

export function testIO(o: TestIOOptions): TestIO {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const tty = Boolean(o.tty);
  const io = new IO({
    stdin,
    stdout,
    stderr,
    stdinIsTTY: tty,
    stderrIsTTY: tty,
    stdoutIsTTY: false,
    env: { NO_COLOR: '1', ...o.env },
    cwd: o.cwd,
    color: false,
    json: o.json,
    quiet: o.quiet,
  });
  const answer = (script: ReadonlyArray<readonly [prompt: string, typed: string]>) => {
    const left = [...script];
    let seen = 0;
    const onData = () => {
      // Several prompts can arrive in one chunk, each answered in turn.
      for (let next = left[0]; next; next = left[0]) {
        const at = err.indexOf(next[0], seen);
        if (at === -1) return;
        seen = at + next[0].length;
        left.shift();
        stdin.write(next[1]);
      }
      stderr.off('data', onData);
    };
    stderr.on('data', onData);
  };
  return { io, stdin, stdout: () => out, stderr: () => err, answer };
}

/** A CommandContext over testIO (the globals' json and quiet reach the IO too). */
export function testContext(o: TestIOOptions & { globals?: GlobalOptions }): TestIO & { ctx: CommandContext } {
  const globals = o.globals ?? {};
  const t = testIO({ ...o, json: o.json ?? globals.json, quiet: o.quiet ?? globals.quiet });
  return { ...t, ctx: new CommandContext(t.io, globals) };
}

/** A resolved profile whose base URL nothing listens on, for commands whose client the test replaces. */
export function testProfile(): ResolvedProfile {
  return {
    name: 'test',
    privateKey: new Secret('pk_test_profile_0123456789'),
    revision: '2026-07-15',
    baseUrl: 'http://127.0.0.1:9',
    concurrency: 4,
    sources: { concurrency: 'default' },
    files: [],
    warnings: [],
  };
}

/**
 * Answers the context's profile() with `resolve()` (which may throw, as a missing profile does)
 * instead of reading the configuration; the result says whether the command asked for it.
 */
export function stubProfile(ctx: CommandContext, resolve: () => ResolvedProfile = testProfile): () => boolean {
  let asked = false;
  ctx.profile = async () => {
    asked = true;
    return resolve();
  };
  return () => asked;
}
