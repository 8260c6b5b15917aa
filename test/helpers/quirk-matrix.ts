/**
 * The quirk matrix (issue 12): klv against a Klaviyo that misbehaves the way the real one does.
 * This module holds the table of cases, what each behaviour needs from the emulator, the
 * emulator's control over its admin endpoints, and the klv runner; the command runners
 * (quirk-export.ts, quirk-replicate.ts, quirk-sync.ts, quirk-import.ts) play each case and hand
 * their observations to the checker (quirk-checks.ts).
 *
 * One emulator process per test file, a moderate demo account, quirks switched between cases
 * with POST /_emulator/quirks, and the account put back with POST /_emulator/load of the state it
 * started with when a case wrote to it (a reset would rebuild the demo account with today's
 * clock, moving every timestamp the replica and sync baselines were built from).
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'vitest';
import { QUIRK_NAMES, type QuirkName } from '../../src/emulator/http/quirks.js';
import type { AccountSnapshot } from '../../src/emulator/store/types.js';
import { cleanEnv, REPO_ROOT, runKlv, type RunResult } from './cli.js';
import { spawnEmulator, type EmulatorProcess } from './emulator.js';
import { waitUntil } from './midway.js';
import type { Outcome, Verdict } from './quirk-checks.js';

// ---------------------------------------------------------------------------------------------
// The cases

export type Quirk = QuirkName;
/** The quirks, plus a 429 whose Retry-After is past what klv waits (KLV_MAX_RETRY_AFTER). */
export type Behaviour = Quirk | 'retry-after-ceiling';
export type Command = 'export' | 'replicate' | 'sync' | 'import';
/**
 * complete   exit 0, every record exactly once, values as Klaviyo's;
 * fails      exit 1 (import: 1 or 3), a message naming the cause, nothing touched;
 * accounted  an import of creates that are not safe to send again: either complete, or exit 3
 *            with the rows whose answer was damaged logged `unknown_outcome` (how many depends on
 *            which requests the quirk hits); the invariants decide.
 */
export type Expectation = 'complete' | 'fails' | 'accounted';

export interface MatrixCase {
  behaviour: Behaviour;
  /** A transient quirk's rate; null for structural quirks (on or off). */
  rate: number | null;
  command: Command;
  /** What the command works on: see each runner's targets. */
  target: string;
  expect: Expectation;
}

/**
 * Moderate rates: klv's retries (5 after a damaged answer, 3 after an edge block) must absorb
 * them, with a chance of a request failing every try below 1 in 10,000 per run. A short run
 * (an import of profiles is a handful of requests) gets a higher rate so that it meets the
 * quirk at all; playCase plays a case again until it did.
 */
const SOME = 0.1;
const SOME_CHALLENGES = 0.03;
const SHORT_RUN = 0.2;

