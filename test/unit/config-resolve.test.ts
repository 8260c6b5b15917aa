/**
 * Profile resolution: precedence (flags > environment > project file > user file > defaults)
 * per value, where each value came from, every configuration error (exit 2, naming the file and
 * the fix, never the key), the permission warning, and that no config code is ever executed.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { resolveProfile, type ResolveProfileRequest } from '../../src/config/resolve-profile.js';
import { discoverConfigFiles } from '../../src/config/config-files.js';
import { DEFAULT_BASE_URL, DEFAULT_CONCURRENCY, DEFAULT_REVISION } from '../../src/config/profile.js';
import { ConfigError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-code.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const KEY_USER = 'pk_user_0123456789abcdef0123456789';
const KEY_PROJECT = 'pk_project_0123456789abcdef01234';
const KEY_ENV = 'pk_env_0123456789abcdef0123456789';
const KEY_FLAG = 'pk_flag_0123456789abcdef012345678';
const ALL_KEYS = [KEY_USER, KEY_PROJECT, KEY_ENV, KEY_FLAG];

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A throwaway world: home (with ~/.config/klv), a project with package.json, and a sub-folder to run in. */
interface World {
  root: string;
  home: string;
  project: string;
  cwd: string;
  userFile: string;
  write(path: string, text: string, mode?: number): string;
  req(extra?: Partial<ResolveProfileRequest>): ResolveProfileRequest;
}

function makeWorld(): World {
  // realpath: on macOS the temp folder is behind a symlink and the search compares paths.
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-config-')));
  roots.push(root);
  const home = join(root, 'home');
  const project = join(home, 'work', 'shop');
  const cwd = join(project, 'scripts', 'nightly');
  mkdirSync(cwd, { recursive: true });
  const userFile = join(home, '.config', 'klv', 'config.yaml');
  const write = (path: string, text: string, mode = 0o600) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };
  return {
    root,
    home,
    project,
    cwd,
    userFile,
    write,
    req: (extra = {}) => ({
      env: { HOME: home },
      cwd,
      stdin: Readable.from([]),
      homeDir: home,
      ...extra,
    }),
  };
}

