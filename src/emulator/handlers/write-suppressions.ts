/**
 * Global email suppressions (PeopleExclusions):
 *   POST /api/profile-suppression-bulk-create-jobs           bulk_suppress_profiles    202 with the job; ≤ 100 emails
 *   POST /api/profile-suppression-bulk-delete-jobs           bulk_unsuppress_profiles  202 with the job; ≤ 100 emails
 *   GET  /api/profile-suppression-bulk-{create,delete}-jobs[/{job_id}]  the jobs (queued → processing → complete)
 * Suppressing adds a USER_SUPPRESSED suppression (a profile that has one already is skipped);
 * an email without a profile gets one, as Klaviyo keeps the suppression for when it shows up.
 * Unsuppressing lifts USER_SUPPRESSED only: "unsubscribed profiles and suppressed profiles with
 * reason INVALID_EMAIL or HARD_BOUNCE remain unchanged" (the spec); those, and emails with no
 * USER_SUPPRESSED suppression, count as skipped. `relationships.list` / `.segment` act on every
 * current member instead of (or as well as) the emails.
 */
import type { AccountStore, ResourceIdentifier, StoredResource } from '../store/types.js';
import { checkCount, createJob, jobGetHandler, jobListHandler, nowIso, resourceDocument, writeHandler } from './write-common.js';
import { findOrCreateProfile, identifierProblems, subscriptionsOf, writeSubscriptions, type Subscriptions } from './write-profile-core.js';
import { WriteRefusal, invalid, validateRequestBody, type Problem } from './write-schema.js';
import type { Handler } from './types.js';

export const SUPPRESS_JOB = 'profile-suppression-bulk-create-job';
export const UNSUPPRESS_JOB = 'profile-suppression-bulk-delete-job';
export const MAX_SUPPRESSIONS = 100;
const PROFILES_POINTER = '/data/attributes/profiles/data';

interface SuppressionBody {
  data: {
    attributes: { profiles?: { data: Array<{ type: 'profile'; attributes: { email: string } }> } | null };
    relationships?: { list?: { data?: ResourceIdentifier }; segment?: { data?: ResourceIdentifier } };
  };
}

interface Targets {
  emails: string[];
  groups: { lists: ResourceIdentifier[]; segments: ResourceIdentifier[] };
  members: string[];
}

function targetsOf(store: AccountStore, operationId: string, body: unknown): Targets {
  const { data } = validateRequestBody<SuppressionBody>(operationId, body);
  const profiles = data.attributes.profiles?.data ?? [];
  checkCount(profiles.length, MAX_SUPPRESSIONS, 'emails', PROFILES_POINTER);
  const problems: Problem[] = profiles.flatMap((p, i) => identifierProblems(p.attributes, `${PROFILES_POINTER}/${i}/attributes`));
  if (problems.length > 0) throw new WriteRefusal(400, problems);
  const groups: Targets['groups'] = { lists: [], segments: [] };
  const members: string[] = [];
  for (const [rel, type, membership] of [['list', 'list', store.listMembers], ['segment', 'segment', store.segmentMembers]] as const) {
    const ref = data.relationships?.[rel]?.data;
    if (!ref) continue;
    if (!store.collection(type).get(ref.id)) throw invalid(`${type === 'list' ? 'List' : 'Segment'} not found with id ${ref.id}.`, `/data/relationships/${rel}/data/id`);
    (type === 'list' ? groups.lists : groups.segments).push({ type, id: ref.id });
    members.push(...(membership.get(ref.id)?.keys() ?? []));
  }
  if (profiles.length === 0 && members.length === 0 && groups.lists.length + groups.segments.length === 0) {
    throw invalid('Nothing to act on: give profiles (emails), a list or a segment.', '/data/attributes/profiles');
  }
  return { emails: profiles.map((p) => p.attributes.email), groups, members };
}

/** The profiles the job acts on, each once: the emails' (created when `create`) and the group members. */
function profilesOf(store: AccountStore, targets: Targets, create: boolean): { profiles: StoredResource[]; unknown: number } {
  const byId = new Map<string, StoredResource>();
  let unknown = 0;
  const profiles = store.collection('profile');
  for (const email of targets.emails) {
    const profile = create ? asProfile(findOrCreateProfile(store, { email })) : profiles.findBy('email', email)[0];
    if (profile) byId.set(profile.id, profile);
    else unknown++;
  }
  for (const id of targets.members) {
    const profile = profiles.get(id);
    if (profile) byId.set(profile.id, profile);
  }
  return { profiles: [...byId.values()], unknown };
}

function asProfile(result: ReturnType<typeof findOrCreateProfile>): StoredResource | undefined {
  return 'profile' in result ? result.profile : undefined;
}

function suppressionsOf(profile: StoredResource): { subscriptions: Subscriptions; suppression: Array<{ reason: string; timestamp: string }> } {
  const subscriptions = subscriptionsOf(profile);
  return { subscriptions, suppression: subscriptions.email.marketing.suppression };
}

export const suppressionHandlers: Record<string, Handler> = {
  bulk_suppress_profiles: writeHandler((ctx) => {
    const store = ctx.store;
    const targets = targetsOf(store, 'bulk_suppress_profiles', ctx.body);
    const { profiles } = profilesOf(store, targets, true);
    let completed = 0;
    let skipped = 0;
    for (const profile of profiles) {
      const current = store.collection('profile').get(profile.id) ?? profile;
      const { subscriptions, suppression } = suppressionsOf(current);
      if (suppression.some((s) => s.reason === 'USER_SUPPRESSED')) {
        skipped++;
        continue;
      }
      suppression.push({ reason: 'USER_SUPPRESSED', timestamp: nowIso(store) });
      writeSubscriptions(store, current, subscriptions);
      completed++;
    }
    const job = createJob(store, SUPPRESS_JOB, { total: profiles.length, completed, skipped }, targets.groups);
    return resourceDocument(ctx, job, 202);
  }),

  bulk_unsuppress_profiles: writeHandler((ctx) => {
    const store = ctx.store;
    const targets = targetsOf(store, 'bulk_unsuppress_profiles', ctx.body);
    const { profiles, unknown } = profilesOf(store, targets, false);
    let completed = 0;
    let skipped = unknown;
    for (const profile of profiles) {
      const { subscriptions, suppression } = suppressionsOf(profile);
      const kept = suppression.filter((s) => s.reason !== 'USER_SUPPRESSED');
      if (kept.length === suppression.length) {
        skipped++;
        continue;
      }
      subscriptions.email.marketing.suppression = kept;
      writeSubscriptions(store, profile, subscriptions);
      completed++;
    }
    const job = createJob(store, UNSUPPRESS_JOB, { total: profiles.length + unknown, completed, skipped }, targets.groups);
    return resourceDocument(ctx, job, 202);
  }),

  get_bulk_suppress_profiles_job: jobGetHandler(SUPPRESS_JOB, 'job_id'),
  get_bulk_suppress_profiles_jobs: jobListHandler(SUPPRESS_JOB),
  get_bulk_unsuppress_profiles_job: jobGetHandler(UNSUPPRESS_JOB, 'job_id'),
  get_bulk_unsuppress_profiles_jobs: jobListHandler(UNSUPPRESS_JOB),
};
