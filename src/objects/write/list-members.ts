/**
 * ListMembers insert (add people to lists) and delete (remove them), as the connector did it:
 * rows name a list (ListId) and a person (ProfileId, Email, ExternalId, or PhoneNumber alone).
 *
 * Klaviyo's list relationship endpoints take profile ids only, 1,000 a call, so a batch goes:
 * 1. the profiles of every row, found in bulk (`any(email,[...])`, 100 values a request);
 * 2. per list, which of them are already members (the list's members filtered by email);
 * 3. insert: the others added with `POST /api/lists/{id}/relationships/profiles`; people without
 *    a profile created straight into the list by one bulk import job (`relationships.lists`),
 *    polled until complete, its import errors mapped back to their rows. A member already in
 *    the list is not added again: `unchanged`, or `updated` when the row's PhoneNumber differs
 *    from the profile's (`PATCH /api/profiles/{id}`) or it brings a PushToken
 *    (`POST /api/push-tokens`, create or update);
 *    delete: members removed with `DELETE .../relationships/profiles`; non-members `unchanged`;
 *    a person without a profile fails `not_found`.
 *
 * Everything sent is idempotent (adding a member twice, an upsert job, setting a phone number,
 * registering a token), so an interrupted batch can be sent again.
 */
import { isNotFound } from '../../klaviyo/errors.js';
import type { JsonApiResource } from '../../klaviyo/json-api.js';
import { sendIsolating } from './bulk-isolate.js';
import { JobTimeoutError, jobStatusOf, pollJob } from './bulk-job.js';
import { fail, failureFrom, text } from './content-common.js';
import { batchContext, chunk, finish, groupBy, listInfo, locateByPointer, pointerIndex, success } from './member-common.js';
import {
  describeIdentifiers,
  emailKey,
  findProfile,
  hasIdentifier,
  identifiersOf,
  listMemberIds,
  lookupByIdentifiers,
  phoneIsKey,
  phoneOf,
  type Identifiers,
  type ProfileIndex,
} from './profile-lookup.js';
import type { ImportRow, OperationHandler, RowFailure, RowOutcome, WriteContext } from './types.js';

/** Ids per list relationship call (Klaviyo's maximum). */
export const MEMBERS_PER_CALL = 1000;

const IDENTIFIER_COLUMNS = ['ProfileId', 'Email', 'PhoneNumber', 'ExternalId'] as const;
const PUSH_PLATFORMS = ['ios', 'android'];
const PUSH_VENDORS = ['apns', 'fcm'];
/** The usual vendor of each platform when the row does not say. */
const DEFAULT_VENDOR: Record<string, string> = { ios: 'apns', android: 'fcm' };

interface Failure {
  code: string;
  message: string;
}

interface MemberRow {
  row: ImportRow;
  listId: string;
  ids: Identifiers;
}

function validateMemberRow(row: ImportRow, insert: boolean): RowFailure | null {
  if (!text(row, 'ListId')) return fail(row, 'invalid_value', 'ListId is empty: each row needs the id of the list (klv export lists shows them).');
  if (!hasIdentifier(identifiersOf(row))) {
    return fail(row, 'invalid_value', 'The row has no ProfileId, Email, PhoneNumber or ExternalId: one of them must name the person.');
  }
  if (insert && text(row, 'PushToken')) {
    const platform = text(row, 'PushPlatform')?.toLowerCase();
    if (!platform || !PUSH_PLATFORMS.includes(platform)) {
      return fail(row, 'invalid_value', `A PushToken needs PushPlatform ios or android${platform ? `, not '${platform}'` : ''}: Klaviyo registers tokens per platform.`);
    }
    const vendor = text(row, 'PushVendor')?.toLowerCase();
    if (vendor && !PUSH_VENDORS.includes(vendor)) return fail(row, 'invalid_value', `PushVendor must be apns or fcm, not '${vendor}'.`);
  }
  return null;
}

