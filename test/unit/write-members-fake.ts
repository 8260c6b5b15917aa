/**
 * A small in-memory Klaviyo behind undici's MockAgent, for the ListMembers, ListSubscribe and
 * PeopleExclusions handler tests: profiles, lists and their members, bulk import and suppression
 * jobs (queued -> processing -> complete over the polls), subscription jobs, push tokens. It
 * answers only what these handlers ask, the way Klaviyo's spec says; every request klv sends is
 * checked against the OpenAPI spec (`violations`), so a wrong body fails the test that sent it.
 *
 * Faults are injected per test with `refuse` (answer a request with an error instead).
 */
import { MockAgent } from 'undici';
import { FakeClock } from '../../src/core/clock.js';
import { Secret } from '../../src/core/secret.js';
import { KlaviyoClient } from '../../src/klaviyo/client.js';
import type { ImportOptions, ImportRow, OperationHandler, RowOutcome, WriteContext } from '../../src/objects/write/types.js';
import { operationFor, validateRequest } from '../helpers/spec-validator.js';

export const ORIGIN = 'https://a.klaviyo.com';
const JSON_API = { 'content-type': 'application/vnd.api+json' };

export interface FakeProfile {
  id: string;
  email?: string;
  phone_number?: string;
  external_id?: string;
  first_name?: string;
  last_name?: string;
  suppression?: { reason: string; timestamp: string }[];
  emailConsent?: string;
  smsConsent?: string;
}

export interface FakeList {
  id: string;
  optIn: 'single_opt_in' | 'double_opt_in';
  members: Set<string>;
}

export interface SentRequest {
  operationId: string | null;
  method: string;
  path: string;
  query: Record<string, string>;
  body: any;
}

interface Job {
  id: string;
  type: string;
  status: 'queued' | 'processing' | 'complete' | 'cancelled';
  /** Polls left before the next status. */
  polls: number;
  apply: () => void;
  attributes: () => Record<string, unknown>;
  errors: any[];
}

type Reply = { status: number; body?: unknown };

/** `any(email,['a','b'])` -> ['email', ['a','b']]; `equals(id,'x')` too. */
export function parseFilter(filter: string): [string, string[]] {
  const m = /^(any|equals)\(([\w.]+),(.*)\)$/.exec(filter);
  if (!m) throw new Error(`fake Klaviyo cannot read the filter ${filter}`);
  const values: string[] = [];
  const re = /'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g;
  let v: RegExpExecArray | null;
  while ((v = re.exec(m[3]))) values.push((v[1] ?? v[2]).replace(/\\(.)/g, '$1'));
  return [m[2], values];
}

export class FakeKlaviyo {
  readonly profiles = new Map<string, FakeProfile>();
  readonly lists = new Map<string, FakeList>();
  readonly jobs = new Map<string, Job>();
  readonly requests: SentRequest[] = [];
  /** Requests that do not match Klaviyo's spec (operation: messages). */
  readonly violations: string[] = [];
  readonly pushTokens: { profileId: string; token: string; platform: string; vendor: string }[] = [];
  readonly subscribeJobs: any[] = [];
  readonly unsubscribeJobs: any[] = [];
  /** Answer a request with this instead of handling it (undefined: handle it). */
  refuse?: (req: SentRequest) => Reply | undefined;
  /** Emails the profile import job refuses (an import error each). */
  readonly importRefuses = new Set<string>();
  /** Polls a job takes per status step. */
  jobPolls = 1;
  /** Addresses suppression jobs skip (complete, yet unchanged). */
  readonly suppressionSkips = new Set<string>();
  /** Jobs end `cancelled` instead of `complete`. */
  cancelJobs = false;
  #seq = 0;

  constructor(readonly agent: MockAgent) {
    const pool = agent.get(ORIGIN);
    for (const method of ['GET', 'POST', 'PATCH', 'DELETE']) {
      pool
        .intercept({ path: () => true, method })
        .reply((opts) => {
          const url = new URL(String(opts.path), ORIGIN);
          const body = opts.body ? JSON.parse(String(opts.body)) : undefined;
          const req: SentRequest = {
            operationId: operationFor(method, url.pathname),
            method,
            path: url.pathname,
            query: Object.fromEntries(url.searchParams),
            body,
          };
          this.requests.push(req);
          if (req.operationId) {
            const problems = validateRequest(req.operationId, {
              method,
              path: url.pathname,
              query: req.query,
              headers: opts.headers as Record<string, string>,
              body,
            });
            for (const p of problems) this.violations.push(`${req.operationId}: ${p}`);
          } else this.violations.push(`${method} ${url.pathname}: no such Klaviyo operation`);
          const reply = this.refuse?.(req) ?? this.handle(req);
          return { statusCode: reply.status, data: reply.body === undefined ? '' : JSON.stringify(reply.body), responseOptions: { headers: JSON_API } };
        })
        .persist();
    }
  }

