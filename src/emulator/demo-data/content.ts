/**
 * Everything in the demo account except profiles and events: the account itself, lists,
 * segments, templates, campaigns with their messages (each with its own template copy, as
 * Klaviyo clones a template per message), flows, tags and tag groups.
 */
import { idFor } from '../store/ids.js';
import { Rng } from '../store/prng.js';
import type { ResourceIdentifier, StoredResource } from '../store/types.js';
import type { MetricName, SentEmail } from './events.js';
import type { DemoListIds, DemoSegmentIds } from './profiles.js';
import { TEMPLATE_NAMES, dragAndDropDefinition, templateHtml, templateText } from './templates.js';
import { DAY, HOUR, MINUTE, calendarDate, klaviyoTime } from './time.js';

export const SENDER = { email: 'hello@juniperandpine.example', label: 'Juniper & Pine' };

/** Hands out the demo's ids from one seeded stream, in a fixed order. */
export class DemoIds {
  constructor(private readonly rng: Rng, private readonly nowMs: number) {}
  next(type: string, timeMs: number = this.nowMs): string {
    return idFor(type, timeMs, this.rng);
  }
}

const ref = (type: string, id: string): ResourceIdentifier => ({ type, id });

export function buildAccount(publicKey: string): StoredResource {
  return {
    type: 'account',
    id: publicKey,
    attributes: {
      test_account: false,
      contact_information: {
        default_sender_name: SENDER.label,
        default_sender_email: SENDER.email,
        website_url: 'https://www.juniperandpine.example',
        organization_name: 'Juniper & Pine Outfitters',
        street_address: { address1: '450 Harrison Ave', address2: 'Suite 310', city: 'Boston', region: 'MA', country: 'United States', zip: '02118' },
      },
      industry: 'Apparel & Accessories',
      timezone: 'America/New_York',
      preferred_currency: 'USD',
      public_api_key: publicKey,
      locale: 'en-US',
    },
    relationships: {},
  };
}

export interface ContentInput {
  ids: DemoIds;
  rng: Rng;
  nowMs: number;
  accountStartMs: number;
  lists: DemoListIds;
  segments: DemoSegmentIds;
  metricIds: Record<MetricName, string>;
}

export interface DemoContent {
  lists: StoredResource[];
  segments: StoredResource[];
  templates: StoredResource[];
  campaigns: StoredResource[];
  campaignMessages: StoredResource[];
  flows: StoredResource[];
  tags: StoredResource[];
  tagGroups: StoredResource[];
  sentEmails: SentEmail[];
}

type CampaignStatus = 'Sent' | 'Scheduled' | 'Draft' | 'Cancelled';

interface CampaignPlan {
  name: string;
  channel: 'email' | 'sms' | 'mobile_push';
  status: CampaignStatus;
  /** Days from now of the send (negative: past); for drafts, when it was created. */
  day: number;
  archived?: boolean;
  audience?: 'vip' | 'winback' | 'sms';
  variants?: 2;
  tags: string[];
  /** An email's subject; a push notification's title. */
  subject: string;
}

