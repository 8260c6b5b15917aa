import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import {
  buildFilter,
  filter,
  formatFilterDatetime,
  formatFilter,
  parseFilterDatetime,
  quoteString,
  validateFilter,
} from '../../src/klaviyo/filter-builder.js';

describe('quoteString', () => {
  it('quotes with single quotes like the spec examples', () => {
    expect(quoteString('a@b.com')).toBe("'a@b.com'");
  });
  it("switches to double quotes for a text with a single quote", () => {
    expect(quoteString("O'Brien")).toBe(`"O'Brien"`);
  });
  it('escapes when both quotes appear, and backslashes always', () => {
    expect(quoteString(`it's "x"`)).toBe(`'it\\'s "x"'`);
    expect(quoteString('a\\b')).toBe("'a\\\\b'");
  });
});

describe('datetimes', () => {
  it('are ISO UTC with Z, milliseconds only when present', () => {
    expect(formatFilterDatetime(new Date(Date.UTC(2024, 0, 1)))).toBe('2024-01-01T00:00:00Z');
    expect(formatFilterDatetime(new Date(Date.UTC(2024, 0, 1, 0, 0, 0, 5)))).toBe('2024-01-01T00:00:00.005Z');
  });
  it('typed text without a zone is read as UTC, with a zone converted to UTC', () => {
    expect(parseFilterDatetime('2024-03-05', 'updated').toISOString()).toBe('2024-03-05T00:00:00.000Z');
    expect(parseFilterDatetime('2024-03-05T10:00:00', 'updated').toISOString()).toBe('2024-03-05T10:00:00.000Z');
    expect(parseFilterDatetime('2024-03-05T10:00:00+02:00', 'updated').toISOString()).toBe('2024-03-05T08:00:00.000Z');
  });
  it('refuses text that is not a date', () => {
    expect(() => parseFilterDatetime('yesterday', 'updated')).toThrow(UsageError);
    expect(() => parseFilterDatetime('2024-13-45', 'updated')).toThrow(/not a date-time/);
  });
  it('refuses days and times that do not exist instead of rolling them over (2026-02-30 is not March 2)', () => {
    const updated = { updated: { operators: ['greater-than'], type: 'string', format: 'date-time' } };
    for (const text of ['2026-02-30', '2026-02-29T10:00:00Z', '2026-04-31T00:00:00', '2026-07-15T24:00:00Z', '2026-07-15T10:00:60Z']) {
      expect(() => parseFilterDatetime(text, 'updated'), text).toThrow(/not a date-time for the filter field 'updated'/);
      expect(() => formatFilter(filter.greaterThan('updated', text), updated), text).toThrow(UsageError);
    }
    expect(formatFilter(filter.greaterThan('updated', '2024-02-29'), updated)).toBe('greater-than(updated,2024-02-29T00:00:00Z)');
  });
});

describe('formatFilter', () => {
  it('strings quoted, datetimes bare, lists in brackets, booleans and numbers bare', () => {
    expect(formatFilter(filter.equals('email', 'a@b.com'))).toBe("equals(email,'a@b.com')");
    expect(formatFilter(filter.greaterThan('updated', new Date(Date.UTC(2024, 0, 1))))).toBe('greater-than(updated,2024-01-01T00:00:00Z)');
    expect(formatFilter(filter.any('id', ['a', 'b']))).toBe("any(id,['a','b'])");
    expect(formatFilter(filter.equals('archived', true))).toBe('equals(archived,true)');
    expect(formatFilter(filter.equals('lat', 40.7128))).toBe('equals(lat,40.7128)');
    expect(formatFilter(filter.has('phone_number'))).toBe('has(phone_number)');
  });

  it('combines several conditions with and(...), flattening nested ands', () => {
    expect(
      formatFilter(filter.and(filter.equals('email', 'x'), filter.and(filter.lessThan('created', new Date(0)), filter.has('y')))),
    ).toBe("and(equals(email,'x'),less-than(created,1970-01-01T00:00:00Z),has(y))");
  });

  it('list operators need a non-empty list', () => {
    expect(() => formatFilter({ kind: 'condition', operator: 'any', field: 'id', value: 'a' })).toThrow(/takes a list/);
    expect(() => formatFilter(filter.any('id', []))).toThrow(/at least one value/);
  });
});

describe('buildFilter against an operation', () => {
  it('formats datetime strings on date-time fields unquoted in UTC', () => {
    expect(buildFilter('get_profiles', filter.greaterThan('updated', '2024-01-01'))).toBe('greater-than(updated,2024-01-01T00:00:00Z)');
  });

  it('several expressions become and(...)', () => {
    expect(buildFilter('get_profiles', filter.equals('email', 'a@b.com'), filter.greaterThan('updated', '2024-01-01T12:00:00Z'))).toBe(
      "and(equals(email,'a@b.com'),greater-than(updated,2024-01-01T12:00:00Z))",
    );
  });

  it('checks enum values', () => {
    expect(buildFilter('get_campaigns', filter.equals('messages.channel', 'email'))).toBe("equals(messages.channel,'email')");
    expect(() => buildFilter('get_campaigns', filter.equals('messages.channel', 'fax'))).toThrow(/not a value of the filter field/);
  });

  it('a field the operation does not filter on: UsageError naming the allowed fields', () => {
    try {
      validateFilter('get_profiles', filter.equals('first_name', 'Ann'));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      expect((e as UsageError).message).toBe("get_profiles cannot filter on 'first_name'");
      expect((e as UsageError).hint).toContain('email (any, equals)');
      expect((e as UsageError).exitCode).toBe(2);
    }
  });

  it('an operator the field does not allow: UsageError naming the allowed operators', () => {
    try {
      buildFilter('get_profiles', filter.contains('email', '@example.com'));
      expect.unreachable();
    } catch (e) {
      expect((e as UsageError).message).toBe("get_profiles cannot filter 'email' with 'contains'");
      expect((e as UsageError).hint).toBe('Operators allowed for email: any, equals.');
    }
  });

  it('an operation without filters', () => {
    expect(() => buildFilter('get_accounts', filter.equals('id', 'x'))).toThrow('get_accounts takes no filter');
  });
});
