/**
 * coerceCell: every column type's rule, its normalised output and its message; empty cells are
 * "not given", the --null-value token is null.
 */
import { describe, expect, it } from 'vitest';
import { coerceCell, coerceJson, type CoerceColumn } from '../../src/pipeline/import/coerce.js';

const col = (type: CoerceColumn['type'], name = 'Col', extra: Partial<CoerceColumn> = {}): CoerceColumn => ({ name, type, ...extra });
const ok = (text: string, c: CoerceColumn, nullToken?: string) => {
  const r = coerceCell(text, c, { nullToken });
  if (!r.ok) throw new Error(`expected ${JSON.stringify(text)} to coerce, got: ${r.reason}`);
  return r.value;
};
const reason = (text: string, c: CoerceColumn) => {
  const r = coerceCell(text, c, {});
  if (r.ok) throw new Error(`expected ${JSON.stringify(text)} to fail, got ${JSON.stringify(r.value)}`);
  return r.reason;
};

describe('empty cells and the null token', () => {
  it.each(['string', 'id', 'email', 'phone', 'datetime', 'integer', 'number', 'boolean', 'json'] as const)('%s: empty or blank is not given', (type) => {
    expect(coerceCell('', col(type), {})).toEqual({ ok: true, value: undefined });
    expect(coerceCell('   ', col(type), {})).toEqual({ ok: true, value: undefined });
  });

  it.each(['string', 'email', 'phone', 'datetime', 'integer', 'json'] as const)('%s: the null token clears the field', (type) => {
    expect(coerceCell('NULL', col(type), { nullToken: 'NULL' })).toEqual({ ok: true, value: null });
    expect(coerceCell(' NULL ', col(type), { nullToken: 'NULL' })).toEqual({ ok: true, value: null });
  });

  it('the token is matched exactly (case matters), other cells are values', () => {
    expect(ok('null', col('string'), 'NULL')).toBe('null');
    expect(ok('', col('string'), 'NULL')).toBeUndefined();
  });

  it('an empty token makes every empty cell a null', () => {
    expect(ok('', col('string'), '')).toBeNull();
    expect(ok('  ', col('integer'), '')).toBeNull();
    expect(ok('x', col('string'), '')).toBe('x');
  });
});

describe('string and id', () => {
  it('a string is kept exactly, spaces included', () => {
    expect(ok('  Ann ', col('string'))).toBe('  Ann ');
    expect(ok('a\nb', col('string'))).toBe('a\nb');
  });
  it('an id loses surrounding spaces', () => {
    expect(ok(' 01HXYZ ', col('id'))).toBe('01HXYZ');
  });
});

describe('email', () => {
  it.each([
    ['ann@example.com', 'ann@example.com'],
    [' Ann.Archer+tag@Example.COM ', 'Ann.Archer+tag@example.com'],
    ["o'brien@mail.example.org", "o'brien@mail.example.org"],
    ['zoë@exämple.de', 'zoë@exämple.de'],
    ['a@b.xn--p1ai', 'a@b.xn--p1ai'],
    ['ANN@EXAMPLE.COM', 'ANN@example.com'],
    ["x!#$%&'*+/=?^_`{|}~-y@sub-1.example.museum", "x!#$%&'*+/=?^_`{|}~-y@sub-1.example.museum"],
  ])('%j -> %j', (input, expected) => {
    expect(ok(input, col('email', 'Email'))).toBe(expected);
  });

  it.each(['abc', 'ann@', '@example.com', 'ann@example', 'ann@@example.com', 'ann example@example.com', 'ann@exa mple.com', '.ann@example.com', 'ann.@example.com', 'a..b@example.com', 'ann@-example.com', 'ann@example.c', 'ann@example..com', 'ann@example.123', 'ann@exa_mple.com', 'ann@example-.com', 'ann@example.com.', 'an(n)@example.com', 'zoë@exämple', 'zoë@-exämple.de'])(
    '%j is refused',
    (input) => {
      expect(reason(input, col('email'))).toBe(`'${input.trim()}' is not an email address`);
    },
  );

  it('a local part over 64 characters is refused', () => {
    expect(reason(`${'a'.repeat(65)}@example.com`, col('email'))).toMatch(/^'a{57}\.\.\.' is not an email address$/);
    expect(ok(`${'a'.repeat(64)}@example.com`, col('email'))).toBe(`${'a'.repeat(64)}@example.com`);
  });
});

describe('phone (E.164)', () => {
  it.each([
    ['+15005550006', '+15005550006'],
    ['+1 (500) 555-0006', '+15005550006'],
    ['+44 20 7946 0958', '+442079460958'],
    ['+33.1.23.45.67.89', '+33123456789'],
  ])('%j -> %j', (input, expected) => {
    expect(ok(input, col('phone'))).toBe(expected);
  });

  it.each(['5005550006', '555-0100', '+0123456789', '+1', '+1234567890123456', '00441234567890', '+1 500 CALL NOW'])('%j is refused with the E.164 hint', (input) => {
    expect(reason(input, col('phone'))).toBe(`'${input}' is not a valid phone number; use E.164: +15005550006`);
  });
});

