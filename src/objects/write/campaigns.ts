/**
 * Campaigns: insert, update and delete, one campaign per row (Klaviyo has no bulk endpoint).
 *
 * Insert creates the campaign with its one message (POST /api/campaigns: name, audiences, send
 * strategy and options, and the message's channel and content), then assigns TemplateId to the
 * message (POST /api/campaign-message-assign-template). Klaviyo does not link the template: it
 * copies it into a non-reusable template owned by that message. The success log therefore gives
 * each row its new campaign Id and, in TemplateId, the id of ITS copy: three rows naming the
 * same template get three different TemplateIds. When the assignment fails after the campaign
 * was created, the row fails and its message names the campaign, which exists in Klaviyo
 * without a template: a silent half-import would be worse.
 *
 * Update reads the campaign and its messages first (one GET), then sends only what differs:
 * PATCH /api/campaigns/{id} for the name, audiences and send settings; PATCH
 * /api/campaign-messages/{id} for the first message's content (merged with its current content,
 * so columns not given stay as they are); a template assignment when TemplateId names another
 * template than the message's copy. Klaviyo refuses changes to a sent campaign: the row fails
 * with Klaviyo's reason. The same read gives --dry-run its per-row ChangedColumns, and lets it
 * say in advance that a row changing a sent campaign would fail.
 *
 * Columns: IncludedListIds and ExcludedListIds take a JSON array (`["Y6nRLr","UjQVbM"]`, as
 * klv export writes them) or ids separated by `;` or `,` (`Y6nRLr;UjQVbM`). Subject,
 * PreviewText, FromEmail and FromLabel are the email message's; Body is the SMS or push
 * message's text. SendStrategy, SendOptions and TrackingOptions are Klaviyo's JSON objects
 * (`{"method":"static","datetime":"2026-08-01T15:00:00Z"}`); without SendStrategy Klaviyo
 * sends immediately once the campaign is sent.
 */
import { joinIncluded, type JsonApiRelationship, type JsonApiResource } from '../../klaviyo/json-api.js';
import { sameValue } from './attribute-diff.js';
import { deleteByIdHandler, eachRow, fail, failureFrom, given, has, idOrFailure, text, withRowId } from './content-common.js';
import type { ImportRow, OperationHandler, RowFailure, RowOutcome, WriteContext, WriteHandlers } from './types.js';

const CHANNELS = ['email', 'sms', 'mobile_push'] as const;
type Channel = (typeof CHANNELS)[number];

/** Message content columns by channel, with Klaviyo's content field. */
const EMAIL_CONTENT: ReadonlyArray<readonly [string, string]> = [
  ['Subject', 'subject'],
  ['PreviewText', 'preview_text'],
  ['FromEmail', 'from_email'],
  ['FromLabel', 'from_label'],
];
const BODY_CONTENT: ReadonlyArray<readonly [string, string]> = [['Body', 'body']];
const CONTENT_BY_CHANNEL: Record<Channel, ReadonlyArray<readonly [string, string]>> = {
  email: EMAIL_CONTENT,
  sms: BODY_CONTENT,
  mobile_push: BODY_CONTENT,
};
/** The content fields PATCH /api/campaign-messages/{id} accepts, per channel (the rest of a read message is left out). */
const PATCHABLE_CONTENT: Record<Channel, readonly string[]> = {
  email: ['subject', 'preview_text', 'from_email', 'from_label', 'reply_to_email', 'cc_email', 'bcc_email'],
  sms: ['body'],
  mobile_push: ['title', 'body', 'dynamic_image', 'action_buttons'],
};

/** Campaign attributes a row can set, with their paths; audiences are handled together. */
const JSON_ATTRIBUTES: ReadonlyArray<readonly [string, string]> = [
  ['SendStrategy', 'send_strategy'],
  ['SendOptions', 'send_options'],
  ['TrackingOptions', 'tracking_options'],
];

/** Statuses of a campaign that went out (or is going out): Klaviyo refuses changes to it. */
const SENT_STATUSES = new Set(['Sent', 'Variations Sent', 'Sending', 'Sending Segments', 'Adding Recipients', 'Preparing to send']);

