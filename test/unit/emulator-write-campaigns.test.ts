/**
 * The emulator's campaign writes over real loopback HTTP, against the demo account: create
 * (campaign in Draft plus its messages, defaults filled as Klaviyo fills them), template
 * assignment (a NEW non-reusable copy per assignment, even from the same source template),
 * updates (refused once a campaign is sent or while it is scheduled), message updates, delete
 * (messages and their template copies go too), clone, and the spec's rate limit (10/s). Every
 * exchange is recorded and checked against Klaviyo's OpenAPI spec; requests malformed on purpose
 * are left out of that check and their error responses validated on their own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import type { ResourceIdentifier, StoredResource } from '../../src/emulator/store/types.js';
import { apiHeaders, callApi, type ApiAnswer } from '../helpers/emulator-api.js';
import { withRecording } from '../helpers/recording.js';
import { loadSpec } from '../helpers/spec.js';
import { validateResponse } from '../helpers/spec-validator.js';

const NOW = new Date('2026-07-20T12:00:00Z');
const AT = '2026-07-20T12:00:00+00:00';
const HEADERS = apiHeaders('pk_unit_write_campaigns_0123');

const call = (base: string, method: string, path: string, body?: unknown) => callApi(base, method, path, body, HEADERS);

/** A create body as the spec's CampaignCreateQuery has it. */
function campaignBody(o: { name: string; included: string[]; excluded?: string[]; definition?: Record<string, unknown>; extra?: Record<string, unknown> }) {
  return {
    data: {
      type: 'campaign',
      attributes: {
        name: o.name,
        audiences: { included: o.included, excluded: o.excluded ?? [] },
        ...o.extra,
        'campaign-messages': {
          data: [
            {
              type: 'campaign-message',
              attributes: {
                definition: o.definition ?? {
                  channel: 'email',
                  label: `${o.name} – email`,
                  content: { subject: `${o.name}!`, preview_text: 'Fresh gear', from_email: 'shop@example.com', from_label: 'Juniper & Pine' },
                },
              },
            },
          ],
        },
      },
    },
  };
}

const assignBody = (messageId: string, templateId: string) => ({
  data: { type: 'campaign-message', id: messageId, relationships: { template: { data: { type: 'template', id: templateId } } } },
});

const malformed = new Set<string>();

