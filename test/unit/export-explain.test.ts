/**
 * `klv export --explain`: the plan rendering (requests with their filter strings, local
 * conditions, notes) and the estimate arithmetic from page sizes and the spec's rate limits.
 */
import { describe, expect, it } from 'vitest';
import {
  conditionText,
  estimate,
  estimateRows,
  explainReport,
  formatDuration,
  minimumSeconds,
  renderExplain,
  requestsFor,
} from '../../src/pipeline/export/explain.js';
import type { ColumnDef, ObjectDefinition, PlannedRequest, ReadPlan, ReadRequest } from '../../src/objects/types.js';

function planned(over: Partial<PlannedRequest> = {}): PlannedRequest {
  return {
    operationId: 'get_profiles',
    method: 'GET',
    path: '/api/profiles',
    query: { 'page[size]': '100' },
    purpose: 'every profile',
    pageSize: 100,
    repeat: null,
    ...over,
  };
}

describe('minimumSeconds', () => {
  it('one request, or none, takes no time', () => {
    expect(minimumSeconds(0, { burst: 1, steady: 15 })).toBe(0);
    expect(minimumSeconds(1, { burst: 1, steady: 15 })).toBe(0);
  });

  it('within the burst allowance everything goes in the first second', () => {
    expect(minimumSeconds(75, { burst: 75, steady: 750 })).toBe(0);
    expect(minimumSeconds(76, { burst: 75, steady: 750 })).toBe(1);
  });

  it('the steady limit makes the next minute wait', () => {
    // 750 requests go in 10 s of bursts (75 per second), the 751st waits for the next minute.
    expect(minimumSeconds(750, { burst: 75, steady: 750 })).toBe(9);
    expect(minimumSeconds(751, { burst: 75, steady: 750 })).toBe(60);
    // 1,000 profile pages: one full minute, then 250 more at 75/s.
    expect(minimumSeconds(1000, { burst: 75, steady: 750 })).toBe(63);
  });

  it('slow tiers: 1/s and 15/min', () => {
    expect(minimumSeconds(15, { burst: 1, steady: 15 })).toBe(14);
    expect(minimumSeconds(16, { burst: 1, steady: 15 })).toBe(60);
    expect(minimumSeconds(31, { burst: 1, steady: 15 })).toBe(120);
  });

  it('when the steady limit can never bind, only the burst counts', () => {
    expect(minimumSeconds(1000, { burst: 10, steady: 600 })).toBe(99);
    expect(minimumSeconds(1000, { burst: 10, steady: null })).toBe(99);
  });

  it('only a steady limit, or none', () => {
    expect(minimumSeconds(31, { burst: null, steady: 15 })).toBe(120);
    expect(minimumSeconds(1000, { burst: null, steady: null })).toBe(0);
  });
});

describe('requestsFor', () => {
  it('pages of the largest page size, at least one', () => {
    expect(requestsFor(planned(), 0)).toBe(1);
    expect(requestsFor(planned(), 1)).toBe(1);
    expect(requestsFor(planned(), 100)).toBe(1);
    expect(requestsFor(planned(), 101)).toBe(2);
    expect(requestsFor(planned(), 100_000)).toBe(1_000);
  });

  it('a repeated family adds one possibly partial page per further repetition', () => {
    expect(requestsFor(planned({ repeat: 4 }), 1_000)).toBe(13);
  });

  it('an unpaged request counts once, or as often as it repeats', () => {
    expect(requestsFor(planned({ pageSize: null }), 1_000)).toBe(1);
    expect(requestsFor(planned({ pageSize: null, repeat: 4 }), 1_000)).toBe(4);
    expect(requestsFor(planned({ path: '/api/profiles/01JABC', pageSize: null }), 1_000)).toBe(1);
  });

  it('an unpaged request on a path with an id still to fill is one request per row', () => {
    expect(requestsFor(planned({ path: '/api/lists/{id}', pageSize: null }), 1_000)).toBe(1_000);
    expect(requestsFor(planned({ path: '/api/lists/{id}', pageSize: null }), 0)).toBe(1);
    expect(requestsFor(planned({ path: '/api/lists/{id}', pageSize: null, repeat: 4 }), 1_000)).toBe(4);
  });
});

describe('estimate', () => {
  it('adds up requests per bucket and takes the slowest bucket', () => {
    const e = estimate(
      [
        planned(),
        planned({ operationId: 'get_campaigns', path: '/api/campaigns', query: {}, pageSize: 100 }),
      ],
      10_000,
    );
    expect(e.requests).toBe(200);
    // get_campaigns: 10/s, 150/min -> the 100th request at 9 s; get_profiles: 100 requests at 75/s -> 1 s.
    expect(e.buckets.map((b) => [b.bucket, b.requests, b.seconds])).toEqual([
      ['get_profiles', 100, 1],
      ['get_campaigns', 100, 9],
    ]);
    expect(e.seconds).toBe(9);
    expect(e.overDailyLimit).toEqual([]);
  });

  it('a parameter that moves a request to a slower tier is counted in that tier', () => {
    const e = estimate(
      [
        planned({
          operationId: 'get_list',
          path: '/api/lists/{id}',
          query: { 'additional-fields[list]': 'profile_count' },
          pageSize: null,
          repeat: 20,
        }),
      ],
      1_000,
    );
    expect(e.buckets).toHaveLength(1);
    expect(e.buckets[0].bucket).toBe('get_list[additional-fields[list]=profile_count]');
    expect(e.buckets[0].limit).toMatchObject({ burst: 1, steady: 15 });
    expect(e.seconds).toBe(64);
  });

  it('rows to estimate: exactly --limit, else 1,000 and 100,000', () => {
    expect(estimateRows(5)).toEqual([5]);
    expect(estimateRows(undefined)).toEqual([1_000, 100_000]);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0 s'],
    [42.4, '42 s'],
    [60, '1 min'],
    [63, '1 min 3 s'],
    [3600, '1 h'],
    [7_830, '2 h 11 min'],
  ])('%s -> %s', (s, text) => expect(formatDuration(s)).toBe(text));
});

