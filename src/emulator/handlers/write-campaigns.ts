/**
 * The campaign write endpoints, as the spec (revision 2026-07-15) and Klaviyo's docs describe:
 *
 *   POST   /api/campaigns                        201  the campaign (status Draft) and its messages,
 *                                                     which come back as relationships
 *   PATCH  /api/campaigns/{id}                   200  refused once the campaign is sent (or while
 *                                                     it is scheduled: Klaviyo wants it reverted
 *                                                     to a draft first)
 *   DELETE /api/campaigns/{id}                   204  its messages and their template copies go too
 *   PATCH  /api/campaign-messages/{id}           200  the message definition, merged
 *   POST   /api/campaign-message-assign-template 200  Klaviyo "creates a non-reusable version of
 *                                                     the template and assigns it to the message":
 *                                                     each assignment makes a NEW template, even
 *                                                     from the same source, and the message's
 *                                                     template relationship points to that copy
 *   POST   /api/campaign-clone                   201  a draft copy with copies of its messages
 *
 * Request bodies are first checked against the spec's request schemas (write-schema.ts); the
 * rules here are the ones the schemas state only in prose or that depend on the account.
 * Rate limits (10/s, 150/m) and request counting are the server pipeline's; ids come from the
 * store's seeded generator and times from its clock, so runs are reproducible.
 */
import { notFound } from '../http/api-error.js';
import { klaviyoTime } from '../demo-data/time.js';
import type { AccountStore, ResourceIdentifier, StoredResource } from '../store/types.js';
import { relationshipOf } from './relations.js';
import { renderResource } from './render.js';
import type { Handler, HandlerContext, HandlerResult } from './types.js';
import { nowIso, resourceDocument, writeHandler } from './write-common.js';
import { checkSameId, dataOf, refuse } from './write-content-common.js';
import { invalid, validateRequestBody } from './write-schema.js';
import { copyTemplate, messageTemplateIds, templateOr404 } from './write-templates.js';

/** The spec's ThrottledSendStrategy enum (the generated request schemas keep string enums only). */
const THROTTLE_PERCENTAGES = [1, 2, 5, 10, 11, 13, 14, 17, 20, 25, 33, 50];

// --- campaign state ---

/** Statuses of a campaign that has gone out (or is going out): Klaviyo no longer lets it change. */
const SENT_STATUSES = new Set(['Sent', 'Variations Sent', 'Sending', 'Sending Segments', 'Adding Recipients', 'Preparing to send']);
/** Still going out: not even deletable. */
const IN_FLIGHT_STATUSES = new Set(['Sending', 'Sending Segments', 'Adding Recipients', 'Preparing to send']);
/** Scheduled campaigns must be reverted to a draft (campaign-send-jobs, action revert) before they change. */
const SCHEDULED_STATUSES = new Set(['Scheduled', 'Preparing to schedule', 'Queued without Recipients']);

function campaignOr404(store: AccountStore, id: string): StoredResource {
  const campaign = store.collection('campaign').get(id);
  if (!campaign) throw notFound(`A campaign with id '${id}' does not exist.`);
  return campaign;
}

function messageOr404(store: AccountStore, id: string): StoredResource {
  const message = store.collection('campaign-message').get(id);
  if (!message) throw notFound(`A campaign message with id '${id}' does not exist.`);
  return message;
}

/** Refuses a change to a campaign that was sent or is scheduled, as Klaviyo does. */
function checkEditable(campaign: StoredResource, change: string): void {
  const status = String(campaign.attributes.status);
  if (SENT_STATUSES.has(status)) {
    throw invalid(`Campaign '${campaign.id}' has been sent (status ${status}): a sent campaign is read-only, so ${change} is not possible. Clone it (POST /api/campaign-clone) to make a new draft.`, '/data');
  }
  if (SCHEDULED_STATUSES.has(status)) {
    throw invalid(`Campaign '${campaign.id}' is scheduled (status ${status}): revert it to a draft (PATCH /api/campaign-send-jobs/{id} with action 'revert') before ${change}.`, '/data');
  }
}

function campaignOfMessage(store: AccountStore, message: StoredResource): StoredResource | undefined {
  const ref = message.relationships.campaign;
  return ref && !Array.isArray(ref) ? store.collection('campaign').get(ref.id) : undefined;
}

function messageIdsOf(store: AccountStore, campaign: StoredResource): string[] {
  const data = relationshipOf(store, campaign, 'campaign-messages');
  return (Array.isArray(data) ? data : data ? [data] : []).map((r) => r.id);
}

