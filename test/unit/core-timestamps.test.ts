/**
 * Klaviyo's datetimes read and written to the last digit: offsets, the space form, fractions of
 * 1 to 9 digits, dates alone, invalid text, exact comparison.
 */
import { describe, expect, it } from 'vitest';
import {
  compareInstants,
  epochMsFloor,
  formatInstant,
  hasSubMillisecond,
  instantFromEpochMs,
  instantKey,
  instantOf,
  laterInstant,
  normalizeDatetimeText,
  parseDatetime,
  parseInstant,
  readDatetime,
  storageInstant,
  type Instant,
} from '../../src/core/timestamps.js';

const at = (text: string): Instant => {
  const i = parseInstant(text);
  if (!i) throw new Error(`not an instant: ${text}`);
  return i;
};

describe('parseDatetime and formatInstant', () => {
  it.each([
    ['2024-05-13T08:01:45.276362+00:00', '2024-05-13T08:01:45.276362Z'],
    ['2024-05-13T08:01:45.276362Z', '2024-05-13T08:01:45.276362Z'],
    ['2024-05-13T10:01:45.276362+02:00', '2024-05-13T08:01:45.276362Z'],
    ['2024-05-13T03:31:45.276362-0430', '2024-05-13T08:01:45.276362Z'],
    ['2024-05-13 08:01:45.27636+00', '2024-05-13T08:01:45.27636Z'],
    ['2024-05-13T00:30:00.1+01:00', '2024-05-12T23:30:00.1Z'],
    ['2024-12-31T23:30:00.5-01:00', '2025-01-01T00:30:00.5Z'],
    ['2024-05-13 08:01:45', '2024-05-13T08:01:45Z'],
    ['2024-05-13 08:01:45.276362', '2024-05-13T08:01:45.276362Z'],
    ['2024-05-13 08:01:45.276362+00:00', '2024-05-13T08:01:45.276362Z'],
    ['2024-05-13T08:01', '2024-05-13T08:01:00Z'],
    ['  2024-05-13t08:01:45z ', '2024-05-13T08:01:45Z'],
    ['2024-02-29T12:00:00Z', '2024-02-29T12:00:00Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00Z'],
    ['1969-12-31T23:59:59.999999Z', '1969-12-31T23:59:59.999999Z'],
    ['2024-05-13T08:01:45,276362Z', '2024-05-13T08:01:45.276362Z'],
    ['2024-05-13 10:01:45 +02:00', '2024-05-13T08:01:45Z'],
    ['2024-05-13T22:01:45+14:00', '2024-05-13T08:01:45Z'],
    ['2024-05-12T20:01:45-12:00', '2024-05-13T08:01:45Z'],
  ])('%s -> %s', (input, expected) => {
    expect(formatInstant(at(input))).toBe(expected);
  });

  it('keeps fractions of 1 to 9 digits as written, drops only an all-zero one', () => {
    for (const f of ['5', '25', '250', '2763', '27636', '276362', '2763621', '27636218', '276362189']) {
      expect(formatInstant(at(`2024-05-13T08:01:45.${f}+00:00`))).toBe(`2024-05-13T08:01:45.${f}Z`);
    }
    expect(formatInstant(at('2024-05-13T08:01:45.000000+00:00'))).toBe('2024-05-13T08:01:45Z');
    expect(at('2024-05-13T08:01:45.276360Z').fraction).toBe('276360');
  });

  it('reads the space form without a zone as UTC, never the machine zone', () => {
    expect(epochMsFloor(at('2024-05-13 08:01:45'))).toBe(Date.UTC(2024, 4, 13, 8, 1, 45));
    expect(epochMsFloor(at('2024-05-13T08:01:45'))).toBe(Date.UTC(2024, 4, 13, 8, 1, 45));
  });

  it('says a date alone is a date, not an instant', () => {
    expect(parseDatetime('2024-05-13')).toEqual({ kind: 'date', date: '2024-05-13' });
    expect(parseInstant('2024-05-13')).toBeUndefined();
    expect(formatInstant(parseInstant('2024-05-13', { dateAsMidnight: true })!)).toBe('2024-05-13T00:00:00Z');
  });

  it.each([
    'yesterday',
    '',
    '2024-13-01T00:00:00Z',
    '2023-02-29',
    '2024-04-31T00:00:00Z',
    '2024-05-13T24:00:00Z',
    '2024-05-13T08:60:00Z',
    '2024-05-13T08:01:60Z',
    '2024-05-13T08:01:45.1234567890Z',
    '2024-05-13T08:01:45.Z',
    '2024-05-13T08:01:45+25:00',
    '2024-05-13T08:01:45+15:00',
    '2024-05-13T08:01:45-14:60',
    '2024-05-13Z',
    '2024-05-13T08:01:45 UTC',
    '20240513T080145Z',
    '0000-01-01T00:00:00+01:00',
  ])('refuses %j', (input) => {
    expect(parseDatetime(input)).toBeUndefined();
  });

  it('says why text shaped like a datetime is none', () => {
    expect(readDatetime('2026-02-30')).toEqual({ kind: 'invalid', problem: 'no such day' });
    expect(readDatetime('2026-13-01T00:00:00Z')).toEqual({ kind: 'invalid', problem: 'no such day' });
    expect(readDatetime('2026-07-15T24:00:00Z')).toEqual({ kind: 'invalid', problem: 'no such time' });
    expect(readDatetime('2026-07-15T10:00:00+15:00')).toEqual({ kind: 'invalid', problem: 'no such time zone offset' });
    expect(readDatetime('0000-01-01T00:00:00+01:00')).toEqual({ kind: 'invalid', problem: 'out of range' });
    expect(readDatetime('07/15/2026')).toEqual({ kind: 'invalid' });
    expect(readDatetime('2026-07-15')).toEqual({ kind: 'date', date: '2026-07-15' });
  });

  it('normalizes text, leaving dates and non-datetimes alone', () => {
    expect(normalizeDatetimeText('2024-05-13T08:01:45.276362+00:00')).toBe('2024-05-13T08:01:45.276362Z');
    expect(normalizeDatetimeText('2024-05-13')).toBe('2024-05-13');
    expect(normalizeDatetimeText('soon')).toBe('soon');
  });
});

