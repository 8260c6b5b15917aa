/**
 * The quirk matrix's export runner: `klv export TARGET -o FILE` over a previous export, under
 * the case's behaviour, then the checker on the file against Klaviyo's records.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AccountSnapshot } from '../../src/emulator/store/types.js';
import { exportVerdict, type ExpectedRows } from './quirk-checks.js';
import { caseSlug, causeOf, isDatetimeQuirk, type CaseResult, type MatrixCase, type MatrixContext } from './quirk-matrix.js';

interface ExportTarget {
  args: string[];
  /** The resource type in the emulator's state, and the expected row of one resource. */
  type: string;
  row: (attributes: Record<string, any>) => Record<string, unknown>;
  /** Where a test reads the rendered values from, under a datetime quirk. */
  reference: { path: string; query: Record<string, string> };
}

export const EXPORT_TARGETS: Record<string, ExportTarget> = {
  profiles: {
    args: ['export', 'profiles', '--columns', 'Id,Email,Created,Updated'],
    type: 'profile',
    row: (a) => ({ Email: a.email, Created: a.created, Updated: a.updated }),
    reference: { path: '/api/profiles', query: { 'page[size]': '100', 'fields[profile]': 'email,created,updated' } },
  },
  'email-templates': {
    args: ['export', 'email-templates', '--columns', 'Id,Name,Updated'],
    type: 'template',
    row: (a) => ({ Name: a.name, Updated: a.updated }),
    reference: { path: '/api/templates', query: { 'fields[template]': 'name,updated' } },
  },
  // Every flow, archived ones included: the quirk hides them from a request that does not ask.
  flows: {
    args: ['export', 'flows', '--include-archived', '--columns', 'Id,Name,Archived,Updated'],
    type: 'flow',
    row: (a) => ({ Name: a.name, Archived: a.archived === true, Updated: a.updated }),
    reference: { path: '/api/flows', query: { 'fields[flow]': 'name,archived,updated' } },
  },
};

function expectedRows(target: ExportTarget, state: AccountSnapshot): ExpectedRows {
  return new Map((state.resources[target.type] ?? []).map((r) => [r.id, target.row(r.attributes)]));
}

const previousExports = new Map<string, Buffer>();

/** A quirk-free export of the target: the file a failed run must leave as it was. */
async function previousExport(m: MatrixContext, name: string, target: ExportTarget): Promise<Buffer> {
  let bytes = previousExports.get(name);
  if (!bytes) {
    const file = join(m.root, `previous-${name}.csv`);
    const r = await m.klv([...target.args, '-o', file, '--format', 'csv']);
    if (r.code !== 0) throw new Error(`the quirk-free export of ${name} failed (exit ${r.code}):\n${r.stderr}`);
    bytes = readFileSync(file);
    previousExports.set(name, bytes);
  }
  return bytes;
}

/** Plays an export case; `bin` runs another klv build (the checker's own proof). */
export async function exportCase(m: MatrixContext, c: MatrixCase, o: { bin?: string } = {}): Promise<CaseResult> {
  const target = EXPORT_TARGETS[c.target];
  if (!target) throw new Error(`no export target '${c.target}'`);
  const previous = await previousExport(m, c.target, target);
  const file = join(m.root, `${caseSlug(c)}.csv`);
  writeFileSync(file, previous);
  const { value, exercised } = await m.emulator.under(c, async (env) => {
    const run = await m.klv([...target.args, '-o', file, '--format', 'csv'], { env, bin: o.bin });
    // Under a datetime quirk the expected values are the ones Klaviyo renders, read now.
    const rendered = isDatetimeQuirk(c.behaviour) ? await m.emulator.read(target.reference.path, target.reference.query) : null;
    return { run, rendered };
  });
  const expected = expectedRows(target, m.initial);
  if (value.rendered) {
    for (const [id, row] of expected) {
      const attributes = value.rendered.get(id);
      if (attributes) Object.assign(row, target.row({ ...attributes }));
    }
  }
  const verdict = exportVerdict({
    code: value.run.code,
    stderr: value.run.stderr,
    previous,
    written: existsSync(file) ? readFileSync(file) : null,
    key: 'Id',
    expected,
    cause: causeOf(c.behaviour),
  });
  return { step: 'export', verdict, exercised, run: value.run };
}
