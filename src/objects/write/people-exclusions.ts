/**
 * PeopleExclusions insert (suppress) and delete (unsuppress): global email suppressions, by Email
 * (or ProfileId, whose email klv looks up: Klaviyo suppresses addresses only).
 *
 * A batch of up to 100 rows (Klaviyo's per-job maximum) goes:
 * 1. each address's current suppressions read in bulk (`GET /api/profiles` with
 *    `additional-fields[profile]=subscriptions`, `any(email,[...])`);
 * 2. suppress: addresses already suppressed are `unchanged`; the rest go in one
 *    `POST /api/profile-suppression-bulk-create-jobs` (Klaviyo creates unknown addresses);
 *    unsuppress: Klaviyo lifts USER_SUPPRESSED suppressions only, so a row whose address is
 *    suppressed for another reason (HARD_BOUNCE, INVALID_EMAIL, UNSUBSCRIBE, SPAM_COMPLAINT)
 *    fails with that reason without being sent; not suppressed: `unchanged`; unknown: `not_found`;
 *    the rest go in one `POST /api/profile-suppression-bulk-delete-jobs`;
 * 3. the job is polled until complete, then the addresses are read again: a row is
 *    `suppressed` / `unsuppressed` only when Klaviyo's data says so (a job can skip addresses).
 *
 * Both jobs are idempotent: an interrupted batch can be sent again.
 */
import type { JsonApiResource } from '../../klaviyo/json-api.js';
import { sendIsolating } from './bulk-isolate.js';
import { JobTimeoutError, jobStatusOf, pollJob } from './bulk-job.js';
import { fail, failureFrom, text } from './content-common.js';
import { batchContext, finish, groupBy, locateByPointer, success } from './member-common.js';
import { emailKey, emailOf, lookupSuppressions, one, suppressionReasons, type ProfileIndex } from './profile-lookup.js';
import type { ImportRow, OperationHandler, RowFailure, RowOutcome, WriteContext } from './types.js';

/** Addresses per suppression job (Klaviyo's maximum). */
export const SUPPRESSIONS_PER_JOB = 100;

const LIFTABLE = 'USER_SUPPRESSED';

interface Failure {
  code: string;
  message: string;
}

interface ExclusionRow {
  row: ImportRow;
  email: string;
  profile?: JsonApiResource;
}

function validateExclusionRow(row: ImportRow): RowFailure | null {
  if (!text(row, 'Email') && !text(row, 'ProfileId')) {
    return fail(row, 'invalid_value', 'The row has neither Email nor ProfileId: Klaviyo suppresses email addresses.');
  }
  return null;
}

/** Each row's address (its Email, else its profile's) and current profile; rows without one fail. */
async function resolve(rows: readonly ImportRow[], ctx: WriteContext, outcomes: Map<number, RowOutcome>): Promise<ExclusionRow[]> {
  const valid = rows.filter((row) => {
    const invalid = validateExclusionRow(row);
    if (invalid) outcomes.set(row.rowNumber, invalid);
    return !invalid;
  });
  const byId = valid.filter((r) => !text(r, 'Email'));
  const ids = await lookupSuppressions(ctx.client, { ids: byId.map((r) => text(r, 'ProfileId')!.trim()) }, ctx.signal);
  const out: ExclusionRow[] = [];
  for (const row of valid) {
    const email = text(row, 'Email')?.trim();
    if (email) {
      out.push({ row, email });
      continue;
    }
    const id = text(row, 'ProfileId')!.trim();
    const profile = one(ids, 'id', id);
    const address = profile && emailOf(profile);
    if (!profile) outcomes.set(row.rowNumber, fail(row, 'not_found', `No profile has ProfileId ${id} in this Klaviyo account.`));
    else if (!address) outcomes.set(row.rowNumber, fail(row, 'invalid_value', `Profile ${id} has no email address, and Klaviyo suppresses addresses only.`));
    else out.push({ row, email: address });
  }
  const current = await lookupSuppressions(ctx.client, { emails: out.filter((r) => text(r.row, 'Email')).map((r) => r.email) }, ctx.signal);
  for (const r of out) r.profile = one(current, 'email', r.email) ?? one(ids, 'email', r.email);
  return out;
}

/**
 * Sends the addresses in one job (isolating addresses Klaviyo refuses), waits for it, and reads
 * them again; resolves with the index of their profiles afterwards, and the failures.
 */
async function runJob(
  ctx: WriteContext,
  emails: string[],
  create: boolean,
): Promise<{ after: ProfileIndex | undefined; failed: Map<string, Failure> }> {
  const failed = new Map<string, Failure>();
  if (emails.length === 0) return { after: undefined, failed };
  const kind = create ? 'suppression' : 'unsuppression';
  const sent = await sendIsolating(emails, {
    send: async (some) => {
      const res = await ctx.client.request<{ data?: JsonApiResource }>(create ? 'bulk_suppress_profiles' : 'bulk_unsuppress_profiles', {
        body: {
          data: {
            type: create ? 'profile-suppression-bulk-create-job' : 'profile-suppression-bulk-delete-job',
            attributes: { profiles: { data: some.map((email) => ({ type: 'profile', attributes: { email } })) } },
          },
        },
        idempotent: true,
        signal: ctx.signal,
      });
      return res.body?.data;
    },
    locate: locateByPointer,
  });
  for (const r of sent.refused) failed.set(r.item, { code: r.code, message: r.message });
  const verify: string[] = [];
  for (const { items, result: job } of sent.accepted) {
    if (!job?.id) {
      // No job to poll (Klaviyo said only "accepted"): what it did is checked below all the same.
      verify.push(...items);
      continue;
    }
    try {
      const done = await pollJob({
        client: ctx.client,
        operationId: create ? 'get_bulk_suppress_profiles_job' : 'get_bulk_unsuppress_profiles_job',
        pathParams: { job_id: job.id },
        clock: ctx.clock,
        signal: ctx.signal,
        initial: job,
        what: `${kind} job ${job.id}`,
        debug: (line) => ctx.debug(line),
      });
      const status = jobStatusOf(done.resource);
      if (status === 'complete') verify.push(...items);
      else for (const e of items) failed.set(e, { code: `job_${status}`, message: `Klaviyo's ${kind} job ${job.id} ended ${status}.` });
    } catch (err) {
      if (!(err instanceof JobTimeoutError)) throw err;
      for (const e of items) failed.set(e, { code: 'unknown_outcome', message: `${err.message}: check the address in Klaviyo later, or import the row again (it is harmless).` });
    }
  }
  const after = verify.length > 0 ? await lookupSuppressions(ctx.client, { emails: verify }, ctx.signal) : undefined;
  return { after, failed };
}

