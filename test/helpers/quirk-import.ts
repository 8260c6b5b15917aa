/**
 * The quirk matrix's import runner: `klv import OBJECT FILE --op OP` with both logs, under the
 * case's behaviour, then the checker on the logs against the account: every input row in exactly
 * one log, every logged success real, nothing created that no row asked for or created twice.
 * An import klv stopped part-way (the rest of the file not sent) is resumed without the quirk,
 * as klv tells the user to, and then every row must be in exactly one log. The account is put
 * back afterwards.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { AccountSnapshot } from '../../src/emulator/store/types.js';
import type { RunResult } from './cli.js';
import { importStopped, importVerdict, type ExpectedRows } from './quirk-checks.js';
import { caseSlug, causeOf, errorCodesOf, type CaseResult, type MatrixCase, type MatrixContext } from './quirk-matrix.js';

interface ImportTarget {
  object: string;
  op: string;
  type: string;
  /** The input column that identifies a record, and whether the rows are creates that are not safe to repeat. */
  identity: string;
  createOnly: boolean;
  rows: (slug: string, initial: AccountSnapshot) => Array<Record<string, string>>;
  /** A Klaviyo record under the input's column names. */
  values: (a: Record<string, any>) => Record<string, unknown>;
}

const TARGETS: Record<string, ImportTarget> = {
  // 70 people Klaviyo has (updated) and 30 it does not (created), through bulk import jobs.
  'profiles upsert': {
    object: 'profiles',
    op: 'upsert',
    type: 'profile',
    identity: 'Email',
    createOnly: false,
    rows: (slug, initial) => [
      ...initial.resources.profile!.filter((p) => typeof p.attributes.email === 'string').slice(0, 70).map((p) => ({ Email: String(p.attributes.email), FirstName: `Imported ${slug}` })),
      ...Array.from({ length: 30 }, (_, i) => ({ Email: `${slug.toLowerCase()}-${i}@quirks.example.com`, FirstName: `Imported ${slug}` })),
    ],
    values: (a) => ({ Email: a.email, FirstName: a.first_name }),
  },
  // One POST per list, which Klaviyo may have handled when its answer is damaged.
  'lists insert': {
    object: 'lists',
    op: 'insert',
    type: 'list',
    identity: 'Name',
    createOnly: true,
    rows: (slug) => Array.from({ length: 12 }, (_, i) => ({ Name: `${slug} ${i}` })),
    values: (a) => ({ Name: a.name }),
  },
};

function records(s: AccountSnapshot, target: ImportTarget): ExpectedRows {
  return new Map((s.resources[target.type] ?? []).map((r) => [r.id, target.values(r.attributes)]));
}

function readLog(file: string): Array<Record<string, string>> {
  return existsSync(file) ? (parse(readFileSync(file), { columns: true, skip_empty_lines: true, bom: true }) as Array<Record<string, string>>) : [];
}

export async function importCase(m: MatrixContext, c: MatrixCase): Promise<CaseResult[]> {
  const target = TARGETS[c.target];
  if (!target) throw new Error(`no import target '${c.target}'`);
  const slug = caseSlug(c);
  const input = target.rows(slug, m.initial);
  const file = join(m.root, `${slug}.csv`);
  const success = join(m.root, `${slug}.success.csv`);
  const errors = join(m.root, `${slug}.errors.csv`);
  const args = ['import', target.object, file, '--op', target.op, '--success-log', success, '--error-log', errors];
  for (const f of [success, errors]) rmSync(f, { force: true });
  writeFileSync(file, stringify(input, { header: true }));
  const observe = async (run: RunResult) =>
    importVerdict({
      code: run.code,
      stderr: run.stderr,
      input,
      success: readLog(success),
      errors: readLog(errors),
      klaviyoBefore: records(m.initial, target),
      klaviyoAfter: records(await m.emulator.state(), target),
      identity: target.identity,
      createOnly: target.createOnly,
      cause: causeOf(c.behaviour),
      errorCodes: errorCodesOf(c.behaviour),
    });
  try {
    const { value: run, exercised } = await m.emulator.under(c, (env) => m.klv(args, { env }));
    const results: CaseResult[] = [{ step: 'import', verdict: await observe(run), exercised, run }];
    if (importStopped(run)) {
      // What klv tells the user to do once Klaviyo answers again: the logs then hold every row.
      const resumed = await m.klv([...args, '--resume']);
      results.push({ step: 'resume, quirk off', verdict: await observe(resumed), exercised: null, run: resumed, outcomes: ['complete', 'failed-loudly'] });
    }
    return results;
  } finally {
    await m.emulator.load(m.initial);
  }
}
