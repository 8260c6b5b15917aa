/** Time helpers for the demo account: every time is derived from the store clock's "now". */

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** How far back the demo account's history goes. */
export const HISTORY_MS = 730 * DAY;

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** [year, month 1-12, day] of a day count since 1970-01-01 (Hinnant's civil_from_days). */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

/** A calendar date (YYYY-MM-DD), as smart_send_time strategies and birthdays use. */
export function calendarDate(ms: number): string {
  const [year, month, day] = civilFromDays(Math.floor(ms / DAY));
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
