#!/usr/bin/env node
/**
 * How fast `klv import --dry-run` reads, maps, validates and logs a large CSV, against a plain
 * csv-parse -> csv-stringify pass over the same file in the same run, and how much memory it takes.
 *
 *   npm run build && node bench/import-dry-run.mjs [--rows 1000000] [--runs 1] [--json] [--keep]
 *
 * It writes an N-row profile CSV (Email, FirstName, LastName, City, PhoneNumber, Properties.plan;
 * about 1% of the rows invalid, from a fixed seed) to a temp folder, then runs, each in its own
 * child process:
 *  - the plain pass: the file through csv-parse and csv-stringify into another file (the least
 *    any CSV tool built on them does: read, parse, write);
 *  - `klv import profiles FILE --op insert --dry-run --json`: every row parsed, UTF-8 checked,
 *    mapped to Profiles' columns, each cell coerced and validated (email, E.164 phone, JSON
 *    properties), and written to the dry run's success or error log. `--op insert` because a dry
 *    run of an insert reads nothing from Klaviyo (no key, no emulator): this measures klv.
 * It prints rows per second of each, their ratio (target, issue 4: at least 0.5), and klv's peak
 * RSS (target: under 250 MB), read from GNU time when /usr/bin/time exists, else VmHWM polled
 * from /proc/<pid>/status. It checks that the logs hold exactly N rows, and exits 1 when they do
 * not or a run fails; missed targets are reported, not errors (see bench/README.md).
 */
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { BIN, ROOT, cleanEnv, measure as measureChild, rssMethod } from './lib.mjs';

const PLAIN_PASS = `
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
const [input, output] = process.argv.slice(-2);
let rows = 0;
await pipeline(
  createReadStream(input),
  parse({ bom: true }),
  async function* (records) { for await (const r of records) { rows++; yield r; } },
  stringify(),
  createWriteStream(output),
);
process.stderr.write(String(rows - 1));
`;

function fail(message) {
  process.stderr.write(`bench/import-dry-run: ${message}\n`);
  process.exit(1);
}

