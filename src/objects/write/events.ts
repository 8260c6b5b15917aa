/**
 * Events: insert, through `POST /api/event-bulk-create-jobs` (up to 1,000 events and 5 MB a
 * request). The body groups events per profile, as the spec's shape requires: one
 * `event-bulk-create` entry per profile (ProfileId, Email, PhoneNumber, ExternalId) holding its
 * events. The metric is named (MetricName; Klaviyo creates it when missing); Datetime is the
 * event's `time`, Value its `value`, Properties (and `Properties.<name>` columns) its properties.
 *
 * Never twice: every event carries a `unique_id`, and Klaviyo records one event per profile,
 * metric and unique id. The UniqueId column gives it; without one, klv derives it from the row:
 * `klv-` + the first 40 hex digits of SHA-256 over the canonical JSON of the `--unique-by`
 * columns' values (default: every column the row gives), as `[["Column", value], ...]` sorted by
 * column name, values as the mapping layer coerced them (datetimes in UTC ISO form, Datetime to
 * the millisecond as klv always hashed it, numbers, parsed JSON with keys sorted). The same row gives the same id on every run and machine, so
 * importing a file twice, or resuming, records each event once: the handler is idempotent.
 *
 * Klaviyo refuses a whole bulk request when it holds the same unique id twice for one profile
 * and metric, so a repeated row within a batch fails (`duplicate_row`) before anything is sent;
 * repeats in different batches are deduplicated by Klaviyo itself.
 *
 * The endpoint answers 202 with no job to poll: a success row means Klaviyo accepted the event
 * (status `created`, the unique id in the log's UniqueId column); Klaviyo has no event id yet.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, isPlainObject } from '../../core/json.js';
import { epochMsFloor, hasSubMillisecond, parseInstant, type Instant } from '../../core/timestamps.js';
import { normalizeName } from '../names.js';
import { sendIsolating } from './bulk-isolate.js';
import { fail } from './content-common.js';
import type { ImportOptions, ImportRow, OperationHandler, RowFailure, RowOutcome, WriteContext, WriteHandlers } from './types.js';

export const EVENTS_MAX_PER_REQUEST = 1_000;
/** 5 MB less room for the envelope. */
export const EVENTS_MAX_BYTES = 5_000_000 - 4_096;
/** Klaviyo: any string at most 100 KB; a metric name under 128 characters. */
const STRING_MAX_BYTES = 100 * 1024;
const METRIC_NAME_MAX = 127;
const YEAR_MS = 365 * 24 * 3600_000;
const EARLIEST = Date.UTC(1990, 0, 1);
const PROPERTY_PREFIX = 'Properties.';

/** The columns an event row can give, with the names --unique-by also accepts. */
const EVENT_COLUMNS: ReadonlyArray<{ name: string; aliases: readonly string[] }> = [
  { name: 'ProfileId', aliases: ['profile_id'] },
  { name: 'Email', aliases: ['email', '$email'] },
  { name: 'PhoneNumber', aliases: ['phone_number', 'phone', '$phone_number'] },
  { name: 'ExternalId', aliases: ['external_id', '$id'] },
  { name: 'MetricName', aliases: ['metric_name', 'metric'] },
  { name: 'Datetime', aliases: ['datetime', 'time'] },
  { name: 'Value', aliases: ['$value', 'value'] },
  { name: 'Properties', aliases: ['event_properties', 'properties'] },
  { name: 'UniqueId', aliases: ['unique_id'] },
];

const PROFILE_FIELDS: ReadonlyArray<[column: string, attribute: string]> = [
  ['Email', 'email'],
  ['PhoneNumber', 'phone_number'],
  ['ExternalId', 'external_id'],
];

/** A --unique-by name as the column it means (`metric_name` -> MetricName), or undefined. */
export function eventColumnName(name: string): string | undefined {
  const trimmed = name.trim();
  if (/^properties\./i.test(trimmed)) return PROPERTY_PREFIX + trimmed.slice(PROPERTY_PREFIX.length);
  const n = normalizeName(trimmed);
  return EVENT_COLUMNS.find((c) => normalizeName(c.name) === n || c.aliases.some((a) => normalizeName(a) === n))?.name;
}

