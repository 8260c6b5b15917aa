/**
 * --resume: the pure decision per row (given the logs and the journal), reading a journal and
 * logs torn by a kill, refusing a changed input, and whole runs "killed" mid-import (a handler
 * that never returns, the run abandoned with its files as they are on disk) then resumed: every
 * row reaches the handler exactly once (idempotent operations may re-send the batch that was in
 * flight, others log it unknown_outcome) and both logs end complete.
 */
import { describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { UsageError } from '../../src/core/errors.js';
import type { ImportRow, RowOutcome } from '../../src/objects/write/types.js';
import { ImportLogs, logLayout, type LogPaths } from '../../src/pipeline/import/logs.js';
import {
  Journal,
  journalPath,
  loadResume,
  readJournal,
  ResumePlan,
  rowHash,
  RowTable,
  scanLog,
  type JournalHeader,
} from '../../src/pipeline/import/resume.js';
import { runImport, type MapResult, type SourceRow } from '../../src/pipeline/import/run.js';
import { journalHeader, useLogFolder } from '../helpers/import-logs.js';

const logFolder = useLogFolder('klv-import-resume-');
const freshPaths = logFolder.paths;

const HEADERS = ['Email', 'Name'];
const layout = logLayout(HEADERS);
const header = journalHeader;

describe('rowHash and RowTable', () => {
  it('hashes the chosen cells; moving a character between cells changes it', () => {
    expect(rowHash(['a', 'b', 'x'], [0, 1])).toBe(rowHash(['a', 'b', 'y'], [0, 1]));
    expect(rowHash(['ab', 'c'], [0, 1])).not.toBe(rowHash(['a', 'bc'], [0, 1]));
    expect(rowHash(['a', 'b'], [0, 1])).not.toBe(rowHash(['a', 'B'], [0, 1]));
  });

  it('a logged outcome wins over a journal entry; the first logged line counts', () => {
    const t = new RowTable();
    t.markSent(5, 1);
    t.markSent(3000, 2); // grows
    expect(t.inDoubt).toBe(2);
    t.markLogged(5, 7);
    t.markSent(5, 9);
    t.markLogged(5, 8);
    expect([t.state(5), t.hash(5), t.logged, t.inDoubt, t.duplicates]).toEqual([2, 7, 1, 1, 1]);
    expect(t.state(3000)).toBe(1);
    expect(t.state(10 ** 7)).toBe(0);
  });
});

describe('ResumePlan.classify', () => {
  const values = (i: number) => [`p${i}@example.com`, `N${i}`];
  const table = new RowTable();
  table.markLogged(1, rowHash(values(1), [0, 1]));
  table.markSent(2, rowHash(values(2), [0, 1]));
  const plan = (idempotent: boolean) => new ResumePlan({ table, idempotent, hashIndices: [0, 1], source: 'in.csv', journal: 'in.errors.csv.journal' });

  it('done, resend (idempotent) or unknown (otherwise), new', () => {
    expect(plan(true).classify(1, values(1))).toBe('done');
    expect(plan(true).classify(2, values(2))).toBe('resend');
    expect(plan(false).classify(2, values(2))).toBe('unknown');
    expect(plan(false).classify(3, values(3))).toBe('new');
  });

  it('a row that is not the one the interrupted run saw: the input changed, exit 2 naming the row and line', () => {
    const e = (() => {
      try {
        plan(true).classify(1, ['someone@else.com', 'N1'], 2);
      } catch (err) {
        return err as UsageError;
      }
    })();
    expect(e).toBeInstanceOf(UsageError);
    expect(e!.message).toMatch(/Row 1 \(line 2\) of in.csv is not the row the interrupted import logged: the input changed/);
    expect(e!.hint).toMatch(/remove in.errors.csv.journal/);
  });
});

describe('the journal', () => {
  it('writes a header and one fsynced entry per batch; reading marks the rows sent', async () => {
    const p = freshPaths();
    let syncs = 0;
    const j = await Journal.create(journalPath(p.error), header(p), { onSync: () => syncs++ });
    await j.sent([{ rowNumber: 1, hash: 11 }, { rowNumber: 2, hash: 22 }], [100, 50]);
    await j.sent([{ rowNumber: 4, hash: 44 }], [180, 50]);
    await j.close();
    expect(syncs).toBe(3);
    const t = new RowTable();
    const c = await readJournal(journalPath(p.error), t);
    expect(c).toMatchObject({ entries: 2, logBytes: [180, 50], header: { object: 'Profiles', headers: HEADERS } });
    expect([t.state(1), t.hash(2), t.state(3), t.hash(4)]).toEqual([1, 22, 0, 44]);
    await (await Journal.reopen(journalPath(p.error), c!.validBytes)).remove();
    expect(existsSync(journalPath(p.error))).toBe(false);
    expect(await readJournal(journalPath(p.error), new RowTable())).toBeUndefined();
  });

  it('a last line torn by a kill is ignored (that batch was never sent) and cut off when reopened', async () => {
    const p = freshPaths();
    const j = await Journal.create(journalPath(p.error), header(p));
    await j.sent([{ rowNumber: 1, hash: 1 }], [10, 10]);
    await j.close();
    const good = statSync(journalPath(p.error)).size;
    appendFileSync(journalPath(p.error), '{"sent":[2,3],"hashes":[2,');
    const t = new RowTable();
    const c = await readJournal(journalPath(p.error), t);
    expect(c!.validBytes).toBe(good);
    expect([t.state(1), t.state(2)]).toEqual([1, 0]);
    const again = await Journal.reopen(journalPath(p.error), c!.validBytes);
    await again.sent([{ rowNumber: 2, hash: 2 }], [10, 10]);
    await again.close();
    const t2 = new RowTable();
    expect((await readJournal(journalPath(p.error), t2))!.entries).toBe(2);
    expect(t2.state(2)).toBe(1);
  });

  it('damage before the last line is refused', async () => {
    const p = freshPaths();
    writeFileSync(journalPath(p.error), `${JSON.stringify(header(p))}\nnot json\n{"sent":[],"hashes":[],"logBytes":[0,0]}\n`);
    await expect(readJournal(journalPath(p.error), new RowTable())).rejects.toThrow(/is damaged \(line 2 is not JSON\)/);
    writeFileSync(journalPath(p.error), '{"hello":1}\n');
    await expect(readJournal(journalPath(p.error), new RowTable())).rejects.toThrow(/not a klv import journal/);
  });
});

describe('scanLog', () => {
  async function writeLog(rows: Array<[number, string, string]>): Promise<LogPaths> {
    const p = freshPaths();
    const logs = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: false, sync: false });
    for (const [row, email, name] of rows) logs.add([email, name], { ok: true, rowNumber: row, status: 'created', id: `ID${row}` });
    await logs.close();
    return p;
  }
  const scan = (p: LogPaths, table: RowTable, keepBytes = 0) =>
    scanLog({ path: p.success, kind: 'success', header: layout.successHeader, hashPositions: layout.hashInSuccess, delimiter: ',', table, keepBytes });

  it('marks every logged row with the hash of its input cells', async () => {
    const p = await writeLog([[1, 'a@x.com', 'A'], [3, 'c@x.com', 'C, "the third"']]);
    const t = new RowTable();
    expect(await scan(p, t)).toEqual({ rows: 2, repairedBytes: 0, exists: true });
    expect(t.hash(3)).toBe(rowHash(['c@x.com', 'C, "the third"'], layout.hashInput));
    expect(t.state(2)).toBe(0);
  });

  it('a missing log is no error (the run stopped before writing it)', async () => {
    expect(await scan(freshPaths(), new RowTable())).toEqual({ rows: 0, repairedBytes: 0, exists: false });
  });

  for (const [what, tail] of [
    ['no final line break', '3,c@x.com,C,ID3,crea'],
    ['too few cells', '3,c@x.com\n'],
    ['an open quote', '3,"c@x.com,C\n'],
  ] as const) {
    it(`a last line torn by a kill (${what}) is cut off and its row is not counted as done`, async () => {
      const p = await writeLog([[1, 'a@x.com', 'A'], [2, 'b@x.com', 'B']]);
      const good = statSync(p.success).size;
      appendFileSync(p.success, tail);
      const t = new RowTable();
      const r = await scan(p, t, good);
      expect(r).toEqual({ rows: 2, repairedBytes: Buffer.byteLength(tail), exists: true });
      expect(statSync(p.success).size).toBe(good);
      expect(t.state(3)).toBe(0);
    });
  }

  it('damage inside what the journal knew to be saved is refused, not cut', async () => {
    const p = await writeLog([[1, 'a@x.com', 'A'], [2, 'b@x.com', 'B']]);
    const size = statSync(p.success).size;
    appendFileSync(p.success, '3,"c@x.com');
    await expect(scan(p, new RowTable(), size + 5)).rejects.toThrow(/is damaged after byte/);
    // Without a journal nothing may be cut.
    await expect(scan(p, new RowTable(), Infinity)).rejects.toThrow(UsageError);
  });

  it('a line edited mid-file, or another header, is refused', async () => {
    const p = await writeLog([[1, 'a@x.com', 'A'], [2, 'b@x.com', 'B'], [3, 'c@x.com', 'C']]);
    const text = readFileSync(p.success, 'utf8').replace('2,b@x.com,B,ID2,created', '2,b@x.com');
    writeFileSync(p.success, text);
    await expect(scan(p, new RowTable())).rejects.toThrow(/damaged at line 3: 2 cells, expected 5/);
    writeFileSync(p.success, 'Row,Other,Id,Status\n');
    await expect(scan(p, new RowTable())).rejects.toThrow(/has other columns than this import writes/);
  });
});

