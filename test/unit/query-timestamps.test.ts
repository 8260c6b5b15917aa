/**
 * `klv query` on Klaviyo's microsecond and space-separated datetimes: SQLite sorts and compares
 * them as time (not as text of varying width), literals compared with a datetime column mean the
 * instant they name, and the output spells each value as the export does.
 */
import { describe, expect, it } from 'vitest';
import type { KlaviyoClient } from '../../src/klaviyo/client.js';
import type { ReadPlan, Row } from '../../src/objects/types.js';
import { analyzeSelect } from '../../src/query/analyze.js';
import { outputValue, planTables, runSelect, sqliteValue, type PlannedTable } from '../../src/query/engine.js';
import { parseSql } from '../../src/query/parse.js';

const rows: Row[] = [
  { Email: 'whole@x.co', Created: '2024-05-13T08:01:45+00:00' },
  { Email: 'micro@x.co', Created: '2024-05-13T08:01:45.276362+00:00' },
  { Email: 'space-ms@x.co', Created: '2024-05-13 08:01:45.276' },
  { Email: 'next@x.co', Created: '2024-05-13T10:01:46.000001+02:00' },
  { Email: 'none@x.co', Created: null },
];

/** Every row, whatever the conditions: what SQLite keeps is what the test checks. */
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
  const a = analyzeSelect(parseSql(sql));
  expect(a.simple, 'runs in SQLite').toBeUndefined();
  const result = await runSelect(a, planTables(a).map(fake), {} as KlaviyoClient);
  const out: Row[] = [];
  for await (const r of result.rows) out.push(r);
  result.dispose();
  return out;
}

const emails = async (sql: string) => (await run(sql)).map((r) => r.Email);

describe('klv query: datetimes compare and sort as time, to the microsecond', () => {
  it('ORDER BY a datetime column sorts by instant, whatever the fraction width', async () => {
    expect(await emails('SELECT Email FROM Profiles WHERE Created IS NOT NULL ORDER BY Created')).toEqual(['whole@x.co', 'space-ms@x.co', 'micro@x.co', 'next@x.co']);
  });

  it('a literal compared with a datetime column is the instant it names', async () => {
    expect(await emails("SELECT Email FROM Profiles WHERE Created >= '2024-05-13T08:01:45Z' ORDER BY Created")).toEqual(['whole@x.co', 'space-ms@x.co', 'micro@x.co', 'next@x.co']);
    expect(await emails("SELECT Email FROM Profiles WHERE Created > '2024-05-13T08:01:45.276' ORDER BY Created")).toEqual(['micro@x.co', 'next@x.co']);
    expect(await emails("SELECT Email FROM Profiles WHERE '2024-05-13 08:01:45.276362' = Created ORDER BY Created")).toEqual(['micro@x.co']);
    expect(await emails("SELECT Email FROM Profiles WHERE Created BETWEEN '2024-05-13 08:01:45' AND '2024-05-13T08:01:45.276362Z' ORDER BY Created")).toEqual([
      'whole@x.co',
      'space-ms@x.co',
      'micro@x.co',
    ]);
    expect(await emails("SELECT Email FROM Profiles WHERE Created IN ('2024-05-13T10:01:45.276+02:00', '2024-05-13T08:01:46.000001Z') ORDER BY Created")).toEqual([
      'space-ms@x.co',
      'next@x.co',
    ]);
    expect(await emails("SELECT Email FROM Profiles WHERE Created < '2024-05-14' AND Created > '2024-05-13' ORDER BY Created")).toHaveLength(4);
  });

  it('writes the values as the export does: UTC, every digit Klaviyo sent', async () => {
    expect(await run('SELECT Email, Created FROM Profiles ORDER BY Created')).toEqual([
      { Email: 'none@x.co', Created: null },
      { Email: 'whole@x.co', Created: '2024-05-13T08:01:45Z' },
      { Email: 'space-ms@x.co', Created: '2024-05-13T08:01:45.276Z' },
      { Email: 'micro@x.co', Created: '2024-05-13T08:01:45.276362Z' },
      { Email: 'next@x.co', Created: '2024-05-13T08:01:46.000001Z' },
    ]);
    expect(await run('SELECT MAX(Created) AS latest, MIN(Created) AS first FROM Profiles')).toEqual([{ latest: '2024-05-13T08:01:46.000001Z', first: '2024-05-13T08:01:45Z' }]);
  });

  it('stores a fixed-width UTC text and gives it back in the export spelling', () => {
    const created = { name: 'Created', type: 'datetime', description: '' } as const;
    expect(sqliteValue('2024-05-13T08:01:45.276362+00:00', created)).toBe('2024-05-13T08:01:45.276362000Z');
    expect(sqliteValue('2024-05-13 08:01:45', created)).toBe('2024-05-13T08:01:45.000000000Z');
    expect(sqliteValue('not a time', created)).toBe('not a time');
    expect(outputValue('2024-05-13T08:01:45.276360000Z', 'datetime')).toBe('2024-05-13T08:01:45.276360Z');
    expect(outputValue('2024-05-13T08:01:45.000000000Z', undefined)).toBe('2024-05-13T08:01:45Z');
    expect(outputValue('2024-05-13T08:01:45.250000000Z', 'datetime')).toBe('2024-05-13T08:01:45.250Z');
  });
});
