/**
 * Reading config files (discoverConfigFiles): which file of a folder is read, what an empty one
 * counts for, `$import` (the imported files are a base the importing file overrides), and the
 * loud failures of an `$import` that cannot be followed. config-resolve.test.ts covers the walk
 * up, precedence, errors and that no config code is ever executed.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { discoverConfigFiles } from '../../src/config/config-files.js';
import { ConfigError } from '../../src/core/errors.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

let home: string;
let project: string;
beforeEach(() => {
  home = realpathSync(mkdtempSync(join(tmpdir(), 'klv-config-reader-')));
  roots.push(home);
  project = join(home, 'shop');
  mkdirSync(project, { recursive: true });
});

function write(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

const discover = (o: { configPath?: string } = {}) => discoverConfigFiles({ cwd: project, env: { HOME: home }, homeDir: home, ...o });

async function failure(o: { configPath?: string } = {}): Promise<ConfigError> {
  const err = await discover(o).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('the project file of a folder', () => {
  it('is the first of package.json\'s "klaviyo" key, .klaviyorc, .klaviyorc.json, .yaml, .yml that holds something', async () => {
    write(join(project, 'package.json'), JSON.stringify({ name: 'shop' }));
    write(join(project, '.klaviyorc'), '   \n');
    write(join(project, '.klaviyorc.json'), '');
    const yaml = write(join(project, '.klaviyorc.yaml'), 'profiles:\n  a: { revision: "2026-01-15" }\n');
    write(join(project, '.klaviyorc.yml'), 'profiles:\n  b: {}\n');
    const d = await discover();
    expect(d.files.map((f) => [f.path, f.role, Object.keys(f.data.profiles)])).toEqual([[yaml, 'project', ['a']]]);
  });

  it('an empty file named by --config holds no profiles', async () => {
    const file = write(join(home, 'empty.yaml'), '');
    const d = await discover({ configPath: file });
    expect(d.files.map((f) => [f.path, f.data.profiles])).toEqual([[file, {}]]);
  });
});

describe('$import', () => {
  it('reads the imported files first; the importing file overrides them, profile by profile and key by key', async () => {
    write(join(home, 'shared', 'base.yaml'), 'profiles:\n  default:\n    revision: "2025-10-15"\n    concurrency: 2\n  staging:\n    baseUrl: https://staging.example.com\n');
    write(join(home, 'shared', 'extra.json'), JSON.stringify({ profiles: { extra: { concurrency: 8 } } }));
    const rc = write(join(project, '.klaviyorc.yaml'), '$import: [../shared/base.yaml, ../shared/extra.json]\nprofiles:\n  default:\n    revision: "2026-01-15"\n');
    const d = await discover();
    expect(d.files).toHaveLength(1);
    expect(d.files[0].path).toBe(rc);
    expect(d.files[0].data.profiles).toEqual({
      default: { revision: '2026-01-15', concurrency: 2 },
      staging: { baseUrl: 'https://staging.example.com' },
      extra: { concurrency: 8 },
    });
    expect(d.files[0].data.unknownTopLevel).toEqual([]);
  });

  it('of a file that does not exist fails, naming it, instead of passing over the importing file', async () => {
    const rc = write(join(project, '.klaviyorc.yaml'), '$import: ./missing.yaml\nprofiles: {}\n');
    const err = await failure();
    expect(err.message).toContain(join(project, 'missing.yaml'));
    expect(err.file).toBe(rc);
  });

  it('in a circle, or of the file itself, fails', async () => {
    write(join(project, 'a.yaml'), '$import: ./b.yaml\n');
    write(join(project, 'b.yaml'), '$import: ./a.yaml\n');
    expect((await failure({ configPath: join(project, 'a.yaml') })).message).toMatch(/import/i);
    write(join(project, 'self.yaml'), '$import: ./self.yaml\n');
    expect((await failure({ configPath: join(project, 'self.yaml') })).message).toMatch(/import/i);
  });

  it('must name files', async () => {
    write(join(project, 'bad.yaml'), '$import: 42\n');
    expect((await failure({ configPath: join(project, 'bad.yaml') })).message).toContain('$import');
  });
});
