/**
 * Driving the emulator's fault injection over its admin endpoint (GET/POST /_emulator/faults), and
 * counting what it injected during one's own runs (a delta of its counters), for the fault-matrix
 * tests. Acting on a running klv mid-way is in midway.ts.
 */
import { emulatorAdmin } from './emulator.js';

/** Every fault kind the emulator injects (see src/emulator/http/faults.ts). */
export const ALL_FAULT_KINDS = ['500', '502', '503', 'drop', 'drop-after', 'slow', '429'] as const;
export type FaultKind = (typeof ALL_FAULT_KINDS)[number];

export interface FaultSettings {
  rate?: number;
  kinds?: readonly FaultKind[];
  slowMs?: number;
  stormMs?: number;
  jobFailRate?: number;
}

/** How many of each kind were injected, plus `throttled` (requests answered 429 inside storms) and `job-cancelled`. */
export type FaultCounts = Record<string, number>;

export interface FaultReport extends Required<FaultSettings> {
  injected: FaultCounts;
}

/** Changes the running emulator's fault injection (only the fields given). */
export function setFaults(url: string, settings: FaultSettings): Promise<FaultReport> {
  return emulatorAdmin<FaultReport>(url, 'POST', '/_emulator/faults', settings);
}

/** The emulator's fault settings and how many faults of each kind it has injected since it started. */
export function getFaults(url: string): Promise<FaultReport> {
  return emulatorAdmin<FaultReport>(url, 'GET', '/_emulator/faults');
}

/**
 * What the emulator at `url` injects while `run` runs: its counters after, less its counters
 * before. A test checks the faults its own runs met with this, never the counters other tests
 * left (the emulator counts from its start, whatever ran before).
 */
export async function faultsDuring<T>(url: string, run: () => Promise<T>): Promise<{ result: T; injected: FaultCounts }> {
  const before = await getFaults(url);
  const result = await run();
  const after = await getFaults(url);
  return { result, injected: faultDelta(before.injected, after.injected) };
}

/** `after - before`, kind by kind. */
export function faultDelta(before: FaultCounts, after: FaultCounts): FaultCounts {
  const out: FaultCounts = {};
  for (const [kind, n] of Object.entries(after)) out[kind] = n - (before[kind] ?? 0);
  return out;
}

/** Adds `more` into `total`, kind by kind (a tally over several runs of one test). */
export function addFaults(total: FaultCounts, more: FaultCounts): FaultCounts {
  for (const [kind, n] of Object.entries(more)) total[kind] = (total[kind] ?? 0) + n;
  return total;
}

/** The kinds of `kinds` that `counts` holds none of. */
export function kindsMissing(counts: FaultCounts, kinds: readonly string[]): string[] {
  return kinds.filter((kind) => !((counts[kind] ?? 0) > 0));
}

/**
 * What the runs of a fault matrix met, each run measured by its own test (faultsDuring), for the
 * claims about the matrix as a whole that no single run can promise (a 429 storm catching
 * requests in flight depends on what else was in flight). The file checks them in its afterAll
 * once every scenario has added its counts, in whatever order they ran; when a filter ran only
 * some of them, there is no matrix to make a claim about.
 */
export class FaultTally {
  readonly counts: FaultCounts = {};
  readonly #added = new Set<string>();

  constructor(readonly scenarios: readonly string[]) {}

  /** Adds one scenario's counts (its own runs' delta; extra counters of the file's own allowed). */
  add(scenario: string, counts: FaultCounts): void {
    if (!this.scenarios.includes(scenario)) throw new Error(`unknown scenario '${scenario}': the tally expects ${this.scenarios.join(', ')}`);
    addFaults(this.counts, counts);
    this.#added.add(scenario);
  }

  /** Whether every scenario added its counts. */
  get complete(): boolean {
    return this.scenarios.every((s) => this.#added.has(s));
  }
}