describe('fixed-width and storage forms', () => {
  it('writes a fixed number of digits, cut or padded, with a space and no zone for MySQL', () => {
    expect(formatInstant(at('2024-05-13T08:01:45.276362189Z'), { digits: 6 })).toBe('2024-05-13T08:01:45.276362Z');
    expect(formatInstant(at('2024-05-13T08:01:45Z'), { digits: 6 })).toBe('2024-05-13T08:01:45.000000Z');
    expect(formatInstant(at('2024-05-13T08:01:45.5Z'), { digits: 6, separator: ' ', zone: false })).toBe('2024-05-13 08:01:45.500000');
  });

  it("writes 'groups': milliseconds, microseconds or nanoseconds as needed, nothing when zero", () => {
    const g = (text: string) => formatInstant(at(text), { digits: 'groups' });
    expect(g('2024-05-13T08:01:45.000000000Z')).toBe('2024-05-13T08:01:45Z');
    expect(g('2024-05-13T08:01:45.250000000Z')).toBe('2024-05-13T08:01:45.250Z');
    expect(g('2024-05-13T08:01:45.276360000Z')).toBe('2024-05-13T08:01:45.276360Z');
    expect(g('2024-05-13T08:01:45.276362100Z')).toBe('2024-05-13T08:01:45.276362100Z');
  });

  it('keeps microseconds in storage and cuts (never rounds) nanoseconds', () => {
    expect(storageInstant(at('2024-05-13T08:01:45.999999999Z'))).toEqual(at('2024-05-13T08:01:45.999999Z'));
    expect(storageInstant(at('2024-05-13T08:01:45.276362Z'))).toEqual(at('2024-05-13T08:01:45.276362Z'));
  });

  it('gives equal instants one key whatever their trailing zeros or zone: milliseconds, microseconds or nanoseconds', () => {
    expect(instantKey(at('2024-05-13T08:01:45.276360+00:00'))).toBe(instantKey(at('2024-05-13 10:01:45.27636+02')));
    expect(instantKey(at('2024-05-13T08:01:45.27636Z'))).toBe('2024-05-13T08:01:45.276360Z');
    expect(instantKey(at('2024-05-13T08:01:45Z'))).toBe('2024-05-13T08:01:45.000Z');
    expect(instantKey(at('2024-05-13T08:01:45.000000Z'))).toBe('2024-05-13T08:01:45.000Z');
    expect(instantKey(at('2024-05-13T08:01:45.5Z'))).toBe('2024-05-13T08:01:45.500Z');
    expect(instantKey(at('2024-05-13T08:01:45.276000Z'))).toBe('2024-05-13T08:01:45.276Z');
    expect(instantKey(at('2024-05-13T08:01:45.2763621Z'))).toBe('2024-05-13T08:01:45.276362100Z');
    // Millisecond values are spelled as Date's toISOString spells them.
    expect(instantKey(instantOf(new Date(Date.UTC(2024, 4, 13, 8, 1, 45, 20)))!)).toBe(new Date(Date.UTC(2024, 4, 13, 8, 1, 45, 20)).toISOString());
  });
});