/** The valid rows; invalid ones (the pipeline normally kept them out already) fail here. */
function memberRows(rows: readonly ImportRow[], insert: boolean, outcomes: Map<number, RowOutcome>): MemberRow[] {
  const out: MemberRow[] = [];
  for (const row of rows) {
    const invalid = validateMemberRow(row, insert);
    if (invalid) outcomes.set(row.rowNumber, invalid);
    else out.push({ row, listId: text(row, 'ListId')!.trim(), ids: identifiersOf(row) });
  }
  return out;
}

const notFound = (m: MemberRow): RowFailure => fail(m.row, 'not_found', `No profile has ${describeIdentifiers(m.ids)} in this Klaviyo account.`);

/**
 * The undecided rows of a list fail with the error: `not_found` naming the list for a 404;
 * what failureFrom says otherwise (it rethrows what is not about rows: a refused key, Ctrl-C).
 */
function failList(group: readonly MemberRow[], err: unknown, ctx: WriteContext, outcomes: Map<number, RowOutcome>): void {
  for (const m of group) {
    if (outcomes.has(m.row.rowNumber)) continue;
    if (isNotFound(err)) {
      outcomes.set(m.row.rowNumber, fail(m.row, 'not_found', `List ${m.listId} does not exist in this Klaviyo account (${err.detail ?? 'not found'}).`));
    } else {
      outcomes.set(m.row.rowNumber, failureFrom(m.row, err, ctx));
    }
  }
}

/** Adds or removes profile ids, 1,000 a call, isolating the ids Klaviyo refuses. */
async function changeMembership(ctx: WriteContext, listId: string, ids: string[], remove: boolean): Promise<Map<string, Failure>> {
  const refused = new Map<string, Failure>();
  for (const part of chunk(ids, MEMBERS_PER_CALL)) {
    const result = await sendIsolating(part, {
      send: (some) =>
        ctx.client.request(remove ? 'remove_profiles_from_list' : 'add_profiles_to_list', {
          pathParams: { id: listId },
          body: { data: some.map((id) => ({ type: 'profile', id })) },
          idempotent: true,
          signal: ctx.signal,
        }),
      locate: locateByPointer,
    });
    for (const r of result.refused) refused.set(r.item, { code: r.code, message: r.message });
  }
  return refused;
}

function lookup(ctx: WriteContext, members: readonly MemberRow[]): Promise<ProfileIndex> {
  return lookupByIdentifiers(ctx.client, members.map((m) => m.ids), { signal: ctx.signal });
}

// ---------------------------------------------------------------- insert

/** A person to create: one entry per distinct set of identifiers, shared by duplicate rows. */
interface NewProfile {
  attributes: Record<string, unknown>;
  members: MemberRow[];
}

/** A new person is one per first identifier (Email, else ExternalId, else PhoneNumber), as Klaviyo matches them. */
function newProfileKey(ids: Identifiers): string {
  if (ids.email) return `email\u0000${emailKey(ids.email)}`;
  if (ids.externalId) return `external_id\u0000${ids.externalId}`;
  return `phone_number\u0000${ids.phoneNumber ?? ''}`;
}

function newProfileAttributes(m: MemberRow): Record<string, unknown> {
  const a: Record<string, unknown> = {};
  if (m.ids.email) a.email = m.ids.email;
  if (m.ids.phoneNumber) a.phone_number = m.ids.phoneNumber;
  if (m.ids.externalId) a.external_id = m.ids.externalId;
  const first = text(m.row, 'FirstName');
  const last = text(m.row, 'LastName');
  if (first) a.first_name = first;
  if (last) a.last_name = last;
  return a;
}

/** Whether an import error's original payload is this entry (by its first identifier). */
function payloadMatches(entry: NewProfile, payload: unknown): boolean {
  if (!payload || typeof payload !== 'object') return false;
  const p = payload as Record<string, unknown>;
  const a = (p.attributes && typeof p.attributes === 'object' ? p.attributes : p) as Record<string, unknown>;
  const want = entry.attributes;
  if (typeof want.email === 'string') return typeof a.email === 'string' && emailKey(a.email) === emailKey(want.email);
  if (typeof want.external_id === 'string') return a.external_id === want.external_id;
  return typeof want.phone_number === 'string' && a.phone_number === want.phone_number;
}

