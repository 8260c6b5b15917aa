/**
 * EmailTemplates: insert (POST /api/templates), update (PATCH /api/templates/{id}), delete
 * (DELETE /api/templates/{id}). One request per row: Klaviyo has no bulk template endpoint.
 *
 * Klaviyo's rules honoured before anything is sent:
 * - Create: EditorType is CODE (default), USER_DRAGGABLE or SYSTEM_DRAGGABLE (SIMPLE cannot be
 *   created through the API). CODE and USER_DRAGGABLE need Html; SYSTEM_DRAGGABLE needs a
 *   Definition and takes no Html or Amp (Klaviyo renders them from the definition, so a
 *   drag-and-drop template exported with its Html is created from its Definition alone).
 * - Update: a drag-and-drop (SYSTEM_DRAGGABLE) template's Html and Amp cannot be changed through
 *   the API. A row that tries fails with that reason and is never sent. The row's EditorType says
 *   which kind the template is when it has one; otherwise klv reads the template first (GET, 75/s).
 *   EditorType itself cannot be changed: it is only used to know the kind.
 */
import { attributesOf, changedColumns, previewOutcome, type AttributeMapping } from './attribute-diff.js';
import { deleteByIdHandler, eachRow, fail, failureFrom, given, has, patchAttributes, text, withRowId } from './content-common.js';
import type { ImportRow, OperationHandler, RowFailure, RowOutcome, WriteContext, WriteHandlers } from './types.js';

const DRAG_AND_DROP = 'SYSTEM_DRAGGABLE';
const CREATABLE = ['CODE', 'USER_DRAGGABLE', DRAG_AND_DROP] as const;

const CREATE_ATTRIBUTES: readonly AttributeMapping[] = [
  { column: 'Name', path: 'name' },
  { column: 'Html', path: 'html' },
  { column: 'Text', path: 'text' },
  { column: 'Amp', path: 'amp' },
  { column: 'Definition', path: 'definition' },
];

const UPDATE_ATTRIBUTES = CREATE_ATTRIBUTES;

function editorTypeOf(row: ImportRow): string | undefined {
  return text(row, 'EditorType')?.toUpperCase();
}

function dragAndDropFailure(row: ImportRow, id: string | undefined): RowFailure {
  const which = [has(row, 'Html') ? 'Html' : null, has(row, 'Amp') ? 'Amp' : null].filter(Boolean).join(' and ');
  return fail(
    row,
    'drag_and_drop_html',
    `Template${id ? ` ${id}` : ''} is a drag-and-drop template (SYSTEM_DRAGGABLE): Klaviyo does not let the API change its ${which}, so the row was not sent. ` +
      `Edit it in Klaviyo's editor, update its Definition instead, or drop the ${which} column.`,
  );
}

function validateInsert(row: ImportRow): RowFailure | null {
  if (text(row, 'Name') === undefined) return fail(row, 'missing_value', 'Name is empty: Klaviyo needs a name to create a template.');
  const editor = editorTypeOf(row) ?? 'CODE';
  if (!(CREATABLE as readonly string[]).includes(editor)) {
    return fail(row, 'invalid_value', `EditorType ${editor} cannot be created through the API: use ${CREATABLE.join(', ')}.`);
  }
  if (editor === DRAG_AND_DROP) {
    const def = row.values.Definition;
    if (def === undefined || def === null || typeof def !== 'object' || Array.isArray(def)) {
      return fail(row, 'missing_value', 'A SYSTEM_DRAGGABLE template is created from its Definition (JSON with body and styles): the row has none. Export templates with --columns ...,Definition to get it.');
    }
    return null;
  }
  if (text(row, 'Html') === undefined) return fail(row, 'missing_value', `Html is empty: Klaviyo needs the HTML to create a ${editor} template.`);
  if (given(row, 'Definition')) return fail(row, 'invalid_value', `Definition is only for SYSTEM_DRAGGABLE templates; this row's EditorType is ${editor}.`);
  return null;
}

function validateUpdate(row: ImportRow): RowFailure | null {
  if (has(row, 'Name') && text(row, 'Name') === undefined) {
    return fail(row, 'invalid_value', 'Name cannot be cleared: a template always has a name. Give a name, or no value to keep the current one.');
  }
  if (editorTypeOf(row) === DRAG_AND_DROP && (has(row, 'Html') || has(row, 'Amp'))) return dragAndDropFailure(row, text(row, 'Id'));
  return null;
}

