/**
 * The template write endpoints, as the spec (revision 2026-07-15) and Klaviyo's docs describe:
 *
 *   POST   /api/templates        201  CODE and USER_DRAGGABLE templates take `html`;
 *                                     SYSTEM_DRAGGABLE (drag-and-drop) takes a `definition` and no
 *                                     `html` or `amp` (Klaviyo renders the HTML from it)
 *   PATCH  /api/templates/{id}   200  `html`/`amp` are refused for drag-and-drop templates (edit
 *                                     the definition instead); `definition` is refused for the
 *                                     others; the editor type cannot change (it is not in the
 *                                     update schema)
 *   DELETE /api/templates/{id}   204
 *   POST   /api/template-clone   201  a copy under a new id
 *
 * Create and clone stop at 1,000 templates ("a limit of 1,000 templates that can be created via
 * the API"). The per-message copies that campaign template assignment makes (write-campaigns.ts)
 * are not library templates and do not count: a template that a campaign message points to is
 * such a copy, by construction.
 *
 * Request bodies are first checked against the spec's request schemas (write-schema.ts); the
 * rules here are the ones the schemas state only in prose.
 */
import { notFound } from '../http/api-error.js';
import type { AccountStore, StoredResource } from '../store/types.js';
import type { Handler } from './types.js';
import { nowIso, resourceDocument, writeHandler } from './write-common.js';
import { checkSameId, dataOf, refuse } from './write-content-common.js';
import { invalid, validateRequestBody } from './write-schema.js';

/** Klaviyo's cap on templates created through the API. */
export const API_TEMPLATE_LIMIT = 1000;

export const EDITOR_TYPES = ['CODE', 'USER_DRAGGABLE', 'SYSTEM_DRAGGABLE'] as const;
export const DRAG_AND_DROP = 'SYSTEM_DRAGGABLE';

// --- helpers shared with the campaign endpoints ---

export function templateOr404(store: AccountStore, id: string): StoredResource {
  const template = store.collection('template').get(id);
  if (!template) throw notFound(`A template with id '${id}' does not exist.`);
  return template;
}

/** Ids of the templates campaign messages point to: their per-message copies. */
export function messageTemplateIds(store: AccountStore): Set<string> {
  const ids = new Set<string>();
  for (const message of store.collection('campaign-message').values()) {
    const ref = message.relationships.template;
    if (ref && !Array.isArray(ref)) ids.add(ref.id);
  }
  return ids;
}

/** Refuses a create or clone when the account already holds the templates the API may create. */
function checkTemplateLimit(store: AccountStore): void {
  const templates = store.collection('template');
  let copies = 0;
  for (const id of messageTemplateIds(store)) if (templates.get(id)) copies++;
  const library = templates.count() - copies;
  if (library >= API_TEMPLATE_LIMIT) {
    throw invalid(
      `This account has ${library} templates: Klaviyo allows at most ${API_TEMPLATE_LIMIT} templates created through the API. Delete templates you no longer need (DELETE /api/templates/{id}) before creating more.`,
      '/data',
    );
  }
}

/**
 * A new template with `source`'s content under a new id: template-clone, and the non-reusable
 * copy campaign template assignment makes for each message.
 */
export function copyTemplate(store: AccountStore, source: StoredResource, name: string): StoredResource {
  const id = store.newId('template');
  const at = nowIso(store);
  const definition = source.attributes.definition;
  return store.collection('template').insert({
    type: 'template',
    id,
    attributes: {
      ...structuredClone(source.attributes),
      name,
      created: at,
      updated: at,
      definition: definition && typeof definition === 'object' ? { ...structuredClone(definition as Record<string, unknown>), template_id: id } : (definition ?? null),
    },
    relationships: {},
  });
}

/**
 * The HTML Klaviyo serves for a drag-and-drop template: rendered from its definition, so that
 * `html` is always a string as the spec's template responses require.
 */
export function htmlFromDefinition(name: string, definition: Record<string, unknown>): string {
  const body = (definition.body ?? {}) as { styles?: Record<string, unknown>; sections?: unknown[] | null };
  const background = typeof body.styles?.background_color === 'string' ? body.styles.background_color : '#FFFFFF';
  const width = typeof body.styles?.width === 'number' ? body.styles.width : 600;
  const blocks: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    if (n.content_type === 'block') {
      const data = (n.data ?? {}) as Record<string, unknown>;
      const content = typeof data.content === 'string' ? data.content : '';
      const href = (data.properties as Record<string, unknown> | undefined)?.href;
      const src = (data.properties as Record<string, unknown> | undefined)?.src;
      if (n.type === 'button') blocks.push(`<p><a href="${escapeHtml(String(href ?? '#'))}">${escapeHtml(content)}</a></p>`);
      else if (n.type === 'image' && typeof src === 'string') blocks.push(`<img src="${escapeHtml(src)}" alt="">`);
      else if (content) blocks.push(content);
      return;
    }
    for (const key of ['sections', 'rows', 'columns', 'blocks']) if (key in n) walk(n[key]);
  };
  walk(body.sections ?? []);
  return [
    '<!DOCTYPE html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(name)}</title></head>`,
    `<body style="margin:0;background:${escapeHtml(String(background))}">`,
    `<table role="presentation" width="${width}" align="center"><tr><td>`,
    ...blocks,
    '</td></tr></table></body></html>',
  ].join('\n');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// --- handlers ---

