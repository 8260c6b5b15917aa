/**
 * ListSubscribe insert (subscribe) and delete (unsubscribe): consent, through Klaviyo's
 * subscription jobs, with the list the consent is given for.
 *
 * - Subscribe: `POST /api/profile-subscription-bulk-create-jobs`, 1,000 people a job, one job per
 *   list (`relationships.list`). The channels come from the row: an Email subscribes it to email
 *   marketing, a PhoneNumber to SMS marketing. Klaviyo creates profiles it does not know.
 *   A double opt-in list only sends a confirmation message: those rows are logged
 *   `pending-confirmation`, never `subscribed` (klv reads each list's `opt_in_process` once).
 *   `--historical-import` records consent already collected (ConsentedAt, or the per-channel
 *   EmailConsentTimestamp / SmsConsentTimestamp, in the past): no confirmation, no flows.
 * - Unsubscribe: `POST /api/profile-subscription-bulk-delete-jobs`, 100 people a job. Klaviyo
 *   unsubscribes GLOBALLY a person who is not in the list, so klv first reads which rows' people
 *   are members (the list's members filtered by email / phone number) and refuses the others
 *   (`not_in_list`) unless `--allow-global-unsubscribe`.
 *
 * Both jobs answer 202 without a body and have no status endpoint: a row's status says Klaviyo
 * accepted it, the change itself lands shortly after. Sending either again is harmless.
 */
import { epochMsFloor, parseInstant } from '../../core/timestamps.js';
import { isNotFound } from '../../klaviyo/errors.js';
import { sendIsolating } from './bulk-isolate.js';
import { fail, failureFrom, text } from './content-common.js';
import { batchContext, chunk, finish, groupBy, listInfo, locateByPointer, success, type ListInfo } from './member-common.js';
import { emailKey, findListMembers, one } from './profile-lookup.js';
import type { ImportOptions, ImportRow, OperationHandler, RowFailure, RowOutcome, RowStatus, WriteContext } from './types.js';

/** Klaviyo's maxima: people per subscribe job, per unsubscribe job. */
export const SUBSCRIBE_PER_JOB = 1000;
export const UNSUBSCRIBE_PER_JOB = 100;

export const CUSTOM_SOURCE = 'klv import';

interface SubscriptionRow {
  row: ImportRow;
  listId: string;
  email?: string;
  phone?: string;
  profileId?: string;
  /** consented_at per channel (historical imports only). */
  emailConsentedAt?: string;
  smsConsentedAt?: string;
}

function subscriptionRow(row: ImportRow): SubscriptionRow {
  const consentedAt = text(row, 'ConsentedAt');
  return {
    row,
    listId: text(row, 'ListId')!.trim(),
    email: text(row, 'Email')?.trim(),
    phone: text(row, 'PhoneNumber')?.trim(),
    profileId: text(row, 'ProfileId')?.trim(),
    emailConsentedAt: text(row, 'EmailConsentTimestamp') ?? consentedAt,
    smsConsentedAt: text(row, 'SmsConsentTimestamp') ?? consentedAt,
  };
}

function validateCommon(row: ImportRow): RowFailure | null {
  if (!text(row, 'ListId')) return fail(row, 'invalid_value', 'ListId is empty: consent is given for a list (klv export lists shows their ids).');
  if (!text(row, 'Email') && !text(row, 'PhoneNumber')) {
    return fail(row, 'invalid_value', 'The row has neither Email nor PhoneNumber: an Email (un)subscribes email marketing, a PhoneNumber SMS marketing.');
  }
  return null;
}

function validateSubscribe(row: ImportRow, options: ImportOptions): RowFailure | null {
  const common = validateCommon(row);
  if (common || !options.historicalImport) return common;
  const s = subscriptionRow(row);
  for (const [channel, given, at] of [
    ['email', s.email, s.emailConsentedAt],
    ['SMS', s.phone, s.smsConsentedAt],
  ] as const) {
    if (!given) continue;
    if (!at) {
      return fail(row, 'invalid_value', `--historical-import records consent already given, so the ${channel} consent needs its date: give ConsentedAt (or ${channel === 'email' ? 'EmailConsentTimestamp' : 'SmsConsentTimestamp'}).`);
    }
    // No zone is UTC (core/timestamps), never the machine's zone.
    const instant = parseInstant(at, { dateAsMidnight: true });
    if (!instant) return fail(row, 'invalid_value', `'${at}' is not a date-time for the ${channel} consent.`);
    if (epochMsFloor(instant) > Date.now()) return fail(row, 'invalid_value', `The ${channel} consent date ${at} is in the future: Klaviyo takes historical consent from the past only.`);
  }
  return null;
}

/** Rows of one list asking the same thing for the same person are sent once. */
function entryKey(s: SubscriptionRow): string {
  return `${s.email ? emailKey(s.email) : ''}\u0000${s.phone ?? ''}`;
}

function dedupe(rows: readonly SubscriptionRow[]): SubscriptionRow[][] {
  return [...groupBy(rows, entryKey).values()];
}

