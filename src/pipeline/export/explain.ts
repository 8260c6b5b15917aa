/**
 * `klv export --explain`: the read plan in plain words, before anything is sent: each request
 * (method, path, query with the Klaviyo `filter` as Klaviyo reads it), what is filtered locally,
 * the plan's notes, and an estimate of the requests and of the least time the rate limits allow.
 *
 * The estimate is arithmetic on the spec: pages = rows / page size (plus one possibly partial
 * page per further partition of a repeated request), and for each rate-limit bucket the
 * earliest moment its last request can be sent without exceeding the burst (per second) or
 * the steady (per minute) limit. Buckets are independent, so the slowest one sets the time.
 * Network round trips come on top (one per page for a cursor read in sequence).
 */
import type { RateLimitMeta } from '../../klaviyo/api-metadata-types.js';
import { rateLimitBucket } from '../../klaviyo/rate-limit-buckets.js';
import type { Condition, ObjectDefinition, PlannedRequest, ReadPlan, ReadRequest, ScalarValue } from '../../objects/types.js';

export interface RequestEstimate {
  operationId: string;
  /** The rate-limit bucket the requests count against. */
  bucket: string;
  requests: number;
}

export interface BucketEstimate {
  bucket: string;
  limit: RateLimitMeta;
  requests: number;
  seconds: number;
}

export interface Estimate {
  rows: number;
  requests: number;
  /** The least time the rate limits allow, in seconds (network time not included). */
  seconds: number;
  buckets: BucketEstimate[];
  /** Buckets whose daily cap the requests exceed. */
  overDailyLimit: string[];
}

/**
 * How many requests a planned request family makes for `rows` rows. A path that still holds a
 * placeholder (`/api/lists/{id}`) with no known repeat is sent once per id found while
 * reading: for an unpaged request that is one request per row (Lists.ProfileCount).
 */
export function requestsFor(request: PlannedRequest, rows: number): number {
  const perId = request.repeat == null && /\{[^}]+\}/.test(request.path);
  if ((!request.pageSize || request.pageSize <= 0) && perId) return Math.max(1, rows);
  const repeat = request.repeat && request.repeat > 0 ? request.repeat : 1;
  if (!request.pageSize || request.pageSize <= 0) return repeat;
  // Each further partition (one per list, one per time slice) can end with a partial page.
  return Math.max(1, Math.ceil(rows / request.pageSize)) + (repeat - 1);
}

/**
 * The least time, in seconds, to send `requests` requests when no 1-second window may hold
 * more than `burst` and no 60-second window more than `steady`: requests go in bursts at the
 * start of each second until the minute's steady allowance is spent, then wait for the next
 * minute. The last request's send time is the answer (the first one goes at 0).
 */
export function minimumSeconds(requests: number, limit: Pick<RateLimitMeta, 'burst' | 'steady'>): number {
  if (requests <= 1) return 0;
  const last = requests - 1;
  const burst = limit.burst && limit.burst > 0 ? limit.burst : null;
  const steady = limit.steady && limit.steady > 0 ? limit.steady : null;
  if (burst === null && steady === null) return 0;
  if (steady === null || (burst !== null && steady >= burst * 60)) return Math.floor(last / burst!);
  const perSecond = burst ?? Infinity;
  return 60 * Math.floor(last / steady) + Math.floor((last % steady) / perSecond);
}

export function estimate(requests: readonly PlannedRequest[], rows: number): Estimate {
  const byBucket = new Map<string, BucketEstimate>();
  let total = 0;
  for (const r of requests) {
    const n = requestsFor(r, rows);
    total += n;
    const bucket = rateLimitBucket(r.operationId, r.query) ?? { key: r.operationId, limit: { burst: null, steady: null, daily: null } };
    const b = byBucket.get(bucket.key) ?? { bucket: bucket.key, limit: bucket.limit, requests: 0, seconds: 0 };
    b.requests += n;
    byBucket.set(bucket.key, b);
  }
  const buckets = [...byBucket.values()];
  for (const b of buckets) b.seconds = minimumSeconds(b.requests, b.limit);
  return {
    rows,
    requests: total,
    seconds: Math.max(0, ...buckets.map((b) => b.seconds)),
    buckets,
    overDailyLimit: buckets.filter((b) => b.limit.daily !== null && b.requests > b.limit.daily).map((b) => b.bucket),
  };
}

export interface ExplainedRequest extends PlannedRequest {
  rateLimit: { bucket: string } & RateLimitMeta;
}

export interface ExplainReport {
  object: string;
  columns: string[];
  since: string | null;
  limit: number | null;
  requests: ExplainedRequest[];
  localConditions: Array<Condition & { text: string }>;
  notes: string[];
  estimates: Estimate[];
}

function formatScalar(v: ScalarValue): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `'${v.replace(/'/g, "''")}'`;
  return String(v);
}

