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
  /** SIGTERM unless it has exited, then waits for the exit. */
  stop: () => Promise<void>;
}

/**
 * Spawns `klv emulator ARGS` from the repository root with `env` (NO_COLOR set). Returns at once,
 * so that an afterAll can stop it even when it never prints its address.
 */
export function spawnEmulator(args: readonly string[], env: NodeJS.ProcessEnv): EmulatorProcess {
  if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: build first with `npx tsc -p tsconfig.json` (npm test does it).');
  const child = spawn(process.execPath, [KLV_BIN, 'emulator', ...args], {
    cwd: REPO_ROOT,
    env: { ...env, NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const url = new Promise<string>((done, fail) => {
    let err = '';
    const timer = setTimeout(() => fail(new Error(`emulator did not print its address within 15 s; stderr:\n${err}`)), 15_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        done(m[1]!);
      }
    });
    child.on('exit', (code) => fail(new Error(`emulator exited with ${code}; stderr:\n${err}`)));
  });
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  return { child, url, exited, stop };
}
