/**
 * The one-profile write endpoints:
 *   POST  /api/profiles        create_profile            201; 409 duplicate_profile when an identifier is taken
 *   PATCH /api/profiles/{id}   update_profile            200; null clears a field; 404 unknown id
 *   POST  /api/profile-import  create_or_update_profile  201 created / 200 updated (upsert)
 * Each takes at most 100 KB (the spec's limit) and answers with the profile as GET would,
 * honouring `additional-fields[profile]`.
 */
import { notFound } from '../http/api-error.js';
import { findOr404 } from './read.js';
import { KB, checkPayloadSize, resourceDocument, writeHandler } from './write-common.js';
import {
  IDENTIFIERS,
  NO_IDENTIFIER_DETAIL,
  clashingOwner,
  duplicateProblem,
  hasIdentifier,
  identifierProblems,
  insertProfile,
  mergeProfileAttributes,
  resolveProfile,
  updateProfile,
  type PatchProperties,
} from './write-profile-core.js';
import { WriteRefusal, invalid, validateRequestBody } from './write-schema.js';
import type { Handler } from './types.js';

const MAX_PROFILE_BYTES = 100 * KB;

interface ProfileBody {
  data: {
    type: 'profile';
    id?: string | null;
    attributes: Record<string, unknown>;
    meta?: { patch_properties?: PatchProperties | null } | null;
  };
}

function checkIdentifiers(attributes: Record<string, unknown>): void {
  const problems = identifierProblems(attributes, '/data/attributes');
  if (problems.length > 0) throw new WriteRefusal(400, problems);
}

export const profileWriteHandlers: Record<string, Handler> = {
  create_profile: writeHandler((ctx) => {
    checkPayloadSize(ctx.body, MAX_PROFILE_BYTES, 'POST /api/profiles');
    const { data } = validateRequestBody<ProfileBody>('create_profile', ctx.body);
    const attributes = data.attributes;
    checkIdentifiers(attributes);
    if (!hasIdentifier(attributes)) throw invalid(NO_IDENTIFIER_DETAIL, '/data/attributes');
    const clash = clashingOwner(ctx.store, attributes, null);
    if (clash) throw new WriteRefusal(409, [duplicateProblem(clash.duplicateId)]);
    return resourceDocument(ctx, insertProfile(ctx.store, attributes, 'clear'), 201);
  }),

  update_profile: writeHandler((ctx) => {
    checkPayloadSize(ctx.body, MAX_PROFILE_BYTES, 'PATCH /api/profiles/{id}');
    const { data } = validateRequestBody<ProfileBody>('update_profile', ctx.body);
    const id = ctx.params.id!;
    if (data.id !== id) throw invalid(`The id in the request body ('${data.id}') does not match the id in the URL ('${id}').`, '/data/id');
    const profile = findOr404(ctx.store, 'profile', id);
    const attributes = data.attributes;
    checkIdentifiers(attributes);
    const clash = clashingOwner(ctx.store, attributes, profile.id);
    if (clash) throw new WriteRefusal(409, [duplicateProblem(clash.duplicateId)]);
    const patch = data.meta?.patch_properties ?? null;
    // Clearing every identifier would leave a profile nobody can address: Klaviyo refuses that.
    const next = mergeProfileAttributes(profile.attributes, attributes, 'clear', patch);
    if (next && !IDENTIFIERS.some((k) => typeof next[k] === 'string' && next[k] !== '')) {
      throw invalid(`This update would remove the profile's last identifier. ${NO_IDENTIFIER_DETAIL}`, '/data/attributes');
    }
    return resourceDocument(ctx, updateProfile(ctx.store, profile, attributes, 'clear', patch).profile, 200);
  }),

  create_or_update_profile: writeHandler((ctx) => {
    checkPayloadSize(ctx.body, MAX_PROFILE_BYTES, 'POST /api/profile-import');
    const { data } = validateRequestBody<ProfileBody>('create_or_update_profile', ctx.body);
    const attributes = data.attributes;
    checkIdentifiers(attributes);
    if (!hasIdentifier(attributes, data.id)) throw invalid(NO_IDENTIFIER_DETAIL, '/data/attributes');
    const patch = data.meta?.patch_properties ?? null;
    const resolution = resolveProfile(ctx.store, data.id, attributes);
    switch (resolution.kind) {
      case 'not_found':
        throw notFound(`A profile with id '${resolution.id}' does not exist.`);
      case 'conflict':
        throw new WriteRefusal(409, [duplicateProblem(resolution.duplicateId)]);
      case 'existing':
        return resourceDocument(ctx, updateProfile(ctx.store, resolution.profile, attributes, 'clear', patch).profile, 200);
      case 'new':
        return resourceDocument(ctx, insertProfile(ctx.store, attributes, 'clear', patch), 201);
    }
  }),
};