function channelOf(message: StoredResource): string | undefined {
  const definition = message.attributes.definition as { channel?: string } | null | undefined;
  return definition?.channel ?? (message.attributes.channel as string | undefined);
}

/** Every list or segment id of an audience must exist in the account. */
function checkAudience(store: AccountStore, ids: unknown, pointer: string): void {
  if (!Array.isArray(ids)) return;
  const lists = store.collection('list');
  const segments = store.collection('segment');
  ids.forEach((id: string, i) => {
    if (!lists.get(id) && !segments.get(id)) {
      throw refuse(`${pointer}/${i}`, `Audience '${id}' is neither a list nor a segment of this account.`);
    }
  });
}

/**
 * The send strategy as Klaviyo stores it: datetimes in Klaviyo's own form whatever ISO 8601 form
 * the client sent, and the throttle percentages the spec allows.
 */
function normalizeStrategy(strategy: Record<string, unknown>): Record<string, unknown> {
  if (strategy.method === 'throttled' && !THROTTLE_PERCENTAGES.includes(strategy.throttle_percentage as number)) {
    throw refuse('/data/attributes/send_strategy/throttle_percentage', `'throttle_percentage' must be one of ${THROTTLE_PERCENTAGES.join(', ')}; got ${JSON.stringify(strategy.throttle_percentage)}.`);
  }
  const out = { ...strategy };
  if (typeof out.datetime === 'string') out.datetime = klaviyoTime(Date.parse(out.datetime));
  if (out.method === 'static' && out.options === undefined) out.options = null;
  return out;
}

function trackingDefaults(channel: string): Record<string, unknown> | null {
  if (channel === 'email') return { add_tracking_params: false, custom_tracking_params: null, is_tracking_clicks: true, is_tracking_opens: true };
  if (channel === 'sms') return { add_tracking_params: false, custom_tracking_params: null };
  return null;
}

function trackingFor(channel: string, given: Record<string, unknown> | null | undefined, current?: Record<string, unknown> | null): Record<string, unknown> | null {
  const base = current ?? trackingDefaults(channel);
  if (base === null) return null;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(given ?? {})) {
    // SMS tracking has no open or click tracking (CampaignsSMSTrackingOptions).
    if (channel === 'sms' && (key === 'is_tracking_clicks' || key === 'is_tracking_opens')) continue;
    merged[key] = value;
  }
  return merged;
}

/** A message definition with every field Klaviyo returns, defaults from the account where Klaviyo takes them. */
function fullDefinition(store: AccountStore, given: Record<string, unknown>, campaignName: string): Record<string, unknown> {
  const channel = given.channel as string;
  if (channel === 'email') {
    const sender = (store.account.attributes.contact_information ?? {}) as { default_sender_email?: string; default_sender_name?: string };
    return {
      channel,
      label: (given.label as string | null | undefined) ?? campaignName,
      content: {
        subject: null,
        preview_text: null,
        from_email: sender.default_sender_email ?? null,
        from_label: sender.default_sender_name ?? null,
        reply_to_email: null,
        cc_email: null,
        bcc_email: null,
        ...withoutUndefined(given.content),
      },
    };
  }
  if (channel === 'sms') {
    return {
      channel,
      content: { body: null, media_url: null, ...withoutUndefined(given.content) },
      render_options: { shorten_links: true, add_org_prefix: true, add_info_link: true, add_opt_out_language: false, ...withoutUndefined(given.render_options) },
    };
  }
  if (given.notification_type === 'silent') {
    return { channel, notification_type: 'silent', kv_pairs: (given.kv_pairs as Record<string, unknown> | null | undefined) ?? null };
  }
  return {
    channel,
    notification_type: 'standard',
    content: { title: null, dynamic_image: null, action_buttons: null, ...withoutUndefined(given.content) },
    kv_pairs: (given.kv_pairs as Record<string, unknown> | null | undefined) ?? null,
    options: (given.options as Record<string, unknown> | null | undefined) ?? null,
  };
}

function withoutUndefined(value: unknown): Record<string, unknown> {
  if (!value || typeof value !== 'object') return {};
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined));
}

function imageOf(relationships: Record<string, unknown> | undefined): ResourceIdentifier | null {
  const data = (relationships?.image as { data?: ResourceIdentifier } | undefined)?.data;
  return data ? { type: 'image', id: data.id } : null;
}

