/**
 * Writing a profile: other profiles and comments survive, an existing profile needs --force,
 * and the file ends up mode 0600 however it started.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { hasProfile, readConfigText, upsertProfile, writeConfigFile } from '../../src/config/config-writer.js';
import { ConfigError, UsageError } from '../../src/core/errors.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'klv-writer-'));
  roots.push(d);
  return d;
}

const EXISTING = `# Team profiles: ask Ana before changing prod.
profiles:
  # the live store
  prod:
    privateKeyEnv: KLAVIYO_PROD_KEY # set by direnv
    publicKey: AbC123
`;

describe('upsertProfile (YAML)', () => {
  it('adds a profile and keeps the other profiles and every comment', () => {
    const { text, replaced } = upsertProfile('/x/config.yaml', EXISTING, 'staging', { privateKeyEnv: 'STAGING_KEY', revision: '2026-07-15' }, false);
    expect(replaced).toBe(false);
    expect(text).toContain('# Team profiles: ask Ana before changing prod.');
    expect(text).toContain('# the live store');
    expect(text).toContain('# set by direnv');
    expect(text).toContain('revision: "2026-07-15"');
    expect(parse(text)).toEqual({
      profiles: {
        prod: { privateKeyEnv: 'KLAVIYO_PROD_KEY', publicKey: 'AbC123' },
        staging: { privateKeyEnv: 'STAGING_KEY', revision: '2026-07-15' },
      },
    });
  });

  it('refuses to replace an existing profile without force, replaces it with force', () => {
    expect(() => upsertProfile('/x/config.yaml', EXISTING, 'prod', { privateKeyEnv: 'OTHER' }, false)).toThrow(UsageError);
    try {
      upsertProfile('/x/config.yaml', EXISTING, 'prod', { privateKeyEnv: 'OTHER' }, false);
    } catch (err) {
      expect((err as UsageError).message).toBe("Profile 'prod' already exists in /x/config.yaml");
      expect((err as UsageError).hint).toContain('--force');
    }
    const { text, replaced } = upsertProfile('/x/config.yaml', EXISTING, 'prod', { privateKeyFile: '~/.prod-key' }, true);
    expect(replaced).toBe(true);
    expect(parse(text).profiles.prod).toEqual({ privateKeyFile: '~/.prod-key' });
    expect(text).toContain('# Team profiles');
  });

  it('starts a new file with a header, and handles an empty one or one without profiles', () => {
    for (const existing of [null, '', '# only a comment\n', 'profiles:\n']) {
      const { text } = upsertProfile('/x/config.yaml', existing, 'default', { privateKeyEnv: 'K' }, false);
      expect(parse(text)).toEqual({ profiles: { default: { privateKeyEnv: 'K' } } });
    }
    expect(upsertProfile('/x/config.yaml', null, 'default', { privateKeyEnv: 'K' }, false).text).toMatch(/^# klv connection profiles/);
  });

  it('leaves out settings that were not given', () => {
    const { text } = upsertProfile('/x/config.yaml', null, 'default', { privateKeyEnv: 'K', publicKey: undefined }, false);
    expect(text).not.toContain('publicKey');
  });

  it('will not rewrite a file it cannot parse, and does not quote it', () => {
    const broken = 'profiles:\n  prod:\n    privateKey: "pk_secret_0123456789abcdef\n';
    let caught: unknown;
    try {
      upsertProfile('/x/config.yaml', broken, 'staging', { privateKeyEnv: 'K' }, false);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toMatch(/Invalid YAML at line \d+, column \d+; klv will not rewrite it/);
    expect((caught as Error).message).not.toContain('pk_secret');
    expect(() => upsertProfile('/x/config.yaml', '- a\n', 'default', { privateKeyEnv: 'K' }, false)).toThrow(/not a YAML mapping/);
    expect(() => upsertProfile('/x/config.yaml', 'profiles: [1]\n', 'default', { privateKeyEnv: 'K' }, false)).toThrow(/'profiles' is not a mapping/);
  });

  it('hasProfile', () => {
    expect(hasProfile('/x/config.yaml', EXISTING, 'prod')).toBe(true);
    expect(hasProfile('/x/config.yaml', EXISTING, 'staging')).toBe(false);
    expect(hasProfile('/x/config.yaml', null, 'prod')).toBe(false);
    expect(hasProfile('/x/c.json', '{"profiles":{"prod":{}}}', 'prod')).toBe(true);
  });
});

describe('upsertProfile (JSON and package.json)', () => {
  it('keeps other keys and profiles of a JSON file', () => {
    const existing = JSON.stringify({ profiles: { prod: { privateKeyEnv: 'P' } } });
    const { text } = upsertProfile('/x/.klaviyorc.json', existing, 'default', { privateKeyEnv: 'K' }, false);
    expect(JSON.parse(text)).toEqual({ profiles: { prod: { privateKeyEnv: 'P' }, default: { privateKeyEnv: 'K' } } });
    expect(() => upsertProfile('/x/.klaviyorc.json', existing, 'prod', { privateKeyEnv: 'K' }, false)).toThrow(/already exists/);
  });

  it('does not edit package.json', () => {
    expect(() => upsertProfile('/x/package.json', '{}', 'default', { privateKeyEnv: 'K' }, false)).toThrow(/does not edit package.json/);
  });
});

describe.skipIf(process.platform === 'win32')('writeConfigFile', () => {
  it('creates folders and a 0600 file', async () => {
    const dir = tempDir();
    const path = join(dir, 'deep', 'klv', 'config.yaml');
    await writeConfigFile(path, 'profiles: {}\n');
    expect(readFileSync(path, 'utf8')).toBe('profiles: {}\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'deep', 'klv')).mode & 0o077).toBe(0);
    // No temporary file is left behind.
    expect(readdirSync(join(dir, 'deep', 'klv'))).toEqual(['config.yaml']);
  });

  it('makes an existing group/world-readable file 0600 when it rewrites it', async () => {
    const dir = tempDir();
    const path = join(dir, 'config.yaml');
    writeFileSync(path, 'profiles: {}\n');
    chmodSync(path, 0o644);
    await writeConfigFile(path, 'profiles:\n  a: {}\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await readConfigText(path)).toBe('profiles:\n  a: {}\n');
  });

  it('writes through a symlink (dotfile managers) instead of replacing it', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'dotfiles'));
    const real = join(dir, 'dotfiles', 'klv.yaml');
    writeFileSync(real, 'profiles: {}\n');
    const link = join(dir, 'config.yaml');
    symlinkSync(real, link);
    await writeConfigFile(link, 'profiles:\n  b: {}\n');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toBe('profiles:\n  b: {}\n');
  });

  it('readConfigText is null for a missing file', async () => {
    expect(await readConfigText(join(tempDir(), 'nope.yaml'))).toBeNull();
  });
});