function createBody(row: ImportRow): Record<string, unknown> {
  const editor = editorTypeOf(row) ?? 'CODE';
  const attributes: Record<string, unknown> = { ...attributesOf(row, CREATE_ATTRIBUTES), editor_type: editor };
  if (editor === DRAG_AND_DROP) {
    delete attributes.html;
    delete attributes.amp;
  } else {
    delete attributes.definition;
  }
  // Nulls mean nothing on create: leave them out rather than send "no text".
  for (const [k, v] of Object.entries(attributes)) if (v === null) delete attributes[k];
  return { data: { type: 'template', attributes } };
}

async function createTemplate(row: ImportRow, ctx: WriteContext): Promise<RowOutcome> {
  try {
    const res = await ctx.client.request<{ data: { id: string } }>('create_template', { body: createBody(row), idempotent: false, signal: ctx.signal });
    return { ok: true, rowNumber: row.rowNumber, status: 'created', id: res.body?.data?.id };
  } catch (err) {
    return failureFrom(row, err, ctx);
  }
}

interface CurrentTemplate {
  attributes: Record<string, unknown>;
}

async function readTemplate(id: string, ctx: WriteContext, fields: string, definition: boolean): Promise<CurrentTemplate> {
  const query: Record<string, string> = { 'fields[template]': fields };
  if (definition) query['additional-fields[template]'] = 'definition';
  const res = await ctx.client.request<{ data: { attributes?: Record<string, unknown> } }>('get_template', { pathParams: { id }, query, signal: ctx.signal });
  return { attributes: res.body.data.attributes ?? {} };
}

function updateTemplate(row: ImportRow, ctx: WriteContext): Promise<RowOutcome> {
  return withRowId(row, ctx, 'template', async (id) => {
    const attributes = attributesOf(row, UPDATE_ATTRIBUTES);
    if (Object.keys(attributes).length === 0) return { ok: true, rowNumber: row.rowNumber, status: 'unchanged', id };
    if ((has(row, 'Html') || has(row, 'Amp')) && editorTypeOf(row) === undefined) {
      // The row does not say the kind: look it up, so that a drag-and-drop template's HTML is never sent.
      const current = await readTemplate(id, ctx, 'editor_type', false);
      if (current.attributes.editor_type === DRAG_AND_DROP) return dragAndDropFailure(row, id);
    }
    return patchAttributes(row, ctx, 'update_template', 'template', id, attributes);
  });
}

function previewTemplate(row: ImportRow, ctx: WriteContext): Promise<RowOutcome> {
  return withRowId(row, ctx, 'template', async (id) => {
    const current = await readTemplate(id, ctx, 'name,editor_type,html,text,amp', has(row, 'Definition'));
    if (current.attributes.editor_type === DRAG_AND_DROP && (has(row, 'Html') || has(row, 'Amp'))) return dragAndDropFailure(row, id);
    return previewOutcome(row, id, changedColumns(row, UPDATE_ATTRIBUTES, current.attributes));
  });
}

const insert: OperationHandler = {
  operation: 'insert',
  calls: ['create_template'],
  description:
    'Creates one template per row (POST /api/templates): CODE (default) or USER_DRAGGABLE from Html, SYSTEM_DRAGGABLE from Definition. Klaviyo caps API-created templates at 1,000 per account.',
  requiredColumns: ['Name'],
  acceptedColumns: ['Name', 'EditorType', 'Html', 'Text', 'Amp', 'Definition'],
  maxBatchSize: 1,
  concurrency: 4,
  idempotent: false,
  validateRow: (row) => validateInsert(row),
  processBatch: (rows, ctx) => eachRow(rows, ctx, (row) => createTemplate(row, ctx)),
};

const update: OperationHandler = {
  operation: 'update',
  calls: ['get_template', 'update_template'],
  description:
    "Changes a template's Name, Html, Text, Amp or Definition by Id (PATCH /api/templates/{id}). A drag-and-drop (SYSTEM_DRAGGABLE) template's Html and Amp cannot be changed: such rows fail unsent.",
  requiredColumns: ['Id'],
  acceptedColumns: ['Id', 'Name', 'EditorType', 'Html', 'Text', 'Amp', 'Definition'],
  maxBatchSize: 1,
  concurrency: 4,
  idempotent: true,
  validateRow: (row) => validateUpdate(row),
  processBatch: (rows, ctx) => eachRow(rows, ctx, (row) => updateTemplate(row, ctx)),
  preview: (rows, ctx) => eachRow(rows, ctx, (row) => previewTemplate(row, ctx)),
};

const remove = deleteByIdHandler('Deletes templates by Id (DELETE /api/templates/{id}).', 'template', 'delete_template');

export const emailTemplateWrites: WriteHandlers = { insert, update, delete: remove };
