/**
 * CatalogItems (GET /api/catalog-items): the products of the account's catalog. Klaviyo filters
 * items only by id, title (contains), category and published, and sorts by created only, so an
 * incremental read (--since on Updated) reads every item and keeps the newer ones locally.
 */
import { collectionObject } from '../read/collection-reader.js';
import type { ColumnDef } from '../types.js';
import { idColumn, timestampColumn } from './common-columns.js';

const text = (name: string, attribute: string, description: string, extra: Partial<ColumnDef> = {}): ColumnDef => ({
  name,
  type: 'string',
  description,
  path: attribute,
  aliases: [attribute],
  ...extra,
});

export const CatalogItems = collectionObject(
  {
    name: 'CatalogItems',
    aliases: ['catalog', 'products', 'product'],
    description: 'Products in the catalog: title, price, URL, images',
    key: ['Id'],
    columns: [
      // Klaviyo filters items by a list of ids (`any(ids,[...])`).
      { ...idColumn('catalog item', 'ids'), description: "Klaviyo's id of the item: $custom:::$default:::<ExternalId> for custom catalogs" },
      text('ExternalId', 'external_id', 'The item\'s id in your store', { requiredOnInsert: true }),
      text('Title', 'title', 'Product title', { requiredOnInsert: true, filterField: 'title', aliases: ['title', 'name'] }),
      text('Description', 'description', 'Product description', { requiredOnInsert: true }),
      text('Url', 'url', 'Link to the product page', { requiredOnInsert: true }),
      { name: 'Price', type: 'number', description: 'Price shown in messages', path: 'price', aliases: ['price'] },
      text('ImageFullUrl', 'image_full_url', 'URL of the full-size image'),
      text('ImageThumbnailUrl', 'image_thumbnail_url', 'URL of the thumbnail image'),
      { name: 'Images', type: 'json', description: 'URLs of further images, as a JSON array', path: 'images', aliases: ['images'] },
      { name: 'Published', type: 'boolean', description: 'Whether the item can appear in messages', path: 'published', aliases: ['published'], filterField: 'published' },
      {
        name: 'CustomMetadata',
        type: 'json',
        description: 'Your own fields of the item, as a JSON object (at most 100 KB)',
        path: 'custom_metadata',
        aliases: ['custom_metadata'],
      },
      timestampColumn('Created', 'created', 'When the item was created'),
      timestampColumn('Updated', 'updated', 'When the item last changed'),
    ],
    operations: [],
    incremental: { column: 'Updated', serverSide: false },
    constraints: [
      'A new item needs ExternalId, Title, Description and Url; CustomMetadata is at most 100 KB.',
      'Klaviyo filters items only by Id (= and in), Title (contains) and Published (=); other conditions are checked by klv.',
      'Klaviyo cannot filter items by time: --since reads them all and keeps the newer ones.',
      'Bulk jobs take at most 100 items per request, with at most 500 jobs in progress.',
    ],
  },
  { resourceType: 'catalog-item', list: 'get_catalog_items', byId: 'get_catalog_item', purpose: 'every catalog item' },
);
