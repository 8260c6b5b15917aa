/**
 * Klaviyo's datetimes, read and written without losing a digit. Pure functions, no Date in the
 * arithmetic.
 *
 * Klaviyo answers with microseconds (`2024-05-13T08:01:45.276362+00:00`) and, for some objects,
 * with space-separated datetimes (`2024-05-13 08:01:45`, maybe with a fraction and an offset).
 * JavaScript's Date holds milliseconds, so every value that went through it lost three digits:
 * exports, replicas and cursors were cut, and a microsecond value read back from a database no
 * longer compared equal to the one Klaviyo sent. Date.parse has a second trap: text without a
 * zone is read in the machine's zone when it has a space or a `T` and a time. Here:
 *
 * - An Instant is whole epoch seconds plus the fraction's digits as text (`'276362'`), as many as
 *   were written (up to 9: nanoseconds). Text cannot round, and keeping the digits as written
 *   lets the export repeat exactly what Klaviyo sent. Klaviyo sends at most 6 digits; 7 to 9 are
 *   kept here too (the export writes them), and databases, which hold microseconds, get them
 *   truncated to 6 (`storageInstant`), the same way on every path, so comparisons with what they
 *   give back stay exact.
 * - No zone means UTC (Klaviyo's convention), never the machine's zone. Zones: `Z`, `+HH:MM`,
 *   `+HHMM`, and `+HH` (PostgreSQL prints `+00`), at most 14 hours (the world's widest, Kiribati's
 *   +14:00), maybe after a space (`10:00:00 +02:00`, as Ruby and some spreadsheets write it).
 * - The fraction is 1 to 9 digits after a dot or a comma (ISO 8601 allows both).
 * - A date alone (`2024-05-13`) is a calendar date, not an instant: `parseDatetime` says so and the
 *   caller decides (the export keeps it as it is; a --where comparison takes midnight UTC).
 * - Years 0000-9999 only (what ISO text with four digits can spell); anything else is invalid.
 */

export interface Instant {
  /** Whole seconds since 1970-01-01T00:00:00Z (negative before). */
  readonly epochSeconds: number;
  /** The fraction of a second, its digits as written (0 to 9 of them, trailing zeros kept). */
  readonly fraction: string;
}

export type ParsedDatetime = { kind: 'instant'; instant: Instant } | { kind: 'date'; date: string };

/** Digits a database keeps (PostgreSQL timestamptz, MySQL DATETIME(6)): microseconds. */
export const STORAGE_DIGITS = 6;

const DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?)?$/;

/** The widest offset of any time zone (UTC+14:00, Kiribati). */
const MAX_OFFSET_HOURS = 14;

const DAY_SECONDS = 86_400;
const MIN_EPOCH_SECONDS = daysFromCivil(0, 1, 1) * DAY_SECONDS;
const MAX_EPOCH_SECONDS = (daysFromCivil(9999, 12, 31) + 1) * DAY_SECONDS - 1;

/**
 * Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil): plain
 * integer arithmetic, so year 0001 is not read as 1901 as Date.UTC would.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** The calendar date of a day count since 1970-01-01 (Hinnant's civil_from_days). */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Why a text that looks like an ISO 8601 datetime is none (undefined: it does not even look like one). */
export type DatetimeProblem = 'no such day' | 'no such time' | 'no such time zone offset' | 'out of range';

export type DatetimeReading = ParsedDatetime | { kind: 'invalid'; problem?: DatetimeProblem };

/**
 * Reads Klaviyo's (and a person's) datetime text: `YYYY-MM-DD`, then optionally `T` or a space,
 * `HH:MM[:SS[.f]]` (1 to 9 fraction digits) and a zone. Surrounding blanks are ignored. Anything
 * else is invalid, saying why when the text has the shape but names a day, a time or an offset
 * that does not exist (February 30, 25:00, +15:00): those are refused, never rolled over.
 */