/* prettier-ignore */
const TABLE: Array<[Behaviour, number | null, Command, string, Expectation]> = [
  // behaviour               rate             command      target                  expect
  ['html-200',               SOME,            'export',    'profiles',             'complete'],
  ['html-200',               1,               'export',    'profiles',             'fails'],
  ['truncated-json',         SOME,            'export',    'profiles',             'complete'],
  ['truncated-json',         1,               'export',    'profiles',             'fails'],
  ['empty-200',              SOME,            'export',    'profiles',             'complete'],
  ['empty-200',              1,               'export',    'profiles',             'fails'],
  ['cf-challenge',           SOME_CHALLENGES, 'export',    'profiles',             'complete'],
  ['cf-challenge',           1,               'export',    'profiles',             'fails'],
  ['repeat-cursor',          1,               'export',    'profiles',             'fails'],
  ['repeat-cursor',          1,               'export',    'email-templates',      'fails'],
  ['expired-cursor',         SOME,            'export',    'profiles',             'complete'],
  ['expired-cursor',         SOME,            'export',    'email-templates',      'complete'],
  ['expired-cursor',         1,               'export',    'profiles',             'fails'],
  ['expired-cursor',         1,               'export',    'email-templates',      'fails'],
  ['unsorted-pages',         null,            'export',    'profiles',             'complete'],
  ['unsorted-pages',         null,            'export',    'email-templates',      'complete'],
  ['inclusive-bounds',       null,            'export',    'profiles',             'complete'],
  ['no-retry-after',         null,            'export',    'profiles',             'complete'],
  ['retry-after-ceiling',    null,            'export',    'profiles',             'fails'],
  ['klaviyo-host-links',     null,            'export',    'profiles',             'complete'],
  ['klaviyo-host-links',     null,            'export',    'email-templates',      'complete'],
  ['microseconds',           null,            'export',    'profiles',             'complete'],
  ['space-datetimes',        null,            'export',    'profiles',             'complete'],
  ['archived-flows-hidden',  null,            'export',    'flows',                'complete'],

  ['html-200',               SOME,            'replicate', 'all',                  'complete'],
  ['html-200',               1,               'replicate', 'profiles+templates',   'fails'],
  ['truncated-json',         SOME,            'replicate', 'all',                  'complete'],
  ['truncated-json',         1,               'replicate', 'profiles+templates',   'fails'],
  ['empty-200',              SOME,            'replicate', 'all',                  'complete'],
  ['empty-200',              1,               'replicate', 'profiles+templates',   'fails'],
  ['cf-challenge',           SOME_CHALLENGES, 'replicate', 'all',                  'complete'],
  // Each object waits out its own challenges (1 + 2 + 4 s at least): one says enough.
  ['cf-challenge',           1,               'replicate', 'profiles',             'fails'],
  ['repeat-cursor',          1,               'replicate', 'all',                  'fails'],
  ['expired-cursor',         SOME,            'replicate', 'all',                  'complete'],
  ['expired-cursor',         1,               'replicate', 'all',                  'fails'],
  ['unsorted-pages',         null,            'replicate', 'all',                  'complete'],
  ['inclusive-bounds',       null,            'replicate', 'all',                  'complete'],
  ['no-retry-after',         null,            'replicate', 'all',                  'complete'],
  ['retry-after-ceiling',    null,            'replicate', 'all',                  'fails'],
  ['klaviyo-host-links',     null,            'replicate', 'all',                  'complete'],
  ['microseconds',           null,            'replicate', 'all',                  'complete'],
  ['space-datetimes',        null,            'replicate', 'all',                  'complete'],
  ['archived-flows-hidden',  null,            'replicate', 'flows',                'complete'],

  ['html-200',               SOME,            'sync',      'email-templates',      'complete'],
  ['html-200',               1,               'sync',      'email-templates',      'fails'],
  ['truncated-json',         SOME,            'sync',      'email-templates',      'complete'],
  ['truncated-json',         1,               'sync',      'email-templates',      'fails'],
  ['empty-200',              SOME,            'sync',      'email-templates',      'complete'],
  ['empty-200',              1,               'sync',      'email-templates',      'fails'],
  ['cf-challenge',           SOME_CHALLENGES, 'sync',      'email-templates',      'complete'],
  ['cf-challenge',           1,               'sync',      'email-templates',      'fails'],
  ['repeat-cursor',          1,               'sync',      'email-templates',      'fails'],
  ['expired-cursor',         SOME,            'sync',      'email-templates',      'complete'],
  ['expired-cursor',         1,               'sync',      'email-templates',      'fails'],
  ['unsorted-pages',         null,            'sync',      'email-templates',      'complete'],
  ['no-retry-after',         null,            'sync',      'email-templates',      'complete'],
  ['retry-after-ceiling',    null,            'sync',      'email-templates',      'fails'],
  ['klaviyo-host-links',     null,            'sync',      'email-templates',      'complete'],
  ['microseconds',           null,            'sync',      'email-templates',      'complete'],
  ['space-datetimes',        null,            'sync',      'campaigns',            'complete'],

  ['html-200',               SHORT_RUN,       'import',    'profiles upsert',      'complete'],
  ['html-200',               SOME,            'import',    'lists insert',         'accounted'],
  ['html-200',               1,               'import',    'profiles upsert',      'fails'],
  ['html-200',               1,               'import',    'lists insert',         'fails'],
  ['truncated-json',         SHORT_RUN,       'import',    'profiles upsert',      'complete'],
  ['truncated-json',         SOME,            'import',    'lists insert',         'accounted'],
  ['truncated-json',         1,               'import',    'profiles upsert',      'fails'],
  ['truncated-json',         1,               'import',    'lists insert',         'fails'],
  ['empty-200',              SHORT_RUN,       'import',    'profiles upsert',      'complete'],
  ['empty-200',              SOME,            'import',    'lists insert',         'accounted'],
  ['empty-200',              1,               'import',    'profiles upsert',      'fails'],
  ['empty-200',              1,               'import',    'lists insert',         'fails'],
  // A challenged request never reached the API: klv may send even a create again.
  ['cf-challenge',           0.05,            'import',    'lists insert',         'complete'],
  ['cf-challenge',           1,               'import',    'profiles upsert',      'fails'],
  ['cf-challenge',           1,               'import',    'lists insert',         'fails'],
  ['no-retry-after',         null,            'import',    'profiles upsert',      'complete'],
  ['no-retry-after',         null,            'import',    'lists insert',         'complete'],
  ['retry-after-ceiling',    null,            'import',    'profiles upsert',      'fails'],
  ['retry-after-ceiling',    null,            'import',    'lists insert',         'fails'],
  ['klaviyo-host-links',     null,            'import',    'profiles upsert',      'complete'],
];

