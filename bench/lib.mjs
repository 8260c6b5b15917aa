/**
 * What the benchmarks share: where klv is, the clean child environment, the emulator child,
 * wall time and peak RSS of a child process, the rate-limit floor, and formatting.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin/klv.js');
export const TIME = '/usr/bin/time';

/**
 * The least time `requests` requests can take under Klaviyo's fixed rate-limit windows: at most
 * `burst` per second and `steady` per minute. Every full minute of steady quota that has to be
 * used up before the last batch costs 60 s; the rest goes at the burst rate; and the burst rate
 * alone is a floor too. 500 requests at 75/s and 750/min: 500 / 75 = 6.7 s. 2,000 requests:
 * 2 full minutes (1,500 requests) + 500 / 75 = 126.7 s. Round trips are not counted: this is
 * the floor the limits set, which no client can beat however it schedules its requests.
 */
export function minSeconds(requests, burst, steady) {
  if (requests <= 0) return 0;
  const fullMinutes = steady ? Math.ceil(requests / steady) - 1 : 0;
  const rest = requests - fullMinutes * (steady ?? 0);
  return Math.max(requests / burst, fullMinutes * 60 + rest / burst);
}

export function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(1);
}

/**
 * A clean environment for a klv child: no profile or project config of the person running it
 * (HOME and XDG_CONFIG_HOME in `dir`), and the emulator's URL and a key when given.
 */
export function cleanEnv(dir, { url, key } = {}) {
  const env = { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), NO_COLOR: '1' };
  if (url !== undefined) env.KLAVIYO_BASE_URL = url;
  if (key !== undefined) env.KLAVIYO_PRIVATE_API_KEY = key;
  return env;
}

/**
 * Runs `node ARGS` in a child process and measures its wall time and peak RSS: GNU time's
 * "Maximum resident set size" (written to `timeFile`) when /usr/bin/time exists, else VmHWM
 * polled from /proc/<pid>/status. `rssKb` is null when GNU time reported no maximum resident
 * set size. `stdout: 'ignore'` does not collect the child's output.
 */
export async function measure(args, { cwd, env, timeFile, stdout: stdoutMode = 'pipe' }) {
  const useTime = existsSync(TIME);
  const command = useTime ? TIME : process.execPath;
  const full = useTime ? ['-v', '-o', timeFile, process.execPath, ...args] : args;
  const started = performance.now();
  const child = spawn(command, full, { cwd, env, stdio: ['ignore', stdoutMode, 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c) => (stdout += c.toString()));
  child.stderr.on('data', (c) => (stderr += c.toString()));
  let polledKb = 0;
  const poll = useTime
    ? null
    : setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) polledKb = Math.max(polledKb, Number(m[1]));
        } catch {
          // The process has just exited.
        }
      }, 20);
  const code = await new Promise((done) => child.on('exit', (c) => done(c)));
  const seconds = (performance.now() - started) / 1000;
  if (poll) clearInterval(poll);
  let rssKb = polledKb;
  if (useTime) {
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(timeFile, 'utf8'));
    rssKb = m ? Number(m[1]) : null;
  }
  return { code, seconds, rssKb, stdout, stderr };
}

/** Starts `klv emulator ARGS` and resolves with its URL (and the child's pid) once it prints it. */
export function startEmulator(args) {
  const child = spawn(process.execPath, [BIN, 'emulator', ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((done) => child.on('exit', done));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (chunk) => {
      err += chunk.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(err);
      if (m) resolve({ url: m[1], pid: child.pid, stop });
    });
    child.on('exit', (code) => reject(new Error(`klv emulator exited with ${code} before listening:\n${err}`)));
  });
}

/** CSV records after the header, parsed (a quoted cell may hold a line break). */
export async function countRecords(file) {
  const { parse } = await import('csv-parse');
  let records = 0;
  for await (const _ of createReadStream(file).pipe(parse({ relax_column_count: true, bom: true }))) records++;
  return Math.max(0, records - 1);
}

export function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** "<model of the first CPU> x<number of CPUs>". */
export function cpuName() {
  return `${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}`;
}

/** How peak RSS is measured on this machine. */
export function rssMethod() {
  return existsSync(TIME) ? 'GNU time (Maximum resident set size)' : '/proc VmHWM, polled';
}

export function wholeNumber(text, flag) {
  if (!/^\d+$/.test(String(text))) fail(`${flag} must be a whole number, got '${text}'.`);
  return Number(text);
}

export function fmtInt(n) {
  return n.toLocaleString('en-US');
}

/**
 * A `kB` field of /proc/<pid>/status (`VmRSS`: resident set now; `VmHWM`: its peak), in kB;
 * null when the process is gone or the field is missing (not Linux).
 */
export function procStatusKb(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Whether this build's `klv emulator` knows FLAG (newer flags such as --fault-kinds). */
export function emulatorSupports(flag) {
  const help = execFileSync(process.execPath, [BIN, 'emulator', '--help'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return help.includes(flag);
}

/** GET an emulator admin endpoint (`/_emulator/...`) as JSON; null when the build has no such endpoint. */
export async function emulatorAdmin(url, path) {
  const res = await fetch(`${url}${path}`);
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
  return res.json();
}
