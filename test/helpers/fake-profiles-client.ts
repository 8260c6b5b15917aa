/**
 * A KlaviyoClient stand-in for partitioned reads of Profiles: it answers like GET /api/profiles
 * (created and updated filters with > < >= <=, equals on email, sort=created, cursor pages) from
 * an array of profiles, with every page request taking a few turns of the event loop so that
 * cursors really overlap. `paginate` keeps the real client's contract (client.ts): it skips ids
 * in `seen` and adds those it yields, and a refused cursor starts a new chain from
 * `restartQuery()` (or the first page).
 *
 * What real Klaviyo does beyond the spec can be switched on: pages out of order (`order`, applied
 * to the sorted answer of every query, so it may also repeat a row), `greater-than`/`less-than`
 * matching the bound (`inclusiveBounds`), page cursors refused (`refuse`), times shown or sorted
 * by the second.
 */
import type { KlaviyoClient, PaginateOptions } from '../../src/klaviyo/client.js';
import type { JsonApiResource } from '../../src/klaviyo/json-api.js';

export interface FakeProfile {
  id: string;
  /** `created` as Klaviyo stores and compares it. */
  ms: number;
  email: string;
  /** `updated`; default: `ms`. */
  updatedMs?: number;
  /** Microsecond digits shown after the milliseconds of `created` (Klaviyo's microseconds), if any. */
  micros?: string;
}

export interface FakeOptions {
  /**
   * How `created` is shown: with milliseconds, in whole seconds (truncated) as Klaviyo does, or
   * space-separated without a zone (`2024-01-01 10:00:00.123`), as Klaviyo shows some objects' times.
   */
  shown?: 'ms' | 'seconds' | 'space';
  /** sort=created by milliseconds, or by the second with an arbitrary order inside it. */
  sort?: 'ms' | 'second';
  /** The n-th request (1-based) fails. */
  failAt?: number;
  /** The order rows are sent in, from the sorted answer of a query (default: as sorted). */
  order?: (sorted: FakeProfile[]) => FakeProfile[];
  /** greater-than and less-than also match the bound. */
  inclusiveBounds?: boolean;
  /** Whether the n-th request (1-based), a page with a cursor, is refused as an expired cursor. */
  refuse?: (n: number) => boolean;
  /** Rows a page (default 100). */
  pageSize?: number;
}

