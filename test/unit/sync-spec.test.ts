/** klv sync's pure core: value normalisation, row hashes and the per-column three-way merge. */
import { describe, expect, it } from 'vitest';
import { findObject } from '../../src/objects/registry.js';
import { hashValues, mergeRow, normalize, syncSpec } from '../../src/sync/spec.js';
import type { ColumnDef } from '../../src/objects/types.js';
import { fromSqlValue, toSqlValue } from '../../src/db/values.js';

const text: ColumnDef = { name: 'Name', type: 'string', description: '' };
const json: ColumnDef = { name: 'SendOptions', type: 'json', description: '' };
const times = { klaviyo: '2026-01-02T00:00:00Z', db: null };

describe('normalize', () => {
  it('treats empty text and null alike, and JSON in any form the same', () => {
    expect(normalize(text, '')).toBeNull();
    expect(normalize(text, undefined)).toBeNull();
    expect(normalize(json, { b: 1, a: null, c: { y: 2, x: 1 } })).toBe(normalize(json, '{"c":{"x":1,"y":2},"b":1}'));
    expect(normalize(text, ['9nCbya'])).toBe(normalize(text, '["9nCbya"]'));
  });
  it('hashes do not depend on key order', () => {
    expect(hashValues({ a: '1', b: null })).toBe(hashValues({ b: null, a: '1' }));
    expect(hashValues({ a: '1' })).not.toBe(hashValues({ a: '2' }));
  });
});

describe('normalize datetimes', () => {
  const updated: ColumnDef = { name: 'Updated', type: 'datetime', description: '' };
  it('keeps the microseconds Klaviyo sends, in one spelling for every form', () => {
    expect(normalize(updated, '2024-05-13T08:01:45.276362+00:00')).toBe('2024-05-13T08:01:45.276362Z');
    expect(normalize(updated, '2024-05-13 10:01:45.276362+02:00')).toBe('2024-05-13T08:01:45.276362Z');
    expect(normalize(updated, '2024-05-13T08:01:45.276360Z')).toBe(normalize(updated, '2024-05-13 08:01:45.27636+00'));
    expect(normalize(updated, '2024-05-13T08:01:45.276363+00:00')).not.toBe(normalize(updated, '2024-05-13T08:01:45.276362+00:00'));
    expect(normalize(updated, new Date(Date.UTC(2024, 4, 13, 8, 1, 45, 276)))).toBe('2024-05-13T08:01:45.276Z');
    expect(normalize(updated, 'not a time')).toBe('not a time');
  });
  it('compares a Klaviyo value equal to itself written to the table and read back, in every database', () => {
    const klaviyo = normalize(updated, '2024-05-13T08:01:45.276360+00:00');
    for (const dialect of ['sqlite', 'postgres', 'mysql'] as const) {
      const stored = toSqlValue(dialect, 'datetime', klaviyo, 'Updated');
      expect(normalize(updated, fromSqlValue('datetime', stored)), dialect).toBe(klaviyo);
    }
    // As the drivers give it back: pg's timestamptz text, mysql2's DATETIME(6) text.
    expect(normalize(updated, fromSqlValue('datetime', '2024-05-13 08:01:45.27636+00'))).toBe(klaviyo);
    expect(normalize(updated, fromSqlValue('datetime', '2024-05-13 08:01:45.276360'))).toBe(klaviyo);
  });
  it('reads a zoneless space-separated value as UTC whatever the machine zone', () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      expect(normalize(updated, '2024-05-13 08:01:45')).toBe('2024-05-13T08:01:45.000Z');
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});

describe('mergeRow', () => {
  const base = { Name: 'A', OptInProcess: 'single_opt_in' };
  it('takes a column changed on one side only, from that side, with no conflict', () => {
    const r = mergeRow(['Name', 'OptInProcess'], base, { ...base, Name: 'K' }, { ...base, OptInProcess: 'double_opt_in' }, 'klaviyo-wins', times);
    expect(r.merged).toEqual({ Name: 'K', OptInProcess: 'double_opt_in' });
    expect(r.toKlaviyo).toEqual(['OptInProcess']);
    expect(r.toDb).toEqual(['Name']);
    expect(r.conflicts).toEqual([]);
  });
  it('the same change on both sides is no conflict and moves nothing', () => {
    const r = mergeRow(['Name'], base, { Name: 'X' }, { Name: 'X' }, 'db-wins', times);
    expect(r).toMatchObject({ toKlaviyo: [], toDb: [], conflicts: [] });
  });
  it('a column changed on both sides follows the policy', () => {
    const k = { Name: 'K' };
    const d = { Name: 'D' };
    expect(mergeRow(['Name'], base, k, d, 'klaviyo-wins', times).merged.Name).toBe('K');
    expect(mergeRow(['Name'], base, k, d, 'db-wins', times).merged.Name).toBe('D');
    expect(mergeRow(['Name'], base, k, d, 'newest', { klaviyo: '2026-01-02T00:00:00Z', db: '2026-01-01T00:00:00Z' }).merged.Name).toBe('K');
    expect(mergeRow(['Name'], base, k, d, 'newest', { klaviyo: '2026-01-02T00:00:00Z', db: '2026-01-03T00:00:00Z' }).merged.Name).toBe('D');
    // Exact to the microsecond, and whatever the spelling.
    expect(mergeRow(['Name'], base, k, d, 'newest', { klaviyo: '2026-01-02T00:00:00.000200+00:00', db: '2026-01-02T00:00:00.000100Z' }).merged.Name).toBe('K');
    expect(mergeRow(['Name'], base, k, d, 'newest', { klaviyo: '2026-01-02 00:00:00.0001', db: '2026-01-02T00:00:00.000200Z' }).merged.Name).toBe('D');
    // No modification time in the table: its change was made after the last sync, at an unknown time.
    expect(mergeRow(['Name'], base, k, d, 'newest', times).merged.Name).toBe('D');
    const c = mergeRow(['Name'], base, k, d, 'db-wins', times).conflicts;
    expect(c).toEqual([{ column: 'Name', klaviyo: 'K', db: 'D', base: 'A', winner: 'db' }]);
  });
  it('without a base (first pairing), every differing column is a conflict', () => {
    const r = mergeRow(['Name', 'OptInProcess'], null, { Name: 'K', OptInProcess: 'x' }, { Name: 'D', OptInProcess: 'x' }, 'klaviyo-wins', times);
    expect(r.conflicts.map((c) => c.column)).toEqual(['Name']);
    expect(r.toDb).toEqual(['Name']);
  });
});

describe('syncSpec', () => {
  it('covers Campaigns, EmailTemplates and Lists and refuses the rest', () => {
    expect(syncSpec(findObject('lists')).sync.map((c) => c.name)).toEqual(['Name', 'OptInProcess']);
    expect(syncSpec(findObject('email-templates')).insertOnly.map((c) => c.name)).toEqual(['EditorType']);
    expect(syncSpec(findObject('campaigns')).updated).toBe('UpdatedAt');
    // The creation time finds a record whose create was cut off before its Id came back.
    expect(['lists', 'email-templates', 'campaigns'].map((o) => syncSpec(findObject(o)).created)).toEqual(['Created', 'Created', 'CreatedAt']);
    expect(() => syncSpec(findObject('profiles'))).toThrow(/cannot be synchronized/);
  });
});
