/**
 * --where parsing: operators, quoting, `in` lists, coercion to the column's type (and the usage
 * errors when a value does not fit), column aliases, suggestions for unknown columns, and text
 * left over after a condition. A small object with one column per type keeps expectations exact.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-code.js';
import { conditionDatetime } from '../../src/objects/conditions/values.js';
import { parseWhere } from '../../src/objects/where.js';
import type { ColumnDef, ObjectDefinition } from '../../src/objects/types.js';

const col = (name: string, type: ColumnDef['type'], extra: Partial<ColumnDef> = {}): ColumnDef => ({
  name,
  type,
  description: name,
  path: name.toLowerCase(),
  ...extra,
});

const Things: ObjectDefinition = {
  name: 'Things',
  description: 'test object',
  key: ['Id'],
  columns: [
    col('Id', 'id', { path: 'id' }),
    col('Email', 'email', { aliases: ['email', '$email'] }),
    col('FirstName', 'string', { aliases: ['first_name'] }),
    col('Count', 'integer'),
    col('Price', 'number'),
    col('Active', 'boolean'),
    col('Created', 'datetime', { aliases: ['created_at'] }),
    col('Channel', 'string', { enum: ['email', 'sms', 'mobile_push'] }),
    col('Properties', 'json'),
  ],
  operations: [],
  constraints: [],
  plan: () => {
    throw new Error('not used');
  },
};

const where = (text: string) => parseWhere(text, Things);

function usageError(text: string): UsageError {
  try {
    where(text);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.Usage);
    return err as UsageError;
  }
  throw new Error(`--where "${text}" was accepted`);
}

describe('parseWhere operators', () => {
  it.each([
    ["FirstName = 'Ann'", '='],
    ["FirstName == 'Ann'", '='],
    ["FirstName != 'Ann'", '!='],
    ["FirstName <> 'Ann'", '!='],
    ["FirstName > 'Ann'", '>'],
    ["FirstName >= 'Ann'", '>='],
    ["FirstName < 'Ann'", '<'],
    ["FirstName <= 'Ann'", '<='],
    ["FirstName contains 'Ann'", 'contains'],
    ["FirstName CONTAINS 'Ann'", 'contains'],
    ["FirstName starts-with 'Ann'", 'starts-with'],
    ["FirstName starts_with 'Ann'", 'starts-with'],
    ["FirstName starts with 'Ann'", 'starts-with'],
    ["FirstName ends-with 'Ann'", 'ends-with'],
    ["FirstName endswith 'Ann'", 'ends-with'],
  ])('%s -> %s', (text, op) => {
    expect(where(text)).toEqual({ column: 'FirstName', op, value: 'Ann' });
  });

  it('needs no spaces around symbolic operators', () => {
    expect(where("FirstName='Ann'")).toEqual({ column: 'FirstName', op: '=', value: 'Ann' });
    expect(where('Count>=3')).toEqual({ column: 'Count', op: '>=', value: 3 });
  });

  it('in takes a parenthesised list of quoted or bare values', () => {
    expect(where("FirstName in ('Ann', \"Bob\", Cy)")).toEqual({ column: 'FirstName', op: 'in', value: ['Ann', 'Bob', 'Cy'] });
    expect(where('Count IN (1,2 , 3)')).toEqual({ column: 'Count', op: 'in', value: [1, 2, 3] });
    expect(where("Channel in ('EMAIL')")).toEqual({ column: 'Channel', op: 'in', value: ['email'] });
  });

  it('in without parentheses, with an empty item or unclosed is a usage error', () => {
    expect(usageError("FirstName in 'Ann'").message).toMatch(/in' takes a list in parentheses/);
    expect(usageError('FirstName in ()').message).toMatch(/a value is missing/);
    expect(usageError("FirstName in ('Ann' 'Bob')").message).toMatch(/not closed with '\)'/);
    expect(usageError("FirstName in ('Ann',").message).toMatch(/a value is missing/);
  });

  it('a missing or unknown operator, or a missing value, is a usage error with the syntax hint', () => {
    const e = usageError("FirstName ~ 'Ann'");
    expect(e.message).toMatch(/operator is missing or unknown/);
    expect(e.hint).toMatch(/Operators: = != > >= < <= in contains starts-with ends-with/);
    expect(usageError('FirstName').message).toMatch(/operator is missing/);
    expect(usageError('FirstName =').message).toMatch(/a value is missing/);
    expect(usageError('').message).toMatch(/should start with a column name/);
    expect(usageError("= 'Ann'").message).toMatch(/should start with a column name/);
  });
});

describe('parseWhere quoting', () => {
  it('single and double quotes, doubled quotes and backslash escapes', () => {
    expect(where("FirstName = 'O''Brien'").value).toBe("O'Brien");
    expect(where("FirstName = 'O\\'Brien'").value).toBe("O'Brien");
    expect(where('FirstName = "say ""hi"""').value).toBe('say "hi"');
    expect(where('FirstName = "it\'s"').value).toBe("it's");
    expect(where("FirstName = 'a = b, (c)'").value).toBe('a = b, (c)');
  });

  it('a bare value runs to the end, trimmed; a quoted one keeps its spaces', () => {
    expect(where('FirstName = Mary Ann  ').value).toBe('Mary Ann');
    expect(where("FirstName = '  padded '").value).toBe('  padded ');
  });

  it('an unclosed quote is a usage error naming the quote', () => {
    expect(usageError("FirstName = 'Ann").message).toMatch(/the ' quote is not closed/);
  });

  it('a quoted column name may hold spaces', () => {
    expect(where("\"First Name\" = 'Ann'").column).toBe('FirstName');
    expect(where("`first_name` = 'Ann'").column).toBe('FirstName');
  });

  it('text after the value is a usage error that says to repeat --where', () => {
    const e = usageError("FirstName = 'Ann' AND Count = 1");
    expect(e.message).toMatch(/unexpected text 'AND Count = 1'/);
    expect(e.message).toMatch(/repeat the flag/);
    expect(usageError("FirstName in ('Ann') x").message).toMatch(/unexpected text 'x'/);
  });
});

describe('parseWhere types', () => {
  it('integers and numbers', () => {
    expect(where('Count = 42').value).toBe(42);
    expect(where("Count = '42'").value).toBe(42);
    expect(where('Price < 9.99').value).toBe(9.99);
    expect(where('Price >= -1e3').value).toBe(-1000);
    expect(usageError('Count = 1.5').message).toMatch(/'1.5' is not a whole number \(column Count is integer\)/);
    expect(usageError('Price = cheap').message).toMatch(/is not a number/);
    expect(usageError('Price = Infinity').message).toMatch(/is not a number/);
  });

  it('booleans accept true/false, yes/no, 1/0 in any case', () => {
    for (const t of ['true', 'TRUE', 'yes', '1']) expect(where(`Active = ${t}`).value).toBe(true);
    for (const f of ['false', 'No', '0']) expect(where(`Active = ${f}`).value).toBe(false);
    expect(usageError('Active = maybe').message).toMatch(/is not true or false/);
  });

  it('datetimes become canonical UTC; dates are midnight UTC; no zone means UTC', () => {
    expect(where('Created >= 2026-01-31').value).toBe('2026-01-31T00:00:00Z');
    expect(where('Created >= 2026-01-31T12:30').value).toBe('2026-01-31T12:30:00Z');
    expect(where("Created < '2026-01-31 12:00:00+02:00'").value).toBe('2026-01-31T10:00:00Z');
    expect(where('Created < 2026-01-31T12:00:00.250-05:00').value).toBe('2026-01-31T17:00:00.250Z');
    expect(where("Created > '2024-05-13T08:01:45.276362'").value).toBe('2024-05-13T08:01:45.276362Z');
    expect(where("Created > '2024-05-13 10:01:45.276362+02:00'").value).toBe('2024-05-13T08:01:45.276362Z');
    expect(where("Created > '2024-05-13T08:01:45.000000Z'").value).toBe('2024-05-13T08:01:45Z');
    expect(usageError('Created > yesterday').message).toMatch(/is not a date or date-time/);
    expect(usageError('Created > 2026-13-01').message).toMatch(/is not a date or date-time/);
  });

  it('impossible calendar days are refused, not rolled over into the next month', () => {
    expect(conditionDatetime('2026-02-30')).toBeNull();
    expect(conditionDatetime('2026-04-31T00:00:00Z')).toBeNull();
    expect(conditionDatetime('2028-02-29')).toBe('2028-02-29T00:00:00Z');
    expect(usageError('Created = 2026-02-30').message).toMatch(/is not a date/);
  });

  it('enums match case-insensitively to the canonical value; other values are refused with the list', () => {
    expect(where('Channel = SMS').value).toBe('sms');
    expect(usageError("Channel = 'fax'").message).toMatch(/'fax' is not one of email, sms, mobile_push/);
  });

  it('bare null is null (only with = and !=); quoted null is text', () => {
    expect(where('FirstName = null').value).toBeNull();
    expect(where('Count != NULL').value).toBeNull();
    expect(where("FirstName = 'null'").value).toBe('null');
    expect(usageError('Count > null').message).toMatch(/null can only be compared with = or !=/);
  });

  it('contains, starts-with and ends-with need a text column', () => {
    expect(usageError('Count contains 4').message).toMatch(/contains needs a text column \(column Count is integer\)/);
    expect(where("Properties contains 'gold'")).toEqual({ column: 'Properties', op: 'contains', value: 'gold' });
  });
});

describe('parseWhere columns', () => {
  it('resolves case, underscores and Klaviyo aliases to the canonical name', () => {
    expect(where("firstname = 'A'").column).toBe('FirstName');
    expect(where("first_name = 'A'").column).toBe('FirstName');
    expect(where("$email = 'a@example.com'").column).toBe('Email');
    expect(where('created_at > 2026-01-01').column).toBe('Created');
  });

  it('an unknown column is a usage error suggesting the nearest', () => {
    const e = usageError("Emial = 'a@example.com'");
    expect(e.message).toBe("Things has no column 'Emial'.");
    expect(e.hint).toMatch(/Did you mean 'Email'\?/);
    expect(e.hint).toMatch(/klv describe Things/);
  });

  it('with nothing near, the hint lists every column', () => {
    const e = usageError("Zzzzzzzz = 'x'");
    expect(e.hint).toMatch(/lists the columns: Id, Email, FirstName, Count/);
  });

  it('Properties.<name> addresses one custom property on objects with Properties', () => {
    expect(where("Properties.tier = 'gold'")).toEqual({ column: 'Properties.tier', op: '=', value: 'gold' });
  });
});
