/**
 * Runs the built CLI (bin/klv.js -> dist/) as a child process, the way users run it.
 * `npm test` builds first (pretest); run `npx tsc -p tsconfig.json` before running a single file.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const KLV_BIN = resolve(REPO_ROOT, 'bin/klv.js');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
  nodeArgs?: string[];
  timeoutMs?: number;
  /** Another launcher than this checkout's bin/klv.js (a patched copy of dist/, say). */
  bin?: string;
}

/** A clean environment: no KLAVIYO_* from the developer's shell, no colour, a throwaway HOME. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('KLAVIYO_') || k.startsWith('KLV_') || k === 'XDG_CONFIG_HOME') continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

export function runKlv(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.bin ?? KLV_BIN, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env ?? cleanEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.uid !== undefined ? { uid: options.uid } : {}),
      ...(options.gid !== undefined ? { gid: options.gid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}
