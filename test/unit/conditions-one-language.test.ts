/**
 * One condition language: a condition written with --where, in a SELECT's WHERE, or in the WHERE
 * of an UPDATE or DELETE means the same thing. The same text becomes the same Condition, hence
 * the same Klaviyo filter and the same check on each row. First `O''Brien` (a doubled quote in a
 * SQL string, one quote in the value) through all three; then every place where the three
 * parsers used to disagree.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { selectColumns } from '../../src/objects/columns.js';
import { matchesAll } from '../../src/objects/read/values.js';
import { findObject } from '../../src/objects/registry.js';
import type { ColumnDef, Condition, ObjectDefinition, Row } from '../../src/objects/types.js';
import type { OperationHandler } from '../../src/objects/write/types.js';
import { parseWhere } from '../../src/objects/where.js';
import { analyzeSelect } from '../../src/query/analyze.js';
import { parseSql, toSql } from '../../src/query/parse.js';
import { translateWrite } from '../../src/query/write-statement.js';

const Profiles = findObject('Profiles');

/** The conditions a SELECT hands the planner (none of its conjuncts left to SQLite). */
function selectConditions(where: string, object = 'Profiles'): Condition[] {
  const a = analyzeSelect(parseSql(`SELECT * FROM ${object} WHERE ${where}`));
  expect(a.residualSql, `left to SQLite: ${a.residualSql.join('; ')}`).toEqual([]);
  return a.tables.get(findObject(object).name)!.where;
}

/** The conditions an UPDATE reads its target rows with. */
function updateConditions(where: string, def: ObjectDefinition = Profiles, find = findObject, set = "FirstName = 'x'"): Condition[] {
  const st = translateWrite(parseSql(`UPDATE ${def.name} SET ${set} WHERE ${where}`), find);
  expect(st.selection?.kind).toBe('where');
  return st.selection!.kind === 'where' ? st.selection!.conditions : [];
}

/** What the read of these conditions sends (the filter) and checks on each row (local). */
function planOf(def: ObjectDefinition, conditions: Condition[]): { filter: string | undefined; local: Condition[]; matches: (row: Row) => boolean } {
  const columns = selectColumns(def, [...new Set(['Id', ...conditions.map((c) => c.column)])]);
  const plan = def.plan({ columns, where: conditions, options: {} });
  const byName = new Map(columns.map((c) => [c.name, c]));
  return { filter: plan.requests[0]?.query.filter, local: plan.localConditions, matches: (row) => matchesAll(row, plan.localConditions, byName) };
}

describe("O''Brien through --where, SELECT and UPDATE alike", () => {
  it("Email = 'o''brien@example.com': one quote in the condition and in Klaviyo's filter", () => {
    const expected: Condition[] = [{ column: 'Email', op: '=', value: "o'brien@example.com" }];
    const ways = {
      where: [parseWhere("Email = 'o''brien@example.com'", Profiles)],
      select: selectConditions("Email = 'o''brien@example.com'"),
      update: updateConditions("Email = 'o''brien@example.com'"),
    };
    for (const [way, conditions] of Object.entries(ways)) {
      expect(conditions, way).toEqual(expected);
      expect(planOf(Profiles, conditions).filter, way).toBe(`equals(email,"o'brien@example.com")`);
    }
  });

  it("FirstName = 'O''Brien', which no endpoint filters: the check on each row uses one quote", () => {
    const ways = {
      where: [parseWhere("FirstName = 'O''Brien'", Profiles)],
      select: selectConditions("FirstName = 'O''Brien'"),
      update: updateConditions("FirstName = 'O''Brien'"),
    };
    for (const [way, conditions] of Object.entries(ways)) {
      const plan = planOf(Profiles, conditions);
      expect(plan.local, way).toEqual([{ column: 'FirstName', op: '=', value: "O'Brien" }]);
      expect(plan.matches({ Id: '1', FirstName: "O'Brien" }), way).toBe(true);
      expect(plan.matches({ Id: '2', FirstName: "O''Brien" }), way).toBe(false);
    }
  });

  it("LIKE '%''Brien%' is contains 'Brien with one quote, as --where's contains", () => {
    const expected: Condition[] = [{ column: 'FirstName', op: 'contains', value: "'Brien" }];
    expect([parseWhere("FirstName contains '''Brien'", Profiles)]).toEqual(expected);
    expect(selectConditions("FirstName LIKE '%''Brien%'")).toEqual(expected);
    expect(updateConditions("FirstName LIKE '%''Brien%'")).toEqual(expected);
  });

  it('a double-quoted SQL string undoes its doubled double quotes the same way; a SELECT leaves it to SQLite, which refuses it', () => {
    const expected: Condition[] = [{ column: 'FirstName', op: '=', value: 'say "hi"' }];
    expect([parseWhere('FirstName = "say ""hi"""', Profiles)]).toEqual(expected);
    expect(updateConditions('FirstName = "say ""hi"""')).toEqual(expected);
    // SQLite reads "..." as a name only: pushed down, a simple scan would answer what SQLite refuses.
    expect(analyzeSelect(parseSql('SELECT * FROM Profiles WHERE FirstName = "say ""hi"""')).residual).toBe(1);
  });
});

