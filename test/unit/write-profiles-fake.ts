/**
 * A small fake of Klaviyo's profile endpoints behind undici's MockAgent, for the Profiles and
 * Events handler tests: profiles found by `any(field,[...])` filters, bulk import jobs that
 * move queued -> processing -> complete on successive GETs and then apply their upserts, with
 * configurable import errors and request refusals, and jobs that stop part-way (`cancelled` or
 * `failed`, having imported only the first half of their profiles, as Klaviyo's can). Every
 * request is recorded.
 */
import { MockAgent } from 'undici';
import { FakeClock } from '../../src/core/clock.js';
import { Secret } from '../../src/core/secret.js';
import { KlaviyoClient } from '../../src/klaviyo/client.js';
import type { ImportOptions, ImportRow, WriteContext } from '../../src/objects/write/types.js';

export const ORIGIN = 'https://a.klaviyo.com';
const JSON_API = { 'content-type': 'application/vnd.api+json' };

export interface Call {
  method: string;
  path: string;
  query: Record<string, string>;
  body: any;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface FakeProfile {
  id: string;
  attributes: Record<string, any>;
}

export interface FakeJob {
  id: string;
  profiles: any[];
  lists: string[];
  createdAt: string;
  polls: number;
  status: string;
  /** Where the job ends: `complete`, or `cancelled`/`failed` after importing only the first half. */
  endStatus: string;
  errors: Array<{ index?: number; code: string; detail: string; pointer?: string | null; payload?: unknown }>;
}

/** Values of `any(field,['a','b'])` / `equals(field,'a')`. */
export function parseFilter(filter: string): { field: string; values: string[] } {
  const m = /^(?:any|equals)\(([\w.]+),\[?(.*?)\]?\)$/.exec(filter);
  if (!m) throw new Error(`fake Klaviyo cannot parse filter ${filter}`);
  const values: string[] = [];
  const re = /'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g;
  for (let v = re.exec(m[2]); v; v = re.exec(m[2])) values.push((v[1] ?? v[2]).replace(/\\(.)/g, '$1'));
  return { field: m[1], values };
}

export class FakeKlaviyo {
  readonly agent = new MockAgent({ enableCallHistory: false });
  readonly clock = new FakeClock({ autoAdvance: true, start: Date.UTC(2026, 0, 1, 12, 0, 0, 500) });
  readonly client: KlaviyoClient;
  readonly calls: Call[] = [];
  readonly profiles: FakeProfile[] = [];
  readonly jobs = new Map<string, FakeJob>();
  /** GETs a job answers before it is complete. */
  pollsBeforeComplete = 2;
  /** Overrides: return a reply to answer a request yourself, undefined to let the fake do it. */
  override?: (call: Call) => Reply | undefined;
  /** Import errors for the next job, by the position of the profile in it (pointer or payload). */
  nextJobErrors: FakeJob['errors'] = [];
  /** How the next jobs end, one entry per job created (then `complete`). */
  nextJobEnds: string[] = [];
  #seq = 0;

  constructor() {
    this.agent.disableNetConnect();
    this.client = new KlaviyoClient({
      baseUrl: ORIGIN,
      apiKey: new Secret('pk_test_profiles_handler_0123456789'),
      revision: '2026-07-15',
      userAgent: 'klv/test',
      dispatcher: this.agent,
      clock: this.clock,
      random: () => 0.5,
      rateLimits: 'off',
      maxRetries: 0,
    });
    this.agent
      .get(ORIGIN)
      .intercept({ path: () => true, method: () => true })
      .reply((opts) => {
        const url = new URL(opts.path, ORIGIN);
        const call: Call = {
          method: opts.method,
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          body: opts.body ? JSON.parse(String(opts.body)) : undefined,
        };
        this.calls.push(call);
        const r = this.override?.(call) ?? this.handle(call);
        return { statusCode: r.status, data: r.body === undefined ? '' : JSON.stringify(r.body), responseOptions: { headers: { ...JSON_API, ...r.headers } } };
      })
      .persist();
  }

  ctx(options: ImportOptions = {}, signal: AbortSignal = new AbortController().signal): WriteContext & { lines: string[] } {
    const lines: string[] = [];
    return { client: this.client, signal, options, clock: this.clock, debug: (l) => lines.push(l), lines };
  }

  addProfile(id: string, attributes: Record<string, any>, created = '2025-06-01T00:00:00+00:00'): FakeProfile {
    const p = { id, attributes: { created, ...attributes } };
    this.profiles.push(p);
    return p;
  }

  writes(): Call[] {
    return this.calls.filter((c) => c.method !== 'GET');
  }

  callsTo(method: string, path: string | RegExp): Call[] {
    return this.calls.filter((c) => c.method === method && (typeof path === 'string' ? c.path === path : path.test(c.path)));
  }

  #now(): string {
    return new Date(this.clock.now()).toISOString().replace('Z', '+00:00');
  }

