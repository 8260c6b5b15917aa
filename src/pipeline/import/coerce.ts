/**
 * Cell coercion for `klv import`: the text of one CSV cell turned into the value a handler sends
 * to Klaviyo, or a short reason why it cannot be. Pure functions, no I/O: every cell of every row
 * goes through here before anything is sent, so a row Klaviyo would refuse fails locally with a
 * message that says which value and why ("'abc' is not an email address").
 *
 * - An empty cell (or one of spaces) means "not given": the field is left as it is in Klaviyo.
 * - The `--null-value` token means "clear this field" (null). An empty token makes every empty
 *   cell a null.
 * - Values come out in Klaviyo's spelling: datetimes ISO 8601 in UTC with `Z`, phone numbers
 *   E.164 without spaces, enum values in their canonical case, JSON parsed.
 */
import { formatInstant, parseInstant, readDatetime, storageInstant } from '../../core/timestamps.js';
import { normalizeName } from '../../objects/names.js';
import type { ColumnDef } from '../../objects/types.js';

export type CoerceResult = { ok: true; value: unknown | undefined } | { ok: false; reason: string };

export interface CoerceOptions {
  /** The cell text that means "clear this field" (--null-value). */
  nullToken?: string;
}

/** The part of a column coercion needs (`Properties.<name>` columns carry no more). */
export type CoerceColumn = Pick<ColumnDef, 'name' | 'type' | 'enum'>;

const NOT_GIVEN: CoerceResult = { ok: true, value: undefined };
const NULL: CoerceResult = { ok: true, value: null };

export function coerceCell(text: string, column: CoerceColumn, opts: CoerceOptions = {}): CoerceResult {
  const trimmed = text.trim();
  if (opts.nullToken !== undefined && trimmed === opts.nullToken.trim()) return NULL;
  if (trimmed === '') return NOT_GIVEN;
  if (column.enum && column.enum.length > 0 && (column.type === 'string' || column.type === 'id')) {
    return coerceEnum(trimmed, column.enum);
  }
  switch (column.type) {
    case 'string':
      // Text is kept exactly as written: spaces can be meaningful (and a spreadsheet shows them).
      return { ok: true, value: text };
    case 'id':
      return { ok: true, value: trimmed };
    case 'email':
      return coerceEmail(trimmed);
    case 'phone':
      return coercePhone(trimmed);
    case 'datetime':
      return coerceDatetime(trimmed);
    case 'integer':
      return coerceInteger(trimmed);
    case 'number':
      return coerceNumber(trimmed);
    case 'boolean':
      return coerceBoolean(trimmed);
    case 'json':
      return coerceJson(trimmed, column.name);
    default:
      return { ok: true, value: text };
  }
}

/** The cell as quoted in a message: long ones shortened, so that a log line stays readable. */
export function quote(text: string): string {
  const oneLine = text.replace(/\r?\n/g, '\\n');
  return `'${oneLine.length > 60 ? `${oneLine.slice(0, 57)}...` : oneLine}'`;
}

const fail = (reason: string): CoerceResult => ({ ok: false, reason });

// Local part: RFC 5322 "atext" plus dots (not first, not last, not doubled); non-ASCII letters
// are allowed for internationalised addresses. Domain: dot-separated labels of letters, digits
// and inner hyphens, ending in a top-level domain of two letters or more (or an IDN in punycode).
// Plain ASCII addresses, nearly all of them, take a faster equivalent without Unicode classes.
const ASCII_EMAIL =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$/;
const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;
const LOCAL = /^[^\s@"(),:;<>[\]\\.]+(?:\.[^\s@"(),:;<>[\]\\.]+)*$/u;
const LABEL = /^(?!-)[\p{L}\p{N}-]{1,63}(?<!-)$/u;
const TLD = /^(?:\p{L}{2,63}|xn--[a-z0-9-]{1,59})$/iu;

export function coerceEmail(text: string): CoerceResult {
  const bad = fail(`${quote(text)} is not an email address`);
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1 || text.length > 254 || at > 64) return bad;
  const local = text.slice(0, at);
  const domain = text.slice(at + 1).toLowerCase();
  if (PRINTABLE_ASCII.test(text)) {
    if (!ASCII_EMAIL.test(text)) return bad;
  } else {
    if (!LOCAL.test(local)) return bad;
    const labels = domain.split('.');
    if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || !TLD.test(labels[labels.length - 1])) return bad;
  }
  // Domains are case-insensitive, local parts in theory not: only the domain is lowercased.
  return { ok: true, value: `${local}@${domain}` };
}

const E164 = /^\+[1-9]\d{6,14}$/;

export function coercePhone(text: string): CoerceResult {
  // People write +1 (500) 555-0006 or +44 20 7946 0958: the punctuation carries no meaning.
  const compact = text.replace(/[\s\-().]/g, '');
  if (E164.test(compact)) return { ok: true, value: compact };
  return fail(`${quote(text)} is not a valid phone number; use E.164: +15005550006`);
}

