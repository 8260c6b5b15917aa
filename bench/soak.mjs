#!/usr/bin/env node
/**
 * Soak: does one long-lived klv process keep its memory flat while it exports and imports over
 * and over against a faulty Klaviyo?
 *
 *   npm run build && node bench/soak.mjs [--minutes 10] [--profiles 5000] [--faults 0.03] [--json]
 *
 * Starts `klv emulator` as a child process (demo account of --profiles profiles, rate limits
 * off, --faults RATE of every fault kind with short slow responses and 429 storms, some profile
 * bulk import jobs cancelled half-way) and then runs klv IN THIS PROCESS, through the same
 * `main(argv, io)` that bin/klv.js calls, in a loop until --minutes have passed:
 *
 *   1. klv export profiles -o out.csv                 the whole account, every row checked once
 *   2. klv import profiles in.csv --op upsert          --import-rows rows of that export (same
 *                                                      emails, so the account does not grow)
 *   3. klv export campaigns -o campaigns.csv
 *   4. klv query "SELECT Country, COUNT(*) ... GROUP BY Country"   counts add up to --profiles
 *
 * Each run must exit 0 (the import: 0, or 3 when faults made it reject rows) with the right row
 * counts, and leave no process listeners behind; each iteration's files are deleted. Every
 * second it samples this process's RSS and heapUsed and the emulator's VmRSS. The verdict is on
 * klv's RSS as a user would see it (no forced GC): PASS when the last minute's average is at
 * most 1.10 x the second minute's (the first minute is warm-up: module loading, JIT, pools).
 * Runs shorter than 3 minutes compare the last third with the second third instead: a quick
 * check only; 10 minutes is the reference.
 *
 * Exits 0 on PASS, 1 on FAIL (memory grew, a run failed or miscounted, a listener leaked).
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  ROOT,
  cleanEnv,
  countRecords,
  cpuName,
  emulatorAdmin,
  emulatorSupports,
  fail,
  fmtInt,
  gitCommit,
  procStatusKb,
  startEmulator,
  wholeNumber,
} from './lib.mjs';

const KEY = 'pk_bench_soak_0000000000';
const SQL = 'SELECT Country, COUNT(*) AS n FROM Profiles GROUP BY Country';
/** The pass line: last window's average RSS at most this times the reference window's. */
const MAX_RATIO = 1.1;
const REFERENCE_MINUTES = 10;
/** Events whose listener counts must be back to where they were after every klv run. */
const WATCHED_EVENTS = ['SIGINT', 'SIGTERM', 'exit', 'beforeExit', 'uncaughtException', 'unhandledRejection', 'warning'];

class SoakFailure extends Error {}

function options() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      profiles: { type: 'string', default: '5000' },
      'import-rows': { type: 'string', default: '3000' },
      faults: { type: 'string', default: '0.03' },
      'job-faults': { type: 'string', default: '0.1' },
      'slow-ms': { type: 'string', default: '2500' },
      'storm-ms': { type: 'string', default: '1000' },
      timeout: { type: 'string', default: '2' },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      samples: { type: 'string' },
    },
  });
  const minutes = Number(values.minutes);
  if (!(minutes > 0)) fail(`--minutes must be a positive number, got '${values.minutes}'.`);
  const fraction = (text, flag) => {
    const n = Number(text);
    if (!(text !== '' && n >= 0 && n <= 1)) fail(`${flag} must be a fraction from 0 to 1, got '${text}'.`);
    return n;
  };
  const profiles = wholeNumber(values.profiles, '--profiles');
  if (profiles < 1) fail('--profiles must be at least 1.');
  const importRows = Math.min(wholeNumber(values['import-rows'], '--import-rows'), profiles);
  if (importRows < 1) fail('--import-rows must be at least 1.');
  const timeout = Number(values.timeout);
  if (!(timeout > 0)) fail(`--timeout must be a positive number of seconds, got '${values.timeout}'.`);
  return {
    minutes,
    profiles,
    importRows,
    faults: fraction(values.faults, '--faults'),
    jobFaults: fraction(values['job-faults'], '--job-faults'),
    slowMs: wholeNumber(values['slow-ms'], '--slow-ms'),
    stormMs: wholeNumber(values['storm-ms'], '--storm-ms'),
    timeout: values.timeout,
    seed: wholeNumber(values.seed, '--seed'),
    json: values.json,
    samplesFile: values.samples,
  };
}