const createTemplate: Handler = (ctx) => {
  validateRequestBody('create_template', ctx.body);
  const { attributes: a } = dataOf(ctx.body);
  const editorType = a.editor_type as string;
  if (!(EDITOR_TYPES as readonly string[]).includes(editorType)) {
    throw refuse('/data/attributes/editor_type', `'editor_type' must be one of ${EDITOR_TYPES.join(', ')}; got '${editorType}'.`);
  }
  let html: string;
  let definition: Record<string, unknown> | null = null;
  if (editorType === DRAG_AND_DROP) {
    if (a.html !== undefined && a.html !== null) {
      throw refuse('/data/attributes/html', `'html' is not allowed for ${DRAG_AND_DROP} (drag-and-drop) templates: send their content as 'definition'.`);
    }
    if (a.amp !== undefined && a.amp !== null) {
      throw refuse('/data/attributes/amp', `'amp' is not allowed for ${DRAG_AND_DROP} (drag-and-drop) templates.`);
    }
    if (!a.definition) {
      throw refuse('/data/attributes/definition', `'definition' is required for ${DRAG_AND_DROP} (drag-and-drop) templates.`);
    }
    definition = a.definition as Record<string, unknown>;
    html = htmlFromDefinition(a.name as string, definition);
  } else {
    if (typeof a.html !== 'string') {
      throw refuse('/data/attributes/html', `'html' is required for ${editorType} templates.`);
    }
    // The spec: "ignored for CODE/USER_DRAGGABLE".
    html = a.html;
  }
  checkTemplateLimit(ctx.store);
  const id = ctx.store.newId('template');
  const at = nowIso(ctx.store);
  const template = ctx.store.collection('template').insert({
    type: 'template',
    id,
    attributes: {
      name: a.name,
      editor_type: editorType,
      html,
      text: (a.text as string | null | undefined) ?? null,
      amp: (a.amp as string | null | undefined) ?? null,
      created: at,
      updated: at,
      // Read-only ids inside the definition are Klaviyo's to set.
      definition: definition ? { ...structuredClone(definition), id: null, template_id: id } : null,
    },
    relationships: {},
  });
  return resourceDocument(ctx, template, 201);
};

const updateTemplate: Handler = (ctx) => {
  validateRequestBody('update_template', ctx.body);
  const data = dataOf(ctx.body);
  checkSameId(data.id, ctx.params.id);
  const template = templateOr404(ctx.store, ctx.params.id);
  // editor_type is absent from the update schema, so validateRequestBody already refused it:
  // a template keeps the editor it was created with.
  const a = data.attributes;
  const dragAndDrop = template.attributes.editor_type === DRAG_AND_DROP;
  const patch: Record<string, unknown> = {};
  if (dragAndDrop) {
    for (const field of ['html', 'amp'] as const) {
      if (field in a) {
        throw refuse(
          `/data/attributes/${field}`,
          `Drag-and-drop templates' ${field === 'html' ? 'HTML' : 'AMP'} cannot be updated: template '${template.id}' is ${DRAG_AND_DROP}, and '${field}' is not allowed for it. Update its 'definition' instead, or create a CODE template.`,
        );
      }
    }
    if (a.definition !== undefined && a.definition !== null) {
      // "Entirely replaces the existing definition."
      const definition = { ...structuredClone(a.definition as Record<string, unknown>), id: null, template_id: template.id };
      patch.definition = definition;
      patch.html = htmlFromDefinition((a.name as string | null | undefined) ?? (template.attributes.name as string), definition);
    }
  } else {
    if ('definition' in a) {
      throw refuse('/data/attributes/definition', `'definition' is not allowed for ${String(template.attributes.editor_type)} templates: send 'html' instead.`);
    }
    if ('html' in a) {
      if (a.html === null) throw refuse('/data/attributes/html', `'html' cannot be cleared: a ${String(template.attributes.editor_type)} template needs HTML.`);
      patch.html = a.html;
    }
    if ('amp' in a) patch.amp = a.amp;
  }
  // A null name leaves the name as it is: every template has one.
  if (typeof a.name === 'string') patch.name = a.name;
  if ('text' in a) patch.text = a.text;
  patch.updated = nowIso(ctx.store);
  const updated = ctx.store.collection('template').update(template.id, { attributes: patch })!;
  return resourceDocument(ctx, updated, 200);
};

const deleteTemplate: Handler = (ctx) => {
  const template = templateOr404(ctx.store, ctx.params.id);
  ctx.store.collection('template').delete(template.id);
  // A message whose template copy is deleted has no template any more, rather than a dangling one.
  const messages = ctx.store.collection('campaign-message');
  for (const message of [...messages.values()]) {
    const ref = message.relationships.template;
    if (ref && !Array.isArray(ref) && ref.id === template.id) messages.update(message.id, { relationships: { template: null } });
  }
  return { status: 204 };
};

const cloneTemplate: Handler = (ctx) => {
  validateRequestBody('clone_template', ctx.body);
  const data = dataOf(ctx.body);
  const source = templateOr404(ctx.store, data.id!);
  checkTemplateLimit(ctx.store);
  const name = typeof data.attributes.name === 'string' ? data.attributes.name : `${String(source.attributes.name)} (Clone)`;
  return resourceDocument(ctx, copyTemplate(ctx.store, source, name), 201);
};

export const templateWriteHandlers: Record<string, Handler> = {
  create_template: writeHandler(createTemplate),
  update_template: writeHandler(updateTemplate),
  delete_template: writeHandler(deleteTemplate),
  clone_template: writeHandler(cloneTemplate),
};
