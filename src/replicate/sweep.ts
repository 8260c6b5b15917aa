/**
 * Deletions. Klaviyo's list endpoints cannot say what was deleted, so `klv replicate` finds
 * deletions by reading every live key (an id-only read: the key columns alone become a sparse
 * fieldset, so pages are small and as large as the endpoint allows) and marking the rows whose
 * key is gone (`Destination.reconcileDeletions`).
 *
 * When: `--sweep-deletes always|never|<hours>`, else per object:
 * - objects read in full on every run (no incremental column, or one Klaviyo cannot filter:
 *   Tags, Coupons, CouponCodes, Metrics, CatalogItems) are reconciled from that read itself,
 *   with no extra request;
 * - small incremental objects (Campaigns, EmailTemplates, Lists, Segments, Flows) are swept on
 *   every run: a few requests each;
 * - memberships and suppressions (ListMembers, SegmentMembers, PeopleExclusions, ListExclusions)
 *   once a day: their id-only read costs a request per 100 rows;
 * - Profiles and Events only when asked (`--sweep-deletes`): an account's profiles and events
 *   are millions of rows, and Klaviyo deletes them only on a data-privacy request.
 * A table created by this run needs no sweep: its rows are exactly what was read.
 *
 * The mass-deletion guard: Klaviyo's answer is the only evidence of a deletion, and an answer
 * that is wrong in bulk (an endpoint answering an empty page, a key with narrower scopes, a
 * filter bug) would mark a whole table deleted, or remove it with --hard-deletes. A sweep that
 * would mark every live row of a table while reading no key at all, or more than half of the
 * live rows of a table of MASS_DELETION_MIN_ROWS rows or more, is refused: nothing is marked,
 * the run warns and exits 3, and `--allow-mass-deletes` accepts it once it is known to be true.
 *
 * Cascades: a list's memberships (ListMembers) and a segment's (SegmentMembers) go with it. The
 * sweep of Lists or Segments marks the members of the lists or segments it finds deleted, in the
 * same transaction, rather than leaving them live until the daily membership sweep.
 *
 * Only a complete read is evidence: a key missing from a read that failed or left a part out
 * proves nothing. The destination marks rows only once the keys have been read to their end, so
 * a read that throws marks nothing; a read that left a part out without failing (the members of
 * a list deleted while the sweep read them, ReadReport) ends its keys with IncompleteSweepError,
 * which marks nothing either and which the engine reports as a warning. Both leave the last
 * sweep time where it was, so the next run looks again.
 */
import { KlvError, UsageError } from '../core/errors.js';
import { epochMsFloor, instantOf } from '../core/timestamps.js';
import type { KlaviyoClient } from '../klaviyo/client.js';
import type { ObjectDefinition, ReadReport, Row } from '../objects/types.js';
import type { ReplicationState, SweepCascade, SweepCheck } from './destination.js';
import { keyColumns, tableName } from './table-spec.js';

/** `--sweep-deletes`: always, never, or at most every N hours; undefined: per object (above). */
export type SweepSetting = 'always' | 'never' | { hours: number } | undefined;

export type SweepPolicy = 'from-read' | 'every-run' | 'daily' | 'on-request';

const DAILY = new Set(['ListMembers', 'SegmentMembers', 'PeopleExclusions', 'ListExclusions']);
const ON_REQUEST = new Set(['Profiles', 'Events']);

export function parseSweepSetting(text: string | undefined): SweepSetting {
  if (text === undefined) return undefined;
  const t = text.trim().toLowerCase();
  if (t === 'always' || t === 'never') return t;
  const m = /^(\d+(?:\.\d+)?)\s*h?$/.exec(t);
  if (m) return { hours: Number(m[1]) };
  throw new UsageError(`--sweep-deletes '${text}' is not always, never or a number of hours.`, 'Use e.g. --sweep-deletes always, --sweep-deletes never or --sweep-deletes 24.');
}

/** Whether the object is read in full on every run (so its read itself shows deletions). */
export function readsInFull(def: ObjectDefinition): boolean {
  return !def.incremental || !def.incremental.serverSide;
}

export function sweepPolicy(def: ObjectDefinition): SweepPolicy {
  if (readsInFull(def)) return 'from-read';
  if (ON_REQUEST.has(def.name)) return 'on-request';
  if (DAILY.has(def.name)) return 'daily';
  return 'every-run';
}

