/**
 * EmailTemplates (GET /api/templates). EditorType tells code templates (CODE) from drag-and-drop
 * ones (SYSTEM_DRAGGABLE, USER_DRAGGABLE), whose HTML Klaviyo will not let the API update.
 * Definition (the drag-and-drop structure) comes only with additional-fields, on demand.
 */
import { collectionObject } from '../read/collection-reader.js';
import { emailTemplateWrites } from '../write/email-templates.js';
import { idColumn, timestampColumn } from './common-columns.js';

export const EmailTemplates = collectionObject(
  {
    name: 'EmailTemplates',
    aliases: ['templates', 'template', 'email-template'],
    description: 'Email templates: code (HTML) and drag-and-drop',
    key: ['Id'],
    columns: [
      idColumn('template'),
      { name: 'Name', type: 'string', description: 'Name of the template', path: 'name', aliases: ['name'], filterField: 'name', requiredOnInsert: true },
      {
        name: 'EditorType',
        type: 'string',
        enum: ['CODE', 'SYSTEM_DRAGGABLE', 'USER_DRAGGABLE', 'SIMPLE'],
        description: 'CODE (custom HTML), SYSTEM_DRAGGABLE (drag-and-drop), USER_DRAGGABLE (hybrid) or SIMPLE',
        path: 'editor_type',
        aliases: ['editor_type'],
      },
      { name: 'Html', type: 'string', description: 'The HTML body', path: 'html', aliases: ['html'] },
      { name: 'Text', type: 'string', description: 'The plain-text body', path: 'text', aliases: ['text'] },
      { name: 'Amp', type: 'string', description: 'The AMP body, when there is one', path: 'amp', aliases: ['amp'] },
      {
        name: 'Definition',
        type: 'json',
        description: 'The drag-and-drop structure, as JSON (read on demand)',
        path: 'definition',
        onDemand: true,
        additionalField: 'definition',
        aliases: ['definition'],
      },
      timestampColumn('Created', 'created', 'When the template was created', 'created'),
      timestampColumn('Updated', 'updated', 'When the template last changed', 'updated'),
    ],
    operations: ['insert', 'update', 'delete'],
    write: emailTemplateWrites,
    incremental: { column: 'Updated', serverSide: true },
    constraints: [
      'Drag-and-drop templates (SYSTEM_DRAGGABLE) cannot have their Html or Amp updated through the API: such update rows fail unsent. They are created from their Definition.',
      'EditorType cannot be changed after creation; SIMPLE templates cannot be created through the API.',
      'Klaviyo caps templates created through the API at 1,000 per account.',
      'Klaviyo returns at most 10 templates per page.',
    ],
  },
  { resourceType: 'template', list: 'get_templates', byId: 'get_template', purpose: 'every template' },
);
