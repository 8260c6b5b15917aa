/**
 * The per-row check klv applies to conditions Klaviyo cannot filter on must select the same rows
 * as Klaviyo's filters (the emulator's evaluator) and as `klv query`'s SQLite (LIKE with
 * case_sensitive_like): text operators are case-sensitive; emails compare lower-cased.
 */
import { describe, expect, it } from 'vitest';
import { matchesCondition } from '../../src/objects/read/values.js';
import type { ColumnDef } from '../../src/objects/types.js';

const text: ColumnDef = { name: 'FirstName', type: 'string', description: '' } as ColumnDef;
const email: ColumnDef = { name: 'Email', type: 'email', description: '' } as ColumnDef;
const created: ColumnDef = { name: 'Created', type: 'datetime', description: '' } as ColumnDef;

describe('matchesCondition', () => {
  it('contains, starts-with and ends-with are case-sensitive on text', () => {
    const row = { FirstName: 'Anna' };
    expect(matchesCondition(row, { column: 'FirstName', op: 'starts-with', value: 'An' }, text)).toBe(true);
    expect(matchesCondition(row, { column: 'FirstName', op: 'starts-with', value: 'an' }, text)).toBe(false);
    expect(matchesCondition(row, { column: 'FirstName', op: 'contains', value: 'nn' }, text)).toBe(true);
    expect(matchesCondition(row, { column: 'FirstName', op: 'contains', value: 'NN' }, text)).toBe(false);
    expect(matchesCondition(row, { column: 'FirstName', op: 'ends-with', value: 'na' }, text)).toBe(true);
    expect(matchesCondition(row, { column: 'FirstName', op: 'ends-with', value: 'NA' }, text)).toBe(false);
  });

  it('emails compare lower-cased, as Klaviyo stores them', () => {
    const row = { Email: 'Ann@Example.com' };
    expect(matchesCondition(row, { column: 'Email', op: '=', value: 'ann@example.com' }, email)).toBe(true);
    expect(matchesCondition(row, { column: 'Email', op: 'ends-with', value: '@EXAMPLE.COM' }, email)).toBe(true);
  });

  it('an array value matches when any element does', () => {
    const row = { FirstName: ['Bo', 'Anna'] } as unknown as Record<string, unknown>;
    expect(matchesCondition(row as never, { column: 'FirstName', op: 'starts-with', value: 'An' }, text)).toBe(true);
    expect(matchesCondition(row as never, { column: 'FirstName', op: 'starts-with', value: 'an' }, text)).toBe(false);
  });

  it('compares datetimes to the last digit, whatever their spelling', () => {
    const row = { Created: '2024-05-13T08:01:45.276362+00:00' };
    const is = (op: '>' | '>=' | '<' | '<=' | '=' | '!=', value: string) => matchesCondition(row, { column: 'Created', op, value }, created);
    expect(is('>', '2024-05-13T08:01:45.276Z')).toBe(true);
    expect(is('>', '2024-05-13T08:01:45.276362Z')).toBe(false);
    expect(is('>=', '2024-05-13T08:01:45.276362Z')).toBe(true);
    expect(is('<', '2024-05-13T08:01:45.276363Z')).toBe(true);
    expect(is('<=', '2024-05-13T08:01:45.276361Z')).toBe(false);
    expect(is('=', '2024-05-13T08:01:45.2763620Z')).toBe(true);
    expect(is('=', '2024-05-13T08:01:45.276Z')).toBe(false);
    expect(is('!=', '2024-05-13T08:01:45.276Z')).toBe(true);
    // Space-separated, zoneless: UTC.
    expect(matchesCondition({ Created: '2024-05-13 08:01:45.276362' }, { column: 'Created', op: '=', value: '2024-05-13T08:01:45.276362Z' }, created)).toBe(true);
    expect(matchesCondition({ Created: null }, { column: 'Created', op: '>', value: '2024-05-13T08:01:45Z' }, created)).toBe(false);
  });

  it('datetime ranges compare instants, microseconds included, in any of Klaviyo\'s spellings', () => {
    const gt = { column: 'Created', op: '>' as const, value: '2024-05-13T08:01:45Z' };
    // A range pushed to Klaviyo is checked again on each row: a row at the bound is left out...
    expect(matchesCondition({ Created: '2024-05-13T08:01:45+00:00' }, gt, created)).toBe(false);
    expect(matchesCondition({ Created: '2024-05-13 08:01:45+00:00' }, gt, created)).toBe(false);
    expect(matchesCondition({ Created: '2024-05-13T08:01:45.000000+00:00' }, gt, created)).toBe(false);
    // ...and a row a few microseconds past it is kept, as Klaviyo's comparison keeps it.
    expect(matchesCondition({ Created: '2024-05-13T08:01:45.000362+00:00' }, gt, created)).toBe(true);
    expect(matchesCondition({ Created: '2024-05-13T08:01:45.000001+00:00' }, gt, created)).toBe(true);
    const lt = { column: 'Created', op: '<' as const, value: '2024-05-13T08:01:45.000362+00:00' };
    expect(matchesCondition({ Created: '2024-05-13T08:01:45.000361+00:00' }, lt, created)).toBe(true);
    expect(matchesCondition({ Created: '2024-05-13T08:01:45.000362+00:00' }, lt, created)).toBe(false);
    expect(matchesCondition({ Created: '2024-05-13T08:01:45.000362+00:00' }, { ...lt, op: '<=' }, created)).toBe(true);
  });
});