describe('compareInstants', () => {
  it('compares to the last digit', () => {
    expect(compareInstants(at('2024-05-13T08:01:45.276362Z'), at('2024-05-13T08:01:45.276Z'))).toBe(1);
    expect(compareInstants(at('2024-05-13T08:01:45.276Z'), at('2024-05-13T08:01:45.276001Z'))).toBe(-1);
    expect(compareInstants(at('2024-05-13T08:01:45.2763620Z'), at('2024-05-13 08:01:45.276362'))).toBe(0);
    expect(compareInstants(at('2024-05-13T08:01:45.000000001Z'), at('2024-05-13T08:01:45Z'))).toBe(1);
    expect(compareInstants(at('2024-05-13T08:01:44.999999Z'), at('2024-05-13T08:01:45Z'))).toBe(-1);
    expect(compareInstants(at('2024-05-13T10:00:00+02:00'), at('2024-05-13T08:00:00Z'))).toBe(0);
  });

  it('picks the later instant', () => {
    expect(formatInstant(laterInstant(at('2024-05-13T08:01:45.276Z'), at('2024-05-13T08:01:45.276362Z')))).toBe('2024-05-13T08:01:45.276362Z');
  });
});

describe('other forms', () => {
  it('reads Dates and epoch milliseconds, and floors to milliseconds', () => {
    expect(formatInstant(instantOf(new Date(Date.UTC(2024, 4, 13, 8, 1, 45, 276)))!)).toBe('2024-05-13T08:01:45.276Z');
    expect(formatInstant(instantFromEpochMs(-1)!)).toBe('1969-12-31T23:59:59.999Z');
    expect(instantOf(Number.NaN)).toBeUndefined();
    expect(instantOf(null)).toBeUndefined();
    expect(epochMsFloor(at('2024-05-13T08:01:45.276999Z'))).toBe(Date.UTC(2024, 4, 13, 8, 1, 45, 276));
    expect(hasSubMillisecond(at('2024-05-13T08:01:45.276000Z'))).toBe(false);
    expect(hasSubMillisecond(at('2024-05-13T08:01:45.276001Z'))).toBe(true);
  });

  it('agrees with Date on a spread of instants', () => {
    for (let ms = Date.UTC(1900, 0, 1); ms < Date.UTC(2100, 0, 1); ms += 7_777_777_777) {
      const iso = new Date(ms).toISOString();
      expect(formatInstant(at(iso), { digits: 3 })).toBe(iso);
      expect(epochMsFloor(at(iso))).toBe(ms);
    }
  });
});