const CAMPAIGNS: CampaignPlan[] = [
  { name: 'Welcome to Juniper & Pine – Spring Lookbook', channel: 'email', status: 'Sent', day: -700, archived: true, tags: ['Spring', 'Newsletter'], subject: 'Our spring lookbook is here' },
  { name: 'Summer Trail Essentials', channel: 'email', status: 'Sent', day: -640, archived: true, tags: ['Summer', 'Promotional'], subject: 'Everything you need for summer trails' },
  { name: 'Labor Day Weekend Sale', channel: 'email', status: 'Sent', day: -600, archived: true, tags: ['Summer', 'Promotional'], subject: '20% off ends Monday' },
  { name: 'Fall Layers Are Here', channel: 'email', status: 'Sent', day: -560, tags: ['Fall', 'Newsletter'], subject: 'Layer up: the fall edit' },
  { name: 'Black Friday Early Access (VIP)', channel: 'email', status: 'Sent', day: -520, audience: 'vip', variants: 2, tags: ['Holiday', 'VIP', 'Promotional'], subject: 'Your VIP early access starts now' },
  { name: 'Black Friday: 25% Off Everything', channel: 'email', status: 'Sent', day: -515, tags: ['Holiday', 'Promotional'], subject: '25% off everything, today only' },
  { name: 'Cyber Monday Final Hours', channel: 'email', status: 'Sent', day: -512, tags: ['Holiday', 'Promotional'], subject: 'Final hours: Cyber Monday savings' },
  { name: 'Holiday Gift Guide', channel: 'email', status: 'Sent', day: -490, tags: ['Holiday', 'Newsletter'], subject: 'Gifts for everyone on your list' },
  { name: 'New Year, New Gear', channel: 'email', status: 'Sent', day: -460, archived: true, tags: ['Newsletter'], subject: 'Start the year outdoors' },
  { name: "Valentine's Day Cozy Picks", channel: 'email', status: 'Sent', day: -420, tags: ['Promotional'], subject: 'Cozy picks for your favorite person' },
  { name: 'Spring Restock: Rain Shells', channel: 'email', status: 'Sent', day: -330, tags: ['Spring', 'Promotional'], subject: 'The Harbor Rain Shell is back' },
  { name: 'We Miss You – 15% Off', channel: 'email', status: 'Sent', day: -120, audience: 'winback', tags: ['Promotional'], subject: "It's been a while – here's 15% off" },
  { name: 'Summer Sale Preview', channel: 'email', status: 'Sent', day: -40, tags: ['Summer', 'Promotional'], subject: 'A first look at the summer sale' },
  { name: 'Back to School Bags', channel: 'email', status: 'Sent', day: -10, variants: 2, tags: ['Fall', 'Promotional'], subject: 'Bags built for the semester' },
  { name: 'Fall Collection Launch', channel: 'email', status: 'Scheduled', day: 3, tags: ['Fall', 'Newsletter'], subject: 'The fall collection has landed' },
  { name: 'Holiday Preview', channel: 'email', status: 'Draft', day: -4, tags: ['Holiday'], subject: 'A sneak peek at holiday' },
  { name: 'Loyalty Program Relaunch', channel: 'email', status: 'Draft', day: -5, audience: 'vip', tags: ['VIP'], subject: 'Introducing Trail Rewards' },
  { name: 'Knitwear Care Guide', channel: 'email', status: 'Cancelled', day: -60, tags: ['Newsletter'], subject: 'How to care for your knits' },
  { name: 'Flash Sale: 20% Off Outerwear (SMS)', channel: 'sms', status: 'Sent', day: -500, audience: 'sms', tags: ['Promotional'], subject: '' },
  { name: 'Black Friday Doorbusters (SMS)', channel: 'sms', status: 'Sent', day: -516, audience: 'sms', tags: ['Holiday', 'Promotional'], subject: '' },
  { name: 'Free Shipping Weekend (SMS)', channel: 'sms', status: 'Sent', day: -200, archived: true, audience: 'sms', tags: ['Promotional'], subject: '' },
  { name: 'Back in Stock: Ridge Hiking Boot (SMS)', channel: 'sms', status: 'Sent', day: -30, audience: 'sms', tags: ['Promotional'], subject: '' },
  { name: 'VIP Early Access (SMS)', channel: 'sms', status: 'Scheduled', day: 5, audience: 'sms', tags: ['VIP'], subject: '' },
  { name: 'Weekend Pop-up Reminder (SMS)', channel: 'sms', status: 'Draft', day: -2, audience: 'sms', tags: [], subject: '' },
  { name: 'Holiday Shipping Deadline (SMS)', channel: 'sms', status: 'Cancelled', day: -300, audience: 'sms', tags: ['Holiday'], subject: '' },
];

/**
 * Campaigns built after the flows, so that adding them left the ids of everything before them
 * as they were. With them the account has 25 campaigns that are not archived (what Klaviyo lists
 * by default) and 5 archived ones, on every channel.
 */
const LATER_CAMPAIGNS: CampaignPlan[] = [
  { name: 'Trail Rewards: Your Points Are Waiting', channel: 'email', status: 'Sent', day: -250, audience: 'vip', tags: ['VIP'], subject: 'You have points to spend' },
  { name: 'Rainy Day Picks', channel: 'email', status: 'Sent', day: -150, tags: ['Newsletter'], subject: 'Cozy picks for a rainy week' },
  { name: 'App Exclusive: Early Access (Push)', channel: 'mobile_push', status: 'Sent', day: -90, tags: ['Promotional'], subject: 'Early access is live in the app' },
  { name: 'Weekend Flash Sale (SMS)', channel: 'sms', status: 'Sent', day: -75, audience: 'sms', tags: ['Promotional'], subject: '' },
  { name: 'Holiday Wishlist Reminder (Push)', channel: 'mobile_push', status: 'Draft', day: -3, tags: ['Holiday'], subject: 'Your wishlist is waiting' },
];