describe('datetime (ISO 8601, to UTC with Z)', () => {
  it.each([
    ['2026-07-15', '2026-07-15T00:00:00Z'],
    ['2026-07-15T10:00:00Z', '2026-07-15T10:00:00Z'],
    ['2026-07-15T10:00:00+00:00', '2026-07-15T10:00:00Z'],
    ['2026-07-15T12:30:00+02:00', '2026-07-15T10:30:00Z'],
    ['2026-07-15T05:00:00-0500', '2026-07-15T10:00:00Z'],
    ['2026-07-15T10:00:00-03', '2026-07-15T13:00:00Z'],
    ['2026-07-15 10:00', '2026-07-15T10:00:00Z'],
    ['2026-07-15T10:00:00', '2026-07-15T10:00:00Z'],
    ['2026-07-15T10:00:00.250Z', '2026-07-15T10:00:00.250Z'],
    ['2026-07-15T10:00:00,5Z', '2026-07-15T10:00:00.500Z'],
    ['2026-07-15T10:00:00.000Z', '2026-07-15T10:00:00Z'],
    ['2026-12-31T23:30:00-01:00', '2027-01-01T00:30:00Z'],
    ['2024-02-29', '2024-02-29T00:00:00Z'],
    ['2000-02-29', '2000-02-29T00:00:00Z'],
    ['2026-07-15T10:00:00 +02:00', '2026-07-15T08:00:00Z'],
    ['2026-07-15T10:00:00+14:00', '2026-07-14T20:00:00Z'],
  ])('%j -> %j', (input, expected) => {
    expect(ok(input, col('datetime'))).toBe(expected);
  });

  it.each([
    ['2026-07-15T10:00:00.123456Z', '2026-07-15T10:00:00.123456Z'],
    ['2026-07-15T12:00:00.000001+02:00', '2026-07-15T10:00:00.000001Z'],
    ['2026-07-15 10:00:00,1234', '2026-07-15T10:00:00.123400Z'],
    ['2026-07-15T10:00:00.999900Z', '2026-07-15T10:00:00.999900Z'],
    // Klaviyo keeps microseconds: digits beyond are cut, never rounded up into the next second.
    ['2026-07-15T10:00:59.9999999Z', '2026-07-15T10:00:59.999999Z'],
  ])('keeps microseconds: %j -> %j', (input, expected) => {
    expect(ok(input, col('datetime'))).toBe(expected);
  });

  it.each([
    ['2026-02-30', ' (no such day)'],
    ['2026-02-29', ' (no such day)'],
    ['1900-02-29', ' (no such day)'],
    ['2026-13-01', ' (no such day)'],
    ['2026-04-31', ' (no such day)'],
    ['2026-07-15T24:00:00Z', ' (no such time)'],
    ['2026-07-15T10:60:00Z', ' (no such time)'],
    ['2026-07-15T10:00:00+15:00', ' (no such time zone offset)'],
    ['07/15/2026', ''],
    ['15.07.2026', ''],
    ['yesterday', ''],
    ['1752000000', ''],
  ])('%j is refused', (input, why) => {
    expect(reason(input, col('datetime'))).toBe(`'${input}' is not a date${why}; use ISO 8601: 2026-07-15 or 2026-07-15T10:00:00Z`);
  });
});

describe('integer and number', () => {
  it.each([
    ['42', 42],
    ['-7', -7],
    ['+3', 3],
    ['5.0', 5],
    ['0', 0],
  ])('integer %j -> %j', (input, expected) => {
    expect(ok(input, col('integer'))).toBe(expected);
  });
  it('integer refusals', () => {
    expect(reason('1.5', col('integer'))).toBe("'1.5' is not a whole number");
    expect(reason('abc', col('integer'))).toBe("'abc' is not a whole number");
    expect(reason('1e3', col('integer'))).toBe("'1e3' is not a whole number");
    expect(reason('99999999999999999999', col('integer'))).toBe("'99999999999999999999' is too large a whole number");
  });

  it.each([
    ['3.14', 3.14],
    ['-0.5', -0.5],
    ['.5', 0.5],
    ['10', 10],
    ['1e3', 1000],
    ['45.5231', 45.5231],
  ])('number %j -> %j', (input, expected) => {
    expect(ok(input, col('number'))).toBe(expected);
  });
  it('number refusals', () => {
    expect(reason('abc', col('number'))).toBe("'abc' is not a number");
    expect(reason('NaN', col('number'))).toBe("'NaN' is not a number");
    expect(reason('Infinity', col('number'))).toBe("'Infinity' is not a number");
    expect(reason('0x10', col('number'))).toBe("'0x10' is not a number");
    expect(reason('1e999', col('number'))).toBe("'1e999' is not a number");
    expect(reason('3,14', col('number'))).toBe("'3,14' is not a number; write decimals with a dot: 3.14");
  });
});