/** The undecided rows fail: `not_found` naming the list for a 404, else as failureFrom says (or rethrows). */
function failRows(group: readonly SubscriptionRow[], err: unknown, ctx: WriteContext, outcomes: Map<number, RowOutcome>): void {
  for (const s of group) {
    if (outcomes.has(s.row.rowNumber)) continue;
    if (isNotFound(err)) {
      outcomes.set(s.row.rowNumber, fail(s.row, 'not_found', `List ${s.listId} does not exist in this Klaviyo account (${err.detail ?? 'not found'}).`));
    } else {
      outcomes.set(s.row.rowNumber, failureFrom(s.row, err, ctx));
    }
  }
}

/** Sends jobs of at most `perJob` entries, isolating refused entries; sets every row's outcome. */
async function sendJobs(
  ctx: WriteContext,
  entries: SubscriptionRow[][],
  perJob: number,
  send: (part: SubscriptionRow[][]) => Promise<unknown>,
  outcome: (s: SubscriptionRow) => RowOutcome,
  outcomes: Map<number, RowOutcome>,
): Promise<void> {
  for (const part of chunk(entries, perJob)) {
    const result = await sendIsolating(part, { send, locate: locateByPointer });
    for (const r of result.refused) for (const s of r.item) outcomes.set(s.row.rowNumber, fail(s.row, r.code, r.message));
    for (const a of result.accepted) for (const entry of a.items) for (const s of entry) outcomes.set(s.row.rowNumber, outcome(s));
  }
}

// ---------------------------------------------------------------- subscribe

function subscribeProfile(entry: SubscriptionRow[], historical: boolean): Record<string, unknown> {
  const s = entry[0];
  const channel = (at: string | undefined) => (historical && at ? { consent: 'SUBSCRIBED', consented_at: at } : { consent: 'SUBSCRIBED' });
  const subscriptions: Record<string, unknown> = {};
  if (s.email) subscriptions.email = { marketing: channel(s.emailConsentedAt) };
  if (s.phone) subscriptions.sms = { marketing: channel(s.smsConsentedAt) };
  const attributes: Record<string, unknown> = { subscriptions };
  if (s.email) attributes.email = s.email;
  if (s.phone) attributes.phone_number = s.phone;
  const profile: Record<string, unknown> = { type: 'profile', attributes };
  const id = entry.find((e) => e.profileId)?.profileId;
  if (id) profile.id = id;
  return profile;
}

/** What a subscription into this list becomes: a confirmation request on double opt-in lists. */
function subscribeStatus(list: ListInfo, historical: boolean): RowStatus {
  if (historical) return 'subscribed';
  // Unknown opt-in process: klv cannot tell whether a confirmation was sent, so it does not claim consent.
  return list.optInProcess === 'single_opt_in' ? 'subscribed' : 'pending-confirmation';
}

async function subscribe(rows: ImportRow[], runCtx: WriteContext): Promise<RowOutcome[]> {
  const ctx = batchContext(runCtx);
  const outcomes = new Map<number, RowOutcome>();
  const historical = Boolean(ctx.options.historicalImport);
  const valid: SubscriptionRow[] = [];
  for (const row of rows) {
    const invalid = validateSubscribe(row, ctx.options);
    if (invalid) outcomes.set(row.rowNumber, invalid);
    else valid.push(subscriptionRow(row));
  }
  for (const [listId, group] of groupBy(valid, (s) => s.listId)) {
    try {
      const list = await listInfo(ctx, listId);
      const status = subscribeStatus(list, historical);
      await sendJobs(
        ctx,
        dedupe(group),
        SUBSCRIBE_PER_JOB,
        (part) =>
          ctx.client.request('bulk_subscribe_profiles', {
            body: {
              data: {
                type: 'profile-subscription-bulk-create-job',
                attributes: { custom_source: CUSTOM_SOURCE, historical_import: historical, profiles: { data: part.map((e) => subscribeProfile(e, historical)) } },
                relationships: { list: { data: { type: 'list', id: listId } } },
              },
            },
            idempotent: true,
            signal: ctx.signal,
          }),
        (s) => success(s.row, status, s.profileId),
        outcomes,
      );
    } catch (err) {
      failRows(group, err, ctx, outcomes);
    }
  }
  return finish(rows, outcomes);
}

// ---------------------------------------------------------------- unsubscribe

function unsubscribeProfile(entry: SubscriptionRow[]): Record<string, unknown> {
  const s = entry[0];
  const subscriptions: Record<string, unknown> = {};
  const attributes: Record<string, unknown> = { subscriptions };
  if (s.email) {
    attributes.email = s.email;
    subscriptions.email = { marketing: { consent: 'UNSUBSCRIBED' } };
  }
  if (s.phone) {
    attributes.phone_number = s.phone;
    subscriptions.sms = { marketing: { consent: 'UNSUBSCRIBED' } };
  }
  return { type: 'profile', attributes };
}

const GLOBAL_HINT =
  'Klaviyo would unsubscribe this person from all marketing, not just from this list. Remove the row, or rerun with --allow-global-unsubscribe if a global unsubscribe is what you want.';