// A small object with one column per type, writable, for what Profiles lacks.
const col = (name: string, type: ColumnDef['type'], extra: Partial<ColumnDef> = {}): ColumnDef => ({ name, type, description: name, path: name.toLowerCase(), ...extra });
const handler = (operation: OperationHandler['operation']): OperationHandler => ({
  operation,
  description: operation,
  requiredColumns: ['Id'],
  maxBatchSize: 1,
  idempotent: true,
  processBatch: async () => [],
});
const Things: ObjectDefinition = {
  name: 'Things',
  description: 'test object',
  key: ['Id'],
  columns: [
    col('Id', 'id', { path: 'id' }),
    col('FirstName', 'string'),
    col('Quantity', 'integer'),
    col('Price', 'number'),
    col('Active', 'boolean'),
    col('Created', 'datetime'),
    col('Channel', 'string', { enum: ['email', 'sms'] }),
    col('Properties', 'json'),
  ],
  operations: ['update', 'delete'],
  write: { update: handler('update'), delete: handler('delete') },
  constraints: [],
  plan: () => {
    throw new Error('not used');
  },
};
const findThings = () => Things;
const thingsUpdate = (where: string) => updateConditions(where, Things, findThings);
const thingsDelete = (where: string): Condition[] => {
  const st = translateWrite(parseSql(`DELETE FROM Things WHERE ${where}`), findThings);
  return st.selection!.kind === 'where' ? st.selection!.conditions : [];
};

function refused(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('not refused');
}

describe('where the three parsers disagreed', () => {
  it("a column named in double quotes on the right of a comparison ('gold' = \"Properties.tier\") flips, as in a SELECT", () => {
    const expected: Condition[] = [{ column: 'Properties.tier', op: '=', value: 'gold' }];
    expect(thingsUpdate(`'gold' = "Properties.tier"`)).toEqual(expected);
    expect(thingsUpdate(`"Properties.tier" = 'gold'`)).toEqual(expected);
  });

  it('NULL in an IN list matches nothing in SQL: a write refuses it instead of reading it as "no value"', () => {
    expect(refused(() => thingsDelete("FirstName IN (NULL, 'Ann')")).message).toMatch(/NULL.*IN.*IS NULL/);
  });

  it("an empty string is not a number: Quantity = '' is refused, as --where refuses it, not read as 0", () => {
    expect(refused(() => parseWhere("Quantity = ''", Things)).message).toMatch(/'' is not a whole number/);
    expect(refused(() => thingsDelete("Quantity = ''")).message).toMatch(/'' is not a whole number/);
  });

  it('numbers in exponent form (1e3) and past 2^53 are numbers, not refused as expressions', () => {
    expect(parseWhere('Price > 1e3', Things)).toEqual({ column: 'Price', op: '>', value: 1000 });
    expect(thingsDelete('Price > 1e3')).toEqual([{ column: 'Price', op: '>', value: 1000 }]);
    expect(thingsDelete('Price < -2.5E-1')).toEqual([{ column: 'Price', op: '<', value: -0.25 }]);
    expect(selectConditions('Latitude > 1e1')).toEqual([{ column: 'Latitude', op: '>', value: 10 }]);
    expect(selectConditions('Latitude > - 5')).toEqual([{ column: 'Latitude', op: '>', value: -5 }]);
  });

  it("booleans read the same words: yes and no as --where reads them", () => {
    expect(parseWhere('Active = yes', Things).value).toBe(true);
    expect(thingsDelete("Active = 'yes'")).toEqual([{ column: 'Active', op: '=', value: true }]);
    expect(thingsDelete("Active = 'No'")).toEqual([{ column: 'Active', op: '=', value: false }]);
  });

  it('a bare number or boolean on a custom property keeps its type, as in SQL; a quoted one is text', () => {
    expect(parseWhere('Properties.score = 3', Things)).toEqual({ column: 'Properties.score', op: '=', value: 3 });
    expect(parseWhere('Properties.vip = true', Things)).toEqual({ column: 'Properties.vip', op: '=', value: true });
    expect(parseWhere("Properties.score = '3'", Things)).toEqual({ column: 'Properties.score', op: '=', value: '3' });
    expect(parseWhere('Properties.tier = gold', Things)).toEqual({ column: 'Properties.tier', op: '=', value: 'gold' });
    expect(thingsDelete('Properties.score = 3')).toEqual([{ column: 'Properties.score', op: '=', value: 3 }]);
    // A text operator takes the value as text, as before.
    expect(parseWhere('Properties contains 4', Things)).toEqual({ column: 'Properties', op: 'contains', value: '4' });
  });

  it("LIKE ... ESCAPE: the escape character is applied, not sent to Klaviyo as part of the text", () => {
    expect(thingsDelete("FirstName LIKE 'a!!b' ESCAPE '!'")).toEqual([{ column: 'FirstName', op: '=', value: 'a!b' }]);
    expect(thingsDelete("FirstName LIKE '50!%%' ESCAPE '!'")).toEqual([{ column: 'FirstName', op: 'starts-with', value: '50%' }]);
    expect(selectConditions("FirstName LIKE '50!%%' ESCAPE '!'")).toEqual([{ column: 'FirstName', op: 'starts-with', value: '50%' }]);
    expect(selectConditions("FirstName LIKE 'a!!b' ESCAPE '!'")).toEqual([{ column: 'FirstName', op: '=', value: 'a!b' }]);
    expect(refused(() => thingsDelete("FirstName LIKE 'a!_b%' ESCAPE '!!'")).message).toMatch(/ESCAPE/);
  });

  it('text operators need a text column: LIKE and starts-with on a date, number or boolean are refused, not matched as text', () => {
    // 'Created LIKE 2024-05-13%' was checked as "starts with 2024-05-13T00:00:00.000000000Z": midnight only.
    expect(refused(() => thingsDelete("Created LIKE '2024-05-13%'")).message).toMatch(/LIKE.*Created is datetime/);
    expect(refused(() => thingsDelete("Price LIKE '%.5'")).message).toMatch(/LIKE.*Price is number/);
    expect(refused(() => parseWhere('Created starts-with 2024-05-13', Things)).message).toMatch(/starts-with.*Created is datetime/);
    expect(refused(() => parseWhere('Quantity contains 4', Things)).message).toMatch(/contains.*Quantity is integer/);
  });
});

