/**
 * `klv export` in process: flag checking (every usage error before any request), the object and
 * read request, and the run itself with a scripted read plan and client: file output moved into
 * place, the summary (human and --json), Ctrl-C and failures keeping FILE.partial.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GlobalOptions } from '../../src/cli/context.js';
import { buildReadRequest, exportRows, exportSettings, parseLimit, splitList, type ExportSettings } from '../../src/cli/commands/export.js';
import { InterruptedError, KlvError, UsageError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-code.js';
import type { KlaviyoClient } from '../../src/klaviyo/client.js';
import type { ColumnDef, ObjectDefinition, ReadPlan, ReadRequest, Row } from '../../src/objects/types.js';
import { testContext } from '../helpers/io.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'klv-export-cmd-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('exportSettings', () => {
  it('defaults: csv to stdout, comma, header, no BOM', () => {
    const s = exportSettings({});
    expect(s).toMatchObject({ output: undefined, format: 'csv', csv: { delimiter: ',', header: true, bom: false, safe: false } });
    expect(s.where).toEqual([]);
    expect(s.limit).toBeUndefined();
  });

  it('format from -o, tab for .tsv, --delimiter wins', () => {
    expect(exportSettings({ output: 'a.ndjson' }).format).toBe('ndjson');
    expect(exportSettings({ output: 'a.tsv' }).csv.delimiter).toBe('\t');
    expect(exportSettings({ output: 'a.tsv', delimiter: ';' }).csv.delimiter).toBe(';');
    expect(exportSettings({ format: 'json', output: 'a.csv' }).format).toBe('json');
  });

  it('CSV flags with JSON output are a usage error, not silently ignored', () => {
    expect(() => exportSettings({ format: 'json', delimiter: ';' })).toThrow(/--delimiter apply to CSV output only/);
    expect(() => exportSettings({ output: 'x.ndjson', header: false, safeCsv: true })).toThrow(/--no-header, --safe-csv apply to CSV output only, and the format is ndjson/);
    expect(() => exportSettings({ format: 'json', bom: true })).toThrow(UsageError);
  });

  it('lists and limits', () => {
    expect(splitList(['Email, FirstName', 'Created'], '--columns')).toEqual(['Email', 'FirstName', 'Created']);
    expect(splitList(undefined, '--columns')).toBeUndefined();
    expect(() => splitList(['Email,,Id'], '--columns')).toThrow(/--columns has an empty name/);
    expect(parseLimit('5')).toBe(5);
    expect(parseLimit('10_000')).toBe(10_000);
    for (const bad of ['0', '-1', '2.5', 'ten', '']) expect(() => parseLimit(bad), bad).toThrow(UsageError);
  });
});

describe('buildReadRequest (with the catalog)', () => {
  const s = (over: Partial<ExportSettings> = {}) => ({ ...exportSettings({}), ...over });

  it('resolves the object and its default columns', async () => {
    const { def, request } = await buildReadRequest('email-templates', s(), {});
    expect(def.name).toBe('EmailTemplates');
    expect(request.columns.map((c) => c.name)).toEqual(expect.arrayContaining(['Id', 'Name', 'EditorType', 'Html', 'Text', 'Created', 'Updated']));
  });

  it('--columns, --where, --since (relative to KLV_NOW), --limit and options reach the request', async () => {
    const { request } = await buildReadRequest(
      'Profiles',
      s({ columns: ['Email', 'FirstName'], where: ["Email = 'ann@example.com'"], since: '7d', limit: 5, properties: ['tier'] }),
      { KLV_NOW: '2026-07-15T00:00:00Z' },
    );
    expect(request.columns.map((c) => c.name)).toEqual(['Email', 'FirstName', 'Properties.tier']);
    expect(request.where).toEqual([{ column: 'Email', op: '=', value: 'ann@example.com' }]);
    expect(request.since?.toISOString()).toBe('2026-07-08T00:00:00.000Z');
    expect(request.limit).toBe(5);
    expect(request.options).toEqual({ includeArchived: false, properties: ['tier'] });
  });

  it('an unknown object, column or bad --where is a usage error (exit 2)', async () => {
    for (const [name, over] of [
      ['nope', {}],
      ['profiles', { columns: ['Emial'] }],
      ['profiles', { where: ['Email ~ 1'] }],
    ] as const) {
      const err = await buildReadRequest(name, s(over as Partial<ExportSettings>), {}).catch((e) => e);
      expect(err, name).toBeInstanceOf(UsageError);
      expect(err.exitCode).toBe(ExitCode.Usage);
    }
  });

  it('--since on an object without an incremental column names the objects that have one', async () => {
    const err = await buildReadRequest('tags', s({ since: '7d' }), {}).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toBe('Tags cannot be read incrementally, so --since does not apply to it.');
    expect(err.hint).toMatch(/--since works with .*Profiles \(Updated\)/);
    expect(err.hint).toMatch(/Events \(Datetime\)/);
  });
});

// ---- exportRows with a scripted plan -------------------------------------------------------

const COLUMNS: ColumnDef[] = [
  { name: 'Id', type: 'id', description: 'id', path: 'id' },
  { name: 'Email', type: 'email', description: 'email', path: 'email' },
];

function harness(globals: GlobalOptions = {}) {
  const { ctx, stdout, stderr } = testContext({ cwd: dir, globals });
  const client = { stats: () => ({ requests: 3, retries: 1, throttledMs: 0, byOperation: {} }) } as unknown as KlaviyoClient;
  ctx.client = async () => client;
  return { ctx, stdout, stderr };
}

function def(): ObjectDefinition {
  return { name: 'Profiles', description: '', key: ['Id'], columns: COLUMNS, operations: [], constraints: [], plan: () => { throw new Error('unused'); } };
}

function planOf(execute: (signal?: AbortSignal) => AsyncIterable<Row>): ReadPlan {
  return { requests: [], localConditions: [], notes: [], execute: (_client, signal) => execute(signal) };
}

const request: ReadRequest = { columns: COLUMNS, where: [], options: {} };
const settings = (over: Partial<ExportSettings> = {}) => ({ ...exportSettings({}), ...over });

async function* rows(n: number): AsyncGenerator<Row> {
  for (let i = 1; i <= n; i++) yield { Id: `p${i}`, Email: `p${i}@example.com` };
}

describe('exportRows', () => {
  it('stdout: rows on stdout, the summary on stderr', async () => {
    const h = harness();
    const code = await exportRows(h.ctx, def(), request, planOf(() => rows(2)), settings());
    expect(code).toBe(0);
    expect(h.stdout()).toBe('Id,Email\np1,p1@example.com\np2,p2@example.com\n');
    expect(h.stderr()).toMatch(/^Exported 2 profiles in \d+\.\d s \(3 requests, 1 retry\) to stdout\n$/);
  });

  it('--quiet: no summary', async () => {
    const h = harness({ quiet: true });
    await exportRows(h.ctx, def(), request, planOf(() => rows(1)), settings());
    expect(h.stderr()).toBe('');
  });

  it('-o FILE: the file appears complete; --json puts the summary on stdout', async () => {
    const h = harness({ json: true });
    const file = join(dir, 'ok.ndjson');
    await exportRows(h.ctx, def(), request, planOf(() => rows(3)), settings({ output: file, format: 'ndjson' }));
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(3);
    expect(existsSync(`${file}.partial`)).toBe(false);
    const summary = JSON.parse(h.stdout());
    expect(summary).toMatchObject({ object: 'Profiles', rows: 3, requests: 3, retries: 1, format: 'ndjson', output: file });
    expect(h.stderr()).toBe('');
  });

  it('--json with rows on stdout: the JSON summary is one line on stderr, stdout holds only rows', async () => {
    const h = harness({ json: true });
    await exportRows(h.ctx, def(), request, planOf(() => rows(2)), settings({ format: 'json' }));
    expect(JSON.parse(h.stdout())).toHaveLength(2);
    expect(JSON.parse(h.stderr())).toMatchObject({ rows: 2, output: 'stdout' });
  });

  it('--limit stops the plan early', async () => {
    const h = harness();
    let produced = 0;
    async function* endless(): AsyncGenerator<Row> {
      for (let i = 0; ; i++) {
        produced += 1;
        yield { Id: `p${i}`, Email: null };
      }
    }
    await exportRows(h.ctx, def(), request, planOf(endless), settings({ limit: 5, format: 'ndjson' }));
    expect(h.stdout().trimEnd().split('\n')).toHaveLength(5);
    expect(produced).toBe(5);
  });

  it('Ctrl-C: stops paging, flushes the rows read, keeps FILE.partial, exit 130 with where the rows are', async () => {
    const h = harness();
    const file = join(dir, 'interrupted.csv');
    let stoppedPaging = false;
    async function* interrupted(signal?: AbortSignal): AsyncGenerator<Row> {
      try {
        yield* rows(2);
        // The user presses Ctrl-C while the next page is on its way.
        h.ctx.abort.abort(new InterruptedError());
        await new Promise((_resolve, reject) => {
          if (signal?.aborted) reject(signal.reason);
          signal?.addEventListener('abort', () => reject(signal.reason));
        });
        yield { Id: 'never', Email: null };
      } finally {
        stoppedPaging = true;
      }
    }
    const err = await exportRows(h.ctx, def(), request, planOf(interrupted), settings({ output: file })).catch((e) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(err.exitCode).toBe(130);
    expect(err.message).toBe(`Export interrupted: the 2 profiles written so far are in ${file}.partial; ${file} was not changed.`);
    expect(stoppedPaging).toBe(true);
    expect(readFileSync(`${file}.partial`, 'utf8')).toBe('Id,Email\np1,p1@example.com\np2,p2@example.com\n');
    expect(existsSync(file)).toBe(false);
  });

  it('a failure mid-way: the error as it is (exit code kept), a warning saying where the rows are', async () => {
    const h = harness();
    const file = join(dir, 'failed.json');
    const apiError = new KlvError('GET /api/profiles failed: 503 Service Unavailable', { hint: 'Klaviyo is failing.' });
    async function* failing(): AsyncGenerator<Row> {
      yield* rows(1);
      throw apiError;
    }
    const err = await exportRows(h.ctx, def(), request, planOf(failing), settings({ output: file, format: 'json' })).catch((e) => e);
    expect(err).toBe(apiError);
    expect(h.stderr()).toContain(`warning: The export of Profiles stopped early: the 1 profile written so far is in ${file}.partial; ${file} was not changed.`);
    expect(readFileSync(`${file}.partial`, 'utf8')).toContain('"p1"');
    expect(existsSync(file)).toBe(false);
  });

  it('a plan that fails before its first row leaves an empty partial, not a file under the real name', async () => {
    const h = harness();
    const file = join(dir, 'early.csv');
    const plan: ReadPlan = {
      requests: [],
      localConditions: [],
      notes: [],
      execute: () => {
        throw new KlvError('refused');
      },
    };
    await expect(exportRows(h.ctx, def(), request, plan, settings({ output: file }))).rejects.toThrow('refused');
    expect(existsSync(file)).toBe(false);
  });
});

describe('exportRows: nothing written', () => {
  it('a failure before any row on stdout: only the error, no warning about 0 rows', async () => {
    const h = harness();
    async function* failing(): AsyncGenerator<Row> {
      throw new KlvError('GET /api/profiles failed: 401 Unauthorized');
    }
    await expect(exportRows(h.ctx, def(), request, planOf(failing), settings())).rejects.toThrow(/401/);
    expect(h.stderr()).toBe('');
    expect(h.stdout()).toBe('Id,Email\n');
  });
});