export const MATRIX: readonly MatrixCase[] = TABLE.map(([behaviour, rate, command, target, expect]) => ({ behaviour, rate, command, target, expect }));

/** The cases of a command; `kind` splits them (transient quirks take a rate, the rest do not). */
export function casesFor(command: Command, kind?: 'transient' | 'structural'): MatrixCase[] {
  return MATRIX.filter((c) => c.command === command && (kind === undefined || (kind === 'transient') === (c.rate !== null)));
}

export function caseTitle(c: MatrixCase): string {
  return `${c.behaviour}${c.rate === null ? '' : `=${c.rate}`} · ${c.command} ${c.target} → ${c.expect}`;
}

/** A file-name-safe name for the case's files. */
export function caseSlug(c: MatrixCase): string {
  return `${c.behaviour}-${c.rate ?? 'on'}-${c.command}-${c.target}`.replace(/[^a-z0-9.]+/gi, '_');
}

export const isDatetimeQuirk = (b: Behaviour) => b === 'microseconds' || b === 'space-datetimes';

/** What a loud failure must name, per behaviour (stderr, or an import's error log). */
export function causeOf(b: Behaviour): RegExp | null {
  switch (b) {
    case 'html-200':
      return /HTML page/;
    case 'truncated-json':
      return /cut short/;
    case 'empty-200':
      return /empty body/;
    case 'cf-challenge':
      return /blocked by Klaviyo's edge network/;
    case 'repeat-cursor':
      return /pagination does not advance/;
    case 'expired-cursor':
      return /refused the page cursor/;
    case 'retry-after-ceiling':
      return /asked klv to wait .* longer than klv waits/;
    default:
      // A structural quirk klv must absorb: its failure is judged by the case's expectation.
      return null;
  }
}