/** Deletes template copies no campaign message points to any more. */
function dropOrphanCopies(store: AccountStore, templateIds: Iterable<string>): void {
  const stillUsed = messageTemplateIds(store);
  for (const id of templateIds) if (!stillUsed.has(id)) store.collection('template').delete(id);
}

function templateIdOf(message: StoredResource): string | undefined {
  const ref = message.relationships.template;
  return ref && !Array.isArray(ref) ? ref.id : undefined;
}

function touch(store: AccountStore, campaign: StoredResource | undefined, at: string): void {
  if (campaign) store.collection('campaign').update(campaign.id, { attributes: { updated_at: at } });
}

// --- handlers ---

const createCampaign: Handler = (ctx) => {
  validateRequestBody('create_campaign', ctx.body);
  const { attributes: a } = dataOf(ctx.body);
  const name = a.name as string;
  const audiences = a.audiences as { included: string[]; excluded?: string[] | null };
  checkAudience(ctx.store, audiences.included, '/data/attributes/audiences/included');
  checkAudience(ctx.store, audiences.excluded, '/data/attributes/audiences/excluded');
  const messages = (a['campaign-messages'] as { data: Array<{ attributes: { definition: Record<string, unknown> }; relationships?: Record<string, unknown> }> }).data;
  if (messages.length === 0) {
    throw refuse('/data/attributes/campaign-messages/data', 'A campaign needs at least one message: send one campaign-message with its definition (channel, content).');
  }
  const channel = messages[0]!.attributes.definition.channel as string;
  messages.forEach((m, i) => {
    if (m.attributes.definition.channel !== channel) {
      throw refuse(`/data/attributes/campaign-messages/data/${i}/attributes/definition/channel`, `All messages of a campaign use the same channel: message 0 is ${channel}, message ${i} is ${String(m.attributes.definition.channel)}.`);
    }
  });

  const at = nowIso(ctx.store);
  const campaignId = ctx.store.newId('campaign');
  const messageIds = messages.map(() => ctx.store.newId('campaign-message'));
  const campaign = ctx.store.collection('campaign').insert({
    type: 'campaign',
    id: campaignId,
    attributes: {
      name,
      status: 'Draft',
      archived: false,
      audiences: { included: [...audiences.included], excluded: audiences.excluded ? [...audiences.excluded] : [] },
      send_options: { use_smart_sending: true, ...withoutUndefined(a.send_options) },
      tracking_options: trackingFor(channel, a.tracking_options as Record<string, unknown> | null | undefined),
      // "Defaults to 'Immediate' send strategy."
      send_strategy: a.send_strategy ? normalizeStrategy(a.send_strategy as Record<string, unknown>) : { method: 'immediate' },
      created_at: at,
      scheduled_at: null,
      updated_at: at,
      send_time: null,
    },
    relationships: { 'campaign-messages': messageIds.map((id) => ({ type: 'campaign-message', id })), tags: [] },
  });
  messages.forEach((m, i) => {
    ctx.store.collection('campaign-message').insert({
      type: 'campaign-message',
      id: messageIds[i]!,
      attributes: { definition: fullDefinition(ctx.store, m.attributes.definition, name), send_times: [], created_at: at, updated_at: at },
      relationships: { campaign: { type: 'campaign', id: campaignId }, template: null, image: imageOf(m.relationships) },
    });
  });
  return resourceDocument(ctx, campaign, 201);
};

const updateCampaign: Handler = (ctx) => {
  validateRequestBody('update_campaign', ctx.body);
  const data = dataOf(ctx.body);
  checkSameId(data.id, ctx.params.id);
  const campaign = campaignOr404(ctx.store, ctx.params.id);
  checkEditable(campaign, 'updating it');
  const a = data.attributes;
  const patch: Record<string, unknown> = { updated_at: nowIso(ctx.store) };
  if (typeof a.name === 'string') patch.name = a.name;
  if (a.audiences) {
    const given = a.audiences as { included?: string[] | null; excluded?: string[] | null };
    checkAudience(ctx.store, given.included, '/data/attributes/audiences/included');
    checkAudience(ctx.store, given.excluded, '/data/attributes/audiences/excluded');
    const current = campaign.attributes.audiences as { included: string[]; excluded: string[] | null };
    patch.audiences = {
      included: given.included ? [...given.included] : current.included,
      excluded: given.excluded !== undefined ? (given.excluded ? [...given.excluded] : []) : current.excluded,
    };
  }
  if (a.send_options) patch.send_options = { ...(campaign.attributes.send_options as object), ...withoutUndefined(a.send_options) };
  if (a.send_strategy) patch.send_strategy = normalizeStrategy(a.send_strategy as Record<string, unknown>);
  if (a.tracking_options) {
    const firstMessage = ctx.store.collection('campaign-message').get(messageIdsOf(ctx.store, campaign)[0] ?? '');
    const channel = (firstMessage && channelOf(firstMessage)) ?? 'email';
    patch.tracking_options = trackingFor(channel, a.tracking_options as Record<string, unknown>, campaign.attributes.tracking_options as Record<string, unknown> | null);
  }
  const updated = ctx.store.collection('campaign').update(campaign.id, { attributes: patch })!;
  return resourceDocument(ctx, updated, 200);
};

