/**
 * `klv import` when the disk fills: the journal that cannot be started (a usage error, nothing
 * sent, no journal left behind), the journal that fills mid-run (that batch is not sent, later
 * appends fail the same way), and whole runs whose success log fills after a few batches, then
 * resumed once there is room again: the run stops at once (no batch sent after the failure, the
 * batches held back are marked unsent in the journal), and --resume finds every row sent but not
 * logged in the journal: resent when idempotent, unknown_outcome otherwise, never sent twice.
 * Failures are injected through the probes at the exact write where the disk fills; the e2e
 * suite (bad-input.test.ts) does the same on a real full file system.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { KlvError, UsageError } from '../../src/core/errors.js';
import type { ImportRow, RowOutcome } from '../../src/objects/write/types.js';
import { ImportLogs, logLayout, type LogPaths } from '../../src/pipeline/import/logs.js';
import { Journal, journalPath, loadResume, readJournal, RowTable, NONE, SENT, LOGGED } from '../../src/pipeline/import/resume.js';
import { runImport, type JournalSink, type MapResult, type SourceRow } from '../../src/pipeline/import/run.js';
import { enospc, journalHeader, useLogFolder } from '../helpers/import-logs.js';

const freshPaths = useLogFolder('klv-import-disk-full-').paths;

const HEADERS = ['Email', 'Name'];
const layout = logLayout(HEADERS);
const header = (p: LogPaths) => journalHeader(p, { object: 'Templates', operation: 'insert' });

describe('the journal on a full disk', () => {
  it.skipIf(!existsSync('/dev/full'))('cannot be started: a usage error (exit 2) naming it, the full disk and the fix; /dev/full is left alone', async () => {
    const e = await Journal.create('/dev/full', header(freshPaths())).catch((x) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe('Cannot write the import journal /dev/full: no space left on the device (ENOSPC): the disk is full.');
    expect(e.hint).toBe('It lives beside the error log: free some space on that disk, or choose another --error-log. Nothing was sent.');
    expect(statSync('/dev/full').isCharacterDevice()).toBe(true);
  });

  it('a new journal whose header cannot be written is removed: a headless one would block the next run', async () => {
    const path = journalPath(freshPaths().error);
    const e = await Journal.create(path, header(freshPaths()), {
      onWrite: () => {
        throw enospc();
      },
    }).catch((x) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toMatch(/^Cannot write the import journal .*: no space left on the device \(ENOSPC\): the disk is full\.$/);
    expect(existsSync(path)).toBe(false);
  });

  it('fills mid-run: that entry fails naming the journal, ENOSPC and --resume; every later one fails the same, writing nothing', async () => {
    const p = freshPaths();
    const path = journalPath(p.error);
    let full = false;
    let writes = 0;
    const j = await Journal.create(path, header(p), {
      onWrite: () => {
        writes++;
        if (full) throw enospc();
      },
    });
    await j.sent([{ rowNumber: 1, hash: 11 }], [10, 10]);
    const before = readFileSync(path, 'utf8');
    full = true;
    const e = await j.sent([{ rowNumber: 2, hash: 22 }], [10, 10]).catch((x) => x);
    expect(e).toBeInstanceOf(KlvError);
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe(`Cannot write the import journal ${path}: no space left on the device (ENOSPC): the disk is full.`);
    expect(e.hint).toBe('Free some space on that disk, then run the same command again with --resume: the batch that could not be journaled was not sent, and no row is sent twice.');
    full = false; // room again: still nothing, an entry after a failed one could follow a torn line
    const tried = writes;
    await expect(j.sent([{ rowNumber: 3, hash: 33 }], [10, 10])).rejects.toBe(e);
    await expect(j.unsent([1])).rejects.toBe(e);
    expect(writes).toBe(tried);
    expect(readFileSync(path, 'utf8')).toBe(before);
    await j.close();
    const t = new RowTable();
    expect((await readJournal(path, t))!.entries).toBe(1);
    expect([t.state(1), t.state(2), t.state(3)]).toEqual([SENT, NONE, NONE]);
  });

  it('unsent entries: rows journaled then held back count as never sent; a logged outcome still wins', async () => {
    const p = freshPaths();
    const path = journalPath(p.error);
    const j = await Journal.create(path, header(p));
    await j.sent([1, 2].map((r) => ({ rowNumber: r, hash: r })), [0, 0]);
    await j.sent([3, 4].map((r) => ({ rowNumber: r, hash: r })), [0, 0]);
    await j.unsent([3, 4]);
    await j.close();
    const t = new RowTable();
    t.markLogged(1, 1);
    const c = await readJournal(path, t);
    expect(c!.entries).toBe(3);
    expect([1, 2, 3, 4].map((r) => t.state(r))).toEqual([LOGGED, SENT, NONE, NONE]);
    expect(t.inDoubt).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Whole runs: the success log fills after `fullAfter` rows are written to it.

function row(i: number): SourceRow {
  const email = `p${i}@example.com`;
  return { rowNumber: i, line: i + 1, cells: { Email: email, Name: `N${i}` }, values: [email, `N${i}`] };
}
async function* rows(count: number) {
  for (let i = 1; i <= count; i++) yield row(i);
}
const mapRow = (cells: Record<string, string>, rowNumber: number): MapResult => ({ ok: true, row: { rowNumber, values: { ...cells } } });
const created = (batch: ImportRow[]): RowOutcome[] => batch.map((r) => ({ ok: true, rowNumber: r.rowNumber, status: 'created', id: `ID${r.rowNumber}` }));

const ROWS = 40;
const BATCH = 4;

/**
 * The interrupted run: the success log takes the header and one batch's lines, then the disk is
 * full. The first two batches are journaled and sent at once; the journal entries of the batches
 * launched after them are held until the failure happened, so that they meet a stopped run (what
 * concurrency does on a real disk, made deterministic).
 */
