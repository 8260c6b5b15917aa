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

/** An instant as milliseconds, from what rows carry (ISO strings with an offset, Dates, epoch ms). */
export function instantMs(value: unknown): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  const ms = Date.parse(String(value));
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Where this run reads from: undefined (a full read) without a cursor, or for objects that have
 * no incremental column or one Klaviyo cannot filter (klv would read every row anyway, and a full
 * read lets the run see deletions too).
 */
export function readSince(def: ObjectDefinition, state: ReplicationState | null, lookbackMs: number, now: Date): Date | undefined {
  if (!def.incremental || !def.incremental.serverSide) return undefined;
  const cursor = instantMs(state?.cursor);
  if (cursor === undefined) return undefined;
  return new Date(Math.min(cursor, now.getTime()) - lookbackMs);
}

/** Tracks the largest incremental value seen during one object's read. */
export class CursorTracker {
  #max: number | undefined;
  constructor(private readonly column: string | undefined) {}
  see(row: Row): void {
    if (!this.column) return;
    const ms = instantMs(row[this.column]);
    if (ms !== undefined && (this.#max === undefined || ms > this.#max)) this.#max = ms;
  }
  get max(): number | undefined {
    return this.#max;
  }
}

/**
 * The cursor a completed run records: the largest value seen (or the previous cursor when this
 * run saw nothing newer), never beyond now, never before the previous cursor.
 */
export function nextCursor(previous: string | null | undefined, maxSeenMs: number | undefined, now: Date): string | null {
  const prev = instantMs(previous);
  const candidates = [prev, maxSeenMs].filter((v): v is number => v !== undefined);
  if (candidates.length === 0) return null;
  return new Date(Math.min(Math.max(...candidates), now.getTime())).toISOString();
}
