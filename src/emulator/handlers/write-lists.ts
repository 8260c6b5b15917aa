/**
 * Lists and their members:
 *   POST   /api/lists                              create_list                201 (150 a day: the server's rate limiter
 *                                                                            enforces the spec's daily cap, 429 until 00:00 UTC)
 *   PATCH  /api/lists/{id}                         update_list                200
 *   DELETE /api/lists/{id}                         delete_list                204; its memberships go with it
 *   POST   /api/lists/{id}/relationships/profiles  add_profiles_to_list       204; ≤ 1,000 ids; members stay members
 *   DELETE /api/lists/{id}/relationships/profiles  remove_profiles_from_list  204; ≤ 1,000 ids
 * Membership changes never touch consent (the spec sends consent to the subscribe endpoint).
 * A relationship request naming a profile that does not exist changes nothing and answers 404,
 * as JSON:API requires for references to missing resources.
 */
import type { AccountStore, StoredResource } from '../store/types.js';
import { findOr404 } from './read.js';
import { checkCount, nowIso, resourceDocument, writeHandler } from './write-common.js';
import { WriteRefusal, invalid, validateRequestBody } from './write-schema.js';
import type { Handler, HandlerContext } from './types.js';

/** The opt-in process of a list created without one: the emulator account's default. */
export const DEFAULT_OPT_IN_PROCESS = 'single_opt_in';
export const MAX_LIST_RELATIONSHIP_IDS = 1000;

interface ListBody {
  data: { type: 'list'; id?: string; attributes: { name?: string | null; opt_in_process?: string | null } };
}

interface IdentifiersBody {
  data: Array<{ type: 'profile'; id: string }>;
}

/** A list's members, created empty when a list has none recorded yet. */
export function membersOf(store: AccountStore, listId: string): Map<string, string> {
  let members = store.listMembers.get(listId);
  if (!members) store.listMembers.set(listId, (members = new Map()));
  return members;
}

export function createList(store: AccountStore, name: string, optInProcess: string | null | undefined): StoredResource {
  const now = nowIso(store);
  const list = store.collection('list').insert({
    type: 'list',
    id: store.newId('list'),
    attributes: { name, opt_in_process: optInProcess ?? DEFAULT_OPT_IN_PROCESS, created: now, updated: now },
    relationships: {},
  });
  store.listMembers.set(list.id, new Map());
  return list;
}

/** The profile ids of a relationship request, after checking the list and every profile exist. */
function relationshipIds(ctx: HandlerContext, operationId: string): { list: StoredResource; ids: string[] } {
  const { data } = validateRequestBody<IdentifiersBody>(operationId, ctx.body);
  checkCount(data.length, MAX_LIST_RELATIONSHIP_IDS, 'profile ids', '/data');
  const list = findOr404(ctx.store, 'list', ctx.params.id!);
  const profiles = ctx.store.collection('profile');
  const missing = data.flatMap((ref, i) => (profiles.get(ref.id) ? [] : [{ code: 'not_found', detail: `A profile with id '${ref.id}' does not exist.`, pointer: `/data/${i}/id` }]));
  if (missing.length > 0) throw new WriteRefusal(404, missing);
  return { list, ids: data.map((ref) => ref.id) };
}

export const listWriteHandlers: Record<string, Handler> = {
  create_list: writeHandler((ctx) => {
    const { data } = validateRequestBody<ListBody>('create_list', ctx.body);
    const name = data.attributes.name!;
    if (name.trim() === '') throw invalid('A list name may not be empty.', '/data/attributes/name');
    return resourceDocument(ctx, createList(ctx.store, name, data.attributes.opt_in_process), 201);
  }),

  update_list: writeHandler((ctx) => {
    const { data } = validateRequestBody<ListBody>('update_list', ctx.body);
    const id = ctx.params.id!;
    if (data.id !== id) throw invalid(`The id in the request body ('${data.id}') does not match the id in the URL ('${id}').`, '/data/id');
    const list = findOr404(ctx.store, 'list', id);
    const changes: Record<string, unknown> = {};
    const { name, opt_in_process: optIn } = data.attributes;
    if (typeof name === 'string') {
      if (name.trim() === '') throw invalid('A list name may not be empty.', '/data/attributes/name');
      if (name !== list.attributes.name) changes.name = name;
    }
    if (typeof optIn === 'string' && optIn !== list.attributes.opt_in_process) changes.opt_in_process = optIn;
    if (Object.keys(changes).length === 0) return resourceDocument(ctx, list, 200);
    changes.updated = nowIso(ctx.store);
    return resourceDocument(ctx, ctx.store.collection('list').update(id, { attributes: changes })!, 200);
  }),

  delete_list: writeHandler((ctx) => {
    const list = findOr404(ctx.store, 'list', ctx.params.id!);
    ctx.store.collection('list').delete(list.id);
    ctx.store.listMembers.delete(list.id);
    ctx.store.pendingConfirmations.delete(list.id);
    return { status: 204 };
  }),

  add_profiles_to_list: writeHandler((ctx) => {
    const { list, ids } = relationshipIds(ctx, 'add_profiles_to_list');
    const members = membersOf(ctx.store, list.id);
    const now = nowIso(ctx.store);
    // A member keeps its joined_group_at: adding it again is a no-op, not a re-join.
    for (const id of ids) if (!members.has(id)) members.set(id, now);
    return { status: 204 };
  }),

  remove_profiles_from_list: writeHandler((ctx) => {
    const { list, ids } = relationshipIds(ctx, 'remove_profiles_from_list');
    const members = membersOf(ctx.store, list.id);
    for (const id of ids) members.delete(id);
    return { status: 204 };
  }),
};
