/**
 * `--since`: ISO 8601 instants (no zone = UTC) and spans back from now, with "now" from KLV_NOW
 * or the injected clock.
 */
import { describe, expect, it } from 'vitest';
import { exportNow, parseSince } from '../../src/pipeline/export/since.js';
import { FakeClock } from '../../src/core/clock.js';
import { UsageError } from '../../src/core/errors.js';

const NOW = new Date('2026-07-15T12:00:00Z');

describe('parseSince', () => {
  it.each([
    ['7d', '2026-07-08T12:00:00.000Z'],
    ['12h', '2026-07-15T00:00:00.000Z'],
    ['30m', '2026-07-15T11:30:00.000Z'],
    ['90s', '2026-07-15T11:58:30.000Z'],
    ['2w', '2026-07-01T12:00:00.000Z'],
    ['1.5h', '2026-07-15T10:30:00.000Z'],
    [' 7D ', '2026-07-08T12:00:00.000Z'],
  ])('%s back from now', (text, expected) => {
    expect(parseSince(text, NOW).toISOString()).toBe(expected);
  });

  it.each([
    ['2026-07-01', '2026-07-01T00:00:00.000Z'],
    ['2026-07-01T08:30:00Z', '2026-07-01T08:30:00.000Z'],
    ['2026-07-01T08:30:00', '2026-07-01T08:30:00.000Z'],
    ['2026-07-01T08:30', '2026-07-01T08:30:00.000Z'],
    ['2026-07-01 08:30:00', '2026-07-01T08:30:00.000Z'],
    ['2026-07-01T10:30:00+02:00', '2026-07-01T08:30:00.000Z'],
    ['2026-07-01T03:30:00-0500', '2026-07-01T08:30:00.000Z'],
    ['2026-07-01T08:30:00.250Z', '2026-07-01T08:30:00.250Z'],
  ])('ISO %s', (text, expected) => {
    expect(parseSince(text, NOW).toISOString()).toBe(expected);
  });

  it.each(['yesterday', '7', '7 days', '-7d', '0d', '2026-02-30', '2026-13-01', '2026-07-01T25:00:00Z', ''])('refuses %j with exit 2', (text) => {
    expect(() => parseSince(text, NOW)).toThrow(UsageError);
  });

  it('names the accepted forms', () => {
    expect(() => parseSince('last week', NOW)).toThrow(/--since 'last week' is not a date, a time or a span/);
    try {
      parseSince('last week', NOW);
    } catch (e) {
      expect((e as UsageError).hint).toMatch(/7d/);
      expect((e as UsageError).exitCode).toBe(2);
    }
  });
});

describe('dates that do not exist', () => {
  it('are refused, not rolled over into the next month', () => {
    expect(parseSince('2028-02-29', NOW).toISOString()).toBe('2028-02-29T00:00:00.000Z');
    expect(() => parseSince('2026-02-29', NOW)).toThrow(UsageError);
    expect(() => parseSince('2026-04-31T00:00:00Z', NOW)).toThrow(UsageError);
    expect(() => exportNow({ KLV_NOW: '2026-02-30' })).toThrow(/KLV_NOW '2026-02-30' is not an ISO date/);
  });
});

describe('exportNow', () => {
  it('reads the injected clock', () => {
    const clock = new FakeClock({ start: Date.UTC(2030, 0, 2, 3, 4, 5) });
    expect(exportNow({}, clock).toISOString()).toBe('2030-01-02T03:04:05.000Z');
  });

  it('KLV_NOW overrides it', () => {
    const clock = new FakeClock({ start: 0 });
    expect(exportNow({ KLV_NOW: '2027-08-01T00:00:00Z' }, clock).toISOString()).toBe('2027-08-01T00:00:00.000Z');
    expect(exportNow({ KLV_NOW: '2027-08-01' }, clock).toISOString()).toBe('2027-08-01T00:00:00.000Z');
    expect(exportNow({ KLV_NOW: '' }, clock).getTime()).toBe(0);
  });

  it('a bad KLV_NOW is a usage error', () => {
    expect(() => exportNow({ KLV_NOW: 'tomorrow' })).toThrow(/KLV_NOW 'tomorrow' is not an ISO date/);
  });
});
