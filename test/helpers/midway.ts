/**
 * Acting on a running klv once it is provably mid-way: a signal (Ctrl-C, SIGTERM, SIGKILL) or
 * anything else (turning faults on, say), then waiting for it to exit.
 *
 * Condition-driven, never timed: the caller says what "mid-way" looks like (its output says so, a
 * log has N lines, a `.partial` file has grown, a table has rows) and the act comes as soon as
 * that holds, polled every few milliseconds within a bound.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { KLV_BIN, type RunResult } from './cli.js';

/** What klv has printed so far, for `when`. */
export interface OutputSoFar {
  stdout: string;
  stderr: string;
}

export interface MidwayOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Polled every 5 ms while klv runs; the act comes as soon as it returns true. */
  when: (output: OutputSoFar) => boolean;
  /** Bound on waiting for `when`, and then on waiting for the exit (default 60 s each). */
  timeoutMs?: number;
  /** What `when` waits for, for the failure message. */
  what?: string;
}

export interface InterruptOptions extends MidwayOptions {
  signal: 'SIGINT' | 'SIGTERM' | 'SIGKILL';
}

export interface MidwayRun extends RunResult {
  /** Milliseconds from the spawn to the act. */
  actedAfterMs: number;
}

/**
 * Runs `klv ARGS`, calls `act` once `when()` holds, and resolves when the process has exited.
 * Fails (after killing klv) if klv exits first, `when()` never holds within the bound, or klv
 * does not exit within the bound after the act: an act that lands after the work is done would
 * prove nothing, and a klv that hangs must fail the test, not time it out.
 */
export async function runAndAct(args: string[], o: MidwayOptions & { act: (child: ChildProcess) => void | Promise<void> }): Promise<MidwayRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [KLV_BIN, ...args], { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'pipe'] });
  const output: OutputSoFar = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output.stderr += d));
  child.stdin.end();
  let exited = false;
  const done = new Promise<RunResult>((resolve) =>
    child.on('close', (code, signal) => {
      exited = true;
      resolve({ code, signal, ...output });
    }),
  );
  const bound = o.timeoutMs ?? 60_000;
  const what = o.what ?? 'the run to be mid-way';
  let actedAfterMs: number;
  try {
    const deadline = started + bound;
    for (;;) {
      if (exited) throw new Error(`klv exited (code ${child.exitCode}) before ${what}:\n${output.stderr}`);
      if (o.when(output)) break;
      if (Date.now() > deadline) throw new Error(`waited ${bound / 1000} s for ${what}; klv stderr:\n${output.stderr}`);
      await sleep(5);
    }
    actedAfterMs = Date.now() - started;
    await o.act(child);
    const exitBy = Date.now() + bound;
    while (!exited) {
      if (Date.now() > exitBy) throw new Error(`klv did not exit within ${bound / 1000} s of the act; stderr:\n${output.stderr}`);
      await sleep(5);
    }
  } catch (err) {
    if (!exited) child.kill('SIGKILL');
    await done;
    throw err;
  }
  return { ...(await done), actedAfterMs };
}

/** Runs `klv ARGS` and sends `signal` once `when()` holds; resolves when the process has exited. */
export function runAndInterrupt(args: string[], o: InterruptOptions): Promise<MidwayRun> {
  return runAndAct(args, { ...o, act: (child) => void child.kill(o.signal) });
}

/** Waits until `check()` holds, polling every 10 ms, at most `timeoutMs`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs / 1000} s for ${what}`);
    await sleep(10);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