/**
 * ISO 8601 date or date-time (core/timestamps reads it). A time without a zone is UTC, as Klaviyo
 * reads it (never the machine's zone: an import must mean the same thing wherever it runs); a date
 * alone is midnight UTC. Impossible dates (2026-02-30, 25:00) are refused rather than rolled over.
 * The value goes to Klaviyo in UTC with every digit it keeps, microseconds (`.276362`), spelled in
 * groups of three (`.5` is `.500`, as klv always wrote milliseconds); digits beyond are cut.
 */
export function coerceDatetime(text: string): CoerceResult {
  const reading = readDatetime(text);
  if (reading.kind === 'invalid') {
    const why = reading.problem === undefined || reading.problem === 'out of range' ? '' : ` (${reading.problem})`;
    return fail(`${quote(text)} is not a date${why}; use ISO 8601: 2026-07-15 or 2026-07-15T10:00:00Z`);
  }
  const instant = reading.kind === 'instant' ? reading.instant : parseInstant(reading.date, { dateAsMidnight: true })!;
  return { ok: true, value: formatInstant(storageInstant(instant), { digits: 'groups' }) };
}

export function coerceInteger(text: string): CoerceResult {
  // 5.0 is what spreadsheets write for a whole number in a number-formatted column.
  if (/^[+-]?\d+(?:\.0*)?$/.test(text)) {
    const n = Number(text);
    if (Number.isSafeInteger(n)) return { ok: true, value: n };
    return fail(`${quote(text)} is too large a whole number`);
  }
  return fail(`${quote(text)} is not a whole number`);
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

export function coerceNumber(text: string): CoerceResult {
  if (NUMBER.test(text)) {
    const n = Number(text);
    if (Number.isFinite(n)) return { ok: true, value: n };
  }
  if (/^[+-]?\d+,\d+$/.test(text)) return fail(`${quote(text)} is not a number; write decimals with a dot: ${text.replace(',', '.')}`);
  return fail(`${quote(text)} is not a number`);
}

const TRUE = new Set(['true', 'yes', '1']);
const FALSE = new Set(['false', 'no', '0']);

export function coerceBoolean(text: string): CoerceResult {
  const t = text.toLowerCase();
  if (TRUE.has(t)) return { ok: true, value: true };
  if (FALSE.has(t)) return { ok: true, value: false };
  return fail(`${quote(text)} is not true or false (use true/false, yes/no or 1/0)`);
}

/** Case-insensitive, then ignoring spaces, underscores and hyphens (`double opt-in`), to the canonical spelling. */
export function coerceEnum(text: string, allowed: readonly string[]): CoerceResult {
  const lower = text.toLowerCase();
  const exact = allowed.find((a) => a.toLowerCase() === lower);
  if (exact !== undefined) return { ok: true, value: exact };
  const n = normalizeName(text);
  const loose = allowed.filter((a) => normalizeName(a) === n);
  if (loose.length === 1) return { ok: true, value: loose[0] };
  return fail(`${quote(text)} is not one of: ${allowed.join(', ')}`);
}

/**
 * JSON columns. `Properties` (custom properties) must be an object. A single custom property
 * (`Properties.tier`) takes JSON when the cell is JSON (a number, true, an object) and the text
 * as it is otherwise: `gold` and `02134` are strings, as `klv export` writes them.
 */
export function coerceJson(text: string, columnName: string): CoerceResult {
  if (columnName.startsWith('Properties.')) {
    // Most such cells are plain text (`gold`): a JSON.parse that throws costs a SyntaxError per
    // cell, which dominated a large import. JSON text can only start with one of a few
    // characters or words, so anything else is text, left unparsed.
    if (!mayBeJson(text)) return { ok: true, value: text };
    try {
      const v: unknown = JSON.parse(text);
      // Beyond 2^53 a number would silently change: keep the digits.
      if (typeof v === 'number' && !(Number.isSafeInteger(v) || !Number.isInteger(v))) return { ok: true, value: text };
      return { ok: true, value: v };
    } catch {
      return { ok: true, value: text };
    }
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    const why = err instanceof SyntaxError ? err.message.replace(/^JSON\.parse: /, '').replace(/ in JSON at position \d+.*$/s, '') : 'invalid';
    return fail(
      columnName === 'Properties'
        ? `${quote(text)} is not JSON (${why}); Properties takes an object like {"tier":"gold"}`
        : `${quote(text)} is not valid JSON (${why})`,
    );
  }
  if (columnName === 'Properties' && (v === null || typeof v !== 'object' || Array.isArray(v))) {
    return fail(`${quote(text)} is not a JSON object; Properties takes an object like {"tier":"gold"}`);
  }
  return { ok: true, value: v };
}

/**
 * Whether text could be a JSON text: after JSON whitespace, a number (`-` or a digit), a string,
 * an object, an array, or true, false or null. False means JSON.parse would certainly throw.
 */
function mayBeJson(text: string): boolean {
  let i = 0;
  // JSON's own whitespace, for a caller that did not trim.
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  const c = text.charCodeAt(i);
  // { [ " - 0-9
  if (c === 0x7b || c === 0x5b || c === 0x22 || c === 0x2d || (c >= 0x30 && c <= 0x39)) return true;
  const word = i === 0 ? text : text.slice(i);
  return word.startsWith('true') || word.startsWith('false') || word.startsWith('null');
}