describe('boolean', () => {
  it.each([
    ['true', true],
    ['TRUE', true],
    ['Yes', true],
    ['1', true],
    ['false', false],
    ['No', false],
    ['0', false],
  ])('%j -> %j', (input, expected) => {
    expect(ok(input, col('boolean'))).toBe(expected);
  });
  it('anything else is refused', () => {
    expect(reason('maybe', col('boolean'))).toBe("'maybe' is not true or false (use true/false, yes/no or 1/0)");
  });
});

describe('enums', () => {
  const optIn = col('string', 'OptInProcess', { enum: ['single_opt_in', 'double_opt_in'] });
  const reason2 = col('string', 'Reason', { enum: ['USER_SUPPRESSED', 'HARD_BOUNCE', 'SPAM_COMPLAINT'] });

  it('match case-insensitively, then ignoring spaces, underscores and hyphens, to the canonical value', () => {
    expect(ok('double_opt_in', optIn)).toBe('double_opt_in');
    expect(ok('DOUBLE_OPT_IN', optIn)).toBe('double_opt_in');
    expect(ok('Double opt-in', optIn)).toBe('double_opt_in');
    expect(ok('user suppressed', reason2)).toBe('USER_SUPPRESSED');
  });
  it('anything else names the allowed values', () => {
    expect(reason('triple', optIn)).toBe("'triple' is not one of: single_opt_in, double_opt_in");
  });
});

describe('json', () => {
  it('Properties must be a JSON object', () => {
    expect(ok('{"tier":"gold","n":2}', col('json', 'Properties'))).toEqual({ tier: 'gold', n: 2 });
    expect(reason('[1,2]', col('json', 'Properties'))).toBe('\'[1,2]\' is not a JSON object; Properties takes an object like {"tier":"gold"}');
    expect(reason('"gold"', col('json', 'Properties'))).toMatch(/is not a JSON object/);
    expect(reason('null', col('json', 'Properties'))).toMatch(/is not a JSON object/);
    expect(reason('{tier: gold}', col('json', 'Properties'))).toMatch(/^'\{tier: gold\}' is not JSON \(.+\); Properties takes an object like \{"tier":"gold"\}$/);
  });

  it('other JSON columns take any JSON value', () => {
    expect(ok('["a.jpg","b.jpg"]', col('json', 'Images'))).toEqual(['a.jpg', 'b.jpg']);
    expect(ok('{"method":"immediate"}', col('json', 'SendStrategy'))).toEqual({ method: 'immediate' });
    expect(reason('{"method":', col('json', 'SendStrategy'))).toMatch(/^'\{"method":' is not valid JSON \(.+\)$/);
  });

  it('a single custom property takes JSON when the cell is JSON, the text otherwise', () => {
    const tier = col('json', 'Properties.tier');
    expect(ok('gold', tier)).toBe('gold');
    expect(ok('42', tier)).toBe(42);
    expect(ok('4.5', tier)).toBe(4.5);
    expect(ok('true', tier)).toBe(true);
    expect(ok('02134', tier)).toBe('02134');
    expect(ok('{"a":1}', tier)).toEqual({ a: 1 });
    expect(ok('"quoted"', tier)).toBe('quoted');
    expect(ok('12345678901234567890', tier)).toBe('12345678901234567890');
    expect(ok('-3', tier)).toBe(-3);
    expect(ok('false', tier)).toBe(false);
    expect(ok('null', tier)).toBe(null);
    expect(ok('[1,"a"]', tier)).toEqual([1, 'a']);
    // Text that merely starts like JSON stays text, whether or not parsing is attempted.
    expect(ok('trueish', tier)).toBe('trueish');
    expect(ok('nullable', tier)).toBe('nullable');
    expect(ok('-x', tier)).toBe('-x');
    expect(ok('[draft', tier)).toBe('[draft');
    expect(ok('Gold Plan', tier)).toBe('Gold Plan');
    expect(ok('.5', tier)).toBe('.5');
    expect(ok('True', tier)).toBe('True');
  });

  it('a custom property given untrimmed to coerceJson is parsed as JSON.parse would', () => {
    expect(coerceJson(' 42', 'Properties.n')).toEqual({ ok: true, value: 42 });
    expect(coerceJson('\t true', 'Properties.b')).toEqual({ ok: true, value: true });
    expect(coerceJson(' gold', 'Properties.t')).toEqual({ ok: true, value: ' gold' });
  });
});

describe('messages', () => {
  it('quote long cells shortened and on one line', () => {
    const long = `${'x'.repeat(100)}@`;
    expect(reason(long, col('email'))).toBe(`'${'x'.repeat(57)}...' is not an email address`);
    expect(reason('a\nb', col('integer'))).toBe("'a\\nb' is not a whole number");
  });
});