const TAG_GROUPS = [
  { name: 'Default', exclusive: false, default: true, tags: ['Promotional', 'Newsletter', 'Automated', 'VIP'] },
  { name: 'Season', exclusive: true, default: false, tags: ['Spring', 'Summer', 'Fall', 'Holiday'] },
];

interface FlowPlan {
  name: string;
  status: 'live' | 'draft' | 'manual';
  archived: boolean;
  trigger: { kind: 'list'; list: keyof DemoListIds } | { kind: 'metric'; metric: MetricName };
  emails: { subject: string; template: number }[];
  delayDays: number;
}

const FLOWS: FlowPlan[] = [
  { name: 'Welcome Series', status: 'live', archived: false, trigger: { kind: 'list', list: 'newsletter' }, delayDays: 2, emails: [{ subject: 'Welcome to Juniper & Pine', template: 0 }, { subject: 'Our bestsellers, picked for you', template: 1 }] },
  { name: 'Abandoned Checkout', status: 'live', archived: false, trigger: { kind: 'metric', metric: 'Started Checkout' }, delayDays: 1, emails: [{ subject: 'You left something behind', template: 3 }, { subject: 'Last chance: your cart expires soon', template: 4 }] },
  { name: 'Browse Abandonment', status: 'manual', archived: false, trigger: { kind: 'metric', metric: 'Viewed Product' }, delayDays: 1, emails: [{ subject: 'Still thinking it over?', template: 5 }] },
  { name: 'Post-Purchase Thank You', status: 'live', archived: false, trigger: { kind: 'metric', metric: 'Placed Order' }, delayDays: 14, emails: [{ subject: 'Thank you for your order', template: 6 }, { subject: 'How are you liking it?', template: 7 }] },
  { name: 'Customer Winback', status: 'draft', archived: true, trigger: { kind: 'list', list: 'winback' }, delayDays: 7, emails: [{ subject: 'We miss you', template: 9 }, { subject: 'A final offer, just for you', template: 10 }] },
];

/**
 * Flows built after LATER_CAMPAIGNS, so that adding them left every other id as it was: retired
 * flows, archived, so that the account has several (GET /api/flows with the
 * `archived-flows-hidden` quirk leaves them out).
 */
const LATER_FLOWS: FlowPlan[] = [
  { name: 'Holiday Gift Guide Series (2023)', status: 'manual', archived: true, trigger: { kind: 'metric', metric: 'Viewed Product' }, delayDays: 3, emails: [{ subject: 'Gifts for every hiker on your list', template: 12 }, { subject: 'Last shipping day for the holidays', template: 14 }] },
  { name: 'Sunset Unengaged (old)', status: 'draft', archived: true, trigger: { kind: 'list', list: 'newsletter' }, delayDays: 5, emails: [{ subject: 'Do you still want to hear from us?', template: 16 }] },
];

function smsBody(plan: CampaignPlan): string {
  return `Juniper & Pine: ${plan.name.replace(' (SMS)', '')}! Shop now: https://jnpr.example/s/${plan.name.length.toString(36)}{{ profile_id|slice:':4' }} Reply STOP to opt out`;
}

