/**
 * SegmentMembers: who is in which segment (GET /api/segments/{id}/profiles), one row per
 * segment and profile. `--where "SegmentId = '...'"` (or `in (...)`) reads those segments;
 * without it klv reads every segment in turn. Klaviyo computes segment membership: it is
 * read-only.
 */
import { SEGMENT_GROUPS } from '../read/grouped-reader.js';
import { groupIdColumn, planMembersRead, profileIdColumn } from '../read/group-members.js';
import type { ColumnDef, ObjectDefinition } from '../types.js';
import { timestampColumn } from './common-columns.js';
import { MEMBER_PROFILE_COLUMNS, profileColumn } from './list-members.js';

const COLUMNS: ColumnDef[] = [
  groupIdColumn(SEGMENT_GROUPS, 'Id of the segment'),
  profileIdColumn('Id of the profile', 'profile_id'),
  ...MEMBER_PROFILE_COLUMNS.map(profileColumn),
  timestampColumn('JoinedGroupAt', 'joined_group_at', 'When the profile entered the segment', 'joined_group_at'),
];

export const SegmentMembers: ObjectDefinition = {
  name: 'SegmentMembers',
  aliases: ['segment-membership', 'segment-memberships'],
  description: 'Profiles in each segment, with when they entered it',
  key: ['SegmentId', 'ProfileId'],
  columns: COLUMNS,
  operations: [],
  incremental: { column: 'JoinedGroupAt', serverSide: true },
  constraints: [
    "SegmentId = '...' or SegmentId in (...) reads those segments; without a SegmentId condition klv reads every segment, one after the other.",
    'Klaviyo filters segment members by ProfileId, Email and PhoneNumber (= and in) and JoinedGroupAt (> >= < <=); other conditions are checked by klv.',
    'Segment membership is computed by Klaviyo from the segment definition: it cannot be written.',
  ],
  plan: (request) =>
    planMembersRead(SegmentMembers, { kind: SEGMENT_GROUPS, membersOp: 'get_profiles_for_segment', label: 'members of segment', partition: true }, request),
};
