/**
 * Which handler serves which operation. Read endpoints are inferred from the metadata by the
 * shape of their path (GET /api/X, /api/X/{id}, /api/X/{id}/rel, /api/X/{id}/relationships/rel)
 * and served generically; endpoints that behave differently are listed explicitly. Operations
 * without a handler answer 501 with a JSON:API error saying so.
 */
import { OPERATIONS, type OperationId } from '../../klaviyo/generated/api-metadata.js';
import type { OperationMeta } from '../../klaviyo/api-metadata-types.js';
import type { RelationshipData, ResourceIdentifier } from '../store/types.js';
import { accountHandlers } from './accounts.js';
import { campaignHandlers } from './campaigns.js';
import { collectionSource, findOr404, identifierSource, listDocument, membershipSource, selfLink, singleDocument } from './read.js';
import { relationshipOf } from './relations.js';
import { typePath } from './resource-meta.js';
import type { Handler } from './types.js';
import { campaignWriteHandlers } from './write-campaigns.js';
import { writeHandlers } from './write-handlers.js';
import { templateWriteHandlers } from './write-templates.js';

/** Handlers written for one operation; they take precedence over the inferred ones. */
const SPECIFIC: Partial<Record<OperationId, Handler>> = {
  ...(accountHandlers as Partial<Record<OperationId, Handler>>),
  ...(campaignHandlers as Partial<Record<OperationId, Handler>>),
  ...(templateWriteHandlers as Partial<Record<OperationId, Handler>>),
  ...(campaignWriteHandlers as Partial<Record<OperationId, Handler>>),
  ...(writeHandlers as Partial<Record<OperationId, Handler>>),
};

const cache = new Map<string, Handler | null>();

export function handlerFor(operationId: OperationId): Handler | null {
  if (!cache.has(operationId)) cache.set(operationId, SPECIFIC[operationId] ?? inferReadHandler(OPERATIONS[operationId]));
  return cache.get(operationId)!;
}

const typeByPath = new Map<string, string>();
function typeAt(path: string): string | undefined {
  if (typeByPath.size === 0) {
    for (const op of Object.values(OPERATIONS) as OperationMeta[]) {
      if (op.responseType) typeByPath.set(typePath(op.responseType), op.responseType);
    }
  }
  return typeByPath.get(path);
}

function inferReadHandler(op: OperationMeta): Handler | null {
  if (op.method !== 'GET' || !op.responseType) return null;
  const type = op.responseType;
  if (/^\/api\/[^/{}]+$/.test(op.path) && op.responseIsCollection) {
    return (ctx) => listDocument(ctx, collectionSource(ctx.store, type));
  }
  const one = /^(\/api\/[^/{}]+)\/\{([^}]+)\}$/.exec(op.path);
  if (one && !op.responseIsCollection && typeAt(one[1]) === type) {
    const param = one[2];
    return (ctx) => singleDocument(ctx, { resource: findOr404(ctx.store, type, ctx.params[param]) });
  }
  const related = /^(\/api\/[^/{}]+)\/\{([^}]+)\}\/(relationships\/)?([^/{}]+)$/.exec(op.path);
  const parentType = related ? typeAt(related[1]) : undefined;
  if (related && parentType) {
    const [, , param, relationshipsPrefix, name] = related;
    return relatedHandler(op, parentType, param, name, Boolean(relationshipsPrefix));
  }
  return null;
}

/** GET /api/X/{id}/rel (the related resources) and /api/X/{id}/relationships/rel (their identifiers). */
function relatedHandler(op: OperationMeta, parentType: string, param: string, name: string, identifiersOnly: boolean): Handler {
  const type = op.responseType!;
  return (ctx) => {
    const parent = findOr404(ctx.store, parentType, ctx.params[param]);
    if ((parentType === 'list' || parentType === 'segment') && name === 'profiles') {
      return listDocument(ctx, membershipSource(ctx.store, parentType, parent.id), { identifiersOnly });
    }
    const data: RelationshipData | undefined = relationshipOf(ctx.store, parent, name);
    if (op.responseIsCollection) {
      const ids: ResourceIdentifier[] = data ? (Array.isArray(data) ? data : [data]) : [];
      return listDocument(ctx, identifierSource(ctx.store, type, ids), { identifiersOnly });
    }
    const ref = Array.isArray(data) ? data[0] : data;
    if (identifiersOnly) {
      return { status: 200, body: { data: ref ? { type: ref.type, id: ref.id } : null, links: { self: selfLink(ctx.url) } } };
    }
    if (!ref) return { status: 200, body: { data: null, links: { self: selfLink(ctx.url) } } };
    return singleDocument(ctx, { resource: findOr404(ctx.store, ref.type, ref.id) });
  };
}
