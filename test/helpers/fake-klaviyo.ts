/**
 * A small in-memory Klaviyo behind undici's MockAgent, for the import handler tests (Profiles,
 * Events, ListMembers, ListSubscribe, PeopleExclusions): profiles in Klaviyo's shape, found by
 * `equals`/`any` filters (read with the emulator's own filter parser); lists and their members;
 * bulk jobs (profile import, suppression) that go queued -> processing -> their end over the
 * polls and then apply what they reached; subscription jobs, push tokens, single profile imports
 * and PATCHes. It answers what these handlers ask, the way Klaviyo's spec says; every request klv
 * sends is recorded, and checked against the OpenAPI spec when the spec is there (`violations`):
 * a request Klaviyo would refuse fails the test that sent it, when it ends. Make it inside a test.
 *
 * Faults are injected per test: `override` answers a request instead of the fake, `nextJobErrors`
 * and `nextJobEnds` shape the next jobs (import errors; `cancelled` or `failed` after importing
 * the first half, as Klaviyo's can), `jobPolls` slows jobs down, `suppressionSkips` leaves
 * addresses unchanged by a complete job.
 */
import type { MockAgent } from 'undici';
import { expect, onTestFinished } from 'vitest';
import type { FakeClock } from '../../src/core/clock.js';
import { parseFilter as parseKlaviyoFilter } from '../../src/emulator/http/filter-parser.js';
import type { KlaviyoClient, KlaviyoClientOptions } from '../../src/klaviyo/client.js';
import type { ImportOptions, WriteContext } from '../../src/objects/write/types.js';
import { JSON_API, mockKlaviyo, ORIGIN, writeContext } from './mock-klaviyo.js';
import { loadSpec } from './spec.js';
import { operationFor, validateRequest } from './spec-validator.js';

export { ORIGIN };

/** A profile as Klaviyo stores it; email suppressions live at attributes.subscriptions. */
export interface FakeProfile {
  id: string;
  attributes: Record<string, any>;
}

/** What addProfile takes: the profile's attributes, and optionally its id and email suppressions. */
export type ProfileFields = Record<string, any> & { id?: string; suppression?: Suppression[] };

export interface Suppression {
  reason: string;
  timestamp: string;
}

export interface FakeList {
  id: string;
  optIn: 'single_opt_in' | 'double_opt_in';
  members: Set<string>;
}

export interface FakeRequest {
  /** The spec's operation (null without the spec, or for a path Klaviyo does not have). */
  operationId: string | null;
  method: string;
  path: string;
  query: Record<string, string>;
  body: any;
}

export interface Reply {
  status: number;
  body?: unknown;
  /** Headers beside the JSON:API content type (a 429's Retry-After, say). */
  headers?: Record<string, string>;
}

export interface JobError {
  /** The position in the job of the profile it is about (absent: none). */
  index?: number;
  code: string;
  detail: string;
  /** Its source pointer (default: that profile's email; null: no source). */
  pointer?: string | null;
  /** Its original_payload (default: that profile's attributes). */
  payload?: unknown;
}

export interface FakeJob {
  id: string;
  type: string;
  status: string;
  /**
   * Where the job ends: `complete`, or `cancelled`/`failed` after applying only the first half;
   * `processing` is a job that never ends.
   */
  end: string;
  createdAt: string;
  /** Polls left before the next status. */
  polls: number;
  errors: JobError[];
  /** What the job was given (profiles, emails), and how many of them it applied. */
  entries: any[];
  applied: number;
  /** Applies the job's first `count` items. */
  apply: (count: number) => void;
  /** The attributes of its resource beyond status and created_at. */
  attributes: () => Record<string, unknown>;
}

export interface FakeKlaviyoOptions {
  /** The FakeClock's start (default 2026-01-01T12:00:00.500Z). */
  clockStart?: number;
  /** Client options over the fake's (rate limits off, revision 2026-07-15, no retries). */
  client?: Partial<KlaviyoClientOptions>;
}

