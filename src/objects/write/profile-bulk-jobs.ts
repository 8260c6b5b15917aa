/**
 * Profile bulk import jobs, for insert and upsert.
 *
 * Rows go to Klaviyo in bulk import jobs (`POST /api/profile-bulk-import-jobs`, up to 10,000
 * profiles and 5 MB a job; klv sizes each job by count and by bytes), then klv polls the
 * job until it is complete, maps its import errors back to the rows (by the index in
 * `source.pointer` = `/data/attributes/profiles/data/<i>/...`, else by the identifiers of
 * `original_payload`), and reads the resulting profiles back by identifier (`any(email,[...])`,
 * 100 a request at 75/s) to give every success row its Id. Whether a row `created` or `updated`
 * its profile: Klaviyo's job does not say, so klv compares the profile's `created` time with the
 * job's `created_at` (to the second): a profile created at or after the job started is one the
 * job created. A profile created by someone else in the same second as the job would be reported
 * `created` too; that is the only inexactness.
 *
 * A job that ends `cancelled` or `failed` part-way took only some of its profiles, and says nothing
 * about the others (no import error). A job is an idempotent upsert, so klv sends the rows it did
 * not import again, in a new job (same byte and count limits), at most JOB_RESENDS more times,
 * inside the same handler call: the import journal saw one batch, so a run killed between two
 * of these jobs is resumed by sending the whole batch again, harmless for an upsert. Rows still
 * not imported after that fail `job_cancelled`, naming the jobs. Rows with import errors are
 * never sent again: a new job would refuse them the same way.
 */
import { KlvError } from '../../core/errors.js';
import { isPlainObject } from '../../core/json.js';
import { instantOf } from '../../core/timestamps.js';
import type { JsonApiResource } from '../../klaviyo/client.js';
import { sendIsolating } from './bulk-isolate.js';
import { JobTimeoutError, pollJob } from './bulk-job.js';
import { fail } from './content-common.js';
import { profilePayload, type ProfilePayload } from './profile-payload.js';
import { describeKey, identifiersOf, keyOf, lookupProfiles, MATCH_FIELDS, normalizeIdentifier, wantedKeys, type RowKey } from './profile-match.js';
import type { ImportRow, RowOutcome, WriteContext } from './types.js';

/** Klaviyo's limits for one bulk import job (spec: 10,000 profiles, 5 MB; 100 KB a profile: profile-payload.ts). */
export const JOB_MAX_PROFILES = 10_000;
/** 5 MB less room for the request's envelope (type, relationships). */
export const JOB_MAX_BYTES = 5_000_000 - 4_096;
/**
 * Times klv sends again, each in a new job, the rows that a `cancelled` or `failed` job did not
 * import: a row goes in at most 1 + JOB_RESENDS jobs, then fails `job_cancelled`.
 */
export const JOB_RESENDS = 2;
/** Job statuses that mean the job stopped part-way: the profiles it did not reach can be sent again. */
const STOPPED_JOB_STATUSES: ReadonlySet<string> = new Set(['cancelled', 'failed']);

interface JobItem {
  row: ImportRow;
  payload: ProfilePayload;
  bytes: number;
}

/** Cuts items into jobs of at most 10,000 profiles and 5 MB. */
export function chunkJobs<T extends { bytes: number }>(items: T[], maxCount = JOB_MAX_PROFILES, maxBytes = JOB_MAX_BYTES): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const add = item.bytes + 1; // the comma between array members
    if (current.length > 0 && (current.length >= maxCount || size + add > maxBytes)) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += add;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** `/data/attributes/profiles/data/17/attributes/email` -> 17. */
export function profileIndexOfPointer(pointer: string | undefined): number | undefined {
  if (!pointer) return undefined;
  const m = /\/profiles\/data\/(\d+)(?:\/|$)/.exec(pointer);
  return m ? Number(m[1]) : undefined;
}

/** The job's position of the profile an import error's original payload describes, by its identifiers. */
function indexOfPayload(payload: unknown, items: JobItem[]): number | undefined {
  if (!isPlainObject(payload)) return undefined;
  const attrs = isPlainObject(payload.attributes) ? payload.attributes : payload;
  const probes: Array<[string, unknown]> = [
    ['id', payload.id],
    ['email', attrs.email],
    ['phone_number', attrs.phone_number],
    ['external_id', attrs.external_id],
  ];
  for (const [field, raw] of probes) {
    if (typeof raw !== 'string' || raw === '') continue;
    const want = field === 'email' ? raw.toLowerCase() : raw;
    const hits = items
      .map((item, i) => ({ i, v: field === 'id' ? item.payload.id : item.payload.attributes[field] }))
      .filter(({ v }) => typeof v === 'string' && (field === 'email' ? v.toLowerCase() : v) === want);
    if (hits.length === 1) return hits[0].i;
  }
  return undefined;
}