/** Runs resolveProfile expecting a ConfigError; checks exit 2 and that no key leaks into it. */
async function configError(req: ResolveProfileRequest): Promise<ConfigError> {
  let caught: unknown;
  try {
    await resolveProfile(req);
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a ConfigError').toBeInstanceOf(ConfigError);
  const err = caught as ConfigError;
  expect(err.exitCode).toBe(ExitCode.Usage);
  const everything = `${err.message}\n${err.hint ?? ''}\n${err.stack ?? ''}\n${inspect(err)}`;
  for (const key of ALL_KEYS) {
    expect(everything).not.toContain(key);
    expect(everything).not.toContain(key.slice(0, 12));
  }
  return err;
}

let w: World;
beforeEach(() => {
  w = makeWorld();
  writeFileSync(join(w.project, 'package.json'), '{"name":"shop"}');
});

describe('precedence and sources', () => {
  it('uses defaults for everything but the key', async () => {
    const p = await resolveProfile(w.req({ env: { HOME: w.home, KLAVIYO_PRIVATE_API_KEY: KEY_ENV } }));
    expect(p.name).toBe('default');
    expect(p.privateKey.reveal()).toBe(KEY_ENV);
    expect(p.revision).toBe(DEFAULT_REVISION);
    expect(p.baseUrl).toBe(DEFAULT_BASE_URL);
    expect(p.concurrency).toBe(DEFAULT_CONCURRENCY);
    expect(p.publicKey).toBeUndefined();
    expect(p.sources).toEqual({
      profile: 'default',
      privateKey: 'env KLAVIYO_PRIVATE_API_KEY',
      revision: 'default',
      baseUrl: 'default',
      concurrency: 'default',
    });
    expect(p.files).toEqual([]);
    expect(p.warnings).toEqual([]);
  });

  it('merges per value: flag > env > project file > user file > default', async () => {
    w.write(
      w.userFile,
      [
        'profiles:',
        '  default:',
        `    privateKey: ${KEY_USER}`,
        '    publicKey: UsrPub',
        '    revision: "2026-01-15"',
        '    baseUrl: https://user.klaviyo.com',
        '    concurrency: 2',
      ].join('\n'),
    );
    const projectFile = w.write(
      join(w.project, '.klaviyorc.yaml'),
      ['profiles:', '  default:', `    privateKey: ${KEY_PROJECT}`, '    revision: "2026-04-15"', '    concurrency: 3'].join('\n'),
    );
    const keyFile = w.write(join(w.root, 'flag-key'), `${KEY_FLAG}\n`);
    const userSrc = `${w.userFile} (profile default)`;
    const projectSrc = `${projectFile} (profile default)`;

    // Files only: the project file wins where it says something, the user file fills the rest.
    let p = await resolveProfile(w.req());
    expect(p.privateKey.reveal()).toBe(KEY_PROJECT);
    expect(p.revision).toBe('2026-04-15');
    expect(p.concurrency).toBe(3);
    expect(p.publicKey).toBe('UsrPub');
    expect(p.baseUrl).toBe('https://user.klaviyo.com');
    expect(p.sources).toMatchObject({
      privateKey: projectSrc,
      revision: projectSrc,
      concurrency: projectSrc,
      publicKey: userSrc,
      baseUrl: userSrc,
    });
    expect(p.files).toEqual([projectFile, w.userFile]);

    // The environment beats both files.
    const env = {
      HOME: w.home,
      KLAVIYO_PRIVATE_API_KEY: KEY_ENV,
      KLAVIYO_PUBLIC_API_KEY: 'EnvPub',
      KLAVIYO_REVISION: '2026-07-15',
      KLAVIYO_BASE_URL: 'http://127.0.0.1:8787/',
    };
    p = await resolveProfile(w.req({ env }));
    expect(p.privateKey.reveal()).toBe(KEY_ENV);
    expect(p.publicKey).toBe('EnvPub');
    expect(p.revision).toBe('2026-07-15');
    expect(p.baseUrl).toBe('http://127.0.0.1:8787');
    expect(p.concurrency).toBe(3);
    expect(p.sources).toMatchObject({
      privateKey: 'env KLAVIYO_PRIVATE_API_KEY',
      publicKey: 'env KLAVIYO_PUBLIC_API_KEY',
      revision: 'env KLAVIYO_REVISION',
      baseUrl: 'env KLAVIYO_BASE_URL',
    });

    // The flag beats the environment.
    p = await resolveProfile(w.req({ env, apiKeyFile: keyFile }));
    expect(p.privateKey.reveal()).toBe(KEY_FLAG);
    expect(p.sources.privateKey).toBe('flag --api-key-file');
  });

  it('an empty environment variable counts as unset', async () => {
    w.write(w.userFile, `profiles:\n  default:\n    privateKey: ${KEY_USER}\n`);
    const p = await resolveProfile(w.req({ env: { HOME: w.home, KLAVIYO_PRIVATE_API_KEY: '', KLAVIYO_BASE_URL: ' ' } }));
    expect(p.privateKey.reveal()).toBe(KEY_USER);
    expect(p.baseUrl).toBe(DEFAULT_BASE_URL);
  });

  it('selects the profile by --profile, else KLAVIYO_PROFILE, else default', async () => {
    w.write(
      w.userFile,
      ['profiles:', '  default:', `    privateKey: ${KEY_USER}`, '  staging:', '    privateKeyEnv: STAGING_KEY', '  prod:', '    privateKeyEnv: PROD_KEY'].join('\n'),
    );
    const env = { HOME: w.home, STAGING_KEY: KEY_ENV, PROD_KEY: KEY_PROJECT, KLAVIYO_PROFILE: 'staging' };
    let p = await resolveProfile(w.req({ env }));
    expect(p.name).toBe('staging');
    expect(p.sources.profile).toBe('env KLAVIYO_PROFILE');
    expect(p.privateKey.reveal()).toBe(KEY_ENV);
    expect(p.sources.privateKey).toBe(`env STAGING_KEY, named by ${w.userFile} (profile staging)`);

    p = await resolveProfile(w.req({ env, profile: 'prod' }));
    expect(p.name).toBe('prod');
    expect(p.sources.profile).toBe('flag --profile');
    expect(p.privateKey.reveal()).toBe(KEY_PROJECT);

    p = await resolveProfile(w.req());
    expect(p.name).toBe('default');
    expect(p.privateKey.reveal()).toBe(KEY_USER);
  });

  it('honours XDG_CONFIG_HOME for the user file', async () => {
    const xdg = join(w.root, 'xdg');
    const file = w.write(join(xdg, 'klv', 'config.yaml'), `profiles:\n  default:\n    privateKey: ${KEY_USER}\n`);
    const p = await resolveProfile(w.req({ env: { HOME: w.home, XDG_CONFIG_HOME: xdg } }));
    expect(p.files).toEqual([file]);
    expect(p.sources.privateKey).toBe(`${file} (profile default)`);
  });

  it('--config reads that file only: no project search, no user file', async () => {
    w.write(w.userFile, `profiles:\n  default:\n    privateKey: ${KEY_USER}\n    publicKey: UsrPub\n`);
    w.write(join(w.project, '.klaviyorc'), `profiles:\n  default:\n    privateKey: ${KEY_PROJECT}\n`);
    const explicit = w.write(join(w.root, 'ci.json'), JSON.stringify({ profiles: { default: { privateKeyEnv: 'CI_KEY' } } }));
    const p = await resolveProfile(w.req({ configPath: '../../../../../ci.json', env: { HOME: w.home, CI_KEY: KEY_ENV } }));
    expect(p.files).toEqual([explicit]);
    expect(p.privateKey.reveal()).toBe(KEY_ENV);
    expect(p.publicKey).toBeUndefined();
  });

  it('with --demo the emulator URL and keys override everything', async () => {
    w.write(w.userFile, 'profiles:\n  default:\n    privateKeyEnv: NOT_SET_ANYWHERE\n    revision: "2026-04-15"\n');
    const p = await resolveProfile(
      w.req({
        env: { HOME: w.home, KLAVIYO_PRIVATE_API_KEY: KEY_ENV, KLAVIYO_BASE_URL: 'https://a.klaviyo.com' },
        demo: { baseUrl: 'http://127.0.0.1:40000', privateKey: 'pk_demo_klv_emulator_0000000000', publicKey: 'KlvDmo' },
      }),
    );
    expect(p.privateKey.reveal()).toBe('pk_demo_klv_emulator_0000000000');
    expect(p.baseUrl).toBe('http://127.0.0.1:40000');
    expect(p.publicKey).toBe('KlvDmo');
    expect(p.revision).toBe('2026-04-15');
    expect(p.sources).toMatchObject({ privateKey: 'demo emulator', baseUrl: 'demo emulator', publicKey: 'demo emulator' });
  });
});

describe('finding the project file', () => {
  it('searches from the current folder up to the project root', async () => {
    const rc = w.write(join(w.project, '.klaviyorc'), `profiles:\n  default:\n    privateKey: ${KEY_PROJECT}\n`);
    const p = await resolveProfile(w.req());
    expect(p.files).toEqual([rc]);
  });

  it('reads the "klaviyo" key of package.json', async () => {
    const pkg = join(w.project, 'package.json');
    writeFileSync(pkg, JSON.stringify({ name: 'shop', klaviyo: { profiles: { default: { privateKeyEnv: 'SHOP_KEY' } } } }));
    const p = await resolveProfile(w.req({ env: { HOME: w.home, SHOP_KEY: KEY_ENV } }));
    expect(p.files).toEqual([pkg]);
    expect(p.sources.privateKey).toBe(`env SHOP_KEY, named by ${pkg} (profile default)`);
  });

  it('stops at the project root: a file above it is not read', async () => {
    w.write(join(w.home, 'work', '.klaviyorc.yaml'), `profiles:\n  default:\n    privateKey: ${KEY_PROJECT}\n`);
    const err = await configError(w.req());
    expect(err.message).toContain('No Private API Key');
  });

  it('stops at the home folder when there is no package.json', async () => {
    rmSync(join(w.project, 'package.json'));
    const inHome = w.write(join(w.home, '.klaviyorc.yml'), `profiles:\n  default:\n    privateKey: ${KEY_PROJECT}\n`);
    w.write(join(w.root, '.klaviyorc.yml'), `profiles:\n  default:\n    privateKey: ${KEY_USER}\n`);
    const p = await resolveProfile(w.req());
    expect(p.files).toEqual([inHome]);
    rmSync(inHome);
    const err = await configError(w.req());
    expect(err.message).toContain(`from ${w.cwd} up to ${w.home}`);
  });

  it('ignores a project file owned by another user', async () => {
    const rc = w.write(join(w.project, '.klaviyorc'), 'profiles:\n  default:\n    baseUrl: https://evil.example\n');
    let uid = (process.getuid?.() ?? 0) + 1;
    if (process.getuid?.() === 0) {
      // As root the file can really belong to someone else.
      chownSync(rc, 4242, 4242);
      uid = 0;
    }
    const d = await discoverConfigFiles({ cwd: w.cwd, env: { HOME: w.home }, homeDir: w.home, uid });
    expect(d.files).toEqual([]);
    expect(d.warnings.join('\n')).toContain(`Ignoring ${rc}: it belongs to another user`);
  });
});

describe('never executes config code', () => {
  const marker = () => join(w.root, 'EXECUTED');
  const payload = () => `require('node:fs').writeFileSync(${JSON.stringify(marker())}, 'x'); module.exports = { profiles: {} };\n`;

  it('does not run .klaviyorc.js (or klaviyo.config.mjs) and says it ignored them', async () => {
    w.write(join(w.cwd, '.klaviyorc.js'), payload());
    w.write(join(w.cwd, '.klaviyorc.cjs'), payload());
    w.write(join(w.cwd, 'klaviyo.config.mjs'), `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(marker())}, 'x');\n`);
    const p = await resolveProfile(w.req({ env: { HOME: w.home, KLAVIYO_PRIVATE_API_KEY: KEY_ENV } }));
    expect(existsSync(marker())).toBe(false);
    expect(p.files).toEqual([]);
    expect(p.warnings.join('\n')).toContain(`Ignoring ${join(w.cwd, '.klaviyorc.js')}: klv never executes config code`);
  });

  it("does not run cosmiconfig's meta config (.config/config.js) in the process's working folder", async () => {
    // cosmiconfig() would load this from process.cwd() before any search; klv must not.
    w.write(join(w.cwd, '.config', 'config.js'), payload());
    const before = process.cwd();
    process.chdir(w.cwd);
    try {
      await resolveProfile(w.req({ env: { HOME: w.home, KLAVIYO_PRIVATE_API_KEY: KEY_ENV } }));
    } finally {
      process.chdir(before);
    }
    expect(existsSync(marker())).toBe(false);
  });

  it('refuses --config file.js and an $import of a .js file', async () => {
    const js = w.write(join(w.root, 'klv.config.js'), payload());
    let err = await configError(w.req({ configPath: js }));
    expect(err.message).toContain('does not read JavaScript');
    expect(err.file).toBe(js);
    w.write(join(w.project, 'evil.js'), payload());
    w.write(join(w.project, '.klaviyorc.yaml'), '$import: ./evil.js\nprofiles: {}\n');
    err = await configError(w.req());
    expect(err.message).toContain('does not read JavaScript');
    expect(existsSync(marker())).toBe(false);
  });
});

describe('configuration errors: exit 2, the file named, the fix given, no key printed', () => {
  it('unknown profile lists the profiles that exist and where', async () => {
    w.write(w.userFile, `profiles:\n  default:\n    privateKey: ${KEY_USER}\n  prod:\n    privateKeyEnv: X\n`);
    const rc = w.write(join(w.project, '.klaviyorc.json'), JSON.stringify({ profiles: { shop: { privateKeyEnv: 'X' } } }));
    const err = await configError(w.req({ profile: 'staging' }));
    expect(err.message).toContain("Profile 'staging' (from flag --profile) does not exist");
    expect(err.message).toContain(`shop (${rc})`);
    expect(err.message).toContain(`default (${w.userFile})`);
    expect(err.message).toContain(`prod (${w.userFile})`);
    expect(err.hint).toContain('klv config init --profile staging');
    const fromEnv = await configError(w.req({ env: { HOME: w.home, KLAVIYO_PROFILE: 'nope' } }));
    expect(fromEnv.message).toContain('(from env KLAVIYO_PROFILE)');
    expect(fromEnv.hint).toContain('KLAVIYO_PROFILE');
  });

  it('invalid YAML: the line and column, without quoting the file', async () => {
    w.write(w.userFile, `profiles:\n  default:\n    privateKey: "${KEY_USER}\n`);
    const err = await configError(w.req());
    // The unterminated quote is noticed at the end of the file.
    expect(err.message).toMatch(/Invalid YAML at line 4, column 1: Missing closing "quote/);
    expect(err.file).toBe(w.userFile);
    expect(err.message).toContain(w.userFile);
  });

  it('invalid JSON: the line and column, without quoting the file', async () => {
    const rc = w.write(join(w.project, '.klaviyorc.json'), `{\n  "profiles": {\n    "default": { "privateKey": "${KEY_PROJECT}" x }\n  }\n}\n`);
    const err = await configError(w.req());
    expect(err.message).toMatch(/Invalid JSON at line 3, column \d+/);
    expect(err.file).toBe(rc);
  });

  it('a config that is not a mapping of profiles', async () => {
    w.write(w.userFile, '- a\n- b\n');
    expect((await configError(w.req())).message).toContain("must be a mapping with a 'profiles' key");
    w.write(w.userFile, `privateKey: ${KEY_USER}\n`);
    const err = await configError(w.req());
    expect(err.message).toContain("'privateKey' must be inside a profile");
    w.write(w.userFile, 'profiles:\n  default: yes please\n');
    expect((await configError(w.req())).message).toContain("Profile 'default' must be a mapping");
  });

  it('no key: every place looked at, and how to set one', async () => {
    w.write(w.userFile, 'profiles:\n  default:\n    privatekey: pk_whatever_0123456789\n  other: {}\n');
    const err = await configError(w.req());
    expect(err.message).toContain("No Private API Key found for profile 'default'");
    expect(err.message).toContain('--api-key-file: not given');
    expect(err.message).toContain('KLAVIYO_PRIVATE_API_KEY: not set');
    expect(err.message).toContain(`from ${w.cwd} up to ${w.project}: none found`);
    expect(err.message).toContain(`${w.userFile}: profile 'default' has no privateKey`);
    expect(err.message).toContain("'privatekey' is not a setting: did you mean 'privateKey'?");
    expect(err.message).not.toContain('pk_whatever');
    expect(err.hint).toContain('klv config init');
    expect(err.hint).toContain('KLAVIYO_PRIVATE_API_KEY');
  });

  it('no key and no files at all', async () => {
    const err = await configError(w.req());
    expect(err.message).toContain(`${w.userFile}: does not exist`);
  });

  it('a key of the wrong form, from each kind of place', async () => {
    let err = await configError(w.req({ env: { HOME: w.home, KLAVIYO_PRIVATE_API_KEY: 'sk_live_0123456789abcdef' } }));
    expect(err.message).toContain('KLAVIYO_PRIVATE_API_KEY');
    expect(err.message).toContain('must start with pk_');
    expect(err.message).not.toContain('sk_live_0123456789abcdef');

    w.write(w.userFile, 'profiles:\n  default:\n    privateKey: "pk_short"\n');
    err = await configError(w.req());
    expect(err.message).toContain("privateKey of profile 'default'");
    expect(err.message).toContain('too short');
    expect(err.file).toBe(w.userFile);

    w.write(w.userFile, 'profiles:\n  default:\n    privateKey: 12345678\n');
    expect((await configError(w.req())).message).toContain('must be a string');
  });

  it('a public key given as the private key gets its own message', async () => {
    const err = await configError(w.req({ env: { HOME: w.home, KLAVIYO_PRIVATE_API_KEY: 'AbC123' } }));
    expect(err.message).toContain('is a Public API Key (site id, 6 characters), not a Private API Key');
    expect(err.message).not.toContain('AbC123');
    expect(err.hint).toContain('publicKey');
  });

  it('a private key in the publicKey slot is refused without printing it', async () => {
    const err = await configError(
      w.req({ env: { HOME: w.home, KLAVIYO_PRIVATE_API_KEY: KEY_ENV, KLAVIYO_PUBLIC_API_KEY: KEY_FLAG } }),
    );
    expect(err.message).toContain('KLAVIYO_PUBLIC_API_KEY holds a Private API Key');
  });

  it('privateKeyEnv naming an unset variable', async () => {
    w.write(w.userFile, 'profiles:\n  default:\n    privateKeyEnv: KLV_TEST_UNSET_VAR\n');
    const err = await configError(w.req());
    expect(err.message).toContain('KLV_TEST_UNSET_VAR');
    expect(err.message).toContain('which is not set');
    expect(err.file).toBe(w.userFile);
    expect(err.hint).toContain('export KLV_TEST_UNSET_VAR=');
  });

  it('privateKeyEnv holding a key instead of a variable name', async () => {
    w.write(w.userFile, `profiles:\n  default:\n    privateKeyEnv: ${KEY_USER}\n`);
    const err = await configError(w.req());
    expect(err.message).toContain('holds a key (pk_user…6789), not the name of an environment variable');
  });

  it('an unreadable privateKeyFile, and one that works relative to the config file', async () => {
    w.write(w.userFile, 'profiles:\n  default:\n    privateKeyFile: ../missing-key\n');
    const err = await configError(w.req());
    expect(err.message).toContain(`Cannot read the key file ${join(w.home, '.config', 'missing-key')}`);
    expect(err.message).toContain('does not exist');
    expect(err.file).toBe(w.userFile);

    const keyPath = w.write(join(w.home, '.config', 'missing-key'), `  ${KEY_USER}\n`);
    const p = await resolveProfile(w.req());
    expect(p.privateKey.reveal()).toBe(KEY_USER);
    expect(p.sources.privateKey).toBe(`${keyPath}, named by ${w.userFile} (profile default)`);

    w.write(w.userFile, 'profiles:\n  default:\n    privateKeyFile: ~/.config/missing-key\n');
    expect((await resolveProfile(w.req())).privateKey.reveal()).toBe(KEY_USER);
  });

  it('two key sources in one profile', async () => {
    w.write(w.userFile, `profiles:\n  default:\n    privateKey: ${KEY_USER}\n    privateKeyEnv: X\n`);
    const err = await configError(w.req());
    expect(err.message).toContain('sets privateKey and privateKeyEnv');
  });

  it('bad revision formats', async () => {
    for (const rev of ['2026-7-15', '2026-02-30', 'latest', '15-07-2026']) {
      const err = await configError(w.req({ env: { HOME: w.home, KLAVIYO_PRIVATE_API_KEY: KEY_ENV, KLAVIYO_REVISION: rev } }));
      expect(err.message).toContain(`KLAVIYO_REVISION (${rev}) is not an API revision`);
      expect(err.hint).toContain('YYYY-MM-DD');
    }
    w.write(w.userFile, `profiles:\n  default:\n    privateKey: ${KEY_USER}\n    revision: 2026\n`);
    expect((await configError(w.req())).file).toBe(w.userFile);
    w.write(w.userFile, `profiles:\n  default:\n    privateKey: ${KEY_USER}\n    revision: "2026-07-15.pre"\n`);
    expect((await resolveProfile(w.req())).revision).toBe('2026-07-15.pre');
  });

  it('base URLs: https anywhere, http only on loopback, malformed refused', async () => {
    const env = (url: string) => ({ HOME: w.home, KLAVIYO_PRIVATE_API_KEY: KEY_ENV, KLAVIYO_BASE_URL: url });
    for (const ok of ['http://127.0.0.1:8787', 'http://localhost:1234/', 'http://[::1]:9', 'https://a.klaviyo.com/']) {
      const p = await resolveProfile(w.req({ env: env(ok) }));
      expect(p.baseUrl).toBe(ok.replace(/\/$/, ''));
    }
    let err = await configError(w.req({ env: env('http://a.klaviyo.com') }));
    expect(err.message).toContain('uses http:// on a host that is not loopback');
    expect(err.hint).toContain('https://');
    err = await configError(w.req({ env: env('a.klaviyo.com') }));
    expect(err.message).toContain('is not a valid URL');
    err = await configError(w.req({ env: env('ftp://a.klaviyo.com') }));
    expect(err.message).toContain('is not an http(s) URL');
    err = await configError(w.req({ env: env(`https://${KEY_FLAG}@a.klaviyo.com`) }));
    expect(err.message).toContain('must not contain a user name or password');
  });

  it('concurrency must be a positive whole number', async () => {
    for (const bad of ['0', '-1', '1.5', 'lots', 'true']) {
      w.write(w.userFile, `profiles:\n  default:\n    privateKey: ${KEY_USER}\n    concurrency: ${bad}\n`);
      const err = await configError(w.req());
      expect(err.message).toContain("concurrency of profile 'default' must be a positive whole number");
      expect(err.file).toBe(w.userFile);
    }
    w.write(w.userFile, `profiles:\n  default:\n    privateKey: ${KEY_USER}\n    concurrency: 8\n`);
    expect((await resolveProfile(w.req())).concurrency).toBe(8);
  });

  it('--config naming a file that does not exist', async () => {
    const err = await configError(w.req({ configPath: 'nope.yaml' }));
    expect(err.message).toContain(`does not exist: ${join(w.cwd, 'nope.yaml')}`);
  });
});

describe('--api-key-file', () => {
  it('- reads the key from standard input, trimmed', async () => {
    const p = await resolveProfile(w.req({ apiKeyFile: '-', stdin: Readable.from([`${KEY_FLAG}\n`]) }));
    expect(p.privateKey.reveal()).toBe(KEY_FLAG);
    expect(p.sources.privateKey).toBe('flag --api-key-file');
  });

  it('refuses a terminal as standard input', async () => {
    const stdin = Object.assign(Readable.from([]), { isTTY: true });
    const err = await configError(w.req({ apiKeyFile: '-', stdin }));
    expect(err.message).toContain('standard input is a terminal');
  });

  it('reads a path relative to the current folder, and reports a missing one', async () => {
    w.write(join(w.cwd, 'key.txt'), KEY_FLAG);
    expect((await resolveProfile(w.req({ apiKeyFile: 'key.txt' }))).privateKey.reveal()).toBe(KEY_FLAG);
    const err = await configError(w.req({ apiKeyFile: 'nokey.txt' }));
    expect(err.message).toContain(`--api-key-file ${join(w.cwd, 'nokey.txt')}`);
  });
});

describe('warnings', () => {
  it.skipIf(process.platform === 'win32')('a file holding a literal key that others can read', async () => {
    w.write(w.userFile, `profiles:\n  default:\n    privateKey: ${KEY_USER}\n`, 0o644);
    let p = await resolveProfile(w.req());
    expect(p.warnings).toEqual([
      `${w.userFile} holds a Private API Key (profile default) and can be read by other users (mode 644): run chmod 600 ${w.userFile}`,
    ]);
    chmodSync(w.userFile, 0o600);
    p = await resolveProfile(w.req());
    expect(p.warnings).toEqual([]);
    // No literal key, no warning, whatever the mode.
    w.write(w.userFile, 'profiles:\n  default:\n    privateKeyEnv: K\n', 0o644);
    p = await resolveProfile(w.req({ env: { HOME: w.home, K: KEY_ENV } }));
    expect(p.warnings).toEqual([]);
  });

  it('unknown keys are named, with the known ones and a suggestion', async () => {
    w.write(w.userFile, `profiles:\n  default:\n    privateKey: ${KEY_USER}\n    base_url: https://x.klaviyo.com\n    colour: red\nprofile: {}\n`);
    const p = await resolveProfile(w.req());
    const text = p.warnings.join('\n');
    expect(text).toContain("unknown setting 'base_url', which is ignored (did you mean 'baseUrl'?)");
    expect(text).toContain("unknown setting 'colour'");
    expect(text).toContain('Known settings: privateKey, privateKeyEnv, privateKeyFile, publicKey, revision, baseUrl, concurrency');
    expect(text).toContain("unknown top-level key 'profile'");
  });

  it('a project file sending the key to a host that is not Klaviyo', async () => {
    const rc = w.write(join(w.project, '.klaviyorc.yaml'), 'profiles:\n  default:\n    baseUrl: https://collector.example.com\n');
    const p = await resolveProfile(w.req({ env: { HOME: w.home, KLAVIYO_PRIVATE_API_KEY: KEY_ENV } }));
    expect(p.warnings.join('\n')).toContain(`${rc} sets baseUrl to https://collector.example.com, which is not Klaviyo`);
  });
});

describe('the resolved profile never shows the key', () => {
  it('in JSON, inspect and string forms', async () => {
    const p = await resolveProfile(w.req({ env: { HOME: w.home, KLAVIYO_PRIVATE_API_KEY: KEY_ENV } }));
    for (const text of [JSON.stringify(p), inspect(p, { depth: 5 }), String(p.privateKey)]) {
      expect(text).not.toContain(KEY_ENV);
      expect(text).not.toContain(KEY_ENV.slice(0, 12));
    }
    expect(JSON.stringify(p)).toContain('pk_env_…6789');
  });
});

describe('.klaviyorc.example', () => {
  it('is a valid project config with two profiles, no literal key, and no warnings', async () => {
    const example = readFileSync(join(REPO_ROOT, '.klaviyorc.example'), 'utf8');
    expect(example).not.toMatch(/privateKey:\s/);
    expect(example).not.toMatch(/pk_[A-Za-z0-9]/);
    const rc = w.write(join(w.project, '.klaviyorc.yaml'), example);
    const env = { HOME: w.home, KLAVIYO_STAGING_PRIVATE_API_KEY: KEY_PROJECT };
    const staging = await resolveProfile(w.req({ env, profile: 'staging' }));
    expect(staging.privateKey.reveal()).toBe(KEY_PROJECT);
    expect(staging.sources.privateKey).toBe(`env KLAVIYO_STAGING_PRIVATE_API_KEY, named by ${rc} (profile staging)`);
    expect(staging.warnings).toEqual([]);
    // Its default profile reads KLAVIYO_PRIVATE_API_KEY, which then comes straight from the environment.
    const def = await resolveProfile(w.req({ env: { HOME: w.home, KLAVIYO_PRIVATE_API_KEY: KEY_ENV } }));
    expect(def.publicKey).toBe('AbC123');
    expect(def.revision).toBe('2026-07-15');
    expect(def.warnings).toEqual([]);
  });
});
