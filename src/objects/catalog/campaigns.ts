/**
 * Campaigns (GET /api/campaigns), one row per campaign with its first message's content.
 *
 * Klaviyo lists campaigns one channel at a time (`equals(messages.channel,'email')` is a
 * required filter) and leaves archived ones out unless asked with `equals(archived,true)`. So
 * klv sends one paged request per channel (email, sms, mobile_push, or those a Channel
 * condition keeps) and, with --include-archived, one more per channel for the archived ones.
 * Every request says `equals(archived,...)` explicitly, so the result does not depend on the
 * default.
 *
 * Messages come in the same response (`include=campaign-messages`): Subject, PreviewText,
 * FromEmail, FromLabel and TemplateId are the first message's; Messages has them all as JSON.
 * Should Klaviyo leave the messages or a message's template relationship out, klv reads them
 * (GET /api/campaigns/{id}/campaign-messages, GET /api/campaign-messages/{id}/relationships/template).
 */
import type { KlaviyoClient } from '../../klaviyo/client.js';
import { isNotFound } from '../../klaviyo/errors.js';
import { filter as f } from '../../klaviyo/filter-builder.js';
import { OPERATIONS, type OperationId } from '../../klaviyo/generated/api-metadata.js';
import { joinIncluded, type JsonApiResource } from '../../klaviyo/json-api.js';
import { columnMap, columnsNeeded, project, readQuery, sinceCondition } from '../read/collection-reader.js';
import { pushdown } from '../read/pushdown.js';
import { plannedRequest } from '../read/query.js';
import { matchesAll, matchesCondition, rowFrom } from '../read/values.js';
import type { ColumnDef, Condition, ObjectDefinition, PlannedRequest, ReadPlan, ReadRequest } from '../types.js';
import { campaignWrites } from '../write/campaigns.js';
import { idColumn, timestampColumn } from './common-columns.js';

export const CHANNELS = ['email', 'sms', 'mobile_push'] as const;

interface MessageDefinition {
  channel?: string;
  label?: string;
  content?: Record<string, unknown> | null;
}

/** A message's definition (revision 2025-01-15 on); earlier revisions had the same fields flat. */
function definitionOf(message: JsonApiResource): MessageDefinition {
  const a = message.attributes ?? {};
  const d = a.definition;
  return (d && typeof d === 'object' ? d : a) as MessageDefinition;
}

/** The messages joined into the campaign, in the campaign's order; undefined when not joined. */
function messagesOf(campaign: JsonApiResource): JsonApiResource[] | undefined {
  const m = campaign.includedRelationships?.['campaign-messages'];
  return Array.isArray(m) ? m : undefined;
}

function firstMessage(campaign: JsonApiResource): JsonApiResource | undefined {
  return messagesOf(campaign)?.[0];
}

function contentField(campaign: JsonApiResource, field: string): unknown {
  const m = firstMessage(campaign);
  const v = m ? definitionOf(m).content?.[field] : undefined;
  return v === undefined ? null : v;
}

function templateIdOf(message: JsonApiResource): string | null {
  const data = message.relationships?.template?.data;
  return data && !Array.isArray(data) ? data.id : null;
}

function channelOf(message: JsonApiResource): string | null {
  return definitionOf(message).channel ?? null;
}

const content = (name: string, field: string, description: string, type: ColumnDef['type'] = 'string'): ColumnDef => ({
  name,
  type,
  description,
  get: (r) => contentField(r, field),
  aliases: [field],
  sparseField: null,
});

const CHANNEL: ColumnDef = {
  name: 'Channel',
  type: 'string',
  enum: CHANNELS,
  description: 'email, sms or mobile_push (insert: email when not given)',
  get: (r) => {
    const m = firstMessage(r);
    return m ? channelOf(m) : null;
  },
  aliases: ['channel', 'messages.channel'],
  filterField: 'messages.channel',
  sparseField: null,
};

const ARCHIVED: ColumnDef = {
  name: 'Archived',
  type: 'boolean',
  description: 'Whether the campaign is archived (archived ones are exported with --include-archived)',
  path: 'archived',
  // Klaviyo's campaign create and update take no `archived`: archiving happens in Klaviyo's app.
  readOnly: true,
  aliases: ['archived'],
  filterField: 'archived',
};

const STATUS_VALUES = (OPERATIONS.get_campaigns.filters.status?.enum ?? []).filter((v): v is string => typeof v === 'string');

const MESSAGE_CONTENT_COLUMNS = ['Subject', 'PreviewText', 'FromEmail', 'FromLabel', 'Body', 'Messages'];

