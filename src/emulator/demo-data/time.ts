/** Time helpers for the demo account: every time is derived from the store clock's "now". */
import { civilFromDays } from '../../core/timestamps.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** How far back the demo account's history goes. */
export const HISTORY_MS = 730 * DAY;

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** A calendar date (YYYY-MM-DD), as smart_send_time strategies and birthdays use. */
export function calendarDate(ms: number): string {
  const { year, month, day } = civilFromDays(Math.floor(ms / DAY));
  return `${year}-${pad2(month)}-${pad2(day)}`;
}

/**
 * Klaviyo's timestamp style: ISO 8601 to the second with an explicit +00:00 offset. Formatted
 * by hand because a million-profile scan formats ~10 times per profile and Date#toISOString
 * was most of the cost.
 */
export function klaviyoTime(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const days = Math.floor(seconds / 86400);
  const rest = seconds - days * 86400;
  const hours = Math.floor(rest / 3600);
  const minutes = Math.floor((rest % 3600) / 60);
  return `${calendarDate(days * DAY)}T${pad2(hours)}:${pad2(minutes)}:${pad2(rest % 60)}+00:00`;
}