/** A condition as the user would write it in --where: `Email = 'ann@example.com'`. */
export function conditionText(c: Condition): string {
  const value = Array.isArray(c.value) ? `(${c.value.map(formatScalar).join(', ')})` : formatScalar(c.value);
  return `${c.column} ${c.op} ${value}`;
}

/** Rows the estimate is given for: exactly --limit, or two orders of magnitude. */
export function estimateRows(limit: number | undefined): number[] {
  return limit !== undefined ? [limit] : [1_000, 100_000];
}

export function explainReport(def: ObjectDefinition, request: ReadRequest, plan: ReadPlan): ExplainReport {
  return {
    object: def.name,
    columns: request.columns.map((c) => c.name),
    since: request.since ? request.since.toISOString().replace('.000Z', 'Z') : null,
    limit: request.limit ?? null,
    requests: plan.requests.map((r) => {
      const b = rateLimitBucket(r.operationId, r.query);
      return {
        ...r,
        rateLimit: { bucket: b?.key ?? r.operationId, burst: b?.limit.burst ?? null, steady: b?.limit.steady ?? null, daily: b?.limit.daily ?? null },
      };
    }),
    localConditions: plan.localConditions.map((c) => ({ ...c, text: conditionText(c) })),
    notes: [...plan.notes],
    estimates: estimateRows(request.limit).map((n) => estimate(plan.requests, n)),
  };
}

const int = (n: number) => n.toLocaleString('en-US');

/** `0 s`, `42 s`, `3 min 5 s`, `2 h 10 min`. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}`;
}

function limitText(l: RateLimitMeta): string {
  const parts: string[] = [];
  if (l.burst !== null) parts.push(`${int(l.burst)}/s`);
  if (l.steady !== null) parts.push(`${int(l.steady)}/min`);
  if (l.daily !== null) parts.push(`${int(l.daily)}/day`);
  return parts.length > 0 ? parts.join(', ') : 'no published limit';
}

/** Decoded query values, aligned: the filter as Klaviyo reads it, not percent-encoded. */
function queryLines(query: Record<string, string>, indent: string): string[] {
  const keys = Object.keys(query);
  if (keys.length === 0) return [`${indent}(no query parameters)`];
  const width = Math.max(...keys.map((k) => k.length));
  return keys.map((k) => `${indent}${k.padEnd(width)}  ${query[k]}`);
}

export function renderExplain(r: ExplainReport): string {
  const lines: string[] = [];
  const scope = [r.since ? `since ${r.since}` : '', r.limit !== null ? `at most ${int(r.limit)} rows` : ''].filter(Boolean).join(', ');
  lines.push(`Export ${r.object}${scope ? ` (${scope})` : ''}: the plan. Nothing was sent to Klaviyo.`);
  lines.push('');
  lines.push(`Columns: ${r.columns.join(', ')}`);
  lines.push('');
  lines.push('Requests:');
  r.requests.forEach((q, i) => {
    lines.push(`  ${i + 1}. ${q.method} ${q.path}   ${q.purpose}`);
    lines.push(...queryLines(q.query, '       '));
    const paging = q.pageSize ? `${int(q.pageSize)} rows per page` : 'one request, not paged';
    const repeat = q.repeat && q.repeat > 1 ? `, ${int(q.repeat)} times` : '';
    lines.push(`     ${paging}${repeat}; rate limit ${limitText(q.rateLimit)} (${q.operationId}${q.rateLimit.bucket !== q.operationId ? `, tier ${q.rateLimit.bucket.slice(q.operationId.length)}` : ''})`);
  });
  lines.push('');
  if (r.localConditions.length === 0) {
    lines.push('Filtered locally: nothing (every condition is part of the requests above).');
  } else {
    lines.push('Filtered locally (Klaviyo cannot filter these; klv checks each row it reads):');
    for (const c of r.localConditions) lines.push(`  ${c.text}`);
  }
  if (r.notes.length > 0) {
    lines.push('');
    lines.push('Notes:');
    for (const n of r.notes) lines.push(`  - ${n}`);
  }
  lines.push('');
  lines.push('Estimate (the least time the rate limits allow; add one network round trip per page read in sequence):');
  const table = [['rows', 'requests', 'at least'], ...r.estimates.map((e) => [int(e.rows), int(e.requests), formatDuration(e.seconds)])];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  for (const row of table) lines.push(`  ${row.map((cell, i) => cell.padEnd(widths[i])).join('   ').trimEnd()}`);
  for (const e of r.estimates) {
    for (const b of e.overDailyLimit) {
      lines.push(`  ${int(e.rows)} rows need more ${b} requests than Klaviyo allows in a day: the export would take several days.`);
    }
  }
  return `${lines.join('\n')}\n`;
}
