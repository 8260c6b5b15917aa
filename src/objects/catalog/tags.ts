/**
 * Tags (GET /api/tags): labels on campaigns, flows, lists and segments, each in a tag group.
 * The tag group comes with `include=tag-group` on every page (free: same request), so each
 * row carries its group's id and name. Klaviyo limits tag endpoints to 3/s, 60/m.
 */
import type { JsonApiResource } from '../../klaviyo/json-api.js';
import { collectionObject } from '../read/collection-reader.js';
import { idColumn } from './common-columns.js';

function tagGroupId(resource: JsonApiResource): string | null {
  const data = resource.relationships?.['tag-group']?.data;
  if (data && !Array.isArray(data)) return data.id;
  const included = resource.includedRelationships?.['tag-group'];
  return included && !Array.isArray(included) ? included.id : null;
}

function tagGroupName(resource: JsonApiResource): string | null {
  const included = resource.includedRelationships?.['tag-group'];
  const name = included && !Array.isArray(included) ? included.attributes?.name : undefined;
  return typeof name === 'string' ? name : null;
}

export const Tags = collectionObject(
  {
    name: 'Tags',
    description: 'Labels on campaigns, flows, lists and segments, grouped in tag groups',
    key: ['Id'],
    columns: [
      // get_tags cannot filter on id: Id = '...' reads the tag by id, other Id conditions are local.
      idColumn('tag', undefined),
      { name: 'Name', type: 'string', description: 'Name of the tag', path: 'name', aliases: ['name', 'tag_name'], filterField: 'name', requiredOnInsert: true },
      {
        name: 'TagGroupId',
        type: 'id',
        description: 'Id of the tag group the tag belongs to (the default group when none was given)',
        get: tagGroupId,
        aliases: ['tag_group_id'],
        sparseField: null,
      },
      {
        name: 'TagGroupName',
        type: 'string',
        description: 'Name of the tag group',
        get: tagGroupName,
        readOnly: true,
        aliases: ['tag_group_name'],
        sparseField: null,
      },
    ],
    operations: [],
    constraints: [
      'Klaviyo limits every tag endpoint to 3 requests a second, 60 a minute, and returns at most 50 tags per page.',
      'An account holds at most 500 tags; a tag created without a tag group goes to the default group.',
      'Klaviyo has no timestamps on tags, so they cannot be read incrementally.',
    ],
  },
  {
    resourceType: 'tag',
    list: 'get_tags',
    byId: 'get_tag',
    fixedQuery: { include: 'tag-group', 'fields[tag-group]': 'name' },
    purpose: 'every tag, with its tag group',
  },
);