/**
 * Creates the missing people with a bulk import job that also puts them in the list; resolves
 * with each entry's profile, or why it failed. The job is an upsert: sent again after an
 * interruption, it creates nobody twice.
 */
async function createInList(ctx: WriteContext, listId: string, entries: NewProfile[]): Promise<Map<NewProfile, JsonApiResource | Failure>> {
  const result = new Map<NewProfile, JsonApiResource | Failure>();
  if (entries.length === 0) return result;
  const sent = await sendIsolating(entries, {
    send: async (some) => {
      const res = await ctx.client.request<{ data?: JsonApiResource }>('bulk_import_profiles', {
        body: {
          data: {
            type: 'profile-bulk-import-job',
            attributes: { profiles: { data: some.map((e) => ({ type: 'profile', attributes: e.attributes })) } },
            relationships: { lists: { data: [{ type: 'list', id: listId }] } },
          },
        },
        idempotent: true,
        signal: ctx.signal,
      });
      return res.body?.data;
    },
    locate: locateByPointer,
  });
  for (const r of sent.refused) result.set(r.item, { code: r.code, message: r.message });

  for (const { items, result: job } of sent.accepted) {
    if (!job?.id) {
      for (const e of items) result.set(e, { code: 'unknown_outcome', message: 'Klaviyo accepted the profile import job without saying which job it is: run the import again.' });
      continue;
    }
    let done: JsonApiResource;
    try {
      done = (
        await pollJob({
          client: ctx.client,
          operationId: 'get_bulk_import_profiles_job',
          pathParams: { job_id: job.id },
          clock: ctx.clock,
          signal: ctx.signal,
          initial: job,
          what: `profile import job ${job.id}`,
          debug: (line) => ctx.debug(line),
        })
      ).resource;
    } catch (err) {
      if (!(err instanceof JobTimeoutError)) throw err;
      for (const e of items) result.set(e, { code: 'unknown_outcome', message: `${err.message}: run the import again later (the job creates nobody twice).` });
      continue;
    }
    const status = jobStatusOf(done);
    if (status !== 'complete') {
      for (const e of items) result.set(e, { code: `job_${status}`, message: `Klaviyo's profile import job ${done.id} ended ${status}: nothing is known to have been imported.` });
      continue;
    }
    if (Number(done.attributes?.failed_count ?? 0) > 0) {
      for await (const err of ctx.client.paginate('get_errors_for_bulk_import_profiles_job', { pathParams: { id: done.id }, signal: ctx.signal })) {
        const a = err.attributes ?? {};
        const pointer = (a.source as { pointer?: string | null } | undefined)?.pointer ?? undefined;
        const i = pointerIndex(pointer);
        const entry = items.find((e) => payloadMatches(e, a.original_payload)) ?? (i !== undefined ? items[i] : undefined);
        if (!entry || result.has(entry)) continue;
        const detail = String(a.detail ?? a.title ?? 'refused by the import job');
        result.set(entry, { code: String(a.code ?? 'import_error'), message: pointer ? `${detail} (${pointer})` : detail });
      }
    }
  }

  // The profiles the jobs made (or matched), found again by the identifiers that were sent.
  const imported = entries.filter((e) => !result.has(e));
  if (imported.length > 0) {
    const index = await lookupByIdentifiers(ctx.client, imported.map((e) => e.members[0].ids), { signal: ctx.signal });
    for (const e of imported) {
      const ids = e.members[0].ids;
      result.set(
        e,
        findProfile(index, ids) ?? {
          code: 'not_applied',
          message: `Klaviyo's import job completed without an error for ${describeIdentifiers(ids)}, yet no such profile can be found: run the import again.`,
        },
      );
    }
  }
  return result;
}

/** The row's push token for `POST /api/push-tokens`, vendor defaulted from the platform. */
function pushTokenOf(row: ImportRow): { token: string; platform: string; vendor: string } | undefined {
  const token = text(row, 'PushToken');
  if (!token) return undefined;
  const platform = text(row, 'PushPlatform')!.toLowerCase();
  return { token, platform, vendor: text(row, 'PushVendor')?.toLowerCase() ?? DEFAULT_VENDOR[platform] };
}