/** The ErrorCodes an import row refused under a behaviour may carry (null: not checked). */
export function errorCodesOf(b: Behaviour): string[] | null {
  switch (b) {
    case 'html-200':
    case 'truncated-json':
    case 'empty-200':
      // A create whose answer was damaged may have been applied: its outcome is unknown.
      return ['bad_response', 'unknown_outcome'];
    case 'cf-challenge':
      return ['edge_blocked'];
    case 'retry-after-ceiling':
      return ['rate_limited'];
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// What each behaviour needs from the emulator

interface Conditions {
  quirks: Partial<Record<Quirk, number | boolean>>;
  /** A 429 storm under way when klv starts (every request answered 429 for stormMs). */
  stormMs?: number;
  env?: Record<string, string>;
}

/**
 * Storms longer than klv's start-up, so that its first requests meet them. klv rides out 9 s of
 * storm (8 retries; see quick-retries.mjs), so 2 s is safely survivable when it may wait.
 */
const STORM_MS = 2_000;

function conditionsOf(c: MatrixCase): Conditions {
  if (c.behaviour === 'retry-after-ceiling') {
    // A storm far longer than klv's start-up, however loaded the machine: its Retry-After (the
    // storm's seconds left) is past a ceiling of 5 s, so klv must stop and say when to come back,
    // as with a daily cap's hours against 300 s. calm() ends the storm at once afterwards.
    return { quirks: {}, stormMs: 60_000, env: { KLV_MAX_RETRY_AFTER: '5' } };
  }
  if (c.behaviour === 'no-retry-after') return { quirks: { 'no-retry-after': true }, stormMs: STORM_MS };
  return { quirks: { [c.behaviour]: c.rate ?? true } };
}

const ALL_QUIRKS_OFF = Object.fromEntries(QUIRK_NAMES.map((q) => [q, false]));

export const API_KEY = 'pk_quirk_matrix_0123456789abcdef01';
const API_HEADERS = { authorization: `Klaviyo-API-Key ${API_KEY}`, revision: '2026-07-15' };

interface QuirkReport {
  quirks: Record<string, number>;
  injected: Record<string, number>;
}

export class MatrixEmulator {
  readonly url: string;
  readonly #process: EmulatorProcess;

  private constructor(url: string, process: EmulatorProcess) {
    this.url = url;
    this.#process = process;
  }

  static async start(o: { profiles: number; seed?: number }): Promise<MatrixEmulator> {
    const process = spawnEmulator(['--port', '0', '--rate-limits', 'off', '--profiles', String(o.profiles), '--seed', String(o.seed ?? 12)], cleanEnv());
    try {
      return new MatrixEmulator(await process.url, process);
    } catch (err) {
      await process.stop();
      throw err;
    }
  }

  stop(): Promise<void> {
    return this.#process.stop();
  }

  async #admin<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const send = () => fetch(`${this.url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    // One retry covers a kept-alive connection the emulator closed just as it was reused.
    const res = await send().catch(() => send());
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  }

  state(): Promise<AccountSnapshot> {
    return this.#admin<AccountSnapshot>('GET', '/_emulator/state');
  }

  async load(snapshot: AccountSnapshot): Promise<void> {
    await this.#admin('POST', '/_emulator/load', snapshot);
  }

  /** A GET of Klaviyo's API, as any client sends it. */
  async api(pathAndQuery: string): Promise<{ status: number; body: any }> {
    const res = await fetch(new URL(pathAndQuery, this.url), { headers: API_HEADERS });
    const text = await res.text();
    return { status: res.status, body: text === '' ? null : JSON.parse(text) };
  }

  /**
   * Every resource of a collection read page by page by this test, not by klv: under a datetime
   * quirk, the values as Klaviyo renders them (the reference klv's output must equal).
   */
  async read(path: string, query: Record<string, string>): Promise<Map<string, Record<string, unknown>>> {
    const out = new Map<string, Record<string, unknown>>();
    let next: string | undefined = `${path}?${new URLSearchParams(query)}`;
    for (let page = 0; next; page++) {
      if (page > 1000) throw new Error(`${path}: more than 1000 pages`);
      const { status, body } = await this.api(next);
      if (status !== 200) throw new Error(`GET ${next} answered ${status}: ${JSON.stringify(body).slice(0, 300)}`);
      for (const r of body.data) out.set(r.id, r.attributes);
      next = body.links?.next ?? undefined;
    }
    return out;
  }

  async #quirkReport(): Promise<QuirkReport> {
    return this.#admin<QuirkReport>('GET', '/_emulator/quirks');
  }

  /**
   * Runs `fn` with the case's behaviour switched on, then switches everything off again and
   * waits for any storm to end. `exercised` says whether the behaviour changed at least one
   * answer: a case whose quirk never hit proves nothing.
   */
  async under<T>(c: MatrixCase, fn: (env: Record<string, string>) => Promise<T>): Promise<{ value: T; exercised: boolean }> {
    const conditions = conditionsOf(c);
    const hits = () => this.#hits(c);
    const before = await hits();
    await this.#admin('POST', '/_emulator/quirks', { ...ALL_QUIRKS_OFF, ...conditions.quirks });
    try {
      if (conditions.stormMs !== undefined) await this.#startStorm(conditions.stormMs);
      const value = await fn(conditions.env ?? {});
      // Counted before calm(), whose own requests may meet the end of a storm.
      return { value, exercised: (await hits()) > before };
    } finally {
      await this.calm();
    }
  }

  /** How many answers the case's behaviour has changed so far. */
  async #hits(c: MatrixCase): Promise<number> {
    if (c.behaviour === 'archived-flows-hidden') {
      // klv always names archived in its filter, so the quirk changes no answer: what counts is that flows were read.
      return (await this.#admin<{ byOperation: Record<string, number> }>('GET', '/_emulator/requests')).byOperation.get_flows ?? 0;
    }
    if (c.behaviour === 'retry-after-ceiling') {
      // Requests answered 429 inside a storm (the one that started it is counted apart).
      return (await this.#admin<{ injected: Record<string, number> }>('GET', '/_emulator/faults')).injected.throttled ?? 0;
    }
    return (await this.#quirkReport()).injected[c.behaviour] ?? 0;
  }

  /** Starts a storm now (the next /api request starts it), then stops drawing new ones. */
  async #startStorm(stormMs: number): Promise<void> {
    await this.#admin('POST', '/_emulator/faults', { rate: 1, kinds: ['429'], stormMs });
    const { status } = await this.api('/api/accounts');
    await this.#admin('POST', '/_emulator/faults', { rate: 0 });
    if (status !== 429) throw new Error(`the emulator did not start a 429 storm (GET /api/accounts answered ${status})`);
  }

  /** Every quirk off, no faults, and no storm under way. */
  async calm(): Promise<void> {
    await this.#admin('POST', '/_emulator/quirks', ALL_QUIRKS_OFF);
    await this.#admin('POST', '/_emulator/faults', { rate: 0 });
    await this.#admin('DELETE', '/_emulator/storm');
    await waitUntil(async () => (await this.api('/api/accounts')).status !== 429, 'the 429 storm to end', 15_000);
  }
}

// ---------------------------------------------------------------------------------------------
// Running klv

const QUICK_RETRIES = pathToFileURL(resolve(REPO_ROOT, 'test/helpers/quick-retries.mjs')).href;

export interface MatrixContext {
  root: string;
  emulator: MatrixEmulator;
  /** The account as the emulator started with it; put back after cases that change it. */
  initial: AccountSnapshot;
  /** Runs klv (this checkout's, or `bin`) against the emulator, in `root`. */
  klv(args: string[], o?: { env?: Record<string, string>; bin?: string }): Promise<RunResult>;
  close(): Promise<void>;
}

export async function startMatrix(o: { name: string; profiles: number }): Promise<MatrixContext> {
  const root = realpathSync(mkdtempSync(join(tmpdir(), `klv-quirks-${o.name}-`)));
  const emulator = await MatrixEmulator.start({ profiles: o.profiles });
  const initial = await emulator.state();
  const klv = async (args: string[], k: { env?: Record<string, string>; bin?: string } = {}) => {
    const r = await runKlv(args, {
      cwd: root,
      env: cleanEnv({ HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), KLAVIYO_BASE_URL: emulator.url, KLAVIYO_PRIVATE_API_KEY: API_KEY, ...k.env }),
      nodeArgs: ['--import', QUICK_RETRIES],
      bin: k.bin,
      timeoutMs: 150_000,
    });
    if (r.signal) throw new Error(`klv ${args.join(' ')} was killed (${r.signal}) after the time limit; stderr:\n${r.stderr}`);
    for (const text of [r.stdout, r.stderr]) if (text.includes(API_KEY.slice(0, 16))) throw new Error(`klv printed the API key:\n${text}`);
    return r;
  };
  return {
    root,
    emulator,
    initial,
    klv,
    async close() {
      await emulator.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The verdict against the case's expectation

export interface CaseResult {
  /** Which run of the case (a replicate case may have two). */
  step: string;
  verdict: Verdict;
  /** Whether the behaviour changed an answer in this run; null for a run made without it (a resume). */
  exercised: boolean | null;
  run: RunResult;
  /** The outcomes this step may have, when not the case's expectation (a resume after a stop). */
  outcomes?: Outcome[];
}

/**
 * Fails the test unless every step is sound and has the outcome the case expects. A step its
 * behaviour changed nothing in (`exercised: false`) met a Klaviyo that behaved: it must complete.
 */
export function expectCase(c: MatrixCase, results: readonly CaseResult[]): void {
  for (const r of results) {
    const where = `${caseTitle(c)} [${r.step}]`;
    if (r.verdict.outcome === 'broken') {
      throw new Error(`${where}: klv ${r.run.code === 0 ? 'exited 0' : `exited ${r.run.code}`} and the checker found:\n- ${r.verdict.problems.join('\n- ')}`);
    }
    const expected: Outcome[] = c.expect === 'complete' ? ['complete'] : c.expect === 'fails' ? ['failed-loudly'] : ['complete', 'failed-loudly'];
    const wanted = r.outcomes ?? (r.exercised === false ? ['complete'] : expected);
    // A failure the case did not expect (or a success it did not) says what klv said.
    expect(wanted, `${where}: outcome ${r.verdict.outcome}; stderr:\n${r.run.stderr.trim().slice(-1500)}`).toContain(r.verdict.outcome);
  }
}

/**
 * Plays a case until its behaviour changed at least one answer in every step, checking every
 * play: a moderate rate may miss a short run (sync reads a few dozen pages), and a case whose
 * quirk never hit proves nothing. Each play starts from the same account and files; the
 * quirks' random streams go on from play to play, so a later play meets other hits.
 */
export async function playCase(c: MatrixCase, play: () => Promise<CaseResult[]>, maxPlays = 16): Promise<CaseResult[]> {
  for (let n = 1; ; n++) {
    const results = await play();
    expectCase(c, results);
    if (results.every((r) => r.exercised !== false)) return results;
    if (n === maxPlays) throw new Error(`${caseTitle(c)}: ${c.behaviour} changed no answer in ${maxPlays} plays, so the case proves nothing`);
  }
}
