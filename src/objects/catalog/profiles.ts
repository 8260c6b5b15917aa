/**
 * Profiles: every person in the account (GET /api/profiles). Unlike the retired v1/v2 API there
 * is no need for a PersonId filter: the whole account is read page by page. `Id = '...'` reads
 * one profile by id. Subscriptions and predictive analytics are returned only with
 * `additional-fields[profile]`, and predictive analytics moves the request to a slower
 * rate-limit tier (10/s, 150/m), so those columns are read only when selected.
 */
import { collectionObject } from '../read/collection-reader.js';
import type { ColumnDef } from '../types.js';
import { profileWriteHandlers } from '../write/profiles.js';
import { idColumn, timestampColumn } from './common-columns.js';

const text = (name: string, attribute: string, description: string, extra: Partial<ColumnDef> = {}): ColumnDef => ({
  name,
  type: 'string',
  description,
  path: attribute,
  aliases: [attribute, attribute.split('.').pop()!],
  ...extra,
});

const consent = (name: string, path: string, description: string): ColumnDef => ({
  name,
  type: 'string',
  description,
  path,
  readOnly: true,
  onDemand: true,
  additionalField: 'subscriptions',
  sparseField: path,
});

export const PROFILE_COLUMNS: ColumnDef[] = [
  idColumn('profile'),
  { name: 'Email', type: 'email', description: 'Email address', path: 'email', aliases: ['email', '$email'], filterField: 'email' },
  {
    name: 'PhoneNumber',
    type: 'phone',
    description: 'Phone number in E.164 format (+15005550006)',
    path: 'phone_number',
    aliases: ['phone_number', 'phone', '$phone_number'],
    filterField: 'phone_number',
  },
  { name: 'ExternalId', type: 'string', description: 'Your own id of the person', path: 'external_id', aliases: ['external_id', '$id'], filterField: 'external_id' },
  text('FirstName', 'first_name', 'First name'),
  text('LastName', 'last_name', 'Last name'),
  text('Organization', 'organization', 'Company or organization'),
  text('Title', 'title', 'Job title'),
  text('Locale', 'locale', 'IETF BCP 47 locale (en-US)'),
  text('Image', 'image', 'URL of a picture of the person'),
  text('Address1', 'location.address1', 'First line of the street address'),
  text('Address2', 'location.address2', 'Second line of the street address'),
  text('City', 'location.city', 'City'),
  text('Region', 'location.region', 'Region, state or province'),
  text('Country', 'location.country', 'Country'),
  text('Zip', 'location.zip', 'Postal code'),
  text('Timezone', 'location.timezone', 'IANA time zone (America/New_York)'),
  { name: 'Latitude', type: 'number', description: 'Latitude of the location', path: 'location.latitude', aliases: ['latitude'] },
  { name: 'Longitude', type: 'number', description: 'Longitude of the location', path: 'location.longitude', aliases: ['longitude'] },
  text('Ip', 'location.ip', 'IP address the location came from'),
  { name: 'Properties', type: 'json', description: 'Custom properties, as a JSON object (--properties a,b adds one column each)', path: 'properties', aliases: ['properties'] },
  timestampColumn('Created', 'created', 'When the profile was created', 'created'),
  timestampColumn('Updated', 'updated', 'When the profile last changed', 'updated'),
  timestampColumn('LastEventDate', 'last_event_date', 'When the latest event of the profile happened'),
  consent('EmailConsent', 'subscriptions.email.marketing.consent', 'Email marketing consent: SUBSCRIBED, UNSUBSCRIBED, NEVER_SUBSCRIBED'),
  consent('SmsConsent', 'subscriptions.sms.marketing.consent', 'SMS marketing consent: SUBSCRIBED, UNSUBSCRIBED, NEVER_SUBSCRIBED'),
  {
    name: 'Subscriptions',
    type: 'json',
    description: 'Consent and suppressions per channel, as JSON (read on demand)',
    path: 'subscriptions',
    readOnly: true,
    onDemand: true,
    additionalField: 'subscriptions',
    aliases: ['subscriptions'],
  },
  {
    name: 'PredictiveAnalytics',
    type: 'json',
    description: 'Predicted CLV, churn and order figures, as JSON (read on demand: 10/s, 150/m instead of 75/s, 750/m)',
    path: 'predictive_analytics',
    readOnly: true,
    onDemand: true,
    additionalField: 'predictive_analytics',
    aliases: ['predictive_analytics'],
  },
];

export const Profiles = collectionObject(
  {
    name: 'Profiles',
    aliases: ['people', 'person', 'contacts'],
    description: 'People in the account: identifiers, names, location, custom properties',
    key: ['Id'],
    columns: PROFILE_COLUMNS,
    operations: ['insert', 'update', 'upsert'],
    write: profileWriteHandlers,
    incremental: { column: 'Updated', serverSide: true },
    constraints: [
      'A profile needs at least one of Email, PhoneNumber or ExternalId.',
      'PhoneNumber must be in E.164 format (+ and country code).',
      'Import: insert and upsert go through bulk import jobs (10,000 profiles a job), which ignore empty and null values; rows that clear a field (--null-value) are sent one by one.',
      'Subscriptions, EmailConsent, SmsConsent and PredictiveAnalytics are read only when selected: PredictiveAnalytics costs the slower 10/s, 150/m rate limit.',
      'Klaviyo filters Created and Updated only with > and <: klv sends >= and <= as a slightly wider filter, and checks every bound itself (Klaviyo\'s > and < may match the bound).',
    ],
  },
  {
    resourceType: 'profile',
    list: 'get_profiles',
    byId: 'get_profile',
    purpose: 'every profile in the account',
    partition: { column: 'Created', field: 'created', sort: 'created', usuallyLarge: true },
  },
);
