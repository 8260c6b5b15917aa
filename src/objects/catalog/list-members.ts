/**
 * ListMembers: who is in which list (GET /api/lists/{id}/profiles), one row per list and
 * profile. `--where "ListId = '...'"` (or `in (...)`) reads those lists; without it klv reads
 * every list, streaming each one's members in turn. Being in a list says nothing about consent:
 * ListSubscribe reads that.
 */
import { LIST_GROUPS } from '../read/grouped-reader.js';
import { groupIdColumn, planMembersRead, profileIdColumn } from '../read/group-members.js';
import type { ColumnDef, ObjectDefinition } from '../types.js';
import { listMembersDelete, listMembersInsert } from '../write/list-members.js';
import { timestampColumn } from './common-columns.js';
import { PROFILE_COLUMNS } from './profiles.js';

/** A profile column as the members endpoints return it (same attribute, same filter field). */
export function profileColumn(name: string): ColumnDef {
  const column = PROFILE_COLUMNS.find((c) => c.name === name);
  if (!column) throw new Error(`Profiles has no column ${name}`);
  return { ...column };
}

export const MEMBER_PROFILE_COLUMNS = ['Email', 'PhoneNumber', 'ExternalId', 'FirstName', 'LastName'];

/** Import names the list and the profile by these: writable here, whatever the shared definition says. */
export const writable = (column: ColumnDef): ColumnDef => ({ ...column, readOnly: false });

/**
 * A column only import uses (Klaviyo's members endpoint does not return it): read as empty, and
 * only when named, so exports stay as they were.
 */
export const writeOnlyColumn = (name: string, type: ColumnDef['type'], description: string, extra: Partial<ColumnDef> = {}): ColumnDef => ({
  name,
  type,
  description,
  onDemand: true,
  get: () => null,
  sparseField: null,
  ...extra,
});

const COLUMNS: ColumnDef[] = [
  writable(groupIdColumn(LIST_GROUPS, 'Id of the list')),
  // Klaviyo's list-members endpoint has no profile id filter: ProfileId conditions are checked by klv.
  writable(profileIdColumn('Id of the profile')),
  ...MEMBER_PROFILE_COLUMNS.map(profileColumn),
  timestampColumn('JoinedGroupAt', 'joined_group_at', 'When the profile joined the list', 'joined_group_at'),
  writeOnlyColumn('PushToken', 'string', 'Import only: a push token to register for the member (needs PushPlatform)', { aliases: ['push_token', 'token'] }),
  writeOnlyColumn('PushPlatform', 'string', 'Import only: ios or android, the platform of PushToken', { enum: ['ios', 'android'], aliases: ['platform'] }),
  writeOnlyColumn('PushVendor', 'string', 'Import only: apns or fcm, the vendor of PushToken (default: apns for ios, fcm for android)', {
    enum: ['apns', 'fcm'],
    aliases: ['vendor'],
  }),
];

export const ListMembers: ObjectDefinition = {
  name: 'ListMembers',
  aliases: ['list-membership', 'list-memberships'],
  description: 'Profiles in each list, with when they joined',
  key: ['ListId', 'ProfileId'],
  columns: COLUMNS,
  operations: ['insert', 'delete'],
  write: { insert: listMembersInsert, delete: listMembersDelete },
  incremental: { column: 'JoinedGroupAt', serverSide: true },
  constraints: [
    "ListId = '...' or ListId in (...) reads those lists; without a ListId condition klv reads every list, one after the other.",
    'Klaviyo filters list members by Email and PhoneNumber (= and in) and JoinedGroupAt (> >= < <=); other conditions are checked by klv.',
    'Being in a list does not mean being subscribed: ListSubscribe exports the consent of list members.',
    'Import adds and removes members 1,000 a request by profile id: klv finds the profiles of Email, ExternalId or ProfileId (PhoneNumber when it is the only one) in bulk; insert creates missing people in the list with a bulk import job.',
    'Insert does not add a member twice: a row whose person is already in the list is unchanged, or updated when its PhoneNumber or PushToken is new.',
  ],
  plan: (request) =>
    planMembersRead(ListMembers, { kind: LIST_GROUPS, membersOp: 'get_profiles_for_list', label: 'members of list', partition: true }, request),
};
