/**
 * Profile bulk import jobs (Klaviyo's upsert for volume):
 *   POST /api/profile-bulk-import-jobs                 bulk_import_profiles  202 with the job, `queued`
 *   GET  /api/profile-bulk-import-jobs/{job_id}        the job; each GET moves it a step (see write-common.ts)
 *   GET  /api/profile-bulk-import-jobs                 every job, `status` filter
 *   GET  .../{id}/import-errors, /profiles, /lists      served by the generic relationship reads
 *
 * What is refused, and how, follows what Klaviyo does rather than what would be convenient:
 *  - the request as a whole, 400, when any profile fails validation (a malformed email or phone
 *    number, an unknown field, a profile over 100 KB, no identifier): Klaviyo validates the batch
 *    all-or-nothing and lists every offending profile in its own error with a pointer
 *    `/data/attributes/profiles/data/<index>/...`, so a client can drop those and resend the rest
 *    (rudderlabs/rudder-server#7107 and others document this); an unknown list is a 400 at `/data`;
 *  - 413 over 5 MB, 400 over 10,000 profiles;
 *  - per profile, as an import error of the job (the rest of the job goes on), what only
 *    processing can find: identifiers that belong to two different profiles
 *    (`duplicate_profile`), an `id` that matches no profile (`not_found`).
 * Upserts match by id, then email, phone_number, external_id; nulls are ignored (Klaviyo's bulk
 * import does not clear fields); `relationships.lists` adds every imported profile to the lists,
 * without consent.
 *
 * Job faults (`jobFailRate`, see http/faults.ts): a job the seeded draw picks imports only its
 * first floor(n/2) profiles and ends `cancelled`, with completed_count saying how many; the rest
 * are neither imported nor import errors, as when Klaviyo stops a job part-way.
 */
import type { AccountStore, ResourceIdentifier, StoredResource } from '../store/types.js';
import { klaviyoTime } from '../demo-data/time.js';
import { KB, MB, checkCount, checkPayloadSize, createJob, formatBytes, jobGetHandler, jobListHandler, jsonBytes, resourceDocument, writeHandler } from './write-common.js';
import { membersOf } from './write-lists.js';
import {
  DUPLICATE_DETAIL,
  NO_IDENTIFIER_DETAIL,
  hasIdentifier,
  identifierProblems,
  insertProfile,
  resolveProfile,
  updateProfile,
  type PatchProperties,
} from './write-profile-core.js';
import { WriteRefusal, validateRequestBody, type Problem } from './write-schema.js';
import type { Handler } from './types.js';

export const JOB_TYPE = 'profile-bulk-import-job';
export const MAX_PROFILES = 10_000;
export const MAX_PAYLOAD_BYTES = 5 * MB;
export const MAX_PROFILE_BYTES = 100 * KB;
/** How long Klaviyo keeps a job's results readable. */
const EXPIRES_AFTER_MS = 7 * 24 * 3_600_000;
const PROFILES_POINTER = '/data/attributes/profiles/data';

interface BulkProfile {
  type: 'profile';
  id?: string | null;
  attributes: Record<string, unknown>;
  meta?: { patch_properties?: PatchProperties | null } | null;
}

interface BulkImportBody {
  data: {
    type: typeof JOB_TYPE;
    attributes: { profiles: { data: BulkProfile[] } };
    relationships?: { lists?: { data?: ResourceIdentifier[] } };
  };
}

interface ImportError {
  code: string;
  title: string;
  detail: string;
  pointer: string;
  payload: BulkProfile;
}

/** Refuses the whole request for what Klaviyo validates before it accepts a job. */
function validate(store: AccountStore, body: BulkImportBody): { profiles: BulkProfile[]; lists: ResourceIdentifier[] } {
  const profiles = body.data.attributes.profiles.data;
  checkCount(profiles.length, MAX_PROFILES, 'profiles', PROFILES_POINTER);
  const problems: Problem[] = [];
  profiles.forEach((profile, i) => {
    const at = `${PROFILES_POINTER}/${i}`;
    const size = jsonBytes(profile);
    if (size > MAX_PROFILE_BYTES) {
      problems.push({ code: 'invalid', detail: `This profile is ${formatBytes(size)}; a profile in a bulk import may be at most ${formatBytes(MAX_PROFILE_BYTES)}.`, pointer: at });
      return;
    }
    problems.push(...identifierProblems(profile.attributes, `${at}/attributes`));
    // `_kx` alone names a profile too (Klaviyo's exchange id), so only its absence as well is refused.
    if (!hasIdentifier(profile.attributes, profile.id) && typeof profile.attributes._kx !== 'string') {
      problems.push({ code: 'invalid', detail: NO_IDENTIFIER_DETAIL, pointer: `${at}/attributes` });
    }
  });
  if (problems.length > 0) throw new WriteRefusal(400, problems);
  const lists = body.data.relationships?.lists?.data ?? [];
  const missing = lists.filter((ref) => !store.collection('list').get(ref.id));
  if (missing.length > 0) {
    throw new WriteRefusal(400, missing.map((ref) => ({ code: 'invalid', detail: `List ID ${ref.id} does not exist.`, pointer: '/data' })));
  }
  return { profiles, lists };
}

