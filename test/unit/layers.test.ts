/**
 * Dependencies point down: the command layer (src/cli) uses everything, nothing uses it. Pipeline
 * and query code receive what they need (a client, an output sink, options) from the command
 * that runs them instead of reaching up for its context; the client and the core helpers depend
 * on nothing above them. Read from the source text, so that a type-only import counts too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Relative specifiers of static imports, re-exports, dynamic imports and `import('...')` types. */
function relativeImports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g)) out.push(m[2]);
  return out;
}

/** The top-level folder of src/ (cli, core, klaviyo...) each relative import of a file lands in. */
function importedFolders(file: string): Array<{ specifier: string; folder: string }> {
  return relativeImports(readFileSync(file, 'utf8')).map((specifier) => ({
    specifier,
    folder: relative(SRC, resolve(dirname(file), specifier)).split(/[\\/]/)[0],
  }));
}

const FOLDERS = readdirSync(SRC, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name);

/** For each folder of src/: the folders it may import from (its own is always allowed). */
const RULES: Array<[folder: string, why: string, allowed: (to: string) => boolean]> = [
  ['core', 'core helpers depend on nothing else', () => false],
  ['klaviyo', 'the client depends on core only', (to) => to === 'core'],
  // Every other folder, present and future (pipeline, query, objects, config, db...).
  ...FOLDERS.filter((f) => !['cli', 'core', 'klaviyo'].includes(f)).map(
    (folder): [string, string, (to: string) => boolean] => [folder, 'only the command layer uses src/cli', (to) => to !== 'cli'],
  ),
];

describe('imports point down', () => {
  it('finds every form of import in a file', () => {
    const text = [
      "import type { CommandContext } from '../cli/context.js';",
      "import { x } from \"./x.js\";",
      "export { y } from '../y.js';",
      "const m = await import('../../cli/io.js');",
      "let j: import('../pipeline/import/resume.js').Journal;",
      "import './side-effect.js';",
      "import { Command } from 'commander';",
    ].join('\n');
    expect(relativeImports(text)).toEqual(['../cli/context.js', './x.js', '../y.js', '../../cli/io.js', '../pipeline/import/resume.js', './side-effect.js']);
  });

  it('covers pipeline and query', () => {
    expect(RULES.map(([folder]) => folder)).toEqual(expect.arrayContaining(['pipeline', 'query']));
  });

  it.each(RULES)('src/%s: %s', (folder, _why, allowed) => {
    const files = sourceFiles(join(SRC, folder));
    expect(files.length).toBeGreaterThan(0);
    const wrong = files.flatMap((file) =>
      importedFolders(file)
        .filter((i) => i.folder !== folder && !allowed(i.folder))
        .map((i) => `${relative(SRC, file)} imports ${i.specifier}`),
    );
    expect(wrong).toEqual([]);
  });
});
