/**
 * Profiles: insert, upsert and update.
 *
 * Upsert goes through Klaviyo's profile bulk import jobs (`POST /api/profile-bulk-import-jobs`,
 * up to 10,000 profiles and 5 MB a job; klv sizes each job by count and by bytes), then polls the
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
 *
 * Bulk import ignores nulls (Klaviyo's docs: it "does not support setting fields to null"), so an
 * upsert row with a --null-value cell goes on its own through `POST /api/profile-import`, which
 * clears null fields and says 201 created / 200 updated. `Properties.<name>` = null unsets that
 * custom property (`meta.patch_properties.unset`).
 *
 * Insert is upsert with a guard: klv first looks every identifier of the batch up and fails, with
 * Klaviyo's own code `duplicate_profile`, the rows whose Email, PhoneNumber or ExternalId already
 * belongs to a profile (and a second row of the same batch with the same identifier), without
 * sending them; the others go through a bulk import job. Sending an insert batch twice therefore
 * duplicates nothing in Klaviyo (the second time, the lookup finds the profiles the first one
 * created and refuses them), which is why insert is declared idempotent: after an interruption at
 * the worst moment, a resumed run logs such rows `duplicate_profile` with the existing id instead
 * of `created`. A profile created by someone else between the lookup and the job is updated
 * rather than refused (the job is an upsert): the guard is a check, not a lock.
 *
 * Update changes existing profiles only, by Id or by Email, PhoneNumber or ExternalId looked up
 * in bulk (no match: `not_found`; several: `ambiguous`), one `PATCH /api/profiles/{id}` per row
 * (Klaviyo has no bulk update); nulls clear fields. A PATCH with absolute values is idempotent.
 *
 * `--list ID` adds the profiles to a list: `relationships.lists` on the job; `POST
 * /api/lists/{id}/relationships/profiles` (1,000 ids a call) for rows written one by one.
 */
import { KlvError } from '../../core/errors.js';
import { isPlainObject } from '../../core/json.js';
import { instantOf } from '../../core/timestamps.js';
import type { JsonApiResource } from '../../klaviyo/client.js';
import { getPath, sameValue, setPath } from './attribute-diff.js';
import { sendIsolating } from './bulk-isolate.js';
import { JobTimeoutError, pollJob } from './bulk-job.js';
import { failureFrom, isRunFailure } from './content-common.js';
import { identifiersOf, keyOf, lookupProfiles, normalizeIdentifier, wantedKeys, type ProfileIndex, type RowKey } from './profile-match.js';
import type { ImportOptions, ImportRow, OperationHandler, RowFailure, RowOutcome, RowSuccess, WriteContext, WriteHandlers } from './types.js';

/**
 * Writable profile columns and their attribute paths: the catalog's PROFILE_COLUMNS that are not
 * read-only (a unit test keeps the two in step). Not imported from the catalog, which imports
 * this module: the cycle would leave one side undefined at load time.
 */
export const PROFILE_ATTRIBUTE_PATHS: Readonly<Record<string, string>> = {
  Email: 'email',
  PhoneNumber: 'phone_number',
  ExternalId: 'external_id',
  FirstName: 'first_name',
  LastName: 'last_name',
  Organization: 'organization',
  Title: 'title',
  Locale: 'locale',
  Image: 'image',
  Address1: 'location.address1',
  Address2: 'location.address2',
  City: 'location.city',
  Region: 'location.region',
  Country: 'location.country',
  Zip: 'location.zip',
  Timezone: 'location.timezone',
  Latitude: 'location.latitude',
  Longitude: 'location.longitude',
  Ip: 'location.ip',
  Properties: 'properties',
};

/** Klaviyo's limits for one bulk import job (spec: 10,000 profiles, 5 MB, 100 KB a profile). */
export const JOB_MAX_PROFILES = 10_000;
/** 5 MB less room for the request's envelope (type, relationships). */
export const JOB_MAX_BYTES = 5_000_000 - 4_096;
export const PROFILE_MAX_BYTES = 100 * 1024;
/**
 * Times klv sends again, each in a new job, the rows that a `cancelled` or `failed` job did not
 * import: a row goes in at most 1 + JOB_RESENDS jobs, then fails `job_cancelled`.
 */