/** The emulator's flags: every fault kind when this build has --fault-kinds, else plain --faults (5xx and drops). */
function emulatorArgs(o) {
  const args = ['--port', '0', '--profiles', String(o.profiles), '--rate-limits', 'off', '--seed', String(o.seed), '--faults', String(o.faults)];
  if (!emulatorSupports('--fault-kinds')) return { args, kinds: 'default (this build has no --fault-kinds)' };
  args.push('--fault-kinds', 'all', '--slow-ms', String(o.slowMs), '--storm-ms', String(o.stormMs));
  if (emulatorSupports('--job-faults')) args.push('--job-faults', String(o.jobFaults));
  return { args, kinds: 'all' };
}

/**
 * A stream for a klv run's stdout or stderr that keeps at most `limit` characters (the head for
 * stdout, which holds one JSON summary or a few result lines; the tail for stderr, for failure
 * messages), so that the harness's own memory stays flat however much klv writes.
 */
function capture(limit, keep) {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      const s = chunk.toString();
      if (keep === 'head') {
        if (text.length < limit) text += s.slice(0, limit - text.length);
      } else {
        text = (text + s).slice(-limit);
      }
      done();
    },
  });
  return { stream, text: () => text };
}

/** Runs klv in this process; resolves with its exit code and what it wrote. */
async function runKlv(klv, args, { env, cwd }) {
  const stdout = capture(256 * 1024, 'head');
  const stderr = capture(16 * 1024, 'tail');
  const io = new klv.IO({
    stdout: stdout.stream,
    stderr: stderr.stream,
    stdin: Readable.from([]),
    stdoutIsTTY: false,
    stderrIsTTY: false,
    stdinIsTTY: false,
    env,
    cwd,
  });
  const started = performance.now();
  const code = await klv.main(['node', 'klv', ...args], io);
  return { code, seconds: (performance.now() - started) / 1000, stdout: stdout.text(), stderr: stderr.text() };
}

function expect(condition, what, run) {
  if (condition) return;
  const detail = run ? `\n--- klv stderr (tail) ---\n${run.stderr.trim()}\n--- klv stdout (head) ---\n${run.stdout.slice(0, 2000).trim()}` : '';
  throw new SoakFailure(`${what}${detail}`);
}

function jsonLine(run, what) {
  const line = run.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    expect(false, `${what}: stdout holds no JSON summary`, run);
  }
}

/**
 * Reads the exported profiles once: checks every Id appears exactly once, and writes the import
 * input (Email, FirstName, LastName, City, Properties.soak_round) from `count` rows starting at
 * row `start` (wrapping), so that each iteration updates other profiles and never adds one.
 */
async function deriveImport(exportFile, importFile, { start, count, round }) {
  const { parse } = await import('csv-parse');
  const { stringify } = await import('csv-stringify');
  const out = createWriteStream(importFile);
  const csv = stringify({ header: true, columns: ['Email', 'FirstName', 'LastName', 'City', 'Properties.soak_round'] });
  csv.pipe(out);
  const ids = new Set();
  let rows = 0;
  let withEmail = 0;
  let written = 0;
  for await (const r of createReadStream(exportFile).pipe(parse({ columns: true, bom: true }))) {
    ids.add(r.Id);
    rows += 1;
    if (!r.Email) continue;
    const i = withEmail++;
    if (i >= start && written < count) {
      written += 1;
      if (!csv.write([r.Email, r.FirstName, r.LastName, r.City, String(round)])) await once(csv, 'drain');
    }
  }
  // The window wraps: take the rest from the top (rows before `start` only, so none twice).
  if (written < count) {
    let i = 0;
    for await (const r of createReadStream(exportFile).pipe(parse({ columns: true, bom: true }))) {
      if (written >= count || i >= start) break;
      if (!r.Email) continue;
      i += 1;
      written += 1;
      if (!csv.write([r.Email, r.FirstName, r.LastName, r.City, String(round)])) await once(csv, 'drain');
    }
  }
  csv.end();
  await finished(out);
  return { rows, uniqueIds: ids.size, withEmail, written };
}

function listenerCounts() {
  return Object.fromEntries(WATCHED_EVENTS.map((e) => [e, process.listenerCount(e)]));
}