/** The profile among several found that shares the most identifiers with the row. */
function bestMatch(found: JsonApiResource[], row: ImportRow): JsonApiResource {
  if (found.length === 1) return found[0];
  const keys = identifiersOf(row);
  const score = (r: JsonApiResource) =>
    keys.filter((k) => {
      const v = k.field === 'id' ? r.id : r.attributes?.[k.field];
      return typeof v === 'string' && normalizeIdentifier(k.field, v) === normalizeIdentifier(k.field, k.value);
    }).length;
  return [...found].sort((a, b) => score(b) - score(a))[0];
}

async function postJob(items: JobItem[], ctx: WriteContext): Promise<JsonApiResource> {
  const data: Record<string, unknown> = {
    type: 'profile-bulk-import-job',
    attributes: { profiles: { data: items.map((i) => i.payload) } },
  };
  if (ctx.options.listId) data.relationships = { lists: { data: [{ type: 'list', id: ctx.options.listId }] } };
  const res = await ctx.client.request<{ data?: JsonApiResource }>('bulk_import_profiles', {
    body: { data },
    // A job is an upsert keyed by identifiers: a job sent twice changes nothing more.
    idempotent: true,
    signal: ctx.signal,
  });
  const job = res.body?.data;
  if (!job?.id) {
    throw new KlvError('Klaviyo accepted the profile import job but returned no job id', {
      hint: 'This is unexpected from Klaviyo; run again with --verbose and report it. The rows of this batch may have been imported.',
    });
  }
  ctx.debug(`profile import job ${job.id}: ${items.length} profiles sent`);
  return job;
}

interface RowError {
  code: string;
  message: string;
}

/** A job that stopped part-way (cancelled, failed), as the rows it did not import remember it. */
interface StoppedJob {
  id: string;
  status: string;
}

/** One job's verdict: the rows it decided, and those it stopped before reaching (to send again). */
interface SettledJob {
  outcomes: RowOutcome[];
  notImported: JobItem[];
  job: StoppedJob;
}

/**
 * Waits for one accepted job, then decides each of its rows from the import errors and a lookup.
 * A row of a job that stopped part-way, with no import error and no profile afterwards, is not
 * decided: it is in `notImported`, for the caller to send again.
 */
async function settleJob(items: JobItem[], posted: JsonApiResource, op: 'insert' | 'upsert', ctx: WriteContext): Promise<SettledJob> {
  const jobId = posted.id;
  let job: JsonApiResource;
  let status: string;
  try {
    ({ resource: job, status } = await pollJob({
      client: ctx.client,
      operationId: 'get_bulk_import_profiles_job',
      pathParams: { job_id: jobId },
      clock: ctx.clock,
      signal: ctx.signal,
      initial: posted,
      what: `profile import job ${jobId}`,
      debug: ctx.debug,
    }));
  } catch (e) {
    if (!(e instanceof JobTimeoutError)) throw e;
    // The job goes on in Klaviyo: whether it took these rows is not known (the contract's unknown_outcome).
    const outcomes = items.map((i) => fail(i.row, 'unknown_outcome', `${e.message} (job ${jobId}). ${e.hint ?? ''}`.trim()));
    return { outcomes, notImported: [], job: { id: jobId, status: 'unknown' } };
  }
  const stopped = STOPPED_JOB_STATUSES.has(status);
  const settled: SettledJob = { outcomes: [], notImported: [], job: { id: jobId, status } };

  const errorsAt = new Map<number, RowError[]>();
  const unmapped: RowError[] = [];
  const failedCount = job.attributes?.failed_count;
  if (typeof failedCount !== 'number' || failedCount > 0) {
    for await (const err of ctx.client.paginate('get_errors_for_bulk_import_profiles_job', {
      pathParams: { id: jobId },
      pageSize: 100,
      signal: ctx.signal,
    })) {
      const a = (err.attributes ?? {}) as Record<string, unknown>;
      const source = isPlainObject(a.source) ? a.source : {};
      const pointer = typeof source.pointer === 'string' ? source.pointer : undefined;
      const code = typeof a.code === 'string' && a.code !== '' ? a.code : 'import_error';
      const detail = typeof a.detail === 'string' && a.detail !== '' ? a.detail : typeof a.title === 'string' ? a.title : 'Klaviyo did not import this profile';
      const message = pointer ? `${detail} (${pointer})` : detail;
      let index = profileIndexOfPointer(pointer);
      if (index === undefined || index >= items.length) index = indexOfPayload(a.original_payload, items);
      if (index === undefined) {
        unmapped.push({ code, message });
        ctx.debug(`profile import job ${jobId}: an import error could not be tied to a row: ${code}: ${message}`);
      } else {
        errorsAt.set(index, [...(errorsAt.get(index) ?? []), { code, message }]);
      }
    }
  }

  const outcomes = settled.outcomes;
  const toFind: Array<{ item: JobItem; key: RowKey }> = [];
  items.forEach((item, i) => {
    const errs = errorsAt.get(i);
    if (errs) outcomes.push(fail(item.row, errs[0].code, errs.map((e) => e.message).join('; ')));
    else toFind.push({ item, key: keyOf(item.row)! });
  });
  if (toFind.length === 0) return settled;

  const index = await lookupProfiles(ctx.client, wantedKeys(toFind.map((t) => t.key)), { fields: MATCH_FIELDS, signal: ctx.signal });
  // Klaviyo's job times have microseconds and may lack a zone (UTC): compared to the second.
  const jobCreated = instantOf(job.attributes?.created_at ?? posted.attributes?.created_at);
  for (const { item, key } of toFind) {
    const found = index.find(key.field, key.value);
    if (found.length === 0) {
      if (stopped) {
        // Not reached before the job stopped (an import error that could not be tied to a row may
        // be this row's, but sending an upsert again is harmless: the next job reports it again).
        settled.notImported.push(item);
      } else if (unmapped.length > 0) {
        const details = [...new Set(unmapped.map((u) => u.message))].slice(0, 3).join('; ');
        outcomes.push(fail(item.row, unmapped[0].code, `Klaviyo's job ${jobId} did not import this profile; its import errors could not be tied to rows: ${details}`));
      } else {
        outcomes.push(
          fail(item.row, 'not_imported', `Klaviyo's job ${jobId} ended ${status} without an error for this row, but no profile with ${describeKey(key)} exists afterwards.`),
        );
      }
      continue;
    }
    const profile = bestMatch(found, item.row);
    let rowStatus: 'created' | 'updated' = 'updated';
    if (op === 'insert') rowStatus = 'created';
    else if (key.field !== 'id' && jobCreated !== undefined) {
      const created = instantOf(profile.attributes?.created);
      if (created !== undefined && created.epochSeconds >= jobCreated.epochSeconds) rowStatus = 'created';
    }
    outcomes.push({ ok: true, rowNumber: item.row.rowNumber, status: rowStatus, id: profile.id });
  }
  return settled;
}