async function runUntilFull(p: LogPaths, o: { idempotent: boolean; handled: number[] }) {
  let successLines = 0;
  let full = false;
  let release!: () => void;
  const failed = new Promise<void>((resolve) => (release = resolve));
  const logs = await ImportLogs.open({
    paths: p,
    layout,
    delimiter: ',',
    append: false,
    sync: true,
    probe: {
      onWrite: (file, text) => {
        if (file !== 'success') return;
        successLines += text.split('\n').length - 1;
        if (successLines > 1 + BATCH) full = true; // the header and one batch fit
        if (full) {
          setImmediate(release);
          throw enospc();
        }
      },
    },
  });
  const real = await Journal.create(journalPath(p.error), header(p));
  let entries = 0;
  const journal: JournalSink = {
    async sent(batch, logBytes) {
      if (++entries > 2) await failed;
      return real.sent(batch, logBytes);
    },
    unsent: (rowNumbers) => real.unsent(rowNumbers),
  };
  const result = await runImport({
    rows: rows(ROWS),
    mapRow,
    handlerName: 'Templates insert',
    batchSize: BATCH,
    concurrency: 3,
    idempotent: o.idempotent,
    logs,
    journal,
    hashIndices: layout.hashInput,
    signal: new AbortController().signal,
    process: async (batch) => {
      o.handled.push(...batch.map((r) => r.rowNumber));
      return created(batch);
    },
  });
  const closeError = await logs.close().then(
    () => undefined,
    (e: unknown) => e,
  );
  await real.close();
  return { result, closeError };
}

async function resumeWithRoom(p: LogPaths, o: { idempotent: boolean; handled: number[] }) {
  const setup = await loadResume({ paths: p, layout, object: 'Templates', operation: 'insert', delimiter: ',', idempotent: o.idempotent, source: 'in.csv' });
  const logs = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: true, sync: true });
  const journal = await Journal.reopen(journalPath(p.error), setup.journal!.validBytes);
  const result = await runImport({
    rows: rows(ROWS),
    mapRow,
    handlerName: 'Templates insert',
    batchSize: BATCH,
    concurrency: 3,
    idempotent: o.idempotent,
    logs,
    journal,
    hashIndices: layout.hashInput,
    resume: setup.plan,
    signal: new AbortController().signal,
    process: async (batch) => {
      o.handled.push(...batch.map((r) => r.rowNumber));
      return created(batch);
    },
  });
  await logs.close();
  await journal.remove();
  return { setup, result };
}

function logged(p: LogPaths) {
  const success = parse(readFileSync(p.success, 'utf8'), { columns: true }) as Array<Record<string, string>>;
  const errors = parse(readFileSync(p.error, 'utf8'), { columns: true }) as Array<Record<string, string>>;
  return { success, errors };
}

describe('an import whose success log fills mid-run, then resumed', () => {
  for (const idempotent of [false, true]) {
    it(`${idempotent ? 'idempotent: the rows in doubt are sent again' : 'not idempotent: the rows in doubt are unknown_outcome'}; nothing lost, nothing sent twice`, { timeout: 15_000 }, async () => {
      const p = freshPaths();
      const first: number[] = [];
      const { result, closeError } = await runUntilFull(p, { idempotent, handled: first });

      // It stopped at once: only the two batches whose entries were written before the failure
      // reached the handler; the ones launched with them were held back and marked unsent.
      expect(result.stopped).toBe('fatal');
      expect(result.exitCode).toBe(1);
      expect((result.error as Error).message).toMatch(/^Cannot write the success log .*: no space left on the device \(ENOSPC\): the disk is full\.$/);
      expect(closeError).toBe(result.error);
      expect([...first].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      const t = new RowTable();
      await readJournal(journalPath(p.error), t);
      for (let r = 1; r <= 8; r++) expect(t.state(r), `row ${r}: sent, so journaled`).toBe(SENT);
      for (let r = 9; r <= ROWS; r++) expect(t.state(r), `row ${r}: never sent`).toBe(NONE);
      expect(result.counts.notProcessed).toBeGreaterThan(0);

      const second: number[] = [];
      const { setup, result: resumed } = await resumeWithRoom(p, { idempotent, handled: second });
      const inDoubt = [1, 2, 3, 4, 5, 6, 7, 8].filter((r) => setup.plan.table.state(r) === SENT);
      expect(inDoubt.length).toBeGreaterThan(0); // sent but never logged: only the journal knew
      expect(resumed.stopped).toBeUndefined();

      const { success, errors } = logged(p);
      const all = [...success, ...errors].map((x) => Number(x.Row)).sort((a, b) => a - b);
      expect(all, 'every row in exactly one log').toEqual(Array.from({ length: ROWS }, (_, i) => i + 1));
      if (idempotent) {
        expect(errors).toEqual([]);
        expect([...second].sort((a, b) => a - b)).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1).filter((r) => r > 8 || inDoubt.includes(r)));
      } else {
        expect(errors.map((e) => [Number(e.Row), e.ErrorCode])).toEqual(inDoubt.map((r) => [r, 'unknown_outcome']));
        const handled = [...first, ...second];
        expect(new Set(handled).size, 'no row sent twice').toBe(handled.length);
        // The held-back rows were never sent, so they are sent now, not called unknown_outcome.
        expect([...second].sort((a, b) => a - b)).toEqual(Array.from({ length: ROWS - 8 }, (_, i) => i + 9));
      }
    });
  }
});
