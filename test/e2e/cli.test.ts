import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runKlv, REPO_ROOT } from '../helpers/cli.js';

const pkg = JSON.parse(readFileSync(resolve(REPO_ROOT, 'package.json'), 'utf8'));

describe('klv as a process', () => {
  it('--version prints the bare version on stdout', async () => {
    const r = await runKlv(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
    expect(r.stderr).toBe('');
  });

  it('--version loads no CSV, SQL, database, HTTP or emulator code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klv-imports-'));
    const file = join(dir, 'imports.txt');
    const r = await runKlv(['--version'], {
      nodeArgs: ['--import', resolve(REPO_ROOT, 'test/helpers/record-imports.mjs')],
      env: { ...process.env, KLV_RECORD_IMPORTS: file },
    });
    expect(r.code).toBe(0);
    const loaded = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    // The hook must have seen the CLI itself, or this test proves nothing.
    expect(loaded.some((u) => u.endsWith('/dist/cli/main.js'))).toBe(true);
    const heavy = loaded.filter((u) =>
      /node_modules\/(csv-parse|csv-stringify|undici|better-sqlite3|pg|mysql2|node-sql-parser|cosmiconfig|yaml|ora)\/|\/dist\/(emulator|klaviyo|config)\//.test(u),
    );
    expect(heavy).toEqual([]);
  });

  it('--help leads with examples and lists the commands', async () => {
    const r = await runKlv(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.trimStart().startsWith('Examples:')).toBe(true);
    for (const c of ['doctor', 'config', 'emulator', 'help']) expect(r.stdout).toMatch(new RegExp(`\\n  ${c}\\b`));
  });

  it('help <command> leads with that command\'s examples', async () => {
    const r = await runKlv(['help', 'doctor']);
    expect(r.code).toBe(0);
    expect(r.stdout.trimStart().startsWith('Examples:')).toBe(true);
    expect(r.stdout).toContain('$ klv doctor --demo');
    expect(r.stdout).toContain('Usage: klv doctor');
  });

  it('help exit-codes documents every exit code', async () => {
    const r = await runKlv(['help', 'exit-codes']);
    expect(r.code).toBe(0);
    for (const code of ['0', '1', '2', '3', '4', '130']) expect(r.stdout).toMatch(new RegExp(`^  ${code} `, 'm'));
  });

  it('unknown commands, options and help topics are usage errors (exit 2) on stderr', async () => {
    for (const args of [['frobnicate'], ['doctor', '--bogus'], ['help', 'nope']]) {
      const r = await runKlv(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/error:/);
    }
  });
});
