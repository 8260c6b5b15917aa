/**
 * ListExclusions: email addresses suppressed in one list only (unsubscribed from that list,
 * still reachable through others). Klaviyo keeps them on the profile
 * (`subscriptions.email.marketing.list_suppressions[]`), so klv reads GET /api/profiles with
 * `additional-fields[profile]=subscriptions` and
 * `equals(subscriptions.email.marketing.list_suppressions.list_id,'<list>')`, once per list: the
 * lists named by ListId, or every list streamed from GET /api/lists. One row per matching list
 * suppression.
 */
import type { KlaviyoClient } from '../../klaviyo/client.js';
import { filter as f } from '../../klaviyo/filter-builder.js';
import { columnMap, columnsNeeded, readQuery, sinceCondition } from '../read/collection-reader.js';
import { LIST_GROUPS, groupIds, groupListRequest, readPerGroup, selectGroups } from '../read/grouped-reader.js';
import { groupIdColumn, profileIdColumn } from '../read/group-members.js';
import { pushdown } from '../read/pushdown.js';
import { plannedRequest } from '../read/query.js';
import { LIST_SUPPRESSIONS_PATH, entryColumn, recheckEntryConditions, suppressionEntries } from '../read/suppressions.js';
import { rowFrom } from '../read/values.js';
import type { ColumnDef, ObjectDefinition, PlannedRequest, ReadPlan, ReadRequest, Row } from '../types.js';
import { profileColumn } from './list-members.js';

const REASON = entryColumn('Reason', 'string', LIST_SUPPRESSIONS_PATH, 'reason', 'Why the address is suppressed in the list (UNSUBSCRIBE ...)');
const TIMESTAMP = entryColumn('Timestamp', 'datetime', LIST_SUPPRESSIONS_PATH, 'timestamp', 'When the address was suppressed in the list');
const ENTRY_COLUMNS = [LIST_GROUPS.column, REASON.name, TIMESTAMP.name];

const COLUMNS: ColumnDef[] = [
  groupIdColumn(LIST_GROUPS, 'Id of the list the address is suppressed in'),
  profileIdColumn('Id of the suppressed profile', 'id'),
  profileColumn('Email'),
  REASON,
  TIMESTAMP,
];

/** Shown in --explain for the request repeated per list. */
const EACH_LIST = '{id}';

function plan(request: ReadRequest): ReadPlan {
  const def = ListExclusions;
  const conditions = [...request.where, ...sinceCondition(def, request.since)];
  const selection = selectGroups(conditions, LIST_GROUPS);
  const byName = columnMap(def, request.columns);
  const { filters, local, pushed } = pushdown('get_profiles', selection.rest, byName);
  const checks = recheckEntryConditions(local, pushed, ENTRY_COLUMNS);
  const needed = columnsNeeded(def, [...request.columns, REASON, TIMESTAMP], checks);
  const profileColumns = needed.filter((c) => !ENTRY_COLUMNS.includes(c.name));
  const queryFor = (listId: string) =>
    readQuery('get_profiles', { resourceType: 'profile' }, needed, [f.equals(`${LIST_SUPPRESSIONS_PATH}.list_id`, listId), ...filters]);

  const requests: PlannedRequest[] = [];
  if (selection.ids) {
    for (const id of selection.ids) requests.push(plannedRequest('get_profiles', queryFor(id), `profiles suppressed in list ${id}`));
  } else {
    requests.push(groupListRequest(LIST_GROUPS, 'every list, to read the suppressions of each'));
    requests.push(plannedRequest('get_profiles', queryFor(EACH_LIST), 'profiles suppressed in each list (one per list)', { repeat: null }));
  }
  const notes = ['Klaviyo matches a profile when any of its list suppressions satisfies the filter: klv keeps only the suppressions that do.'];
  if (selection.ids?.length === 0) notes.unshift('The ListId conditions name no list in common: nothing to read.');

  return {
    requests,
    localConditions: [...selection.localChecks, ...checks],
    notes,
    execute(client: KlaviyoClient, signal?: AbortSignal) {
      return readPerGroup(
        client,
        {
          groups: (c, s) => groupIds(c, LIST_GROUPS, selection, s),
          operationId: 'get_profiles',
          query: queryFor,
          *rowsOf(resource, listId): Iterable<Row> {
            const base = rowFrom(resource, profileColumns);
            for (const entry of suppressionEntries(resource, LIST_SUPPRESSIONS_PATH)) {
              if (entry.list_id !== listId) continue;
              yield { ...base, ListId: listId, Reason: entry.reason ?? null, Timestamp: entry.timestamp ?? null };
            }
          },
          oneRowPerResource: false,
          local: checks,
          byName,
          output: request.columns,
          limit: request.limit,
        },
        signal,
      );
    },
  };
}

export const ListExclusions: ObjectDefinition = {
  name: 'ListExclusions',
  aliases: ['list-suppressions', 'list-exclusion'],
  description: 'Email addresses suppressed in a single list (unsubscribed from it), per list',
  key: ['ListId', 'ProfileId'],
  columns: COLUMNS,
  operations: [],
  incremental: { column: 'Timestamp', serverSide: true },
  constraints: [
    "Read from profiles, one request per list: ListId = '...' or ListId in (...) reads those lists, otherwise klv reads every list.",
    'A list suppression only stops email from that list; PeopleExclusions holds the suppressions that stop all email.',
  ],
  plan,
};