describe('conditionText', () => {
  it('writes conditions as --where takes them', () => {
    expect(conditionText({ column: 'Email', op: '=', value: 'ann@example.com' })).toBe("Email = 'ann@example.com'");
    expect(conditionText({ column: 'Name', op: 'contains', value: "O'Hara" })).toBe("Name contains 'O''Hara'");
    expect(conditionText({ column: 'Channel', op: 'in', value: ['email', 'sms'] })).toBe("Channel in ('email', 'sms')");
    expect(conditionText({ column: 'Count', op: '>=', value: 3 })).toBe('Count >= 3');
    expect(conditionText({ column: 'Archived', op: '=', value: false })).toBe('Archived = false');
    expect(conditionText({ column: 'Title', op: '=', value: null })).toBe('Title = null');
  });
});

const COLUMNS: ColumnDef[] = [
  { name: 'Id', type: 'id', description: 'id', path: 'id' },
  { name: 'Email', type: 'email', description: 'email', path: 'email', filterField: 'email' },
  { name: 'Title', type: 'string', description: 'title', path: 'title' },
];

function fakeDef(plan: Omit<ReadPlan, 'execute'>): ObjectDefinition {
  return {
    name: 'Profiles',
    description: 'people',
    key: ['Id'],
    columns: COLUMNS,
    operations: [],
    constraints: [],
    plan: () => ({
      ...plan,
      execute: () => {
        throw new Error('--explain must not execute the plan');
      },
    }),
  };
}

describe('explainReport and renderExplain', () => {
  const plan = {
    requests: [
      planned({
        query: { filter: "equals(email,'x@example.com')", 'fields[profile]': 'email,title', 'page[size]': '100' },
        purpose: 'every profile in the account',
      }),
    ],
    localConditions: [{ column: 'Title', op: 'contains' as const, value: 'Chief' }],
    notes: ['Klaviyo cannot filter Profiles by Title: klv reads them and keeps the matching ones.'],
  };
  const def = fakeDef(plan);
  const request: ReadRequest = { columns: COLUMNS, where: [], options: {} };

  it('the text names each request with its readable filter, the local conditions, the notes and the estimate', () => {
    const report = explainReport(def, request, def.plan(request));
    const text = renderExplain(report);
    expect(text).toContain('Export Profiles: the plan. Nothing was sent to Klaviyo.');
    expect(text).toContain('Columns: Id, Email, Title');
    expect(text).toContain('1. GET /api/profiles   every profile in the account');
    expect(text).toMatch(/filter\s+equals\(email,'x@example.com'\)/);
    expect(text).toMatch(/fields\[profile\]\s+email,title/);
    expect(text).toContain('100 rows per page; rate limit 75/s, 750/min (get_profiles)');
    expect(text).toContain('Filtered locally (Klaviyo cannot filter these; klv checks each row it reads):');
    expect(text).toContain("  Title contains 'Chief'");
    expect(text).toContain('  - Klaviyo cannot filter Profiles by Title');
    expect(text).toMatch(/1,000\s+10\s+0 s/);
    expect(text).toMatch(/100,000\s+1,000\s+1 min 3 s/);
  });

  it('with --limit the estimate is for exactly that many rows; --since is shown', () => {
    const limited: ReadRequest = { ...request, limit: 250, since: new Date('2026-07-01T00:00:00Z') };
    const report = explainReport(def, limited, def.plan(limited));
    expect(report.estimates).toHaveLength(1);
    expect(report.estimates[0]).toMatchObject({ rows: 250, requests: 3 });
    const text = renderExplain(report);
    expect(text).toContain('Export Profiles (since 2026-07-01T00:00:00Z, at most 250 rows)');
    expect(text).toMatch(/250\s+3\s+0 s/);
  });

  it('nothing local: says so', () => {
    const d = fakeDef({ ...plan, localConditions: [], notes: [] });
    const text = renderExplain(explainReport(d, request, d.plan(request)));
    expect(text).toContain('Filtered locally: nothing');
    expect(text).not.toContain('Notes:');
  });

  it('the report is plain JSON with the rate limits of each request', () => {
    const report = explainReport(def, request, def.plan(request));
    const round = JSON.parse(JSON.stringify(report));
    expect(round.requests[0]).toMatchObject({
      operationId: 'get_profiles',
      method: 'GET',
      path: '/api/profiles',
      query: { filter: "equals(email,'x@example.com')" },
      pageSize: 100,
      rateLimit: { bucket: 'get_profiles', burst: 75, steady: 750, daily: null },
    });
    expect(round.localConditions).toEqual([{ column: 'Title', op: 'contains', value: 'Chief', text: "Title contains 'Chief'" }]);
    expect(round.estimates.map((e: { rows: number }) => e.rows)).toEqual([1_000, 100_000]);
  });
});