function textOf(row: ImportRow, column: string): string | undefined {
  const v = row.values[column];
  if (v === undefined || v === null) return undefined;
  const s = typeof v === 'string' ? v.trim() : String(v);
  return s === '' ? undefined : s;
}

/**
 * The Datetime as the unique id's hash has always seen it. Until klv kept microseconds (issue 13),
 * coercion rounded event times to the millisecond (`.123456` to `.123`, `.9996` up into the next
 * second): a time with finer digits is hashed in that millisecond spelling, so that a file
 * imported before and after derives the same ids and Klaviyo records its events once. Times to
 * the millisecond are spelled the same either way.
 */
function datetimeAsHashed(value: unknown): unknown {
  const instant = typeof value === 'string' ? parseInstant(value) : undefined;
  if (!instant || !hasSubMillisecond(instant)) return value ?? null;
  const iso = new Date(instant.epochSeconds * 1000 + Math.round(Number(`0.${instant.fraction}`) * 1000)).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/** The event's unique id: the UniqueId column, else the hash described at the top of this file. */
export function uniqueIdOf(row: ImportRow, uniqueBy?: readonly string[]): { id: string; derived: boolean } {
  const given = textOf(row, 'UniqueId');
  if (given) return { id: given, derived: false };
  const columns =
    uniqueBy && uniqueBy.length > 0
      ? [...new Set(uniqueBy.map((n) => eventColumnName(n) ?? n.trim()))]
      : Object.keys(row.values).filter((k) => row.values[k] !== undefined && k !== 'UniqueId');
  const entries = columns.sort().map((c) => [c, c === 'Datetime' ? datetimeAsHashed(row.values[c]) : (row.values[c] ?? null)]);
  const hash = createHash('sha256').update(canonicalJson(entries)).digest('hex');
  return { id: `klv-${hash.slice(0, 40)}`, derived: true };
}

interface Prepared {
  row: ImportRow;
  /** Groups rows of one profile into one entry of the request. */
  profileKey: string;
  profile: { type: 'profile'; id?: string; attributes: Record<string, string> };
  event: { type: 'event'; attributes: Record<string, unknown> };
  uniqueId: string;
  derived: boolean;
  bytes: number;
}

function prepare(row: ImportRow, options: ImportOptions): Prepared {
  const profile: Prepared['profile'] = { type: 'profile', attributes: {} };
  const id = textOf(row, 'ProfileId');
  if (id) profile.id = id;
  for (const [column, attribute] of PROFILE_FIELDS) {
    const v = textOf(row, column);
    if (v) profile.attributes[attribute] = v;
  }
  const properties: Record<string, unknown> = isPlainObject(row.values.Properties) ? { ...row.values.Properties } : {};
  for (const [column, value] of Object.entries(row.values)) {
    // A null property means "clear": a new event has nothing to clear, so it is left out.
    if (column.startsWith(PROPERTY_PREFIX) && value !== undefined && value !== null) properties[column.slice(PROPERTY_PREFIX.length)] = value;
  }
  const { id: uniqueId, derived } = uniqueIdOf(row, options.uniqueBy);
  const attributes: Record<string, unknown> = {
    properties,
    metric: { data: { type: 'metric', attributes: { name: textOf(row, 'MetricName') } } },
    unique_id: uniqueId,
  };
  const time = textOf(row, 'Datetime');
  if (time) attributes.time = time;
  const value = row.values.Value;
  if (typeof value === 'number') attributes.value = value;
  else if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) attributes.value = Number(value);
  const event: Prepared['event'] = { type: 'event', attributes };
  const profileKey = JSON.stringify([profile.id ?? null, profile.attributes.email?.toLowerCase() ?? null, profile.attributes.phone_number ?? null, profile.attributes.external_id ?? null]);
  return { row, profileKey, profile, event, uniqueId, derived, bytes: Buffer.byteLength(JSON.stringify(event)) + Buffer.byteLength(JSON.stringify(profile)) };
}

