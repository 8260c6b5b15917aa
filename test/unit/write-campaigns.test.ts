/**
 * Campaigns import handlers against undici's MockAgent. Insert: the create body (audiences from a
 * JSON array or `a;b`, the message's channel and content, send settings), then the template
 * assignment whose COPY is the row's TemplateId (three rows naming one template get three ids);
 * a failed assignment names the campaign it leaves behind. Update: one read, then only what
 * differs (campaign PATCH, message PATCH with merged content, a new assignment); Klaviyo's
 * refusal of a sent campaign on the row. Delete, validation and --dry-run.
 */
import { describe, expect, it } from 'vitest';
import { Campaigns } from '../../src/objects/catalog/campaigns.js';
import { audienceIds } from '../../src/objects/write/campaigns.js';
import type { ImportRow, OperationHandler, RowOutcome, WriteContext } from '../../src/objects/write/types.js';
import { row, runHandler } from '../helpers/handlers.js';
import { JSON_API, mockKlaviyo, pathIs as path, writeContext, type MockKlaviyo } from '../helpers/mock-klaviyo.js';

let mock: MockKlaviyo;

function setup() {
  mock = mockKlaviyo();
  return { ctx: writeContext(mock.client, mock.clock), pool: mock.pool };
}

const calls = () => mock.calls();
const wire = () => calls().map((c) => `${c.method} ${c.path.split('?')[0]}`);
const bodyOf = (i: number) => mock.bodyOf(i);
const handler = (op: 'insert' | 'update' | 'delete'): OperationHandler => Campaigns.write![op]!;

/** One row a batch, as the pipeline sends these handlers' rows. */
const run = (op: 'insert' | 'update' | 'delete', rows: ImportRow[], ctx: WriteContext): Promise<RowOutcome[]> => runHandler(handler(op), rows, ctx, 1);

const created = (id: string, messageId: string | null) => ({
  data: {
    type: 'campaign',
    id,
    attributes: { name: 'x', status: 'Draft' },
    relationships: messageId ? { 'campaign-messages': { data: [{ type: 'campaign-message', id: messageId }] } } : {},
  },
});

const assigned = (messageId: string, templateId: string) => ({
  data: {
    type: 'campaign-message',
    id: messageId,
    attributes: {},
    relationships: { template: { data: { type: 'template', id: templateId } } },
  },
});

describe('Campaigns catalog', () => {
  it('offers insert, update and delete, with the write columns', () => {
    expect(Campaigns.operations).toEqual(['insert', 'update', 'delete']);
    expect(Object.keys(Campaigns.write!).sort()).toEqual(['delete', 'insert', 'update']);
    expect(handler('insert').idempotent).toBe(false);
    expect(handler('update').idempotent).toBe(true);
    expect(handler('insert').requiredColumns).toEqual(['Name']);
    for (const c of handler('insert').acceptedColumns!) expect(Campaigns.columns.some((d) => d.name === c), c).toBe(true);
    // Channel defaults to email on insert: not required.
    expect(Campaigns.columns.find((c) => c.name === 'Channel')!.requiredOnInsert).toBeFalsy();
  });
});

describe('audienceIds', () => {
  it.each([
    ['["a","b"]', ['a', 'b']],
    [['a', 'b', 'a'], ['a', 'b']],
    ['a;b', ['a', 'b']],
    [' a , b ', ['a', 'b']],
    ['Y6nRLr', ['Y6nRLr']],
    [null, []],
  ])('%j -> %j', (value, ids) => {
    expect(audienceIds(value, 'IncludedListIds')).toEqual(ids);
  });

  it('says why a value is not a list of ids', () => {
    expect(audienceIds('[1,', 'IncludedListIds')).toMatch(/not a JSON array/);
    expect(audienceIds({ a: 1 }, 'IncludedListIds')).toMatch(/must be a JSON array/);
    expect(audienceIds([{ id: 'x' }], 'IncludedListIds')).toMatch(/must hold list or segment ids/);
  });
});

