/**
 * EmailTemplates import handlers against undici's MockAgent: create by editor type, Klaviyo's
 * rule that a drag-and-drop template's Html and Amp cannot be updated (the row fails unsent,
 * whether its EditorType says so or klv has to look the template up), partial PATCHes, deletes,
 * Klaviyo's errors on the row, and --dry-run.
 */
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { KlaviyoClient } from '../../src/klaviyo/client.js';
import { EmailTemplates } from '../../src/objects/catalog/email-templates.js';
import type { ImportRow, OperationHandler, RowOutcome, WriteContext } from '../../src/objects/write/types.js';
import { row, runHandler } from '../helpers/handlers.js';
import { JSON_API, mockKlaviyo, ORIGIN, pathIs as path, TEST_KEY, writeContext, type MockKlaviyo } from '../helpers/mock-klaviyo.js';

let mock: MockKlaviyo;

function setup() {
  mock = mockKlaviyo();
  return { ctx: writeContext(mock.client, mock.clock), pool: mock.pool };
}

const calls = () => mock.calls();
const bodyOf = (i: number) => mock.bodyOf(i);
const handler = (op: 'insert' | 'update' | 'delete'): OperationHandler => EmailTemplates.write![op]!;

/** One row a batch, as the pipeline sends these handlers' rows. */
const run = (op: 'insert' | 'update' | 'delete', rows: ImportRow[], ctx: WriteContext): Promise<RowOutcome[]> => runHandler(handler(op), rows, ctx, 1);

const DEFINITION = { body: { properties: {}, styles: {}, sections: [] }, styles: [] };

describe('EmailTemplates catalog', () => {
  it('offers insert, update and delete', () => {
    expect(EmailTemplates.operations).toEqual(['insert', 'update', 'delete']);
    expect(Object.keys(EmailTemplates.write!).sort()).toEqual(['delete', 'insert', 'update']);
    expect(handler('insert').idempotent).toBe(false);
    expect(handler('update').idempotent).toBe(true);
    expect(handler('update').maxBatchSize).toBe(1);
  });
});

describe('insert', () => {
  it('creates a CODE template by default from Html and Text', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/templates'), method: 'POST' }).reply(201, { data: { type: 'template', id: 'T1' } }, { headers: JSON_API });
    const [out] = await run('insert', [row(1, { Name: 'Welcome', Html: '<p>Hi</p>', Text: 'Hi' })], ctx);
    expect(out).toEqual({ ok: true, rowNumber: 1, status: 'created', id: 'T1' });
    expect(bodyOf(0)).toEqual({ data: { type: 'template', attributes: { name: 'Welcome', html: '<p>Hi</p>', text: 'Hi', editor_type: 'CODE' } } });
  });

  it('creates a SYSTEM_DRAGGABLE template from its Definition, leaving an exported Html out', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/templates'), method: 'POST' }).reply(201, { data: { type: 'template', id: 'T2' } }, { headers: JSON_API });
    const [out] = await run('insert', [row(1, { Name: 'DnD', EditorType: 'SYSTEM_DRAGGABLE', Html: '<p>rendered</p>', Definition: DEFINITION })], ctx);
    expect(out).toMatchObject({ ok: true, id: 'T2' });
    expect(bodyOf(0).data.attributes).toEqual({ name: 'DnD', editor_type: 'SYSTEM_DRAGGABLE', definition: DEFINITION });
  });

  it.each([
    [{ Name: 'x' }, 'missing_value', /Html is empty/],
    [{ Name: 'x', EditorType: 'SIMPLE', Html: '<p/>' }, 'invalid_value', /SIMPLE cannot be created/],
    [{ Name: 'x', EditorType: 'SYSTEM_DRAGGABLE', Html: '<p/>' }, 'missing_value', /Definition/],
    [{ Name: 'x', Html: '<p/>', Definition: DEFINITION }, 'invalid_value', /only for SYSTEM_DRAGGABLE/],
    [{ Html: '<p/>' }, 'missing_value', /Name is empty/],
  ])('refuses %j before sending', async (values, code, message) => {
    const { ctx } = setup();
    const [out] = await run('insert', [row(5, values)], ctx);
    expect(out).toMatchObject({ ok: false, rowNumber: 5, code });
    expect((out as { message: string }).message).toMatch(message);
    expect(calls()).toHaveLength(0);
  });

  it("fails the row with Klaviyo's code and detail (the 1,000-template cap)", async () => {
    const { ctx, pool } = setup();
    pool
      .intercept({ path: path('/api/templates'), method: 'POST' })
      .reply(400, { errors: [{ code: 'invalid', detail: 'This account has reached the limit of 1000 templates created via the API.' }] }, { headers: JSON_API });
    const [out] = await run('insert', [row(2, { Name: 'x', Html: '<p/>' })], ctx);
    expect(out).toEqual({ ok: false, rowNumber: 2, code: 'invalid', message: 'This account has reached the limit of 1000 templates created via the API.' });
  });
});

