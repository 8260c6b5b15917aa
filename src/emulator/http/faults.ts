/**
 * Fault injection: a chosen fraction of /api requests fail the way real networks and servers do
 * (500, 502, 503, or a connection dropped without a response), so that klv's retries are
 * exercised. A seeded PRNG picks them, so the same seed and request order give the same faults.
 */

export type Fault = { kind: 'status'; status: 500 | 502 | 503 } | { kind: 'drop' };

const FAULTS: Fault[] = [
  { kind: 'status', status: 500 },
  { kind: 'status', status: 502 },
  { kind: 'status', status: 503 },
  { kind: 'drop' },
];

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

export class FaultInjector {
  #rate: number;
  readonly #random: () => number;

  constructor(options: { rate: number; seed: number }) {
    this.#rate = checkRate(options.rate);
    this.#random = mulberry32(options.seed);
  }

  get rate(): number {
    return this.#rate;
  }

  set rate(rate: number) {
    this.#rate = checkRate(rate);
  }

  /** The fault for the next request, or null. Draws twice per request so the sequence is stable. */
  next(): Fault | null {
    const hit = this.#random();
    const pick = this.#random();
    if (hit >= this.#rate) return null;
    return FAULTS[Math.min(FAULTS.length - 1, Math.floor(pick * FAULTS.length))];
  }
}

export function checkRate(rate: number): number {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1) {
    throw new RangeError(`fault rate must be a number from 0 to 1, got ${String(rate)}`);
  }
  return rate;
}
