/**
 * The quirk matrix's checker (test/helpers/quirk-checks.ts) on made-up observations: each
 * silent loss it exists to catch is reported, and the two honest outcomes pass. Also the case
 * table's coverage: every emulator quirk has a case, every transient one a case at every request
 * for each command it is played against. The end-to-end proof, a klv without its response check
 * failing the checker, is in test/e2e/quirks-export.test.ts and quirks-replicate.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { QUIRK_NAMES, TRANSIENT_QUIRKS } from '../../src/emulator/http/quirks.js';
import { MATRIX } from '../helpers/quirk-matrix.js';
import {
  exportVerdict,
  importVerdict,
  instantMicros,
  replicateVerdict,
  syncVerdict,
  type ExpectedRows,
  type TableSnapshot,
} from '../helpers/quirk-checks.js';

const rows = (entries: Array<[string, Record<string, unknown>]>): ExpectedRows => new Map(entries);

describe('instantMicros', () => {
  it('reads every form of one instant alike, and tells microseconds apart', () => {
    const a = instantMicros('2024-05-13T08:01:45.000362+00:00');
    expect(instantMicros('2024-05-13 08:01:45.000362+00:00')).toBe(a);
    expect(instantMicros('2024-05-13T08:01:45.000362Z')).toBe(a);
    expect(instantMicros('2024-05-13T10:01:45.000362+0200')).toBe(a);
    expect(instantMicros('2024-05-13T08:01:45Z')).not.toBe(a);
    expect(instantMicros('2024-05-13 08:01:45+00:00')).toBe(instantMicros('2024-05-13T08:01:45.000Z'));
    expect(instantMicros('Welcome')).toBeNull();
  });
});

describe('exportVerdict', () => {
  const expected = rows([['a', { Updated: '2024-05-13T08:01:45+00:00' }], ['b', {}]]);
  const base = { stderr: '', previous: Buffer.from('Id\nold\n'), key: 'Id', expected, cause: /HTML page/ };

  it('passes a complete file and a failure that kept the previous file', () => {
    expect(exportVerdict({ ...base, code: 0, written: Buffer.from('Id,Updated\na,2024-05-13T08:01:45Z\nb,\n') }).outcome).toBe('complete');
    expect(exportVerdict({ ...base, code: 1, stderr: 'error: an HTML page', written: base.previous }).outcome).toBe('failed-loudly');
  });

  it('reports rows missing, written twice or with other values, a changed previous file, an unnamed cause', () => {
    expect(exportVerdict({ ...base, code: 0, written: Buffer.from('Id\n') }).problems).toEqual([expect.stringMatching(/^exit 0 with 2 rows missing/)]);
    expect(exportVerdict({ ...base, code: 0, written: Buffer.from('Id\na\nb\nb\n') }).problems[0]).toMatch(/1 rows written more than once/);
    expect(exportVerdict({ ...base, code: 0, written: Buffer.from('Id,Updated\na,2024-05-13T08:01:46Z\nb,\n') }).problems[0]).toMatch(/values of rows differ/);
    expect(exportVerdict({ ...base, code: 1, stderr: 'an HTML page', written: Buffer.from('Id\n') }).problems[0]).toMatch(/previous output file was changed/);
    expect(exportVerdict({ ...base, code: 1, stderr: 'something', written: base.previous }).problems[0]).toMatch(/does not name its cause/);
  });
});

describe('replicateVerdict', () => {
  const live = (id: string, v = 1) => [id, { Id: id, V: v, _klv_deleted_at: null }] as [string, Record<string, unknown>];
  const before: TableSnapshot = { rows: new Map([live('a'), live('b'), live('gone')]), state: { object: 'X', cursor: 't1' } };
  const expected = rows([['a', { V: 2 }], ['b', { V: 1 }]]);
  const table = (after: TableSnapshot) => ({ object: 'X', before, after, expected });

  it('passes a complete sweep, and a failure that moved no cursor and no mark (rows refreshed with Klaviyo values allowed)', () => {
    const swept: TableSnapshot = { rows: new Map([live('a', 2), live('b'), ['gone', { Id: 'gone', V: 1, _klv_deleted_at: 'now' }]]), state: { object: 'X', cursor: 't2' } };
    expect(replicateVerdict({ code: 0, stderr: '', cause: null, tables: [table(swept)] }).outcome).toBe('complete');
    const refreshed: TableSnapshot = { rows: new Map([live('a', 2), live('b'), live('gone')]), state: before.state };
    const v = replicateVerdict({ code: 1, stderr: 'error: cut short', cause: /cut short/, tables: [table(refreshed)] });
    expect(v.outcome).toBe('failed-loudly');
    expect(v.notes[0]).toMatch(/1 rows refreshed/);
  });

  it('reports a live row marked deleted, a cursor moved by a failed run, a row removed', () => {
    const wrongMark: TableSnapshot = { rows: new Map([live('a', 2), ['b', { Id: 'b', V: 1, _klv_deleted_at: 'now' }], live('gone')]), state: { object: 'X', cursor: 't2' } };
    expect(replicateVerdict({ code: 0, stderr: '', cause: null, tables: [table(wrongMark)] }).problems.join('\n')).toMatch(/1 live X rows missing: b/);
    const cursorMoved: TableSnapshot = { rows: before.rows, state: { object: 'X', cursor: 't2' } };
    expect(replicateVerdict({ code: 1, stderr: 'cut short', cause: /cut short/, tables: [table(cursorMoved)] }).outcome).toBe('broken');
    const removed: TableSnapshot = { rows: new Map([live('a'), live('b')]), state: before.state };
    expect(replicateVerdict({ code: 1, stderr: 'cut short', cause: /cut short/, tables: [table(removed)] }).problems.join('\n')).toMatch(/gone removed/);
  });
});

describe('syncVerdict', () => {
  const side = (table: Array<Record<string, unknown>>, klaviyo: ExpectedRows) => ({ table, map: [], pending: [], klaviyo });
  const k = rows([['k1', { Name: 'One' }], ['k2', { Name: 'Two' }]]);
  const before = side([{ _klv_row_id: 1, Id: 'k1', Name: 'One' }, { _klv_row_id: 2, Id: null, Name: 'New' }], rows([['k1', { Name: 'One' }]]));
  const base = { stderr: '', expectedKlaviyo: rows([['k1', { Name: 'One' }]]), created: ['New'], columns: ['Name'], rendered: null, cause: /HTML page/ };

  it('passes converged sides, and a failure that moved neither', () => {
    const after = side([{ _klv_row_id: 1, Id: 'k1', Name: 'One' }, { _klv_row_id: 2, Id: 'k2', Name: 'New' }], rows([['k1', { Name: 'One' }], ['k2', { Name: 'New' }]]));
    expect(syncVerdict({ ...base, code: 0, before, after }).outcome).toBe('complete');
    expect(syncVerdict({ ...base, code: 1, stderr: 'an HTML page', before, after: before }).outcome).toBe('failed-loudly');
  });

  it('reports a record created twice, a row without its Id, and a failed run that created a record', () => {
    const twice = side([{ _klv_row_id: 1, Id: 'k1', Name: 'One' }, { _klv_row_id: 2, Id: 'k2', Name: 'New' }], rows([['k1', { Name: 'One' }], ['k2', { Name: 'New' }], ['k3', { Name: 'New' }]]));
    expect(syncVerdict({ ...base, code: 0, before, after: twice }).problems.join('\n')).toMatch(/new records are \["New","New"\]/);
    const noId = side(before.table, k);
    expect(syncVerdict({ ...base, code: 0, before, after: noId }).problems.join('\n')).toMatch(/1 table rows still without an Id/);
    expect(syncVerdict({ ...base, code: 1, stderr: 'an HTML page', before, after: side(before.table, k) }).problems.join('\n')).toMatch(/1 Klaviyo records created: k2/);
  });
});

describe('importVerdict', () => {
  const input = [{ Name: 'L1' }, { Name: 'L2' }, { Name: 'L3' }];
  const base = { input, klaviyoBefore: rows([]), identity: 'Name', createOnly: true, cause: /cut short/, errorCodes: null };

  it('passes every row in one log, and a stopped import whose unlogged rows were not sent', () => {
    const after = rows([['x1', { Name: 'L1' }], ['x2', { Name: 'L2' }]]);
    const success = [{ Row: '1', Name: 'L1', Id: 'x1', Status: 'created' }];
    const errors = [{ Row: '2', Name: 'L2', ErrorCode: 'unknown_outcome', ErrorMessage: 'cut short' }, { Row: '3', Name: 'L3', ErrorCode: 'unknown_outcome', ErrorMessage: 'cut short' }];
    expect(importVerdict({ ...base, code: 3, stderr: '', success, errors, klaviyoAfter: after }).outcome).toBe('failed-loudly');
    const stopped = { code: 1, stderr: 'error: Import stopped: cut short ... --resume continues' };
    expect(importVerdict({ ...base, ...stopped, success, errors: [], klaviyoAfter: rows([['x1', { Name: 'L1' }]]) }).outcome).toBe('failed-loudly');
  });

  it('reports a row in both logs or in neither, a success Klaviyo does not have, a refused row created, an unlogged row sent', () => {
    const success = [{ Row: '1', Name: 'L1', Id: 'x1', Status: 'created' }, { Row: '2', Name: 'L2', Id: 'nope', Status: 'created' }];
    const errors = [{ Row: '1', Name: 'L1', ErrorCode: 'http_400', ErrorMessage: 'cut short' }];
    const v = importVerdict({ ...base, code: 3, stderr: '', success, errors, klaviyoAfter: rows([['x1', { Name: 'L1' }]]) });
    expect(v.problems.join('\n')).toMatch(/1 input rows in neither log/);
    expect(v.problems.join('\n')).toMatch(/rows logged more than once: row 1/);
    expect(v.problems.join('\n')).toMatch(/as nope, which Klaviyo does not have/);
    expect(v.problems.join('\n')).toMatch(/logged as refused .* were created/);
    const stopped = { code: 1, stderr: 'Import stopped ... --resume' };
    const sent = importVerdict({ ...base, ...stopped, success: [success[0]!], errors: [], klaviyoAfter: rows([['x1', { Name: 'L1' }], ['x3', { Name: 'L3' }]]) });
    expect(sent.problems.join('\n')).toMatch(/1 rows in neither log reached Klaviyo anyway: rows 3/);
    const misnamed = importVerdict({ ...base, ...stopped, errorCodes: ['bad_response'], success: [], errors: [{ Row: '1', Name: 'L1', ErrorCode: 'network_error', ErrorMessage: 'cut short' }], klaviyoAfter: rows([]) });
    expect(misnamed.problems.join('\n')).toMatch(/ErrorCode \["network_error"\], which does not name the cause/);
  });
});

describe('the case table', () => {
  it('plays every emulator quirk, and every transient one also at every request wherever it is played', () => {
    const behaviours = new Set(MATRIX.map((c) => c.behaviour));
    for (const q of QUIRK_NAMES) expect(behaviours, q).toContain(q);
    for (const q of TRANSIENT_QUIRKS) {
      for (const command of new Set(MATRIX.filter((c) => c.behaviour === q).map((c) => c.command))) {
        expect(MATRIX.some((c) => c.behaviour === q && c.command === command && c.rate === 1 && c.expect === 'fails'), `${q} at rate 1 in ${command}`).toBe(true);
      }
    }
  });
});