/** `any(field,['a','b'])` or `equals(field,'a')`: the field and its values (the emulator's parser reads it). */
export function parseFilter(filter: string): { field: string; values: string[] } {
  const node = parseKlaviyoFilter(filter);
  if (node.kind !== 'condition' || (node.operator !== 'any' && node.operator !== 'equals')) {
    throw new Error(`the fake Klaviyo answers only equals(...) and any(...) lookups, not ${filter}`);
  }
  const values = Array.isArray(node.value) ? node.value : [node.value];
  return { field: node.field, values: values.map((v) => String(v)) };
}

export class FakeKlaviyo {
  readonly client: KlaviyoClient;
  readonly clock: FakeClock;
  readonly agent: MockAgent;
  readonly profiles: FakeProfile[] = [];
  readonly lists = new Map<string, FakeList>();
  readonly jobs = new Map<string, FakeJob>();
  readonly requests: FakeRequest[] = [];
  /** Requests that do not match Klaviyo's spec (operation: messages). */
  readonly violations: string[] = [];
  readonly pushTokens: { profileId: string; token: string; platform: string; vendor: string }[] = [];
  readonly subscribeJobs: any[] = [];
  readonly unsubscribeJobs: any[] = [];
  /** Answers a request instead of the fake: a reply, or undefined to let the fake answer. */
  override?: (req: FakeRequest) => Reply | undefined;
  /** Polls a job takes per status step (queued -> processing -> its end). */
  jobPolls = 1;
  /** Import errors of the next profile import job. */
  nextJobErrors: JobError[] = [];
  /** How the next jobs end, one entry per job created (then `complete`): see FakeJob.end. */
  nextJobEnds: string[] = [];
  /** Addresses complete suppression jobs leave unchanged. */
  readonly suppressionSkips = new Set<string>();
  readonly #counters = new Map<string, number>();
  readonly #checked = loadSpec() !== null;

