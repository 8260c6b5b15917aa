/**
 * What the emulator's write handlers share: turning a WriteRefusal into Klaviyo's error
 * document, payload-size limits, Klaviyo-style timestamps from the store's clock, and the
 * lifecycle of asynchronous jobs (queued → processing → complete).
 *
 * Jobs do their work when they are created (so the account is consistent at once and a client
 * killed right after posting a job still finds its effect), but report progress the way
 * Klaviyo's do: a new job is `queued`; each GET of it moves it one step (`processing`, then
 * `complete`), and so does the clock, one step per JOB_STEP_MS. A client must therefore poll
 * until `complete`, as it must against Klaviyo, and a test with a fake clock decides exactly
 * when that happens.
 */
import type { AccountStore, StoredResource } from '../store/types.js';
import { klaviyoTime } from '../demo-data/time.js';
import { renderResource, type JsonApiResource } from './render.js';
import { collectionSource, findOr404, listDocument, selfLink, singleDocument } from './read.js';
import { WriteRefusal } from './write-schema.js';
import type { Handler, HandlerContext, HandlerResult } from './types.js';

/** Wraps a handler so that a WriteRefusal becomes Klaviyo's error document (other errors go to the server). */
export function writeHandler(handler: Handler): Handler {
  return async (ctx) => {
    try {
      return await handler(ctx);
    } catch (err) {
      if (err instanceof WriteRefusal) return { status: err.status, body: err.document(), headers: err.headers };
      throw err;
    }
  };
}

/** The store's "now" as Klaviyo writes times (to the second, +00:00). */
export function nowIso(store: AccountStore): string {
  return klaviyoTime(store.now().getTime());
}

export const KB = 1024;
export const MB = 1024 * 1024;

/** Size of a JSON value as sent (compact JSON, UTF-8). */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

/** 413 when the request's payload is larger than the endpoint allows. */
export function checkPayloadSize(body: unknown, maxBytes: number, endpoint: string): void {
  const size = jsonBytes(body);
  if (size > maxBytes) {
    throw new WriteRefusal(413, [{
      code: 'too_large',
      detail: `The payload is ${formatBytes(size)}; ${endpoint} accepts at most ${formatBytes(maxBytes)}. Send fewer records per request.`,
    }]);
  }
}

export function formatBytes(bytes: number): string {
  if (bytes >= MB) return `${(bytes / MB).toFixed(bytes % MB === 0 ? 0 : 2)} MB`;
  if (bytes >= KB) return `${(bytes / KB).toFixed(bytes % KB === 0 ? 0 : 1)} KB`;
  return `${bytes} bytes`;
}

/** 400 when a bulk request carries more records than the endpoint takes. */
export function checkCount(count: number, max: number, what: string, pointer: string): void {
  if (count > max) {
    throw new WriteRefusal(400, [{ code: 'invalid', detail: `${count} ${what} were sent; this endpoint accepts at most ${max} per request. Split them over several requests.`, pointer }]);
  }
}

/** A single-resource document with the given status (201 on create, 200 on update). */
export function resourceDocument(ctx: HandlerContext, resource: StoredResource, status: number, drop: string[] = []): HandlerResult {
  const rendered = render(ctx, resource, drop);
  return { status, body: { data: rendered, links: { self: selfLink(ctx.url) } } };
}

/**
 * A resource as Klaviyo renders it. Relationships named in `drop` keep their links but not their
 * data: a job does not inline the 10,000 profiles it imported, they are paged at `related`.
 */
export function render(ctx: HandlerContext, resource: StoredResource, drop: string[] = []): JsonApiResource {
  const out = renderResource(resource, {
    baseUrl: ctx.baseUrl,
    fields: ctx.query.fields[resource.type],
    additional: ctx.query.additionalFields[resource.type],
  });
  for (const name of drop) {
    const rel = out.relationships?.[name];
    if (rel) out.relationships![name] = { links: rel.links };
  }
  return out;
}

// --- asynchronous jobs ---------------------------------------------------------------------

export type JobStatus = 'queued' | 'processing' | 'complete' | 'cancelled';
const STEPS: JobStatus[] = ['queued', 'processing', 'complete'];

/** Clock time after which a job moves one step even when nobody polls it. */
export const JOB_STEP_MS = 2_000;

export interface JobOutcome {
  total: number;
  completed: number;
  failed?: number;
  skipped?: number;
  /**
   * Where the job ends (default `complete`). `cancelled` is an injected job fault (jobFailRate):
   * the job stopped part-way, and its counts say how far it got.
   */
  endStatus?: 'complete' | 'cancelled';
}

interface JobProgress {
  polls: number;
  outcome: JobOutcome;
}