const MESSAGE_COLUMNS = [...EMAIL_CONTENT, ...BODY_CONTENT].map(([c]) => c);
const CAMPAIGN_COLUMNS = ['Name', 'Channel', 'IncludedListIds', 'ExcludedListIds', 'SendStrategy', 'SendOptions', 'TrackingOptions'];

// ---------------------------------------------------------------------------------------------
// Reading the row

/**
 * A list of audience ids from a cell: a JSON array, `a;b` or `a,b`, one id; null clears.
 * A string message when the value is not a list of ids.
 */
export function audienceIds(value: unknown, column: string): string[] | string {
  if (value === null) return [];
  let items: unknown = value;
  if (typeof value === 'string') {
    const s = value.trim();
    if (s === '') return [];
    if (s.startsWith('[')) {
      try {
        items = JSON.parse(s);
      } catch {
        return `${column} is not a JSON array of ids: ${s}`;
      }
    } else {
      items = s.split(/[;,]/);
    }
  }
  if (!Array.isArray(items)) return `${column} must be a JSON array of list or segment ids, or ids separated by ';'`;
  const ids: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string' && typeof item !== 'number') return `${column} must hold list or segment ids (strings); found ${JSON.stringify(item)}`;
    const id = String(item).trim();
    if (id !== '' && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

function channelOfRow(row: ImportRow): Channel | string | undefined {
  return text(row, 'Channel')?.toLowerCase();
}

function jsonObject(row: ImportRow, column: string): Record<string, unknown> | null | undefined | string {
  if (!has(row, column)) return undefined;
  let v = row.values[column];
  if (v === null) return null;
  if (typeof v === 'string') {
    const s = v.trim();
    if (s === '') return undefined;
    // A bare method name is enough for the simple strategies: `immediate`.
    if (column === 'SendStrategy' && /^[a-z_]+$/.test(s)) return { method: s };
    try {
      v = JSON.parse(s);
    } catch {
      return `${column} is not JSON: ${s.length > 60 ? `${s.slice(0, 60)}…` : s}`;
    }
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return `${column} must be a JSON object`;
  if (column === 'SendStrategy' && typeof (v as { method?: unknown }).method !== 'string') {
    return 'SendStrategy needs a method: static, throttled, immediate or smart_send_time';
  }
  // Klaviyo reads back nulls for the fields a strategy does not use; the create schemas do not take them.
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== null));
}

/** Checks that need no I/O, common to insert and update; `channel` is the campaign's when known. */
function rowProblem(row: ImportRow, channel: string | undefined): RowFailure | null {
  if (channel !== undefined && !(CHANNELS as readonly string[]).includes(channel)) {
    return fail(row, 'invalid_value', `Channel ${channel} is not one of ${CHANNELS.join(', ')}.`);
  }
  for (const column of ['IncludedListIds', 'ExcludedListIds']) {
    if (!has(row, column)) continue;
    const ids = audienceIds(row.values[column], column);
    if (typeof ids === 'string') return fail(row, 'invalid_value', ids);
  }
  for (const [column] of JSON_ATTRIBUTES) {
    const v = jsonObject(row, column);
    if (typeof v === 'string') return fail(row, 'invalid_value', v);
  }
  if (channel !== undefined) {
    const allowed = new Set(CONTENT_BY_CHANNEL[channel as Channel].map(([c]) => c));
    const misplaced = MESSAGE_COLUMNS.filter((c) => !allowed.has(c) && given(row, c));
    if (misplaced.length > 0) {
      return fail(row, 'invalid_value', `${misplaced.join(', ')} ${misplaced.length > 1 ? 'do' : 'does'} not apply to ${channel} campaigns; leave ${misplaced.length > 1 ? 'them' : 'it'} empty on this row.`);
    }
    if (channel !== 'email' && given(row, 'TemplateId')) {
      return fail(row, 'invalid_value', `TemplateId applies to email campaigns only (this one is ${channel}).`);
    }
  }
  return null;
}

function validateInsert(row: ImportRow): RowFailure | null {
  if (text(row, 'Name') === undefined) return fail(row, 'missing_value', 'Name is empty: Klaviyo needs a name to create a campaign.');
  const channel = channelOfRow(row) ?? 'email';
  const problem = rowProblem(row, channel);
  if (problem) return problem;
  if (channel === 'mobile_push' && text(row, 'Body') === undefined) {
    return fail(row, 'missing_value', 'Body is empty: Klaviyo needs the text of a push notification to create a mobile_push campaign.');
  }
  return null;
}

function validateUpdate(row: ImportRow): RowFailure | null {
  if (has(row, 'Name') && text(row, 'Name') === undefined) {
    return fail(row, 'invalid_value', 'Name cannot be cleared: a campaign always has a name. Give a name, or no value to keep the current one.');
  }
  return rowProblem(row, channelOfRow(row));
}

function contentOf(row: ImportRow, channel: Channel): Record<string, unknown> {
  const content: Record<string, unknown> = {};
  for (const [column, field] of CONTENT_BY_CHANNEL[channel]) {
    if (has(row, column) && row.values[column] !== null) content[field] = row.values[column];
  }
  return content;
}

// ---------------------------------------------------------------------------------------------
// Insert

function createBody(row: ImportRow): Record<string, unknown> {
  const channel = (channelOfRow(row) ?? 'email') as Channel;
  const included = has(row, 'IncludedListIds') ? (audienceIds(row.values.IncludedListIds, 'IncludedListIds') as string[]) : [];
  const audiences: Record<string, unknown> = { included };
  if (has(row, 'ExcludedListIds')) audiences.excluded = audienceIds(row.values.ExcludedListIds, 'ExcludedListIds');
  const attributes: Record<string, unknown> = { name: text(row, 'Name'), audiences };
  for (const [column, path] of JSON_ATTRIBUTES) {
    const v = jsonObject(row, column);
    if (v && typeof v === 'object') attributes[path] = v;
  }
  const content = contentOf(row, channel);
  const definition: Record<string, unknown> = { channel };
  if (Object.keys(content).length > 0) definition.content = content;
  attributes['campaign-messages'] = { data: [{ type: 'campaign-message', attributes: { definition } }] };
  return { data: { type: 'campaign', attributes } };
}

function idsOf(rel: JsonApiRelationship | undefined): string[] {
  const data = rel?.data;
  if (!data) return [];
  return (Array.isArray(data) ? data : [data]).map((d) => d.id);
}

async function firstMessageId(campaign: JsonApiResource, ctx: WriteContext): Promise<string | undefined> {
  const ids = idsOf(campaign.relationships?.['campaign-messages']);
  if (ids.length > 0) return ids[0];
  // Klaviyo left the relationship out of the response: ask for it.
  const res = await ctx.client.request<{ data: Array<{ id: string }> }>('get_message_ids_for_campaign', { pathParams: { id: campaign.id }, signal: ctx.signal });
  return res.body.data?.[0]?.id;
}

/** Assigns a template to a message; resolves with the id of the copy Klaviyo made for it. */
async function assignTemplate(messageId: string, templateId: string, ctx: WriteContext): Promise<string> {
  const res = await ctx.client.request<{ data?: JsonApiResource }>('assign_template_to_campaign_message', {
    body: { data: { type: 'campaign-message', id: messageId, relationships: { template: { data: { type: 'template', id: templateId } } } } },
    // Each assignment makes another copy of the template: never repeated blindly.
    idempotent: false,
    signal: ctx.signal,
  });
  const copy = idsOf(res.body.data?.relationships?.template)[0];
  if (copy) return copy;
  const rel = await ctx.client.request<{ data: { id: string } | null }>('get_template_id_for_campaign_message', { pathParams: { id: messageId }, signal: ctx.signal });
  return rel.body.data?.id ?? templateId;
}

async function createCampaign(row: ImportRow, ctx: WriteContext): Promise<RowOutcome> {
  let campaign: JsonApiResource;
  try {
    const res = await ctx.client.request<{ data: JsonApiResource }>('create_campaign', { body: createBody(row), idempotent: false, signal: ctx.signal });
    campaign = res.body?.data;
  } catch (err) {
    return failureFrom(row, err, ctx);
  }
  if (!campaign?.id) {
    return fail(row, 'unexpected_response', `Klaviyo accepted the campaign, but its answer has no campaign id: check in Klaviyo whether "${text(row, 'Name')}" was created before importing this row again.`);
  }
  const templateId = text(row, 'TemplateId');
  if (templateId === undefined) return { ok: true, rowNumber: row.rowNumber, status: 'created', id: campaign.id, extras: { TemplateId: '' } };
  const created = `Campaign ${campaign.id} was created, but assigning template ${templateId} to its message failed`;
  const advice = 'Assign the template in Klaviyo, or delete that campaign before importing this row again (a new import creates another campaign).';
  try {
    const messageId = await firstMessageId(campaign, ctx);
    if (!messageId) return fail(row, 'no_message', `${created}: Klaviyo returned no message for it. ${advice}`);
    const copy = await assignTemplate(messageId, templateId, ctx);
    ctx.debug(`campaigns: row ${row.rowNumber}: campaign ${campaign.id}, message ${messageId}, template ${templateId} copied as ${copy}`);
    return { ok: true, rowNumber: row.rowNumber, status: 'created', id: campaign.id, extras: { TemplateId: copy } };
  } catch (err) {
    const failure = failureFrom(row, err, ctx, created);
    return { ...failure, message: `${failure.message.replace(/\.?\s*$/, '.')} ${advice}` };
  }
}

// ---------------------------------------------------------------------------------------------
// Update and its dry run

interface CurrentCampaign {
  campaign: JsonApiResource;
  message?: JsonApiResource;
  channel?: Channel;
  /** The message's template (Klaviyo's copy); null when none; undefined when unknown yet. */
  templateId?: string | null;
}

function definitionOf(message: JsonApiResource | undefined): { channel?: string; content?: Record<string, unknown> | null } {
  const a = message?.attributes ?? {};
  const d = a.definition;
  // Revision 2025-01-15 on wraps the message in `definition`; earlier ones had it flat.
  return (d && typeof d === 'object' ? d : a) as { channel?: string; content?: Record<string, unknown> | null };
}

async function readCampaign(id: string, ctx: WriteContext, needTemplate: boolean): Promise<CurrentCampaign> {
  const res = await ctx.client.request<{ data: JsonApiResource; included?: JsonApiResource[] }>('get_campaign', {
    pathParams: { id },
    query: { include: 'campaign-messages' },
    signal: ctx.signal,
  });
  const campaign = joinIncluded([res.body.data], res.body.included)[0];
  const joined = campaign.includedRelationships?.['campaign-messages'];
  let message = Array.isArray(joined) ? joined[0] : undefined;
  const related = campaign.relationships?.['campaign-messages']?.data;
  if (!message && !(Array.isArray(related) && related.length === 0)) {
    // Klaviyo did not include the messages (or said nothing of them): read them.
    const messages = await ctx.client.request<{ data: JsonApiResource[] }>('get_messages_for_campaign', { pathParams: { id }, signal: ctx.signal });
    message = messages.body.data?.[0];
  }
  const channel = definitionOf(message).channel as Channel | undefined;
  let templateId: string | null | undefined;
  const rel = message?.relationships?.template;
  if (rel && rel.data !== undefined) templateId = Array.isArray(rel.data) ? (rel.data[0]?.id ?? null) : (rel.data?.id ?? null);
  if (templateId === undefined && needTemplate && message && channel === 'email') {
    const t = await ctx.client.request<{ data: { id: string } | null }>('get_template_id_for_campaign_message', { pathParams: { id: message.id }, signal: ctx.signal });
    templateId = t.body.data?.id ?? null;
  }
  return { campaign, message, channel, templateId };
}

const sortedIds = (ids: unknown): string[] => (Array.isArray(ids) ? ids.map(String).sort() : []);

interface Plan {
  /** Changed columns, in the row's column order. */
  changed: string[];
  /** Attributes for PATCH /api/campaigns/{id} (only what differs); null when nothing does. */
  campaignAttributes: Record<string, unknown> | null;
  /** Definition for PATCH /api/campaign-messages/{id}; null when the content is unchanged. */
  messageDefinition: Record<string, unknown> | null;
  /** Template to assign; null when TemplateId is not given or is already the message's. */
  assignTemplate: string | null;
}

/** What the row would change in the campaign, or the row's failure. */
function planUpdate(row: ImportRow, current: CurrentCampaign): Plan | RowFailure {
  const channel = current.channel;
  const rowChannel = channelOfRow(row);
  if (rowChannel !== undefined && channel !== undefined && rowChannel !== channel) {
    return fail(row, 'invalid_value', `Campaign ${current.campaign.id} is a ${channel} campaign: Klaviyo does not change a campaign's channel (the row says ${rowChannel}).`);
  }
  const problem = rowProblem(row, channel);
  if (problem) return problem;

  const changed: string[] = [];
  const attrs = current.campaign.attributes ?? {};
  const campaignAttributes: Record<string, unknown> = {};
  if (has(row, 'Name') && !sameValue(text(row, 'Name'), attrs.name)) {
    changed.push('Name');
    campaignAttributes.name = text(row, 'Name');
  }
  const audiences = (attrs.audiences ?? {}) as { included?: unknown; excluded?: unknown };
  const wanted = {
    included: has(row, 'IncludedListIds') ? (audienceIds(row.values.IncludedListIds, 'IncludedListIds') as string[]) : sortedIds(audiences.included),
    excluded: has(row, 'ExcludedListIds') ? (audienceIds(row.values.ExcludedListIds, 'ExcludedListIds') as string[]) : sortedIds(audiences.excluded),
  };
  const includedChanged = has(row, 'IncludedListIds') && !sameValue([...wanted.included].sort(), sortedIds(audiences.included));
  const excludedChanged = has(row, 'ExcludedListIds') && !sameValue([...wanted.excluded].sort(), sortedIds(audiences.excluded));
  if (includedChanged) changed.push('IncludedListIds');
  if (excludedChanged) changed.push('ExcludedListIds');
  // Both halves go together, so that Klaviyo cannot read a missing half as "clear it".
  if (includedChanged || excludedChanged) campaignAttributes.audiences = wanted;
  for (const [column, path] of JSON_ATTRIBUTES) {
    const v = jsonObject(row, column);
    if (v === undefined || typeof v === 'string') continue;
    // Only the keys the row gives count: Klaviyo keeps the others (smart sending, tracking defaults).
    const now = attrs[path];
    const differs =
      v === null || now === null || typeof now !== 'object'
        ? !sameValue(v, now)
        : Object.entries(v).some(([k, x]) => !sameValue(x, (now as Record<string, unknown>)[k]));
    if (differs) {
      changed.push(column);
      campaignAttributes[path] = v;
    }
  }

  let messageDefinition: Record<string, unknown> | null = null;
  if (channel !== undefined && current.message) {
    const content = definitionOf(current.message).content ?? {};
    const merged: Record<string, unknown> = {};
    for (const field of PATCHABLE_CONTENT[channel]) if (content[field] !== undefined) merged[field] = content[field];
    let any = false;
    for (const [column, field] of CONTENT_BY_CHANNEL[channel]) {
      if (!has(row, column) || sameValue(row.values[column], content[field])) continue;
      changed.push(column);
      merged[field] = row.values[column];
      any = true;
    }
    if (any) messageDefinition = { channel, content: merged };
  } else if (MESSAGE_COLUMNS.some((c) => given(row, c))) {
    return fail(row, 'no_message', `Campaign ${current.campaign.id} has no message to put ${MESSAGE_COLUMNS.filter((c) => given(row, c)).join(', ')} in.`);
  }

  let assign: string | null = null;
  const templateId = text(row, 'TemplateId');
  if (templateId !== undefined && templateId !== current.templateId) {
    if (!current.message) return fail(row, 'no_message', `Campaign ${current.campaign.id} has no message to assign template ${templateId} to.`);
    changed.push('TemplateId');
    assign = templateId;
  }
  const order = new Map(Object.keys(row.values).map((c, i) => [c, i]));
  changed.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  return {
    changed,
    campaignAttributes: Object.keys(campaignAttributes).length > 0 ? campaignAttributes : null,
    messageDefinition,
    assignTemplate: assign,
  };
}

async function updateCampaign(row: ImportRow, ctx: WriteContext): Promise<RowOutcome> {
  const id = idOrFailure(row, 'campaign');
  if (typeof id !== 'string') return id;
  let current: CurrentCampaign;
  try {
    current = await readCampaign(id, ctx, given(row, 'TemplateId'));
  } catch (err) {
    return failureFrom(row, err, ctx);
  }
  const plan = planUpdate(row, current);
  if ('ok' in plan) return plan;
  let templateId = current.templateId ?? '';
  const done: string[] = [];
  try {
    if (plan.campaignAttributes) {
      await ctx.client.request('update_campaign', {
        pathParams: { id },
        body: { data: { type: 'campaign', id, attributes: plan.campaignAttributes } },
        idempotent: true,
        signal: ctx.signal,
      });
      done.push('the campaign');
    }
    if (plan.messageDefinition && current.message) {
      const mid = current.message.id;
      await ctx.client.request('update_campaign_message', {
        pathParams: { id: mid },
        body: { data: { type: 'campaign-message', id: mid, attributes: { definition: plan.messageDefinition } } },
        idempotent: true,
        signal: ctx.signal,
      });
      done.push('its message');
    }
    if (plan.assignTemplate && current.message) templateId = await assignTemplate(current.message.id, plan.assignTemplate, ctx);
  } catch (err) {
    // Updates are idempotent: re-importing the row is safe, but say what did change.
    const context = done.length > 0 ? `Campaign ${id}: ${done.join(' and ')} updated, then` : undefined;
    return failureFrom(row, err, ctx, context ? `${context} the next change failed` : undefined);
  }
  return { ok: true, rowNumber: row.rowNumber, status: plan.changed.length > 0 ? 'updated' : 'unchanged', id, extras: { TemplateId: templateId } };
}

function previewCampaign(row: ImportRow, ctx: WriteContext): Promise<RowOutcome> {
  return withRowId(row, ctx, 'campaign', async (id) => {
    const current = await readCampaign(id, ctx, given(row, 'TemplateId'));
    const plan = planUpdate(row, current);
    if ('ok' in plan) return plan;
    const status = String(current.campaign.attributes?.status ?? '');
    if (plan.changed.length > 0 && SENT_STATUSES.has(status)) {
      // The real run would send it and Klaviyo would refuse: the dry run says so now.
      return fail(row, 'campaign_sent', `Campaign ${id} has been sent (status ${status}): Klaviyo refuses changes to a sent campaign, so this row would fail (it would change ${plan.changed.join(', ')}).`);
    }
    const extras = { TemplateId: current.templateId ?? '', ChangedColumns: plan.changed.join(';') };
    return { ok: true, rowNumber: row.rowNumber, status: plan.changed.length > 0 ? 'updated' : 'unchanged', id, extras };
  });
}

const insert: OperationHandler = {
  operation: 'insert',
  calls: ['create_campaign', 'get_message_ids_for_campaign', 'assign_template_to_campaign_message', 'get_template_id_for_campaign_message'],
  description:
    'Creates each campaign with its message (POST /api/campaigns) and assigns TemplateId to it (POST /api/campaign-message-assign-template). Klaviyo copies the template for each message: the success log gives each row its campaign Id and its own TemplateId.',
  requiredColumns: ['Name'],
  acceptedColumns: [...CAMPAIGN_COLUMNS, ...MESSAGE_COLUMNS, 'TemplateId'],
  maxBatchSize: 1,
  // Campaign endpoints allow 10/s, 150/m; each row makes two requests.
  concurrency: 4,
  idempotent: false,
  validateRow: (row) => validateInsert(row),
  processBatch: (rows, ctx) => eachRow(rows, ctx, (row) => createCampaign(row, ctx)),
};

const update: OperationHandler = {
  operation: 'update',
  calls: ['get_campaign', 'get_messages_for_campaign', 'get_template_id_for_campaign_message', 'update_campaign', 'update_campaign_message', 'assign_template_to_campaign_message'],
  description:
    "Changes a campaign by Id: name, audiences and send settings (PATCH /api/campaigns/{id}), the first message's content (PATCH /api/campaign-messages/{id}) and its template (assigned as a new copy). Only what differs is sent; Klaviyo refuses changes to sent campaigns.",
  requiredColumns: ['Id'],
  acceptedColumns: ['Id', ...CAMPAIGN_COLUMNS, ...MESSAGE_COLUMNS, 'TemplateId'],
  maxBatchSize: 1,
  concurrency: 4,
  idempotent: true,
  validateRow: (row) => validateUpdate(row),
  processBatch: (rows, ctx) => eachRow(rows, ctx, (row) => updateCampaign(row, ctx)),
  preview: (rows, ctx) => eachRow(rows, ctx, (row) => previewCampaign(row, ctx)),
};

const remove = deleteByIdHandler('Deletes campaigns by Id (DELETE /api/campaigns/{id}).', 'campaign', 'delete_campaign');

export const campaignWrites: WriteHandlers = { insert, update, delete: remove };