export const JOB_RESENDS = 2;
/** Job statuses that mean the job stopped part-way: the profiles it did not reach can be sent again. */
const STOPPED_JOB_STATUSES: ReadonlySet<string> = new Set(['cancelled', 'failed']);
/** Ids in one `POST /api/lists/{id}/relationships/profiles`. */
const LIST_ADD_MAX = 1_000;

const PROPERTY_PREFIX = 'Properties.';
const IDENTIFIERS = ['Email', 'PhoneNumber', 'ExternalId'] as const;
/** What the lookups read: identifiers to match rows, `created` to tell created from updated. */
const MATCH_FIELDS = ['email', 'phone_number', 'external_id', 'created'];
/** What --dry-run reads to compare: every writable attribute. */
const PREVIEW_FIELDS = [...new Set([...Object.values(PROFILE_ATTRIBUTE_PATHS).map((p) => p.split('.')[0]), 'created'])];

export interface ProfilePayload {
  type: 'profile';
  id?: string;
  attributes: Record<string, unknown>;
  meta?: { patch_properties: { unset: string[] } };
}

function idOf(row: ImportRow): string | undefined {
  const v = row.values.Id;
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/**
 * The profile resource for a row: each given column at its attribute path (`location.city`),
 * `Properties` merged with the `Properties.<name>` columns. Null clears a field, or is left out
 * with `dropNulls` (bulk import ignores nulls anyway); a null `Properties.<name>` unsets it.
 */
export function profilePayload(row: ImportRow, o: { dropNulls: boolean; withId: boolean; omit?: readonly string[] }): ProfilePayload {
  const attributes: Record<string, unknown> = {};
  const unset: string[] = [];
  const props = row.values.Properties;
  if (props === null) {
    if (!o.dropNulls) attributes.properties = null;
  } else if (isPlainObject(props)) {
    attributes.properties = { ...props };
  }
  for (const [column, value] of Object.entries(row.values)) {
    if (value === undefined || o.omit?.includes(column)) continue;
    if (column.startsWith(PROPERTY_PREFIX)) {
      const name = column.slice(PROPERTY_PREFIX.length);
      if (value === null) {
        if (!o.dropNulls) unset.push(name);
        continue;
      }
      if (!isPlainObject(attributes.properties)) attributes.properties = {};
      (attributes.properties as Record<string, unknown>)[name] = value;
      continue;
    }
    if (column === 'Properties' || column === 'Id') continue;
    const path = PROFILE_ATTRIBUTE_PATHS[column];
    if (!path) continue; // read-only or not a profile column: the mapping layer already said so
    if (value === null && o.dropNulls) continue;
    setPath(attributes, path, value);
  }
  const payload: ProfilePayload = { type: 'profile', attributes };
  const id = o.withId ? idOf(row) : undefined;
  if (id) payload.id = id;
  if (unset.length > 0) payload.meta = { patch_properties: { unset } };
  return payload;
}

/** Whether the row clears something (a --null-value cell): bulk import cannot do that. */
export function clearsAField(row: ImportRow): boolean {
  return Object.entries(row.values).some(
    ([column, value]) => value === null && (column.startsWith(PROPERTY_PREFIX) || PROFILE_ATTRIBUTE_PATHS[column] !== undefined),
  );
}

function fail(row: ImportRow | number, code: string, message: string): RowFailure {
  return { ok: false, rowNumber: typeof row === 'number' ? row : row.rowNumber, code, message };
}

function describeKey(k: RowKey): string {
  return `${k.column} '${k.value}'`;
}

// ---------------------------------------------------------------------------------------------
// Row rules that need no request

/** More than the envelope of any payload: type, id, the attributes, location, properties and meta objects. */
const ENVELOPE_BYTES = 256;

/**
 * An upper bound of the UTF-8 size of the row's `profilePayload` (any options), without building
 * it: every column counted whether or not it ends up in the payload, its name as the key (a key
 * is the column's attribute name or property name, never longer than the column name), and each
 * UTF-16 unit of a string at 6 bytes (an escape such as \u001f is 6; a character is at most 3).
 * A value that is an object or array has no cheap bound: Infinity, so the exact size is taken.
 */
export function payloadBytesAtMost(row: ImportRow): number {
  let bytes = ENVELOPE_BYTES;
  const values = row.values;
  for (const column in values) {
    const value = values[column];
    if (value === undefined) continue;
    // "key":value, and the separators around them; a nulled property's name goes in meta.unset once.
    bytes += 6 * column.length + 8;
    if (typeof value === 'string') bytes += 6 * value.length + 2;
    else if (typeof value === 'number' || typeof value === 'boolean' || value === null) bytes += 32;
    else return Infinity;
  }
  return bytes;
}

function validateFor(op: 'insert' | 'upsert' | 'update') {
  return (row: ImportRow, _options: ImportOptions): RowFailure | null => {
    if (op === 'insert' && idOf(row)) {
      return fail(row, 'invalid_value', 'Id cannot be given on insert: Klaviyo assigns it. Use --op upsert or --op update to change an existing profile.');
    }
    const keys = identifiersOf(row, op === 'insert' ? IDENTIFIERS : ['Id', ...IDENTIFIERS]);
    if (keys.length === 0) {
      const names = op === 'insert' ? 'Email, PhoneNumber or ExternalId' : 'Id, Email, PhoneNumber or ExternalId';
      return fail(row, 'missing_value', `The row has no identifier: give ${names} (Klaviyo needs one to ${op === 'update' ? 'find' : 'store'} the profile).`);
    }
    const props = row.values.Properties;
    if (props !== undefined && props !== null && !isPlainObject(props)) {
      return fail(row, 'invalid_value', 'Properties must be a JSON object, e.g. {"tier": "gold"}.');
    }
    // Building and serializing the payload of every row only to measure it cost a quarter of a
    // large import: an upper bound, from the values alone, settles nearly every row.
    if (payloadBytesAtMost(row) <= PROFILE_MAX_BYTES) return null;
    const bytes = Buffer.byteLength(JSON.stringify(profilePayload(row, { dropNulls: false, withId: true })));
    if (bytes > PROFILE_MAX_BYTES) {
      return fail(row, 'too_large', `The profile is ${Math.ceil(bytes / 1024)} KB; Klaviyo accepts at most 100 KB a profile. Shorten its Properties.`);
    }
    return null;
  };
}

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Runs per-row requests; a row's own failure becomes its outcome (content-common's failureFrom,
 * the rule of every handler), one that is not about the row is thrown once all settled.
 */
