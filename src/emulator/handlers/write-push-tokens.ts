/**
 *   POST /api/push-tokens  create_push_token  202, no body: creates or updates a push token
 * A token is one device: posting a token that exists updates it (and moves it to the profile
 * named now); its profile is found by id or identifiers, or created. The token then reads back
 * through GET /api/push-tokens and a profile's push-tokens relationship (generic reads).
 */
import type { StoredResource } from '../store/types.js';
import { KB, checkPayloadSize, nowIso, writeHandler } from './write-common.js';
import {
  NO_IDENTIFIER_DETAIL,
  duplicateProblem,
  hasIdentifier,
  identifierProblems,
  insertProfile,
  resolveProfile,
  updateProfile,
} from './write-profile-core.js';
import { WriteRefusal, invalid, validateRequestBody } from './write-schema.js';
import type { Handler } from './types.js';

const PROFILE_POINTER = '/data/attributes/profile/data';

interface PushTokenBody {
  data: {
    attributes: {
      token: string;
      platform: string;
      vendor: string;
      enablement_status?: string | null;
      background?: string | null;
      device_metadata?: Record<string, unknown> | null;
      profile: { data: { id?: string | null; attributes: Record<string, unknown> } };
    };
  };
}

export const pushTokenHandlers: Record<string, Handler> = {
  create_push_token: writeHandler((ctx) => {
    checkPayloadSize(ctx.body, 100 * KB, 'POST /api/push-tokens');
    const { data } = validateRequestBody<PushTokenBody>('create_push_token', ctx.body);
    const a = data.attributes;
    const store = ctx.store;
    const { meta: _meta, _kx: _ignored, ...attributes } = a.profile.data.attributes;
    const problems = identifierProblems(attributes, `${PROFILE_POINTER}/attributes`);
    if (problems.length > 0) throw new WriteRefusal(400, problems);
    if (!hasIdentifier(attributes, a.profile.data.id)) throw invalid(NO_IDENTIFIER_DETAIL, `${PROFILE_POINTER}/attributes`);
    const resolution = resolveProfile(store, a.profile.data.id, attributes);
    let profile: StoredResource;
    if (resolution.kind === 'existing') profile = updateProfile(store, resolution.profile, attributes, 'ignore').profile;
    else if (resolution.kind === 'new') profile = insertProfile(store, attributes, 'ignore');
    else if (resolution.kind === 'conflict') throw new WriteRefusal(409, [duplicateProblem(resolution.duplicateId, `${PROFILE_POINTER}/attributes`)]);
    else throw invalid(`A profile with id '${resolution.id}' does not exist.`, `${PROFILE_POINTER}/id`);

    const tokens = store.collection('push-token');
    const now = nowIso(store);
    const fields = {
      token: a.token,
      platform: a.platform,
      vendor: a.vendor,
      enablement_status: a.enablement_status ?? 'AUTHORIZED',
      background: a.background ?? 'AVAILABLE',
      metadata: a.device_metadata ?? null,
      recorded_date: now,
    };
    const relationships = { profile: { type: 'profile', id: profile.id } };
    const existing = tokens.findBy('token', a.token)[0];
    if (existing) tokens.update(existing.id, { attributes: fields, relationships });
    else tokens.insert({ type: 'push-token', id: store.newId('push-token'), attributes: { ...fields, created: now }, relationships });
    return { status: 202 };
  }),
};