/** Whether this run looks for deletions of the object. */
export function sweepDue(def: ObjectDefinition, setting: SweepSetting, state: ReplicationState | null, now: Date): boolean {
  if (setting === 'never') return false;
  if (setting === 'always') return true;
  // Zoneless text is UTC (core/timestamps.ts), never the machine's zone; unreadable means never.
  const lastSweep = instantOf(state?.lastSweepAt);
  const last = lastSweep === undefined ? undefined : epochMsFloor(lastSweep);
  const olderThan = (hours: number) => last === undefined || now.getTime() - last >= hours * 3_600_000;
  if (setting !== undefined) return olderThan(setting.hours);
  switch (sweepPolicy(def)) {
    case 'from-read':
    case 'every-run':
      return true;
    case 'daily':
      return olderThan(24);
    case 'on-request':
      return false;
  }
}

/**
 * A sweep's read that left a part out: its keys are not every live key, so nothing is marked.
 * `skipped` names each part and why (`the members of list Y6nRLr: Klaviyo answered 404 ...`).
 */
export class IncompleteSweepError extends KlvError {
  constructor(
    readonly object: string,
    readonly skipped: readonly string[],
  ) {
    super(`${object}: deletions not checked, the id-only read was incomplete (${skipped.join('; ')})`, {
      hint: 'Nothing was marked deleted; the next run checks again.',
    });
  }
}

/**
 * Every live key of the object, read id-only (sparse fieldsets, largest pages), archived records
 * included (an archived campaign or flow is not deleted). When the read leaves a part out, the
 * keys stop there and end with IncompleteSweepError: the rest could not make the sweep whole.
 */
export async function* liveKeys(def: ObjectDefinition, client: KlaviyoClient, signal?: AbortSignal): AsyncIterable<Row> {
  const plan = def.plan({ columns: keyColumns(def), where: [], options: { includeArchived: true } });
  const skipped: string[] = [];
  const report: ReadReport = { skipped: (part, reason) => void skipped.push(`${part}: ${reason}`) };
  for await (const row of plan.execute(client, signal, report)) {
    if (skipped.length > 0) break;
    const key: Row = {};
    for (const k of def.key) key[k] = row[k];
    yield key;
  }
  if (skipped.length > 0) throw new IncompleteSweepError(def.name, skipped);
}

export async function* fromArray(rows: readonly Row[]): AsyncIterable<Row> {
  yield* rows;
}

/** Below this many live rows, a sweep may mark more than half of a table (a few lists cleaned up). */
export const MASS_DELETION_MIN_ROWS = 10;
/** A sweep that would mark more than this fraction of a larger table's live rows is refused. */
export const MASS_DELETION_FRACTION = 0.5;

/**
 * Why a sweep looks like a bad answer rather than real deletions, or null when it looks sound.
 * Only live rows count: rows marked earlier are not at stake again.
 */
export function massDeletionReason(check: SweepCheck): string | null {
  if (check.absent === 0) return null;
  if (check.liveKeys === 0) return `Klaviyo listed no record at all, and the table has ${check.liveRows.toLocaleString('en-US')} live rows`;
  if (check.liveRows >= MASS_DELETION_MIN_ROWS && check.absent > check.liveRows * MASS_DELETION_FRACTION) {
    const pct = Math.round((check.absent / check.liveRows) * 100);
    return `${check.absent.toLocaleString('en-US')} of the table's ${check.liveRows.toLocaleString('en-US')} live rows (${pct}%) are missing from Klaviyo's ${check.liveKeys.toLocaleString('en-US')} records, more than ${Math.round(MASS_DELETION_FRACTION * 100)}% in one sweep`;
  }
  return null;
}

/** Child objects whose rows go with a deleted parent: ListMembers with Lists, SegmentMembers with Segments. */
const CASCADES: Readonly<Record<string, ReadonlyArray<{ object: string; column: string }>>> = {
  Lists: [{ object: 'ListMembers', column: 'ListId' }],
  Segments: [{ object: 'SegmentMembers', column: 'SegmentId' }],
};

/** The child tables a sweep of `def` cascades to (the destination skips those it does not have). */
export function sweepCascades(def: Pick<ObjectDefinition, 'name'>, tablePrefix = ''): SweepCascade[] {
  return (CASCADES[def.name] ?? []).map((c) => ({ table: tableName({ name: c.object }, tablePrefix), column: c.column }));
}
