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
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BIN, ROOT, TIME, cleanEnv, cpuName, fail, fmtInt, measure, startEmulator, wholeNumber } from './lib.mjs';

const KEY = 'pk_bench_query_group_by_000';
const SQL = 'SELECT Country, COUNT(*) AS n FROM Profiles GROUP BY Country';
const TARGET_MB = 300;

async function main() {
  const { values } = parseArgs({ options: { profiles: { type: 'string', default: '200000' }, json: { type: 'boolean', default: false } } });
  const n = wholeNumber(values.profiles, '--profiles');
  if (!existsSync(join(ROOT, 'dist/cli/commands/query.js'))) fail('dist/ has no klv query: run `npm run build` first.');

  const emulator = await startEmulator(['--port', '0', '--profiles', String(n), '--rate-limits', 'off']);
  const dir = mkdtempSync(join(tmpdir(), 'klv-bench-query-'));
  try {
    const env = cleanEnv(dir, { url: emulator.url, key: KEY });
    const { code, seconds, rssKb, stdout, stderr } = await measure([BIN, 'query', SQL, '--format', 'csv'], { cwd: dir, env, timeFile: join(dir, 'time.txt') });
    if (code !== 0) fail(`klv query exited with ${code}:\n${stderr.slice(-2000)}`);
    if (rssKb === null) fail(`${TIME} reported no maximum resident set size`);
    const lines = stdout.trim().split('\n').slice(1);
    const total = lines.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(',') + 1)), 0);
    if (total !== n) fail(`the counts add up to ${total}, not ${n}:\n${stdout.slice(0, 2000)}`);
    const rssMB = rssKb / 1024;
    const result = { profiles: n, seconds, rssMB, groups: lines.length, cpu: cpuName(), node: process.version, summary: stderr.trim().split('\n').slice(-1)[0] ?? '' };
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`klv query "${SQL}" over ${fmtInt(n)} profiles (emulator, rate limits off), ${result.cpu}, Node ${result.node}`);
      console.log(`  ${seconds.toFixed(1)} s, ${lines.length} groups, peak RSS ${rssMB.toFixed(0)} MB; target < ${TARGET_MB} MB: ${rssMB < TARGET_MB ? 'met' : 'MISSED'}`);
      console.log(`  klv: ${result.summary}`);
    }
  } finally {
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => fail(err.stack ?? String(err)));