async function perRow(rows: ImportRow[], ctx: WriteContext, run: (row: ImportRow) => Promise<RowOutcome>): Promise<RowOutcome[]> {
  const settled = await Promise.allSettled(rows.map(run));
  const runFailure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && isRunFailure(s.reason, ctx));
  if (runFailure) throw runFailure.reason;
  return settled.map((s, i) => (s.status === 'fulfilled' ? s.value : failureFrom(rows[i], (s as PromiseRejectedResult).reason, ctx)));
}

// ---------------------------------------------------------------------------------------------
// --list ID for rows written one by one

async function addToList(outcomes: RowOutcome[], ctx: WriteContext): Promise<RowOutcome[]> {
  const listId = ctx.options.listId;
  if (!listId) return outcomes;
  const ok = outcomes.filter((o): o is RowSuccess => o.ok && o.id !== undefined);
  const failedRows = new Map<number, RowFailure>();
  for (let i = 0; i < ok.length; i += LIST_ADD_MAX) {
    const part = ok.slice(i, i + LIST_ADD_MAX);
    const ids = [...new Set(part.map((o) => o.id!))];
    try {
      await ctx.client.request('add_profiles_to_list', {
        pathParams: { id: listId },
        body: { data: ids.map((id) => ({ type: 'profile', id })) },
        idempotent: true, // adding a member twice is a no-op
        signal: ctx.signal,
      });
    } catch (e) {
      for (const o of part) {
        // Throws what is not about the rows (a refused key, Ctrl-C), as for every request.
        const f = failureFrom({ rowNumber: o.rowNumber, values: {} }, e, ctx, `The profile ${o.id} was ${o.status}, but adding it to list ${listId} failed`);
        failedRows.set(o.rowNumber, f);
      }
    }
  }
  return outcomes.map((o) => failedRows.get(o.rowNumber) ?? o);
}

