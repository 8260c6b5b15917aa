#!/usr/bin/env node
/**
 * How close `klv export profiles` gets to Klaviyo's rate limit, and whether its memory stays flat.
 *
 *   npm run build && node bench/export-profiles.mjs [--profiles 50000] [--latency 150] [--runs 1]
 *                                                   [--memory 20000,200000|none] [--json]
 *
 * For each account size it starts `klv emulator --port 0 --profiles N --latency MS` (the spec's
 * rate limits on, as against Klaviyo) as a child process, runs
 * `klv export profiles -o <tmp>.csv` against it in another child, and measures the export's wall
 * time and peak RSS (GNU time's "Maximum resident set size" when /usr/bin/time exists, else
 * VmHWM polled from /proc), then counts the CSV's records. It prints, for --profiles: elapsed,
 * the rate-limit floor (minSeconds below) and their ratio; for the --memory pair: each peak RSS
 * and their ratio. Targets (issue 3): ratio <= 1.3 at 50,000; peak RSS < 200 MB and
 * RSS(200k) <= 1.3 x RSS(20k).
 *
 * Exits 1 when an export fails or writes the wrong number of rows; a missed target is reported,
 * not an error (numbers vary with the machine: see bench/README.md).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BIN, ROOT, TIME, cleanEnv, countRecords, cpuName, fail, fmtInt, gitCommit, measure, minSeconds, rssMethod, startEmulator, wholeNumber } from './lib.mjs';

export { minSeconds };

const KEY = 'pk_bench_export_profiles_000';

async function main() {
  const { values } = parseArgs({
    options: {
      profiles: { type: 'string', default: '50000' },
      latency: { type: 'string', default: '150' },
      runs: { type: 'string', default: '1' },
      memory: { type: 'string', default: '20000,200000' },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  const profiles = wholeNumber(values.profiles, '--profiles');
  const latency = wholeNumber(values.latency, '--latency');
  const runs = Math.max(1, wholeNumber(values.runs, '--runs'));
  const memorySizes = values.memory === 'none' ? [] : values.memory.split(',').map((v) => wholeNumber(v, '--memory'));
  if (memorySizes.length !== 0 && memorySizes.length !== 2) fail('--memory takes two sizes (small,large) or none.');

  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) fail('dist/ is missing: run `npm run build` first.');
  if (!existsSync(join(ROOT, 'dist/cli/commands/export.js'))) fail('this build has no `klv export` (dist/cli/commands/export.js): nothing to measure yet.');
  const { OPERATIONS } = await import(join(ROOT, 'dist/klaviyo/generated/api-metadata.js'));
  const op = OPERATIONS.get_profiles;
  const pageSize = op.pageSize.max;
  const { burst, steady } = op.rateLimit;

  const machine = {
    cpu: cpuName(),
    node: process.version,
    commit: gitCommit(),
    rssMethod: rssMethod(),
  };
  const log = values.json ? () => {} : (line) => console.log(line);
  log(`klv export profiles against klv emulator --latency ${latency} (spec rate limits), ${machine.cpu}, Node ${machine.node}, commit ${machine.commit}`);

  const requests = Math.ceil(profiles / pageSize);
  const floor = minSeconds(requests, burst, steady);
  log(`N = ${fmtInt(profiles)}: at least ${fmtInt(requests)} requests (page size ${pageSize}); rate-limit floor ${floor.toFixed(2)} s (${burst}/s burst, ${steady}/min steady)`);
  const timed = [];
  for (let run = 1; run <= runs; run++) {
    const r = await exportOnce(profiles, latency, values.seed);
    r.ratio = r.seconds / floor;
    timed.push(r);
    log(`  run ${run}: ${r.seconds.toFixed(2)} s, ratio ${r.ratio.toFixed(2)}, ${fmtInt(r.rows)} rows, ${fmtInt(r.requests)} requests seen by the emulator, peak RSS ${r.rssMB.toFixed(0)} MB`);
    log(`         klv: ${r.summary}`);
  }
  const best = timed.reduce((a, b) => (b.ratio < a.ratio ? b : a));
  log(`  ratio ${best.ratio.toFixed(2)} (best of ${runs}); target <= 1.3: ${best.ratio <= 1.3 ? 'met' : 'MISSED'}`);

  let memory = null;
  if (memorySizes.length === 2) {
    const results = [];
    for (const n of memorySizes) {
      const r = await exportOnce(n, latency, values.seed);
      results.push(r);
      log(`N = ${fmtInt(n)}: ${r.seconds.toFixed(2)} s (floor ${minSeconds(Math.ceil(n / pageSize), burst, steady).toFixed(2)} s), ${fmtInt(r.rows)} rows, peak RSS ${r.rssMB.toFixed(0)} MB`);
    }
    const ratio = results[1].rssMB / results[0].rssMB;
    const peak = Math.max(...results.map((r) => r.rssMB));
    log(`  RSS(${fmtInt(memorySizes[1])}) / RSS(${fmtInt(memorySizes[0])}) = ${ratio.toFixed(2)}; targets: peak < 200 MB ${peak < 200 ? 'met' : 'MISSED'}, ratio <= 1.3 ${ratio <= 1.3 ? 'met' : 'MISSED'}`);
    memory = { sizes: memorySizes, results, ratio };
  }
  if (values.json) {
    console.log(JSON.stringify({ machine, latency, rateLimit: { burst, steady }, pageSize, timing: { profiles, requests, floorSeconds: floor, runs: timed }, memory }, null, 2));
  }
}

/** One export of an N-profile demo account: wall time, peak RSS, rows written, requests seen by the emulator. */
async function exportOnce(n, latency, seed) {
  const dir = mkdtempSync(join(tmpdir(), 'klv-bench-'));
  const emulator = await startEmulator(['--port', '0', '--profiles', String(n), '--latency', String(latency), '--seed', String(seed)]);
  try {
    const csv = join(dir, 'profiles.csv');
    // A clean environment and an empty folder: no profile or project config of the person running it.
    const env = cleanEnv(dir, { url: emulator.url, key: KEY });
    const { code, seconds, stderr, rssKb } = await measure([BIN, 'export', 'profiles', '-o', csv], { cwd: dir, env, timeFile: join(dir, 'time.txt'), stdout: 'ignore' });
    if (code !== 0) fail(`klv export profiles exited with ${code} for ${n} profiles:\n${stderr.slice(-2000)}`);
    if (!existsSync(csv)) {
      const partial = existsSync(`${csv}.partial`) ? ` (only ${csv}.partial is there: the export did not finish it)` : '';
      fail(`klv export profiles exited 0 but wrote no ${csv}${partial}:\n${stderr.slice(-2000)}`);
    }
    if (rssKb === null) fail(`${TIME} reported no maximum resident set size`);
    const rows = await countRecords(csv);
    if (rows !== n) fail(`the export wrote ${rows} rows for an account of ${n} profiles`);
    const counts = await (await fetch(`${emulator.url}/_emulator/requests`)).json();
    return {
      profiles: n,
      seconds,
      rssMB: rssKb / 1024,
      rows,
      // Every request that reached the emulator, refused ones (429) included.
      requests: counts.byOperation.get_profiles ?? counts.total,
      summary: stderr.trim().split('\n').slice(-1)[0] ?? '',
    };
  } finally {
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => fail(err.stack ?? String(err)));
}
