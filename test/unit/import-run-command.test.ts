/**
 * `klv import` in process, with an object definition of its own and fake handlers (no Klaviyo,
 * no emulator): the order of the checks (nothing read, nothing sent on a usage error), the logs
 * at their default places, the summary and exit codes, the journal's life, Ctrl-C and --resume,
 * a broken line mid-file, a refused key, a dry run that needs no key, stdin.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { CommandContext } from '../../src/cli/context.js';
import { importInto, type ImportFlags } from '../../src/cli/commands/import.js';
import { exitCodeFor } from '../../src/cli/error-report.js';
import { KlvError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-code.js';
import { KlaviyoApiError } from '../../src/klaviyo/errors.js';
import type { ObjectDefinition, Operation } from '../../src/objects/types.js';
import type { ImportRow, OperationHandler, RowOutcome, WriteContext } from '../../src/objects/write/types.js';
import { stubProfile, testContext, testProfile, type TestIO } from '../helpers/io.js';

let root: string;
let work: string;
let k = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'klv-import-cmd-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeEach(() => {
  k++;
  work = join(root, `w${k}`);
  mkdirSync(work);
});

interface Harness {
  ctx: CommandContext;
  stdout(): string;
  stderr(): string;
  stdin: TestIO['stdin'];
  profileAsked(): boolean;
}

function harness(o: { json?: boolean; noProfile?: boolean; tty?: boolean } = {}): Harness {
  // CI=true keeps the progress spinner off the fake terminal.
  const { ctx, stdin, stdout, stderr } = testContext({ cwd: work, env: { CI: 'true' }, tty: o.tty, globals: { json: o.json } });
  const profileAsked = stubProfile(ctx, () => {
    if (o.noProfile) throw new KlvError('no profile in this test', { exitCode: ExitCode.Usage });
    return testProfile();
  });
  return { ctx, stdout, stderr, stdin, profileAsked };
}

interface FakeHandlerOptions {
  operation?: Operation;
  idempotent?: boolean;
  maxBatchSize?: number;
  process?: (rows: ImportRow[], ctx: WriteContext) => Promise<RowOutcome[]>;
  preview?: OperationHandler['preview'];
}

/** A Profiles-like object; the handler records every row it is sent. */
function fakeObject(o: FakeHandlerOptions = {}) {
  const sent: number[] = [];
  const operation = o.operation ?? 'upsert';
  const handler: OperationHandler = {
    operation,
    description: 'Creates or updates fake people',
    requiredColumns: [['Email']],
    acceptedColumns: ['Email', 'FirstName'],
    maxBatchSize: o.maxBatchSize ?? 3,
    concurrency: 2,
    idempotent: o.idempotent ?? true,
    processBatch: async (rows, ctx) => {
      sent.push(...rows.map((r) => r.rowNumber));
      if (o.process) return o.process(rows, ctx);
      return rows.map((r) => ({ ok: true, rowNumber: r.rowNumber, status: 'created', id: `P${r.rowNumber}` }));
    },
    preview: o.preview,
  };
  const def: ObjectDefinition = {
    name: 'Fakes',
    description: '',
    key: ['Id'],
    columns: [
      { name: 'Id', type: 'id', description: '', path: 'id', readOnly: true },
      { name: 'Email', type: 'email', description: '', path: 'email' },
      { name: 'FirstName', type: 'string', description: '', path: 'first_name' },
    ],
    operations: [operation],
    write: { [operation]: handler },
    constraints: [],
    plan: () => {
      throw new Error('unused');
    },
  };
  return { def, handler, sent };
}

function csv(name: string, rows: number, o: { bad?: number[]; tail?: string } = {}): string {
  const lines = ['Email,FirstName'];
  for (let i = 1; i <= rows; i++) lines.push(o.bad?.includes(i) ? `not-an-email-${i},Bad` : `p${i}@example.com,N${i}`);
  writeFileSync(join(work, name), `${lines.join('\n')}\n${o.tail ?? ''}`);
  return name;
}

async function run(h: Harness, def: ObjectDefinition, input: string, flags: ImportFlags): Promise<{ code: number; error?: KlvError }> {
  try {
    const code = await importInto(h.ctx, def, input, flags);
    return { code };
  } catch (err) {
    return { code: exitCodeFor(err), error: err as KlvError };
  } finally {
    await h.ctx.dispose();
  }
}

function log(path: string): Array<Record<string, string>> {
  return parse(readFileSync(join(work, path), 'utf8'), { columns: true }) as Array<Record<string, string>>;
}

