/**
 * The emulator's template writes over real loopback HTTP: create (CODE, USER_DRAGGABLE with
 * html; SYSTEM_DRAGGABLE with a definition and no html), update (drag-and-drop HTML refused,
 * editor type fixed), delete, clone, and the 1,000 API-created templates cap. Every exchange is
 * recorded and checked against Klaviyo's OpenAPI spec; requests that are malformed on purpose
 * are left out of that check and their error responses validated on their own.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { createEmptyStore } from '../../src/emulator/store/account-store.js';
import { dragAndDropDefinition } from '../../src/emulator/demo-data/templates.js';
import type { AccountStore, StoredResource } from '../../src/emulator/store/types.js';
import { apiHeaders, callApi } from '../helpers/emulator-api.js';
import { withRecording } from '../helpers/recording.js';
import { loadSpec } from '../helpers/spec.js';
import { validateResponse } from '../helpers/spec-validator.js';

const NOW = new Date('2026-07-20T12:00:00Z');
const HEADERS = apiHeaders('pk_unit_write_templates_0123');

const call = (base: string, method: string, path: string, body?: unknown) => callApi(base, method, path, body, HEADERS);

/** Bodies sent malformed on purpose: their exchanges are not spec-checked as requests. */
const malformed = new Set<string>();

function createBody(attributes: Record<string, unknown>) {
  return { data: { type: 'template', attributes } };
}

