import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { likeOperator } from '../../src/objects/conditions/operators.js';
import { analyzeSelect } from '../../src/query/analyze.js';
import { caretAt, parseSql, toSql } from '../../src/query/parse.js';

const analyze = (sql: string) => analyzeSelect(parseSql(sql));
const whereOf = (sql: string, table: string) => analyze(sql).tables.get(table)!.where;

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('LIKE patterns', () => {
  it('map to starts-with, contains, ends-with and =', () => {
    expect(likeOperator('ab%')).toEqual({ op: 'starts-with', value: 'ab' });
    expect(likeOperator('%ab%')).toEqual({ op: 'contains', value: 'ab' });
    expect(likeOperator('%ab')).toEqual({ op: 'ends-with', value: 'ab' });
    expect(likeOperator('ab')).toEqual({ op: '=', value: 'ab' });
    // A backslash is plain text in SQLite's LIKE.
    expect(likeOperator('a\\%')).toEqual({ op: 'starts-with', value: 'a\\' });
  });
  it('other patterns have no Klaviyo equivalent', () => {
    for (const p of ['a%b', 'a_b', '%', '%%', '']) expect(likeOperator(p)).toHaveProperty('problem');
  });
});

describe('WHERE conjuncts become conditions', () => {
  it('=, flipped comparisons, IN, LIKE and BETWEEN', () => {
    const where = whereOf(
      "SELECT * FROM Profiles WHERE Email = 'a@b.co' AND '2024-01-01' < Created AND Country IN ('US', 'FR') AND City LIKE 'Par%' AND Latitude BETWEEN 1 AND 2",
      'Profiles',
    );
    expect(where).toEqual([
      { column: 'Email', op: '=', value: 'a@b.co' },
      { column: 'Created', op: '>', value: '2024-01-01T00:00:00Z' },
      { column: 'Country', op: 'in', value: ['US', 'FR'] },
      { column: 'City', op: 'starts-with', value: 'Par' },
      { column: 'Latitude', op: '>=', value: 1 },
      { column: 'Latitude', op: '<=', value: 2 },
    ]);
  });

  it('aliases resolve to canonical names (first_name -> FirstName)', () => {
    expect(whereOf("SELECT email FROM profiles WHERE first_name = 'Ann'", 'Profiles')).toEqual([{ column: 'FirstName', op: '=', value: 'Ann' }]);
  });

  it('OR, NOT, IS NULL, NOT IN, column-to-column and mistyped literals stay local', () => {
    const a = analyze(
      "SELECT * FROM Profiles WHERE (Email = 'a' OR City = 'b') AND NOT Country = 'x' AND Zip IS NULL AND Country NOT IN ('y') AND City = Region AND Latitude = 'north' AND Email = 'kept@x.co'",
    );
    expect(a.tables.get('Profiles')!.where).toEqual([{ column: 'Email', op: '=', value: 'kept@x.co' }]);
    expect(a.residual).toBe(6);
    expect(a.simple).toBeUndefined();
  });

  it('a join: each condition goes to its own object', () => {
    const a = analyze("SELECT l.Name FROM ListMembers m JOIN Lists l ON l.Id = m.ListId WHERE m.Email = 'a@b.co' AND l.Name LIKE '%VIP%'");
    expect(a.tables.get('ListMembers')!.where).toEqual([{ column: 'Email', op: '=', value: 'a@b.co' }]);
    expect(a.tables.get('Lists')!.where).toEqual([{ column: 'Name', op: 'contains', value: 'VIP' }]);
    expect([...a.tables.get('ListMembers')!.columns.keys()].sort()).toEqual(['Email', 'ListId']);
    expect([...a.tables.get('Lists')!.columns.keys()].sort()).toEqual(['Id', 'Name']);
    expect(a.localWork).toContain('join');
  });

  it('an object named twice gets no conditions (the other occurrence needs every row)', () => {
    const a = analyze("SELECT * FROM Profiles WHERE Email = 'a' AND Id IN (SELECT Id FROM Profiles WHERE City = 'x')");
    expect(a.tables.get('Profiles')!.where).toEqual([]);
  });
});