/** Writes the row's phone number and push token onto the member; true when it sent anything. */
async function updateMember(ctx: WriteContext, m: MemberRow, profile: JsonApiResource, created: boolean): Promise<boolean> {
  let changed = false;
  const phone = m.ids.phoneNumber;
  if (!created && phone && !phoneIsKey(m.ids) && phoneOf(profile) !== phone) {
    await ctx.client.request('update_profile', {
      pathParams: { id: profile.id },
      body: { data: { type: 'profile', id: profile.id, attributes: { phone_number: phone } } },
      idempotent: true,
      signal: ctx.signal,
    });
    profile.attributes = { ...profile.attributes, phone_number: phone };
    changed = true;
  }
  const push = pushTokenOf(m.row);
  if (push) {
    await ctx.client.request('create_push_token', {
      body: { data: { type: 'push-token', attributes: { ...push, profile: { data: { type: 'profile', id: profile.id, attributes: {} } } } } },
      idempotent: true,
      signal: ctx.signal,
    });
    changed = true;
  }
  return changed;
}

async function insertIntoList(ctx: WriteContext, listId: string, group: MemberRow[], index: ProfileIndex, outcomes: Map<number, RowOutcome>): Promise<void> {
  // An unknown list fails its rows plainly (404 not_found) before anything is written for them.
  await listInfo(ctx, listId);
  const found = new Map<MemberRow, JsonApiResource>();
  const missing = new Map<string, NewProfile>();
  for (const m of group) {
    const p = findProfile(index, m.ids);
    if (p) found.set(m, p);
    else if (m.ids.id) outcomes.set(m.row.rowNumber, notFound(m)); // a given id cannot be created
    else {
      const key = newProfileKey(m.ids);
      const entry = missing.get(key);
      if (entry) {
        entry.members.push(m);
        // Later rows of the same person fill in what the first did not give.
        entry.attributes = { ...newProfileAttributes(m), ...entry.attributes };
      } else missing.set(key, { attributes: newProfileAttributes(m), members: [m] });
    }
  }

  const members = await listMemberIds(ctx.client, listId, found.values(), ctx.signal);
  const toAdd = [...new Set([...found.values()].map((p) => p.id).filter((id) => !members.has(id)))];
  const refused = await changeMembership(ctx, listId, toAdd, false);
  const created = await createInList(ctx, listId, [...missing.values()]);

  // status: the membership the row made; absent when the row found the member already there.
  const decided: { m: MemberRow; profile: JsonApiResource; status?: 'added' | 'created' }[] = [];
  const addedBy = new Set<string>();
  for (const [m, p] of found) {
    const f = refused.get(p.id);
    if (f) outcomes.set(m.row.rowNumber, fail(m.row, f.code, f.message));
    else if (!members.has(p.id) && !addedBy.has(p.id)) {
      addedBy.add(p.id);
      decided.push({ m, profile: p, status: 'added' });
    } else decided.push({ m, profile: p });
  }
  for (const [entry, r] of created) {
    entry.members.forEach((m, i) => {
      if (!('id' in r)) outcomes.set(m.row.rowNumber, fail(m.row, r.code, r.message));
      // Duplicate rows of one new person: the first created it, the others find it there.
      else decided.push(i === 0 ? { m, profile: r, status: 'created' } : { m, profile: r });
    });
  }

  await Promise.all(
    decided.map(async ({ m, profile, status }) => {
      try {
        const changed = await updateMember(ctx, m, profile, status === 'created');
        outcomes.set(m.row.rowNumber, success(m.row, status ?? (changed ? 'updated' : 'unchanged'), profile.id));
      } catch (err) {
        const f = failureFrom(m.row, err, ctx);
        const what = status ? `Profile ${profile.id} was ${status === 'created' ? 'created and ' : ''}added to list ${listId}, but updating it failed` : `Updating member ${profile.id} failed`;
        outcomes.set(m.row.rowNumber, { ...f, message: `${what}: ${f.message}` });
      }
    }),
  );
}