describe('update', () => {
  it("a drag-and-drop row whose EditorType says so fails unsent, naming the reason", async () => {
    const { ctx } = setup();
    const [out] = await run('update', [row(3, { Id: 'T9', EditorType: 'SYSTEM_DRAGGABLE', Html: '<p>new</p>' })], ctx);
    expect(out).toMatchObject({ ok: false, rowNumber: 3, code: 'drag_and_drop_html' });
    expect((out as { message: string }).message).toMatch(/T9 is a drag-and-drop template \(SYSTEM_DRAGGABLE\).*Html.*not sent/);
    expect(calls()).toHaveLength(0);
  });

  it('without EditorType, looks the template up and does not send the Html of a drag-and-drop one', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/templates/T9'), method: 'GET' }).reply(200, { data: { type: 'template', id: 'T9', attributes: { editor_type: 'SYSTEM_DRAGGABLE' } } }, { headers: JSON_API });
    const [out] = await run('update', [row(3, { Id: 'T9', Amp: '<amp/>' })], ctx);
    expect(out).toMatchObject({ ok: false, code: 'drag_and_drop_html' });
    expect((out as { message: string }).message).toContain('Amp');
    expect(calls().map((c) => c.method)).toEqual(['GET']);
    expect(calls()[0].searchParams).toMatchObject({ 'fields[template]': 'editor_type' });
  });

  it('without EditorType, looks a CODE template up and PATCHes its Html', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/templates/T1'), method: 'GET' }).reply(200, { data: { type: 'template', id: 'T1', attributes: { editor_type: 'CODE' } } }, { headers: JSON_API });
    pool.intercept({ path: path('/api/templates/T1'), method: 'PATCH' }).reply(200, { data: { type: 'template', id: 'T1' } }, { headers: JSON_API });
    const [out] = await run('update', [row(1, { Id: 'T1', Html: '<p>new</p>' })], ctx);
    expect(out).toEqual({ ok: true, rowNumber: 1, status: 'updated', id: 'T1' });
    expect(bodyOf(1)).toEqual({ data: { type: 'template', id: 'T1', attributes: { html: '<p>new</p>' } } });
  });

  it('a rename needs no lookup, even of a drag-and-drop template; EditorType is never sent', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/templates/T9'), method: 'PATCH' }).reply(200, { data: { type: 'template', id: 'T9' } }, { headers: JSON_API });
    const [out] = await run('update', [row(1, { Id: 'T9', EditorType: 'SYSTEM_DRAGGABLE', Name: 'New name', Text: null })], ctx);
    expect(out).toMatchObject({ ok: true, status: 'updated' });
    expect(calls().map((c) => c.method)).toEqual(['PATCH']);
    // Text null: cleared, as Klaviyo's PATCH allows.
    expect(bodyOf(0).data.attributes).toEqual({ name: 'New name', text: null });
  });

  it("Klaviyo's refusal of the PATCH becomes the row's failure", async () => {
    const { ctx, pool } = setup();
    pool
      .intercept({ path: path('/api/templates/T1'), method: 'PATCH' })
      .reply(400, { errors: [{ code: 'invalid', detail: 'html is not allowed for SYSTEM_DRAGGABLE templates', source: { pointer: '/data/attributes/html' } }] }, { headers: JSON_API });
    const [out] = await run('update', [row(2, { Id: 'T1', EditorType: 'CODE', Html: '<p/>' })], ctx);
    expect(out).toEqual({ ok: false, rowNumber: 2, code: 'invalid', message: 'html is not allowed for SYSTEM_DRAGGABLE templates (/data/attributes/html)' });
  });

  it('--dry-run reports ChangedColumns, and refuses a drag-and-drop Html change as the real run would', async () => {
    const { ctx, pool } = setup();
    pool
      .intercept({ path: path('/api/templates/T1'), method: 'GET' })
      .reply(200, { data: { type: 'template', id: 'T1', attributes: { name: 'A', editor_type: 'CODE', html: '<p>1</p>', text: 'one', amp: null } } }, { headers: JSON_API })
      .times(2);
    pool
      .intercept({ path: path('/api/templates/T9'), method: 'GET' })
      .reply(200, { data: { type: 'template', id: 'T9', attributes: { name: 'D', editor_type: 'SYSTEM_DRAGGABLE', html: '<p/>' } } }, { headers: JSON_API });
    const h = handler('update');
    const out = [
      ...(await h.preview!([row(1, { Id: 'T1', Name: 'A', Html: '<p>2</p>', Text: 'one' })], ctx)),
      ...(await h.preview!([row(2, { Id: 'T1', Name: 'A', Amp: null })], ctx)),
      ...(await h.preview!([row(3, { Id: 'T9', Html: '<p/>' })], ctx)),
    ];
    expect(out[0]).toEqual({ ok: true, rowNumber: 1, status: 'updated', id: 'T1', extras: { ChangedColumns: 'Html' } });
    expect(out[1]).toEqual({ ok: true, rowNumber: 2, status: 'unchanged', id: 'T1', extras: { ChangedColumns: '' } });
    expect(out[2]).toMatchObject({ ok: false, rowNumber: 3, code: 'drag_and_drop_html' });
    expect(calls().every((c) => c.method === 'GET')).toBe(true);
  });
});

