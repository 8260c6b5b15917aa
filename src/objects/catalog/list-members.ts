/**
 * ListMembers: who is in which list (GET /api/lists/{id}/profiles), one row per list and
 * profile. `--where "ListId = '...'"` (or `in (...)`) reads those lists; without it klv reads
 * every list, streaming each one's members in turn. Being in a list says nothing about consent:
 * ListSubscribe reads that.
 */
import { LIST_GROUPS } from '../read/grouped-reader.js';
import { groupIdColumn, planMembersRead, profileIdColumn } from '../read/group-members.js';
import type { ColumnDef, ObjectDefinition } from '../types.js';
import { timestampColumn } from './common-columns.js';
import { PROFILE_COLUMNS } from './profiles.js';

/** A profile column as the members endpoints return it (same attribute, same filter field). */
export function profileColumn(name: string): ColumnDef {
  const column = PROFILE_COLUMNS.find((c) => c.name === name);
  if (!column) throw new Error(`Profiles has no column ${name}`);
  return { ...column };
}

export const MEMBER_PROFILE_COLUMNS = ['Email', 'PhoneNumber', 'ExternalId', 'FirstName', 'LastName'];

const COLUMNS: ColumnDef[] = [
  groupIdColumn(LIST_GROUPS, 'Id of the list'),
  // Klaviyo's list-members endpoint has no profile id filter: ProfileId conditions are checked by klv.
  profileIdColumn('Id of the profile'),
  ...MEMBER_PROFILE_COLUMNS.map(profileColumn),
  timestampColumn('JoinedGroupAt', 'joined_group_at', 'When the profile joined the list', 'joined_group_at'),
];

export const ListMembers: ObjectDefinition = {
  name: 'ListMembers',
  aliases: ['list-membership', 'list-memberships'],
  description: 'Profiles in each list, with when they joined',
  key: ['ListId', 'ProfileId'],
  columns: COLUMNS,
  operations: [],
  incremental: { column: 'JoinedGroupAt', serverSide: true },
  constraints: [
    "ListId = '...' or ListId in (...) reads those lists; without a ListId condition klv reads every list, one after the other.",
    'Klaviyo filters list members by Email and PhoneNumber (= and in) and JoinedGroupAt (> >= < <=); other conditions are checked by klv.',
    'Being in a list does not mean being subscribed: ListSubscribe exports the consent of list members.',
  ],
  plan: (request) =>
    planMembersRead(ListMembers, { kind: LIST_GROUPS, membersOp: 'get_profiles_for_list', label: 'members of list', partition: true }, request),
};