const deleteCampaign: Handler = (ctx) => {
  const campaign = campaignOr404(ctx.store, ctx.params.id);
  const status = String(campaign.attributes.status);
  if (IN_FLIGHT_STATUSES.has(status)) {
    throw invalid(`Campaign '${campaign.id}' is being sent (status ${status}) and cannot be deleted now; try again once it has been sent.`);
  }
  const messages = ctx.store.collection('campaign-message');
  const copies: string[] = [];
  for (const id of messageIdsOf(ctx.store, campaign)) {
    const message = messages.get(id);
    if (!message) continue;
    const templateId = templateIdOf(message);
    if (templateId) copies.push(templateId);
    messages.delete(id);
  }
  ctx.store.collection('campaign').delete(campaign.id);
  dropOrphanCopies(ctx.store, copies);
  // Tags list their campaigns: a deleted campaign leaves them.
  const tags = ctx.store.collection('tag');
  for (const tag of [...tags.values()]) {
    const refs = tag.relationships.campaigns;
    if (Array.isArray(refs) && refs.some((r) => r.id === campaign.id)) {
      tags.update(tag.id, { relationships: { campaigns: refs.filter((r) => r.id !== campaign.id) } });
    }
  }
  return { status: 204 };
};

const updateCampaignMessage: Handler = (ctx) => {
  validateRequestBody('update_campaign_message', ctx.body);
  const data = dataOf(ctx.body);
  checkSameId(data.id, ctx.params.id);
  const message = messageOr404(ctx.store, ctx.params.id);
  const campaign = campaignOfMessage(ctx.store, message);
  if (campaign) checkEditable(campaign, 'changing its messages');
  const at = nowIso(ctx.store);
  const patch: Record<string, unknown> = { updated_at: at };
  const given = data.attributes.definition as Record<string, unknown> | null | undefined;
  if (given) {
    const current = (message.attributes.definition ?? {}) as Record<string, unknown>;
    const channel = channelOf(message);
    if (given.channel !== channel) {
      throw refuse('/data/attributes/definition/channel', `A message's channel cannot change: message '${message.id}' is ${String(channel)}, the definition says ${String(given.channel)}.`);
    }
    const next: Record<string, unknown> = { ...current };
    for (const [key, value] of Object.entries(given)) {
      if (value === undefined) continue;
      // content and render_options are merged field by field: a PATCH sends what changes.
      if ((key === 'content' || key === 'render_options') && value && typeof value === 'object') {
        next[key] = { ...((current[key] as Record<string, unknown> | null) ?? {}), ...withoutUndefined(value) };
      } else if (key === 'label' && value === null) {
        continue; // every email message has a label
      } else {
        next[key] = value;
      }
    }
    patch.definition = next;
  }
  const image = imageOf(data.relationships);
  const updated = ctx.store.collection('campaign-message').update(message.id, {
    attributes: patch,
    ...(image ? { relationships: { image } } : {}),
  })!;
  touch(ctx.store, campaign, at);
  return resourceDocument(ctx, updated, 200);
};