function listOfJobs(jobs: readonly StoppedJob[]): string {
  const named = jobs.map((j) => `${j.id} (${j.status})`);
  return named.length <= 1 ? named.join('') : `${named.slice(0, -1).join(', ')} and ${named[named.length - 1]}`;
}

/**
 * Sends one job's worth of rows (cut further only where Klaviyo refuses some of them), waits
 * for the jobs, and sends the rows that a cancelled or failed job did not import again in a new
 * job, at most JOB_RESENDS times. Every row of `chunk` gets exactly one outcome.
 */
async function importChunk(chunk: JobItem[], op: 'insert' | 'upsert', ctx: WriteContext): Promise<RowOutcome[]> {
  const outcomes: RowOutcome[] = [];
  /** The stopped jobs each row not yet imported was in, for the final message. */
  const stoppedJobsOf = new Map<JobItem, StoppedJob[]>();
  let pending = chunk;
  for (let resends = 0; pending.length > 0; resends++) {
    const { accepted, refused } = await sendIsolating(pending, {
      send: (part) => postJob(part, ctx),
      locate: (err) => {
        const i = profileIndexOfPointer(err.source?.pointer);
        return i === undefined ? [] : [i];
      },
    });
    for (const r of refused) outcomes.push(fail(r.item.row, r.code, r.message));
    const settled = await Promise.allSettled(accepted.map((a) => settleJob(a.items, a.result, op, ctx)));
    const notImported: JobItem[] = [];
    for (const s of settled) {
      if (s.status === 'rejected') throw s.reason;
      outcomes.push(...s.value.outcomes);
      for (const item of s.value.notImported) {
        stoppedJobsOf.set(item, [...(stoppedJobsOf.get(item) ?? []), s.value.job]);
        notImported.push(item);
      }
      if (s.value.notImported.length > 0) {
        const { id, status } = s.value.job;
        const next = resends < JOB_RESENDS ? `sending them again in a new job (${resends + 1} of ${JOB_RESENDS})` : 'no more new jobs for them';
        ctx.debug(`profile import job ${id} ended ${status} without importing ${s.value.notImported.length} of its profiles: ${next}`);
      }
    }
    if (resends >= JOB_RESENDS) {
      for (const item of notImported) {
        const jobs = stoppedJobsOf.get(item)!;
        outcomes.push(
          fail(
            item.row,
            'job_cancelled',
            `Klaviyo's profile import ${jobs.length === 1 ? 'job' : 'jobs'} ${listOfJobs(jobs)} stopped before importing this profile: klv sent it ${jobs.length === 1 ? 'once' : `${jobs.length} times`}, each time in a new job, and it was not imported. The row itself was not refused: import it again by re-running klv import with the error log as input (it is a valid input).`,
          ),
        );
      }
      break;
    }
    pending = notImported;
  }
  return outcomes;
}

export async function importByJobs(rows: ImportRow[], op: 'insert' | 'upsert', ctx: WriteContext): Promise<RowOutcome[]> {
  if (rows.length === 0) return [];
  const items: JobItem[] = rows.map((row) => {
    const payload = profilePayload(row, { dropNulls: true, withId: op === 'upsert' });
    return { row, payload, bytes: Buffer.byteLength(JSON.stringify(payload)) };
  });
  const perChunk = await Promise.allSettled(chunkJobs(items).map((chunk) => importChunk(chunk, op, ctx)));
  const out: RowOutcome[] = [];
  for (const s of perChunk) {
    if (s.status === 'rejected') throw s.reason;
    out.push(...s.value);
  }
  return out;
}