  id(prefix: string): string {
    this.#seq += 1;
    return `${prefix}${String(this.#seq).padStart(4, '0')}`;
  }

  addProfile(p: Omit<FakeProfile, 'id'> & { id?: string }): FakeProfile {
    const profile = { ...p, id: p.id ?? this.id('P') };
    this.profiles.set(profile.id, profile);
    return profile;
  }

  addList(id: string, optIn: FakeList['optIn'] = 'single_opt_in', members: FakeProfile[] = []): FakeList {
    const list = { id, optIn, members: new Set(members.map((m) => m.id)) };
    this.lists.set(id, list);
    return list;
  }

  byEmail(email: string): FakeProfile | undefined {
    return [...this.profiles.values()].find((p) => p.email?.toLowerCase() === email.toLowerCase());
  }

  /** Requests of one operation. */
  sent(operationId: string): SentRequest[] {
    return this.requests.filter((r) => r.operationId === operationId);
  }

  /** Write requests (anything but GET). */
  writes(): SentRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  static error(status: number, code: string, detail: string, pointer?: string, meta?: Record<string, unknown>): Reply {
    return {
      status,
      body: { errors: [{ id: 'e1', status, code, title: 'Error', detail, source: pointer ? { pointer } : {}, ...(meta ? { meta } : {}) }] },
    };
  }