/**
 * Per account (a reset or load starts afresh): how often each job was polled and the counts it
 * ends with. A job loaded from a snapshot has no entry and stays as the snapshot says.
 */
const progress = new WeakMap<AccountStore, Map<string, JobProgress>>();

function progressOf(store: AccountStore): Map<string, JobProgress> {
  let map = progress.get(store);
  if (!map) progress.set(store, (map = new Map()));
  return map;
}

/**
 * Stores a new job, `queued`. `countFields` are the count attributes its type has (an import
 * job has failed_count, a suppression job skipped_count).
 */
export function createJob(
  store: AccountStore,
  type: string,
  outcome: JobOutcome,
  relationships: StoredResource['relationships'],
  extraAttributes: Record<string, unknown> = {},
): StoredResource {
  const created = nowIso(store);
  const attributes: Record<string, unknown> = {
    status: 'queued',
    created_at: created,
    total_count: outcome.total,
    completed_count: 0,
    ...(outcome.failed !== undefined ? { failed_count: 0 } : {}),
    ...(outcome.skipped !== undefined ? { skipped_count: 0 } : {}),
    completed_at: null,
    ...extraAttributes,
  };
  const job = store.collection(type).insert({ type, id: store.newId(type), attributes, relationships });
  progressOf(store).set(job.id, { polls: 0, outcome });
  return job;
}

/** Moves a job to where its polls and the clock have taken it; returns the stored job. */
export function advanceJob(store: AccountStore, job: StoredResource, poll: boolean): StoredResource {
  const state = progressOf(store).get(job.id);
  if (!state) return job;
  if (poll) state.polls += 1;
  const createdMs = Date.parse(String(job.attributes.created_at));
  const byClock = Math.floor((store.now().getTime() - createdMs) / JOB_STEP_MS);
  const step = Math.min(2, Math.max(state.polls, byClock));
  const status = step === 2 ? (state.outcome.endStatus ?? 'complete') : STEPS[step]!;
  if (job.attributes.status === status) return job;
  const { outcome } = state;
  // Halfway while processing: a client that shows progress sees it move.
  const part = (n: number | undefined) => (n === undefined ? undefined : step === 2 ? n : Math.floor(n / 2));
  const now = nowIso(store);
  const attributes: Record<string, unknown> = { status, completed_count: part(outcome.completed) };
  if (outcome.failed !== undefined) attributes.failed_count = part(outcome.failed);
  if (outcome.skipped !== undefined) attributes.skipped_count = part(outcome.skipped);
  if ('started_at' in job.attributes && job.attributes.started_at === null) attributes.started_at = now;
  if (step === 2) attributes.completed_at = now;
  return store.collection(job.type).update(job.id, { attributes }) ?? job;
}

/** GET of one job: counts as a poll, then renders it (with `include=lists` where the endpoint has it). */
export function jobGetHandler(type: string, param: string, drop: string[] = []): Handler {
  return (ctx) => {
    const job = advanceJob(ctx.store, findOr404(ctx.store, type, ctx.params[param]!), true);
    return withoutRelationshipData(singleDocument(ctx, { resource: job }), drop);
  };
}

/**
 * GET of a type's jobs: each moved along by the clock first (listing jobs is not polling one).
 * Filters on `list_id` / `segment_id` (suppression jobs) read the job's lists and segments.
 */
export function jobListHandler(type: string, drop: string[] = []): Handler {
  return (ctx) => {
    advanceAllJobs(ctx.store, type);
    const source = collectionSource(ctx.store, type);
    const generic = source.resolve;
    source.resolve = (resource, field) => {
      const rel = field === 'list_id' ? 'lists' : field === 'segment_id' ? 'segments' : undefined;
      if (rel) {
        const data = resource.relationships[rel];
        return (Array.isArray(data) ? data : data ? [data] : []).map((r) => r.id);
      }
      return generic?.(resource, field);
    };
    return withoutRelationshipData(listDocument(ctx, source), drop);
  };
}

function withoutRelationshipData(result: HandlerResult, drop: string[]): HandlerResult {
  if (drop.length === 0) return result;
  const body = result.body as { data: JsonApiResource | JsonApiResource[] };
  for (const resource of Array.isArray(body.data) ? body.data : [body.data]) {
    for (const name of drop) {
      const rel = resource.relationships?.[name];
      if (rel) resource.relationships![name] = { links: rel.links };
    }
  }
  return result;
}

/** Every job of a type, moved along by the clock. */
export function advanceAllJobs(store: AccountStore, type: string): void {
  if (!store.types().includes(type)) return;
  for (const job of [...store.collection(type).values()]) advanceJob(store, job, false);
}