describe('klv import: checks before anything is read or sent', () => {
  it('an unsupported operation: exit 2 naming the supported ones, before the file is even opened', async () => {
    const { def, sent } = fakeObject({ operation: 'upsert' });
    const h = harness();
    const r = await run(h, def, 'does-not-exist.csv', { op: 'delete' });
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.error!.message).toBe('Fakes does not support --op delete.');
    expect(r.error!.hint).toMatch(/Fakes supports --op upsert/);
    expect(sent).toEqual([]);
  });

  it('a delete without --yes and no terminal to ask on: exit 2 naming --yes, before the file is opened', async () => {
    const { def, sent } = fakeObject({ operation: 'delete' });
    const r = await run(harness(), def, 'does-not-exist.csv', { op: 'delete' });
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.error!.message).toMatch(/needs confirmation, and there is no terminal to ask on/);
    expect(r.error!.hint).toMatch(/--yes/);
    expect(sent).toEqual([]);
  });

  it('a missing file, and missing required columns: exit 2, no log written, nothing sent', async () => {
    const { def, sent } = fakeObject();
    expect((await run(harness(), def, 'nope.csv', { op: 'upsert' })).error!.message).toMatch(/Cannot read nope.csv: no such file/);
    writeFileSync(join(work, 'names.csv'), 'FirstName\nAnn\n');
    const r = await run(harness(), def, 'names.csv', { op: 'upsert' });
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.error!.message).toMatch(/Email/);
    expect(readdirSync(work)).toEqual(['names.csv']);
    expect(sent).toEqual([]);
  });

  it('an unwritable log path: exit 2 before any request', async () => {
    const { def, sent } = fakeObject();
    const input = csv('people.csv', 3);
    const r = await run(harness(), def, input, { op: 'upsert', errorLog: 'no/such/folder/errors.csv' });
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.error!.message).toMatch(/Cannot write the error log .*no\/such\/folder\/errors.csv: its folder does not exist/);
    expect(sent).toEqual([]);
  });

  it('a log that would overwrite the input is refused', async () => {
    const { def } = fakeObject();
    const input = csv('people.csv', 1);
    const r = await run(harness(), def, input, { op: 'upsert', errorLog: 'people.csv' });
    expect(r.error!.message).toMatch(/would overwrite the input/);
    expect(readFileSync(join(work, input), 'utf8')).toMatch(/^Email,FirstName/);
  });
});

describe('klv import: a delete asks on a terminal', () => {
  for (const [answer, expected] of [['y\n', ExitCode.Ok], ['yes\n', ExitCode.Ok], ['n\n', ExitCode.Usage], ['\n', ExitCode.Usage]] as const) {
    it(`answer ${JSON.stringify(answer)}`, async () => {
      const { def, sent } = fakeObject({ operation: 'delete' });
      const input = csv('people.csv', 2);
      const h = harness({ tty: true });
      h.stdin.write(answer);
      const r = await run(h, def, input, { op: 'delete' });
      expect(r.code).toBe(expected);
      expect(h.stderr()).toMatch(/--op delete changes Fakes in Klaviyo for every row of people.csv, and cannot be undone. Continue\? \[y\/N\]/);
      if (expected === ExitCode.Ok) expect(sent).toEqual([1, 2]);
      else {
        expect(r.error!.message).toBe('Not confirmed: nothing was sent.');
        expect(sent).toEqual([]);
        expect(existsSync(join(work, 'people.success.csv'))).toBe(false);
      }
    });
  }

  it('--yes skips the question; stdin as the data cannot answer it', async () => {
    const { def, sent } = fakeObject({ operation: 'delete' });
    const input = csv('people.csv', 1);
    expect((await run(harness({ tty: true }), def, input, { op: 'delete', yes: true })).code).toBe(ExitCode.Ok);
    expect(sent).toEqual([1]);
    const r = await run(harness({ tty: true }), def, '-', { op: 'delete' });
    expect(r.error!.hint).toMatch(/--yes/);
  });
});

