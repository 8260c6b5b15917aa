/**
 * How `klv export` writes values: ISO 8601 UTC datetimes, true/false, empty for null, JSON for
 * nested values in CSV and native types in JSON; --safe-csv against spreadsheet formulas.
 */
import { describe, expect, it } from 'vitest';
import { csvCell, defuseFormula, jsonValue, exportDatetimeText } from '../../src/pipeline/export/values.js';

const text = { name: 'Name', type: 'string' } as const;
const when = { name: 'Created', type: 'datetime' } as const;
const num = { name: 'Count', type: 'integer' } as const;
const json = { name: 'Properties', type: 'json' } as const;
const flag = { name: 'Archived', type: 'boolean' } as const;

describe('exportDatetimeText', () => {
  it.each([
    ['2026-07-15T10:00:00+00:00', '2026-07-15T10:00:00Z'],
    ['2026-07-15T12:00:00+02:00', '2026-07-15T10:00:00Z'],
    ['2026-07-15T05:00:00-0500', '2026-07-15T10:00:00Z'],
    ['2026-07-15T10:00:00.000Z', '2026-07-15T10:00:00Z'],
    ['2026-07-15T10:00:00.250+00:00', '2026-07-15T10:00:00.250Z'],
    ['2026-07-15 10:00:00', '2026-07-15T10:00:00Z'],
    ['2026-07-15T10:00', '2026-07-15T10:00:00Z'],
  ])('%s -> %s', (input, expected) => {
    expect(exportDatetimeText(input)).toBe(expected);
  });

  it('keeps a date alone and text that is no datetime as they are', () => {
    expect(exportDatetimeText('2026-07-15')).toBe('2026-07-15');
    expect(exportDatetimeText('yesterday')).toBe('yesterday');
    expect(exportDatetimeText('2026-13-45T99:00:00Z')).toBe('2026-13-45T99:00:00Z');
  });

  it('formats Date objects and epoch milliseconds in UTC', () => {
    expect(exportDatetimeText(new Date(Date.UTC(2026, 6, 15, 10)))).toBe('2026-07-15T10:00:00Z');
    expect(exportDatetimeText(Date.UTC(2026, 0, 1))).toBe('2026-01-01T00:00:00Z');
  });

  it.each([
    ['2024-05-13T08:01:45.276362+00:00', '2024-05-13T08:01:45.276362Z'],
    ['2024-05-13T10:01:45.276362+02:00', '2024-05-13T08:01:45.276362Z'],
    ['2024-05-13T03:01:45.276362-0500', '2024-05-13T08:01:45.276362Z'],
    ['2024-05-13 08:01:45.276362', '2024-05-13T08:01:45.276362Z'],
    ['2024-05-13 08:01:45.276362+00:00', '2024-05-13T08:01:45.276362Z'],
    ['2024-05-13 08:01:45', '2024-05-13T08:01:45Z'],
    ['2024-05-13T08:01:45.276360+00:00', '2024-05-13T08:01:45.276360Z'],
    ['2024-05-13T08:01:45.000000+00:00', '2024-05-13T08:01:45Z'],
    ['2024-05-13T08:01:45.123456789Z', '2024-05-13T08:01:45.123456789Z'],
  ])('keeps every digit: %s -> %s', (input, expected) => {
    expect(exportDatetimeText(input)).toBe(expected);
  });
});

describe('microsecond datetimes in every format', () => {
  it('writes the microseconds Klaviyo sent to CSV, JSON and NDJSON cells', () => {
    expect(csvCell('2024-05-13T08:01:45.276362+00:00', when)).toBe('2024-05-13T08:01:45.276362Z');
    expect(jsonValue('2024-05-13T08:01:45.276362+00:00', when)).toBe('2024-05-13T08:01:45.276362Z');
    expect(jsonValue('2024-05-13 08:01:45.276362', when)).toBe('2024-05-13T08:01:45.276362Z');
  });
});

describe('csvCell', () => {
  it('writes null and undefined as an empty cell', () => {
    expect(csvCell(null, text)).toBe('');
    expect(csvCell(undefined, when)).toBe('');
  });

  it('writes booleans as true/false and numbers plainly', () => {
    expect(csvCell(true, flag)).toBe('true');
    expect(csvCell(false, flag)).toBe('false');
    expect(csvCell(42, num)).toBe('42');
    expect(csvCell(-1.5, num)).toBe('-1.5');
    expect(csvCell(0, num)).toBe('0');
    expect(csvCell(Number.NaN, num)).toBe('');
  });

  it('normalizes datetimes of datetime columns only', () => {
    expect(csvCell('2026-07-15T10:00:00+00:00', when)).toBe('2026-07-15T10:00:00Z');
    expect(csvCell('2026-07-15T10:00:00+00:00', text)).toBe('2026-07-15T10:00:00+00:00');
  });

  it('writes objects and arrays as compact JSON', () => {
    expect(csvCell({ tier: 'gold', orders: 3, nested: { a: [1, 2] } }, json)).toBe('{"tier":"gold","orders":3,"nested":{"a":[1,2]}}');
    expect(csvCell(['a', 'b'], text)).toBe('["a","b"]');
    expect(csvCell([], json)).toBe('[]');
  });

  it('--safe-csv prefixes text starting with = + - @ tab or CR, and nothing else', () => {
    const safe = { safe: true };
    expect(csvCell('=HYPERLINK("http://x")', text, safe)).toBe(`'=HYPERLINK("http://x")`);
    expect(csvCell('+15551234567', text, safe)).toBe("'+15551234567");
    expect(csvCell('-2+3', text, safe)).toBe("'-2+3");
    expect(csvCell('@SUM(A1)', text, safe)).toBe("'@SUM(A1)");
    expect(csvCell('\t=1', text, safe)).toBe("'\t=1");
    expect(csvCell('\r=1', text, safe)).toBe("'\r=1");
    expect(csvCell('plain', text, safe)).toBe('plain');
    expect(csvCell('a=b', text, safe)).toBe('a=b');
    expect(csvCell('', text, safe)).toBe('');
    // A real number is not a formula: -5 stays a number a spreadsheet can add up.
    expect(csvCell(-5, num, safe)).toBe('-5');
    // Without the flag nothing changes.
    expect(csvCell('=1+1', text)).toBe('=1+1');
  });

  it('--safe-csv also covers JSON cells', () => {
    expect(csvCell(['=x'], json, { safe: true })).toBe('["=x"]');
    expect(defuseFormula('=cmd|x')).toBe("'=cmd|x");
  });
});

describe('jsonValue', () => {
  it('keeps native types and nesting, null for absent, datetimes normalized', () => {
    expect(jsonValue(undefined, text)).toBeNull();
    expect(jsonValue(null, num)).toBeNull();
    expect(jsonValue(3, num)).toBe(3);
    expect(jsonValue(true, flag)).toBe(true);
    expect(jsonValue({ a: [1, { b: null }] }, json)).toEqual({ a: [1, { b: null }] });
    expect(jsonValue('2026-07-15T12:00:00+02:00', when)).toBe('2026-07-15T10:00:00Z');
    expect(jsonValue('=1+1', text)).toBe('=1+1');
  });
});
