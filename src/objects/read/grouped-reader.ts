/**
 * Reading objects whose rows come from one request family per group (a list, a segment): list
 * members, list subscriptions, list suppressions. The user either names the groups
 * (`--where "ListId = 'Y6nRLr'"`, `ListId in (...)`), or klv streams every group's id from
 * GET /api/lists (or /api/segments) and reads each group in turn. Rows stream out page by page:
 * nothing is collected, so memory stays flat whatever the number of groups or members.
 *
 * Conditions on the group column are decided per group before its members are read, so a
 * group they exclude costs no request.
 */
import type { KlaviyoClient } from '../../klaviyo/client.js';
import type { OperationId } from '../../klaviyo/generated/api-metadata.js';
import type { JsonApiResource } from '../../klaviyo/json-api.js';
import type { ColumnDef, Condition, PlannedRequest, Row } from '../types.js';
import { project } from './collection-reader.js';
import { plannedRequest } from './query.js';
import { matchesAll, matchesCondition } from './values.js';

export interface GroupKind {
  /** JSON:API type of the groups (`list`). */
  type: 'list' | 'segment';
  /** The endpoint listing every group (`get_lists`). */
  groupsOp: Extract<OperationId, 'get_lists' | 'get_segments'>;
  /** The canonical column holding the group id (`ListId`). */
  column: string;
}

export const LIST_GROUPS: GroupKind = { type: 'list', groupsOp: 'get_lists', column: 'ListId' };
export const SEGMENT_GROUPS: GroupKind = { type: 'segment', groupsOp: 'get_segments', column: 'SegmentId' };

export interface GroupSelection {
  /** The groups named by `=` / `in` conditions (their intersection), or undefined for every group. */
  ids: string[] | undefined;
  /** Every condition on the group column: each group id is checked against them before reading it. */
  checks: Condition[];
  /** Checks that are not `=` / `in` (`ListId != 'x'`): klv applies them itself, so --explain lists them as local. */
  localChecks: Condition[];
  /** The conditions on other columns. */
  rest: Condition[];
}

function idsOf(c: Condition): string[] | undefined {
  if (c.op === '=') return typeof c.value === 'string' ? [c.value] : [];
  if (c.op === 'in') return (c.value as unknown[]).filter((v): v is string => typeof v === 'string');
  return undefined;
}

/** Splits the conditions into the groups to read and the rest. */
export function selectGroups(conditions: readonly Condition[], kind: GroupKind): GroupSelection {
  const checks = conditions.filter((c) => c.column === kind.column);
  const rest = conditions.filter((c) => c.column !== kind.column);
  let ids: string[] | undefined;
  const localChecks: Condition[] = [];
  for (const c of checks) {
    const named = idsOf(c);
    if (!named) {
      localChecks.push(c);
      continue;
    }
    // Several `=`/`in` on the group column are AND-ed: only groups named by all of them.
    ids = ids === undefined ? [...new Set(named)] : ids.filter((id) => named.includes(id));
  }
  return { ids, checks, localChecks, rest };
}

function groupColumn(kind: GroupKind): ColumnDef {
  return { name: kind.column, type: 'id', description: '', path: 'id' };
}

/** Whether a group id passes the conditions on the group column. */
export function groupMatches(id: string, selection: GroupSelection, kind: GroupKind): boolean {
  const column = groupColumn(kind);
  return selection.checks.every((c) => matchesCondition({ [kind.column]: id }, c, column));
}

/** The query that lists the groups: ids only (one small attribute, as Klaviyo needs at least one). */
export function groupListQuery(kind: GroupKind): Record<string, string> {
  return { [`fields[${kind.type}]`]: 'name' };
}

/** The --explain entry for listing every group. */
export function groupListRequest(kind: GroupKind, purpose: string): PlannedRequest {
  return plannedRequest(kind.groupsOp, groupListQuery(kind), purpose);
}

/** The ids of the groups to read, streamed: the named ones, or every group page by page. */
export async function* groupIds(
  client: KlaviyoClient,
  kind: GroupKind,
  selection: GroupSelection,
  signal?: AbortSignal,
): AsyncGenerator<string> {
  if (selection.ids) {
    for (const id of selection.ids) if (groupMatches(id, selection, kind)) yield id;
    return;
  }
  for await (const group of client.paginate(kind.groupsOp, { query: groupListQuery(kind), signal })) {
    if (groupMatches(group.id, selection, kind)) yield group.id;
  }
}

/**
 * One request family per group: what to send and how a returned resource becomes rows. A
 * "group" is whatever the requests are partitioned by: a list, a segment, a suppression reason.
 */
export interface PerGroupRead {
  /** The groups to read, in order, streamed. */
  groups: (client: KlaviyoClient, signal?: AbortSignal) => AsyncIterable<string>;
  operationId: OperationId;
  /** Path parameters for a group (`{id: groupId}`), if the group is in the path. */
  pathParams?: (group: string) => Record<string, string>;
  /** The query for a group (without page parameters). */
  query: (group: string) => Record<string, string>;
  /** The rows of one resource (none, one, or one per matching suppression ...), with every needed column. */
  rowsOf: (resource: JsonApiResource, group: string) => Iterable<Row>;
  /** True when each resource gives exactly one row: then Klaviyo can be asked for no more than --limit. */
  oneRowPerResource: boolean;
  local: readonly Condition[];
  byName: ReadonlyMap<string, ColumnDef>;
  output: readonly ColumnDef[];
  limit?: number;
}

/** Runs a PerGroupRead: groups in turn, pages in turn, rows filtered locally and projected. */
export async function* readPerGroup(client: KlaviyoClient, read: PerGroupRead, signal?: AbortSignal): AsyncGenerator<Row> {
  let count = 0;
  if (read.limit !== undefined && read.limit <= 0) return;
  for await (const groupId of read.groups(client, signal)) {
    const remaining = read.limit === undefined ? undefined : read.limit - count;
    const resources = client.paginate(read.operationId, {
      pathParams: read.pathParams?.(groupId),
      query: read.query(groupId),
      // With local conditions or several rows per resource, Klaviyo's count says nothing about ours.
      limit: read.oneRowPerResource && read.local.length === 0 ? remaining : undefined,
      signal,
    });
    for await (const resource of resources) {
      for (const row of read.rowsOf(resource, groupId)) {
        if (read.local.length > 0 && !matchesAll(row, read.local, read.byName)) continue;
        yield project(row, read.output);
        count += 1;
        // Returning closes the page generator: no further page is requested.
        if (read.limit !== undefined && count >= read.limit) return;
      }
    }
  }
}