describe('template writes', () => {
  const recording = withRecording();
  let emu: RunningEmulator;
  const api = (method: string, path: string, body?: unknown) => call(emu.url, method, path, body);
  /** A request that must be refused with a 400 at `pointer`; its error document must still be Klaviyo's. */
  const refused = async (method: string, path: string, body: unknown, op: string, pointer: string, detail: RegExp, options: { malformed?: boolean } = {}) => {
    if (options.malformed) malformed.add(JSON.stringify(body));
    const r = await api(method, path, body);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.errors[0].code).toBe('invalid');
    expect(r.body.errors[0].source.pointer).toBe(pointer);
    expect(r.body.errors[0].detail).toMatch(detail);
    if (loadSpec()) expect(validateResponse(op, 400, r.body)).toEqual([]);
    return r;
  };
  const templates = () => emu.store.collection('template');
  const firstOf = (editorType: string): StoredResource => [...templates().values()].find((t) => t.attributes.editor_type === editorType)!;

  beforeAll(async () => {
    emu = await startEmulator({ data: 'demo', profiles: 50, rateLimits: 'off', clock: () => NOW });
  });
  afterAll(async () => {
    await emu.close();
    recording.expectConformant({ minExchanges: 10, ignore: (ex) => malformed.has(JSON.stringify(ex.requestBody)) });
  });

  it('creates a CODE template with its html and returns it as GET does', async () => {
    const r = await api('POST', '/api/templates', createBody({ name: 'Import test', editor_type: 'CODE', html: '<html><body>Hi {{ first_name }}</body></html>', text: 'Hi' }));
    expect(r.status).toBe(201);
    const id = r.body.data.id;
    expect(id).toMatch(/^[A-Za-z0-9]{6}$/);
    expect(r.body.data.attributes).toEqual({
      name: 'Import test',
      editor_type: 'CODE',
      html: '<html><body>Hi {{ first_name }}</body></html>',
      text: 'Hi',
      amp: null,
      created: '2026-07-20T12:00:00+00:00',
      updated: '2026-07-20T12:00:00+00:00',
    });
    expect(r.body.data.links.self).toBe(`${emu.url}/api/templates/${id}/`);
    const read = await api('GET', `/api/templates/${id}`);
    expect(read.body.data.attributes).toEqual(r.body.data.attributes);
  });

  it('creates a USER_DRAGGABLE template from html', async () => {
    const r = await api('POST', '/api/templates', createBody({ name: 'Hybrid', editor_type: 'USER_DRAGGABLE', html: '<p>hybrid</p>' }));
    expect(r.status).toBe(201);
    expect(r.body.data.attributes).toMatchObject({ editor_type: 'USER_DRAGGABLE', html: '<p>hybrid</p>', text: null });
  });

  it('creates a drag-and-drop template from a definition and renders its html', async () => {
    const definition = dragAndDropDefinition('Trail Days');
    const r = await api('POST', '/api/templates?additional-fields[template]=definition', createBody({ name: 'DnD import', editor_type: 'SYSTEM_DRAGGABLE', definition }));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const { id, attributes } = r.body.data;
    expect(attributes.editor_type).toBe('SYSTEM_DRAGGABLE');
    expect(attributes.html).toContain('<h1>Trail Days</h1>');
    expect(attributes.html).toContain('Shop now');
    expect(attributes.definition).toEqual({ ...definition, id: null, template_id: id });
    // Without additional-fields the definition stays out, as on every template read.
    expect((await api('GET', `/api/templates/${id}`)).body.data.attributes).not.toHaveProperty('definition');
  });

  it('refuses creates that break the editor rules, naming the field', async () => {
    await refused('POST', '/api/templates', createBody({ name: 'x', editor_type: 'CODE' }), 'create_template', '/data/attributes/html', /'html' is required for CODE templates/);
    await refused('POST', '/api/templates', createBody({ name: 'x', editor_type: 'SYSTEM_DRAGGABLE', html: '<p>x</p>', definition: dragAndDropDefinition('x') }), 'create_template', '/data/attributes/html', /not allowed for SYSTEM_DRAGGABLE/);
    await refused('POST', '/api/templates', createBody({ name: 'x', editor_type: 'SYSTEM_DRAGGABLE' }), 'create_template', '/data/attributes/definition', /'definition' is required/);
    await refused('POST', '/api/templates', createBody({ name: 'x', editor_type: 'SIMPLE', html: '<p>x</p>' }), 'create_template', '/data/attributes/editor_type', /CODE, USER_DRAGGABLE, SYSTEM_DRAGGABLE/);
    await refused('POST', '/api/templates', createBody({ editor_type: 'CODE', html: '<p>x</p>' }), 'create_template', '/data/attributes/name', /'name' is a required field/, { malformed: true });
    await refused('POST', '/api/templates', { data: { type: 'list', attributes: { name: 'x', editor_type: 'CODE', html: 'x' } } }, 'create_template', '/data/type', /valid choices: template/, { malformed: true });
    await refused('POST', '/api/templates', createBody({ name: 'x', editor_type: 'SYSTEM_DRAGGABLE', definition: { body: { properties: {}, styles: {} }, styles: [{ style_type: 'base-styles', styles: {} }] } }), 'create_template', '/data/attributes/definition/styles/0', /wrong type/, { malformed: true });
  });

  it('updates a CODE template: name, html, text, amp; the rest stays', async () => {
    const code = firstOf('CODE');
    const before = structuredClone(code.attributes);
    const r = await api('PATCH', `/api/templates/${code.id}`, { data: { type: 'template', id: code.id, attributes: { name: 'Renamed', html: '<p>new</p>', text: null } } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data.attributes).toEqual({ ...before, name: 'Renamed', html: '<p>new</p>', text: null, updated: '2026-07-20T12:00:00+00:00', definition: undefined });
    expect(templates().get(code.id)!.attributes.created).toBe(before.created);
  });

  it("refuses to update a drag-and-drop template's HTML or AMP, and changes nothing", async () => {
    const dnd = firstOf('SYSTEM_DRAGGABLE');
    const before = structuredClone(dnd.attributes);
    const r = await refused('PATCH', `/api/templates/${dnd.id}`, { data: { type: 'template', id: dnd.id, attributes: { html: '<p>nope</p>' } } }, 'update_template', '/data/attributes/html', /Drag-and-drop templates' HTML cannot be updated/);
    expect(r.body.errors[0].detail).toContain(dnd.id);
    await refused('PATCH', `/api/templates/${dnd.id}`, { data: { type: 'template', id: dnd.id, attributes: { name: 'x', amp: '<p>amp</p>' } } }, 'update_template', '/data/attributes/amp', /AMP cannot be updated/);
    expect(templates().get(dnd.id)!.attributes).toEqual(before);
  });

  it('updates a drag-and-drop template through its definition, which replaces the old one', async () => {
    const dnd = [...templates().values()].filter((t) => t.attributes.editor_type === 'SYSTEM_DRAGGABLE')[1]!;
    const definition = dragAndDropDefinition('Fresh Powder');
    const r = await api('PATCH', `/api/templates/${dnd.id}?additional-fields[template]=definition`, { data: { type: 'template', id: dnd.id, attributes: { definition } } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data.attributes.definition).toEqual({ ...definition, id: null, template_id: dnd.id });
    expect(r.body.data.attributes.html).toContain('<h1>Fresh Powder</h1>');
  });

  it('refuses a definition for a CODE template, a new editor type, an id mismatch and an unknown id', async () => {
    const code = firstOf('CODE');
    await refused('PATCH', `/api/templates/${code.id}`, { data: { type: 'template', id: code.id, attributes: { definition: dragAndDropDefinition('x') } } }, 'update_template', '/data/attributes/definition', /not allowed for CODE templates/);
    await refused('PATCH', `/api/templates/${code.id}`, { data: { type: 'template', id: code.id, attributes: { editor_type: 'SYSTEM_DRAGGABLE' } } }, 'update_template', '/data/attributes/editor_type', /'editor_type' is not a valid field for the resource 'template'/, { malformed: true });
    await refused('PATCH', `/api/templates/${code.id}`, { data: { type: 'template', id: 'XXXXXX', attributes: { name: 'x' } } }, 'update_template', '/data/id', /does not match the id in the URL/);
    const missing = await api('PATCH', '/api/templates/NOPE00', { data: { type: 'template', id: 'NOPE00', attributes: { name: 'x' } } });
    expect(missing.status).toBe(404);
    expect(missing.body.errors[0].detail).toMatch(/template with id 'NOPE00' does not exist/);
  });

  it('deletes a template (204), then it is gone (404)', async () => {
    const created = await api('POST', '/api/templates', createBody({ name: 'Short-lived', editor_type: 'CODE', html: '<p>x</p>' }));
    const id = created.body.data.id;
    const deleted = await api('DELETE', `/api/templates/${id}`);
    expect(deleted.status).toBe(204);
    expect(deleted.body).toBeNull();
    expect((await api('GET', `/api/templates/${id}`)).status).toBe(404);
    expect((await api('DELETE', `/api/templates/${id}`)).status).toBe(404);
  });

  it('clones a template under a new id and name', async () => {
    const dnd = firstOf('SYSTEM_DRAGGABLE');
    const r = await api('POST', '/api/template-clone', { data: { type: 'template', id: dnd.id, attributes: { name: 'Cloned' } } });
    expect(r.status).toBe(201);
    expect(r.body.data.id).not.toBe(dnd.id);
    expect(r.body.data.attributes).toMatchObject({ name: 'Cloned', editor_type: 'SYSTEM_DRAGGABLE', html: dnd.attributes.html, created: '2026-07-20T12:00:00+00:00' });
    const stored = templates().get(r.body.data.id)!;
    expect((stored.attributes.definition as { template_id: string }).template_id).toBe(r.body.data.id);
    const unnamed = await api('POST', '/api/template-clone', { data: { type: 'template', id: dnd.id, attributes: {} } });
    expect(unnamed.body.data.attributes.name).toBe(`${String(dnd.attributes.name)} (Clone)`);
    expect((await api('POST', '/api/template-clone', { data: { type: 'template', id: 'NOPE00', attributes: {} } })).status).toBe(404);
  });

  it('counts the writes in /_emulator/requests', async () => {
    const counts = (await (await fetch(`${emu.url}/_emulator/requests`)).json()) as { byOperation: Record<string, number> };
    expect(counts.byOperation.create_template).toBeGreaterThanOrEqual(10);
    expect(counts.byOperation.update_template).toBeGreaterThanOrEqual(6);
    expect(counts.byOperation.delete_template).toBe(2);
    expect(counts.byOperation.clone_template).toBe(3);
  });
});

describe('the 1,000 API-created templates cap', () => {
  let emu: RunningEmulator;
  let store: AccountStore;
  const api = (method: string, path: string, body?: unknown) => call(emu.url, method, path, body);

  beforeEach(async () => {
    store = createEmptyStore({ clock: () => NOW });
    for (let i = 0; i < 999; i++) {
      store.collection('template').insert({ type: 'template', id: store.newId('template'), attributes: { name: `T${i}`, editor_type: 'CODE', html: '<p/>', text: null, amp: null, created: null, updated: null, definition: null }, relationships: {} });
    }
    emu = await startEmulator({ store, rateLimits: 'off', clock: () => NOW });
    return () => emu.close();
  });

  it('allows the 1,000th template and refuses the next create and clone', async () => {
    expect((await api('POST', '/api/templates', createBody({ name: 'last', editor_type: 'CODE', html: '<p/>' }))).status).toBe(201);
    const over = await api('POST', '/api/templates', createBody({ name: 'one too many', editor_type: 'CODE', html: '<p/>' }));
    expect(over.status).toBe(400);
    expect(over.body.errors[0].detail).toMatch(/at most 1000 templates created through the API/);
    const source = [...store.collection('template').values()][0]!;
    expect((await api('POST', '/api/template-clone', { data: { type: 'template', id: source.id, attributes: {} } })).status).toBe(400);
    expect(store.collection('template').count()).toBe(1000);
    // Room again once one is deleted.
    expect((await api('DELETE', `/api/templates/${source.id}`)).status).toBe(204);
    expect((await api('POST', '/api/templates', createBody({ name: 'fits again', editor_type: 'CODE', html: '<p/>' }))).status).toBe(201);
  });

  it("does not count campaign messages' template copies", async () => {
    const campaignId = store.newId('campaign');
    const messageId = store.newId('campaign-message');
    const copy = store.collection('template').insert({ type: 'template', id: store.newId('template'), attributes: { name: 'copy', editor_type: 'CODE', html: '<p/>', text: null, amp: null, created: null, updated: null, definition: null }, relationships: {} });
    store.collection('campaign').insert({ type: 'campaign', id: campaignId, attributes: { name: 'c', status: 'Draft' }, relationships: { 'campaign-messages': [{ type: 'campaign-message', id: messageId }] } });
    store.collection('campaign-message').insert({ type: 'campaign-message', id: messageId, attributes: { definition: { channel: 'email', label: 'c', content: {} } }, relationships: { campaign: { type: 'campaign', id: campaignId }, template: { type: 'template', id: copy.id } } });
    // 999 library templates + 1 copy: one more library template still fits.
    expect((await api('POST', '/api/templates', createBody({ name: 'fits', editor_type: 'CODE', html: '<p/>' }))).status).toBe(201);
    expect((await api('POST', '/api/templates', createBody({ name: 'over', editor_type: 'CODE', html: '<p/>' }))).status).toBe(400);
  });
});

describe('template writes are deterministic', () => {
  it('hands out the same ids for the same requests with the same seed and clock', async () => {
    const run = async () => {
      const emu = await startEmulator({ data: 'empty', seed: 7, rateLimits: 'off', clock: () => NOW });
      try {
        const ids: string[] = [];
        for (const name of ['a', 'b', 'c']) ids.push((await call(emu.url, 'POST', '/api/templates', createBody({ name, editor_type: 'CODE', html: '<p/>' }))).body.data.id);
        return ids;
      } finally {
        await emu.close();
      }
    };
    const first = await run();
    expect(new Set(first).size).toBe(3);
    expect(await run()).toEqual(first);
  });
});