/** Upserts one profile; an ImportError when processing finds it cannot. */
function importOne(store: AccountStore, profile: BulkProfile, index: number): StoredResource | ImportError {
  const attributes = profile.attributes;
  const at = `${PROFILES_POINTER}/${index}`;
  const resolution = resolveProfile(store, profile.id, attributes);
  const patch = profile.meta?.patch_properties ?? null;
  switch (resolution.kind) {
    case 'existing':
      return updateProfile(store, resolution.profile, attributes, 'ignore', patch).profile;
    case 'new':
      if (!hasIdentifier(attributes)) {
        // Only a _kx: the emulator issues none, so it never names a profile.
        return { code: 'not_found', title: 'Not found.', detail: `No profile has the _kx given, and there is no other identifier to create one with. ${NO_IDENTIFIER_DETAIL}`, pointer: `${at}/attributes/_kx`, payload: profile };
      }
      return insertProfile(store, attributes, 'ignore', patch);
    case 'not_found':
      return { code: 'not_found', title: 'Not found.', detail: `A profile with id '${resolution.id}' does not exist.`, pointer: `${at}/id`, payload: profile };
    case 'conflict':
      return {
        code: 'duplicate_profile',
        title: 'Conflict.',
        detail: `${DUPLICATE_DETAIL} The ${resolution.identifier} '${String(attributes[resolution.identifier])}' belongs to profile ${resolution.duplicateId}, not to the profile the other identifiers${profile.id ? ' (or the id)' : ''} name.`,
        pointer: `${at}/attributes/${resolution.identifier}`,
        payload: profile,
      };
  }
}

export const bulkImportHandlers: Record<string, Handler> = {
  bulk_import_profiles: writeHandler((ctx) => {
    // The job exists from the moment Klaviyo accepts the request: profiles it creates are never
    // older than the job (importers tell created from updated by comparing the two).
    const receivedAt = klaviyoTime(ctx.store.now().getTime());
    checkPayloadSize(ctx.body, MAX_PAYLOAD_BYTES, 'POST /api/profile-bulk-import-jobs');
    const body = validateRequestBody<BulkImportBody>('bulk_import_profiles', ctx.body);
    const { profiles, lists } = validate(ctx.store, body);
    const store = ctx.store;
    // An injected job fault (jobFailRate) cancels the job half-way: only the first half is
    // imported, the rest is neither imported nor reported as import errors.
    const cancelled = ctx.jobFaults.nextJobFails();
    const processed = cancelled ? profiles.slice(0, Math.floor(profiles.length / 2)) : profiles;

    const imported: ResourceIdentifier[] = [];
    const seen = new Set<string>();
    const errors: ResourceIdentifier[] = [];
    const errorCollection = store.collection('import-error');
    processed.forEach((profile, i) => {
      const outcome = importOne(store, profile, i);
      if ('code' in outcome) {
        const error = errorCollection.insert({
          type: 'import-error',
          id: store.newId('import-error'),
          attributes: { code: outcome.code, title: outcome.title, detail: outcome.detail, source: { pointer: outcome.pointer }, original_payload: outcome.payload },
          relationships: {},
        });
        errors.push({ type: 'import-error', id: error.id });
        return;
      }
      if (!seen.has(outcome.id)) {
        seen.add(outcome.id);
        imported.push({ type: 'profile', id: outcome.id });
      }
    });
    const joined = klaviyoTime(store.now().getTime());
    for (const list of lists) {
      const members = membersOf(store, list.id);
      for (const ref of imported) if (!members.has(ref.id)) members.set(ref.id, joined);
    }

    const job = createJob(
      store,
      JOB_TYPE,
      { total: profiles.length, completed: processed.length - errors.length, failed: errors.length, endStatus: cancelled ? 'cancelled' : 'complete' },
      { lists: lists.map((l) => ({ type: 'list', id: l.id })), profiles: imported, 'import-errors': errors },
      { created_at: receivedAt, started_at: null, expires_at: klaviyoTime(store.now().getTime() + EXPIRES_AFTER_MS) },
    );
    return resourceDocument(ctx, job, 202, ['profiles', 'import-errors']);
  }),
  get_bulk_import_profiles_job: jobGetHandler(JOB_TYPE, 'job_id', ['profiles', 'import-errors']),
  get_bulk_import_profiles_jobs: jobListHandler(JOB_TYPE, ['profiles', 'import-errors']),
};