  #find(field: string, value: string): FakeProfile[] {
    return this.profiles.filter((p) => (field === 'id' ? p.id === value : p.attributes[field] === value));
  }

  #upsert(resource: any): FakeProfile {
    const a = resource.attributes ?? {};
    const existing =
      (resource.id && this.#find('id', resource.id)[0]) ||
      (a.email && this.#find('email', a.email)[0]) ||
      (a.phone_number && this.#find('phone_number', a.phone_number)[0]) ||
      (a.external_id && this.#find('external_id', a.external_id)[0]);
    const merge = (target: Record<string, any>, src: Record<string, any>) => {
      for (const [k, v] of Object.entries(src)) {
        if (v && typeof v === 'object' && !Array.isArray(v)) target[k] = merge({ ...(target[k] ?? {}) }, v);
        else target[k] = v;
      }
      return target;
    };
    if (existing) {
      merge(existing.attributes, a);
      return existing;
    }
    return this.addProfile(`P${++this.#seq}`, merge({}, a), this.#now());
  }

  handle(call: Call): Reply {
    const { method, path } = call;
    if (method === 'GET' && path === '/api/profiles') {
      const { field, values } = parseFilter(call.query.filter);
      const data = this.profiles.filter((p) => values.includes(field === 'id' ? p.id : p.attributes[field]));
      return { status: 200, body: { data: data.map((p) => ({ type: 'profile', id: p.id, attributes: p.attributes })), links: { next: null } } };
    }
    if (method === 'POST' && path === '/api/profile-bulk-import-jobs') {
      const id = `JOB${++this.#seq}`;
      const job: FakeJob = {
        id,
        profiles: call.body.data.attributes.profiles.data,
        lists: (call.body.data.relationships?.lists?.data ?? []).map((l: any) => l.id),
        createdAt: this.#now(),
        polls: 0,
        status: 'queued',
        endStatus: this.nextJobEnds.shift() ?? 'complete',
        errors: this.nextJobErrors,
      };
      this.nextJobErrors = [];
      this.jobs.set(id, job);
      return { status: 202, body: { data: this.#jobResource(job) } };
    }
    const jobGet = /^\/api\/profile-bulk-import-jobs\/([^/]+)$/.exec(path);
    if (method === 'GET' && jobGet) {
      const job = this.jobs.get(jobGet[1])!;
      job.polls += 1;
      if (job.status !== job.endStatus && job.polls >= this.pollsBeforeComplete) {
        const bad = new Set(job.errors.map((e) => e.index));
        job.profiles.slice(0, this.#reached(job)).forEach((p, i) => {
          if (!bad.has(i)) this.#upsert(p);
        });
        job.status = job.endStatus;
      } else if (job.status === 'queued') job.status = 'processing';
      return { status: 200, body: { data: this.#jobResource(job) } };
    }
    const errorsGet = /^\/api\/profile-bulk-import-jobs\/([^/]+)\/import-errors$/.exec(path);
    if (method === 'GET' && errorsGet) {
      const job = this.jobs.get(errorsGet[1])!;
      return {
        status: 200,
        body: {
          data: job.errors.map((e, n) => ({
            type: 'import-error',
            id: `E${n}`,
            attributes: {
              code: e.code,
              title: 'Invalid input',
              detail: e.detail,
              source: e.pointer === null ? {} : { pointer: e.pointer ?? `/data/attributes/profiles/data/${e.index}/attributes/email` },
              original_payload: e.payload ?? (e.index !== undefined ? job.profiles[e.index]?.attributes : null),
            },
          })),
          links: { next: null },
        },
      };
    }
    if (method === 'POST' && path === '/api/profile-import') {
      const before = this.profiles.length;
      const p = this.#upsert(call.body.data);
      for (const [k, v] of Object.entries(call.body.data.attributes)) if (v === null) delete p.attributes[k];
      return { status: this.profiles.length > before ? 201 : 200, body: { data: { type: 'profile', id: p.id, attributes: p.attributes } } };
    }
    const patch = /^\/api\/profiles\/([^/]+)$/.exec(path);
    if (method === 'PATCH' && patch) {
      const p = this.#find('id', patch[1])[0];
      if (!p) return { status: 404, body: { errors: [{ id: 'e', status: 404, code: 'not_found', title: 'Not found', detail: `A profile with id ${patch[1]} does not exist.` }] } };
      Object.assign(p.attributes, call.body.data.attributes);
      return { status: 200, body: { data: { type: 'profile', id: p.id, attributes: p.attributes } } };
    }
    if (method === 'POST' && /^\/api\/lists\/[^/]+\/relationships\/profiles$/.test(path)) return { status: 204 };
    if (method === 'POST' && path === '/api/event-bulk-create-jobs') return { status: 202 };
    return { status: 501, body: { errors: [{ id: 'x', code: 'not_implemented', title: 'fake', detail: `${method} ${path}` }] } };
  }

  /** Profiles the job gets to: all, or the first half of a job that stops part-way. */
  #reached(job: FakeJob): number {
    return job.endStatus === 'complete' ? job.profiles.length : Math.floor(job.profiles.length / 2);
  }

  #jobResource(job: FakeJob) {
    const done = job.status === job.endStatus;
    return {
      type: 'profile-bulk-import-job',
      id: job.id,
      attributes: {
        status: job.status,
        created_at: job.createdAt,
        total_count: job.profiles.length,
        completed_count: done ? this.#reached(job) - job.errors.length : 0,
        failed_count: done ? job.errors.length : 0,
      },
      links: { self: `${ORIGIN}/api/profile-bulk-import-jobs/${job.id}` },
    };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

export function row(rowNumber: number, values: Record<string, unknown>): ImportRow {
  return { rowNumber, values };
}

export function refusal(detail: string, pointer?: string, code = 'invalid'): Reply {
  return { status: 400, body: { errors: [{ id: 'r', status: 400, code, title: 'Invalid input.', detail, source: pointer ? { pointer } : {} }] } };
}
