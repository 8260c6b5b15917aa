/**
 * `klv query` writes, statement -> rows: INSERT's VALUES lists (one row per tuple, literals as the
 * cells the import's mapping layer coerces), UPDATE's SET with literals, the WHERE that selects
 * the target rows (ids directly, anything else as conditions for a pushed-down read), and every
 * refusal with a message that names what is wrong: DELETE without WHERE, expressions where a
 * value must be, unknown or read-only columns, operations an object does not support.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { findObject } from '../../src/objects/registry.js';
import { NULL_TOKEN, translateWrite, type WriteStatement } from '../../src/query/write-statement.js';

const require = createRequire(import.meta.url);
const { Parser } = require('node-sql-parser') as { Parser: new () => { astify(sql: string, o: { database: string }): unknown } };
const parser = new Parser();

/** Parsed as the query command parses (SQLite dialect), then translated. */
const tr = (sql: string): WriteStatement => translateWrite(parser.astify(sql, { database: 'sqlite' }), findObject);

function refusal(sql: string): UsageError {
  try {
    tr(sql);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error(`not refused: ${sql}`);
}

describe('INSERT', () => {
  it('a VALUES tuple of the wrong length is refused (by the translation, should a parser let it through)', () => {
    const ast = parser.astify("INSERT INTO Lists (Name, OptInProcess) VALUES ('a', 'b')", { database: 'sqlite' }) as { values: { values: Array<{ value: unknown[] }> } };
    ast.values.values[0].value.pop();
    expect(() => translateWrite(ast, findObject)).toThrow('INSERT INTO Lists: VALUES row 1 has 1 value for 2 columns (Name, OptInProcess).');
  });

  it('one row per VALUES tuple, the columns resolved to canonical names', () => {
    const st = tr("INSERT INTO lists (name, opt_in_process) VALUES ('VIP', 'double_opt_in'), ('Winback 2', NULL)");
    expect(st.def.name).toBe('Lists');
    expect(st.operation).toBe('insert');
    expect(st.handler).toBe(findObject('Lists').write!.insert);
    expect(st.headers).toEqual(['Name', 'OptInProcess']);
    expect(st.rows).toEqual([
      { Name: 'VIP', OptInProcess: 'double_opt_in' },
      { Name: 'Winback 2', OptInProcess: NULL_TOKEN },
    ]);
  });

  it('numbers, negative numbers and booleans become the text the import coerces', () => {
    const st = tr("INSERT INTO Events (MetricName, Email, Value, Properties) VALUES ('Bought', 'a@example.com', -12.5, '{\"vip\":true}')");
    expect(st.rows).toEqual([{ MetricName: 'Bought', Email: 'a@example.com', Value: '-12.5', Properties: '{"vip":true}' }]);
    const t = tr("INSERT INTO EmailTemplates (Name, Html) VALUES ('T', 'it''s <b>x</b>')");
    expect(t.rows).toEqual([{ Name: 'T', Html: "it's <b>x</b>" }]);
  });

  it('needs a column list, and the required columns in it', () => {
    expect(refusal("INSERT INTO Lists VALUES ('VIP')").message).toBe('INSERT INTO Lists needs a column list: which column does each value go to?');
    const e = refusal("INSERT INTO Lists (OptInProcess) VALUES ('single_opt_in')");
    expect(e.message).toBe('INSERT INTO Lists needs Name in its column list.');
    expect(e.hint).toContain('Lists INSERT takes: Name, OptInProcess');
  });

  it('names unknown columns with the nearest ones, and refuses read-only ones', () => {
    const e = refusal("INSERT INTO Lists (Nmae) VALUES ('x')");
    expect(e.message).toBe("INSERT INTO Lists: Lists has no column 'Nmae'.");
    expect(e.hint).toContain("Did you mean 'Name'");
    expect(refusal("INSERT INTO Lists (Name, Created) VALUES ('x', '2026-01-01')").message).toBe(
      'INSERT INTO Lists: Lists INSERT does not take Created (read-only: Klaviyo sets it).',
    );
  });

  it('says which value is not a literal, and counts values per row', () => {
    const f = refusal("INSERT INTO Lists (Name) VALUES ('a'), (upper('b'))");
    expect(f.message).toBe("INSERT INTO Lists: VALUES row 2, column Name: the function call upper(...) is not supported; only literal values ('text', 42, TRUE, NULL) can be written.");
    expect(refusal("INSERT INTO Lists (Name) VALUES ('a' || 'b')").message).toContain('an expression with || is not supported');
    expect(refusal('INSERT INTO Lists (Name) VALUES (Name)').message).toContain('the column reference Name is not supported');
    expect(refusal('INSERT INTO Lists (Name) SELECT Name FROM Lists').message).toContain('INSERT INTO Lists ... SELECT is not supported');
  });
});

describe('UPDATE', () => {
  it('SET literals, WHERE Id = ... selects that id without a read', () => {
    const st = tr("UPDATE EmailTemplates SET Name = 'x', Text = NULL WHERE Id = 'TPL1'");
    expect(st.def.name).toBe('EmailTemplates');
    expect(st.operation).toBe('update');
    expect(st.keys).toEqual(['Id']);
    expect(st.headers).toEqual(['Id', 'Name', 'Text']);
    expect(st.set).toEqual({ Name: 'x', Text: NULL_TOKEN });
    expect(st.selection).toEqual({ kind: 'ids', ids: ['TPL1'] });
  });

  it('WHERE Id IN (...) gives each id once', () => {
    expect(tr("UPDATE Lists SET Name = 'x' WHERE Id IN ('A', 'B', 'A')").selection).toEqual({ kind: 'ids', ids: ['A', 'B'] });
  });

  it('any other WHERE becomes conditions for a pushed-down read', () => {
    const st = tr("UPDATE Lists SET OptInProcess = 'double_opt_in' WHERE Name LIKE 'Winback%' AND Created >= '2024-01-01' AND OptInProcess IS NOT NULL");
    expect(st.selection).toEqual({
      kind: 'where',
      conditions: [
        { column: 'Name', op: 'starts-with', value: 'Winback' },
        { column: 'Created', op: '>=', value: '2024-01-01T00:00:00Z' },
        { column: 'OptInProcess', op: '!=', value: null },
      ],
    });
    expect(tr("DELETE FROM Lists WHERE Name LIKE '%VIP%'").selection).toEqual({ kind: 'where', conditions: [{ column: 'Name', op: 'contains', value: 'VIP' }] });
    expect(tr("DELETE FROM Lists WHERE 'X' = Id AND Name = 'n'").selection).toEqual({
      kind: 'where',
      conditions: [
        { column: 'Id', op: '=', value: 'X' },
        { column: 'Name', op: '=', value: 'n' },
      ],
    });
    expect(tr("DELETE FROM Lists WHERE Created BETWEEN '2024-01-01' AND '2024-02-01'").selection).toMatchObject({
      conditions: [
        { column: 'Created', op: '>=' },
        { column: 'Created', op: '<=' },
      ],
    });
  });

  it('refuses what it cannot translate, naming it', () => {
    expect(refusal("UPDATE Lists SET Name = upper(Name) WHERE Id = 'A'").message).toBe(
      "UPDATE Lists SET Name: the function call upper(...) is not supported; only literal values ('text', 42, TRUE, NULL) can be written.",
    );
    expect(refusal("UPDATE Lists SET Name = 'x' WHERE Id = 'A' OR Id = 'B'").message).toBe('UPDATE ... WHERE: OR is not supported in the WHERE of a write.');
    expect(refusal("UPDATE Lists SET Name = 'x' WHERE NOT Name = 'a'").message).toContain('NOT is not supported');
    expect(refusal("UPDATE Lists SET Name = 'x' WHERE Name LIKE 'a_b'").message).toContain("LIKE 'a_b'");
    expect(refusal("UPDATE Lists SET Name = 'x' WHERE Id IN (SELECT Id FROM Lists)").message).toContain('IN with a subquery');
    expect(refusal("UPDATE Lists SET Name = 'x' WHERE Name = NULL").message).toContain('write IS NULL or IS NOT NULL');
    expect(refusal("UPDATE Lists SET Name = 'x'").message).toBe('UPDATE without WHERE would change every list: klv refuses it.');
    expect(refusal("UPDATE Lists SET Id = 'x' WHERE Name = 'a'").message).toContain('Id identifies the record and cannot be changed');
    expect(refusal("UPDATE Lists SET Name = '' WHERE Id = 'A'").message).toBe("UPDATE Lists SET Name = '' gives Name no value.");
    expect(refusal("UPDATE Lists SET Nme = 'x' WHERE Id = 'A'").hint).toContain("Did you mean 'Name'");
    expect(refusal("UPDATE Lists SET Name = 'x' WHERE Created > 'yesterday'").message).toContain("'yesterday' is not a date");
  });
});

describe('DELETE', () => {
  it('WHERE Id selects ids; keys are what the handler needs', () => {
    const st = tr("DELETE FROM Lists WHERE Id = 'L1'");
    expect(st.operation).toBe('delete');
    expect(st.headers).toEqual(['Id']);
    expect(st.selection).toEqual({ kind: 'ids', ids: ['L1'] });
    const members = tr("DELETE FROM ListMembers WHERE ListId = 'L1' AND Email LIKE '%@example.com'");
    expect(members.keys).toEqual(findObject('ListMembers').write!.delete!.requiredColumns.map((r) => (typeof r === 'string' ? r : r.includes('Id') ? 'Id' : r[0])));
    expect(members.selection?.kind).toBe('where');
  });

  it('without WHERE is refused', () => {
    const e = refusal('DELETE FROM Lists');
    expect(e.message).toBe('DELETE without WHERE would delete every list: klv refuses it.');
    expect(e.hint).toContain('Write WHERE Id IN (...)');
    expect(refusal('DELETE FROM EmailTemplates').message).toBe('DELETE without WHERE would delete every email template: klv refuses it.');
  });

  it('an operation the object does not support names the supported ones (exit 2)', () => {
    const e = refusal("DELETE FROM Events WHERE Id = 'E1'");
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(`Events does not support DELETE: it supports ${findObject('Events').operations.map((o) => o.toUpperCase()).join(', ')}.`);
    expect(refusal("UPDATE Metrics SET Name = 'x' WHERE Id = 'M'").message).toBe('Metrics cannot be changed with UPDATE: klv reads it but does not write it.');
    expect(refusal("DELETE FROM Lists WHERE Id = 'A' ORDER BY Name LIMIT 1").message).toMatch(/DELETE with (ORDER BY|LIMIT) is not supported/);
  });
});
