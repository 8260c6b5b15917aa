/**
 * Tag groups as the emulator renders them, wherever they appear: in `included` (GET /api/tags
 * and /api/tags/{id} with include=tag-group), from the related endpoint and the collection. The
 * spec's tag-group resource requires `name`, `exclusive` and `default`; each rendering must carry
 * them unless the request narrows them with a sparse fieldset (fields[tag-group]=...).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { loadSpec } from '../helpers/spec.js';
import { validateResponse } from '../helpers/spec-validator.js';

const spec = loadSpec();
const HEADERS = { authorization: 'Klaviyo-API-Key pk_tag_groups_0123456789', revision: '2026-07-15' };

let emu: RunningEmulator;
let firstTag: string;

beforeAll(async () => {
  emu = await startEmulator({ rateLimits: 'off', profiles: 10 });
  firstTag = (await get('/api/tags')).body.data[0].id;
});

afterAll(async () => {
  await emu.close();
});

async function get(path: string) {
  const res = await fetch(emu.url + path, { headers: HEADERS });
  return { status: res.status, body: (await res.json()) as any };
}

const tagGroupsIn = (body: any): any[] => [...(body.included ?? []), ...(Array.isArray(body.data) ? body.data : [body.data])].filter((r) => r?.type === 'tag-group');

describe('tag groups carry their required attributes', () => {
  const cases = () =>
    [
      ['get_tags', '/api/tags?include=tag-group'],
      ['get_tags', '/api/tags?include=tag-group&fields[tag]=name'],
      ['get_tag', `/api/tags/${firstTag}?include=tag-group`],
      ['get_tag_group_for_tag', `/api/tags/${firstTag}/tag-group`],
      ['get_tag_groups', '/api/tag-groups'],
    ] as const;

  it('in included and elsewhere: name, exclusive and default', async () => {
    for (const [, path] of cases()) {
      const r = await get(path);
      expect(r.status, path).toBe(200);
      const groups = tagGroupsIn(r.body);
      expect(groups.length, path).toBeGreaterThan(0);
      for (const g of groups) {
        expect(Object.keys(g.attributes).sort(), `${path}: ${g.id}`).toEqual(['default', 'exclusive', 'name']);
        expect(typeof g.attributes.exclusive).toBe('boolean');
        expect(typeof g.attributes.default).toBe('boolean');
      }
    }
  });

  it.skipIf(!spec)('valid against the spec without sparse-fieldset leniency for tag groups', async () => {
    for (const [operationId, path] of cases()) {
      const r = await get(path);
      // fields[tag] narrows tags only: the tag groups must still be whole, so check strictly.
      expect(validateResponse(operationId, r.status, r.body), path).toEqual([]);
    }
  });

  it('only the attributes asked for with fields[tag-group], as JSON:API sparse fieldsets say', async () => {
    const r = await get('/api/tags?include=tag-group&fields[tag-group]=name');
    for (const g of tagGroupsIn(r.body)) expect(Object.keys(g.attributes)).toEqual(['name']);
  });
});
