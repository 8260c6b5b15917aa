/**
 * The unique ids klv derives for events (`klv-` + SHA-256 of the row's canonical JSON) are stored
 * in Klaviyo, which records one event per profile, metric and unique id. A file imported again,
 * by this or a later version of klv, must derive exactly the same ids, or every event is recorded
 * twice. These ids were computed by klv before its canonical JSON and date parsing were unified
 * (issue 13): they are pinned here, from the CSV cells through the mapping layer's coercion to the
 * hash, and must never change.
 */
import { describe, expect, it } from 'vitest';
import { Events } from '../../src/objects/catalog/events.js';
import { eventInsert, uniqueIdOf } from '../../src/objects/write/events.js';
import { buildMapping } from '../../src/pipeline/import/mapping.js';

interface Case {
  cells: Record<string, string>;
  uniqueBy?: string[];
  set?: Record<string, string>;
  nullToken?: string;
}

const base = { Email: 'ann@example.com', MetricName: 'Placed Order' };

const CASES: Record<string, Case> = {
  'a plain order': { cells: { ...base, Datetime: '2026-01-01T10:00:00Z', Value: '9.99', Properties: '{"b":["x"],"a":1}' } },
  'keys and columns in another order': { cells: { Properties: '{"a":1,"b":["x"]}', Value: '9.990', Datetime: '2026-01-01T10:00:00+00:00', MetricName: 'Placed Order', Email: 'ann@EXAMPLE.com' } },
  'an offset': { cells: { ...base, Datetime: '2026-07-15T12:30:00+02:00' } },
  'an offset without a colon, across a year': { cells: { ...base, Datetime: '2026-12-31T23:30:00-0100' } },
  'an hour offset': { cells: { ...base, Datetime: '2026-07-15T10:00:00-03' } },
  'no zone (UTC)': { cells: { ...base, Datetime: '2026-07-15 10:00' } },
  'a date alone': { cells: { ...base, Datetime: '2026-07-15' } },
  milliseconds: { cells: { ...base, Datetime: '2026-07-15T10:00:00.250Z' } },
  'a comma fraction': { cells: { ...base, Datetime: '2026-07-15T10:00:00,5Z' } },
  'an all-zero fraction': { cells: { ...base, Datetime: '2026-07-15T10:00:00.000000Z' } },
  'a fraction with an offset': { cells: { ...base, Datetime: '2026-07-15T12:00:00.75+02:00' } },
  microseconds: { cells: { ...base, Datetime: '2026-07-15T10:00:00.123456Z' } },
  'microseconds rounding up a millisecond': { cells: { ...base, Datetime: '2026-07-15T10:00:00.0005Z' } },
  'microseconds rounding up into the next second': { cells: { ...base, Datetime: '2026-07-15T10:00:59.9996Z' } },
  nanoseconds: { cells: { ...base, Datetime: '2026-07-15T10:00:00.123456789+01:00' } },
  'custom properties of every kind': {
    cells: {
      ...base,
      'Properties.tier': 'gold',
      'Properties.count': '3',
      'Properties.flag': 'true',
      'Properties.zip': '02134',
      'Properties.big': '12345678901234567890',
      'Properties.negzero': '-0',
      'Properties.nested': '{"z":1,"a":{"d":2,"c":[1,{"y":0,"x":null}]}}',
      'Properties.text': ' spaced "quoted" \\ back ',
    },
  },
  'unicode, escapes and a lone surrogate': {
    cells: {
      Email: 'zoë@Example.COM',
      MetricName: 'Commandé 🛒',
      Properties: '{"é":1,"z":2,"Z":3,"😀":4,"ｚ":5,"a\\u0001b":"\\ud800","line":"a\\nb\\u2028c"}',
    },
  },
  'phone and external id': { cells: { PhoneNumber: '+1 (500) 555-0006', ExternalId: 'X-42', MetricName: 'Viewed Product', Value: '1e3' } },
  'a profile id': { cells: { ProfileId: '01HPROFILE', MetricName: 'Viewed Product', Datetime: '1999-12-31T23:59:59Z' } },
  'cleared cells (--null-value)': { cells: { ...base, Value: 'NULL', 'Properties.gone': 'NULL', Properties: 'NULL' }, nullToken: 'NULL' },
  '--unique-by with aliases and repeats': {
    cells: { ...base, Datetime: '2026-07-15T10:00:00.123456Z', Value: '5', 'Properties.OrderId': 'A-1' },
    uniqueBy: ['email', 'metric', 'Email', 'properties.OrderId', 'time'],
  },
  '--unique-by a column the row lacks': { cells: { ...base }, uniqueBy: ['ExternalId', 'Value'] },
  '--set constants': { cells: { Email: 'bob@example.com' }, set: { MetricName: 'Joined', Properties: '{"source":"fair","y":[2,1]}' } },
};