describe('campaign writes', () => {
  const recording = withRecording();
  let emu: RunningEmulator;
  let listIds: string[];
  const api = (method: string, path: string, body?: unknown) => call(emu.url, method, path, body);
  const refused = async (method: string, path: string, body: unknown, op: string, status: number, detail: RegExp, o: { pointer?: string; malformed?: boolean } = {}) => {
    if (o.malformed) malformed.add(JSON.stringify(body));
    const r = await api(method, path, body);
    expect(r.status, JSON.stringify(r.body)).toBe(status);
    expect(r.body.errors[0].detail).toMatch(detail);
    if (o.pointer) expect(r.body.errors[0].source?.pointer).toBe(o.pointer);
    if (loadSpec()) expect(validateResponse(op, status, r.body)).toEqual([]);
    return r;
  };
  const stored = (type: string) => emu.store.collection(type);
  const campaignsWith = (status: string, channel = 'email'): StoredResource[] =>
    [...stored('campaign').values()].filter((c) => {
      if (c.attributes.status !== status) return false;
      const first = (c.relationships['campaign-messages'] as ResourceIdentifier[])[0];
      return (stored('campaign-message').get(first!.id)!.attributes.definition as { channel: string }).channel === channel;
    });
  const libraryTemplate = (editorType = 'CODE') => [...stored('template').values()].find((t) => t.attributes.editor_type === editorType)!;
  const create = async (name: string, extra: Partial<Parameters<typeof campaignBody>[0]> = {}) => {
    const r = await api('POST', '/api/campaigns', campaignBody({ name, included: [listIds[0]!], ...extra }));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return { id: r.body.data.id as string, messageId: r.body.data.relationships['campaign-messages'].data[0].id as string, body: r.body };
  };
  const templateOf = async (messageId: string) => {
    const r = await api('GET', `/api/campaign-messages/${messageId}/relationships/template`);
    expect(r.status).toBe(200);
    return r.body.data?.id as string | undefined;
  };

  beforeAll(async () => {
    emu = await startEmulator({ data: 'demo', profiles: 50, rateLimits: 'off', clock: () => NOW });
    listIds = [...stored('list').values()].map((l) => l.id);
  });
  afterAll(async () => {
    await emu.close();
    recording.expectConformant({ minExchanges: 20, ignore: (ex) => malformed.has(JSON.stringify(ex.requestBody)) });
  });

  it('creates a Draft campaign and its message, returned in relationships', async () => {
    const body = campaignBody({
      name: 'Import: Fall Drop',
      included: [listIds[0]!, listIds[1]!],
      excluded: [listIds[3]!],
      extra: {
        send_strategy: { method: 'static', datetime: '2026-08-01T15:00:00Z', options: { is_local: false } },
        send_options: { use_smart_sending: false },
        tracking_options: { is_tracking_opens: true, is_tracking_clicks: false, add_tracking_params: true, custom_tracking_params: [{ type: 'dynamic', value: 'campaign_name', name: 'utm_campaign' }] },
      },
    });
    const r = await api('POST', '/api/campaigns', body);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const { id, attributes, relationships } = r.body.data;
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
    expect(attributes).toEqual({
      name: 'Import: Fall Drop',
      status: 'Draft',
      archived: false,
      audiences: { included: [listIds[0], listIds[1]], excluded: [listIds[3]] },
      send_options: { use_smart_sending: false },
      tracking_options: { add_tracking_params: true, custom_tracking_params: [{ type: 'dynamic', value: 'campaign_name', name: 'utm_campaign' }], is_tracking_clicks: false, is_tracking_opens: true },
      send_strategy: { method: 'static', datetime: '2026-08-01T15:00:00+00:00', options: { is_local: false } },
      created_at: AT,
      scheduled_at: null,
      updated_at: AT,
      send_time: null,
    });
    expect(relationships['campaign-messages'].data).toHaveLength(1);
    const messageId = relationships['campaign-messages'].data[0].id;

    const message = await api('GET', `/api/campaign-messages/${messageId}?include=campaign`);
    expect(message.status).toBe(200);
    expect(message.body.data.attributes).toEqual({
      definition: {
        channel: 'email',
        label: 'Import: Fall Drop – email',
        content: { subject: 'Import: Fall Drop!', preview_text: 'Fresh gear', from_email: 'shop@example.com', from_label: 'Juniper & Pine', reply_to_email: null, cc_email: null, bcc_email: null },
      },
      send_times: [],
      created_at: AT,
      updated_at: AT,
    });
    expect(message.body.data.relationships.campaign.data).toEqual({ type: 'campaign', id });
    expect(await templateOf(messageId)).toBeUndefined();
    // Listed with the other email campaigns, message included.
    const listed = await api('GET', `/api/campaigns?filter=${encodeURIComponent("equals(messages.channel,'email')")}&include=campaign-messages`);
    expect(listed.body.data.map((c: { id: string }) => c.id)).toContain(id);
  });

  it("fills Klaviyo's defaults: immediate send, smart sending, tracking, the account's sender", async () => {
    const r = await api('POST', '/api/campaigns', campaignBody({ name: 'Defaults', included: [listIds[0]!], definition: { channel: 'email', content: { subject: 'Hi' } } }));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.data.attributes).toMatchObject({
      send_strategy: { method: 'immediate' },
      send_options: { use_smart_sending: true },
      tracking_options: { add_tracking_params: false, custom_tracking_params: null, is_tracking_clicks: true, is_tracking_opens: true },
    });
    const messageId = r.body.data.relationships['campaign-messages'].data[0].id;
    const definition = stored('campaign-message').get(messageId)!.attributes.definition as { label: string; content: Record<string, unknown> };
    const sender = emu.store.account.attributes.contact_information as { default_sender_email: string; default_sender_name: string };
    expect(definition.label).toBe('Defaults');
    expect(definition.content).toMatchObject({ subject: 'Hi', preview_text: null, from_email: sender.default_sender_email, from_label: sender.default_sender_name });
  });

  it('creates SMS campaigns with SMS tracking and render options', async () => {
    const r = await api('POST', '/api/campaigns', campaignBody({
      name: 'SMS import',
      included: [listIds[2]!],
      definition: { channel: 'sms', content: { body: 'Flash sale: 20% off today' } },
      extra: { tracking_options: { add_tracking_params: true, is_tracking_opens: true } },
    }));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.data.attributes.tracking_options).toEqual({ add_tracking_params: true, custom_tracking_params: null });
    const messageId = r.body.data.relationships['campaign-messages'].data[0].id;
    const message = await api('GET', `/api/campaign-messages/${messageId}`);
    expect(message.body.data.attributes.definition).toEqual({
      channel: 'sms',
      content: { body: 'Flash sale: 20% off today', media_url: null },
      render_options: { shorten_links: true, add_org_prefix: true, add_info_link: true, add_opt_out_language: false },
    });
  });

  it('creates push campaigns: standard by default, no tracking options', async () => {
    const r = await api('POST', '/api/campaigns', campaignBody({ name: 'Push import', included: [listIds[0]!], definition: { channel: 'mobile_push', content: { title: 'New drop', body: 'Tap to shop' } } }));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.data.attributes.tracking_options).toBeNull();
    const messageId = r.body.data.relationships['campaign-messages'].data[0].id;
    const message = await api('GET', `/api/campaign-messages/${messageId}`);
    expect(message.body.data.attributes.definition).toEqual({
      channel: 'mobile_push',
      notification_type: 'standard',
      content: { title: 'New drop', body: 'Tap to shop', dynamic_image: null, action_buttons: null },
      kv_pairs: null,
      options: null,
    });
  });

  it('refuses creates the spec or the account rule out, naming the field', async () => {
    const bad = campaignBody({ name: 'x', included: [listIds[0]!] }) as any;
    delete bad.data.attributes.audiences;
    await refused('POST', '/api/campaigns', bad, 'create_campaign', 400, /'audiences' is a required field/, { pointer: '/data/attributes/audiences', malformed: true });
    await refused('POST', '/api/campaigns', campaignBody({ name: 'x', included: ['NoSuch'] }), 'create_campaign', 400, /'NoSuch' is neither a list nor a segment/, { pointer: '/data/attributes/audiences/included/0' });
    const none = campaignBody({ name: 'x', included: [listIds[0]!] });
    none.data.attributes['campaign-messages'].data = [];
    await refused('POST', '/api/campaigns', none, 'create_campaign', 400, /at least one message/);
    const mixed = campaignBody({ name: 'x', included: [listIds[0]!] }) as any;
    mixed.data.attributes['campaign-messages'].data.push({ type: 'campaign-message', attributes: { definition: { channel: 'sms', content: { body: 'x' } } } });
    await refused('POST', '/api/campaigns', mixed, 'create_campaign', 400, /same channel/, { pointer: '/data/attributes/campaign-messages/data/1/attributes/definition/channel' });
    await refused('POST', '/api/campaigns', campaignBody({ name: 'x', included: [listIds[0]!], extra: { send_strategy: { method: 'someday' } } }), 'create_campaign', 400, /send_strategy/, { pointer: '/data/attributes/send_strategy', malformed: true });
    await refused('POST', '/api/campaigns', campaignBody({ name: 'x', included: [listIds[0]!], extra: { send_strategy: { method: 'throttled', datetime: '2026-08-01T15:00:00Z', throttle_percentage: 3 } } }), 'create_campaign', 400, /'throttle_percentage' must be one of 1, 2, 5, 10, 11, 13, 14, 17, 20, 25, 33, 50; got 3/, { pointer: '/data/attributes/send_strategy/throttle_percentage', malformed: true });
    await refused('POST', '/api/campaigns', campaignBody({ name: 'x', included: [listIds[0]!], extra: { send_strategy: { method: 'static', datetime: 'next tuesday' } } }), 'create_campaign', 400, /send_strategy/, { pointer: '/data/attributes/send_strategy', malformed: true });
    await refused('POST', '/api/campaigns', campaignBody({ name: 'x', included: [listIds[0]!], extra: { status: 'Sent' } }), 'create_campaign', 400, /'status' is not a valid field for the resource 'campaign'/, { pointer: '/data/attributes/status', malformed: true });
    await refused('POST', '/api/campaigns', campaignBody({ name: 'x', included: [listIds[0]!], definition: { channel: 'fax' } }), 'create_campaign', 400, /definition/, { pointer: '/data/attributes/campaign-messages/data/0/attributes/definition', malformed: true });
  });

  it('assigns a template by copying it: each assignment yields a NEW template, even from the same source', async () => {
    const source = libraryTemplate();
    const sourceBefore = structuredClone(source.attributes);
    const a = await create('Assign A');
    const first = await api('POST', '/api/campaign-message-assign-template', assignBody(a.messageId, source.id));
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const copy1 = first.body.data.relationships.template.data.id;
    expect(copy1).not.toBe(source.id);
    expect(first.body.data).toMatchObject({ type: 'campaign-message', id: a.messageId, attributes: { label: 'Assign A – email', channel: 'email', content: { subject: 'Assign A!' } } });
    expect(first.body.data.relationships.campaign.data).toEqual({ type: 'campaign', id: a.id });
    expect(await templateOf(a.messageId)).toBe(copy1);
    const copy = await api('GET', `/api/campaign-messages/${a.messageId}/template`);
    expect(copy.body.data.attributes).toMatchObject({ html: source.attributes.html, editor_type: 'CODE', created: AT });

    // The same source again, on the same message: another copy, and the first one is gone.
    const second = await api('POST', '/api/campaign-message-assign-template', assignBody(a.messageId, source.id));
    const copy2 = second.body.data.relationships.template.data.id;
    expect(copy2).not.toBe(copy1);
    expect(copy2).not.toBe(source.id);
    expect(await templateOf(a.messageId)).toBe(copy2);
    expect((await api('GET', `/api/templates/${copy1}`)).status).toBe(404);

    // Three campaigns from one source template: three different templates.
    const b = await create('Assign B');
    const c = await create('Assign C');
    for (const m of [b.messageId, c.messageId]) expect((await api('POST', '/api/campaign-message-assign-template', assignBody(m, source.id))).status).toBe(200);
    const ids = [await templateOf(a.messageId), await templateOf(b.messageId), await templateOf(c.messageId)];
    expect(new Set(ids).size).toBe(3);
    expect(ids).not.toContain(source.id);
    expect(stored('template').get(source.id)!.attributes).toEqual(sourceBefore);
  });

  it('copies drag-and-drop templates with their definition', async () => {
    const source = libraryTemplate('SYSTEM_DRAGGABLE');
    const m = await create('DnD assign');
    const r = await api('POST', '/api/campaign-message-assign-template', assignBody(m.messageId, source.id));
    const copyId = r.body.data.relationships.template.data.id;
    const copy = await api('GET', `/api/templates/${copyId}?additional-fields[template]=definition`);
    expect(copy.body.data.attributes).toMatchObject({ editor_type: 'SYSTEM_DRAGGABLE', html: source.attributes.html });
    expect(copy.body.data.attributes.definition).toEqual({ ...(source.attributes.definition as object), template_id: copyId });
  });

  it('refuses assignments to SMS messages, of unknown templates, to unknown messages', async () => {
    const sms = campaignsWith('Draft', 'sms')[0]!;
    const smsMessage = (sms.relationships['campaign-messages'] as ResourceIdentifier[])[0]!.id;
    await refused('POST', '/api/campaign-message-assign-template', assignBody(smsMessage, libraryTemplate().id), 'assign_template_to_campaign_message', 400, /email messages only/);
    const m = await create('Unknown template');
    await refused('POST', '/api/campaign-message-assign-template', assignBody(m.messageId, 'NOPE00'), 'assign_template_to_campaign_message', 404, /template with id 'NOPE00' does not exist/);
    await refused('POST', '/api/campaign-message-assign-template', assignBody('01NOPE00000000000000000000', libraryTemplate().id), 'assign_template_to_campaign_message', 404, /campaign message with id/);
  });

  it('updates a draft campaign: name, audiences, send strategy, options', async () => {
    const c = await create('Before rename');
    const r = await api('PATCH', `/api/campaigns/${c.id}`, {
      data: {
        type: 'campaign',
        id: c.id,
        attributes: {
          name: 'After rename',
          audiences: { included: [listIds[1]!] },
          send_strategy: { method: 'smart_send_time', date: '2026-08-03' },
          send_options: { use_smart_sending: false },
          tracking_options: { is_tracking_opens: false },
        },
      },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data.attributes).toMatchObject({
      name: 'After rename',
      audiences: { included: [listIds[1]], excluded: [] },
      send_strategy: { method: 'smart_send_time', date: '2026-08-03' },
      send_options: { use_smart_sending: false },
      tracking_options: { is_tracking_opens: false, is_tracking_clicks: true },
      status: 'Draft',
    });
    expect(r.body.data.relationships['campaign-messages'].data).toEqual([{ type: 'campaign-message', id: c.messageId }]);
    await refused('PATCH', `/api/campaigns/${c.id}`, { data: { type: 'campaign', id: c.id, attributes: { audiences: { included: ['NoSuch'] } } } }, 'update_campaign', 400, /neither a list nor a segment/);
    await refused('PATCH', `/api/campaigns/${c.id}`, { data: { type: 'campaign', id: 'OTHER', attributes: { name: 'x' } } }, 'update_campaign', 400, /does not match the id in the URL/);
    await refused('PATCH', '/api/campaigns/01NOPE00000000000000000000', { data: { type: 'campaign', id: '01NOPE00000000000000000000', attributes: { name: 'x' } } }, 'update_campaign', 404, /does not exist/);
  });

  it('keeps a Sent campaign read-only: the campaign, its message and its template assignment', async () => {
    const sent = campaignsWith('Sent')[0]!;
    const before = structuredClone(sent.attributes);
    const messageId = (sent.relationships['campaign-messages'] as ResourceIdentifier[])[0]!.id;
    const messageBefore = structuredClone(stored('campaign-message').get(messageId)!);
    const r = await refused('PATCH', `/api/campaigns/${sent.id}`, { data: { type: 'campaign', id: sent.id, attributes: { name: 'Rewritten history' } } }, 'update_campaign', 400, /has been sent \(status Sent\): a sent campaign is read-only/);
    expect(r.body.errors[0].code).toBe('invalid');
    await refused('PATCH', `/api/campaign-messages/${messageId}`, { data: { type: 'campaign-message', id: messageId, attributes: { definition: { channel: 'email', content: { subject: 'x' } } } } }, 'update_campaign_message', 400, /read-only/);
    await refused('POST', '/api/campaign-message-assign-template', assignBody(messageId, libraryTemplate().id), 'assign_template_to_campaign_message', 400, /read-only/);
    expect(stored('campaign').get(sent.id)!.attributes).toEqual(before);
    expect(stored('campaign-message').get(messageId)).toEqual(messageBefore);
  });

  it('refuses changes to a scheduled campaign until it is reverted to a draft', async () => {
    const scheduled = campaignsWith('Scheduled')[0]!;
    await refused('PATCH', `/api/campaigns/${scheduled.id}`, { data: { type: 'campaign', id: scheduled.id, attributes: { name: 'x' } } }, 'update_campaign', 400, /is scheduled .* revert it to a draft/);
  });

  it('updates a message: content merged field by field, channel fixed; the campaign is touched', async () => {
    const c = await create('Message edit');
    const r = await api('PATCH', `/api/campaign-messages/${c.messageId}`, {
      data: { type: 'campaign-message', id: c.messageId, attributes: { definition: { channel: 'email', label: 'New label', content: { subject: 'New subject', reply_to_email: 'help@example.com' } } } },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data.attributes.definition).toEqual({
      channel: 'email',
      label: 'New label',
      content: { subject: 'New subject', preview_text: 'Fresh gear', from_email: 'shop@example.com', from_label: 'Juniper & Pine', reply_to_email: 'help@example.com', cc_email: null, bcc_email: null },
    });
    await refused('PATCH', `/api/campaign-messages/${c.messageId}`, { data: { type: 'campaign-message', id: c.messageId, attributes: { definition: { channel: 'sms', content: { body: 'x' } } } } }, 'update_campaign_message', 400, /channel cannot change/);
    await refused('PATCH', '/api/campaign-messages/01NOPE00000000000000000000', { data: { type: 'campaign-message', id: '01NOPE00000000000000000000', attributes: {} } }, 'update_campaign_message', 404, /does not exist/);
  });

  it('deletes a campaign with its messages and their template copies; the source template and tags stay consistent', async () => {
    const source = libraryTemplate();
    const c = await create('To delete');
    const assigned = await api('POST', '/api/campaign-message-assign-template', assignBody(c.messageId, source.id));
    const copyId = assigned.body.data.relationships.template.data.id;
    const deleted = await api('DELETE', `/api/campaigns/${c.id}`);
    expect(deleted.status).toBe(204);
    expect(deleted.body).toBeNull();
    expect((await api('GET', `/api/campaigns/${c.id}`)).status).toBe(404);
    expect((await api('GET', `/api/campaign-messages/${c.messageId}`)).status).toBe(404);
    expect((await api('GET', `/api/templates/${copyId}`)).status).toBe(404);
    expect((await api('GET', `/api/templates/${source.id}`)).status).toBe(200);
    expect((await api('DELETE', `/api/campaigns/${c.id}`)).status).toBe(404);

    // A demo campaign with tags and a sent message: the tags forget it too.
    const tagged = [...stored('campaign').values()].find((x) => (x.relationships.tags as ResourceIdentifier[] | undefined)?.length)!;
    const tagIds = (tagged.relationships.tags as ResourceIdentifier[]).map((t) => t.id);
    const messageIds = (tagged.relationships['campaign-messages'] as ResourceIdentifier[]).map((m) => m.id);
    const copies = messageIds.map((id) => (stored('campaign-message').get(id)!.relationships.template as ResourceIdentifier | null)?.id).filter(Boolean) as string[];
    expect((await api('DELETE', `/api/campaigns/${tagged.id}`)).status).toBe(204);
    for (const id of messageIds) expect(stored('campaign-message').get(id)).toBeUndefined();
    for (const id of copies) expect(stored('template').get(id)).toBeUndefined();
    for (const id of tagIds) {
      const campaigns = (await api('GET', `/api/tags/${id}/relationships/campaigns`)).body.data as ResourceIdentifier[];
      expect(campaigns.map((x) => x.id)).not.toContain(tagged.id);
    }
  });

  it('clones a campaign into a draft whose messages have their own template copies', async () => {
    const c = await create('Original');
    await api('POST', '/api/campaign-message-assign-template', assignBody(c.messageId, libraryTemplate().id));
    const r = await api('POST', '/api/campaign-clone', { data: { type: 'campaign', id: c.id, attributes: { new_name: 'Original, again' } } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.data.id).not.toBe(c.id);
    expect(r.body.data.attributes).toMatchObject({ name: 'Original, again', status: 'Draft', created_at: AT });
    const cloneMessage = r.body.data.relationships['campaign-messages'].data[0].id;
    expect(cloneMessage).not.toBe(c.messageId);
    const [mine, theirs] = [await templateOf(c.messageId), await templateOf(cloneMessage)];
    expect(theirs).toBeDefined();
    expect(theirs).not.toBe(mine);
    const sent = campaignsWith('Sent')[0]!;
    const fromSent = await api('POST', '/api/campaign-clone', { data: { type: 'campaign', id: sent.id, attributes: {} } });
    expect(fromSent.body.data.attributes).toMatchObject({ name: `${String(sent.attributes.name)} (Clone)`, status: 'Draft', send_time: null });
  });

  it('counts every write in /_emulator/requests', async () => {
    const counts = (await (await fetch(`${emu.url}/_emulator/requests`)).json()) as { byOperation: Record<string, number> };
    expect(counts.byOperation.create_campaign).toBeGreaterThanOrEqual(15);
    expect(counts.byOperation.assign_template_to_campaign_message).toBeGreaterThanOrEqual(8);
    expect(counts.byOperation.update_campaign).toBeGreaterThanOrEqual(4);
    expect(counts.byOperation.update_campaign_message).toBeGreaterThanOrEqual(3);
    expect(counts.byOperation.delete_campaign).toBe(3);
    expect(counts.byOperation.create_campaign_clone).toBe(2);
  });
});

describe('campaign writes under the spec rate limits', () => {
  it('answers the 11th create in one second with 429 and Retry-After (10/s)', async () => {
    const emu = await startEmulator({ data: 'demo', profiles: 10, rateLimits: 'spec', clock: () => NOW });
    try {
      const list = [...emu.store.collection('list').values()][0]!.id;
      const statuses: number[] = [];
      let last: ApiAnswer | undefined;
      for (let i = 0; i < 11; i++) {
        last = await call(emu.url, 'POST', '/api/campaigns', campaignBody({ name: `Burst ${i}`, included: [list] }));
        statuses.push(last.status);
      }
      expect(statuses).toEqual([...Array(10).fill(201), 429]);
      expect(last!.headers.get('retry-after')).toBe('1');
      expect(last!.body.errors[0].code).toBe('throttled');
      // Counted per endpoint: message updates have their own 10/s.
      const created = [...emu.store.collection('campaign-message').values()].at(-1)!;
      const patch = await call(emu.url, 'PATCH', `/api/campaign-messages/${created.id}`, { data: { type: 'campaign-message', id: created.id, attributes: {} } });
      expect(patch.status).toBe(200);
    } finally {
      await emu.close();
    }
  });
});

describe('campaign writes are deterministic', () => {
  it('gives the same ids and template copies for the same requests, seed and clock', async () => {
    const run = async () => {
      const emu = await startEmulator({ data: 'demo', profiles: 10, seed: 3, rateLimits: 'off', clock: () => NOW });
      try {
        const list = [...emu.store.collection('list').values()][0]!.id;
        const template = [...emu.store.collection('template').values()][0]!.id;
        const created = await call(emu.url, 'POST', '/api/campaigns', campaignBody({ name: 'Same', included: [list] }));
        const messageId = created.body.data.relationships['campaign-messages'].data[0].id;
        const assigned = await call(emu.url, 'POST', '/api/campaign-message-assign-template', assignBody(messageId, template));
        return [created.body.data.id, messageId, assigned.body.data.relationships.template.data.id];
      } finally {
        await emu.close();
      }
    };
    const first = await run();
    expect(await run()).toEqual(first);
  });
});