describe('columns, LIMIT and the simple scan', () => {
  it('collects the columns referenced anywhere', () => {
    const a = analyze('SELECT Country, COUNT(*) FROM Profiles WHERE City = 1 GROUP BY Country HAVING MAX(Latitude) > 1 ORDER BY Zip');
    expect([...a.tables.get('Profiles')!.columns.keys()].sort()).toEqual(['City', 'Country', 'Latitude', 'Zip']);
  });

  it('LIMIT is pushed only when nothing before it drops or reorders rows', () => {
    expect(analyze('SELECT Email FROM Profiles LIMIT 5 OFFSET 2').pushLimit).toBe(7);
    expect(analyze('SELECT Email FROM Profiles ORDER BY Email LIMIT 5').pushLimit).toBeUndefined();
    expect(analyze('SELECT COUNT(*) FROM Profiles LIMIT 5').pushLimit).toBeUndefined();
    expect(analyze("SELECT Email FROM Profiles WHERE Email = 'a' OR City = 'b' LIMIT 5").pushLimit).toBeUndefined();
    expect(analyze('SELECT DISTINCT Email FROM Profiles LIMIT 5').pushLimit).toBeUndefined();
  });

  it('a plain single-object select streams; expressions do not', () => {
    expect(analyze('SELECT Email AS e, City FROM Profiles').simple?.output.map((o) => o.name)).toEqual(['e', 'City']);
    expect(analyze('SELECT upper(Email) FROM Profiles').simple).toBeUndefined();
  });

  it('the SQL for SQLite uses the canonical names and keeps OR grouping', () => {
    const sql = toSql(analyze("SELECT first_name FROM list_members WHERE list_members.email = 'a' AND (last_name = 'b' OR first_name = 'c')").ast);
    expect(sql).toContain('"FirstName"');
    expect(sql).toContain('"ListMembers" AS "list_members"');
    expect(sql).toMatch(/AND \(.*OR.*\)/);
  });
});

describe('errors', () => {
  it('unknown object: nearest names', () => {
    const e = usageError(() => analyze('SELECT * FROM Profils'));
    expect(e.message).toContain("Unknown object 'Profils'");
    expect(e.hint).toContain('Profiles');
  });

  it('unknown column: nearest names of the objects in scope', () => {
    const e = usageError(() => analyze('SELECT Emial FROM Profiles'));
    expect(e.hint).toContain("'Email'");
    const q = usageError(() => analyze('SELECT l.Nmae FROM Lists l'));
    expect(q.message).toContain("Lists has no column 'Nmae'");
    expect(q.hint).toContain("'Name'");
  });

  it('unknown qualifier', () => {
    expect(usageError(() => analyze('SELECT x.Name FROM Lists l')).message).toContain("no object or alias named 'x'");
  });

  it('a syntax error shows the line and a caret at the column', () => {
    const e = usageError(() => parseSql('SELECT Name\nFROM Lists\nWHER Name = 1'));
    expect(e.message).toMatch(/line 3, column \d+/);
    expect(e.message).toContain('WHER Name = 1\n');
    expect(caretAt('SELECT x\nFROM y', 2, 3)).toBe('  FROM y\n    ^');
  });

  it('unsupported constructs name themselves', () => {
    expect(usageError(() => analyze('WITH t AS (SELECT 1) SELECT * FROM Lists')).message).toContain('WITH');
    expect(usageError(() => analyze('SELECT Name FROM Lists UNION SELECT Name FROM Segments')).message).toContain('UNION');
    expect(usageError(() => analyze('SELECT 1')).message).toContain('without an object');
    expect(usageError(() => parseSql('SELECT 1; SELECT 2')).message).toContain('2 statements');
  });
});