describe('insert', () => {
  it('creates the campaign with its email message, assigns the template, and gives the copy as TemplateId', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns'), method: 'POST' }).reply(201, created('C1', 'M1'), { headers: JSON_API });
    pool.intercept({ path: path('/api/campaign-message-assign-template'), method: 'POST' }).reply(200, assigned('M1', 'COPY1'), { headers: JSON_API });

    const [out] = await run(
      'insert',
      [
        row(1, {
          Name: 'Spring sale',
          IncludedListIds: 'L1;L2',
          ExcludedListIds: '["L3"]',
          Subject: 'Hello',
          PreviewText: 'Pre',
          FromEmail: 'shop@example.com',
          FromLabel: 'Shop',
          TemplateId: 'TPL',
          SendStrategy: '{"method":"static","datetime":"2026-08-01T15:00:00Z","options":{"is_local":false},"throttle_percentage":null}',
          SendOptions: { use_smart_sending: true },
        }),
      ],
      ctx,
    );

    expect(out).toEqual({ ok: true, rowNumber: 1, status: 'created', id: 'C1', extras: { TemplateId: 'COPY1' } });
    expect(wire()).toEqual(['POST /api/campaigns', 'POST /api/campaign-message-assign-template']);
    expect(bodyOf(0)).toEqual({
      data: {
        type: 'campaign',
        attributes: {
          name: 'Spring sale',
          audiences: { included: ['L1', 'L2'], excluded: ['L3'] },
          // Klaviyo's read-back nulls are left out: the create schemas do not take them.
          send_strategy: { method: 'static', datetime: '2026-08-01T15:00:00Z', options: { is_local: false } },
          send_options: { use_smart_sending: true },
          'campaign-messages': {
            data: [
              {
                type: 'campaign-message',
                attributes: {
                  definition: { channel: 'email', content: { subject: 'Hello', preview_text: 'Pre', from_email: 'shop@example.com', from_label: 'Shop' } },
                },
              },
            ],
          },
        },
      },
    });
    expect(bodyOf(1)).toEqual({ data: { type: 'campaign-message', id: 'M1', relationships: { template: { data: { type: 'template', id: 'TPL' } } } } });
  });

  it('three rows with the same TemplateId get three different TemplateIds', async () => {
    const { ctx, pool } = setup();
    let n = 0;
    pool
      .intercept({ path: path('/api/campaigns'), method: 'POST' })
      .reply(() => {
        n += 1;
        return { statusCode: 201, data: created(`C${n}`, `M${n}`), responseOptions: { headers: JSON_API } };
      })
      .persist();
    pool
      .intercept({ path: path('/api/campaign-message-assign-template'), method: 'POST' })
      .reply(({ body }) => {
        const mid = JSON.parse(String(body)).data.id as string;
        return { statusCode: 200, data: assigned(mid, `COPY-${mid}`), responseOptions: { headers: JSON_API } };
      })
      .persist();

    const rows = [1, 2, 3].map((i) => row(i, { Name: `Campaign ${i}`, IncludedListIds: '["L1"]', TemplateId: 'TPL' }));
    const out = await run('insert', rows, ctx);
    const ids = out.map((o) => (o.ok ? o.extras?.TemplateId : null));
    expect(ids).toEqual(['COPY-M1', 'COPY-M2', 'COPY-M3']);
    expect(new Set(ids).size).toBe(3);
    expect(out.map((o) => (o.ok ? o.id : null))).toEqual(['C1', 'C2', 'C3']);
  });

  it("reads the message and the copy's id when Klaviyo's responses leave them out", async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns'), method: 'POST' }).reply(201, created('C1', null), { headers: JSON_API });
    pool.intercept({ path: path('/api/campaigns/C1/relationships/campaign-messages'), method: 'GET' }).reply(200, { data: [{ type: 'campaign-message', id: 'M1' }] }, { headers: JSON_API });
    pool.intercept({ path: path('/api/campaign-message-assign-template'), method: 'POST' }).reply(200, { data: { type: 'campaign-message', id: 'M1', attributes: {} } }, { headers: JSON_API });
    pool.intercept({ path: path('/api/campaign-messages/M1/relationships/template'), method: 'GET' }).reply(200, { data: { type: 'template', id: 'COPY' } }, { headers: JSON_API });
    const [out] = await run('insert', [row(1, { Name: 'x', TemplateId: 'TPL' })], ctx);
    expect(out).toMatchObject({ ok: true, id: 'C1', extras: { TemplateId: 'COPY' } });
    expect(wire()).toEqual([
      'POST /api/campaigns',
      'GET /api/campaigns/C1/relationships/campaign-messages',
      'POST /api/campaign-message-assign-template',
      'GET /api/campaign-messages/M1/relationships/template',
    ]);
  });

  it('without TemplateId: created, no assignment, an empty TemplateId; audiences default to none', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns'), method: 'POST' }).reply(201, created('C1', 'M1'), { headers: JSON_API });
    const [out] = await run('insert', [row(1, { Name: 'x', Channel: 'sms', Body: 'Sale today' })], ctx);
    expect(out).toEqual({ ok: true, rowNumber: 1, status: 'created', id: 'C1', extras: { TemplateId: '' } });
    expect(bodyOf(0).data.attributes.audiences).toEqual({ included: [] });
    expect(bodyOf(0).data.attributes['campaign-messages'].data[0].attributes.definition).toEqual({ channel: 'sms', content: { body: 'Sale today' } });
    expect(calls()).toHaveLength(1);
  });

  it('a failed assignment fails the row and names the campaign it created', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns'), method: 'POST' }).reply(201, created('C7', 'M7'), { headers: JSON_API });
    pool
      .intercept({ path: path('/api/campaign-message-assign-template'), method: 'POST' })
      .reply(404, { errors: [{ code: 'not_found', detail: 'Template NOPE not found.' }] }, { headers: JSON_API });
    const [out] = await run('insert', [row(4, { Name: 'x', TemplateId: 'NOPE' })], ctx);
    expect(out).toMatchObject({ ok: false, rowNumber: 4, code: 'not_found' });
    const message = (out as { message: string }).message;
    expect(message).toContain('Campaign C7 was created, but assigning template NOPE to its message failed');
    expect(message).toContain('Template NOPE not found.');
    expect(message).toMatch(/delete that campaign before importing this row again/);
  });

  it('a 5xx on create is an unknown outcome: no assignment, nothing sent twice', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns'), method: 'POST' }).reply(500, 'boom');
    const [out] = await run('insert', [row(1, { Name: 'x', TemplateId: 'TPL' })], ctx);
    expect(out).toMatchObject({ ok: false, code: 'unknown_outcome' });
    expect(wire()).toEqual(['POST /api/campaigns']);
  });

  it('an unknown outcome of the assignment is not retried either', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns'), method: 'POST' }).reply(201, created('C1', 'M1'), { headers: JSON_API });
    pool.intercept({ path: path('/api/campaign-message-assign-template'), method: 'POST' }).reply(503, 'busy');
    const [out] = await run('insert', [row(1, { Name: 'x', TemplateId: 'TPL' })], ctx);
    expect(out).toMatchObject({ ok: false, code: 'unknown_outcome' });
    expect((out as { message: string }).message).toContain('Campaign C1 was created');
    expect(wire()).toEqual(['POST /api/campaigns', 'POST /api/campaign-message-assign-template']);
  });

  it.each([
    [{ Name: 'x', Channel: 'sms', Subject: 'Hi' }, /Subject does not apply to sms campaigns/],
    [{ Name: 'x', Channel: 'sms', TemplateId: 'T' }, /TemplateId applies to email campaigns only/],
    [{ Name: 'x', Body: 'Hi' }, /Body does not apply to email campaigns/],
    [{ Name: 'x', Channel: 'mobile_push' }, /Body is empty/],
    [{ Name: 'x', Channel: 'fax' }, /Channel fax is not one of/],
    [{ Name: 'x', IncludedListIds: '[1,' }, /not a JSON array/],
    [{ Name: 'x', SendStrategy: '{"datetime":"2026-08-01T00:00:00Z"}' }, /SendStrategy needs a method/],
    [{ Name: 'x', TrackingOptions: '[]' }, /TrackingOptions must be a JSON object/],
    [{ IncludedListIds: '["L1"]' }, /Name is empty/],
  ])('refuses %j before sending', async (values, message) => {
    const { ctx } = setup();
    const [out] = await run('insert', [row(2, values)], ctx);
    expect(out).toMatchObject({ ok: false, rowNumber: 2 });
    expect((out as { message: string }).message).toMatch(message);
    expect(calls()).toHaveLength(0);
  });

  it('takes a bare strategy name: immediate', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns'), method: 'POST' }).reply(201, created('C1', 'M1'), { headers: JSON_API });
    await run('insert', [row(1, { Name: 'x', SendStrategy: 'immediate' })], ctx);
    expect(bodyOf(0).data.attributes.send_strategy).toEqual({ method: 'immediate' });
  });
});