export function buildContent(input: ContentInput): DemoContent {
  const { ids, rng, nowMs, accountStartMs, lists: listIds, segments: segmentIds, metricIds } = input;
  const dayMs = (day: number) => Math.floor((nowMs + day * DAY) / HOUR) * HOUR;

  // Tag groups and tags first: other resources point at them.
  const tagGroups: StoredResource[] = [];
  const tags: StoredResource[] = [];
  const tagIdByName = new Map<string, string>();
  for (const group of TAG_GROUPS) {
    const groupId = ids.next('tag-group');
    const tagIds = group.tags.map((name) => {
      const id = ids.next('tag');
      tagIdByName.set(name, id);
      tags.push({ type: 'tag', id, attributes: { name }, relationships: { 'tag-group': ref('tag-group', groupId), campaigns: [], flows: [], lists: [], segments: [] } });
      return id;
    });
    tagGroups.push({ type: 'tag-group', id: groupId, attributes: { name: group.name, exclusive: group.exclusive, default: group.default }, relationships: { tags: tagIds.map((id) => ref('tag', id)) } });
  }
  const tagsByName = new Map(tags.map((t) => [t.attributes.name as string, t]));
  /** Links a resource to tags in both directions (resource.tags and tag.<plural>). */
  const tag = (resource: StoredResource, names: string[], plural: 'campaigns' | 'flows' | 'lists' | 'segments') => {
    resource.relationships.tags = names.map((name) => ref('tag', tagIdByName.get(name)!));
    for (const name of names) (tagsByName.get(name)!.relationships[plural] as ResourceIdentifier[]).push(ref(resource.type, resource.id));
  };

  const listPlans: { key: keyof DemoListIds; name: string; optIn: string; day: number; tags: string[] }[] = [
    { key: 'newsletter', name: 'Newsletter', optIn: 'double_opt_in', day: -745, tags: ['Newsletter'] },
    { key: 'vip', name: 'VIP Customers', optIn: 'single_opt_in', day: -720, tags: ['VIP'] },
    { key: 'sms', name: 'SMS Subscribers', optIn: 'single_opt_in', day: -690, tags: [] },
    { key: 'winback', name: 'Winback', optIn: 'single_opt_in', day: -400, tags: [] },
  ];
  const lists = listPlans.map((plan) => {
    const list: StoredResource = {
      type: 'list',
      id: listIds[plan.key],
      attributes: { name: plan.name, opt_in_process: plan.optIn, created: klaviyoTime(dayMs(plan.day)), updated: klaviyoTime(dayMs(plan.day) + rng.between(1, 300) * DAY) },
      relationships: { 'flow-triggers': [] },
    };
    tag(list, plan.tags, 'lists');
    return list;
  });

  const segments: StoredResource[] = [
    {
      type: 'segment',
      id: segmentIds.loyalty,
      attributes: {
        name: 'Gold & Platinum Members',
        definition: {
          condition_groups: [
            { conditions: [{ type: 'profile-property', property: "properties['loyalty_tier']", filter: { type: 'string', operator: 'in', value: ['gold', 'platinum'] } }] },
          ],
        },
        created: klaviyoTime(dayMs(-500)),
        updated: klaviyoTime(dayMs(-90)),
        is_active: true,
        is_processing: false,
        is_starred: true,
      },
      relationships: { 'flow-triggers': [] },
    },
    {
      type: 'segment',
      id: segmentIds.usNewsletter,
      attributes: {
        name: 'Newsletter Subscribers – United States',
        definition: {
          condition_groups: [
            { conditions: [{ type: 'profile-group-membership', is_member: true, group_ids: [listIds.newsletter], timeframe_filter: null }] },
            { conditions: [{ type: 'profile-region', in_region: true, region: 'united_states' }] },
          ],
        },
        created: klaviyoTime(dayMs(-300)),
        updated: klaviyoTime(dayMs(-300)),
        is_active: true,
        is_processing: false,
        is_starred: false,
      },
      relationships: { 'flow-triggers': [] },
    },
  ];
  tag(segments[0]!, ['VIP'], 'segments');

  // The template library, created over the account's life.
  const templates: StoredResource[] = TEMPLATE_NAMES.map((name, k) => {
    const createdMs = accountStartMs + Math.floor((k / TEMPLATE_NAMES.length) * (nowMs - accountStartMs - 30 * DAY));
    const updatedMs = createdMs + rng.between(0, 60) * DAY + rng.between(0, 23) * HOUR;
    const dragAndDrop = k % 2 === 1;
    const heading = name.replace(/^.* – /, '');
    return {
      type: 'template',
      id: ids.next('template'),
      attributes: {
        name,
        editor_type: dragAndDrop ? 'SYSTEM_DRAGGABLE' : 'CODE',
        html: templateHtml(name, heading),
        text: templateText(heading),
        amp: null,
        created: klaviyoTime(createdMs),
        updated: klaviyoTime(Math.min(updatedMs, nowMs - HOUR)),
        definition: dragAndDrop ? dragAndDropDefinition(heading) : null,
      },
      relationships: {},
    };
  });
  const library = [...templates];

  const campaigns: StoredResource[] = [];
  const campaignMessages: StoredResource[] = [];
  const sentEmails: SentEmail[] = [];
  const addCampaign = (plan: CampaignPlan): void => {
    const sendMs = dayMs(plan.day) + 14 * HOUR;
    const isDraft = plan.status === 'Draft';
    const createdMs = isDraft ? dayMs(plan.day) + 10 * HOUR : sendMs - rng.between(3, 14) * DAY;
    const scheduledMs = isDraft ? null : Math.min(nowMs - HOUR, sendMs - rng.between(2, 48) * HOUR);
    const updatedMs =
      plan.status === 'Sent' ? sendMs + rng.between(5, 90) * MINUTE
      : plan.status === 'Cancelled' ? sendMs - rng.between(1, 20) * HOUR
      : isDraft ? createdMs + rng.between(1, 30) * HOUR
      : scheduledMs!;
    const campaignId = ids.next('campaign', createdMs);
    const included = [plan.audience === 'vip' ? listIds.vip : plan.audience === 'winback' ? listIds.winback : plan.audience === 'sms' ? listIds.sms : listIds.newsletter];
    const excluded = plan.audience === 'winback' ? [listIds.vip] : plan.channel === 'email' && !plan.audience && rng.chance(0.3) ? [listIds.winback] : [];
    const sendStrategy =
      isDraft ? (plan.channel === 'email' ? { method: 'smart_send_time', date: calendarDate(nowMs + 10 * DAY) } : { method: 'static', datetime: klaviyoTime(dayMs(7) + 15 * HOUR), options: { is_local: true, send_past_recipients_immediately: false } })
      : plan.status === 'Scheduled' && plan.channel === 'email' ? { method: 'throttled', datetime: klaviyoTime(sendMs), throttle_percentage: 20 }
      : rng.chance(0.2) ? { method: 'immediate' }
      : { method: 'static', datetime: klaviyoTime(sendMs), options: { is_local: false } };
    const sendTime = plan.status === 'Sent' || plan.status === 'Scheduled' ? klaviyoTime(sendMs) : null;
    const trackingParams = [
      { type: 'dynamic', value: 'campaign_name', name: 'utm_campaign' },
      { type: 'static', value: 'klaviyo', name: 'utm_source' },
      { type: 'static', value: plan.channel, name: 'utm_medium' },
    ];
    const campaign: StoredResource = {
      type: 'campaign',
      id: campaignId,
      attributes: {
        name: plan.name,
        status: plan.status,
        archived: plan.archived ?? false,
        audiences: { included, excluded },
        send_options: { use_smart_sending: plan.audience !== 'vip' },
        tracking_options:
          plan.channel === 'email'
            ? { add_tracking_params: true, custom_tracking_params: trackingParams, is_tracking_clicks: true, is_tracking_opens: true }
            : plan.channel === 'sms'
            ? { add_tracking_params: true, custom_tracking_params: trackingParams }
            : null,
        send_strategy: sendStrategy,
        created_at: klaviyoTime(createdMs),
        scheduled_at: scheduledMs === null ? null : klaviyoTime(scheduledMs),
        updated_at: klaviyoTime(updatedMs),
        send_time: sendTime,
      },
      relationships: { 'campaign-messages': [] },
    };
    tag(campaign, plan.tags, 'campaigns');
    campaigns.push(campaign);

    const variants = plan.variants ?? 1;
    for (let v = 0; v < variants; v++) {
      const messageId = ids.next('campaign-message', createdMs);
      const label = variants === 1 ? plan.name : `${plan.name} – Variant ${v === 0 ? 'A' : 'B'}`;
      const subject = v === 0 ? plan.subject : `${plan.subject} 🌲`;
      let templateRef: ResourceIdentifier | null = null;
      if (plan.channel === 'email') {
        // Klaviyo assigns a template by cloning it: the message owns a non-reusable copy.
        const source = rng.pick(library);
        const copy: StoredResource = {
          type: 'template',
          id: ids.next('template'),
          attributes: { ...source.attributes, name: `${label} (${source.attributes.name as string})`, created: klaviyoTime(createdMs), updated: klaviyoTime(updatedMs) },
          relationships: {},
        };
        templates.push(copy);
        templateRef = ref('template', copy.id);
      }
      campaignMessages.push({
        type: 'campaign-message',
        id: messageId,
        attributes: {
          definition:
            plan.channel === 'email'
              ? { channel: 'email', label, content: { subject, preview_text: 'Free shipping on orders over $75', from_email: SENDER.email, from_label: SENDER.label, reply_to_email: null, cc_email: null, bcc_email: null } }
              : plan.channel === 'sms'
              ? { channel: 'sms', content: { body: smsBody(plan), media_url: null }, render_options: { shorten_links: true, add_org_prefix: true, add_info_link: true, add_opt_out_language: false } }
              : {
                  channel: 'mobile_push',
                  notification_type: 'standard',
                  content: { title: subject, body: `${plan.name.replace(' (Push)', '')}: tap to shop.`, dynamic_image: null, action_buttons: null },
                  kv_pairs: null,
                  options: { on_open: { type: 'open_app' }, badge: { display: false }, play_sound: false },
                },
          send_times: sendTime === null ? [] : [{ datetime: sendTime, is_local: false }],
          created_at: klaviyoTime(createdMs),
          updated_at: klaviyoTime(updatedMs),
        },
        relationships: { campaign: ref('campaign', campaignId), template: templateRef, image: null },
      });
      (campaign.relationships['campaign-messages'] as ResourceIdentifier[]).push(ref('campaign-message', messageId));
      if (plan.channel === 'email' && plan.status === 'Sent') {
        sentEmails.push({ campaignId, campaignName: plan.name, messageId, subject, sentMs: sendMs });
      }
    }
  };
  for (const plan of CAMPAIGNS) addCampaign(plan);

  const buildFlow = (plan: FlowPlan, k: number): StoredResource => {
    const flowId = ids.next('flow');
    const createdMs = accountStartMs + (k + 1) * 20 * DAY;
    const actionIds = plan.emails.flatMap((_, e) => (e === 0 ? [String(91_000_000 + k * 100 + e * 2)] : [String(91_000_000 + k * 100 + e * 2 - 1), String(91_000_000 + k * 100 + e * 2)]));
    const actions: Record<string, unknown>[] = [];
    plan.emails.forEach((email, e) => {
      if (e > 0) {
        actions.push({ id: String(91_000_000 + k * 100 + e * 2 - 1), type: 'time-delay', links: { next: String(91_000_000 + k * 100 + e * 2) }, data: { unit: 'days', value: plan.delayDays, secondary_value: null, timezone: 'profile' } });
      }
      const id = String(91_000_000 + k * 100 + e * 2);
      const next = actionIds[actionIds.indexOf(id) + 1] ?? null;
      actions.push({
        id,
        type: 'send-email',
        links: { next },
        data: {
          status: plan.status === 'live' ? 'live' : plan.status === 'manual' ? 'manual' : 'draft',
          message: {
            from_email: SENDER.email,
            from_label: SENDER.label,
            reply_to_email: null,
            cc_email: null,
            bcc_email: null,
            subject_line: email.subject,
            preview_text: null,
            template_id: library[email.template]!.id,
            smart_sending_enabled: true,
            transactional: false,
            add_tracking_params: true,
            custom_tracking_params: [{ param: 'utm_source', value: 'klaviyo' }, { param: 'utm_medium', value: 'flow' }],
            additional_filters: null,
            name: `${plan.name} Email #${e + 1}`,
          },
        },
      });
    });
    const trigger = plan.trigger.kind === 'list' ? { type: 'list', id: listIds[plan.trigger.list] } : { type: 'metric', id: metricIds[plan.trigger.metric], trigger_filter: null };
    const flow: StoredResource = {
      type: 'flow',
      id: flowId,
      attributes: {
        name: plan.name,
        status: plan.status,
        archived: plan.archived,
        created: klaviyoTime(createdMs),
        updated: klaviyoTime(createdMs + rng.between(1, 200) * DAY),
        trigger_type: plan.trigger.kind === 'list' ? 'Added to List' : 'Metric',
        definition: { triggers: [trigger], profile_filter: null, actions, entry_action_id: actionIds[0]! },
      },
      relationships: {},
    };
    tag(flow, ['Automated'], 'flows');
    if (plan.trigger.kind === 'list') {
      const list = lists.find((l) => l.id === listIds[(plan.trigger as { list: keyof DemoListIds }).list])!;
      (list.relationships['flow-triggers'] as ResourceIdentifier[]).push(ref('flow', flowId));
    }
    return flow;
  };
  const flows = FLOWS.map(buildFlow);

  for (const plan of LATER_CAMPAIGNS) addCampaign(plan);
  LATER_FLOWS.forEach((plan, k) => flows.push(buildFlow(plan, FLOWS.length + k)));

  return { lists, segments, templates, campaigns, campaignMessages, flows, tags, tagGroups, sentEmails };
}