export function readDatetime(text: string): DatetimeReading {
  const m = DATETIME.exec(text.trim());
  if (!m) return { kind: 'invalid' };
  const [, ys, mos, ds, hs, mis, ss, frac, z, sign, ohs, oms] = m;
  const year = Number(ys);
  const month = Number(mos);
  const day = Number(ds);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return { kind: 'invalid', problem: 'no such day' };
  if (hs === undefined) {
    return { kind: 'date', date: `${ys}-${mos}-${ds}` };
  }
  const hour = Number(hs);
  const minute = Number(mis);
  const second = ss === undefined ? 0 : Number(ss);
  if (hour > 23 || minute > 59 || second > 59) return { kind: 'invalid', problem: 'no such time' };
  let offsetSeconds = 0;
  if (sign !== undefined && z === undefined) {
    const oh = Number(ohs);
    const om = oms === undefined ? 0 : Number(oms);
    if (oh > MAX_OFFSET_HOURS || om > 59) return { kind: 'invalid', problem: 'no such time zone offset' };
    offsetSeconds = (sign === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const epochSeconds = daysFromCivil(year, month, day) * DAY_SECONDS + hour * 3600 + minute * 60 + second - offsetSeconds;
  if (epochSeconds < MIN_EPOCH_SECONDS || epochSeconds > MAX_EPOCH_SECONDS) return { kind: 'invalid', problem: 'out of range' };
  return { kind: 'instant', instant: { epochSeconds, fraction: frac ?? '' } };
}

/** As readDatetime, undefined for anything that is no datetime. */
export function parseDatetime(text: string): ParsedDatetime | undefined {
  const reading = readDatetime(text);
  return reading.kind === 'invalid' ? undefined : reading;
}

/** The instant of a datetime text; a date alone is midnight UTC only when `dateAsMidnight`. */
export function parseInstant(text: string, options: { dateAsMidnight?: boolean } = {}): Instant | undefined {
  const parsed = parseDatetime(text);
  if (!parsed) return undefined;
  if (parsed.kind === 'instant') return parsed.instant;
  return options.dateAsMidnight ? (parseDatetime(`${parsed.date}T00:00:00Z`) as { instant: Instant }).instant : undefined;
}

/** An instant from epoch milliseconds (Date, Clock): three fraction digits. */
export function instantFromEpochMs(ms: number): Instant | undefined {
  if (!Number.isFinite(ms)) return undefined;
  const whole = Math.floor(ms);
  const epochSeconds = Math.floor(whole / 1000);
  if (epochSeconds < MIN_EPOCH_SECONDS || epochSeconds > MAX_EPOCH_SECONDS) return undefined;
  return { epochSeconds, fraction: String(whole - epochSeconds * 1000).padStart(3, '0') };
}

/**
 * The instant a value stands for, whatever form a row carries it in: text (as parseInstant),
 * a Date, or epoch milliseconds. Undefined for null, empty and anything unreadable.
 */
export function instantOf(value: unknown, options: { dateAsMidnight?: boolean } = {}): Instant | undefined {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Date) return instantFromEpochMs(value.getTime());
  if (typeof value === 'number') return instantFromEpochMs(value);
  if (typeof value === 'string') return parseInstant(value, options);
  return undefined;
}

/** Milliseconds since the epoch, rounded down (the sub-millisecond digits are cut). */
export function epochMsFloor(instant: Instant): number {
  return instant.epochSeconds * 1000 + Number(instant.fraction.slice(0, 3).padEnd(3, '0'));
}

/** Whether the instant has digits beyond the millisecond that are not zero (a Date cannot hold it). */
export function hasSubMillisecond(instant: Instant): boolean {
  return /[1-9]/.test(instant.fraction.slice(3));
}

/** -1, 0 or 1 as `a` is before, at or after `b`, to the last digit. */
export function compareInstants(a: Instant, b: Instant): -1 | 0 | 1 {
  if (a.epochSeconds !== b.epochSeconds) return a.epochSeconds < b.epochSeconds ? -1 : 1;
  const fa = a.fraction.padEnd(9, '0');
  const fb = b.fraction.padEnd(9, '0');
  return fa === fb ? 0 : fa < fb ? -1 : 1;
}

/** The later of two instants (the first when they are the same instant). */
export function laterInstant(a: Instant, b: Instant): Instant {
  return compareInstants(b, a) > 0 ? b : a;
}

/** The instant with at most `digits` fraction digits, the rest cut (never rounded up into the next second). */
export function truncateInstant(instant: Instant, digits: number): Instant {
  return instant.fraction.length <= digits ? instant : { epochSeconds: instant.epochSeconds, fraction: instant.fraction.slice(0, digits) };
}

/** The instant as a database holds it: microseconds. */
export function storageInstant(instant: Instant): Instant {
  return truncateInstant(instant, STORAGE_DIGITS);
}

const pad2 = (n: number) => String(n).padStart(2, '0');

export interface FormatOptions {
  /**
   * Fraction digits: undefined keeps the instant's digits (an all-zero fraction dropped, as the
   * export has always done); a number writes exactly that many (cut or padded with zeros), which
   * gives text of a fixed width that sorts as time; 'groups' writes milliseconds, microseconds or
   * nanoseconds, as few as hold the fraction, none when it is zero (the export's spelling of
   * Klaviyo's values, which carry 0, 3 or 6 digits, once their own digits are gone).
   */
  digits?: number | 'groups';
  /** `T` (ISO 8601, the default) or a space (MySQL's DATETIME literal). */
  separator?: 'T' | ' ';
  /** Write the `Z` (default) or nothing (MySQL's DATETIME has no zone; klv's sessions are in UTC). */
  zone?: boolean;
}

/** `YYYY-MM-DDTHH:MM:SS[.fraction]Z` in UTC. */
export function formatInstant(instant: Instant, options: FormatOptions = {}): string {
  const days = Math.floor(instant.epochSeconds / DAY_SECONDS);
  const secondOfDay = instant.epochSeconds - days * DAY_SECONDS;
  const { year, month, day } = civilFromDays(days);
  const time = `${pad2(Math.floor(secondOfDay / 3600))}:${pad2(Math.floor((secondOfDay % 3600) / 60))}:${pad2(secondOfDay % 60)}`;
  let fraction: string;
  if (options.digits === undefined) fraction = /^0*$/.test(instant.fraction) ? '' : instant.fraction;
  else if (options.digits === 'groups') fraction = groupedFraction(instant.fraction, 0);
  else fraction = instant.fraction.slice(0, options.digits).padEnd(options.digits, '0');
  const date = `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}`;
  return `${date}${options.separator ?? 'T'}${time}${fraction ? `.${fraction}` : ''}${options.zone === false ? '' : 'Z'}`;
}

/**
 * The one spelling of an instant that two values share exactly when they are the same instant,
 * for values whose original digits are gone (read back from a database) and for comparisons of
 * values from different sources: JavaScript's toISOString extended to smaller units, i.e. the
 * fraction in groups of three digits, as few as hold it (`.000`, `.276`, `.276360`, `.276362189`).
 * Millisecond values are spelled exactly as klv spelled them before it kept microseconds.
 */
export function instantKey(instant: Instant): string {
  const fraction = groupedFraction(instant.fraction, 3);
  return formatInstant({ epochSeconds: instant.epochSeconds, fraction }, { digits: fraction.length });
}

/** The fraction in whole groups of three digits, as few as hold its significant digits, at least `min` digits. */
function groupedFraction(fraction: string, min: number): string {
  const significant = fraction.replace(/0+$/, '');
  const width = Math.max(min, Math.ceil(significant.length / 3) * 3);
  return significant.padEnd(width, '0');
}

/**
 * Datetime text in klv's spelling: UTC, `T`, `Z`, the fraction's digits as sent (an all-zero one
 * dropped); a date alone and text that is no datetime come back as they are.
 */
export function normalizeDatetimeText(text: string): string {
  const parsed = parseDatetime(text);
  return parsed?.kind === 'instant' ? formatInstant(parsed.instant) : text;
}
