/**
 * Fault injection: a chosen fraction of /api requests fail the way real networks and servers do,
 * so that klv's retries, resumes and "unknown outcome" handling are exercised:
 *
 *   500, 502, 503   answered with that status and a JSON:API error (nothing changes)
 *   drop            the connection is destroyed before the request is handled (nothing changes)
 *   drop-after      the request IS handled (the account changes), then the connection is destroyed
 *                   without a response: the worst case for a write
 *   slow            handled, then the response is delayed by `slowMs`
 *   429             starts a storm: for `stormMs` every /api request is answered 429 `throttled`
 *                   with Retry-After = the storm's remaining whole seconds (at least 1); the
 *                   request that starts it is the first one answered so
 *
 * Each request outside a storm draws a hit with probability `rate` from a seeded PRNG; a hit takes
 * the next kind of the configured list, round-robin, so a run with at least as many faults as
 * kinds sees every kind. Requests inside a storm are answered 429 without drawing.
 *
 * Bulk import jobs draw from a second seeded stream (`jobFailRate`), so turning job faults on does
 * not shift which requests fail. Pure logic: the server turns a decision into a response.
 */
import { hash32, hashString } from '../store/prng.js';

export const FAULT_KINDS = ['500', '502', '503', 'drop', 'drop-after', 'slow', '429'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Today's behaviour when no kinds are given: server errors and dropped connections. */
export const DEFAULT_FAULT_KINDS: readonly FaultKind[] = ['500', '502', '503', 'drop'];
export const DEFAULT_SLOW_MS = 1_500;
export const DEFAULT_STORM_MS = 2_000;
/** Upper bound of slowMs and stormMs: longer would only hang a test run. */
export const MAX_FAULT_MS = 600_000;

export interface FaultSettings {
  /** Fraction (0..1) of /api requests that get a fault. */
  rate: number;
  /** The kinds handed out in turn (at least one, no repeats). */
  kinds: readonly FaultKind[];
  /** How long a `slow` response is held back. */
  slowMs: number;
  /** How long a 429 storm lasts. */
  stormMs: number;
  /** Fraction (0..1) of profile bulk import jobs that end `cancelled` half-way. */
  jobFailRate: number;
}

/** What the injector counts: one per fault kind, plus requests throttled inside storms and cancelled jobs. */
export type InjectedCounts = Record<FaultKind | 'throttled' | 'job-cancelled', number>;

export interface FaultReport extends FaultSettings {
  injected: InjectedCounts;
}

/** What happens to one /api request. */
export type FaultDecision =
  | { kind: '500' | '502' | '503' }
  | { kind: 'drop' }
  | { kind: 'drop-after' }
  | { kind: 'slow'; delayMs: number }
  /** `storm` is true for the request that started it, false for those answered inside it. */
  | { kind: '429'; storm: boolean; retryAfterSeconds: number };

/** mulberry32: tiny, fast, and good enough to spread faults evenly. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Thrown for a setting out of range; the message names the field and what it accepts. */
export class FaultSettingError extends RangeError {
  readonly field: keyof FaultSettings;
  constructor(field: keyof FaultSettings, message: string) {
    super(message);
    this.name = 'FaultSettingError';
    this.field = field;
  }
}

export interface FaultInjectorOptions extends Partial<FaultSettings> {
  seed: number;
  /** Milliseconds since the epoch; storms are measured with it (inject a fake clock in tests). */
  now?: () => number;
}

export class FaultInjector {
  #rate: number;
  #kinds: readonly FaultKind[];
  #slowMs: number;
  #stormMs: number;
  #jobFailRate: number;
  /** Index into #kinds of the next hit's kind. */
  #nextKind = 0;
  /** Clock time the current storm ends; a storm is on while now < this. */
  #stormEndsAt = -Infinity;
  readonly #requestRandom: () => number;
  readonly #jobRandom: () => number;
  readonly #now: () => number;
  #injected: InjectedCounts = zeroCounts();

  constructor(options: FaultInjectorOptions) {
    this.#rate = checkFraction('rate', options.rate ?? 0);
    this.#kinds = checkKinds(options.kinds ?? DEFAULT_FAULT_KINDS);
    this.#slowMs = checkMs('slowMs', options.slowMs ?? DEFAULT_SLOW_MS);
    this.#stormMs = checkMs('stormMs', options.stormMs ?? DEFAULT_STORM_MS);
    this.#jobFailRate = checkFraction('jobFailRate', options.jobFailRate ?? 0);
    // Same stream as before kinds existed, so a seed keeps choosing the same requests.
    this.#requestRandom = mulberry32(options.seed);
    this.#jobRandom = mulberry32(hash32(options.seed, hashString('job-faults')));
    this.#now = options.now ?? Date.now;
  }

  get rate(): number {
    return this.#rate;
  }

  set rate(rate: number) {
    this.#rate = checkFraction('rate', rate);
  }

  get kinds(): readonly FaultKind[] {
    return this.#kinds;
  }

  get jobFailRate(): number {
    return this.#jobFailRate;
  }

  get slowMs(): number {
    return this.#slowMs;
  }

  get stormMs(): number {
    return this.#stormMs;
  }

  /** Ends a 429 storm under way at once (tests that need a long one do not wait it out). */
  endStorm(): void {
    this.#stormEndsAt = -Infinity;
  }

  /**
   * Changes the fields given, after checking all of them (nothing changes when one is invalid).
   * New kinds restart the round-robin at the first of them.
   */
  update(settings: Partial<FaultSettings>): void {
    const rate = settings.rate === undefined ? this.#rate : checkFraction('rate', settings.rate);
    const kinds = settings.kinds === undefined ? undefined : checkKinds(settings.kinds);
    const slowMs = settings.slowMs === undefined ? this.#slowMs : checkMs('slowMs', settings.slowMs);
    const stormMs = settings.stormMs === undefined ? this.#stormMs : checkMs('stormMs', settings.stormMs);
    const jobFailRate = settings.jobFailRate === undefined ? this.#jobFailRate : checkFraction('jobFailRate', settings.jobFailRate);
    this.#rate = rate;
    if (kinds) {
      this.#kinds = kinds;
      this.#nextKind = 0;
    }
    this.#slowMs = slowMs;
    this.#stormMs = stormMs;
    this.#jobFailRate = jobFailRate;
  }

  /** The fault for the next /api request, or null. Draws once per request outside storms. */
  next(): FaultDecision | null {
    const now = this.#now();
    if (now < this.#stormEndsAt) {
      this.#injected.throttled += 1;
      return { kind: '429', storm: false, retryAfterSeconds: wholeSecondsLeft(this.#stormEndsAt - now) };
    }
    if (this.#requestRandom() >= this.#rate) return null;
    const kind = this.#kinds[this.#nextKind % this.#kinds.length]!;
    this.#nextKind = (this.#nextKind + 1) % this.#kinds.length;
    this.#injected[kind] += 1;
    switch (kind) {
      case 'slow':
        return { kind, delayMs: this.#slowMs };
      case '429':
        this.#stormEndsAt = now + this.#stormMs;
        return { kind, storm: true, retryAfterSeconds: wholeSecondsLeft(this.#stormMs) };
      default:
        return { kind };
    }
  }

  /**
   * Whether the profile bulk import job being created ends `cancelled` half-way. Call once per
   * job that is accepted (after validation), so a refused request does not use up a draw. Draws
   * even at rate 0, so changing the rate does not shift the draws of later jobs.
   */
  nextJobFails(): boolean {
    const fails = this.#jobRandom() < this.#jobFailRate;
    if (fails) this.#injected['job-cancelled'] += 1;
    return fails;
  }

  /** Settings and counts, as GET /_emulator/faults answers them. */
  report(): FaultReport {
    return {
      rate: this.#rate,
      kinds: [...this.#kinds],
      slowMs: this.#slowMs,
      stormMs: this.#stormMs,
      jobFailRate: this.#jobFailRate,
      injected: { ...this.#injected },
    };
  }

  /** Zeroes the counts (the settings and the PRNG streams go on). */
  clearCounts(): void {
    this.#injected = zeroCounts();
  }
}

function zeroCounts(): InjectedCounts {
  return { '500': 0, '502': 0, '503': 0, drop: 0, 'drop-after': 0, slow: 0, '429': 0, throttled: 0, 'job-cancelled': 0 };
}

/** Retry-After for a storm with `ms` left: whole seconds, rounded up, at least 1. */
function wholeSecondsLeft(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

export function isFaultKind(value: unknown): value is FaultKind {
  return typeof value === 'string' && (FAULT_KINDS as readonly string[]).includes(value);
}

/**
 * Parses a comma list of kinds (`500,drop,slow`) or `all`; throws a FaultSettingError naming
 * the unknown kind and the allowed ones.
 */
export function parseFaultKinds(text: string): FaultKind[] {
  const trimmed = text.trim();
  if (trimmed === 'all') return [...FAULT_KINDS];
  return checkKinds(trimmed.split(',').map((k) => k.trim()));
}

export function checkKinds(kinds: readonly unknown[]): FaultKind[] {
  if (!Array.isArray(kinds) || kinds.length === 0) {
    throw new FaultSettingError('kinds', `fault kinds must be a non-empty list of ${FAULT_KINDS.join(', ')}`);
  }
  for (const kind of kinds) {
    if (!isFaultKind(kind)) {
      throw new FaultSettingError('kinds', `unknown fault kind '${String(kind)}'; allowed: ${FAULT_KINDS.join(', ')} (or all)`);
    }
  }
  // A repeated kind would silently weigh the round-robin; refuse it rather than guess.
  const unique = new Set(kinds);
  if (unique.size !== kinds.length) {
    throw new FaultSettingError('kinds', `fault kinds must not repeat, got ${kinds.join(',')}`);
  }
  return [...(kinds as FaultKind[])];
}

export function checkFraction(field: 'rate' | 'jobFailRate', value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    const what = field === 'rate' ? 'fault rate' : 'job fault rate (jobFailRate)';
    throw new FaultSettingError(field, `${what} must be a number from 0 to 1, got ${JSON.stringify(value) ?? String(value)}`);
  }
  return value;
}

export function checkMs(field: 'slowMs' | 'stormMs', value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_FAULT_MS) {
    throw new FaultSettingError(field, `${field} must be a whole number of milliseconds from 0 to ${MAX_FAULT_MS}, got ${JSON.stringify(value) ?? String(value)}`);
  }
  return value;
}

/** Kept for callers of the old API: the rate check alone. */
export function checkRate(rate: number): number {
  return checkFraction('rate', rate);
}