describe('a backslash is a backslash, as in SQLite', () => {
  // node-sql-parser reads MySQL's escapes in '...' (\t became a tab, \' did not end the text);
  // --where dropped every backslash. SQLite, which runs the query, reads none.
  const Lists = findObject('Lists');
  const listsWhere = (where: string) => analyzeSelect(parseSql(`SELECT * FROM Lists WHERE ${where}`));

  it("'C:\\temp\\new' is that text in --where, SELECT, UPDATE and INSERT, and in the SQL SQLite runs", () => {
    const text = 'C:\\temp\\new';
    const expected: Condition[] = [{ column: 'Name', op: '=', value: text }];
    expect([parseWhere(`Name = '${text}'`, Lists)]).toEqual(expected);
    const select = listsWhere(`Name = '${text}'`);
    expect(select.tables.get('Lists')!.where).toEqual(expected);
    expect(toSql(select.ast)).toContain(`= '${text}'`);
    expect(updateConditions(`Name = '${text}' AND Created > '2024-01-01'`, Lists, findObject, "Name = 'y'")[0]).toEqual(expected[0]);
    const insert = translateWrite(parseSql(`INSERT INTO Lists (Name) VALUES ('${text}')`), findObject);
    expect(insert.rows).toEqual([{ Name: text }]);
  });

  it("a backslash before the closing quote ends nothing: 'ends with \\' is text ending in a backslash", () => {
    const insert = translateWrite(parseSql("INSERT INTO Lists (Name) VALUES ('ends with \\'), ('next')"), findObject);
    expect(insert.rows).toEqual([{ Name: 'ends with \\' }, { Name: 'next' }]);
    expect(listsWhere("Name = 'a\\' AND Id = 'x'").tables.get('Lists')!.where).toEqual([
      { column: 'Name', op: '=', value: 'a\\' },
      { column: 'Id', op: '=', value: 'x' },
    ]);
  });

  it("--where still reads \\' and \\\\ as escapes (documented), and keeps any other backslash", () => {
    expect(parseWhere("Name = 'O\\'Brien'", Lists).value).toBe("O'Brien");
    expect(parseWhere("Name = 'a\\\\b'", Lists).value).toBe('a\\b');
    expect(parseWhere("Name = 'C:\\temp'", Lists).value).toBe('C:\\temp');
  });

  it('a syntax error after a backslash still points at the right column', () => {
    const e = refused(() => parseSql("SELECT * FROM Lists WHERE Name = 'a\\b' AND"));
    expect(e.message).toMatch(/line 1, column 43/);
  });
});
