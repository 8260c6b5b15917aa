/**
 * Quirks: real-world behaviours of Klaviyo's API and of the CDN in front of it that the spec
 * does not describe, switchable one by one so that klv's readers and writers can be tested
 * against them. This module holds which quirks are on (parsing and validating the settings) and
 * the per-request decisions; the transformations themselves are small pure functions in
 * quirk-*.ts, and server.ts calls them in its pipeline.
 *
 * Two kinds:
 *   transient   drawn per eligible request with the quirk's rate (default 0.2). Each one has its
 *               own PRNG stream, seeded from the emulator seed and the quirk's name, and every
 *               stream draws once per /api request that reaches the fault decision, whether the
 *               quirk is on, and whether the request is eligible for it, or not: turning one quirk
 *               on (or changing its rate) never changes which requests another one hits, and a
 *               run with the same seed and settings hits the same requests.
 *   structural  always applied where it applies, while on (rate 1).
 */
import { hash32, hashString } from '../store/prng.js';
import { mulberry32 } from './faults.js';

interface QuirkInfo {
  kind: 'transient' | 'structural';
  /** One line for help texts and error messages. */
  summary: string;
}

export const QUIRKS = {
  'html-200': { kind: 'transient', summary: 'the edge answers 200 with an HTML page (request not handled)' },
  'truncated-json': { kind: 'transient', summary: 'a 2xx JSON body cut in half (request handled)' },
  'empty-200': { kind: 'transient', summary: 'a 2xx JSON answer becomes 200 with an empty body (request handled)' },
  'unsorted-pages': { kind: 'structural', summary: 'pages slightly out of order, also across page boundaries' },
  'inclusive-bounds': { kind: 'structural', summary: 'greater-than and less-than filters also match the bound' },
  'no-retry-after': { kind: 'structural', summary: '429s without Retry-After, saying "Expected available in 0 seconds."' },
  'repeat-cursor': { kind: 'transient', summary: 'links.next names the page just served' },
  'expired-cursor': { kind: 'transient', summary: 'a page[cursor] request answered 400: the cursor is invalid or has expired' },
  'cf-challenge': { kind: 'transient', summary: "Cloudflare's 403 challenge page (request not handled)" },
  'klaviyo-host-links': { kind: 'structural', summary: 'every link names https://a.klaviyo.com instead of the emulator' },
  microseconds: { kind: 'structural', summary: 'datetimes with six fraction digits and +00:00' },
  'space-datetimes': { kind: 'structural', summary: "some datetimes as 'YYYY-MM-DD HH:MM:SS' (no T)" },
  'archived-flows-hidden': { kind: 'structural', summary: 'GET /api/flows leaves archived flows out unless the filter names archived' },
} as const satisfies Record<string, QuirkInfo>;

export type QuirkName = keyof typeof QUIRKS;
export type TransientQuirk = { [K in QuirkName]: (typeof QUIRKS)[K]['kind'] extends 'transient' ? K : never }[QuirkName];

export const QUIRK_NAMES = Object.keys(QUIRKS) as QuirkName[];
export const TRANSIENT_QUIRKS = QUIRK_NAMES.filter((n) => QUIRKS[n].kind === 'transient') as TransientQuirk[];
/** The rate of a transient quirk switched on without one. */
export const DEFAULT_QUIRK_RATE = 0.2;

/** Quirk name -> rate (0..1; structural quirks 1). A quirk not listed, or at 0, is off. */
export type QuirkRates = Partial<Record<QuirkName, number>>;

/** The ways a caller may give quirks: `html-200=0.5,unsorted-pages`, or an object name -> rate / true / false. */
export type QuirkSettings = string | Partial<Record<QuirkName, number | boolean>>;

/** A refused quirk setting; `field` names the quirk (or `quirks` for the list as a whole). */
export class QuirkSettingError extends RangeError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'QuirkSettingError';
    this.field = field;
  }
}

export function isQuirkName(value: unknown): value is QuirkName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(QUIRKS, value);
}

export function isTransient(name: QuirkName): name is TransientQuirk {
  return QUIRKS[name].kind === 'transient';
}

/** "valid quirks: html-200, ... (transient: NAME or NAME=RATE; structural: NAME)", for error messages. */
export function validQuirksHint(): string {
  const transient = QUIRK_NAMES.filter(isTransient);
  const structural = QUIRK_NAMES.filter((n) => !isTransient(n));
  return `valid quirks: ${transient.join(', ')} (transient: NAME or NAME=RATE, rate 0 to 1, default ${DEFAULT_QUIRK_RATE}); ${structural.join(', ')} (structural: NAME, on or off)`;
}

function unknownQuirk(name: string): QuirkSettingError {
  return new QuirkSettingError(name, `unknown quirk '${name}'; ${validQuirksHint()}`);
}

/**
 * Parses the command-line form: a comma list of `name` or `name=RATE`. An empty list means no
 * quirks. Structural quirks take no rate other than 1; names may not repeat.
 */