/** One iteration of the loop; returns what it moved. Throws SoakFailure on anything unexpected. */
async function iteration(klv, n, ctx) {
  const { o, env, dir, baseline, totals } = ctx;
  const cwd = join(dir, `it-${n}`);
  mkdirSync(cwd);
  try {
    const leaks = (after) => {
      const now = listenerCounts();
      const grown = WATCHED_EVENTS.filter((e) => now[e] !== baseline[e]).map((e) => `${e}: ${baseline[e]} -> ${now[e]}`);
      expect(grown.length === 0, `iteration ${n}: process listeners left behind after ${after}: ${grown.join(', ')}`);
    };

    // 1. The whole account.
    const exp = await runKlv(klv, ['--json', 'export', 'profiles', '-o', 'out.csv'], { env, cwd });
    expect(exp.code === 0, `iteration ${n}: klv export profiles exited ${exp.code}, not 0`, exp);
    leaks('export profiles');
    const expSummary = jsonLine(exp, `iteration ${n}: klv export profiles`);
    expect(expSummary.rows === o.profiles, `iteration ${n}: klv export profiles says ${expSummary.rows} rows, the account has ${o.profiles}`, exp);
    const start = ((n - 1) * o.importRows) % o.profiles;
    const derived = await deriveImport(join(cwd, 'out.csv'), join(cwd, 'in.csv'), { start, count: o.importRows, round: n });
    expect(derived.rows === o.profiles, `iteration ${n}: out.csv holds ${derived.rows} records, not ${o.profiles}`);
    expect(derived.uniqueIds === o.profiles, `iteration ${n}: out.csv holds ${derived.uniqueIds} distinct Ids for ${derived.rows} records: a row is missing or twice`);
    totals.exported += derived.rows;
    totals.retries += expSummary.retries ?? 0;

    // 2. Upsert of existing emails: real updates, no new profiles.
    const rows = derived.written;
    const imp = await runKlv(
      klv,
      ['--json', 'import', 'profiles', 'in.csv', '--op', 'upsert', '--success-log', 'in.success.csv', '--error-log', 'in.errors.csv'],
      { env, cwd },
    );
    expect(imp.code === 0 || imp.code === 3, `iteration ${n}: klv import profiles exited ${imp.code}, not 0 or 3`, imp);
    leaks('import profiles');
    const impSummary = jsonLine(imp, `iteration ${n}: klv import profiles`);
    expect(impSummary.completed === true && impSummary.rowsRead === rows, `iteration ${n}: klv import read ${impSummary.rowsRead} of ${rows} rows (completed: ${impSummary.completed})`, imp);
    expect(impSummary.succeeded + impSummary.failed === rows, `iteration ${n}: ${impSummary.succeeded} succeeded + ${impSummary.failed} failed is not the ${rows} rows read`, imp);
    expect((impSummary.failed > 0) === (imp.code === 3), `iteration ${n}: ${impSummary.failed} rows failed but klv import exited ${imp.code}`, imp);
    const logged = (await countRecords(join(cwd, 'in.success.csv'))) + (existsSync(join(cwd, 'in.errors.csv')) ? await countRecords(join(cwd, 'in.errors.csv')) : 0);
    expect(logged === rows, `iteration ${n}: the success and error logs hold ${logged} rows, not ${rows}`, imp);
    totals.imported += impSummary.succeeded;
    totals.rejected += impSummary.failed;
    totals.retries += impSummary.retries ?? 0;

    // 3. A small object with includes (campaign messages): the same count every time.
    const camp = await runKlv(klv, ['--json', 'export', 'campaigns', '-o', 'campaigns.csv'], { env, cwd });
    expect(camp.code === 0, `iteration ${n}: klv export campaigns exited ${camp.code}, not 0`, camp);
    leaks('export campaigns');
    const campSummary = jsonLine(camp, `iteration ${n}: klv export campaigns`);
    totals.campaigns ??= campSummary.rows;
    expect(campSummary.rows === totals.campaigns && campSummary.rows > 0, `iteration ${n}: klv export campaigns wrote ${campSummary.rows} rows, the first iteration ${totals.campaigns}`, camp);
    totals.retries += campSummary.retries ?? 0;

    // 4. SQL through SQLite: the group counts add up to the account.
    const q = await runKlv(klv, ['query', SQL, '--format', 'csv'], { env, cwd });
    expect(q.code === 0, `iteration ${n}: klv query exited ${q.code}, not 0`, q);
    leaks('query');
    const counted = q.stdout.trim().split('\n').slice(1).reduce((s, l) => s + Number(l.slice(l.lastIndexOf(',') + 1)), 0);
    expect(counted === o.profiles, `iteration ${n}: klv query's counts add up to ${counted}, not ${o.profiles}`, q);

    totals.runs += 4;
    return { seconds: exp.seconds + imp.seconds + camp.seconds + q.seconds, importCode: imp.code };
  } finally {
    // Each iteration's CSVs and logs go, so the disk does not grow over a long soak.
    rmSync(cwd, { recursive: true, force: true });
  }
}

