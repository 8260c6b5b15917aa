/**
 * Custom properties in klv query's SQL: every way of naming `Properties.<name>` (bare,
 * double-quoted, backquoted, qualified, nested) reaches the analysis as the one column
 * `Properties.<name>` that `klv export --properties` produces; string literals and comments stay
 * as written; a syntax error's caret still points into the SQL as typed; conditions on a
 * property are never sent to Klaviyo (no endpoint filters them) but checked by SQLite, which
 * compares numbers as numbers and gives booleans back as booleans; writes name property columns
 * in INSERT and UPDATE; an object without custom properties is a usage error naming its columns.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import type { KlaviyoClient } from '../../src/klaviyo/client.js';
import { findObject } from '../../src/objects/registry.js';
import type { ReadPlan, Row } from '../../src/objects/types.js';
import { analyzeSelect } from '../../src/query/analyze.js';
import { planTables, runSelect, type PlannedTable } from '../../src/query/engine.js';
import { queryExplain, renderQueryExplain } from '../../src/query/explain.js';
import { parseSql, toSql } from '../../src/query/parse.js';
import { rewritePropertyReferences } from '../../src/query/properties.js';
import { translateWrite } from '../../src/query/write-statement.js';

const analyze = (sql: string) => analyzeSelect(parseSql(sql));
const columnsOf = (sql: string, table = 'Profiles') => [...analyze(sql).tables.get(table)!.columns.keys()];

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('the rewrite before parsing', () => {
  const rw = (sql: string) => rewritePropertyReferences(sql).sql;

  it('quotes every form of a property name as one identifier', () => {
    expect(rw('SELECT Properties.tier FROM Profiles')).toBe('SELECT `Properties.tier` FROM Profiles');
    expect(rw('SELECT p.Properties.tier FROM Profiles p')).toBe('SELECT p.`Properties.tier` FROM Profiles p');
    expect(rw('SELECT properties.tier FROM Profiles')).toBe('SELECT `Properties.tier` FROM Profiles');
    expect(rw('SELECT Properties."first name", Properties.`last name` FROM Profiles')).toBe('SELECT `Properties.first name`, `Properties.last name` FROM Profiles');
    expect(rw('SELECT Properties.address.city FROM Profiles')).toBe('SELECT `Properties.address.city` FROM Profiles');
    expect(rw('SELECT Properties.$source, Properties . tier FROM Profiles')).toBe('SELECT `Properties.$source`, `Properties.tier` FROM Profiles');
  });

  it('leaves strings, comments, quoted names, the Properties column itself and other names alone', () => {
    const sql = `SELECT Properties, "Properties.tier", \`Properties.x\`, Email FROM Profiles -- Properties.tier\nWHERE City = 'Properties.tier' /* Properties.tier */ AND Latitude > 1.5`;
    expect(rw(sql)).toBe(sql);
  });

  it('leaves Properties.x alone when the statement makes Properties an alias', () => {
    for (const sql of ['SELECT Properties.Email FROM Profiles AS Properties', 'SELECT Properties.Email FROM Profiles Properties', 'SELECT Properties.n FROM (SELECT 1 AS n) Properties']) {
      expect(rw(sql)).toBe(sql);
    }
  });

  it('maps offsets in the rewritten text back to the SQL as written', () => {
    const r = rewritePropertyReferences('SELECT Properties.a, Properties.bb FROM X');
    expect(r.sql).toBe('SELECT `Properties.a`, `Properties.bb` FROM X');
    expect(r.toOriginal(0)).toBe(0);
    expect(r.toOriginal(r.sql.indexOf('`Properties.a`'))).toBe(7);
    expect(r.toOriginal(r.sql.indexOf(', `Properties.bb`'))).toBe('SELECT Properties.a'.length);
    expect(r.toOriginal(r.sql.indexOf('FROM'))).toBe('SELECT Properties.a, Properties.bb '.length);
  });

  it("a syntax error's caret points into the SQL as typed", () => {
    // The parser takes WHER for an alias and stops at the next word.
    const sql = 'SELECT Properties.tier, Properties.x FROM Profiles WHER Email = 1';
    const column = sql.indexOf('Email =') + 1;
    const e = usageError(() => parseSql(sql));
    expect(e.message).toContain(`line 1, column ${column}: unexpected 'E'`);
    expect(e.message).toContain(`  ${sql}\n${' '.repeat(2 + column - 1)}^`);
  });
});

describe('SELECT: every spelling is the column Properties.<name>', () => {
  const forms = [
    "SELECT Email, Properties.tier FROM Profiles WHERE Properties.tier = 'gold'",
    `SELECT Email, "Properties.tier" FROM Profiles WHERE "Properties.tier" = 'gold'`,
    "SELECT Email, `Properties.tier` FROM Profiles WHERE `Properties.tier` = 'gold'",
    "SELECT p.Email, p.Properties.tier FROM Profiles p WHERE p.Properties.tier = 'gold'",
    `SELECT p.Email, p."Properties.tier" FROM Profiles p WHERE p."Properties.tier" = 'gold'`,
  ];
  for (const sql of forms) {
    it(sql, () => {
      const a = analyze(sql);
      const use = a.tables.get('Profiles')!;
      expect([...use.columns.keys()]).toEqual(['Email', 'Properties.tier']);
      // Klaviyo filters no custom property: nothing pushed, SQLite checks it.
      expect(use.where).toEqual([]);
      expect(a.residual).toBe(1);
      expect(a.simple).toBeUndefined();
      expect(toSql(a.ast)).toMatch(/WHERE ("p"\.)?"Properties\.tier" = 'gold'$/);
      const [t] = planTables(a);
      expect(t.request.options).toEqual({ properties: ['tier'] });
      expect(t.request.columns.map((c) => c.name)).toEqual(['Email', 'Properties.tier']);
    });
  }

  it('a plain scan of property columns streams, asking for the properties', () => {
    const a = analyze('SELECT Email, Properties.tier AS t, Properties.orders FROM Profiles LIMIT 5');
    expect(a.simple?.output.map((o) => [o.name, o.column.name])).toEqual([
      ['Email', 'Email'],
      ['t', 'Properties.tier'],
      ['Properties.orders', 'Properties.orders'],
    ]);
    expect(planTables(a)[0].request.options).toEqual({ properties: ['tier', 'orders'] });
  });

  it('GROUP BY and ORDER BY on a property', () => {
    const a = analyze('SELECT Properties.tier, COUNT(*) AS n FROM Profiles GROUP BY Properties.tier ORDER BY Properties.tier');
    expect([...a.tables.get('Profiles')!.columns.keys()]).toEqual(['Properties.tier']);
    expect(toSql(a.ast)).toBe('SELECT "Properties.tier", COUNT(*) AS "n" FROM "Profiles" GROUP BY "Properties.tier" ORDER BY "Properties.tier" ASC');
  });

  it('Events have custom properties too; a join qualifies them', () => {
    const a = analyze('SELECT e.Properties.OrderId, p.Properties.tier FROM Events e JOIN Profiles p ON p.Id = e.ProfileId');
    expect(a.tables.get('Events')!.columns.has('Properties.OrderId')).toBe(true);
    expect(a.tables.get('Profiles')!.columns.has('Properties.tier')).toBe(true);
  });

  it('double-quoted text that names no column stays a string literal', () => {
    const a = analyze(`SELECT Email FROM Profiles WHERE City = "Oslo"`);
    expect([...a.tables.get('Profiles')!.columns.keys()]).toEqual(['Email', 'City']);
    expect(a.ast.where.right).toEqual({ type: 'double_quote_string', value: 'Oslo' });
  });

  it('double-quoted text naming a column is that column, as in SQLite', () => {
    const a = analyze(`SELECT "Email" FROM Profiles`);
    expect(a.simple?.output.map((o) => o.column.name)).toEqual(['Email']);
  });

  it('an alias named Properties keeps its meaning', () => {
    expect(columnsOf('SELECT Properties.Email FROM Profiles AS Properties')).toEqual(['Email']);
  });

  it('--explain says the property condition is checked locally, and why', () => {
    const sql = "SELECT Email FROM Profiles WHERE Properties.tier = 'gold' AND Email = 'a@b.co'";
    const a = analyze(sql);
    expect(a.tables.get('Profiles')!.where).toEqual([{ column: 'Email', op: '=', value: 'a@b.co' }]);
    const text = renderQueryExplain(queryExplain(sql, a, planTables(a)));
    expect(text).toContain('1 WHERE condition no endpoint can filter');
    expect(text).toContain(`WHERE conditions SQLite checks on the rows read (no Klaviyo filter expresses them):\n  "Properties.tier" = 'gold'   (a custom property: no Klaviyo endpoint filters on custom properties)\n`);
    expect(text).toMatch(/filter +equals\(email,'a@b\.co'\)\n/);
  });
});

describe('usage errors', () => {
  it('Properties.x on an object without custom properties names the object and its columns', () => {
    for (const sql of ['SELECT Name, Properties.tier FROM Lists', 'SELECT l.Properties.tier FROM Lists l', `SELECT "Properties.tier" FROM Lists`, "SELECT Name FROM Lists WHERE Properties.tier = 'x'"]) {
      const e = usageError(() => analyze(sql));
      expect(e.message, sql).toBe("Lists has no custom properties, so there is no column 'Properties.tier'.");
      expect(e.hint).toContain("Lists's columns: Id, Name, ");
    }
  });

  it('two property names that differ only in case (SQLite would take them for one column)', () => {
    const e = usageError(() => analyze('SELECT Properties.tier, Properties.Tier FROM Profiles'));
    expect(e.message).toContain("'Properties.tier' and 'Properties.Tier' differ only in case");
  });
});

describe('SQLite: property values keep their types', () => {
  const profiles = findObject('Profiles');
  const rows: Row[] = [
    { Email: 'a@x.co', 'Properties.orders': 10, 'Properties.vip': true, 'Properties.tier': 'gold', 'Properties.tags': ['a', 'b'] },
    { Email: 'b@x.co', 'Properties.orders': 5, 'Properties.vip': false, 'Properties.tier': 'silver', 'Properties.tags': null },
    { Email: 'c@x.co', 'Properties.orders': 9, 'Properties.vip': null, 'Properties.tier': null, 'Properties.tags': null },
  ];
  const fake = (t: PlannedTable): PlannedTable => {
    const names = t.request.columns.map((c) => c.name);
    const plan: ReadPlan = {
      ...t.plan,
      async *execute() {
        for (const r of rows) yield Object.fromEntries(names.map((n) => [n, r[n] ?? null]));
      },
    };
    return { ...t, plan };
  };
  async function run(sql: string): Promise<Row[]> {
    const a = analyze(sql);
    const result = await runSelect(a, planTables(a).map(fake), {} as KlaviyoClient);
    const out: Row[] = [];
    for await (const r of result.rows) out.push(r);
    result.dispose();
    expect(a.tables.get('Profiles')!.def).toBe(profiles);
    return out;
  }

  it('numbers compare as numbers (10 > 9, which text would not say)', async () => {
    expect(await run('SELECT Email FROM Profiles WHERE Properties.orders > 6 ORDER BY Properties.orders')).toEqual([{ Email: 'c@x.co' }, { Email: 'a@x.co' }]);
  });

  it('text compares as text; booleans come back as booleans, arrays as arrays', async () => {
    expect(await run("SELECT Email, Properties.vip, Properties.tags FROM Profiles WHERE Properties.tier = 'gold'")).toEqual([
      { Email: 'a@x.co', 'Properties.vip': true, 'Properties.tags': ['a', 'b'] },
    ]);
    expect(await run('SELECT Properties.vip, COUNT(*) AS n FROM Profiles GROUP BY Properties.vip ORDER BY 1')).toEqual([
      { 'Properties.vip': null, n: 1 },
      { 'Properties.vip': false, n: 1 },
      { 'Properties.vip': true, n: 1 },
    ]);
    expect(await run('SELECT Email FROM Profiles WHERE Properties.vip = TRUE')).toEqual([{ Email: 'a@x.co' }]);
  });
});

describe('INSERT and UPDATE name property columns', () => {
  const tr = (sql: string) => translateWrite(parseSql(sql), findObject);

  it('in the INSERT column list, every spelling', () => {
    for (const col of ['Properties.tier', '"Properties.tier"', '`Properties.tier`']) {
      const st = tr(`INSERT INTO Profiles (Email, ${col}) VALUES ('a@x.co', 'gold')`);
      expect(st.headers).toEqual(['Email', 'Properties.tier']);
      expect(st.rows).toEqual([{ Email: 'a@x.co', 'Properties.tier': 'gold' }]);
    }
  });

  it('in UPDATE SET and WHERE; a number stays a number for the read that finds the rows', () => {
    const st = tr("UPDATE Profiles SET Properties.tier = 'gold' WHERE Properties.orders > 3 AND \"Properties.vip\" = TRUE AND \"Properties.tier\" = 'silver'");
    expect(st.set).toEqual({ 'Properties.tier': 'gold' });
    expect(st.selection).toEqual({
      kind: 'where',
      conditions: [
        { column: 'Properties.orders', op: '>', value: 3 },
        { column: 'Properties.vip', op: '=', value: true },
        { column: 'Properties.tier', op: '=', value: 'silver' },
      ],
    });
  });

  it('on an object without custom properties: a usage error naming its columns', () => {
    const e = usageError(() => tr("INSERT INTO Lists (Name, Properties.tier) VALUES ('VIP', 'gold')"));
    expect(e.message).toBe("INSERT INTO Lists: Lists has no custom properties, so there is no column 'Properties.tier'.");
    expect(e.hint).toContain("Lists's columns: Id, Name");
  });
});