describe('rate limits and --dry-run comparisons (one rule with the other handlers)', () => {
  it('--dry-run: clearing a field Klaviyo shows empty changes nothing (null, absent and "" are the same), as for profiles', async () => {
    const { ctx, pool } = setup();
    pool
      .intercept({ path: path('/api/templates/T1'), method: 'GET' })
      .reply(200, { data: { type: 'template', id: 'T1', attributes: { name: 'A', editor_type: 'CODE', html: '<p>1</p>', text: '', amp: null } } }, { headers: JSON_API });
    const [out] = await handler('update').preview!([row(1, { Id: 'T1', Text: null, Amp: null })], ctx);
    expect(out).toEqual({ ok: true, rowNumber: 1, status: 'unchanged', id: 'T1', extras: { ChangedColumns: '' } });
  });

  it("a 429 left after the client's retries fails the row; a Retry-After longer than klv waits stops the run", async () => {
    const { ctx, pool } = setup();
    const throttled = { errors: [{ code: 'throttled', title: 'Request was throttled.', detail: 'Request was throttled.' }] };
    pool.intercept({ path: path('/api/templates/T1'), method: 'PATCH' }).reply(429, throttled, { headers: JSON_API }).times(20);
    // A second client on the same mock, without retries: the 429 is what is left after them.
    const quick = new KlaviyoClient({ baseUrl: ORIGIN, apiKey: new Secret(TEST_KEY), userAgent: 'klv/test', dispatcher: mock.agent, clock: mock.clock, random: () => 0.5, maxRetries: 0 });
    const [out] = await run('update', [row(1, { Id: 'T1', Name: 'B' })], { ...ctx, client: quick });
    expect(out).toEqual({ ok: false, rowNumber: 1, code: 'throttled', message: 'Request was throttled.' });

    pool.intercept({ path: path('/api/templates/T2'), method: 'PATCH' }).reply(429, throttled, { headers: { ...JSON_API, 'retry-after': '3600' } });
    await expect(run('update', [row(2, { Id: 'T2', Name: 'B' })], ctx)).rejects.toMatchObject({ name: 'KlaviyoResponseError', kind: 'retry-after-too-long' });
  });
});

describe('delete', () => {
  it('DELETEs by Id; a missing template fails the row with not_found', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/templates/T1'), method: 'DELETE' }).reply(204, '');
    pool.intercept({ path: path('/api/templates/GONE'), method: 'DELETE' }).reply(404, { errors: [{ code: 'not_found', detail: 'Template GONE does not exist.' }] }, { headers: JSON_API });
    const out = await run('delete', [row(1, { Id: 'T1' }), row(2, { Id: 'GONE' })], ctx);
    expect(out).toEqual([
      { ok: true, rowNumber: 1, status: 'deleted', id: 'T1' },
      { ok: false, rowNumber: 2, code: 'not_found', message: 'Template GONE does not exist.' },
    ]);
  });
});
