/**
 * PeopleExclusions: global email suppressions (who Klaviyo will not email at all, and why).
 * Klaviyo has no suppression list endpoint: klv reads GET /api/profiles with
 * `additional-fields[profile]=subscriptions` and one filtered request per reason
 * (`equals(subscriptions.email.marketing.suppression.reason,'HARD_BOUNCE')` ...), as the Singer
 * tap does, asking only for the email and the suppressions (sparse fieldsets). A profile
 * suppressed for two reasons gives two rows, one from each reason's request: no de-duplication
 * in memory is needed.
 */
import type { KlaviyoClient } from '../../klaviyo/client.js';
import { filter as f } from '../../klaviyo/filter-builder.js';
import { columnMap, columnsNeeded, readQuery, sinceCondition } from '../read/collection-reader.js';
import { readPerGroup } from '../read/grouped-reader.js';
import { pushdown } from '../read/pushdown.js';
import { plannedRequest } from '../read/query.js';
import {
  SUPPRESSION_PATH,
  SUPPRESSION_REASONS,
  entryColumn,
  recheckEntryConditions,
  suppressionEntries,
} from '../read/suppressions.js';
import { matchesCondition, rowFrom } from '../read/values.js';
import type { ColumnDef, ObjectDefinition, ReadPlan, ReadRequest, Row } from '../types.js';
import { profileIdColumn } from '../read/group-members.js';
import { peopleExclusionsDelete, peopleExclusionsInsert } from '../write/people-exclusions.js';
import { profileColumn, writable } from './list-members.js';

const REASON = entryColumn('Reason', 'string', SUPPRESSION_PATH, 'reason', 'Why the address is suppressed: HARD_BOUNCE, INVALID_EMAIL, SPAM_COMPLAINT, UNSUBSCRIBE or USER_SUPPRESSED', {
  enum: SUPPRESSION_REASONS,
});
const TIMESTAMP = entryColumn('Timestamp', 'datetime', SUPPRESSION_PATH, 'timestamp', 'When the address was suppressed');

const COLUMNS: ColumnDef[] = [writable(profileIdColumn('Id of the suppressed profile', 'id')), profileColumn('Email'), REASON, TIMESTAMP];

function plan(request: ReadRequest): ReadPlan {
  const def = PeopleExclusions;
  const conditions = [...request.where, ...sinceCondition(def, request.since)];
  // Reason conditions choose the per-reason requests; a reason they exclude costs nothing.
  const reasonConditions = conditions.filter((c) => c.column === REASON.name);
  const reasons = SUPPRESSION_REASONS.filter((r) => reasonConditions.every((c) => matchesCondition({ Reason: r }, c, REASON)));
  const rest = conditions.filter((c) => c.column !== REASON.name);
  const byName = columnMap(def, request.columns);
  const { filters, local, pushed } = pushdown('get_profiles', rest, byName);
  const checks = recheckEntryConditions(local, pushed, [TIMESTAMP.name]);
  // The rows are built from the suppression entries, so they are always read.
  const needed = columnsNeeded(def, [...request.columns, REASON, TIMESTAMP], checks);
  const profileColumns = needed.filter((c) => c.name !== REASON.name && c.name !== TIMESTAMP.name);
  const source = { resourceType: 'profile' };
  const queryFor = (reason: string) => readQuery('get_profiles', source, needed, [f.equals(`${SUPPRESSION_PATH}.reason`, reason), ...filters]);

  return {
    requests: reasons.map((r) => plannedRequest('get_profiles', queryFor(r), `profiles suppressed for ${r}`)),
    localConditions: checks,
    notes:
      reasons.length === 0
        ? ['The Reason conditions exclude every suppression reason: nothing to read.']
        : ['Klaviyo matches a profile when any of its suppressions satisfies the filter: klv keeps only the suppressions that do.'],
    execute(client: KlaviyoClient, signal?: AbortSignal) {
      return readPerGroup(
        client,
        {
          groups: async function* () {
            yield* reasons;
          },
          operationId: 'get_profiles',
          query: queryFor,
          *rowsOf(resource, reason): Iterable<Row> {
            const base = rowFrom(resource, profileColumns);
            for (const entry of suppressionEntries(resource, SUPPRESSION_PATH)) {
              if (entry.reason !== reason) continue;
              yield { ...base, Reason: entry.reason, Timestamp: entry.timestamp ?? null };
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

export const PeopleExclusions: ObjectDefinition = {
  name: 'PeopleExclusions',
  aliases: ['global-exclusions', 'suppressions', 'global-suppressions', 'people-exclusion'],
  description: 'Globally suppressed email addresses (bounces, unsubscribes, spam complaints ...) and why',
  key: ['ProfileId', 'Reason'],
  columns: COLUMNS,
  operations: ['insert', 'delete'],
  write: { insert: peopleExclusionsInsert, delete: peopleExclusionsDelete },
  incremental: { column: 'Timestamp', serverSide: true },
  constraints: [
    'Read from profiles: one request per suppression reason (HARD_BOUNCE, INVALID_EMAIL, SPAM_COMPLAINT, UNSUBSCRIBE, USER_SUPPRESSED); Reason = or in reads only those.',
    'A profile suppressed for several reasons gives one row per reason.',
    'Klaviyo can lift only USER_SUPPRESSED suppressions through the API; bounces, invalid addresses and unsubscribes stay: import delete refuses such rows with the reason, without sending them.',
    'Import insert suppresses and delete unsuppresses, 100 addresses a job; klv waits for each job and reads the addresses again, so a row succeeds only when Klaviyo\'s data shows the change.',
  ],
  plan,
};