  constructor(o: FakeKlaviyoOptions = {}) {
    const mock = mockKlaviyo({
      clockStart: o.clockStart ?? Date.UTC(2026, 0, 1, 12, 0, 0, 500),
      client: { revision: '2026-07-15', rateLimits: 'off', maxRetries: 0, ...o.client },
    });
    this.agent = mock.agent;
    this.client = mock.client;
    this.clock = mock.clock;
    mock.pool
      .intercept({ path: () => true, method: () => true })
      .reply((opts) => {
        const url = new URL(String(opts.path), ORIGIN);
        const req: FakeRequest = {
          operationId: this.#checked ? operationFor(opts.method, url.pathname) : null,
          method: opts.method,
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          body: opts.body ? JSON.parse(String(opts.body)) : undefined,
        };
        this.requests.push(req);
        if (this.#checked) this.#check(req, opts.headers as Record<string, string>);
        const reply = this.override?.(req) ?? this.handle(req);
        return { statusCode: reply.status, data: reply.body === undefined ? '' : JSON.stringify(reply.body), responseOptions: { headers: { ...JSON_API, ...reply.headers } } };
      })
      .persist();
    onTestFinished(() => expect(this.violations, "requests that break Klaviyo's spec").toEqual([]));
  }

  /** The context the handlers run in; `lines` collects their debug lines. */
  ctx(options: ImportOptions = {}, signal?: AbortSignal): WriteContext & { lines: string[] } {
    return writeContext(this.client, this.clock, options, signal);
  }

  static error(status: number, code: string, detail: string, pointer?: string, meta?: Record<string, unknown>): Reply {
    return {
      status,
      body: { errors: [{ id: 'e1', status, code, title: 'Error', detail, source: pointer ? { pointer } : {}, ...(meta ? { meta } : {}) }] },
    };
  }

  // --- the account -------------------------------------------------------------------------

  addProfile(fields: ProfileFields): FakeProfile {
    const { id, suppression, ...attributes } = fields;
    const p: FakeProfile = { id: id ?? this.#nextId('P'), attributes: { created: '2025-06-01T00:00:00+00:00', ...attributes } };
    if (suppression) setSuppression(p, suppression);
    this.profiles.push(p);
    return p;
  }

  addList(id: string, optIn: FakeList['optIn'] = 'single_opt_in', members: FakeProfile[] = []): FakeList {
    const list = { id, optIn, members: new Set(members.map((m) => m.id)) };
    this.lists.set(id, list);
    return list;
  }

  profile(id: string): FakeProfile | undefined {
    return this.profiles.find((p) => p.id === id);
  }

  byEmail(email: string): FakeProfile | undefined {
    return this.profiles.find((p) => typeof p.attributes.email === 'string' && p.attributes.email.toLowerCase() === email.toLowerCase());
  }

  /** A profile's email marketing suppressions. */
  suppression(id: string): Suppression[] {
    return this.profile(id)?.attributes.subscriptions?.email?.marketing?.suppression ?? [];
  }

  // --- what klv sent ------------------------------------------------------------------------

  /** Requests of one operation. */
  sent(operationId: string): FakeRequest[] {
    return this.requests.filter((r) => r.operationId === operationId);
  }

  /** Requests of one method to a path (or paths matching). */
  callsTo(method: string, path: string | RegExp): FakeRequest[] {
    return this.requests.filter((r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path)));
  }

  /** Write requests (anything but GET). */
  writes(): FakeRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  // --- answering ----------------------------------------------------------------------------

  handle(req: FakeRequest): Reply {
    const p = req.path.replace(/\/$/, '');
    const { method } = req;
    let m: RegExpExecArray | null;
    if (method === 'GET' && p === '/api/profiles') {
      const { field, values } = parseFilter(req.query.filter ?? '');
      const subscriptions = req.query['additional-fields[profile]'] === 'subscriptions';
      return this.#page(this.profiles.filter((x) => matches(x, field, values)).map((x) => this.#resource(x, subscriptions)));
    }
    if ((m = /^\/api\/lists\/([^/]+)$/.exec(p)) && method === 'GET') {
      const list = this.lists.get(m[1]!);
      if (!list) return FakeKlaviyo.error(404, 'not_found', `A list with id ${m[1]} does not exist.`);
      const self = { self: `${ORIGIN}/api/lists/${list.id}/` };
      return { status: 200, body: { data: { type: 'list', id: list.id, attributes: { name: `List ${list.id}`, opt_in_process: list.optIn }, links: self }, links: self } };
    }
    if ((m = /^\/api\/lists\/([^/]+)\/profiles$/.exec(p)) && method === 'GET') {
      const list = this.lists.get(m[1]!);
      if (!list) return FakeKlaviyo.error(404, 'not_found', `A list with id ${m[1]} does not exist.`);
      const { field, values } = parseFilter(req.query.filter ?? '');
      return this.#page([...list.members].map((id) => this.profile(id)!).filter((x) => matches(x, field, values)).map((x) => this.#resource(x, false)));
    }
    if ((m = /^\/api\/profiles\/([^/]+)\/relationships\/lists$/.exec(p)) && method === 'GET') {
      const id = m[1]!;
      return { status: 200, body: { data: [...this.lists.values()].filter((l) => l.members.has(id)).map((l) => ({ type: 'list', id: l.id })), links: { self: `${ORIGIN}/x` } } };
    }
    if ((m = /^\/api\/lists\/([^/]+)\/relationships\/profiles$/.exec(p)) && (method === 'POST' || method === 'DELETE')) {
      const list = this.lists.get(m[1]!);
      if (!list) return FakeKlaviyo.error(404, 'not_found', `A list with id ${m[1]} does not exist.`);
      const ids: string[] = req.body.data.map((d: { id: string }) => d.id);
      const bad = ids.findIndex((id) => !this.profile(id));
      if (bad >= 0) return FakeKlaviyo.error(400, 'invalid', `Profile ${ids[bad]} does not exist.`, `/data/${bad}/id`);
      for (const id of ids) {
        if (method === 'POST') list.members.add(id);
        else list.members.delete(id);
      }
      return { status: 204 };
    }
    if ((m = /^\/api\/profiles\/([^/]+)$/.exec(p)) && method === 'PATCH') {
      const profile = this.profile(m[1]!);
      if (!profile) return FakeKlaviyo.error(404, 'not_found', `A profile with id ${m[1]} does not exist.`);
      const phone = req.body.data.attributes.phone_number;
      const other = phone ? this.profiles.find((x) => x.id !== profile.id && x.attributes.phone_number === phone) : undefined;
      if (other) return FakeKlaviyo.error(409, 'duplicate_profile', 'A profile already exists with one of these identifiers.', '/data/attributes', { duplicate_profile_id: other.id });
      Object.assign(profile.attributes, req.body.data.attributes);
      return { status: 200, body: { data: this.#resource(profile, false), links: { self: `${ORIGIN}/api/profiles/${profile.id}/` } } };
    }
    if (p === '/api/profile-import' && method === 'POST') {
      const before = this.profiles.length;
      const profile = this.#upsert(req.body.data);
      for (const [k, v] of Object.entries(req.body.data.attributes)) if (v === null) delete profile.attributes[k];
      return { status: this.profiles.length > before ? 201 : 200, body: { data: this.#resource(profile, false) } };
    }
    if (p === '/api/push-tokens' && method === 'POST') {
      const a = req.body.data.attributes;
      this.pushTokens.push({ profileId: a.profile.data.id, token: a.token, platform: a.platform, vendor: a.vendor });
      return { status: 202 };
    }
    if (p === '/api/profile-bulk-import-jobs' && method === 'POST') return this.#profileImportJob(req);
    if ((m = /^\/api\/profile-bulk-import-jobs\/([^/]+)$/.exec(p)) && method === 'GET') return this.#poll(m[1]!);
    if ((m = /^\/api\/profile-bulk-import-jobs\/([^/]+)\/import-errors$/.exec(p)) && method === 'GET') return this.#importErrors(m[1]!);
    if (p === '/api/profile-subscription-bulk-create-jobs' && method === 'POST') {
      this.subscribeJobs.push(req.body);
      return { status: 202 };
    }
    if (p === '/api/profile-subscription-bulk-delete-jobs' && method === 'POST') {
      this.unsubscribeJobs.push(req.body);
      return { status: 202 };
    }
    if ((m = /^\/api\/profile-suppression-bulk-(create|delete)-jobs$/.exec(p)) && method === 'POST') return this.#suppressionJob(req, m[1] === 'create');
    if ((m = /^\/api\/profile-suppression-bulk-(create|delete)-jobs\/([^/]+)$/.exec(p)) && method === 'GET') return this.#poll(m[2]!);
    if (p === '/api/event-bulk-create-jobs' && method === 'POST') return { status: 202 };
    return FakeKlaviyo.error(501, 'not_implemented', `The fake does not serve ${method} ${p}`);
  }

  // --- jobs ---------------------------------------------------------------------------------

  #job(type: string, entries: any[], apply: (count: number) => void, attributes: () => Record<string, unknown>, errors: JobError[] = []): FakeJob {
    const job: FakeJob = {
      id: this.#nextId('JOB'),
      type,
      status: 'queued',
      end: this.nextJobEnds.shift() ?? 'complete',
      createdAt: this.#now(),
      polls: this.jobPolls,
      errors,
      entries,
      applied: 0,
      apply,
      attributes,
    };
    this.jobs.set(job.id, job);
    return job;
  }

  #jobDocument(job: FakeJob, status = 200): Reply {
    const self = { self: `${ORIGIN}/api/${job.type}s/${job.id}` };
    const attributes = { status: job.status, created_at: job.createdAt, ...job.attributes() };
    return { status, body: { data: { type: job.type, id: job.id, attributes, links: self }, links: self } };
  }

  /** A GET of a job: it moves one poll on, and applies what it reached when it ends. */
  #poll(id: string): Reply {
    const job = this.jobs.get(id);
    if (!job) return FakeKlaviyo.error(404, 'not_found', `A job with id ${id} does not exist.`);
    if (job.status !== job.end) {
      job.polls -= 1;
      if (job.polls <= 0) {
        job.polls = this.jobPolls;
        if (job.status === 'queued') job.status = 'processing';
        else {
          // A job that stops part-way has applied its first half, as Klaviyo's can.
          job.applied = job.end === 'complete' ? job.entries.length : Math.floor(job.entries.length / 2);
          job.apply(job.applied);
          job.status = job.end;
        }
      }
    }
    return this.#jobDocument(job);
  }

  #profileImportJob(req: FakeRequest): Reply {
    const entries: any[] = req.body.data.attributes.profiles.data;
    const listIds: string[] = (req.body.data.relationships?.lists?.data ?? []).map((l: { id: string }) => l.id);
    const errors = this.nextJobErrors;
    this.nextJobErrors = [];
    const refused = new Set(errors.map((e) => e.index));
    const job = this.#job(
      'profile-bulk-import-job',
      entries,
      (count) => {
        entries.slice(0, count).forEach((entry, i) => {
          if (refused.has(i)) return;
          const profile = this.#upsert(entry);
          for (const id of listIds) this.lists.get(id)?.members.add(profile.id);
        });
      },
      () => {
        const done = job.status === job.end;
        return { total_count: entries.length, completed_count: done ? job.applied - errors.length : 0, failed_count: done ? errors.length : 0 };
      },
      errors,
    );
    return this.#jobDocument(job, 202);
  }