  #resource(p: FakeProfile, subscriptions: boolean): Record<string, unknown> {
    const attributes: Record<string, unknown> = {
      email: p.email ?? null,
      phone_number: p.phone_number ?? null,
      external_id: p.external_id ?? null,
    };
    if (subscriptions) attributes.subscriptions = { email: { marketing: { suppression: p.suppression ?? [] } } };
    return { type: 'profile', id: p.id, attributes, links: { self: `${ORIGIN}/api/profiles/${p.id}/` } };
  }

  #matches(p: FakeProfile, field: string, values: string[]): boolean {
    const v = field === 'id' ? p.id : (p as unknown as Record<string, string | undefined>)[field];
    return v !== undefined && values.includes(v);
  }

  #page(data: unknown[]): Reply {
    return { status: 200, body: { data, links: { self: `${ORIGIN}/x`, next: null } } };
  }

  #job(type: string, attributes: () => Record<string, unknown>, apply: () => void, errors: any[] = []): Job {
    const job: Job = { id: this.id('J'), type, status: 'queued', polls: this.jobPolls, apply, attributes, errors };
    this.jobs.set(job.id, job);
    return job;
  }

  #jobDoc(job: Job): Reply {
    return { status: 200, body: { data: { type: job.type, id: job.id, attributes: { status: job.status, created_at: '2026-01-01T00:00:00+00:00', ...job.attributes() }, links: { self: `${ORIGIN}/jobs/${job.id}` } }, links: { self: `${ORIGIN}/jobs/${job.id}` } } };
  }

  #advance(job: Job): void {
    if (job.status === 'complete' || job.status === 'cancelled') return;
    job.polls -= 1;
    if (job.polls > 0) return;
    job.polls = this.jobPolls;
    if (job.status === 'queued') job.status = 'processing';
    else if (this.cancelJobs) job.status = 'cancelled';
    else {
      job.apply();
      job.status = 'complete';
    }
  }

  #upsert(attrs: Record<string, string | undefined>): FakeProfile {
    const existing =
      (attrs.email && this.byEmail(attrs.email)) ||
      (attrs.external_id && [...this.profiles.values()].find((p) => p.external_id === attrs.external_id)) ||
      (attrs.phone_number && [...this.profiles.values()].find((p) => p.phone_number === attrs.phone_number)) ||
      undefined;
    if (existing) {
      Object.assign(existing, Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined)));
      return existing;
    }
    return this.addProfile({ email: attrs.email, phone_number: attrs.phone_number, external_id: attrs.external_id, first_name: attrs.first_name, last_name: attrs.last_name });
  }

  handle(req: SentRequest): Reply {
    const p = req.path.replace(/\/$/, '');
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && p === '/api/profiles') {
      const [field, values] = parseFilter(req.query.filter);
      const subs = req.query['additional-fields[profile]'] === 'subscriptions';
      return this.#page([...this.profiles.values()].filter((x) => this.#matches(x, field, values)).map((x) => this.#resource(x, subs)));
    }
    if ((m = /^\/api\/lists\/([^/]+)$/.exec(p)) && req.method === 'GET') {
      const list = this.lists.get(m[1]);
      if (!list) return FakeKlaviyo.error(404, 'not_found', `A list with id ${m[1]} does not exist.`);
      return { status: 200, body: { data: { type: 'list', id: list.id, attributes: { name: `List ${list.id}`, opt_in_process: list.optIn }, links: { self: `${ORIGIN}/api/lists/${list.id}/` } }, links: { self: `${ORIGIN}/api/lists/${list.id}/` } } };
    }
    if ((m = /^\/api\/lists\/([^/]+)\/profiles$/.exec(p)) && req.method === 'GET') {
      const list = this.lists.get(m[1]);
      if (!list) return FakeKlaviyo.error(404, 'not_found', `A list with id ${m[1]} does not exist.`);
      const [field, values] = parseFilter(req.query.filter);
      return this.#page([...list.members].map((id) => this.profiles.get(id)!).filter((x) => this.#matches(x, field, values)).map((x) => this.#resource(x, false)));
    }
    if ((m = /^\/api\/profiles\/([^/]+)\/relationships\/lists$/.exec(p)) && req.method === 'GET') {
      return { status: 200, body: { data: [...this.lists.values()].filter((l) => l.members.has(m![1])).map((l) => ({ type: 'list', id: l.id })), links: { self: `${ORIGIN}/x` } } };
    }
    if ((m = /^\/api\/lists\/([^/]+)\/relationships\/profiles$/.exec(p)) && (req.method === 'POST' || req.method === 'DELETE')) {
      const list = this.lists.get(m[1]);
      if (!list) return FakeKlaviyo.error(404, 'not_found', `A list with id ${m[1]} does not exist.`);
      const ids: string[] = req.body.data.map((d: { id: string }) => d.id);
      const bad = ids.findIndex((id) => !this.profiles.has(id));
      if (bad >= 0) return FakeKlaviyo.error(400, 'invalid', `Profile ${ids[bad]} does not exist.`, `/data/${bad}/id`);
      for (const id of ids) {
        if (req.method === 'POST') list.members.add(id);
        else list.members.delete(id);
      }
      return { status: 204 };
    }
    if ((m = /^\/api\/profiles\/([^/]+)$/.exec(p)) && req.method === 'PATCH') {
      const profile = this.profiles.get(m[1]);
      if (!profile) return FakeKlaviyo.error(404, 'not_found', 'Profile not found.');
      const phone = req.body.data.attributes.phone_number;
      const other = [...this.profiles.values()].find((x) => x.id !== profile.id && phone && x.phone_number === phone);
      if (other) return FakeKlaviyo.error(409, 'duplicate_profile', 'A profile already exists with one of these identifiers.', '/data/attributes', { duplicate_profile_id: other.id });
      Object.assign(profile, req.body.data.attributes);
      return { status: 200, body: { data: this.#resource(profile, false), links: { self: `${ORIGIN}/api/profiles/${profile.id}/` } } };
    }
    if (p === '/api/push-tokens' && req.method === 'POST') {
      const a = req.body.data.attributes;
      this.pushTokens.push({ profileId: a.profile.data.id, token: a.token, platform: a.platform, vendor: a.vendor });
      return { status: 202 };
    }
    if (p === '/api/profile-bulk-import-jobs' && req.method === 'POST') {
      const entries: { attributes: Record<string, string> }[] = req.body.data.attributes.profiles.data;
      const listIds: string[] = (req.body.data.relationships?.lists?.data ?? []).map((l: { id: string }) => l.id);
      const errors: any[] = [];
      let done = 0;
      const job = this.#job(
        'profile-bulk-import-job',
        () => ({ total_count: entries.length, completed_count: done, failed_count: errors.length }),
        () => {
          entries.forEach((e, i) => {
            if (e.attributes.email && this.importRefuses.has(e.attributes.email)) {
              errors.push({
                type: 'import-error',
                id: this.id('E'),
                attributes: { code: 'invalid', title: 'Invalid input.', detail: `Invalid email address ${e.attributes.email}`, source: { pointer: `/data/attributes/profiles/data/${i}/attributes/email` }, original_payload: e.attributes },
              });
              return;
            }
            const profile = this.#upsert(e.attributes);
            for (const id of listIds) this.lists.get(id)?.members.add(profile.id);
            done += 1;
          });
        },
        errors,
      );
      return { ...this.#jobDoc(job), status: 202 };
    }
    if ((m = /^\/api\/profile-bulk-import-jobs\/([^/]+)$/.exec(p)) && req.method === 'GET') {
      const job = this.jobs.get(m[1])!;
      this.#advance(job);
      return this.#jobDoc(job);
    }
    if ((m = /^\/api\/profile-bulk-import-jobs\/([^/]+)\/import-errors$/.exec(p)) && req.method === 'GET') {
      return this.#page(this.jobs.get(m[1])!.errors);
    }
    if (p === '/api/profile-subscription-bulk-create-jobs' && req.method === 'POST') {
      this.subscribeJobs.push(req.body);
      return { status: 202 };
    }
    if (p === '/api/profile-subscription-bulk-delete-jobs' && req.method === 'POST') {
      this.unsubscribeJobs.push(req.body);
      return { status: 202 };
    }
    if ((p === '/api/profile-suppression-bulk-create-jobs' || p === '/api/profile-suppression-bulk-delete-jobs') && req.method === 'POST') {
      const create = p.endsWith('create-jobs');
      const emails: string[] = req.body.data.attributes.profiles.data.map((d: { attributes: { email: string } }) => d.attributes.email);
      let completed = 0;
      const job = this.#job(
        create ? 'profile-suppression-bulk-create-job' : 'profile-suppression-bulk-delete-job',
        () => ({ total_count: emails.length, completed_count: completed, skipped_count: 0 }),
        () => {
          for (const email of emails) {
            if (this.suppressionSkips.has(email)) continue;
            const profile = this.byEmail(email) ?? (create ? this.addProfile({ email }) : undefined);
            if (!profile) continue;
            const list = profile.suppression ?? [];
            if (create && !list.some((s) => s.reason === 'USER_SUPPRESSED')) list.push({ reason: 'USER_SUPPRESSED', timestamp: '2026-01-01T00:00:00+00:00' });
            profile.suppression = create ? list : list.filter((s) => s.reason !== 'USER_SUPPRESSED');
            completed += 1;
          }
        },
      );
      return { ...this.#jobDoc(job), status: 202 };
    }
    if ((m = /^\/api\/profile-suppression-bulk-(create|delete)-jobs\/([^/]+)$/.exec(p)) && req.method === 'GET') {
      const job = this.jobs.get(m[2])!;
      this.#advance(job);
      return this.#jobDoc(job);
    }
    return FakeKlaviyo.error(501, 'not_implemented', `The fake does not serve ${req.method} ${p}`);
  }
}

