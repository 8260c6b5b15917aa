/**
 * `klv emulator` as a separate process (the built CLI), for the e2e tests that drive it over HTTP.
 * `npm test` builds first (pretest); run `npx tsc -p tsconfig.json` before running a single file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KLV_BIN, REPO_ROOT } from './cli.js';

export interface EmulatorProcess {
  child: ChildProcess;
  /** The address it listens on, once it printed it (rejects when it exits first, or after 15 s). */
  url: Promise<string>;
  exited: Promise<number | null>;
  /** What it wrote on stderr so far. */
  stderr: () => string;
  /** SIGTERM unless it has exited, then waits for the exit. */
  stop: () => Promise<void>;
}

export interface SpawnOptions {
  /** Its working folder (default: the repository root); relative --data paths are read from it. */
  cwd?: string;
}

/**
 * Spawns `klv emulator ARGS` with `env` (NO_COLOR set). Returns at once, so that an afterAll can
 * stop it even when it never prints its address.
 */
export function spawnEmulator(args: readonly string[], env: NodeJS.ProcessEnv, options: SpawnOptions = {}): EmulatorProcess {
  if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: build first with `npx tsc -p tsconfig.json` (npm test does it).');
  const child = spawn(process.execPath, [KLV_BIN, 'emulator', ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...env, NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const url = new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`emulator did not print its address within 15 s; stderr:\n${err}`)), 15_000);
    child.stderr!.on('data', () => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        done(m[1]!);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`emulator exited with ${code} before listening; stderr:\n${err}`));
    });
  });
  // A test that stops it before awaiting the address must not see an unhandled rejection.
  url.catch(() => undefined);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  return { child, url, exited, stderr: () => err, stop };
}

/**
 * The emulators a test file starts as it goes (one per scenario, say), stopped together in its
 * afterAll: `const emulators = new SpawnedEmulators(); afterAll(() => emulators.stopAll());`.
 */
export class SpawnedEmulators {
  readonly #running: EmulatorProcess[] = [];

  /** Spawns one (see spawnEmulator) and resolves with its address. */
  start(args: readonly string[], env: NodeJS.ProcessEnv, options: SpawnOptions = {}): Promise<string> {
    const emulator = spawnEmulator(args, env, options);
    this.#running.push(emulator);
    return emulator.url;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#running.splice(0).map((e) => e.stop()));
  }
}

/**
 * Calls one of the emulator's admin endpoints (`/_emulator/...`) and returns its JSON answer;
 * throws with the emulator's own words when it refuses. Retries once: the call is idempotent, and
 * a kept-alive connection the emulator closed just as it was reused fails without being handled.
 */
export async function emulatorAdmin<T = unknown>(url: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const send = () =>
    fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const res = await send().catch(() => send());
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/**
 * Empties every rate-limit window of the emulator at `url`. The emulator counts per account, as
 * Klaviyo does (every key shares the windows), so a test that runs klv several times against one
 * emulator calls this before each run for it to start with full windows, as a fresh account would.
 */
export async function resetRateLimits(url: string): Promise<void> {
  await emulatorAdmin(url, 'POST', '/_emulator/rate-limits', { reset: true });
}

/** Makes the emulator at `url` accept `key` with these scopes (POST /_emulator/keys). */
export async function registerKey(url: string, key: string, scopes?: readonly string[]): Promise<void> {
  await emulatorAdmin(url, 'POST', '/_emulator/keys', scopes === undefined ? { key } : { key, scopes });
}