/** Memory samples every second: this process (klv) and the emulator child. */
function startSampler(emulatorPid, startedAt, onMinute) {
  const samples = [];
  let lastMinute = 0;
  const take = () => {
    const m = process.memoryUsage();
    const t = (performance.now() - startedAt) / 1000;
    const emuKb = procStatusKb(emulatorPid, 'VmRSS');
    samples.push({ t, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, emulatorRss: emuKb === null ? null : emuKb * 1024 });
    const minute = Math.floor(t / 60);
    if (minute > lastMinute) {
      lastMinute = minute;
      onMinute(minute, samples[samples.length - 1]);
    }
  };
  take();
  const timer = setInterval(take, 1000);
  timer.unref();
  return { samples, stop: () => (clearInterval(timer), take()) };
}

const MB = 1024 * 1024;
const mb = (bytes) => (bytes === null || Number.isNaN(bytes) ? null : Math.round((bytes / MB) * 10) / 10);

function average(samples, key, from, to) {
  const xs = samples.filter((s) => s.t >= from && s.t < to && s[key] !== null).map((s) => s[key]);
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * The windows compared: the second minute and the last minute; for runs under 3 minutes the
 * second and the last third of the run (a minute of warm-up is then more than the run can spare).
 */
function windows(totalSeconds) {
  if (totalSeconds >= 180) return { reference: [60, 120], last: [totalSeconds - 60, totalSeconds + 1], label: ['minute 2', 'last minute'] };
  const third = totalSeconds / 3;
  return { reference: [third, 2 * third], last: [totalSeconds - third, totalSeconds + 1], label: ['second third', 'last third'] };
}

/**
 * Least-squares slope of `key` over the samples from `from` seconds on, in MB per minute. The
 * minute averages of RSS move by several per cent as V8 resizes its heap, so the ratio alone can
 * land either side of the line by chance; a leak shows as a steady positive slope, noise does not.
 */
function slopeMBPerMinute(samples, key, from) {
  const xs = samples.filter((s) => s.t >= from && s[key] !== null);
  if (xs.length < 10) return NaN;
  const mt = xs.reduce((a, s) => a + s.t, 0) / xs.length;
  const mv = xs.reduce((a, s) => a + s[key], 0) / xs.length;
  const cov = xs.reduce((a, s) => a + (s.t - mt) * (s[key] - mv), 0);
  const vt = xs.reduce((a, s) => a + (s.t - mt) ** 2, 0);
  return Math.round(((cov / vt) * 60 * 10) / MB) / 10;
}

function memoryReport(samples, key, w) {
  const reference = average(samples, key, ...w.reference);
  const last = average(samples, key, ...w.last);
  const values = samples.map((s) => s[key]).filter((v) => v !== null);
  const peak = values.length ? Math.max(...values) : NaN;
  return {
    referenceMB: mb(reference),
    lastMB: mb(last),
    ratio: Math.round((last / reference) * 1000) / 1000,
    peakMB: mb(peak),
    trendMBPerMinute: slopeMBPerMinute(samples, key, w.reference[0]),
  };
}

/** Runs iterations until the deadline (or the first failure) while sampling memory; reads the emulator's counters at the end. */
async function loop(klv, o, emulator, dir, kinds) {
  const env = { ...cleanEnv(dir, { url: emulator.url, key: KEY }), KLV_TIMEOUT: o.timeout };
  const baseline = listenerCounts();
  const totals = { exported: 0, imported: 0, rejected: 0, retries: 0, runs: 0, campaigns: undefined, importExit3: 0 };
  const log = (line) => process.stderr.write(`soak: ${line}\n`);
  log(`emulator ${emulator.url} (${fmtInt(o.profiles)} profiles, rate limits off, --faults ${o.faults}, kinds ${kinds}); ${o.minutes} min; KLV_TIMEOUT=${o.timeout}`);

  const startedAt = performance.now();
  let iterations = 0;
  const sampler = startSampler(emulator.pid, startedAt, (minute, s) =>
    log(`minute ${minute}: ${iterations} iterations, klv RSS ${mb(s.rss)} MB (heap ${mb(s.heapUsed)} MB), emulator RSS ${mb(s.emulatorRss)} MB`),
  );
  const deadline = startedAt + o.minutes * 60_000;
  let failure = null;
  const resourcesAfter = [];
  const heapAfterGc = [];
  try {
    while (performance.now() < deadline) {
      const { importCode } = await iteration(klv, iterations + 1, { o, env, dir, baseline, totals });
      if (importCode === 3) totals.importExit3 += 1;
      iterations += 1;
      resourcesAfter.push(process.getActiveResourcesInfo().length);
      // Diagnostic only (node --expose-gc): the live heap after each iteration, to tell a leak from garbage not yet collected.
      if (typeof globalThis.gc === 'function') {
        globalThis.gc();
        heapAfterGc.push(process.memoryUsage().heapUsed);
      }
    }
  } catch (err) {
    if (!(err instanceof SoakFailure)) throw err;
    failure = err.message;
  }
  sampler.stop();
  const totalSeconds = (performance.now() - startedAt) / 1000;

  let faults = null;
  let requests = null;
  try {
    faults = await emulatorAdmin(emulator.url, '/_emulator/faults');
    requests = await emulatorAdmin(emulator.url, '/_emulator/requests');
  } catch (err) {
    log(`could not read the emulator's counters: ${err.message}`);
  }
  return { iterations, totals, failure, samples: sampler.samples, totalSeconds, resourcesAfter, heapAfterGc, faults, requests };
}

async function main() {
  const o = options();
  for (const f of ['dist/cli/main.js', 'dist/cli/io.js']) {
    if (!existsSync(join(ROOT, f))) fail(`${f} is missing: run \`npm run build\` (or npx tsc -p tsconfig.json) first.`);
  }
  const [{ main: klvMain }, { IO }] = await Promise.all([
    import(pathToFileURL(join(ROOT, 'dist/cli/main.js')).href),
    import(pathToFileURL(join(ROOT, 'dist/cli/io.js')).href),
  ]);
  const klv = { main: klvMain, IO };

  const { args, kinds } = emulatorArgs(o);
  const emulator = await startEmulator(args);
  const dir = mkdtempSync(join(tmpdir(), 'klv-bench-soak-'));
  const cleanup = () => {
    if (emulator.stopping) return emulator.stopping;
    rmSync(dir, { recursive: true, force: true });
    return (emulator.stopping = emulator.stop());
  };
  // Ctrl-C: klv's own handler (installed during a run) aborts that run; this one takes the emulator and the files with it.
  const onSignal = () => void cleanup().then(() => process.exit(130));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let run;
  try {
    run = await loop(klv, o, emulator, dir, kinds);
  } finally {
    // Also on an unexpected error: the emulator child must not outlive the soak.
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const { iterations, totals, failure, samples, totalSeconds, resourcesAfter, heapAfterGc, faults, requests } = run;

  if (o.samplesFile) {
    const fields = ['t', 'rss', 'heapUsed', 'heapTotal', 'external', 'emulatorRss'];
    const lines = samples.map((x) => fields.map((f) => (f === 't' ? x.t.toFixed(1) : x[f] ?? '')).join(','));
    writeFileSync(o.samplesFile, `${fields.join(',')}\n${lines.join('\n')}\n`);
  }
  const w = windows(totalSeconds);
  const klvRss = memoryReport(samples, 'rss', w);
  const klvHeap = memoryReport(samples, 'heapUsed', w);
  // Where RSS goes when heapUsed is flat: V8 keeping a larger heap (heapTotal), or memory outside it (external: buffers, SQLite is not counted).
  const klvHeapTotal = memoryReport(samples, 'heapTotal', w);
  const klvExternal = memoryReport(samples, 'external', w);
  const emuRss = memoryReport(samples, 'emulatorRss', w);
  const flat = klvRss.ratio <= MAX_RATIO;
  const pass = flat && failure === null && iterations > 0;
  const notes = [];
  if (heapAfterGc.length) notes.push('run with --expose-gc: a GC after every iteration changes the RSS figures; use it to look for a leak, not for the verdict');
  if (o.minutes < 3) notes.push(`a ${o.minutes}-minute run compares the last third with the second third: a quick check; ${REFERENCE_MINUTES} minutes is the reference`);
  else if (o.minutes < REFERENCE_MINUTES) notes.push(`${REFERENCE_MINUTES} minutes is the reference run`);
  notes.push("the emulator's RSS is reported, not judged: the import upserts existing emails, so no profile is added, but the emulator keeps every bulk import job with its list of profile ids (as Klaviyo does, for 7 days), so it grows a little with each import");

  const result = {
    pass,
    failure,
    minutes: o.minutes,
    seconds: Math.round(totalSeconds * 10) / 10,
    iterations,
    klvRuns: totals.runs,
    profiles: o.profiles,
    rowsExported: totals.exported,
    rowsImported: totals.imported,
    rowsRejected: totals.rejected,
    importsExit3: totals.importExit3,
    klvRetries: totals.retries,
    emulatorRequests: requests?.total ?? null,
    faults: faults ? { rate: faults.rate, kinds: faults.kinds, slowMs: faults.slowMs, stormMs: faults.stormMs, jobFailRate: faults.jobFailRate, injected: faults.injected } : null,
    windows: { reference: w.label[0], last: w.label[1] },
    klv: { rss: klvRss, heapUsed: klvHeap, heapTotal: klvHeapTotal, external: klvExternal },
    emulator: { rss: emuRss },
    maxRatio: MAX_RATIO,
    activeResourcesAfterIteration: resourcesAfter.length ? { first: resourcesAfter[0], last: resourcesAfter[resourcesAfter.length - 1], max: Math.max(...resourcesAfter) } : null,
    heapAfterGcMB: heapAfterGc.length ? heapAfterGc.map(mb) : null,
    notes,
    machine: { cpu: cpuName(), node: process.version, commit: gitCommit() },
  };

  if (o.json) console.log(JSON.stringify(result, null, 2));
  else {
    const injected = faults?.injected ? Object.entries(faults.injected).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ') : 'n/a (this emulator has no GET /_emulator/faults)';
    const line = (name, r) =>
      `  ${name.padEnd(14)} ${w.label[0]} ${r.referenceMB} MB, ${w.label[1]} ${r.lastMB} MB, ratio ${r.ratio.toFixed(3)}, peak ${r.peakMB} MB, trend ${Number.isNaN(r.trendMBPerMinute) ? 'n/a' : `${r.trendMBPerMinute >= 0 ? '+' : ''}${r.trendMBPerMinute} MB/min`}`;
    console.log(`klv soak: ${result.seconds} s, ${fmtInt(iterations)} iterations (${fmtInt(totals.runs)} klv runs in one process), ${result.machine.cpu}, Node ${result.machine.node}, commit ${result.machine.commit}`);
    console.log(`  rows exported ${fmtInt(totals.exported)}, imported ${fmtInt(totals.imported)} (${fmtInt(totals.rejected)} rejected; ${totals.importExit3} imports exited 3), klv retries ${fmtInt(totals.retries)}, emulator requests ${requests ? fmtInt(requests.total) : 'n/a'}`);
    console.log(`  faults injected (rate ${o.faults}): ${injected}`);
    console.log(line('klv RSS', klvRss));
    console.log(line('klv heapUsed', klvHeap));
    console.log(line('klv heapTotal', klvHeapTotal));
    console.log(line('klv external', klvExternal));
    console.log(line('emulator RSS', emuRss));
    if (result.activeResourcesAfterIteration) {
      const a = result.activeResourcesAfterIteration;
      console.log(`  active handles after an iteration: first ${a.first}, last ${a.last}, max ${a.max}`);
    }
    if (heapAfterGc.length) {
      const at = (i) => mb(heapAfterGc[i]);
      console.log(`  heapUsed after a forced GC (--expose-gc, diagnostic): iteration 1 ${at(0)} MB, iteration ${Math.ceil(heapAfterGc.length / 2)} ${at(Math.ceil(heapAfterGc.length / 2) - 1)} MB, iteration ${heapAfterGc.length} ${at(heapAfterGc.length - 1)} MB`);
    }
    for (const n of notes) console.log(`  note: ${n}`);
    if (failure) console.log(`FAIL: ${failure}`);
    else if (!flat) console.log(`FAIL: klv's RSS grew: ${w.label[1]} ${klvRss.lastMB} MB > ${MAX_RATIO} x ${w.label[0]} ${klvRss.referenceMB} MB`);
    else console.log(`PASS: klv's ${w.label[1]} average RSS is ${klvRss.ratio.toFixed(3)} x its ${w.label[0]} (at most ${MAX_RATIO})`);
  }
  process.exit(pass ? 0 : 1);
}

main().catch((err) => fail(err.stack ?? String(err)));
