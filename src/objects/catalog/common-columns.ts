/** Column shapes many objects share. */
import type { ColumnDef } from '../types.js';

export const idColumn = (what: string, filterField: string | undefined = 'id'): ColumnDef => ({
  name: 'Id',
  type: 'id',
  description: `Klaviyo's id of the ${what}`,
  path: 'id',
  readOnly: true,
  aliases: ['id'],
  filterField,
  sparseField: null,
});

export const timestampColumn = (name: string, attribute: string, description: string, filterField?: string): ColumnDef => ({
  name,
  type: 'datetime',
  description,
  path: attribute,
  readOnly: true,
  aliases: [attribute],
  filterField,
});