async function insertMembers(rows: ImportRow[], runCtx: WriteContext): Promise<RowOutcome[]> {
  const ctx = batchContext(runCtx);
  const outcomes = new Map<number, RowOutcome>();
  const valid = memberRows(rows, true, outcomes);
  const index = await lookup(ctx, valid);
  for (const [listId, group] of groupBy(valid, (m) => m.listId)) {
    try {
      await insertIntoList(ctx, listId, group, index, outcomes);
    } catch (err) {
      failList(group, err, ctx, outcomes);
    }
  }
  return finish(rows, outcomes);
}

// ---------------------------------------------------------------- delete

async function removeFromList(ctx: WriteContext, listId: string, group: MemberRow[], index: ProfileIndex, outcomes: Map<number, RowOutcome>): Promise<void> {
  await listInfo(ctx, listId);
  const found = new Map<MemberRow, JsonApiResource>();
  for (const m of group) {
    const p = findProfile(index, m.ids);
    if (p) found.set(m, p);
    else outcomes.set(m.row.rowNumber, notFound(m));
  }
  const members = await listMemberIds(ctx.client, listId, found.values(), ctx.signal);
  const toRemove = [...new Set([...found.values()].map((p) => p.id).filter((id) => members.has(id)))];
  const refused = await changeMembership(ctx, listId, toRemove, true);
  const removedBy = new Set<string>();
  for (const [m, p] of found) {
    const f = refused.get(p.id);
    if (f) outcomes.set(m.row.rowNumber, fail(m.row, f.code, f.message));
    else if (members.has(p.id) && !removedBy.has(p.id)) {
      removedBy.add(p.id);
      outcomes.set(m.row.rowNumber, success(m.row, 'removed', p.id));
    } else outcomes.set(m.row.rowNumber, success(m.row, 'unchanged', p.id));
  }
}

async function deleteMembers(rows: ImportRow[], runCtx: WriteContext): Promise<RowOutcome[]> {
  const ctx = batchContext(runCtx);
  const outcomes = new Map<number, RowOutcome>();
  const valid = memberRows(rows, false, outcomes);
  const index = await lookup(ctx, valid);
  for (const [listId, group] of groupBy(valid, (m) => m.listId)) {
    try {
      await removeFromList(ctx, listId, group, index, outcomes);
    } catch (err) {
      failList(group, err, ctx, outcomes);
    }
  }
  return finish(rows, outcomes);
}

export const listMembersInsert: OperationHandler = {
  operation: 'insert',
  calls: ['get_list', 'get_profiles', 'get_list_ids_for_profile', 'add_profiles_to_list', 'bulk_import_profiles', 'get_bulk_import_profiles_job', 'get_errors_for_bulk_import_profiles_job', 'update_profile'],
  conditionalCalls: [{ when: 'a PushToken column', calls: ['create_push_token'] }],
  description:
    'Adds people to lists, 1,000 a request, by ListId and ProfileId, Email, ExternalId or PhoneNumber; people without a profile are created in the list by a bulk import job (status created). A member already in the list is not added again (unchanged): a PhoneNumber or PushToken in the row updates it instead (updated). Adding to a list does not subscribe anyone: ListSubscribe does.',
  requiredColumns: ['ListId', IDENTIFIER_COLUMNS],
  acceptedColumns: ['ListId', ...IDENTIFIER_COLUMNS, 'FirstName', 'LastName', 'PushToken', 'PushPlatform', 'PushVendor'],
  maxBatchSize: MEMBERS_PER_CALL,
  idempotent: true,
  validateRow: (row) => validateMemberRow(row, true),
  processBatch: insertMembers,
};

export const listMembersDelete: OperationHandler = {
  operation: 'delete',
  calls: ['get_list', 'get_profiles', 'get_list_ids_for_profile', 'remove_profiles_from_list'],
  description:
    'Removes people from lists, 1,000 a request, by ListId and ProfileId, Email, ExternalId or PhoneNumber (status removed). Consent is not changed; people not in the list are left alone (unchanged); unknown people fail not_found.',
  requiredColumns: ['ListId', IDENTIFIER_COLUMNS],
  acceptedColumns: ['ListId', ...IDENTIFIER_COLUMNS],
  maxBatchSize: MEMBERS_PER_CALL,
  idempotent: true,
  validateRow: (row) => validateMemberRow(row, false),
  processBatch: deleteMembers,
};
