/**
 * What the fault-matrix tests share: driving the emulator's fault injection over its admin
 * endpoint, and stopping a running klv with a signal once it is provably mid-way.
 *
 * Interrupting is condition-driven, never timed: the caller says what "mid-way" looks like (a
 * log has N lines, a `.partial` file has grown, a table has rows) and the signal is sent as soon
 * as that holds, polled every few milliseconds within a bound.
 */
import { spawn } from 'node:child_process';
import { KLV_BIN, type RunResult } from './cli.js';

/** Every fault kind the emulator injects (see src/emulator/http/faults.ts). */
export const ALL_FAULT_KINDS = ['500', '502', '503', 'drop', 'drop-after', 'slow', '429'] as const;
export type FaultKind = (typeof ALL_FAULT_KINDS)[number];

export interface FaultSettings {
  rate?: number;
  kinds?: readonly FaultKind[];
  slowMs?: number;
  stormMs?: number;
  jobFailRate?: number;
}

export interface FaultReport extends Required<FaultSettings> {
  /** How many of each kind were injected, plus `throttled` (requests answered 429 inside storms) and `job-cancelled`. */
  injected: Record<string, number>;
}

async function admin<T>(url: string, method: 'GET' | 'POST', body?: unknown): Promise<T> {
  const send = () =>
    fetch(`${url}/_emulator/faults`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  // Both calls are idempotent. One retry covers a kept-alive connection the emulator closed
  // just as it was reused ("other side closed"), seen when the test process was busy for seconds.
  const res = await send().catch(() => send());
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} /_emulator/faults answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** Changes the running emulator's fault injection (only the fields given). */
export function setFaults(url: string, settings: FaultSettings): Promise<FaultReport> {
  return admin<FaultReport>(url, 'POST', settings);
}

/** The emulator's fault settings and how many faults of each kind it has injected so far. */
export function getFaults(url: string): Promise<FaultReport> {
  return admin<FaultReport>(url, 'GET');
}

export interface InterruptOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  signal: 'SIGINT' | 'SIGTERM' | 'SIGKILL';
  /** Polled every 5 ms while klv runs; the signal goes as soon as it returns true. */
  when: () => boolean;
  /** Bound on waiting for `when` (default 60 s). */
  timeoutMs?: number;
  /** What `when` waits for, for the failure message. */
  what?: string;
}

export interface InterruptedRun extends RunResult {
  /** Milliseconds from the spawn to the signal. */
  signalledAfterMs: number;
}

/**
 * Runs `klv ARGS` and sends `signal` once `when()` holds; resolves when the process has exited.
 * Fails (after killing klv) if klv exits first or `when()` never holds within the bound: a
 * signal that lands after the work is done would prove nothing.
 */
export async function runAndInterrupt(args: string[], o: InterruptOptions): Promise<InterruptedRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [KLV_BIN, ...args], { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end();
  let exited = false;
  const done = new Promise<RunResult>((resolve) =>
    child.on('close', (code, sig) => {
      exited = true;
      resolve({ code, signal: sig, stdout, stderr });
    }),
  );
  const bound = o.timeoutMs ?? 60_000;
  const deadline = started + bound;
  const what = o.what ?? 'the run to be mid-way';
  try {
    for (;;) {
      if (exited) throw new Error(`klv exited (code ${child.exitCode}) before ${what}:\n${stderr}`);
      if (o.when()) break;
      if (Date.now() > deadline) throw new Error(`waited ${bound / 1000} s for ${what}; klv stderr:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill(o.signal);
  } catch (err) {
    if (!exited) child.kill('SIGKILL');
    await done;
    throw err;
  }
  const signalledAfterMs = Date.now() - started;
  return { ...(await done), signalledAfterMs };
}

/** Waits until `check()` holds, polling every 10 ms, at most `timeoutMs`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs / 1000} s for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
