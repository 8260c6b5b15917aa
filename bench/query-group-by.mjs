#!/usr/bin/env node
/**
 * Peak memory of `klv query` when the query goes through SQLite: a GROUP BY over every profile.
 *
 *   npm run build && node bench/query-group-by.mjs [--profiles 200000] [--json]
 *
 * Starts `klv emulator --port 0 --profiles N --rate-limits off` as a child process, runs
 * `klv query "SELECT Country, COUNT(*) FROM Profiles GROUP BY Country" --format csv` against it
 * in another child, and measures the query's wall time and peak RSS (GNU time's "Maximum
 * resident set size" when /usr/bin/time exists, else VmHWM polled from /proc). Checks that the
 * counts add up to N. Target (issue 5): peak RSS < 300 MB at 200,000 profiles: the rows are
 * loaded into a temporary SQLite file in batches, never held in memory all at once.
 *
 * Exits 1 when the query fails or the counts do not add up; a missed target is reported.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin/klv.js');
const TIME = '/usr/bin/time';
const KEY = 'pk_bench_query_group_by_000';
const SQL = 'SELECT Country, COUNT(*) AS n FROM Profiles GROUP BY Country';
const TARGET_MB = 300;

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(1);
}

async function main() {
  const { values } = parseArgs({ options: { profiles: { type: 'string', default: '200000' }, json: { type: 'boolean', default: false } } });
  if (!/^\d+$/.test(values.profiles)) fail(`--profiles must be a whole number, got '${values.profiles}'.`);
  const n = Number(values.profiles);
  if (!existsSync(join(ROOT, 'dist/cli/commands/query.js'))) fail('dist/ has no klv query: run `npm run build` first.');

  const emulator = await startEmulator(['--port', '0', '--profiles', String(n), '--rate-limits', 'off']);
  const dir = mkdtempSync(join(tmpdir(), 'klv-bench-query-'));
  try {
    const timeFile = join(dir, 'time.txt');
    const useTime = existsSync(TIME);
    const command = useTime ? TIME : process.execPath;
    const args = [...(useTime ? ['-v', '-o', timeFile, process.execPath] : []), BIN, 'query', SQL, '--format', 'csv'];
    const env = { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), NO_COLOR: '1', KLAVIYO_BASE_URL: emulator.url, KLAVIYO_PRIVATE_API_KEY: KEY };
    const started = performance.now();
    const child = spawn(command, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c.toString()));
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
    if (code !== 0) fail(`klv query exited with ${code}:\n${stderr.slice(-2000)}`);
    let rssKb = polledKb;
    if (useTime) {
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(timeFile, 'utf8'));
      if (!m) fail(`${TIME} reported no maximum resident set size`);
      rssKb = Number(m[1]);
    }
    const lines = stdout.trim().split('\n').slice(1);
    const total = lines.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(',') + 1)), 0);
    if (total !== n) fail(`the counts add up to ${total}, not ${n}:\n${stdout.slice(0, 2000)}`);
    const rssMB = rssKb / 1024;
    const result = { profiles: n, seconds, rssMB, groups: lines.length, cpu: `${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}`, node: process.version, summary: stderr.trim().split('\n').slice(-1)[0] ?? '' };
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`klv query "${SQL}" over ${n.toLocaleString('en-US')} profiles (emulator, rate limits off), ${result.cpu}, Node ${result.node}`);
      console.log(`  ${seconds.toFixed(1)} s, ${lines.length} groups, peak RSS ${rssMB.toFixed(0)} MB; target < ${TARGET_MB} MB: ${rssMB < TARGET_MB ? 'met' : 'MISSED'}`);
      console.log(`  klv: ${result.summary}`);
    }
  } finally {
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts `klv emulator ARGS` and resolves with its URL once it prints it. */
function startEmulator(args) {
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
      if (m) resolve({ url: m[1], stop });
    });
    child.on('exit', (code) => reject(new Error(`klv emulator exited with ${code} before listening:\n${err}`)));
  });
}

main().catch((err) => fail(err.stack ?? String(err)));
