/**
 * Cursor logic of `klv replicate`: where each object's next read starts, and what the state
 * records once an object completed.
 *
 * The cursor is the largest value of the object's incremental column (Updated, UpdatedAt,
 * Datetime, Timestamp ...) a complete run saw. The next run reads from `cursor - lookback`:
 * Klaviyo's timestamps are written by many services and a record can become visible to the API
 * a little after the time it carries (events especially, which arrive late from integrations),
 * so a window is read again on every run. That is harmless because every write is an upsert.
 *
 * Default lookback: 7 days for Events (late and backfilled events are common: integrations send
 * orders hours or days after they happened), 1 hour for every other object (their timestamps are
 * set by Klaviyo when the change is saved; an hour covers clock skew and indexing delay with a
 * wide margin at a 15-minute schedule). `--lookback` overrides it for every object.
 *
 * Cursors in the future (a clock ahead somewhere, a bad timestamp in the data) are clamped to
 * now: otherwise one bad row would stop every later change from being read.
 */
import { UsageError } from '../core/errors.js';
import { compareInstants, epochMsFloor, type Instant, instantKey, instantOf, laterInstant } from '../core/timestamps.js';
import type { ObjectDefinition, Row } from '../objects/types.js';
import type { ReplicationState } from './destination.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const DEFAULT_LOOKBACK_MS: Readonly<Record<string, number>> = { Events: 7 * DAY };
export const DEFAULT_OTHER_LOOKBACK_MS = HOUR;

export function defaultLookbackMs(def: Pick<ObjectDefinition, 'name'>): number {
  return DEFAULT_LOOKBACK_MS[def.name] ?? DEFAULT_OTHER_LOOKBACK_MS;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: HOUR, d: DAY, w: 7 * DAY };

/** `--lookback 2h`, `7d`, `30m`, `0s` -> milliseconds. */
export function parseSpan(text: string, flag = '--lookback'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(text.trim());
  if (!m) throw new UsageError(`${flag} '${text}' is not a span.`, `Use a number and a unit: 30m, 2h, 7d, 1w (0s for none).`);
  return Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]!;
}

/**
 * Where this run reads from: undefined (a full read) without a cursor, or for objects that have
 * no incremental column or one Klaviyo cannot filter (klv would read every row anyway, and a full
 * read lets the run see deletions too).
 *
 * The cursor keeps every digit, but the `since` sent to Klaviyo is the cursor rounded down to the
 * millisecond (a Date) minus the lookback: rounding down only widens the window read again, so no
 * row is skipped, and the lookback re-reads that window on every run anyway (upserts make it
 * harmless).
 */
export function readSince(def: ObjectDefinition, state: ReplicationState | null, lookbackMs: number, now: Date): Date | undefined {
  if (!def.incremental || !def.incremental.serverSide) return undefined;
  const cursor = instantOf(state?.cursor);
  if (cursor === undefined) return undefined;
  return new Date(Math.min(epochMsFloor(cursor), now.getTime()) - lookbackMs);
}

/** Tracks the largest incremental value seen during one object's read, to the last digit. */
export class CursorTracker {
  #max: Instant | undefined;
  constructor(private readonly column: string | undefined) {}
  see(row: Row): void {
    if (!this.column) return;
    const instant = instantOf(row[this.column]);
    if (instant !== undefined) this.#max = this.#max === undefined ? instant : laterInstant(this.#max, instant);
  }
  get max(): Instant | undefined {
    return this.#max;
  }
}

/**
 * The cursor a completed run records: the largest value seen (or the previous cursor when this
 * run saw nothing newer), never beyond now, never before the previous cursor. Written with every
 * digit Klaviyo sent (`2024-05-13T08:01:45.276362Z`; milliseconds as `.000Z` as before), so the
 * next comparison is exact.
 */
export function nextCursor(previous: string | null | undefined, maxSeen: Instant | undefined, now: Date): string | null {
  const candidates = [instantOf(previous), maxSeen].filter((v): v is Instant => v !== undefined);
  if (candidates.length === 0) return null;
  const largest = candidates.reduce(laterInstant);
  const clock = instantOf(now);
  return instantKey(clock && compareInstants(largest, clock) > 0 ? clock : largest);
}