  #importErrors(id: string): Reply {
    const job = this.jobs.get(id);
    if (!job) return FakeKlaviyo.error(404, 'not_found', `A job with id ${id} does not exist.`);
    return this.#page(
      job.errors.map((e, n) => ({
        type: 'import-error',
        id: `E${n + 1}`,
        attributes: {
          code: e.code,
          title: 'Invalid input.',
          detail: e.detail,
          source: e.pointer === null ? {} : { pointer: e.pointer ?? `/data/attributes/profiles/data/${e.index}/attributes/email` },
          original_payload: e.payload ?? (e.index !== undefined ? job.entries[e.index]?.attributes : null),
        },
      })),
    );
  }

  #suppressionJob(req: FakeRequest, create: boolean): Reply {
    const emails: string[] = req.body.data.attributes.profiles.data.map((d: { attributes: { email: string } }) => d.attributes.email);
    let completed = 0;
    const job = this.#job(
      create ? 'profile-suppression-bulk-create-job' : 'profile-suppression-bulk-delete-job',
      emails,
      (count) => {
        for (const email of emails.slice(0, count)) {
          if (this.suppressionSkips.has(email)) continue;
          const profile = this.byEmail(email) ?? (create ? this.addProfile({ email }) : undefined);
          if (!profile) continue;
          const list = this.suppression(profile.id);
          if (create && !list.some((s) => s.reason === 'USER_SUPPRESSED')) list.push({ reason: 'USER_SUPPRESSED', timestamp: '2026-01-01T00:00:00+00:00' });
          setSuppression(profile, create ? list : list.filter((s) => s.reason !== 'USER_SUPPRESSED'));
          completed += 1;
        }
      },
      () => ({ total_count: emails.length, completed_count: completed, skipped_count: 0 }),
    );
    return this.#jobDocument(job, 202);
  }

  // --- helpers ------------------------------------------------------------------------------

  #check(req: FakeRequest, headers: Record<string, string>): void {
    if (!req.operationId) {
      this.violations.push(`${req.method} ${req.path}: no such Klaviyo operation`);
      return;
    }
    const problems = validateRequest(req.operationId, { method: req.method, path: req.path, query: req.query, headers, body: req.body });
    for (const problem of problems) this.violations.push(`${req.operationId}: ${problem}`);
  }

  /** Finds the profile a resource names (by id, then email, phone, external id) and merges into it, or creates it. */
  #upsert(resource: { id?: string; attributes?: Record<string, any> }): FakeProfile {
    const a = resource.attributes ?? {};
    const existing =
      (resource.id && this.profile(resource.id)) ||
      (a.email && this.byEmail(a.email)) ||
      (a.phone_number && this.profiles.find((p) => p.attributes.phone_number === a.phone_number)) ||
      (a.external_id && this.profiles.find((p) => p.attributes.external_id === a.external_id)) ||
      undefined;
    if (existing) {
      deepMerge(existing.attributes, a);
      return existing;
    }
    const { created: _ignored, ...given } = a;
    return this.addProfile({ ...deepMerge({}, given), created: this.#now() });
  }

  #resource(p: FakeProfile, subscriptions: boolean): Record<string, unknown> {
    const { subscriptions: subs, ...attributes } = p.attributes;
    const withSubscriptions = subscriptions ? { ...attributes, subscriptions: subs ?? { email: { marketing: { suppression: [] } } } } : attributes;
    return { type: 'profile', id: p.id, attributes: withSubscriptions, links: { self: `${ORIGIN}/api/profiles/${p.id}/` } };
  }

  #page(data: unknown[]): Reply {
    return { status: 200, body: { data, links: { self: `${ORIGIN}/x`, next: null } } };
  }

  #now(): string {
    return new Date(this.clock.now()).toISOString().replace('Z', '+00:00');
  }

  /** `P1`, `P2`, `JOB1`...: a counter per prefix, skipping ids a test gave itself. */
  #nextId(prefix: string): string {
    for (;;) {
      const n = (this.#counters.get(prefix) ?? 0) + 1;
      this.#counters.set(prefix, n);
      const id = `${prefix}${n}`;
      if (!this.profile(id) && !this.jobs.has(id)) return id;
    }
  }
}

