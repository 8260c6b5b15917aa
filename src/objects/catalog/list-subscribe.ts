/**
 * ListSubscribe: the consent of given people in lists, as the connector it replaces offered it:
 * look people up by Email and/or PhoneNumber (GET /api/lists/{id}/profiles with
 * additional-fields[profile]=subscriptions and an email / phone_number filter), in the lists
 * named by ListId or in every list. One row per list the person is in, with the consent status
 * per channel.
 *
 * Without an Email or PhoneNumber condition it would read the consent of every member of every
 * list, which is what ListMembers plus Profiles.Subscriptions are for, so the plan refuses it.
 */
import { UsageError } from '../../core/errors.js';
import { LIST_GROUPS } from '../read/grouped-reader.js';
import { groupIdColumn, planMembersRead, profileIdColumn } from '../read/group-members.js';
import { columnMap, sinceCondition } from '../read/collection-reader.js';
import { pushdown } from '../read/pushdown.js';
import type { ColumnDef, ObjectDefinition, ReadRequest } from '../types.js';
import { listSubscribeDelete, listSubscribeInsert } from '../write/list-subscribe.js';
import { timestampColumn } from './common-columns.js';
import { profileColumn, writable, writeOnlyColumn } from './list-members.js';

const CONSENT = ['SUBSCRIBED', 'UNSUBSCRIBED', 'NEVER_SUBSCRIBED'] as const;

const subscription = (name: string, type: ColumnDef['type'], path: string, description: string, extra: Partial<ColumnDef> = {}): ColumnDef => ({
  name,
  type,
  description,
  path: `subscriptions.${path}`,
  readOnly: true,
  additionalField: 'subscriptions',
  aliases: [path.split('.').pop()!],
  ...extra,
});

const COLUMNS: ColumnDef[] = [
  writable(groupIdColumn(LIST_GROUPS, 'Id of the list')),
  writable(profileIdColumn('Id of the profile')),
  profileColumn('Email'),
  profileColumn('PhoneNumber'),
  subscription('EmailConsent', 'string', 'email.marketing.consent', 'Email marketing consent: SUBSCRIBED, UNSUBSCRIBED or NEVER_SUBSCRIBED', {
    enum: CONSENT,
    aliases: ['email_consent'],
  }),
  subscription('EmailConsentTimestamp', 'datetime', 'email.marketing.consent_timestamp', 'When the email consent was given or withdrawn (import with --historical-import: when it was given)', {
    aliases: ['email_consent_timestamp'],
    readOnly: false,
  }),
  subscription('EmailDoubleOptIn', 'boolean', 'email.marketing.double_optin', 'Whether the email consent was confirmed by double opt-in', {
    aliases: ['double_optin'],
  }),
  subscription('CanReceiveEmailMarketing', 'boolean', 'email.marketing.can_receive_email_marketing', 'Whether Klaviyo will send marketing email to the profile (consent and no suppression)'),
  subscription('SmsConsent', 'string', 'sms.marketing.consent', 'SMS marketing consent: SUBSCRIBED, UNSUBSCRIBED or NEVER_SUBSCRIBED', {
    enum: CONSENT,
    aliases: ['sms_consent'],
  }),
  subscription('SmsConsentTimestamp', 'datetime', 'sms.marketing.consent_timestamp', 'When the SMS consent was given or withdrawn (import with --historical-import: when it was given)', {
    aliases: ['sms_consent_timestamp'],
    readOnly: false,
  }),
  subscription('CanReceiveSmsMarketing', 'boolean', 'sms.marketing.can_receive_sms_marketing', 'Whether Klaviyo will send marketing SMS to the profile'),
  timestampColumn('JoinedGroupAt', 'joined_group_at', 'When the profile joined the list', 'joined_group_at'),
  writeOnlyColumn('ConsentedAt', 'datetime', 'Import only, with --historical-import: when the consent was collected (both channels, unless EmailConsentTimestamp or SmsConsentTimestamp says otherwise)', {
    aliases: ['consented_at'],
  }),
];

const LOOKUP_HINT =
  "Add --where \"Email = 'ann@example.com'\" (or Email in ('ann@example.com','bob@example.com'), or PhoneNumber = '+15005550006'), " +
  "and optionally --where \"ListId = 'Y6nRLr'\" to look in one list only. To export every member of a list, use 'klv export list-members'.";

function plan(request: ReadRequest) {
  // Only an Email / PhoneNumber condition Klaviyo filters on narrows the read to some people.
  const conditions = [...request.where, ...sinceCondition(ListSubscribe, request.since)];
  const { pushed } = pushdown('get_profiles_for_list', conditions, columnMap(ListSubscribe, request.columns));
  if (!pushed.some((c) => (c.column === 'Email' || c.column === 'PhoneNumber') && (c.op === '=' || c.op === 'in'))) {
    throw new UsageError('ListSubscribe looks people up by Email or PhoneNumber, and no such condition was given.', LOOKUP_HINT);
  }
  return planMembersRead(ListSubscribe, { kind: LIST_GROUPS, membersOp: 'get_profiles_for_list', label: 'consent of the people in list' }, request);
}

export const ListSubscribe: ObjectDefinition = {
  name: 'ListSubscribe',
  aliases: ['list-subscriptions', 'list-subscription', 'subscriptions'],
  description: 'Consent (email, SMS) of given people in each list they are in; needs an Email or PhoneNumber filter',
  key: ['ListId', 'ProfileId'],
  columns: COLUMNS,
  operations: ['insert', 'delete'],
  write: { insert: listSubscribeInsert, delete: listSubscribeDelete },
  constraints: [
    "Needs an Email or PhoneNumber condition with = or in (e.g. --where \"Email = 'ann@example.com'\"): people are looked up, not listed.",
    "ListId = '...' or ListId in (...) looks in those lists only; without it klv looks in every list.",
    'A row means the person is in the list; the consent columns are the profile\'s consent per channel, which Klaviyo keeps per account, not per list.',
    'Import insert subscribes (1,000 a job) and delete unsubscribes (100 a job): an Email for email marketing, a PhoneNumber for SMS marketing. Klaviyo processes the jobs after accepting them; it has no job status to read.',
    'Subscribing into a double opt-in list only sends a confirmation message: such rows are logged pending-confirmation. --historical-import records consent collected earlier (ConsentedAt) without confirmation.',
    'Klaviyo unsubscribes a person who is not in the list from all marketing: klv refuses such rows (not_in_list) unless --allow-global-unsubscribe.',
  ],
  plan,
};