const COLUMNS: ColumnDef[] = [
  idColumn('campaign'),
  { name: 'Name', type: 'string', description: 'Name of the campaign', path: 'name', aliases: ['name'], filterField: 'name', requiredOnInsert: true },
  {
    name: 'Status',
    type: 'string',
    enum: STATUS_VALUES,
    description: 'Draft, Scheduled, Sending, Sent, Cancelled ...',
    path: 'status',
    readOnly: true,
    aliases: ['status'],
    filterField: 'status',
  },
  CHANNEL,
  ARCHIVED,
  content('Subject', 'subject', 'Subject line of the first message (email)'),
  content('PreviewText', 'preview_text', 'Preview text of the first message (email)'),
  content('FromEmail', 'from_email', 'Sender address of the first message (email)', 'email'),
  content('FromLabel', 'from_label', 'Sender name of the first message (email)'),
  content('Body', 'body', 'Text of the first message (sms, mobile_push)'),
  {
    name: 'TemplateId',
    type: 'id',
    description: "Id of the first message's template (Klaviyo's own copy of the template assigned to it)",
    get: (r) => {
      const m = firstMessage(r);
      return m ? templateIdOf(m) : null;
    },
    aliases: ['template_id'],
    sparseField: null,
  },
  {
    name: 'IncludedListIds',
    // 'string', not 'json': import also takes `a;b`, which is not JSON; the handler parses both.
    type: 'string',
    description: 'Lists and segments the campaign is sent to, as a JSON array of ids (import also takes ids separated by ;)',
    path: 'audiences.included',
    aliases: ['audiences.included', 'included'],
  },
  {
    name: 'ExcludedListIds',
    // 'string', not 'json': import also takes `a;b`, which is not JSON; the handler parses both.
    type: 'string',
    description: 'Lists and segments excluded from the campaign, as a JSON array of ids (import also takes ids separated by ;)',
    path: 'audiences.excluded',
    aliases: ['audiences.excluded', 'excluded'],
  },
  { name: 'SendStrategy', type: 'json', description: 'How and when it is sent (method, datetime, options), as JSON', path: 'send_strategy', aliases: ['send_strategy'] },
  { name: 'SendOptions', type: 'json', description: 'Send options (use_smart_sending), as JSON', path: 'send_options', aliases: ['send_options'] },
  { name: 'TrackingOptions', type: 'json', description: 'Open and click tracking and UTM parameters, as JSON', path: 'tracking_options', aliases: ['tracking_options'] },
  {
    name: 'Messages',
    type: 'json',
    description: 'Every message of the campaign (id, channel, label, content, template_id), as a JSON array',
    get: (r) =>
      (messagesOf(r) ?? []).map((m) => {
        const d = definitionOf(m);
        return { id: m.id, channel: d.channel ?? null, label: d.label ?? null, content: d.content ?? null, template_id: templateIdOf(m) };
      }),
    aliases: ['campaign-messages', 'messages'],
    readOnly: true,
    sparseField: null,
  },
  timestampColumn('CreatedAt', 'created_at', 'When the campaign was created', 'created_at'),
  timestampColumn('UpdatedAt', 'updated_at', 'When the campaign last changed', 'updated_at'),
  timestampColumn('ScheduledAt', 'scheduled_at', 'When the campaign was scheduled', 'scheduled_at'),
  timestampColumn('SendTime', 'send_time', 'When the campaign is or was sent'),
  {
    name: 'Tags',
    type: 'json',
    description: 'Names of the campaign\'s tags, as a JSON array (read on demand: include=tags)',
    get: (r) => {
      const tags = r.includedRelationships?.tags;
      return Array.isArray(tags) ? tags.map((t) => t.attributes?.name ?? t.id) : [];
    },
    onDemand: true,
    readOnly: true,
    aliases: ['tags'],
    sparseField: null,
  },
];

interface Needs {
  /** Any message column: include=campaign-messages. */
  messages: boolean;
  /** Message content (not only the channel). */
  content: boolean;
  /** Template ids: of the first message only, or of every message. */
  templates: 'none' | 'first' | 'all';
  tags: boolean;
}

function needsOf(columns: readonly ColumnDef[], channelFromMessages: boolean): Needs {
  const names = new Set(columns.map((c) => c.name));
  const content = MESSAGE_CONTENT_COLUMNS.some((n) => names.has(n));
  const templates = names.has('Messages') ? 'all' : names.has('TemplateId') ? 'first' : 'none';
  return {
    messages: content || templates !== 'none' || (channelFromMessages && names.has(CHANNEL.name)),
    content,
    templates,
    tags: names.has('Tags'),
  };
}