/**
 * The rows whose person is in the list (by email, and by phone number too when the row gives
 * one: each identifier the job carries must belong to that member); the others fail
 * `not_in_list`. Resolves with the member id of each row kept.
 */
async function keepMembers(ctx: WriteContext, listId: string, group: SubscriptionRow[], outcomes: Map<number, RowOutcome>): Promise<Map<SubscriptionRow, string>> {
  const members = await findListMembers(
    ctx.client,
    listId,
    { emails: group.flatMap((s) => (s.email ? [s.email] : [])), phoneNumbers: group.flatMap((s) => (s.phone ? [s.phone] : [])) },
    ctx.signal,
  );
  const kept = new Map<SubscriptionRow, string>();
  for (const s of group) {
    const byEmail = one(members, 'email', s.email);
    const byPhone = one(members, 'phone_number', s.phone);
    const member = s.email ? byEmail : byPhone;
    if (member && (!s.phone || byPhone?.id === member.id)) {
      kept.set(s, member.id);
      continue;
    }
    const who = s.email && !byEmail ? `Email ${s.email}` : `PhoneNumber ${s.phone}`;
    const detail =
      s.email && byEmail && s.phone
        ? `PhoneNumber ${s.phone} is not the phone number of list ${listId}'s member ${byEmail.id} with Email ${s.email}`
        : `${who} is not in list ${listId}`;
    outcomes.set(s.row.rowNumber, fail(s.row, 'not_in_list', `${detail}. ${GLOBAL_HINT}`));
  }
  return kept;
}

async function unsubscribe(rows: ImportRow[], runCtx: WriteContext): Promise<RowOutcome[]> {
  const ctx = batchContext(runCtx);
  const outcomes = new Map<number, RowOutcome>();
  const valid: SubscriptionRow[] = [];
  for (const row of rows) {
    const invalid = validateCommon(row);
    if (invalid) outcomes.set(row.rowNumber, invalid);
    else valid.push(subscriptionRow(row));
  }
  for (const [listId, group] of groupBy(valid, (s) => s.listId)) {
    try {
      // The list must exist: a job naming an unknown list could unsubscribe people globally.
      await listInfo(ctx, listId);
      const memberIds = ctx.options.allowGlobalUnsubscribe ? new Map<SubscriptionRow, string>() : await keepMembers(ctx, listId, group, outcomes);
      const sendable = ctx.options.allowGlobalUnsubscribe ? group : group.filter((s) => memberIds.has(s));
      await sendJobs(
        ctx,
        dedupe(sendable),
        UNSUBSCRIBE_PER_JOB,
        (part) =>
          ctx.client.request('bulk_unsubscribe_profiles', {
            body: {
              data: {
                type: 'profile-subscription-bulk-delete-job',
                attributes: { profiles: { data: part.map(unsubscribeProfile) } },
                relationships: { list: { data: { type: 'list', id: listId } } },
              },
            },
            idempotent: true,
            signal: ctx.signal,
          }),
        (s) => success(s.row, 'unsubscribed', memberIds.get(s) ?? s.profileId),
        outcomes,
      );
    } catch (err) {
      failRows(group, err, ctx, outcomes);
    }
  }
  return finish(rows, outcomes);
}

const SUBSCRIBE_COLUMNS = ['ListId', 'Email', 'PhoneNumber', 'ProfileId', 'ConsentedAt', 'EmailConsentTimestamp', 'SmsConsentTimestamp'];

export const listSubscribeInsert: OperationHandler = {
  operation: 'insert',
  calls: ['get_list', 'bulk_subscribe_profiles'],
  description:
    "Subscribes people to marketing for a list, 1,000 a job: an Email to email marketing, a PhoneNumber to SMS marketing (leave PhoneNumber out to subscribe email only). On a double opt-in list Klaviyo only sends a confirmation message: status pending-confirmation, not subscribed. --historical-import records consent given earlier (ConsentedAt required) without confirmation or flows. Klaviyo creates unknown people and processes the job shortly after accepting it.",
  requiredColumns: ['ListId', ['Email', 'PhoneNumber']],
  acceptedColumns: SUBSCRIBE_COLUMNS,
  maxBatchSize: SUBSCRIBE_PER_JOB,
  idempotent: true,
  validateRow: validateSubscribe,
  processBatch: subscribe,
};

export const listSubscribeDelete: OperationHandler = {
  operation: 'delete',
  calls: ['get_list', 'get_profiles_for_list', 'bulk_unsubscribe_profiles'],
  description:
    'Unsubscribes people from marketing, 100 a job: an Email from email marketing, a PhoneNumber from SMS marketing; Klaviyo also removes them from the list. People not in the list are refused (not_in_list), because Klaviyo would unsubscribe them from everything, unless --allow-global-unsubscribe.',
  requiredColumns: ['ListId', ['Email', 'PhoneNumber']],
  acceptedColumns: ['ListId', 'Email', 'PhoneNumber', 'ProfileId'],
  maxBatchSize: UNSUBSCRIBE_PER_JOB,
  idempotent: true,
  validateRow: (row) => validateCommon(row),
  processBatch: unsubscribe,
};
