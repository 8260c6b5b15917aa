/**
 * What an import reports: the summary line (human and JSON), the exit codes, the resume command
 * line; and the flag checks of `klv import` that come before the file is read.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-code.js';
import { checkObjectFlags, handlerFor, importSettings, parseBatchSize } from '../../src/cli/commands/import.js';
import { emptyCounts, formatImportSummary, importExitCode, importProgressText, importSummaryJson, resumeCommandLine, shellQuote, type ImportSummary } from '../../src/pipeline/import/summary.js';
import { dryRunPlan, DRY_RUN_CHUNK } from '../../src/pipeline/import/dry-run.js';
import type { ObjectDefinition } from '../../src/objects/types.js';
import type { OperationHandler } from '../../src/objects/write/types.js';

function summary(over: Partial<ImportSummary> = {}): ImportSummary {
  return {
    object: 'Profiles',
    operation: 'upsert',
    input: 'people.csv',
    dryRun: false,
    resumed: false,
    counts: { ...emptyCounts(), read: 1000, succeeded: 950, failed: 50, statuses: { created: 900, updated: 50 } },
    requests: 12,
    rateLimited: 1,
    retries: 1,
    seconds: 4.24,
    successLog: 'people.success.csv',
    errorLog: 'people.errors.csv',
    ...over,
  };
}

describe('the summary', () => {
  it('says rows read, succeeded by status, failed, requests, 429s, seconds and both logs', () => {
    expect(formatImportSummary(summary())).toBe(
      [
        'Imported 1,000 rows of profiles (--op upsert) from people.csv in 4.2 s: 950 succeeded (900 created, 50 updated), 50 failed',
        '12 requests, 1 rate-limited (429), 1 retry',
        'Success log: people.success.csv',
        'Error log:   people.errors.csv',
      ].join('\n'),
    );
  });

  it('a resumed or stopped run says what was skipped and what was left', () => {
    const text = formatImportSummary(summary({ stopped: 'interrupted', input: '-', counts: { ...emptyCounts(), read: 30, succeeded: 10, skipped: 15, notProcessed: 5, statuses: { created: 10 } } }));
    expect(text).toMatch(/^Import stopped after 30 rows of profiles \(--op upsert\) from standard input/);
    expect(text).toMatch(/15 already done by the interrupted run \(skipped\), 5 not processed/);
    const failedBefore = formatImportSummary(summary({ resumed: true, counts: { ...emptyCounts(), read: 30, succeeded: 15, skipped: 15, skippedFailed: 2, statuses: { created: 15 } } }));
    expect(failedBefore).toMatch(/15 already done by the interrupted run \(skipped, 2 of them failed \(see the error log\)\)/);
  });

  it('a dry run says valid and invalid, and that nothing was written', () => {
    const text = formatImportSummary(summary({ dryRun: true, counts: { ...emptyCounts(), read: 3, succeeded: 2, failed: 1, statuses: { valid: 2 } } }));
    expect(text).toMatch(/^Dry run of 3 rows of profiles \(--op upsert\) from people.csv in 4.2 s: 2 valid, 1 invalid; nothing was written to Klaviyo/);
  });

  it('--json: one object with every figure and the exit code', () => {
    const json = importSummaryJson(summary(), 3);
    expect(json).toEqual({
      object: 'Profiles',
      operation: 'upsert',
      input: 'people.csv',
      dryRun: false,
      resumed: false,
      rowsRead: 1000,
      succeeded: 950,
      failed: 50,
      statuses: { created: 900, updated: 50 },
      skipped: 0,
      skippedFailed: 0,
      notProcessed: 0,
      requests: 12,
      rateLimited: 1,
      retries: 1,
      seconds: 4.24,
      successLog: 'people.success.csv',
      errorLog: 'people.errors.csv',
      completed: true,
      stopped: null,
      exitCode: 3,
    });
  });

  it('exit codes: 0 all succeeded, 3 any failed, the stop code when the run stopped early', () => {
    expect(importExitCode({ counts: { ...emptyCounts(), succeeded: 5 } })).toBe(ExitCode.Ok);
    expect(importExitCode({ counts: { ...emptyCounts(), succeeded: 5, failed: 1 } })).toBe(ExitCode.RowsRejected);
    // --resume: a row the interrupted run failed (it exited 130, not 3) still fails the import.
    expect(importExitCode({ counts: { ...emptyCounts(), succeeded: 5, skipped: 3, skippedFailed: 1 } })).toBe(ExitCode.RowsRejected);
    expect(importExitCode({ counts: { ...emptyCounts(), failed: 1 }, stopped: 'interrupted' }, 130)).toBe(130);
    expect(importExitCode({ counts: emptyCounts(), stopped: 'fatal' }, 4)).toBe(4);
    expect(importExitCode({ counts: emptyCounts(), stopped: 'fatal' })).toBe(1);
  });

  it('the resume command line is shell-quoted and ends with --resume', () => {
    expect(resumeCommandLine(['import', 'profiles', 'my people.csv', '--op', 'upsert', '--map', "Mail=Email", '--set', "Note=it's"])).toBe(
      `klv import profiles 'my people.csv' --op upsert --map Mail=Email --set 'Note=it'\\''s' --resume`,
    );
    expect(resumeCommandLine(['import', 'x', '-', '--resume'])).toBe('klv import x - --resume');
    expect(shellQuote('')).toBe("''");
  });

  it('progress text', () => {
    expect(importProgressText({ noun: 'profiles', counts: { ...emptyCounts(), read: 2000, succeeded: 1990, failed: 10 }, requests: 3, elapsedMs: 2000, dryRun: false, waiting: true })).toBe(
      'Importing profiles: 2,000 rows read, 1,990 ok, 10 failed, 3 requests, 1,000 rows/s (waiting for the rate limit)',
    );
  });
});

describe('flags, checked before the file is read', () => {
  it('--op is required and must be an operation (case-insensitive)', () => {
    expect(() => importSettings({})).toThrow(/--op insert, update, upsert or delete is required/);
    expect(() => importSettings({ op: 'merge' })).toThrow(/--op 'merge' is not an operation/);
    expect(importSettings({ op: 'UPSERT' }).operation).toBe('upsert');
  });

  it('batch size, delimiter, lists, and flags that do not go together', () => {
    expect(parseBatchSize('1_000')).toBe(1000);
    for (const bad of ['0', '-5', '1.5', 'x']) expect(() => parseBatchSize(bad), bad).toThrow(UsageError);
    const s = importSettings({ op: 'insert', delimiter: '\\t', uniqueBy: ['OrderId, Email'], batchSize: '50' });
    expect(s).toMatchObject({ delimiter: '\t', batchSize: 50, options: { uniqueBy: ['OrderId', 'Email'], batchSize: 50 } });
    expect(() => importSettings({ op: 'insert', resume: true, dryRun: true })).toThrow(/--resume and --dry-run do not go together/);
    expect(() => importSettings({ op: 'insert', list: ' ' })).toThrow(/--list needs a list id/);
  });

  const handler = (operation: OperationHandler['operation']): OperationHandler => ({
    operation,
    description: '',
    requiredColumns: [],
    maxBatchSize: 1,
    idempotent: false,
    processBatch: async () => [],
  });
  const def = (name: string, ops: OperationHandler['operation'][]): ObjectDefinition => ({
    name,
    description: '',
    key: ['Id'],
    columns: [],
    operations: ops,
    write: Object.fromEntries(ops.map((o) => [o, handler(o)])),
    constraints: [],
    plan: () => {
      throw new Error('unused');
    },
  });

  it('an unsupported operation names the supported ones; a read-only object says so', () => {
    expect(handlerFor(def('Lists', ['insert', 'update', 'delete']), 'insert').operation).toBe('insert');
    expect(() => handlerFor(def('Lists', ['insert', 'update', 'delete']), 'upsert')).toThrow(/Lists does not support --op upsert/);
    try {
      handlerFor(def('Lists', ['insert', 'update', 'delete']), 'upsert');
    } catch (e) {
      expect((e as UsageError).hint).toMatch(/Lists supports --op insert, update, delete/);
      expect((e as UsageError).exitCode).toBe(ExitCode.Usage);
    }
    expect(() => handlerFor(def('Metrics', []), 'insert')).toThrow(/Metrics cannot be imported/);
  });

  it('object flags given to another object are refused, not ignored', () => {
    expect(() => checkObjectFlags(def('Lists', ['insert']), { list: 'L1' })).toThrow(/--list applies to Profiles imports only, not to Lists/);
    expect(() => checkObjectFlags(def('Profiles', ['insert']), { allowGlobalUnsubscribe: true })).toThrow(/--allow-global-unsubscribe applies to ListSubscribe/);
    expect(() => checkObjectFlags(def('Profiles', ['insert']), { list: 'L1' })).not.toThrow();
    expect(() => checkObjectFlags(def('Events', ['insert']), { uniqueBy: ['A'] })).not.toThrow();
  });
});

describe('dry-run plan', () => {
  const base: OperationHandler = { operation: 'upsert', description: '', requiredColumns: [], maxBatchSize: 100, concurrency: 2, idempotent: true, processBatch: async () => { throw new Error('a dry run never writes'); } };

  it('without preview: every valid row is `valid`, in large chunks, with no client', async () => {
    let asked = false;
    const plan = dryRunPlan(base, 'upsert', undefined, () => {
      asked = true;
      throw new Error('no context needed');
    });
    expect(plan).toMatchObject({ reads: false, batchSize: DRY_RUN_CHUNK, concurrency: 1 });
    expect(await plan.process([{ rowNumber: 4, values: {} }])).toEqual([{ ok: true, rowNumber: 4, status: 'valid' }]);
    expect(asked).toBe(false);
  });

  it('with preview, for update and upsert only: the handler says created/updated/unchanged and the changed columns', async () => {
    const h: OperationHandler = {
      ...base,
      preview: async (rows) => rows.map((r) => (r.rowNumber === 1 ? { ok: true, rowNumber: 1, status: 'updated', id: 'P1', extras: { ChangedColumns: 'FirstName;City' } } : { ok: true, rowNumber: r.rowNumber, status: 'created' })),
    };
    const plan = dryRunPlan(h, 'upsert', 10, () => ({}) as never);
    expect(plan).toMatchObject({ reads: true, batchSize: 10, concurrency: 2 });
    expect(await plan.process([{ rowNumber: 1, values: {} }, { rowNumber: 2, values: {} }])).toEqual([
      { ok: true, rowNumber: 1, status: 'updated', id: 'P1', extras: { ChangedColumns: 'FirstName;City' } },
      { ok: true, rowNumber: 2, status: 'created', extras: { ChangedColumns: '' } },
    ]);
    expect(dryRunPlan({ ...h, operation: 'insert' }, 'insert', undefined, () => ({}) as never).reads).toBe(false);
  });
});