function campaignQuery(operationId: OperationId, needed: readonly ColumnDef[], needs: Needs, filters: ReturnType<typeof pushdown>['filters'] | undefined) {
  const query = readQuery(operationId, { resourceType: 'campaign', sort: 'created_at' }, needed, filters);
  const include: string[] = [];
  if (needs.messages) {
    include.push('campaign-messages');
    query['fields[campaign-message]'] = needs.content ? 'definition' : 'definition.channel';
  }
  if (needs.tags) {
    include.push('tags');
    query['fields[tag]'] = 'name';
  }
  if (include.length > 0) query.include = include.join(',');
  return query;
}

/** What completeCampaign may read when the include left something out. */
function followUpsOf(needs: Needs): OperationId[] {
  if (!needs.messages) return [];
  return needs.templates === 'none' ? ['get_messages_for_campaign'] : ['get_messages_for_campaign', 'get_template_id_for_campaign_message'];
}

function relationshipIds(resource: JsonApiResource, name: string): string[] | undefined {
  const data = resource.relationships?.[name]?.data;
  if (data === undefined || data === null) return undefined;
  return (Array.isArray(data) ? data : [data]).map((d) => d.id);
}

/**
 * Makes sure the campaign carries what the row needs when Klaviyo did not include it: its
 * messages, and the template relationship of its email messages. Costs nothing when the
 * response had them (the emulator's always do).
 */
async function completeCampaign(client: KlaviyoClient, campaign: JsonApiResource, needs: Needs, signal?: AbortSignal): Promise<void> {
  if (!needs.messages) return;
  let messages = messagesOf(campaign);
  const ids = relationshipIds(campaign, 'campaign-messages');
  if (messages === undefined && ids !== undefined && ids.length === 0) messages = [];
  if (messages === undefined || (ids !== undefined && messages.length < ids.length)) {
    const res = await client.request<{ data: JsonApiResource[] }>('get_messages_for_campaign', {
      pathParams: { id: campaign.id },
      query: { 'fields[campaign-message]': needs.content ? 'definition' : 'definition.channel' },
      signal,
    });
    messages = res.body.data ?? [];
    campaign.includedRelationships = { ...(campaign.includedRelationships ?? {}), 'campaign-messages': messages };
  }
  if (needs.templates === 'none') return;
  for (const message of needs.templates === 'first' ? messages.slice(0, 1) : messages) {
    // Only email messages have templates; `data: null` is an answer, a missing `data` is not.
    if (channelOf(message) !== 'email' || message.relationships?.template?.data !== undefined) continue;
    const res = await client.request<{ data: { type: string; id: string } | null }>('get_template_id_for_campaign_message', {
      pathParams: { id: message.id },
      signal,
    });
    message.relationships = { ...(message.relationships ?? {}), template: { data: res.body.data ?? null } };
  }
}

/** Name = / starts-with / ends-with imply contains(name, ...): pushed as a wider filter, checked exactly by klv. */
function nameSuperset(conditions: readonly Condition[]): Condition[] {
  if (conditions.some((c) => c.column === 'Name' && c.op === 'contains')) return [];
  const narrowing = conditions.find(
    (c) => c.column === 'Name' && (c.op === '=' || c.op === 'starts-with' || c.op === 'ends-with') && typeof c.value === 'string' && c.value !== '',
  );
  return narrowing ? [{ column: 'Name', op: 'contains', value: narrowing.value }] : [];
}

interface Part {
  channel: string;
  archived: boolean;
  query: Record<string, string>;
}