function matches(p: FakeProfile, field: string, values: string[]): boolean {
  const v = field === 'id' ? p.id : p.attributes[field];
  return v !== undefined && v !== null && values.includes(String(v));
}

function setSuppression(p: FakeProfile, suppression: Suppression[]): void {
  p.attributes.subscriptions = { ...p.attributes.subscriptions, email: { marketing: { suppression } } };
}

/** Nested objects merged key by key, the rest replaced (as Klaviyo's profile import does). */
function deepMerge(target: Record<string, any>, source: Record<string, any>): Record<string, any> {
  for (const [k, v] of Object.entries(source)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) target[k] = deepMerge({ ...(target[k] ?? {}) }, v);
    else target[k] = v;
  }
  return target;
}

export function refusal(detail: string, pointer?: string, code = 'invalid'): Reply {
  return FakeKlaviyo.error(400, code, detail, pointer);
}

/** A fake and what the handlers need from it: the context (its debug lines too) and its abort. */
export interface FakeKlaviyoRun {
  fake: FakeKlaviyo;
  client: KlaviyoClient;
  clock: FakeClock;
  ctx: WriteContext;
  debug: string[];
  abort: AbortController;
}

export function fakeKlaviyoRun(options: ImportOptions = {}, fakeOptions: FakeKlaviyoOptions = {}): FakeKlaviyoRun {
  const fake = new FakeKlaviyo(fakeOptions);
  const abort = new AbortController();
  const ctx = fake.ctx(options, abort.signal);
  return { fake, client: fake.client, clock: fake.clock, ctx, debug: ctx.lines, abort };
}