/** The instant of an event's time (core/timestamps: no zone is UTC, never the machine's zone). */
function eventTime(text: string): Instant | undefined {
  return parseInstant(text, { dateAsMidnight: true });
}

function longestString(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.reduce<number>((m, x) => Math.max(m, longestString(x)), 0);
  if (isPlainObject(v)) return Object.entries(v).reduce<number>((m, [k, x]) => Math.max(m, Buffer.byteLength(k), longestString(x)), 0);
  return 0;
}

export function validateEventRow(row: ImportRow, options: ImportOptions): RowFailure | null {
  const metric = textOf(row, 'MetricName');
  if (!metric) return fail(row, 'missing_value', 'MetricName is empty: every event needs the name of its metric (Placed Order, Viewed Product ...).');
  if (metric.length > METRIC_NAME_MAX) return fail(row, 'invalid_value', `MetricName is ${metric.length} characters long; Klaviyo needs less than 128.`);
  if (!['ProfileId', 'Email', 'PhoneNumber', 'ExternalId'].some((c) => textOf(row, c))) {
    return fail(row, 'missing_value', 'The row names no profile: give ProfileId, Email, PhoneNumber or ExternalId.');
  }
  const time = textOf(row, 'Datetime');
  if (time !== undefined) {
    const instant = eventTime(time);
    if (!instant) return fail(row, 'invalid_value', `Datetime '${time}' is not a date-time.`);
    if (epochMsFloor(instant) < EARLIEST) return fail(row, 'invalid_value', `Datetime ${time} is before 1990: Klaviyo refuses such events.`);
  }
  const value = row.values.Value;
  if (value !== undefined && value !== null && !(typeof value === 'number' || (typeof value === 'string' && Number.isFinite(Number(value))))) {
    return fail(row, 'invalid_value', `Value '${String(value)}' is not a number.`);
  }
  const props = row.values.Properties;
  if (props !== undefined && props !== null && !isPlainObject(props)) {
    return fail(row, 'invalid_value', 'Properties must be a JSON object, e.g. {"OrderId": "1234"}.');
  }
  for (const name of options.uniqueBy ?? []) {
    if (!eventColumnName(name)) {
      return fail(row, 'invalid_option', `--unique-by names '${name}', which is not an Events column (${EVENT_COLUMNS.map((c) => c.name).join(', ')}, Properties.<name>).`);
    }
  }
  const longest = Math.max(...Object.values(row.values).map(longestString), 0);
  if (longest > STRING_MAX_BYTES) return fail(row, 'too_large', `A value is ${Math.ceil(longest / 1024)} KB; Klaviyo accepts strings of at most 100 KB.`);
  return null;
}

/** The request body for these events, grouped per profile, and where each row sits in it. */
export function eventsBody(items: readonly Prepared[]): { body: unknown; positions: Array<{ group: number; event: number }> } {
  const groups = new Map<string, { profile: Prepared['profile']; events: Prepared['event'][] }>();
  const positions: Array<{ group: number; event: number }> = [];
  const order: string[] = [];
  for (const item of items) {
    let g = groups.get(item.profileKey);
    if (!g) {
      g = { profile: item.profile, events: [] };
      groups.set(item.profileKey, g);
      order.push(item.profileKey);
    }
    positions.push({ group: order.indexOf(item.profileKey), event: g.events.length });
    g.events.push(item.event);
  }
  const data = order.map((key) => {
    const g = groups.get(key)!;
    return { type: 'event-bulk-create', attributes: { profile: { data: g.profile }, events: { data: g.events } } };
  });
  return { body: { data: { type: 'event-bulk-create-job', attributes: { 'events-bulk-create': { data } } } }, positions };
}

/**
 * The rows a pointer into a request names: `/data/attributes/events-bulk-create/data/2/attributes/events/data/0/...`
 * is one event; `/data/attributes/events-bulk-create/data/2/...` (its profile) every event of that profile.
 */