function plan(request: ReadRequest): ReadPlan {
  const def = Campaigns;
  const conditions = [...request.where, ...sinceCondition(def, request.since)];
  const archivedConditions = conditions.filter((c) => c.column === ARCHIVED.name);
  // Klaviyo's default, made explicit: archived campaigns only when asked for.
  const archivedDefault: Condition[] =
    archivedConditions.length === 0 && !request.options.includeArchived ? [{ column: ARCHIVED.name, op: '=', value: false }] : [];
  const byName = columnMap(def, request.columns);
  const notes: string[] = [];
  if (archivedDefault.length > 0) notes.push('Archived campaigns are left out: --include-archived adds them.');

  const idCondition = conditions.find((c) => c.column === 'Id' && c.op === '=' && typeof c.value === 'string');
  if (idCondition) {
    // One campaign by id: one request instead of one per channel; the rest is checked on the row.
    const id = idCondition.value as string;
    const local = [...conditions.filter((c) => c !== idCondition), ...archivedDefault];
    const needed = columnsNeeded(def, request.columns, local);
    const needs = needsOf(needed, true);
    const query = campaignQuery('get_campaign', needed, needs, undefined);
    return {
      requests: [plannedRequest('get_campaign', query, 'one campaign by id', { pathParams: { id } })],
      localConditions: local,
      notes,
      followUps: followUpsOf(needs),
      async *execute(client: KlaviyoClient, signal?: AbortSignal) {
        if (request.limit !== undefined && request.limit <= 0) return;
        let campaign: JsonApiResource;
        try {
          const res = await client.request<{ data: JsonApiResource; included?: JsonApiResource[] }>('get_campaign', { pathParams: { id }, query, signal });
          campaign = joinIncluded([res.body.data], res.body.included)[0];
        } catch (err) {
          if (isNotFound(err)) return; // no such id: no row
          throw err;
        }
        await completeCampaign(client, campaign, needs, signal);
        const row = rowFrom(campaign, needed);
        if (matchesAll(row, local, byName)) yield project(row, request.columns);
      },
    };
  }

  // Channel and Archived choose the requests; every other condition goes to pushdown.
  const channelConditions = conditions.filter((c) => c.column === CHANNEL.name);
  const channels = CHANNELS.filter((ch) => channelConditions.every((c) => matchesCondition({ Channel: ch }, c, CHANNEL)));
  const archivedChoices = [...archivedConditions, ...archivedDefault];
  const archivedValues = [false, true].filter((a) => archivedChoices.every((c) => matchesCondition({ Archived: a }, c, ARCHIVED)));
  const rest = conditions.filter((c) => c.column !== CHANNEL.name && c.column !== ARCHIVED.name);
  const extra = nameSuperset(rest);
  const { filters, local } = pushdown('get_campaigns', [...rest, ...extra], byName);
  const needed = columnsNeeded(def, request.columns, local);
  const needs = needsOf(needed, false);

  const parts: Part[] = [];
  for (const channel of channels) {
    for (const archived of archivedValues) {
      const query = campaignQuery('get_campaigns', needed, needs, [f.equals('messages.channel', channel), f.equals('archived', archived), ...filters]);
      parts.push({ channel, archived, query });
    }
  }
  if (parts.length === 0) notes.push('The Channel and Archived conditions leave no campaign to read.');
  if (needs.templates !== 'none') {
    notes.push(
      "A message's template id comes with the message; should Klaviyo leave it out, klv reads it (GET /api/campaign-messages/{id}/relationships/template, one request per email message).",
    );
  }
  const requests: PlannedRequest[] = parts.map((p) =>
    plannedRequest('get_campaigns', p.query, `${p.archived ? 'archived ' : ''}${p.channel} campaigns`),
  );

  return {
    requests,
    localConditions: local,
    notes,
    followUps: followUpsOf(needs),
    async *execute(client: KlaviyoClient, signal?: AbortSignal) {
      let count = 0;
      if (request.limit !== undefined && request.limit <= 0) return;
      for (const part of parts) {
        const resources = client.paginate('get_campaigns', {
          query: part.query,
          limit: local.length === 0 && request.limit !== undefined ? request.limit - count : undefined,
          signal,
        });
        for await (const campaign of resources) {
          await completeCampaign(client, campaign, needs, signal);
          const row = rowFrom(campaign, needed);
          // The request's channel is the campaign's, messages or not.
          row.Channel = part.channel;
          if (local.length > 0 && !matchesAll(row, local, byName)) continue;
          yield project(row, request.columns);
          count += 1;
          if (request.limit !== undefined && count >= request.limit) return;
        }
      }
    },
  };
}

export const Campaigns: ObjectDefinition = {
  name: 'Campaigns',
  description: 'Email, SMS and push campaigns, with the first message\'s subject, sender and template',
  key: ['Id'],
  columns: COLUMNS,
  operations: ['insert', 'update', 'delete'],
  write: campaignWrites,
  incremental: { column: 'UpdatedAt', serverSide: true },
  constraints: [
    "Klaviyo lists campaigns one channel at a time: klv reads email, sms and mobile_push in turn, or only those a Channel condition keeps (Channel = 'email').",
    'Archived campaigns are exported only with --include-archived (or an Archived condition).',
    'Subject, PreviewText, FromEmail, FromLabel and TemplateId are those of the first message; Messages holds every message as JSON.',
    "Klaviyo filters Name only with contains: klv sends Name = '...' as contains and checks the exact name itself.",
    'Campaign endpoints are limited to 10 requests/s and 150/min.',
    'Insert assigns TemplateId to the new message: Klaviyo copies the template for each message, so each imported row gets its own TemplateId in the success log.',
    'A sent campaign cannot be changed: Klaviyo refuses the update.',
  ],
  plan,
};
