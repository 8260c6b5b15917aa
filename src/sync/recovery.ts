/**
 * Crash safety of the creates `klv sync` makes in Klaviyo: the pure decision, apart from I/O.
 *
 * A row created in the table has no Klaviyo Id; sync creates the record and writes the new Id back.
 * A run that dies in between (SIGKILL, a lost connection, a response that never came) leaves a
 * record in Klaviyo that the table does not know of: creating the row again would make it twice.
 * So before each create the engine commits a write-ahead intent (`_klv_sync_pending`: the row's
 * key, the values sent, the time), and writes the Id back and clears the intent in one transaction
 * after it. An intent still there on the next run means "maybe created". The engine reads every
 * record of the object at the start of each run anyway (Klaviyo cannot report deletions), so the
 * lookup is made on that read rather than by one more filtered request: a record is this row's
 * when it has the name sent, was created no earlier than the intent (less a margin for clocks),
 * and is not tied to any other row. One such record is adopted (its Id written back), none means
 * the create never happened, several are not guessed between: the row is reported and waits.
 */
import { epochMsFloor, instantOf } from '../core/timestamps.js';
import type { Norm, Values } from './spec.js';

export const PENDING_TABLE = '_klv_sync_pending';

/**
 * How much earlier than klv's clock said a record may be stamped by Klaviyo's: the two clocks
 * differ, and Klaviyo's timestamps have one-second resolution.
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** A create that was about to be sent, recorded before it was. */
export interface PendingCreate {
  rowKey: number;
  /** The name sent: what finds the record again. */
  name: Norm;
  /** The synchronized values sent: the last synchronized values of an adopted record. */
  values: Values;
  /** Hash of the write, as the map's last_error_hash would hold it. */
  attemptHash: string;
  /** When the intent was recorded (klv's clock), ISO 8601. */
  since: string;
}

/** A Klaviyo record no row is tied to: a candidate for a pending create. */
export interface UntiedRecord {
  id: string;
  name: Norm;
  /** Klaviyo's creation time; null when unknown (it then cannot be ruled out by time). */
  created: string | null;
}

/**
 * Where the intent's row stands now:
 *   open     in the table, not tied to a Klaviyo record that exists;
 *   tied     tied to an existing record (its Id written back, or put there by hand): nothing to recover;
 *   deleted  gone from the table since.
 */
export type RowState = 'open' | 'tied' | 'deleted';

export type Recovery =
  /** Exactly one record is the create's: tie the row to it (a deleted row's record is then deleted as usual). */
  | { kind: 'adopt'; intent: PendingCreate; id: string }
  /** No record: the create never happened. Drop the intent; an open row is created afresh. */
  | { kind: 'absent'; intent: PendingCreate }
  /** Several records could be it: report the row, create nothing, leave those records alone. */
  | { kind: 'ambiguous'; intent: PendingCreate; ids: string[] }
  /** The row is tied already: the intent is stale. */
  | { kind: 'obsolete'; intent: PendingCreate };

/** Whether `record` can be the one `intent`'s create made. */
export function couldBe(intent: PendingCreate, record: UntiedRecord, skewMs = CLOCK_SKEW_MS): boolean {
  if (intent.name === null || record.name !== intent.name) return false;
  if (record.created === null) return true;
  // Zoneless text is UTC (core/timestamps.ts), never the machine's zone.
  const created = instantOf(record.created);
  const since = instantOf(intent.since);
  if (created === undefined || since === undefined) return true;
  return epochMsFloor(created) >= epochMsFloor(since) - skewMs;
}

/**
 * One decision per intent. `records` are the Klaviyo records tied to no row. A record that could
 * be the create of two intents (two rows of the same name) belongs to neither with certainty: each
 * of them is ambiguous.
 */
export function decideRecoveries(pending: ReadonlyArray<{ intent: PendingCreate; row: RowState }>, records: readonly UntiedRecord[], skewMs = CLOCK_SKEW_MS): Recovery[] {
  const live = pending.filter((p) => p.row !== 'tied');
  const matches = new Map<PendingCreate, string[]>();
  const claims = new Map<string, number>();
  for (const { intent } of live) {
    const ids = records.filter((r) => couldBe(intent, r, skewMs)).map((r) => r.id);
    matches.set(intent, ids);
    for (const id of ids) claims.set(id, (claims.get(id) ?? 0) + 1);
  }
  return pending.map(({ intent, row }): Recovery => {
    if (row === 'tied') return { kind: 'obsolete', intent };
    const ids = matches.get(intent)!;
    if (ids.length === 0) return { kind: 'absent', intent };
    if (ids.length === 1 && claims.get(ids[0]!) === 1) return { kind: 'adopt', intent, id: ids[0]! };
    return { kind: 'ambiguous', intent, ids };
  });
}

/** The error-log message for an ambiguous recovery: what happened and what to do. */
export function ambiguityMessage(r: Extract<Recovery, { kind: 'ambiguous' }>): string {
  const name = JSON.stringify(r.intent.name);
  const found =
    r.ids.length === 1
      ? `Klaviyo's one record named ${name} created since then (${r.ids[0]}) could as well be the create of another row of the same name`
      : `Klaviyo now has ${r.ids.length} records named ${name} created since then that no row is tied to (${r.ids.join(', ')})`;
  return (
    `An earlier run stopped while creating this row in Klaviyo, and ${found}: klv cannot tell which is this row's, so it creates nothing ` +
    `and leaves those records out of the table. Put the right record's Id in this row's Id column, or delete the extra records in Klaviyo, ` +
    `then run klv sync again (records still tied to no row are then copied into the table as rows of their own).`
  );
}
