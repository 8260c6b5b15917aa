/**
 * A copy of the built CLI with one check taken out, for tests that prove a checker can fail:
 * run the same case with the copy, and the checker must report the loss the check prevents.
 * Nothing in production code knows about it: the copy is dist/ as built, one text replaced.
 */
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';

export interface Patch {
  /** A file under dist/, e.g. 'klaviyo/response-check.js'. */
  file: string;
  /** Text that must occur exactly once in it (else the patch would prove nothing). */
  marker: string;
  replacement: string;
}

/** Copies dist/ into `dir`, applies the patch, and returns the launcher to run (as runKlv's `bin`). */
export function patchedKlv(dir: string, patch: Patch): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  cpSync(join(REPO_ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(REPO_ROOT, 'bin/klv.js'), join(dir, 'bin/klv.js'));
  // ES modules (package.json "type") and the dependencies, from the copy's folder.
  cpSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const target = join(dir, 'dist', patch.file);
  const source = readFileSync(target, 'utf8');
  const found = source.split(patch.marker).length - 1;
  if (found !== 1) throw new Error(`the patch marker occurs ${found} times in dist/${patch.file}, not once: the build changed, update the patch`);
  writeFileSync(target, source.replace(patch.marker, patch.replacement));
  return join(dir, 'bin/klv.js');
}

/**
 * klv as it was before issue 12: checkDocument (src/klaviyo/response-check.ts) accepts every
 * answer, so an HTML page or a cut JSON body reads as a document without data or links.
 */
export const WITHOUT_DOCUMENT_CHECK: Patch = {
  file: 'klaviyo/response-check.js',
  marker: 'export function checkDocument(status, headers, text, expected) {',
  replacement: 'export function checkDocument(status, headers, text, expected) {\n    return { ok: true, body: parseOrText(text) };',
};