function idOf(c: Case): string {
  const headers = Object.keys(c.cells);
  const mapping = buildMapping(headers, Events, eventInsert, { set: c.set, nullToken: c.nullToken, importOptions: { uniqueBy: c.uniqueBy } });
  const mapped = mapping.mapRow(c.cells, 1);
  if (!mapped.ok) throw new Error(`${mapped.failure.code}: ${mapped.failure.message}`);
  const { id, derived } = uniqueIdOf(mapped.row, c.uniqueBy);
  expect(derived).toBe(true);
  return id;
}

const GOLDEN: Record<string, string> = {
  "a plain order": "klv-a91062f57f593b00253bfe1d5fd2726cc19b35f4",
  "keys and columns in another order": "klv-a91062f57f593b00253bfe1d5fd2726cc19b35f4",
  "an offset": "klv-5040af2a4ab53400836e6325eb3bd9c7595c2bfb",
  "an offset without a colon, across a year": "klv-d077a067b4cd9962b877c4eede6d1e913dc99656",
  "an hour offset": "klv-22540b274d2c65db3396a82f4e80fd9f806f7d51",
  "no zone (UTC)": "klv-78f2969320dc704bfefa3877ff18098271168f07",
  "a date alone": "klv-8b17b80eff552a5ce1d0d95ec3797dcbb9e680a7",
  "milliseconds": "klv-a9314621e58d2c603274dde15de247a84bfb8962",
  "a comma fraction": "klv-65be23415e4111a69a15a634c37cba169bb559c4",
  "an all-zero fraction": "klv-78f2969320dc704bfefa3877ff18098271168f07",
  "a fraction with an offset": "klv-95b119892e8bd0d168dbdcf3316207c4db218886",
  "microseconds": "klv-85b8c34d66e5f38ca121c2db76f680344169638a",
  "microseconds rounding up a millisecond": "klv-c85b53c5e1aed752fb84ba8b5b47f5f2a9adec0e",
  "microseconds rounding up into the next second": "klv-0745864a0c576b52f2244656facfb4abeeebd4a0",
  "nanoseconds": "klv-8a9161a92242bb75826aafa4de07cd2e8b5d8358",
  "custom properties of every kind": "klv-0115cea807c79bad8441ba52f58beb9c7dc9b032",
  "unicode, escapes and a lone surrogate": "klv-8d181e6e800598d5888f01dafa0cd960a7dc115b",
  "phone and external id": "klv-eeb18c82b53896ae25b16c5ced47f449dcacb9ce",
  "a profile id": "klv-7cb5b20d1deffbeb67f1b5d9fce5580014217919",
  "cleared cells (--null-value)": "klv-a3deb3c59921456d84b979ad32f1260b7f1303ce",
  "--unique-by with aliases and repeats": "klv-c44df7fae93b90e4da6babdf083ff0a8bc4b40a8",
  "--unique-by a column the row lacks": "klv-a0d71ff67b484d0547a5f97bd4cf35422d6c54e0",
  "--set constants": "klv-c05e231b03fd9499c23adb52665eba47e83b972d",
};

describe('derived event unique ids (golden: must never change)', () => {
  it('covers every case', () => {
    expect(Object.keys(GOLDEN).sort()).toEqual(Object.keys(CASES).sort());
  });

  it.each(Object.keys(CASES))('%s', (name) => {
    expect(idOf(CASES[name])).toBe(GOLDEN[name]);
  });
});