export interface Harness {
  fake: FakeKlaviyo;
  client: KlaviyoClient;
  clock: FakeClock;
  ctx: WriteContext;
  debug: string[];
  abort: AbortController;
}

export function harness(options: ImportOptions = {}): Harness {
  const agent = new MockAgent({ enableCallHistory: true });
  agent.disableNetConnect();
  const fake = new FakeKlaviyo(agent);
  const clock = new FakeClock({ autoAdvance: true, start: Date.UTC(2026, 6, 15, 12, 0, 0) });
  const client = new KlaviyoClient({
    baseUrl: ORIGIN,
    apiKey: new Secret('pk_test_members_0123456789abcdef'),
    userAgent: 'klv/test',
    dispatcher: agent,
    clock,
    random: () => 0.5,
    rateLimits: 'off',
  });
  const debug: string[] = [];
  const abort = new AbortController();
  const ctx: WriteContext = { client, signal: abort.signal, options, clock, debug: (l) => debug.push(l) };
  return { fake, client, clock, ctx, debug, abort };
}

export const row = (rowNumber: number, values: Record<string, unknown>): ImportRow => ({ rowNumber, values });

/** As the pipeline does it: validateRow first, then the valid rows in batches of maxBatchSize. */
export async function runHandler(h: OperationHandler, rows: ImportRow[], ctx: WriteContext, batchSize = h.maxBatchSize): Promise<RowOutcome[]> {
  const out: RowOutcome[] = [];
  const valid: ImportRow[] = [];
  for (const r of rows) {
    const invalid = h.validateRow?.(r, ctx.options);
    if (invalid) out.push(invalid);
    else valid.push(r);
  }
  for (let i = 0; i < valid.length; i += batchSize) {
    const batch = valid.slice(i, i + batchSize);
    const outcomes = await h.processBatch(batch, ctx);
    if (outcomes.length !== batch.length) throw new Error(`processBatch gave ${outcomes.length} outcomes for ${batch.length} rows`);
    out.push(...outcomes);
  }
  return out.sort((a, b) => a.rowNumber - b.rowNumber);
}

/** `{row: status or code}` for compact assertions. */
export function summary(outcomes: RowOutcome[]): Record<number, string> {
  return Object.fromEntries(outcomes.map((o) => [o.rowNumber, o.ok ? o.status : `failed:${o.code}`]));
}