export function parseQuirkList(text: string): QuirkRates {
  const rates: QuirkRates = {};
  if (text.trim() === '') return rates;
  for (const item of text.split(',')) {
    const entry = item.trim();
    if (entry === '') throw new QuirkSettingError('quirks', `empty entry in the quirk list '${text}'; give NAME or NAME=RATE separated by commas`);
    const eq = entry.indexOf('=');
    const name = (eq < 0 ? entry : entry.slice(0, eq)).trim();
    if (!isQuirkName(name)) throw unknownQuirk(name);
    if (name in rates) throw new QuirkSettingError(name, `quirk '${name}' is given twice`);
    if (eq < 0) {
      rates[name] = isTransient(name) ? DEFAULT_QUIRK_RATE : 1;
      continue;
    }
    const rateText = entry.slice(eq + 1).trim();
    const rate = /^(?:\d+(?:\.\d*)?|\.\d+)$/.test(rateText) ? Number(rateText) : NaN;
    if (isTransient(name)) {
      rates[name] = checkRate(name, rate, rateText);
    } else if (rate !== 1) {
      throw new QuirkSettingError(name, `'${name}' is a structural quirk (on or off) and takes no rate; give it as '${name}', not '${entry}'`);
    } else {
      rates[name] = 1;
    }
  }
  return rates;
}

/**
 * Settings given as an object (startEmulator's option, the body of POST /_emulator/quirks): for
 * each named quirk, true (on, at the default rate when transient), false or 0 (off), or a rate
 * (transient: 0..1; structural: 0 or 1). Returns the new rate of each quirk named (0 = off).
 */
export function quirkChangesFrom(given: unknown): QuirkRates {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new QuirkSettingError('quirks', `quirk settings must be an object of quirk name -> rate, true or false; ${validQuirksHint()}`);
  }
  const changes: QuirkRates = {};
  for (const [name, value] of Object.entries(given as Record<string, unknown>)) {
    if (!isQuirkName(name)) throw unknownQuirk(name);
    if (value === true) changes[name] = isTransient(name) ? DEFAULT_QUIRK_RATE : 1;
    else if (value === false) changes[name] = 0;
    else if (isTransient(name)) changes[name] = checkRate(name, value, JSON.stringify(value) ?? String(value));
    else if (value === 0 || value === 1) changes[name] = value;
    else throw new QuirkSettingError(name, `'${name}' is a structural quirk: give true or 1 (on), false or 0 (off), got ${JSON.stringify(value) ?? String(value)}`);
  }
  return changes;
}

/** Either accepted form (string or object) as rates; quirks not named are off. */
export function quirkRatesFrom(settings: QuirkSettings | undefined): QuirkRates {
  if (settings === undefined) return {};
  const rates = typeof settings === 'string' ? parseQuirkList(settings) : quirkChangesFrom(settings);
  for (const name of Object.keys(rates) as QuirkName[]) if (rates[name] === 0) delete rates[name];
  return rates;
}

function checkRate(name: QuirkName, value: unknown, written: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new QuirkSettingError(name, `the rate of '${name}' must be a number from 0 to 1 (the fraction of eligible requests), got ${written === '' ? 'nothing' : written}`);
  }
  return value;
}

/** What GET /_emulator/quirks answers: the quirks that are on, and how often each one changed an answer. */
export interface QuirkReport {
  quirks: QuirkRates;
  injected: Record<QuirkName, number>;
}

/** The transient quirks that hit one request (before eligibility: the pipeline checks that). */
export type QuirkDraw = ReadonlySet<TransientQuirk>;

export class QuirkSet {
  #rates: QuirkRates;
  readonly #streams: Map<TransientQuirk, () => number>;
  #injected: Record<QuirkName, number> = zeroCounts();

  constructor(options: { seed: number; quirks?: QuirkSettings }) {
    this.#rates = quirkRatesFrom(options.quirks);
    this.#streams = new Map(TRANSIENT_QUIRKS.map((name) => [name, mulberry32(hash32(options.seed, hashString(`quirk:${name}`)))]));
  }

  /** Whether a quirk is on (a transient one at a rate above 0). */
  on(name: QuirkName): boolean {
    return (this.#rates[name] ?? 0) > 0;
  }

  /** Applies changes (name -> new rate, 0 = off); all are checked by the caller (quirkChangesFrom). */
  update(changes: QuirkRates): void {
    const next = { ...this.#rates };
    for (const name of Object.keys(changes) as QuirkName[]) {
      const rate = changes[name]!;
      if (rate > 0) next[name] = rate;
      else delete next[name];
    }
    this.#rates = next;
  }

  /**
   * One draw of every transient quirk for one /api request; returns those that hit. Every stream
   * advances once per call, whatever the rates, so that quirks do not shift each other.
   */
  draw(): QuirkDraw {
    const hits = new Set<TransientQuirk>();
    for (const [name, random] of this.#streams) {
      if (random() < (this.#rates[name] ?? 0)) hits.add(name);
    }
    return hits;
  }

  /** Counts a quirk that changed an answer. */
  count(name: QuirkName): void {
    this.#injected[name] += 1;
  }

  report(): QuirkReport {
    const quirks: QuirkRates = {};
    for (const name of QUIRK_NAMES) if (this.on(name)) quirks[name] = this.#rates[name];
    return { quirks, injected: { ...this.#injected } };
  }
}

function zeroCounts(): Record<QuirkName, number> {
  return Object.fromEntries(QUIRK_NAMES.map((n) => [n, 0])) as Record<QuirkName, number>;
}