describe('loadResume: the same import or nothing', () => {
  it('refuses another object, operation, delimiter or header', async () => {
    const p = freshPaths();
    const base = { paths: p, layout, object: 'Profiles', operation: 'upsert', delimiter: ',', idempotent: true, source: 'in.csv' };
    for (const [over, message] of [
      [{ object: 'Lists' }, /was of Lists, this one is Profiles/],
      [{ operation: 'insert' }, /was --op insert, this one is upsert/],
      [{ delimiter: ';' }, /read with --delimiter ";"/],
      [{ headers: ['Email', 'FirstName'] }, /the header of in.csv changed since the interrupted import/],
    ] as const) {
      writeFileSync(journalPath(p.error), `${JSON.stringify(header(p, over as Partial<JournalHeader>))}\n`);
      await expect(loadResume(base)).rejects.toThrow(message);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Killed and resumed

const TOTAL = 40;
const row = (i: number): SourceRow => ({ rowNumber: i, line: i + 1, cells: { Email: `p${i}@x.com`, Name: `N${i}` }, values: [`p${i}@x.com`, `N${i}`] });
async function* rows(count = TOTAL): AsyncGenerator<SourceRow> {
  for (let i = 1; i <= count; i++) yield row(i);
}
const mapRow = (cells: Record<string, string>, rowNumber: number): MapResult =>
  rowNumber % 9 === 0 ? { ok: false, failure: { ok: false, rowNumber, code: 'invalid_value', message: 'no' } } : { ok: true, row: { rowNumber, values: { ...cells } } };

/** Starts a run whose handler hangs forever on the batch starting at `hangAt`: the "kill". */
async function killedRun(p: LogPaths, o: { hangAt: number; idempotent: boolean; sent: number[] }) {
  const logs = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: false, sync: true });
  const journal = await Journal.create(journalPath(p.error), header(p));
  let hung!: () => void;
  const hanging = new Promise<void>((resolve) => (hung = resolve));
  void runImport({
    rows: rows(),
    mapRow,
    handlerName: 'Profiles upsert',
    batchSize: 4,
    concurrency: 1,
    idempotent: o.idempotent,
    logs,
    journal,
    hashIndices: layout.hashInput,
    signal: new AbortController().signal,
    process: (batch: ImportRow[]) => {
      o.sent.push(...batch.map((r) => r.rowNumber));
      if (batch[0].rowNumber >= o.hangAt) {
        hung();
        return new Promise<RowOutcome[]>(() => undefined); // never: the process "died" here
      }
      return Promise.resolve(batch.map((r) => ({ ok: true, rowNumber: r.rowNumber, status: 'created', id: `ID${r.rowNumber}` })));
    },
  });
  await hanging;
  // Let the journal and log writes already started reach the disk, as they would before a kill.
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

async function resumedRun(p: LogPaths, o: { idempotent: boolean; sent: number[] }) {
  const setup = await loadResume({ paths: p, layout, object: 'Profiles', operation: 'upsert', delimiter: ',', idempotent: o.idempotent, source: 'in.csv' });
  const logs = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: true, sync: true });
  const journal = await Journal.reopen(journalPath(p.error), setup.journal!.validBytes);
  const result = await runImport({
    rows: rows(),
    mapRow,
    handlerName: 'Profiles upsert',
    batchSize: 4,
    concurrency: 2,
    idempotent: o.idempotent,
    logs,
    journal,
    hashIndices: layout.hashInput,
    resume: setup.plan,
    signal: new AbortController().signal,
    process: async (batch) => {
      o.sent.push(...batch.map((r) => r.rowNumber));
      return batch.map((r) => ({ ok: true, rowNumber: r.rowNumber, status: 'created', id: `ID${r.rowNumber}` }));
    },
  });
  await logs.close();
  await journal.remove();
  return { setup, result };
}

function logged(p: LogPaths) {
  const success = parse(readFileSync(p.success, 'utf8'), { columns: true }) as Array<Record<string, string>>;
  const errors = parse(readFileSync(p.error, 'utf8'), { columns: true }) as Array<Record<string, string>>;
  return { success, errors, rows: [...success, ...errors].map((r) => Number(r.Row)).sort((a, b) => a - b) };
}

describe('killed mid-import, then --resume', () => {
  it('idempotent: rows already logged are never sent again; the batch in flight is sent again; logs end complete', async () => {
    const p = freshPaths();
    const sent: number[] = [];
    await killedRun(p, { hangAt: 14, idempotent: true, sent });
    const before = logged(p);
    expect(before.rows.length).toBeGreaterThan(0);
    const resent: number[] = [];
    const { result, setup } = await resumedRun(p, { idempotent: true, sent: resent });
    expect(setup.plan.table.inDoubt).toBe(4); // the batch that was in flight
    // Nothing logged by the killed run was sent again.
    for (const r of before.rows) expect(resent).not.toContain(r);
    const after = logged(p);
    expect(after.rows).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    expect(result.counts.skipped).toBe(before.rows.length);
    // The killed run's failures still count (exit 3): it never reported them.
    expect(before.errors.length).toBeGreaterThan(0);
    expect(result.counts.skippedFailed).toBe(before.errors.length);
    // Each valid row reached Klaviyo at least once; only the in-flight batch twice.
    const twice = resent.filter((r) => sent.includes(r));
    expect(twice).toEqual(sent.slice(-4));
  });

  it('not idempotent: the batch in flight is logged unknown_outcome, and no row is ever sent twice', async () => {
    const p = freshPaths();
    const sent: number[] = [];
    await killedRun(p, { hangAt: 14, idempotent: false, sent });
    const resent: number[] = [];
    await resumedRun(p, { idempotent: false, sent: resent });
    expect(resent.filter((r) => sent.includes(r))).toEqual([]);
    const after = logged(p);
    expect(after.rows).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    const unknown = after.errors.filter((e) => e.ErrorCode === 'unknown_outcome').map((e) => Number(e.Row));
    expect(unknown).toEqual(sent.slice(-4));
  });

  it('a torn last log line after the kill: repaired, and its row comes from the journal', async () => {
    const p = freshPaths();
    const sent: number[] = [];
    await killedRun(p, { hangAt: 14, idempotent: true, sent });
    appendFileSync(p.success, '13,p13@x.com,N13,ID1');
    const { setup } = await resumedRun(p, { idempotent: true, sent: [] });
    expect(setup.success.repairedBytes).toBe('13,p13@x.com,N13,ID1'.length);
    expect(logged(p).rows).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
  });

  it('a changed input is refused before the changed row is sent', async () => {
    const p = freshPaths();
    await killedRun(p, { hangAt: 14, idempotent: true, sent: [] });
    const setup = await loadResume({ paths: p, layout, object: 'Profiles', operation: 'upsert', delimiter: ',', idempotent: true, source: 'in.csv' });
    const logs = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: true, sync: true });
    const sent: number[] = [];
    async function* changed() {
      yield row(1);
      yield { ...row(2), values: ['changed@x.com', 'N2'], cells: { Email: 'changed@x.com', Name: 'N2' } };
      yield row(3);
    }
    const result = await runImport({
      rows: changed(),
      mapRow,
      handlerName: 'x',
      batchSize: 4,
      concurrency: 1,
      idempotent: true,
      logs,
      resume: setup.plan,
      hashIndices: layout.hashInput,
      signal: new AbortController().signal,
      process: async (b) => {
        sent.push(...b.map((r) => r.rowNumber));
        return [];
      },
    });
    await logs.close();
    expect(result.stopped).toBe('input');
    expect((result.error as Error).message).toMatch(/Row 2 \(line 3\) of in.csv is not the row/);
    expect(sent).toEqual([]);
  });
});