describe('klv import: a run', () => {
  it('logs beside the input, summary on stderr, exit 3 when rows failed, journal gone once complete', async () => {
    const { def, sent } = fakeObject();
    const input = csv('people.csv', 10, { bad: [4, 8] });
    const h = harness();
    const r = await run(h, def, input, { op: 'upsert' });
    expect(r.code).toBe(ExitCode.RowsRejected);
    expect(sent).toEqual([1, 2, 3, 5, 6, 7, 9, 10]);
    expect(log('people.success.csv').map((s) => [s.Row, s.Email, s.Id, s.Status])).toEqual(
      sent.map((i) => [String(i), `p${i}@example.com`, `P${i}`, 'created']),
    );
    expect(log('people.errors.csv').map((e) => [e.Row, e.ErrorCode])).toEqual([
      ['4', 'invalid_value'],
      ['8', 'invalid_value'],
    ]);
    expect(existsSync(join(work, 'people.errors.csv.journal'))).toBe(false);
    expect(h.stderr()).toMatch(/Imported 10 rows of fakes \(--op upsert\) from people.csv in .* s: 8 succeeded \(8 created\), 2 failed/);
    expect(h.stderr()).toMatch(/Success log: people.success.csv\nError log: {3}people.errors.csv/);
    expect(h.stdout()).toBe('');
  });

  it('--json: the summary as one JSON object on stdout; exit 0 when every row succeeded', async () => {
    const { def } = fakeObject();
    const input = csv('people.csv', 4);
    const h = harness({ json: true });
    const r = await run(h, def, input, { op: 'upsert', successLog: 'ok.csv', errorLog: 'ko.csv' });
    expect(r.code).toBe(ExitCode.Ok);
    const json = JSON.parse(h.stdout());
    expect(json).toMatchObject({ object: 'Fakes', rowsRead: 4, succeeded: 4, failed: 0, successLog: 'ok.csv', errorLog: 'ko.csv', completed: true, exitCode: 0 });
    expect(h.stdout().trim().split('\n')).toHaveLength(1);
  });

  it('a refused key stops the run: exit 4, the journal stays for --resume', async () => {
    const { def, sent } = fakeObject({
      process: async () => {
        throw new KlaviyoApiError({ operationId: 'x', method: 'POST', path: '/api/x', status: 401, errors: [{ code: 'not_authenticated', detail: 'Invalid API key' }] });
      },
    });
    const input = csv('people.csv', 30);
    const r = await run(harness(), def, input, { op: 'upsert' });
    expect(r.code).toBe(ExitCode.Auth);
    expect(r.error!.message).toMatch(/^Import stopped: .*401/);
    expect(r.error!.hint).toMatch(/klv import Fakes people.csv --op upsert --resume/);
    expect(sent.length).toBeLessThan(30);
    expect(existsSync(join(work, 'people.errors.csv.journal'))).toBe(true);
  });

  it('a broken line mid-file: the rows before it are imported and logged, exit 2 naming the line, --resume continues after the fix', async () => {
    const { def, sent } = fakeObject();
    const input = csv('people.csv', 7, { tail: 'p8@example.com,N8,extra\np9@example.com,N9\n' });
    const r = await run(harness(), def, input, { op: 'upsert' });
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.error!.message).toMatch(/people.csv, line 9: 3 fields, expected 2/);
    expect(r.error!.hint).toMatch(/The 7 rows before it were imported and logged; after fixing the file, klv import Fakes people.csv --op upsert --resume continues/);
    expect(sent).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // Fix the line and resume: rows 1-7 are not sent again.
    writeFileSync(join(work, input), readFileSync(join(work, input), 'utf8').replace('N8,extra', 'N8'));
    const second = fakeObject();
    const r2 = await run(harness(), second.def, input, { op: 'upsert', resume: true });
    expect(r2.code).toBe(ExitCode.Ok);
    expect(second.sent).toEqual([8, 9]);
    expect(log('people.success.csv').map((s) => s.Row)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('an interrupted run (journal left) refuses a fresh start; --resume finishes it without sending a row twice', async () => {
    const input = csv('people.csv', 20);
    const h = harness();
    let calls = 0;
    const first = fakeObject({
      idempotent: false,
      process: async (rows) => {
        calls++;
        // Ctrl-C while the second batch is being sent: it finishes, nothing more starts.
        if (calls === 2) h.ctx.abort.abort();
        return rows.map((r) => ({ ok: true, rowNumber: r.rowNumber, status: 'created', id: `P${r.rowNumber}` }));
      },
    });
    const r = await run(h, first.def, input, { op: 'upsert' });
    expect(r.code).toBe(ExitCode.Interrupted);
    expect(r.error!.message).toMatch(/^Import interrupted: the batches in flight finished/);
    expect(r.error!.hint).toMatch(/klv import Fakes people.csv --op upsert --resume/);
    const done = log('people.success.csv').map((s) => Number(s.Row));
    expect(done.length).toBeGreaterThanOrEqual(6);
    expect(done.length).toBeLessThan(20);
    expect(h.stderr()).toMatch(/Import stopped after/);

    const fresh = fakeObject();
    const refused = await run(harness(), fresh.def, input, { op: 'upsert' });
    expect(refused.code).toBe(ExitCode.Usage);
    expect(refused.error!.message).toMatch(/An interrupted import left .*people.errors.csv.journal/);
    expect(refused.error!.hint).toMatch(/Add --resume/);
    expect(fresh.sent).toEqual([]);

    const second = fakeObject({ idempotent: false });
    const h2 = harness();
    const r2 = await run(h2, second.def, input, { op: 'upsert', resume: true });
    expect(r2.code).toBe(ExitCode.Ok);
    expect(h2.stderr()).toMatch(/Resuming: \d+ rows are in the logs and are skipped/);
    expect(second.sent.filter((x) => first.sent.includes(x))).toEqual([]);
    expect(log('people.success.csv').map((s) => Number(s.Row)).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(existsSync(join(work, 'people.errors.csv.journal'))).toBe(false);
  });

  it('a dry run needs no key and sends nothing: rows are `valid`, in .dry-run logs', async () => {
    const { def, sent } = fakeObject({ operation: 'upsert' });
    const input = csv('people.csv', 5, { bad: [2] });
    const h = harness({ noProfile: true });
    const r = await run(h, def, input, { op: 'upsert', dryRun: true });
    expect(r.code).toBe(ExitCode.RowsRejected);
    expect(sent).toEqual([]);
    expect(h.profileAsked()).toBe(false);
    expect(log('people.dry-run.success.csv').map((s) => [s.Row, s.Status, s.ChangedColumns])).toEqual([
      ['1', 'valid', ''],
      ['3', 'valid', ''],
      ['4', 'valid', ''],
      ['5', 'valid', ''],
    ]);
    expect(log('people.dry-run.errors.csv').map((e) => e.Row)).toEqual(['2']);
    expect(existsSync(join(work, 'people.success.csv'))).toBe(false);
    expect(existsSync(join(work, 'people.dry-run.errors.csv.journal'))).toBe(false);
    expect(h.stderr()).toMatch(/Dry run of 5 rows .*4 valid, 1 invalid; nothing was written to Klaviyo/);
  });

  it('a dry run with a preview reports created / updated with the changed columns / unchanged', async () => {
    const { def, sent } = fakeObject({
      preview: async (rows) =>
        rows.map((r) =>
          r.rowNumber === 1
            ? { ok: true, rowNumber: 1, status: 'updated', id: 'P1', extras: { ChangedColumns: 'FirstName' } }
            : r.rowNumber === 2
              ? { ok: true, rowNumber: 2, status: 'unchanged', id: 'P2' }
              : { ok: true, rowNumber: r.rowNumber, status: 'created' },
        ),
    });
    const input = csv('people.csv', 3);
    const h = harness();
    const r = await run(h, def, input, { op: 'upsert', dryRun: true });
    expect(r.code).toBe(ExitCode.Ok);
    expect(sent).toEqual([]);
    expect(log('people.dry-run.success.csv').map((s) => [s.Row, s.Id, s.Status, s.ChangedColumns])).toEqual([
      ['1', 'P1', 'updated', 'FirstName'],
      ['2', 'P2', 'unchanged', ''],
      ['3', '', 'created', ''],
    ]);
    expect(h.stderr()).toMatch(/3 valid \(1 created, 1 unchanged, 1 updated\)/);
  });

  it('standard input: logs in the current folder with the object and a timestamp; --resume needs them named', async () => {
    const { def, sent } = fakeObject();
    const h = harness();
    h.stdin.end('Email\nann@example.com\nbob@example.com\n');
    const r = await run(h, def, '-', { op: 'upsert' });
    expect(r.code).toBe(ExitCode.Ok);
    expect(sent).toEqual([1, 2]);
    const files = readdirSync(work).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(/^import-fakes-\d{8}T\d{6}Z\.errors\.csv$/);
    expect(files[1]).toMatch(/^import-fakes-\d{8}T\d{6}Z\.success\.csv$/);
    const again = await run(harness(), def, '-', { op: 'upsert', resume: true });
    expect(again.error!.message).toMatch(/--resume with standard input needs the logs of the interrupted run/);
  });
});
