/**
 * ListMembers and SegmentMembers: the profiles of a group (GET /api/lists/{id}/profiles,
 * GET /api/segments/{id}/profiles), one row per (group, profile), for the groups named by
 * `--where "ListId = '...'"` / `in (...)` or for every group. Email, PhoneNumber, JoinedGroupAt
 * (and for segments ProfileId) push down to the members endpoint's filter; JoinedGroupAt is also
 * the sort, the incremental column, and what a large group is sliced by to be read with several
 * cursors at once.
 */
import type { KlaviyoClient } from '../../klaviyo/client.js';
import { isNotFound } from '../../klaviyo/errors.js';
import type { OperationId } from '../../klaviyo/generated/api-metadata.js';
import type { JsonApiResource } from '../../klaviyo/json-api.js';
import { columnMap, columnsNeeded, readQuery, sinceCondition } from './collection-reader.js';
import { pushdown } from './pushdown.js';
import { plannedRequest } from './query.js';
import { groupIds, groupListRequest, readPerGroup, selectGroups, type GroupKind } from './grouped-reader.js';
import { rowFrom } from './values.js';
import type { ColumnDef, Condition, ObjectDefinition, PlannedRequest, ReadPlan, ReadReport, ReadRequest, Row } from '../types.js';
import { planPartitionedRead, type PartitionSpec } from './partitioned.js';

/** The group id column: set by the reader from the group being read, not from the resource. */
export function groupIdColumn(kind: GroupKind, description: string): ColumnDef {
  return {
    name: kind.column,
    type: 'id',
    description,
    readOnly: true,
    aliases: [`${kind.type}_id`, `${kind.type}id`],
    sparseField: null,
  };
}

export const profileIdColumn = (description: string, filterField?: string): ColumnDef => ({
  name: 'ProfileId',
  type: 'id',
  description,
  path: 'id',
  readOnly: true,
  aliases: ['profile_id', 'person_id', 'PersonId'],
  filterField,
  sparseField: null,
});

/** A row of `needed` from a profile reached through a group, with the group id filled in. */
export function memberRow(resource: JsonApiResource, needed: readonly ColumnDef[], kind: GroupKind, groupId: string): Row {
  const row = rowFrom(
    resource,
    needed.filter((c) => c.name !== kind.column),
  );
  row[kind.column] = groupId;
  return row;
}

export interface MembersSource {
  kind: GroupKind;
  /** get_profiles_for_list / get_profiles_for_segment. */
  membersOp: OperationId;
  /** Query parameters always sent (additional-fields for ListSubscribe). */
  fixedQuery?: Record<string, string>;
  /** `members of each list`, for --explain. */
  label: string;
  /** Read large groups in JoinedGroupAt slices, several cursors at once. */
  partition?: boolean;
}

/**
 * A large group is read in JoinedGroupAt slices, several cursors at once (partitioned.ts): one
 * cursor reads ~7 pages a second where Klaviyo allows 75. Reads narrowed by an email or profile
 * id, or by a small --limit, stay on one cursor.
 */
const PARTITION: PartitionSpec = { column: 'JoinedGroupAt', field: 'joined_group_at', sort: 'joined_group_at' };

/** The partitioned plan of one group's members, or undefined when one cursor is the better read. */
function partitionedGroupPlan(
  def: ObjectDefinition,
  source: MembersSource,
  request: ReadRequest,
  conditions: readonly Condition[],
  groupId: string,
  limit: number | undefined,
): ReadPlan | undefined {
  // The group id is not in the profile resource: the column reads it from the group being read.
  const columns = request.columns.map((c) => (c.name === source.kind.column ? { ...c, get: () => groupId } : c));
  return planPartitionedRead(
    def,
    { resourceType: 'profile', list: source.membersOp, pathParams: { id: groupId }, fixedQuery: source.fixedQuery, partition: PARTITION },
    { ...request, columns, limit },
    conditions,
  );
}

/** Plans a read of group members: one paged request family per group. */
export function planMembersRead(def: ObjectDefinition, source: MembersSource, request: ReadRequest): ReadPlan {
  const { kind, membersOp } = source;
  const conditions = [...request.where, ...sinceCondition(def, request.since)];
  const selection = selectGroups(conditions, kind);
  const byName = columnMap(def, request.columns);
  const { filters, local } = pushdown(membersOp, selection.rest, byName);
  const needed = columnsNeeded(def, request.columns, local);
  const query = readQuery(membersOp, { resourceType: 'profile', fixedQuery: source.fixedQuery, sort: 'joined_group_at' }, needed, filters);
  // Whether groups are read partitioned depends on the conditions and --limit, not on the group.
  const EACH = '{id}';
  const partitioned = source.partition ? partitionedGroupPlan(def, source, request, selection.rest, EACH, request.limit) : undefined;

  const requests: PlannedRequest[] = [];
  const notes: string[] = [...(partitioned?.notes ?? [])];
  const groupRequests = (id: string, purpose: string, repeat?: null): PlannedRequest[] =>
    partitioned
      ? partitionedGroupPlan(def, source, request, selection.rest, id, request.limit)!.requests.map((r) => ({ ...r, purpose: `${purpose}: ${r.purpose}`, repeat: repeat ?? r.repeat }))
      : [plannedRequest(membersOp, query, purpose, { pathParams: { id }, repeat })];
  if (selection.ids) {
    for (const id of selection.ids) requests.push(...groupRequests(id, `${source.label} ${id}`));
    if (selection.ids.length === 0) notes.push(`The ${kind.column} conditions name no ${kind.type} in common: nothing to read.`);
  } else {
    requests.push(groupListRequest(kind, `every ${kind.type}, to read each one's members`));
    requests.push(...groupRequests(EACH, `${source.label} (one per ${kind.type})`, null));
  }

  /** One group on one cursor. */
  const singleCursor = (client: KlaviyoClient, groupId: string, limit: number | undefined, signal?: AbortSignal) =>
    readPerGroup(
      client,
      {
        groups: async function* () {
          yield groupId;
        },
        operationId: membersOp,
        pathParams: (id) => ({ id }),
        query: () => query,
        rowsOf: (resource, id) => [memberRow(resource, needed, kind, id)],
        oneRowPerResource: true,
        local,
        byName,
        output: request.columns,
        limit,
      },
      signal,
    );

  return {
    requests,
    localConditions: [...selection.localChecks, ...(partitioned?.localConditions ?? local)],
    notes,
    async *execute(client: KlaviyoClient, signal?: AbortSignal, report?: ReadReport) {
      let count = 0;
      if (request.limit !== undefined && request.limit <= 0) return;
      for await (const groupId of groupIds(client, kind, selection, signal)) {
        const remaining = request.limit === undefined ? undefined : request.limit - count;
        const plan = partitioned ? partitionedGroupPlan(def, source, request, selection.rest, groupId, remaining) : undefined;
        const rows = plan ? plan.execute(client, signal) : singleCursor(client, groupId, remaining, signal);
        try {
          for await (const row of rows) {
            yield row;
            count += 1;
            if (request.limit !== undefined && count >= request.limit) return;
          }
        } catch (err) {
          // A group deleted between listing the groups and reading its members (or mid-way through
          // them) answers 404. A caller that can do without it (a deletion sweep) is told and the
          // read goes on; any other caller gets the error, rather than rows silently missing.
          if (!report || !isNotFound(err)) throw err;
          report.skipped(`the members of ${kind.type} ${groupId}`, `Klaviyo answered 404 Not Found for them: the ${kind.type} was deleted while klv read it`);
        }
      }
    },
  };
}