async function exclude(rows: ImportRow[], runCtx: WriteContext, create: boolean): Promise<RowOutcome[]> {
  const ctx = batchContext(runCtx);
  const outcomes = new Map<number, RowOutcome>();
  try {
    const resolved = await resolve(rows, ctx, outcomes);
    const toSend: ExclusionRow[] = [];
    for (const r of resolved) {
      const reasons = r.profile ? suppressionReasons(r.profile) : [];
      if (create) {
        if (reasons.length > 0) outcomes.set(r.row.rowNumber, success(r.row, 'unchanged', r.profile!.id));
        else toSend.push(r);
        continue;
      }
      if (!r.profile) outcomes.set(r.row.rowNumber, fail(r.row, 'not_found', `No profile has Email ${r.email} in this Klaviyo account: nothing to unsuppress.`));
      else if (reasons.length === 0) outcomes.set(r.row.rowNumber, success(r.row, 'unchanged', r.profile.id));
      else if (reasons.some((reason) => reason !== LIFTABLE)) outcomes.set(r.row.rowNumber, notLiftable(r, reasons));
      else toSend.push(r);
    }
    const byEmail = groupBy(toSend, (r) => emailKey(r.email));
    const { after, failed } = await runJob(ctx, [...byEmail.values()].map((g) => g[0].email), create);
    for (const group of byEmail.values()) {
      const email = group[0].email;
      const f = failed.get(email);
      const profile = after && one(after, 'email', email);
      const reasons = profile ? suppressionReasons(profile) : [];
      const applied = create ? reasons.length > 0 : profile !== undefined && !reasons.includes(LIFTABLE);
      for (const r of group) {
        if (f) outcomes.set(r.row.rowNumber, fail(r.row, f.code, f.message));
        else if (applied) outcomes.set(r.row.rowNumber, success(r.row, create ? 'suppressed' : 'unsuppressed', profile!.id));
        else {
          outcomes.set(
            r.row.rowNumber,
            fail(
              r.row,
              'not_applied',
              create
                ? `Klaviyo accepted the suppression of ${email}, but the address is not suppressed afterwards (Klaviyo skipped it).`
                : `Klaviyo accepted the unsuppression of ${email}, but the address is still ${reasons.join(', ') || 'unknown to Klaviyo'}.`,
            ),
          );
        }
      }
    }
  } catch (err) {
    for (const row of rows) if (!outcomes.has(row.rowNumber)) outcomes.set(row.rowNumber, failureFrom(row, err, ctx));
  }
  return finish(rows, outcomes);
}

function notLiftable(r: ExclusionRow, reasons: string[]): RowFailure {
  const others = reasons.filter((x) => x !== LIFTABLE);
  const resubscribe = others.includes('UNSUBSCRIBE')
    ? ' An UNSUBSCRIBE suppression ends when the person subscribes again (klv import list-subscribe --op insert, with their consent).'
    : '';
  return fail(
    r.row,
    'not_unsuppressible',
    `${r.email} is suppressed for ${reasons.join(', ')}: Klaviyo lifts only USER_SUPPRESSED suppressions, so klv did not send it.${resubscribe}`,
  );
}

const COLUMNS = ['Email', 'ProfileId'];

export const peopleExclusionsInsert: OperationHandler = {
  operation: 'insert',
  calls: ['get_profiles', 'bulk_suppress_profiles', 'get_bulk_suppress_profiles_job'],
  description:
    'Suppresses email addresses (Klaviyo reason USER_SUPPRESSED), 100 a job, by Email or ProfileId: they receive no email marketing whatever their consent. Addresses already suppressed are unchanged; unknown ones are created suppressed.',
  requiredColumns: [['Email', 'ProfileId']],
  acceptedColumns: COLUMNS,
  maxBatchSize: SUPPRESSIONS_PER_JOB,
  idempotent: true,
  validateRow: validateExclusionRow,
  processBatch: (rows, ctx) => exclude(rows, ctx, true),
};

export const peopleExclusionsDelete: OperationHandler = {
  operation: 'delete',
  calls: ['get_profiles', 'bulk_unsuppress_profiles', 'get_bulk_unsuppress_profiles_job'],
  description:
    'Lifts USER_SUPPRESSED suppressions, 100 a job, by Email or ProfileId. Klaviyo cannot lift the others (HARD_BOUNCE, INVALID_EMAIL, SPAM_COMPLAINT, UNSUBSCRIBE): those rows fail with the reason, without being sent. Addresses not suppressed are unchanged.',
  requiredColumns: [['Email', 'ProfileId']],
  acceptedColumns: COLUMNS,
  maxBatchSize: SUPPRESSIONS_PER_JOB,
  idempotent: true,
  validateRow: validateExclusionRow,
  processBatch: (rows, ctx) => exclude(rows, ctx, false),
};
