/**
 * Profiles: insert, upsert and update.
 *
 * Insert and upsert go through Klaviyo's profile bulk import jobs (profile-bulk-jobs.ts: jobs of
 * 10,000 profiles and 5 MB, polled, their import errors tied back to rows, jobs that stop part-way
 * sent again); the payload and the row rules are in profile-payload.ts, --dry-run in
 * profile-preview.ts.
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
import type { JsonApiResource } from '../../klaviyo/client.js';
import { fail, failureFrom, isRunFailure } from './content-common.js';
import { importByJobs, JOB_MAX_PROFILES } from './profile-bulk-jobs.js';
import { clearsAField, PROFILE_ATTRIBUTE_PATHS, PROFILE_IDENTIFIERS, profilePayload, validateProfileRow } from './profile-payload.js';
import { previewProfiles } from './profile-preview.js';
import { describeKey, identifiersOf, keyOf, lookupProfiles, MATCH_FIELDS, normalizeIdentifier, wantedKeys, type ProfileIndex, type RowKey } from './profile-match.js';
import type { ImportRow, OperationHandler, RowFailure, RowOutcome, RowSuccess, WriteContext, WriteHandlers } from './types.js';

/** Ids in one `POST /api/lists/{id}/relationships/profiles`. */
const LIST_ADD_MAX = 1_000;

// ---------------------------------------------------------------------------------------------
// One request per row

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
// Insert guard

/** Rows whose identifiers already belong to a profile, or repeat an earlier row's: refused unsent. */
async function refuseExisting(rows: ImportRow[], ctx: WriteContext): Promise<{ fresh: ImportRow[]; refused: RowFailure[] }> {
  const keysByRow = rows.map((row) => identifiersOf(row, PROFILE_IDENTIFIERS));
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
  validateRow: validateProfileRow('insert'),
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
  validateRow: validateProfileRow('upsert'),
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
  preview: previewProfiles('upsert'),
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
  validateRow: validateProfileRow('update'),
  processBatch: updateRows,
  preview: previewProfiles('update'),
};

export const profileWriteHandlers: WriteHandlers = {
  insert: profileInsert,
  update: profileUpdate,
  upsert: profileUpsert,
};