const assignTemplate: Handler = (ctx) => {
  validateRequestBody('assign_template_to_campaign_message', ctx.body);
  const data = (ctx.body as { data: { id: string; relationships: { template: { data: { id: string } } } } }).data;
  const message = messageOr404(ctx.store, data.id);
  const source = templateOr404(ctx.store, data.relationships.template.data.id);
  const channel = channelOf(message);
  if (channel !== 'email') {
    throw refuse('/data/id', `Templates can be assigned to email messages only: message '${message.id}' is a ${String(channel)} message.`);
  }
  const campaign = campaignOfMessage(ctx.store, message);
  if (campaign) checkEditable(campaign, 'assigning a template to its message');

  // The non-reusable copy bound to this message; the copy it had before is no one's any more.
  const definition = (message.attributes.definition ?? {}) as { label?: string | null };
  const label = definition.label ?? (campaign?.attributes.name as string | undefined) ?? message.id;
  const copy = copyTemplate(ctx.store, source, `${label} (${String(source.attributes.name)})`);
  const previous = templateIdOf(message);
  const at = nowIso(ctx.store);
  const updated = ctx.store.collection('campaign-message').update(message.id, {
    attributes: { updated_at: at },
    relationships: { template: { type: 'template', id: copy.id } },
  })!;
  if (previous) dropOrphanCopies(ctx.store, [previous]);
  touch(ctx.store, campaign, at);
  return assignedDocument(ctx, updated, campaign);
};

/**
 * The assign response (PostCampaignMessageResponse) describes the message in the flat form
 * (label, channel, content, render_options) rather than as a definition.
 */
function assignedDocument(ctx: HandlerContext, message: StoredResource, campaign: StoredResource | undefined): HandlerResult {
  const definition = (message.attributes.definition ?? {}) as Record<string, unknown>;
  const channel = channelOf(message) ?? 'email';
  const flat: StoredResource = {
    type: message.type,
    id: message.id,
    attributes: {
      label: (definition.label as string | null | undefined) ?? (campaign?.attributes.name as string | undefined) ?? '',
      channel,
      content: (definition.content as Record<string, unknown> | null | undefined) ?? {},
      send_times: message.attributes.send_times ?? [],
      ...(channel === 'sms' ? { render_options: definition.render_options ?? null } : {}),
      created_at: message.attributes.created_at ?? null,
      updated_at: message.attributes.updated_at ?? null,
    },
    relationships: message.relationships,
  };
  const data = renderResource(flat, { baseUrl: ctx.baseUrl, fields: ctx.query.fields[message.type] });
  return { status: 200, body: { data, links: { self: data.links.self } } };
}

const cloneCampaign: Handler = (ctx) => {
  validateRequestBody('create_campaign_clone', ctx.body);
  const data = dataOf(ctx.body);
  const source = campaignOr404(ctx.store, data.id!);
  const name = typeof data.attributes.new_name === 'string' ? data.attributes.new_name : `${String(source.attributes.name)} (Clone)`;
  const at = nowIso(ctx.store);
  const campaignId = ctx.store.newId('campaign');
  const sourceMessages = messageIdsOf(ctx.store, source)
    .map((id) => ctx.store.collection('campaign-message').get(id))
    .filter((m): m is StoredResource => m !== undefined);
  const messageIds = sourceMessages.map(() => ctx.store.newId('campaign-message'));
  const campaign = ctx.store.collection('campaign').insert({
    type: 'campaign',
    id: campaignId,
    attributes: {
      ...structuredClone(source.attributes),
      name,
      status: 'Draft',
      archived: false,
      created_at: at,
      scheduled_at: null,
      updated_at: at,
      send_time: null,
    },
    relationships: { 'campaign-messages': messageIds.map((id) => ({ type: 'campaign-message', id })), tags: [] },
  });
  sourceMessages.forEach((m, i) => {
    const templateId = templateIdOf(m);
    const template = templateId ? ctx.store.collection('template').get(templateId) : undefined;
    // The clone's message gets its own copy: copies are never shared between messages.
    const copy = template ? copyTemplate(ctx.store, template, String(template.attributes.name)) : undefined;
    ctx.store.collection('campaign-message').insert({
      type: 'campaign-message',
      id: messageIds[i]!,
      attributes: { ...structuredClone(m.attributes), send_times: [], created_at: at, updated_at: at },
      relationships: {
        campaign: { type: 'campaign', id: campaignId },
        template: copy ? { type: 'template', id: copy.id } : null,
        image: m.relationships.image ?? null,
      },
    });
  });
  return resourceDocument(ctx, campaign, 201);
};

export const campaignWriteHandlers: Record<string, Handler> = {
  create_campaign: writeHandler(createCampaign),
  update_campaign: writeHandler(updateCampaign),
  delete_campaign: writeHandler(deleteCampaign),
  update_campaign_message: writeHandler(updateCampaignMessage),
  assign_template_to_campaign_message: writeHandler(assignTemplate),
  create_campaign_clone: writeHandler(cloneCampaign),
};