/** Neighbours swap in pairs (0,1), (2,3) ...: every row one place out, as "slightly unsorted". */
export const swapPairs = (rows: FakeProfile[]): FakeProfile[] => {
  const out = [...rows];
  for (let i = 0; i + 1 < out.length; i += 2) [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
  return out;
};

/** As the emulator's unsorted-pages quirk: the last row of each page swaps with the next page's first. */
export const swapAtPageEdges =
  (pageSize = 100) =>
  (rows: FakeProfile[]): FakeProfile[] => {
    const out = [...rows];
    for (let i = pageSize; i < out.length; i += pageSize) [out[i - 1], out[i]] = [out[i]!, out[i - 1]!];
    return out;
  };

export class FakeProfilesClient {
  requests = 0;
  inFlight = 0;
  maxInFlight = 0;
  aborted = 0;
  /** The query of every request family: end pages, chains (not their following pages). */
  readonly queries: Record<string, string>[] = [];
  /** The most ids a `seen` set held: what a slice remembers (memory). */
  maxSeenIds = 0;
  /** Chains started again after a refused cursor: the chain's first query, and the new one. */
  readonly restarts: Array<{ from: Record<string, string>; to: Record<string, string> }> = [];
  readonly #rows: FakeProfile[];
  readonly #o: FakeOptions;

  constructor(rows: FakeProfile[], o: FakeOptions = {}) {
    this.#rows = rows;
    this.#o = o;
  }

  get client(): KlaviyoClient {
    return this as unknown as KlaviyoClient;
  }

  #resource(p: FakeProfile): JsonApiResource {
    const show = (ms: number, micros = '') => {
      const t = this.#o.shown === 'seconds' ? Math.floor(ms / 1000) * 1000 : ms;
      const text = new Date(t).toISOString().replace(/(\.\d{3})?Z$/, this.#o.shown === 'seconds' ? '+00:00' : `$1${micros}Z`);
      return this.#o.shown === 'space' ? text.replace('T', ' ').replace(/Z$/, '') : text;
    };
    return { type: 'profile', id: p.id, attributes: { created: show(p.ms, p.micros), updated: show(p.updatedMs ?? p.ms), email: p.email } };
  }

  #sorted?: FakeProfile[];

  /** Every profile in sort=created order (computed once: filtering keeps the order). */
  #inOrder(): FakeProfile[] {
    if (!this.#sorted) {
      const key = (p: FakeProfile) => (this.#o.sort === 'second' ? Math.floor(p.ms / 1000) : p.ms);
      // Inside a second, an order that has nothing to do with the milliseconds.
      const tie = (p: FakeProfile) => [...p.id].reverse().join('');
      this.#sorted = [...this.#rows].sort((a, b) => key(a) - key(b) || (tie(a) < tie(b) ? -1 : tie(a) > tie(b) ? 1 : 0));
    }
    return this.#sorted;
  }

  /** The rows a query selects, in the order they are sent. */
  #select(query: Record<string, string>): FakeProfile[] {
    const filter = query.filter ?? '';
    const inclusive = this.#o.inclusiveBounds === true;
    const tests: Array<(p: FakeProfile) => boolean> = [];
    for (const m of filter.matchAll(/(greater-than|less-than|greater-or-equal|less-or-equal)\((created|updated),([^,)]+)\)/g)) {
      const v = Date.parse(m[3]);
      const at = (p: FakeProfile) => (m[2] === 'created' ? p.ms : (p.updatedMs ?? p.ms));
      const test: Record<string, (x: number) => boolean> = {
        'greater-than': (x) => x > v || (inclusive && x === v),
        'less-than': (x) => x < v || (inclusive && x === v),
        'greater-or-equal': (x) => x >= v,
        'less-or-equal': (x) => x <= v,
      };
      tests.push((p) => test[m[1]](at(p)));
    }
    for (const m of filter.matchAll(/equals\(email,'([^']+)'\)/g)) tests.push((p) => p.email === m[1]);
    const sort = query.sort;
    const rows = (sort ? this.#inOrder() : this.#rows).filter((p) => tests.every((t) => t(p)));
    if (sort?.startsWith('-')) rows.reverse();
    return this.#o.order ? this.#o.order(rows) : rows;
  }

  async #roundTrip(signal?: AbortSignal): Promise<number> {
    this.requests += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const n = this.requests;
    try {
      // A few turns of the event loop: other cursors get to send meanwhile.
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      if (signal?.aborted) {
        this.aborted += 1;
        throw new Error('aborted');
      }
      if (this.#o.failAt === n) throw new Error(`request ${n} failed`);
      return n;
    } finally {
      this.inFlight -= 1;
    }
  }

  async request(_op: string, o: { query: Record<string, string>; signal?: AbortSignal }) {
    this.queries.push(o.query);
    await this.#roundTrip(o.signal);
    const size = Number(o.query['page[size]'] ?? 20);
    const rows = this.#select(o.query);
    return { status: 200, body: { data: rows.slice(0, size).map((p) => this.#resource(p)), links: { next: rows.length > size ? 'more' : null } } };
  }

  async *paginate(_op: string, o: PaginateOptions & { query: Record<string, string> }) {
    this.queries.push(o.query);
    const seen = o.seen ?? new Set<string>();
    const size = this.#o.pageSize ?? 100;
    let rows = this.#select(o.query);
    let offset = 0;
    let sent = 0;
    let idleRestarts = 0;
    let newSinceRestart = 0;
    for (;;) {
      const n = await this.#roundTrip(o.signal);
      if (offset > 0 && this.#o.refuse?.(n)) {
        // As the client does: a new chain, records already yielded skipped; no endless loop.
        idleRestarts = newSinceRestart > 0 ? 0 : idleRestarts + 1;
        if (idleRestarts >= 5) throw new Error('Klaviyo refused its page cursors 5 times in a row without a new record');
        newSinceRestart = 0;
        const query = (o.restartQuery?.() ?? o.query) as Record<string, string>;
        this.restarts.push({ from: o.query, to: query });
        rows = this.#select(query);
        offset = 0;
        continue;
      }
      for (const p of rows.slice(offset, offset + size)) {
        if (seen.has(p.id)) continue;
        seen.add(p.id);
        this.maxSeenIds = Math.max(this.maxSeenIds, seen.size);
        newSinceRestart += 1;
        yield this.#resource(p);
        if (o.limit !== undefined && ++sent >= o.limit) return;
      }
      offset += size;
      if (offset >= rows.length) return;
    }
  }
}

export function fakeProfile(i: number, ms: number, updatedMs?: number): FakeProfile {
  return { id: `P${String(i).padStart(8, '0')}`, ms, email: `p${i}@example.com`, updatedMs };
}

export const FAKE_START = Date.parse('2024-01-01T00:00:00Z');

/** n profiles `stepMs` apart (with a few milliseconds of noise). */
export function uniformProfiles(n: number, stepMs = 3_600_000): FakeProfile[] {
  return Array.from({ length: n }, (_, i) => fakeProfile(i, FAKE_START + i * stepMs + (i % 7) * 111));
}