async function main() {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '1000000' },
      runs: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const n = Number(values.rows);
  const runs = Math.max(1, Number(values.runs));
  if (!Number.isInteger(n) || n < 1) fail(`--rows '${values.rows}' is not a number of rows`);
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) fail('build first: npm run build');

  const dir = mkdtempSync(join(tmpdir(), 'klv-bench-import-'));
  try {
    const csv = join(dir, 'profiles.csv');
    const gen = performance.now();
    const { bytes, invalid } = await generate(csv, n);
    const genSeconds = (performance.now() - gen) / 1000;

    const plain = [];
    const klv = [];
    for (let i = 0; i < runs; i++) {
      // Alternate, so that neither always runs on a warmer page cache.
      plain.push(await plainPass(csv, join(dir, `plain-${i}.csv`), n));
      klv.push(await dryRun(csv, dir, n, invalid));
    }
    const best = (xs) => xs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const p = best(plain);
    const k = best(klv);
    const ratio = p.seconds / k.seconds;
    const result = {
      rows: n,
      fileMB: bytes / 1024 / 1024,
      invalidRows: invalid,
      generateSeconds: genSeconds,
      plain: { seconds: p.seconds, rowsPerSecond: n / p.seconds, rssMB: p.rssMB },
      klv: { seconds: k.seconds, rowsPerSecond: n / k.seconds, rssMB: k.rssMB, summary: k.summary },
      ratio,
      targets: { ratio: { min: 0.5, met: ratio >= 0.5 }, rssMB: { max: 250, met: k.rssMB < 250 } },
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cpus: cpus().length, node: process.version },
      rssMethod: rssMethod(),
      runs,
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const int = (x) => Math.round(x).toLocaleString('en-US');
    const lines = [
      `klv import --dry-run benchmark: ${int(n)} profile rows (${result.fileMB.toFixed(1)} MB, ${int(invalid)} invalid), best of ${runs}`,
      `  plain csv-parse -> csv-stringify: ${p.seconds.toFixed(2)} s, ${int(result.plain.rowsPerSecond)} rows/s, peak RSS ${p.rssMB.toFixed(0)} MB`,
      `  klv import profiles --op insert --dry-run: ${k.seconds.toFixed(2)} s, ${int(result.klv.rowsPerSecond)} rows/s, peak RSS ${k.rssMB.toFixed(0)} MB`,
      `  speed ratio klv / plain: ${ratio.toFixed(2)} (target >= 0.5: ${ratio >= 0.5 ? 'met' : 'MISSED'})`,
      `  klv peak RSS: ${k.rssMB.toFixed(0)} MB (target < 250 MB: ${k.rssMB < 250 ? 'met' : 'MISSED'})`,
      `  machine: ${result.machine.cpu}, ${result.machine.cpus} CPUs, Node ${process.version}; RSS from ${result.rssMethod}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    if (values.keep) process.stderr.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** A deterministic profile CSV; every 100th row has something klv must refuse. */
async function generate(path, n) {
  let seed = 1;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const first = ['Ann', 'Bob', 'Chloé', 'Dmitri', 'Eve', 'Farah', 'Gus', 'Hana', 'Ivo', 'Jun'];
  const last = ['Archer', 'Baker', 'Cole', 'Diaz', 'Evans', "O'Neil", 'García', 'Huang', 'Ito', 'Jones'];
  const cities = ['Portland', 'Denver', 'Boise', 'Austin', 'Saint-Étienne', 'São Paulo', 'Québec', 'Reno'];
  const plans = ['free', 'pro', 'team', 'enterprise'];
  const out = createWriteStream(path);
  let bytes = 0;
  let invalid = 0;
  const write = async (text) => {
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, 'drain');
  };
  await write('Email,FirstName,LastName,City,PhoneNumber,Properties.plan\n');
  let chunk = '';
  for (let i = 1; i <= n; i++) {
    const f = first[Math.floor(rand() * first.length)];
    const l = last[Math.floor(rand() * last.length)];
    let email = `${f.toLowerCase().normalize('NFD').replace(/[^a-z]/g, '')}.${i}@example.com`;
    let phone = rand() < 0.5 ? `+1500555${String(i % 10000).padStart(4, '0')}` : '';
    if (i % 100 === 0) {
      invalid++;
      if (i % 200 === 0) email = `not-an-email-${i}`;
      else phone = '555-CALL-ME';
    }
    const city = cities[Math.floor(rand() * cities.length)];
    const lastName = l.includes("'") || l.includes(',') ? `"${l}"` : l;
    chunk += `${email},${f},${lastName},${city},${phone},${plans[i % plans.length]}\n`;
    if (chunk.length > 1 << 16) {
      await write(chunk);
      chunk = '';
    }
  }
  if (chunk) await write(chunk);
  out.end();
  await once(out, 'finish');
  return { bytes, invalid };
}

/** Runs a command, measuring wall time and peak RSS. */
async function measure(args, cwd, env) {
  // GNU time's report goes to the temp folder, never into the working tree.
  const { rssKb, ...r } = await measureChild(args, { cwd, env, timeFile: join(tmpdir(), `klv-bench-time-${process.hrtime.bigint()}.txt`) });
  return { ...r, rssMB: (rssKb ?? 0) / 1024 };
}

async function plainPass(input, output, n) {
  const r = await measure(['--input-type=module', '-e', PLAIN_PASS, input, output], ROOT, { PATH: process.env.PATH });
  if (r.code !== 0) fail(`the plain pass failed (${r.code}):\n${r.stderr.slice(-2000)}`);
  const rows = Number(r.stderr.trim().split('\n').pop());
  if (rows !== n) fail(`the plain pass read ${rows} rows, expected ${n}`);
  return r;
}

async function dryRun(input, dir, n, invalid) {
  // A clean environment: no key, no profile, no config of the person running it (none is needed).
  const env = cleanEnv(dir);
  const r = await measure([BIN, 'import', 'profiles', input, '--op', 'insert', '--dry-run', '--json'], dir, env);
  // Exit 3: the invalid rows were refused, as they should be.
  if (r.code !== 3 && r.code !== 0) fail(`klv import --dry-run exited ${r.code}:\n${r.stderr.slice(-2000)}`);
  let summary;
  try {
    summary = JSON.parse(r.stdout);
  } catch {
    fail(`klv printed no JSON summary:\n${r.stdout.slice(0, 500)}\n${r.stderr.slice(-2000)}`);
  }
  if (summary.rowsRead !== n || summary.succeeded + summary.failed !== n) {
    fail(`klv read ${summary.rowsRead} rows (${summary.succeeded} valid, ${summary.failed} invalid), expected ${n}`);
  }
  if (summary.failed !== invalid) fail(`klv refused ${summary.failed} rows, the file has ${invalid} invalid ones`);
  const logged = (await countLines(resolve(dir, summary.successLog))) + (await countLines(resolve(dir, summary.errorLog))) - 2;
  if (logged !== n) fail(`the dry run's logs hold ${logged} rows, expected ${n}`);
  return { ...r, summary };
}

/** Lines in a log (no cell of these files holds a line break). */
async function countLines(path) {
  let lines = 0;
  for await (const chunk of createReadStream(path)) {
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
  }
  return lines;
}

main().catch((err) => fail(err.stack ?? String(err)));
