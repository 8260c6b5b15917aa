/**
 * The import logs: columns (the input's, without repeating a log's own columns when a log is fed
 * back), default paths, the header written once, append mode for --resume, fsync on commit and
 * only there, an unwritable path as a usage error, and an error log that is a valid input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { KlvError, UsageError } from '../../src/core/errors.js';
import { csvLine, defaultLogPaths, fileTimestamp, ImportLogs, logLayout, successExtras, type LogsProbe } from '../../src/pipeline/import/logs.js';
import { stringify } from 'csv-stringify/sync';
import { readCsv } from '../../src/pipeline/import/csv-source.js';
import { buildMapping } from '../../src/pipeline/import/mapping.js';
import type { ObjectDefinition } from '../../src/objects/types.js';
import type { OperationHandler } from '../../src/objects/write/types.js';
import { enospc } from '../helpers/import-logs.js';

let dir: string;
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'klv-import-logs-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function paths() {
  n++;
  return { success: join(dir, `t${n}.success.csv`), error: join(dir, `t${n}.errors.csv`) };
}

function probe() {
  const p = { writes: [] as string[], syncs: [] as string[] };
  const hooks: LogsProbe = { onWrite: (f) => p.writes.push(f), onSync: (f) => p.syncs.push(f) };
  return { p, hooks };
}

describe('logLayout', () => {
  it('success: Row, the input columns, Id, Status, extras; error: Row, the input columns, ErrorCode, ErrorMessage', () => {
    const L = logLayout(['Email', 'FirstName'], ['TemplateId']);
    expect(L.successHeader).toEqual(['Row', 'Email', 'FirstName', 'Id', 'Status', 'TemplateId']);
    expect(L.errorHeader).toEqual(['Row', 'Email', 'FirstName', 'ErrorCode', 'ErrorMessage']);
    expect(L.inputId).toBe(-1);
  });

  it('an error log as input: its Row, ErrorCode and ErrorMessage are not repeated, so a retry of a retry still parses', () => {
    const L = logLayout(['Row', 'Email', 'Id', 'ErrorCode', 'ErrorMessage']);
    expect(L.errorHeader).toEqual(['Row', 'Email', 'Id', 'ErrorCode', 'ErrorMessage']);
    expect(L.successHeader).toEqual(['Row', 'Email', 'Id', 'Status']);
    expect(new Set(L.errorHeader).size).toBe(L.errorHeader.length);
    expect(new Set(L.successHeader).size).toBe(L.successHeader.length);
    // The input's Id stands in the success log's Id when the outcome carries none.
    expect(L.inputId).toBe(2);
  });

  it('a success log as input (Status, ChangedColumns, an extra) and header spellings (error_code, STATUS)', () => {
    const L = logLayout(['row', 'TemplateId', 'Name', 'STATUS', 'error_code', 'Changed Columns'], ['TemplateId']);
    expect(L.successHeader).toEqual(['Row', 'Name', 'Id', 'Status', 'TemplateId']);
    expect(L.errorHeader).toEqual(['Row', 'TemplateId', 'Name', 'STATUS', 'Changed Columns', 'ErrorCode', 'ErrorMessage']);
    // What --resume compares: the columns both logs echo unchanged.
    expect(L.hashInput.map((i) => L.inputHeaders[i])).toEqual(['Name']);
  });

  it('extras by object, and ChangedColumns in a dry run', () => {
    expect(successExtras('Campaigns', false)).toEqual(['TemplateId']);
    expect(successExtras('Profiles', false)).toEqual([]);
    expect(successExtras('Campaigns', true)).toEqual(['ChangedColumns']);
  });
});

describe('csvLine', () => {
  it('quotes exactly as csv-stringify does, and reads back to the same cells', () => {
    const cells = ['plain', '', ' spaced ', 'a,b', 'say "hi"', 'line\nbreak', 'cr\rhere', '"', ';', 'tab\there', 'é ü 日本', '=1+2', '  ', "it's"];
    for (const delimiter of [',', ';', '\t', '|']) {
      const records = [cells, ['1', ...cells], [...cells].reverse()];
      const mine = records.map((r) => csvLine(r, delimiter)).join('');
      expect(mine, JSON.stringify(delimiter)).toBe(stringify(records, { delimiter, eof: true }));
      expect(parse(mine, { delimiter, relax_column_count: true })).toEqual(records);
    }
  });
});

describe('defaultLogPaths', () => {
  const now = new Date(Date.UTC(2026, 6, 15, 10, 15, 0, 123));
  it('beside the input, named after it', () => {
    expect(defaultLogPaths({ input: 'data/people.csv', objectName: 'Profiles', dryRun: false, cwd: '/w', now })).toEqual({
      success: '/w/data/people.success.csv',
      error: '/w/data/people.errors.csv',
    });
    expect(defaultLogPaths({ input: '/x/people.tsv', objectName: 'Profiles', dryRun: false, cwd: '/w', now }).error).toBe('/x/people.errors.tsv');
    expect(defaultLogPaths({ input: 'people', objectName: 'Profiles', dryRun: false, cwd: '/w', now }).success).toBe('/w/people.success.csv');
    expect(defaultLogPaths({ input: 'people.errors.csv', objectName: 'Profiles', dryRun: false, cwd: '/w', now }).error).toBe('/w/people.errors.errors.csv');
  });
  it('a dry run has its own logs', () => {
    expect(defaultLogPaths({ input: 'people.csv', objectName: 'Profiles', dryRun: true, cwd: '/w', now })).toEqual({
      success: '/w/people.dry-run.success.csv',
      error: '/w/people.dry-run.errors.csv',
    });
  });
  it('stdin: the current folder, the object and a UTC timestamp', () => {
    expect(fileTimestamp(now)).toBe('20260715T101500Z');
    expect(defaultLogPaths({ input: '-', objectName: 'ListMembers', dryRun: false, cwd: '/w', now })).toEqual({
      success: '/w/import-listmembers-20260715T101500Z.success.csv',
      error: '/w/import-listmembers-20260715T101500Z.errors.csv',
    });
  });
});

describe('ImportLogs', () => {
  const layout = logLayout(['Email', 'Note'], ['TemplateId']);

  it('writes both headers on open, lines on commit, and fsyncs both files once per commit', async () => {
    const p = paths();
    const { p: seen, hooks } = probe();
    const logs = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: false, sync: true, probe: hooks });
    expect(seen.syncs).toEqual(['success', 'error']); // the headers
    logs.add(['ann@example.com', 'hi, "you"'], { ok: true, rowNumber: 1, status: 'created', id: 'P1', extras: { TemplateId: 'T9' } });
    logs.add(['bad', 'line\nbreak'], { ok: false, rowNumber: 2, code: 'invalid_value', message: "Email: 'bad' is\nnot an email address" });
    expect(logs.pending).toBe(2);
    expect(readFileSync(p.success, 'utf8')).toBe('Row,Email,Note,Id,Status,TemplateId\n'); // nothing before commit
    await logs.commit();
    expect(seen.syncs).toEqual(['success', 'error', 'success', 'error']);
    expect(logs.committedBytes).toEqual([readFileSync(p.success).length, readFileSync(p.error).length]);
    await logs.close();
    expect(parse(readFileSync(p.success, 'utf8'))).toEqual([
      ['Row', 'Email', 'Note', 'Id', 'Status', 'TemplateId'],
      ['1', 'ann@example.com', 'hi, "you"', 'P1', 'created', 'T9'],
    ]);
    expect(parse(readFileSync(p.error, 'utf8'))).toEqual([
      ['Row', 'Email', 'Note', 'ErrorCode', 'ErrorMessage'],
      // The input's cells exactly as read; the message on one line.
      ['2', 'bad', 'line\nbreak', 'invalid_value', "Email: 'bad' is not an email address"],
    ]);
  });

  it('flush writes without fsync; a commit with nothing new fsyncs nothing', async () => {
    const p = paths();
    const { p: seen, hooks } = probe();
    const logs = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: false, sync: true, flushEvery: 2, probe: hooks });
    seen.syncs.length = 0;
    logs.add(['a@example.com', ''], { ok: false, rowNumber: 1, code: 'x', message: 'y' });
    await logs.maybeFlush();
    expect(seen.writes).toEqual(['success', 'error']); // the headers only: under flushEvery
    expect(readFileSync(p.error, 'utf8').split('\n').length).toBe(2); // header only: under flushEvery
    logs.add(['b@example.com', ''], { ok: false, rowNumber: 2, code: 'x', message: 'y' });
    await logs.maybeFlush();
    expect(readFileSync(p.error, 'utf8').trim().split('\n')).toHaveLength(3);
    expect(seen.syncs).toEqual([]);
    await logs.commit();
    expect(seen.syncs).toEqual(['error']); // the success log had nothing new
    await logs.commit();
    expect(seen.syncs).toEqual(['error']);
    await logs.close();
  });

  it('a dry run never fsyncs', async () => {
    const p = paths();
    const { p: seen, hooks } = probe();
    const logs = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: false, sync: false, probe: hooks });
    logs.add(['a@example.com', ''], { ok: true, rowNumber: 1, status: 'valid' });
    await logs.close();
    expect(seen.syncs).toEqual([]);
    expect(readFileSync(p.success, 'utf8')).toBe('Row,Email,Note,Id,Status,TemplateId\n1,a@example.com,,,valid,\n');
  });

  it('append mode (--resume) keeps what is there and writes no second header', async () => {
    const p = paths();
    const first = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: false, sync: true });
    first.add(['a@example.com', ''], { ok: true, rowNumber: 1, status: 'created', id: 'P1' });
    await first.close();
    const second = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: true, sync: true });
    second.add(['b@example.com', ''], { ok: true, rowNumber: 2, status: 'updated', id: 'P2' });
    await second.close();
    expect(readFileSync(p.success, 'utf8')).toBe('Row,Email,Note,Id,Status,TemplateId\n1,a@example.com,,P1,created,\n2,b@example.com,,P2,updated,\n');
    // A fresh run truncates.
    const third = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: false, sync: true });
    await third.close();
    expect(readFileSync(p.success, 'utf8')).toBe('Row,Email,Note,Id,Status,TemplateId\n');
  });

  it('the input delimiter is kept, so the same command line reads a log back', async () => {
    const p = paths();
    const logs = await ImportLogs.open({ paths: p, layout, delimiter: ';', append: false, sync: false });
    logs.add(['a@example.com', 'x;y'], { ok: false, rowNumber: 3, code: 'c', message: 'm' });
    await logs.close();
    expect(readFileSync(p.error, 'utf8')).toBe('Row;Email;Note;ErrorCode;ErrorMessage\n3;a@example.com;"x;y";c;m\n');
  });

  it('an unwritable path is a usage error (exit 2) naming the file and the flag', async () => {
    const missingFolder = { success: join(dir, 'no-such-folder', 's.csv'), error: join(dir, 'e.csv') };
    await expect(ImportLogs.open({ paths: missingFolder, layout, delimiter: ',', append: false, sync: true })).rejects.toThrow(UsageError);
    await expect(ImportLogs.open({ paths: missingFolder, layout, delimiter: ',', append: false, sync: true })).rejects.toThrow(
      /Cannot write the success log .*no-such-folder.*its folder does not exist/,
    );
    const ro = join(dir, 'read-only');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    try {
      const e = await ImportLogs.open({ paths: { success: join(dir, 'ok.csv'), error: join(ro, 'e.csv') }, layout, delimiter: ',', append: false, sync: true }).catch((x) => x);
      if (process.getuid?.() !== 0) {
        expect(e).toBeInstanceOf(UsageError);
        expect(e.message).toMatch(/error log .*permission denied/);
        expect(e.hint).toMatch(/--error-log/);
      }
    } finally {
      chmodSync(ro, 0o700);
    }
  });

  it('the error log is a valid input: it maps with no warning and yields the same cells', async () => {
    const p = paths();
    const L = logLayout(['email', 'first_name']);
    const logs = await ImportLogs.open({ paths: p, layout: L, delimiter: ',', append: false, sync: false });
    logs.add(['not-an-email', 'Ann'], { ok: false, rowNumber: 7, code: 'invalid_value', message: "Email: 'not-an-email' is not an email address" });
    logs.add(['bob@example.com', 'Bob, Jr.'], { ok: false, rowNumber: 9, code: 'duplicate_profile', message: 'A profile already exists' });
    await logs.close();

    const def: ObjectDefinition = {
      name: 'Profiles',
      description: '',
      key: ['Id'],
      columns: [
        { name: 'Id', type: 'id', description: '', path: 'id', readOnly: true },
        { name: 'Email', type: 'email', description: '', path: 'email', aliases: ['email'] },
        { name: 'FirstName', type: 'string', description: '', path: 'first_name', aliases: ['first_name'] },
      ],
      operations: ['upsert'],
      constraints: [],
      plan: () => {
        throw new Error('unused');
      },
    };
    const handler: OperationHandler = {
      operation: 'upsert',
      description: '',
      requiredColumns: [['Email']],
      acceptedColumns: ['Email', 'FirstName'],
      maxBatchSize: 10,
      idempotent: true,
      processBatch: async () => [],
    };
    const records = readCsv(createReadStream(p.error), { source: p.error });
    const header = await records.next();
    expect(header.value).toMatchObject({ kind: 'header', headers: ['Row', 'email', 'first_name', 'ErrorCode', 'ErrorMessage'] });
    const mapping = buildMapping((header.value as { headers: string[] }).headers, def, handler, {});
    expect(mapping.warnings).toEqual([]);
    const rows = [];
    for await (const r of records) if (r.kind === 'row') rows.push(mapping.mapRow(r.cells, r.rowNumber));
    expect(rows[0]).toMatchObject({ ok: false });
    expect(rows[1]).toEqual({ ok: true, row: { rowNumber: 2, values: { Email: 'bob@example.com', FirstName: 'Bob, Jr.' } } });
  });

  it('a write after a failure fails too, and close is idempotent', async () => {
    const p = paths();
    const logs = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: false, sync: false });
    await logs.close();
    await logs.close();
    await expect(logs.commit()).rejects.toThrow(/closed/);
  });
});

it('writes a subfolder log when the folder exists (sanity for default paths under a data folder)', async () => {
  const sub = join(dir, 'data');
  mkdirSync(sub, { recursive: true });
  writeFileSync(join(sub, 'people.csv'), 'Email\n');
  const p = defaultLogPaths({ input: 'data/people.csv', objectName: 'Profiles', dryRun: false, cwd: dir, now: new Date() });
  const logs = await ImportLogs.open({ paths: p, layout: logLayout(['Email']), delimiter: ',', append: false, sync: true });
  await logs.close();
  expect(readFileSync(join(sub, 'people.success.csv'), 'utf8')).toBe('Row,Email,Id,Status\n');
  expect(readFileSync(join(sub, 'people.errors.csv'), 'utf8')).toBe('Row,Email,ErrorCode,ErrorMessage\n');
});

describe('ImportLogs on a full disk', () => {
  const layout = logLayout(['Email', 'Note']);
  const hasDevFull = existsSync('/dev/full');

  it.skipIf(!hasDevFull)('/dev/full as the success log: a usage error (exit 2) naming the log, the full disk and the fix; /dev/full is left alone', async () => {
    const p = { success: '/dev/full', error: join(dir, 'full-s.errors.csv') };
    const e = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: false, sync: true }).catch((x) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe('Cannot write the success log /dev/full: no space left on the device (ENOSPC): the disk is full.');
    expect(e.hint).toBe('Free some space on that disk, or choose another file with --success-log PATH. Nothing was sent.');
    expect(e.cause).toMatchObject({ code: 'ENOSPC' });
    expect(existsSync(p.error)).toBe(false); // never opened
    expect(statSync('/dev/full').isCharacterDevice()).toBe(true);
  });

  it.skipIf(!hasDevFull)('/dev/full as the error log: the success log opened before it is not left behind', async () => {
    const p = { success: join(dir, 'full-e.success.csv'), error: '/dev/full' };
    const e = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: false, sync: true }).catch((x) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toMatch(/^Cannot write the error log \/dev\/full: no space left on the device \(ENOSPC\)/);
    expect(e.hint).toMatch(/--error-log PATH/);
    expect(existsSync(p.success)).toBe(false);
    expect(statSync('/dev/full').isCharacterDevice()).toBe(true);
  });

  it('a new log whose header cannot be written is removed, not left empty', async () => {
    const p = paths();
    const e = await ImportLogs.open({
      paths: p,
      layout,
      delimiter: ',',
      append: false,
      sync: true,
      probe: {
        onWrite: (file) => {
          if (file === 'error') throw enospc();
        },
      },
    }).catch((x) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe(`Cannot write the error log ${p.error}: no space left on the device (ENOSPC): the disk is full.`);
    expect(existsSync(p.error)).toBe(false);
    expect(existsSync(p.success)).toBe(false);
  });

  it('a log that was there before (--resume) is kept when its first write fails', async () => {
    const p = paths();
    writeFileSync(p.success, '');
    const e = await ImportLogs.open({
      paths: p,
      layout,
      delimiter: ',',
      append: true,
      sync: true,
      probe: { onWrite: () => { throw enospc(); } },
    }).catch((x) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(existsSync(p.success)).toBe(true);
  });

  it('the disk fills mid-run: the commit fails naming the log, ENOSPC and --resume; every later write fails too; nothing past the last fsync counts', async () => {
    const p = paths();
    let full = false;
    const attempts: string[] = [];
    const logs = await ImportLogs.open({
      paths: p,
      layout,
      delimiter: ',',
      append: false,
      sync: true,
      probe: {
        onWrite: (file, text) => {
          attempts.push(`${file}:${text.split('\n')[0]}`);
          if (full) throw enospc();
        },
      },
    });
    logs.add(['a@example.com', ''], { ok: true, rowNumber: 1, status: 'created', id: 'P1' });
    await logs.commit();
    const saved = logs.committedBytes;
    expect(saved[0]).toBe(readFileSync(p.success).length);

    full = true;
    logs.add(['b@example.com', ''], { ok: true, rowNumber: 2, status: 'created', id: 'P2' });
    logs.add(['c@example.com', ''], { ok: false, rowNumber: 3, code: 'x', message: 'y' });
    const e = await logs.commit().catch((x) => x);
    expect(e).toBeInstanceOf(KlvError);
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe(`Cannot write the success log ${p.success}: no space left on the device (ENOSPC): the disk is full.`);
    expect(e.hint).toMatch(/^Free some space on that disk, then run the same command again with --resume: the rows sent but not logged are in the import journal, and none is sent twice\.$/);
    expect(e.cause).toMatchObject({ code: 'ENOSPC' });
    expect(logs.committedBytes).toEqual(saved);

    // The error log is not tried after the success log failed, nor anything after: the same error.
    const tried = attempts.length;
    full = false; // even with room again, a log with a hole in it is not written on
    logs.add(['d@example.com', ''], { ok: true, rowNumber: 4, status: 'created', id: 'P4' });
    await expect(logs.commit()).rejects.toBe(e);
    await expect(logs.maybeFlush()).resolves.toBeUndefined(); // under flushEvery: nothing to write
    await expect(logs.flush()).rejects.toBe(e);
    await expect(logs.close()).rejects.toBe(e);
    expect(attempts.length).toBe(tried);
    expect(readFileSync(p.success, 'utf8')).toBe('Row,Email,Note,Id,Status\n1,a@example.com,,P1,created\n');
    expect(readFileSync(p.error, 'utf8')).toBe('Row,Email,Note,ErrorCode,ErrorMessage\n');
    await logs.close(); // closed once: idempotent
  });

  it('a failed fsync is a failed write too (the header is fsynced on open: a usage error)', async () => {
    const e = await ImportLogs.open({
      paths: paths(),
      layout,
      delimiter: ',',
      append: false,
      sync: true,
      probe: {
        onSync: () => {
          throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
        },
      },
    }).catch((x) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toMatch(/success log .*: the disk reported an input\/output error \(EIO\)\.$/);
    expect(e.hint).toBe('Choose another file with --success-log PATH. Nothing was sent.');
  });

  it('a dry run that fills the disk says to run it again, not --resume (a dry run has no journal)', async () => {
    const p = paths();
    let full = false;
    const logs = await ImportLogs.open({ paths: p, layout, delimiter: ',', append: false, sync: false, probe: { onWrite: () => { if (full) throw enospc(); } } });
    full = true;
    logs.add(['a@example.com', ''], { ok: true, rowNumber: 1, status: 'valid' });
    const e = await logs.commit().catch((x) => x);
    expect(e.hint).toBe('Free some space on that disk, then run it again.');
  });
});