/** A campaign as GET /api/campaigns/{id}?include=campaign-messages returns it. */
function current(o: { status?: string; channel?: string; content?: Record<string, unknown>; template?: string | null; included?: string[] } = {}) {
  const message = {
    type: 'campaign-message',
    id: 'M1',
    attributes: { definition: { channel: o.channel ?? 'email', label: 'x', content: o.content ?? { subject: 'Old', preview_text: 'Pre', from_email: 'a@x.example', from_label: 'A', reply_to_email: null } } },
    relationships: { template: { data: o.template === null ? null : { type: 'template', id: o.template ?? 'COPY0' } } },
  };
  return {
    data: {
      type: 'campaign',
      id: 'C1',
      attributes: { name: 'Spring', status: o.status ?? 'Draft', audiences: { included: o.included ?? ['L1', 'L2'], excluded: [] }, send_options: { use_smart_sending: true } },
      relationships: { 'campaign-messages': { data: [{ type: 'campaign-message', id: 'M1' }] } },
    },
    included: [message],
  };
}

describe('update', () => {
  it('reads the campaign once and sends only what differs: the campaign PATCH and the merged message content', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns/C1'), method: 'GET' }).reply(200, current(), { headers: JSON_API });
    pool.intercept({ path: path('/api/campaigns/C1'), method: 'PATCH' }).reply(200, { data: { type: 'campaign', id: 'C1' } }, { headers: JSON_API });
    pool.intercept({ path: path('/api/campaign-messages/M1'), method: 'PATCH' }).reply(200, { data: { type: 'campaign-message', id: 'M1' } }, { headers: JSON_API });

    // Same audiences in another order, same name: not sent. New subject and excluded lists: sent.
    const [out] = await run('update', [row(1, { Id: 'C1', Name: 'Spring', IncludedListIds: 'L2;L1', ExcludedListIds: '["L9"]', Subject: 'New' })], ctx);

    expect(out).toEqual({ ok: true, rowNumber: 1, status: 'updated', id: 'C1', extras: { TemplateId: 'COPY0' } });
    expect(wire()).toEqual(['GET /api/campaigns/C1', 'PATCH /api/campaigns/C1', 'PATCH /api/campaign-messages/M1']);
    expect(calls()[0].searchParams).toMatchObject({ include: 'campaign-messages' });
    expect(bodyOf(1)).toEqual({ data: { type: 'campaign', id: 'C1', attributes: { audiences: { included: ['L2', 'L1'], excluded: ['L9'] } } } });
    expect(bodyOf(2)).toEqual({
      data: {
        type: 'campaign-message',
        id: 'M1',
        attributes: { definition: { channel: 'email', content: { subject: 'New', preview_text: 'Pre', from_email: 'a@x.example', from_label: 'A', reply_to_email: null } } },
      },
    });
  });

  it('a row that matches the campaign is unchanged: one read, no write', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns/C1'), method: 'GET' }).reply(200, current(), { headers: JSON_API });
    const [out] = await run('update', [row(1, { Id: 'C1', Name: 'Spring', Subject: 'Old', TemplateId: 'COPY0', SendOptions: { use_smart_sending: true } })], ctx);
    expect(out).toEqual({ ok: true, rowNumber: 1, status: 'unchanged', id: 'C1', extras: { TemplateId: 'COPY0' } });
    expect(wire()).toEqual(['GET /api/campaigns/C1']);
  });

  it('send settings compare on the keys the row gives: Klaviyo keeps the others', async () => {
    const { ctx, pool } = setup();
    const withTracking = current();
    (withTracking.data.attributes as Record<string, unknown>).tracking_options = { is_tracking_opens: true, is_tracking_clicks: true, add_tracking_params: false };
    pool.intercept({ path: path('/api/campaigns/C1'), method: 'GET' }).reply(200, withTracking, { headers: JSON_API }).times(2);
    pool.intercept({ path: path('/api/campaigns/C1'), method: 'PATCH' }).reply(200, { data: { type: 'campaign', id: 'C1' } }, { headers: JSON_API });
    const [same] = await run('update', [row(1, { Id: 'C1', TrackingOptions: { is_tracking_opens: true } })], ctx);
    const [changed] = await run('update', [row(2, { Id: 'C1', TrackingOptions: '{"is_tracking_clicks":false}' })], ctx);
    expect(same).toMatchObject({ ok: true, status: 'unchanged' });
    expect(changed).toMatchObject({ ok: true, status: 'updated' });
    expect(wire()).toEqual(['GET /api/campaigns/C1', 'GET /api/campaigns/C1', 'PATCH /api/campaigns/C1']);
    expect(bodyOf(2).data.attributes).toEqual({ tracking_options: { is_tracking_clicks: false } });
  });

  it('another TemplateId is assigned as a new copy, which the success log gives', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns/C1'), method: 'GET' }).reply(200, current(), { headers: JSON_API });
    pool.intercept({ path: path('/api/campaign-message-assign-template'), method: 'POST' }).reply(200, assigned('M1', 'COPY1'), { headers: JSON_API });
    const [out] = await run('update', [row(1, { Id: 'C1', TemplateId: 'TPL2' })], ctx);
    expect(out).toEqual({ ok: true, rowNumber: 1, status: 'updated', id: 'C1', extras: { TemplateId: 'COPY1' } });
    expect(wire()).toEqual(['GET /api/campaigns/C1', 'POST /api/campaign-message-assign-template']);
  });

  it("a sent campaign: Klaviyo's refusal is the row's failure", async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns/C1'), method: 'GET' }).reply(200, current({ status: 'Sent' }), { headers: JSON_API });
    pool
      .intercept({ path: path('/api/campaigns/C1'), method: 'PATCH' })
      .reply(400, { errors: [{ code: 'invalid', detail: 'Cannot update a campaign that has been sent.' }] }, { headers: JSON_API });
    const [out] = await run('update', [row(6, { Id: 'C1', Name: 'Renamed' })], ctx);
    expect(out).toEqual({ ok: false, rowNumber: 6, code: 'invalid', message: 'Cannot update a campaign that has been sent.' });
  });

  it('says what changed already when a later write fails', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns/C1'), method: 'GET' }).reply(200, current(), { headers: JSON_API });
    pool.intercept({ path: path('/api/campaigns/C1'), method: 'PATCH' }).reply(200, { data: { type: 'campaign', id: 'C1' } }, { headers: JSON_API });
    pool
      .intercept({ path: path('/api/campaign-messages/M1'), method: 'PATCH' })
      .reply(400, { errors: [{ code: 'invalid', detail: 'from_email is not a verified sender', source: { pointer: '/data/attributes/definition/content/from_email' } }] }, { headers: JSON_API });
    const [out] = await run('update', [row(2, { Id: 'C1', Name: 'New', FromEmail: 'nobody@example.com' })], ctx);
    expect(out).toMatchObject({ ok: false, code: 'invalid' });
    expect((out as { message: string }).message).toBe('Campaign C1: the campaign updated, then the next change failed: from_email is not a verified sender (/data/attributes/definition/content/from_email)');
  });

  it("refuses to change a campaign's channel, and email columns on an sms campaign", async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns/C1'), method: 'GET' }).reply(200, current({ channel: 'sms', content: { body: 'x' }, template: null }), { headers: JSON_API }).times(2);
    const [a] = await run('update', [row(1, { Id: 'C1', Channel: 'email' })], ctx);
    const [b] = await run('update', [row(2, { Id: 'C1', Subject: 'Hi' })], ctx);
    expect(a).toMatchObject({ ok: false, code: 'invalid_value' });
    expect((a as { message: string }).message).toMatch(/is a sms campaign: Klaviyo does not change a campaign's channel/);
    expect(b).toMatchObject({ ok: false, code: 'invalid_value' });
    expect((b as { message: string }).message).toMatch(/Subject does not apply to sms campaigns/);
    expect(calls().every((c) => c.method === 'GET')).toBe(true);
  });

  it('an unknown campaign fails the row with not_found', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns/NOPE'), method: 'GET' }).reply(404, { errors: [{ code: 'not_found', detail: 'Campaign NOPE not found.' }] }, { headers: JSON_API });
    const [out] = await run('update', [row(1, { Id: 'NOPE', Name: 'x' })], ctx);
    expect(out).toEqual({ ok: false, rowNumber: 1, code: 'not_found', message: 'Campaign NOPE not found.' });
  });

  it('--dry-run gives the ChangedColumns in the row order and writes nothing', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns/C1'), method: 'GET' }).reply(200, current(), { headers: JSON_API }).times(2);
    const h = handler('update');
    const [changed] = await h.preview!([row(1, { Id: 'C1', TemplateId: 'OTHER', Name: 'Spring', Subject: 'New', IncludedListIds: '["L1"]' })], ctx);
    const [same] = await h.preview!([row(2, { Id: 'C1', Name: 'Spring', FromLabel: 'A' })], ctx);
    expect(changed).toEqual({ ok: true, rowNumber: 1, status: 'updated', id: 'C1', extras: { TemplateId: 'COPY0', ChangedColumns: 'TemplateId;Subject;IncludedListIds' } });
    expect(same).toEqual({ ok: true, rowNumber: 2, status: 'unchanged', id: 'C1', extras: { TemplateId: 'COPY0', ChangedColumns: '' } });
    expect(calls().every((c) => c.method === 'GET')).toBe(true);
  });
});

describe('update --dry-run of a sent campaign', () => {
  it('says the row would fail, and an unchanged row is still unchanged', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns/C1'), method: 'GET' }).reply(200, current({ status: 'Sent' }), { headers: JSON_API }).times(2);
    const h = handler('update');
    const [changed] = await h.preview!([row(1, { Id: 'C1', Subject: 'Rewrite' })], ctx);
    const [same] = await h.preview!([row(2, { Id: 'C1', Subject: 'Old' })], ctx);
    expect(changed).toMatchObject({ ok: false, rowNumber: 1, code: 'campaign_sent' });
    expect((changed as { message: string }).message).toMatch(/has been sent \(status Sent\).*would change Subject/);
    expect(same).toMatchObject({ ok: true, status: 'unchanged' });
  });
});

describe('delete', () => {
  it('DELETEs by Id', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/campaigns/C1'), method: 'DELETE' }).reply(204, '');
    const [out] = await run('delete', [row(1, { Id: 'C1', Name: 'whatever' })], ctx);
    expect(out).toEqual({ ok: true, rowNumber: 1, status: 'deleted', id: 'C1' });
  });
});