export function rowsAtPointer(pointer: string | undefined, positions: ReadonlyArray<{ group: number; event: number }>): number[] {
  if (!pointer) return [];
  const m = /events-bulk-create\/data\/(\d+)(?:\/attributes\/events\/data\/(\d+))?/.exec(pointer);
  if (!m) return [];
  const group = Number(m[1]);
  const event = m[2] === undefined ? undefined : Number(m[2]);
  const out: number[] = [];
  positions.forEach((p, i) => {
    if (p.group === group && (event === undefined || p.event === event)) out.push(i);
  });
  return out;
}

function chunk(items: Prepared[]): Prepared[][] {
  const chunks: Prepared[][] = [];
  let current: Prepared[] = [];
  let size = 0;
  for (const item of items) {
    if (current.length > 0 && (current.length >= EVENTS_MAX_PER_REQUEST || size + item.bytes + 64 > EVENTS_MAX_BYTES)) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += item.bytes + 64; // the entry's own envelope
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

async function insertEvents(rows: ImportRow[], ctx: WriteContext): Promise<RowOutcome[]> {
  const outcomes: RowOutcome[] = [];
  const latest = ctx.clock.now() + YEAR_MS;
  const seen = new Map<string, number>();
  const ready: Prepared[] = [];
  for (const row of rows) {
    const item = prepare(row, ctx.options);
    const time = item.event.attributes.time;
    const instant = typeof time === 'string' ? eventTime(time) : undefined;
    if (instant && epochMsFloor(instant) > latest) {
      outcomes.push(fail(row, 'invalid_value', `Datetime ${time} is more than a year ahead: Klaviyo refuses such events.`));
      continue;
    }
    const key = `${item.profileKey}\u0000${textOf(row, 'MetricName')}\u0000${item.uniqueId}`;
    const first = seen.get(key);
    if (first !== undefined) {
      outcomes.push(
        fail(
          row,
          'duplicate_row',
          item.derived
            ? `Row ${first} is the same event (same profile, metric and unique id ${item.uniqueId}): Klaviyo records it once. Give a UniqueId column, or --unique-by columns that tell the two apart, if they are different events.`
            : `Row ${first} has the same UniqueId '${item.uniqueId}' for this profile and metric: Klaviyo records it once.`,
        ),
      );
      continue;
    }
    seen.set(key, row.rowNumber);
    ready.push(item);
  }

  for (const part of chunk(ready)) {
    const { accepted, refused } = await sendIsolating(part, {
      async send(items) {
        await ctx.client.request('bulk_create_events', {
          body: eventsBody(items).body,
          // Unique ids make a repeated request harmless: Klaviyo keeps the first of each event.
          idempotent: true,
          signal: ctx.signal,
        });
        ctx.debug(`event bulk create: ${items.length} events accepted`);
      },
      locate: (err, items) => rowsAtPointer(err.source?.pointer, eventsBody(items).positions),
    });
    for (const r of refused) outcomes.push(fail(r.item.row, r.code, r.message));
    for (const a of accepted) {
      for (const item of a.items) outcomes.push({ ok: true, rowNumber: item.row.rowNumber, status: 'created', extras: { UniqueId: item.uniqueId } });
    }
  }
  return outcomes;
}

export const eventInsert: OperationHandler = {
  operation: 'insert',
  calls: ['bulk_create_events'],
  description:
    'Records events through Klaviyo bulk create jobs (1,000 events a request), grouped per profile; the metric is created when missing. Each event has a unique id (UniqueId, or derived from the row: --unique-by), so importing a file twice records each event once.',
  requiredColumns: ['MetricName', ['ProfileId', 'Email', 'PhoneNumber', 'ExternalId']],
  acceptedColumns: EVENT_COLUMNS.map((c) => c.name),
  maxBatchSize: EVENTS_MAX_PER_REQUEST,
  concurrency: 4,
  idempotent: true,
  validateRow: validateEventRow,
  processBatch: insertEvents,
};

export const eventWriteHandlers: WriteHandlers = { insert: eventInsert };