// ---------------------------------------------------------------------------------------------
// Upsert of rows that clear fields: POST /api/profile-import, one per row

async function importOneByOne(rows: ImportRow[], ctx: WriteContext): Promise<RowOutcome[]> {
  if (rows.length === 0) return [];
  const outcomes = await perRow(rows, ctx, async (row) => {
    const payload = profilePayload(row, { dropNulls: false, withId: true });
    const res = await ctx.client.request<{ data?: JsonApiResource }>('create_or_update_profile', {
      body: { data: payload },
      idempotent: true, // an upsert with absolute values: sending it twice ends the same
      signal: ctx.signal,
    });
    return { ok: true, rowNumber: row.rowNumber, status: res.status === 201 ? 'created' : 'updated', id: res.body?.data?.id };
  });
  return addToList(outcomes, ctx);
}

// ---------------------------------------------------------------------------------------------
// Bulk import jobs

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

async function importByJobs(rows: ImportRow[], op: 'insert' | 'upsert', ctx: WriteContext): Promise<RowOutcome[]> {
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

// ---------------------------------------------------------------------------------------------
// Insert guard

/** Rows whose identifiers already belong to a profile, or repeat an earlier row's: refused unsent. */
async function refuseExisting(rows: ImportRow[], ctx: WriteContext): Promise<{ fresh: ImportRow[]; refused: RowFailure[] }> {
  const keysByRow = rows.map((row) => identifiersOf(row, IDENTIFIERS));
  const index = await lookupProfiles(ctx.client, wantedKeys(keysByRow.flat()), { fields: MATCH_FIELDS, signal: ctx.signal });
  const fresh: ImportRow[] = [];
  const refused: RowFailure[] = [];
  const seen = new Map<string, number>();
  rows.forEach((row, i) => {
    const keys = keysByRow[i];
    const existing = index.findAny(keys);
    if (existing.length > 0) {
      const hit = keys.find((k) => index.find(k.field, k.value).length > 0)!;
      refused.push(
        fail(
          row,
          'duplicate_profile',
          `A profile already exists with ${describeKey(hit)} (${existing.map((p) => p.id).join(', ')}): insert creates new profiles only. Use --op upsert or --op update to change it.`,
        ),
      );
      return;
    }
    const repeat = keys.find((k) => seen.has(`${k.field}\u0000${normalizeIdentifier(k.field, k.value)}`));
    if (repeat) {
      const first = seen.get(`${repeat.field}\u0000${normalizeIdentifier(repeat.field, repeat.value)}`);
      refused.push(fail(row, 'duplicate_profile', `Row ${first} of this input has the same ${describeKey(repeat)}: one profile cannot be inserted twice.`));
      return;
    }
    for (const k of keys) seen.set(`${k.field}\u0000${normalizeIdentifier(k.field, k.value)}`, row.rowNumber);
    fresh.push(row);
  });
  return { fresh, refused };
}

// ---------------------------------------------------------------------------------------------
// Update

interface Resolved {
  row: ImportRow;
  id: string;
  key: RowKey;
}

/** The profile id of each row: its Id, or the one profile its key identifier finds. */
async function resolveIds(rows: ImportRow[], ctx: WriteContext, index?: ProfileIndex): Promise<{ resolved: Resolved[]; failures: RowFailure[] }> {
  const keyed = rows.map((row) => ({ row, key: keyOf(row)! }));
  const toLook = keyed.filter((k) => k.key.field !== 'id').map((k) => k.key);
  const found = index ?? (toLook.length > 0 ? await lookupProfiles(ctx.client, wantedKeys(toLook), { fields: MATCH_FIELDS, signal: ctx.signal }) : undefined);
  const resolved: Resolved[] = [];
  const failures: RowFailure[] = [];
  for (const { row, key } of keyed) {
    if (key.field === 'id') {
      resolved.push({ row, id: key.value, key });
      continue;
    }
    const hits = found?.find(key.field, key.value) ?? [];
    if (hits.length === 0) failures.push(fail(row, 'not_found', `No profile has ${describeKey(key)}. Use --op upsert to create missing profiles.`));
    else if (hits.length > 1) {
      failures.push(fail(row, 'ambiguous', `${hits.length} profiles have ${describeKey(key)} (${hits.map((h) => h.id).join(', ')}): give the Id of the one to update.`));
    } else resolved.push({ row, id: hits[0].id, key });
  }
  return { resolved, failures };
}

async function updateRows(rows: ImportRow[], ctx: WriteContext): Promise<RowOutcome[]> {
  const { resolved, failures } = await resolveIds(rows, ctx);
  const byRow = new Map(resolved.map((r) => [r.row.rowNumber, r]));
  const outcomes = await perRow(
    resolved.map((r) => r.row),
    ctx,
    async (row) => {
      const { id, key } = byRow.get(row.rowNumber)!;
      // The identifier that found the profile is its current value: sending it back changes nothing.
      const payload = profilePayload(row, { dropNulls: false, withId: false, omit: key.field === 'id' ? [] : [key.column] });
      if (Object.keys(payload.attributes).length === 0 && !payload.meta) {
        return { ok: true, rowNumber: row.rowNumber, status: 'unchanged', id };
      }
      await ctx.client.request('update_profile', {
        pathParams: { id },
        body: { data: { type: 'profile', id, attributes: payload.attributes, ...(payload.meta ? { meta: payload.meta } : {}) } },
        idempotent: true, // absolute values: a PATCH sent twice ends the same
        signal: ctx.signal,
      });
      return { ok: true, rowNumber: row.rowNumber, status: 'updated', id };
    },
  );
  return [...failures, ...(await addToList(outcomes, ctx))];
}

// ---------------------------------------------------------------------------------------------
// --dry-run

/** The columns whose value the row would change on this profile. */
export function changedColumns(row: ImportRow, profile: JsonApiResource): string[] {
  const attrs = profile.attributes ?? {};
  const props = isPlainObject(attrs.properties) ? attrs.properties : {};
  const changed: string[] = [];
  for (const [column, value] of Object.entries(row.values)) {
    if (value === undefined || column === 'Id') continue;
    if (column.startsWith(PROPERTY_PREFIX)) {
      if (!sameValue(value, props[column.slice(PROPERTY_PREFIX.length)])) changed.push(column);
    } else if (column === 'Properties') {
      // Klaviyo merges properties: only the keys given can change (null clears them all).
      const differs =
        value === null ? Object.keys(props).length > 0 : isPlainObject(value) && Object.entries(value).some(([k, v]) => !sameValue(v, props[k]));
      if (differs) changed.push(column);
    } else {
      const path = PROFILE_ATTRIBUTE_PATHS[column];
      // Klaviyo matches email addresses without regard to case.
      if (path && !sameValue(value, getPath(attrs, path), { ignoreCase: column === 'Email' })) changed.push(column);
    }
  }
  return changed;
}

function previewFor(op: 'upsert' | 'update') {
  return async (rows: ImportRow[], ctx: WriteContext): Promise<RowOutcome[]> => {
    const keyed = rows.map((row) => ({ row, key: keyOf(row)! }));
    const index = await lookupProfiles(ctx.client, wantedKeys(keyed.map((k) => k.key)), { fields: PREVIEW_FIELDS, signal: ctx.signal });
    return keyed.map(({ row, key }): RowOutcome => {
      const hits = index.find(key.field, key.value);
      if (hits.length === 0) {
        return op === 'upsert'
          ? { ok: true, rowNumber: row.rowNumber, status: 'created', extras: { ChangedColumns: '' } }
          : fail(row, 'not_found', `No profile has ${describeKey(key)}. Use --op upsert to create missing profiles.`);
      }
      if (hits.length > 1) {
        return fail(row, 'ambiguous', `${hits.length} profiles have ${describeKey(key)} (${hits.map((h) => h.id).join(', ')}): give the Id of the one to change.`);
      }
      const changed = changedColumns(row, hits[0]);
      return {
        ok: true,
        rowNumber: row.rowNumber,
        status: changed.length > 0 ? 'updated' : 'unchanged',
        id: hits[0].id,
        extras: { ChangedColumns: changed.join(';') },
      };
    });
  };
}

// ---------------------------------------------------------------------------------------------
// The handlers

const WRITABLE = Object.keys(PROFILE_ATTRIBUTE_PATHS);

export const profileInsert: OperationHandler = {
  operation: 'insert',
  calls: ['get_profiles', 'bulk_import_profiles', 'get_bulk_import_profiles_job', 'get_errors_for_bulk_import_profiles_job'],
  description:
    'Creates new profiles through Klaviyo bulk import jobs (10,000 profiles a job). Rows whose Email, PhoneNumber or ExternalId already belongs to a profile fail with duplicate_profile without being sent. --list ID also adds them to that list.',
  requiredColumns: [['Email', 'PhoneNumber', 'ExternalId']],
  acceptedColumns: WRITABLE,
  maxBatchSize: JOB_MAX_PROFILES,
  concurrency: 4,
  // Re-sent after an interruption, the lookup refuses the profiles the first send created: nothing is duplicated.
  idempotent: true,
  validateRow: validateFor('insert'),
  async processBatch(rows, ctx) {
    const { fresh, refused } = await refuseExisting(rows, ctx);
    return [...refused, ...(await importByJobs(fresh, 'insert', ctx))];
  },
};

export const profileUpsert: OperationHandler = {
  operation: 'upsert',
  calls: ['get_profiles', 'bulk_import_profiles', 'get_bulk_import_profiles_job', 'get_errors_for_bulk_import_profiles_job', 'create_or_update_profile', 'add_profiles_to_list'],
  description:
    'Creates profiles, or updates those that exist (matched by Id, Email, PhoneNumber or ExternalId), through Klaviyo bulk import jobs (10,000 profiles a job). Rows that clear a field (--null-value) go one by one through POST /api/profile-import, because bulk import ignores nulls. --list ID also adds them to that list.',
  requiredColumns: [['Id', 'Email', 'PhoneNumber', 'ExternalId']],
  acceptedColumns: ['Id', ...WRITABLE],
  maxBatchSize: JOB_MAX_PROFILES,
  concurrency: 4,
  idempotent: true,
  validateRow: validateFor('upsert'),
  async processBatch(rows, ctx) {
    const byJob = rows.filter((r) => !clearsAField(r));
    const oneByOne = rows.filter((r) => clearsAField(r));
    const settled = await Promise.allSettled([importByJobs(byJob, 'upsert', ctx), importOneByOne(oneByOne, ctx)]);
    const out: RowOutcome[] = [];
    for (const s of settled) {
      if (s.status === 'rejected') throw s.reason;
      out.push(...s.value);
    }
    return out;
  },
  preview: previewFor('upsert'),
};

export const profileUpdate: OperationHandler = {
  operation: 'update',
  calls: ['get_profiles', 'update_profile'],
  conditionalCalls: [{ when: '--list', calls: ['add_profiles_to_list'] }],
  description:
    'Changes existing profiles, found by Id or by Email, PhoneNumber or ExternalId (looked up 100 at a time): one PATCH /api/profiles/{id} per row, as Klaviyo has no bulk update. Empty cells leave fields unchanged; --null-value cells clear them. --list ID also adds them to that list.',
  requiredColumns: [['Id', 'Email', 'PhoneNumber', 'ExternalId']],
  acceptedColumns: ['Id', ...WRITABLE],
  // One lookup request (100 identifiers) serves a whole batch; the PATCHes then run concurrently.
  maxBatchSize: 100,
  concurrency: 8,
  idempotent: true,
  validateRow: validateFor('update'),
  processBatch: updateRows,
  preview: previewFor('update'),
};

export const profileWriteHandlers: WriteHandlers = {
  insert: profileInsert,
  update: profileUpdate,
  upsert: profileUpsert,
};
