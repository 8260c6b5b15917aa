/**
 * `klv config show` and `klv config init` as a user runs them: the built CLI in a child process
 * with a throwaway HOME, XDG_CONFIG_HOME and working folder, and a clean environment.
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';

const KEY = 'pk_e2e_config_0123456789abcdef0123';
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

interface Sandbox {
  home: string;
  xdg: string;
  cwd: string;
  userFile: string;
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  klv(args: string[], o?: { env?: NodeJS.ProcessEnv; input?: string }): Promise<RunResult>;
  write(path: string, text: string, mode?: number): string;
}

let s: Sandbox;
beforeEach(() => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-config-')));
  roots.push(root);
  const home = join(root, 'home');
  const xdg = join(root, 'xdg');
  const cwd = join(home, 'project');
  mkdirSync(cwd, { recursive: true });
  // A project root, so the search stops here whatever lies above the temp folder.
  writeFileSync(join(cwd, 'package.json'), '{"name":"p"}');
  const env = (extra: NodeJS.ProcessEnv = {}) => cleanEnv({ HOME: home, XDG_CONFIG_HOME: xdg, ...extra });
  s = {
    home,
    xdg,
    cwd,
    userFile: join(xdg, 'klv', 'config.yaml'),
    env,
    klv: (args, o = {}) => runKlv(args, { cwd, env: o.env ?? env(), input: o.input }),
    write: (path, text, mode = 0o600) => {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      chmodSync(path, mode);
      return path;
    },
  };
});

function expectNoKey(r: RunResult, key = KEY): void {
  for (const text of [r.stdout, r.stderr]) {
    expect(text).not.toContain(key);
    expect(text).not.toContain(key.slice(0, 12));
  }
}

describe('klv config show', () => {
  it('prints each value with its source, the key redacted', async () => {
    const r = await s.klv(['config', 'show'], { env: s.env({ KLAVIYO_PRIVATE_API_KEY: KEY, KLAVIYO_PUBLIC_API_KEY: 'AbC123' }) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^privateKey\s+pk_e2e_…0123\s+env KLAVIYO_PRIVATE_API_KEY$/m);
    expect(r.stdout).toMatch(/^publicKey\s+AbC123\s+env KLAVIYO_PUBLIC_API_KEY$/m);
    expect(r.stdout).toMatch(/^baseUrl\s+https:\/\/a\.klaviyo\.com\s+default$/m);
    expect(r.stdout).toMatch(/^revision\s+\d{4}-\d{2}-\d{2}\s+default$/m);
    expect(r.stdout).toContain('Files read: none');
    expectNoKey(r);
  });

  it('--json prints JSON to stdout', async () => {
    s.write(s.userFile, `profiles:\n  default:\n    privateKeyFile: ../key\n    concurrency: 2\n`);
    s.write(join(s.xdg, 'key'), `${KEY}\n`);
    const r = await s.klv(['config', 'show', '--json']);
    expect(r.code).toBe(0);
    const shown = JSON.parse(r.stdout);
    expect(shown.name).toBe('default');
    expect(shown.values.privateKey).toEqual({
      value: 'pk_e2e_…0123',
      source: `${join(s.xdg, 'key')}, named by ${s.userFile} (profile default)`,
    });
    expect(shown.values.concurrency).toEqual({ value: 2, source: `${s.userFile} (profile default)` });
    expect(shown.files).toEqual([s.userFile]);
    expectNoKey(r);
  });

  it('reads the key from standard input with --api-key-file -', async () => {
    const r = await s.klv(['config', 'show', '--json', '--api-key-file', '-'], { input: `${KEY}\n` });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).values.privateKey.source).toBe('flag --api-key-file');
    expectNoKey(r);
  });

  it('warns about a key file others can read, on stderr', async () => {
    s.write(s.userFile, `profiles:\n  default:\n    privateKey: ${KEY}\n`, 0o644);
    const r = await s.klv(['config', 'show']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: ${s.userFile} holds a Private API Key (profile default) and can be read by other users`);
    expect(r.stderr).toContain(`chmod 600 ${s.userFile}`);
    expectNoKey(r);
  });

  it('never executes config code found in the working folder', async () => {
    const marker = join(s.home, 'EXECUTED');
    const payload = `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x');\nmodule.exports = {};\n`;
    s.write(join(s.cwd, '.klaviyorc.js'), payload);
    s.write(join(s.cwd, '.klaviyorc.cjs'), payload);
    s.write(join(s.cwd, '.config', 'config.js'), payload);
    s.write(join(s.cwd, '.config', 'config.cjs'), payload);
    const r = await s.klv(['config', 'show'], { env: s.env({ KLAVIYO_PRIVATE_API_KEY: KEY }) });
    expect(r.code).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect(r.stderr).toContain(`Ignoring ${join(s.cwd, '.klaviyorc.js')}: klv never executes config code`);
  });
});

describe('klv config init', () => {
  it('non-interactive with flags: writes a 0600 file that config show then reads', async () => {
    const init = await s.klv(['config', 'init', '--private-key-env', 'MY_KLAVIYO_KEY', '--public-key', 'AbC123']);
    expect(init.code).toBe(0);
    expect(init.stdout).toBe('');
    expect(init.stderr).toContain(`Wrote profile 'default' in ${s.userFile} (mode 0600).`);
    expect(statSync(s.userFile).mode & 0o777).toBe(0o600);
    expect(parse(readFileSync(s.userFile, 'utf8'))).toEqual({
      profiles: { default: { privateKeyEnv: 'MY_KLAVIYO_KEY', publicKey: 'AbC123' } },
    });

    const staging = await s.klv(['--profile', 'staging', 'config', 'init', '--private-key-stdin'], { input: `${KEY}\n` });
    expect(staging.code).toBe(0);
    expectNoKey(staging);
    expect(Object.keys(parse(readFileSync(s.userFile, 'utf8')).profiles)).toEqual(['default', 'staging']);

    const again = await s.klv(['config', 'init', '--private-key-env', 'OTHER']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`Profile 'default' already exists in ${s.userFile}`);
    expect(again.stderr).toContain('--force');

    const show = await s.klv(['config', 'show'], { env: s.env({ MY_KLAVIYO_KEY: KEY }) });
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`env MY_KLAVIYO_KEY, named by ${s.userFile} (profile default)`);
    expectNoKey(show);
  });

  it('chmods an existing readable file to 0600 when it rewrites it', async () => {
    s.write(s.userFile, '# mine\nprofiles: {}\n', 0o644);
    const r = await s.klv(['config', 'init', '--private-key-env', 'K']);
    expect(r.code).toBe(0);
    expect(statSync(s.userFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(s.userFile, 'utf8')).toContain('# mine');
  });

  it('without a key source and without a terminal: usage error listing the flags', async () => {
    const r = await s.klv(['config', 'init']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--private-key-env');
    expect(r.stderr).toContain('--private-key-file');
    expect(r.stderr).toContain('--private-key-stdin');
    expect(existsSync(s.userFile)).toBe(false);
  });
});

describe('bad configuration: exit 2 before any request, the file named', () => {
  it('invalid YAML', async () => {
    s.write(s.userFile, `profiles:\n  default:\n    privateKey: "${KEY}\n`);
    const r = await s.klv(['config', 'show']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Invalid YAML at line');
    expect(r.stderr).toContain(s.userFile);
    expectNoKey(r);
  });

  it('unknown profile, listing the ones that exist', async () => {
    s.write(s.userFile, 'profiles:\n  default:\n    privateKeyEnv: K\n  prod:\n    privateKeyEnv: P\n');
    const r = await s.klv(['config', 'show'], { env: s.env({ KLAVIYO_PROFILE: 'stagin' }) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Profile 'stagin' (from env KLAVIYO_PROFILE) does not exist");
    expect(r.stderr).toContain(`prod (${s.userFile})`);
  });

  it('plain http to a host that is not loopback, from a project file', async () => {
    const rc = s.write(join(s.cwd, '.klaviyorc.yaml'), 'profiles:\n  default:\n    baseUrl: http://a.klaviyo.com\n');
    const r = await s.klv(['config', 'show'], { env: s.env({ KLAVIYO_PRIVATE_API_KEY: KEY }) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("baseUrl of profile 'default' (http://a.klaviyo.com) uses http:// on a host that is not loopback");
    expect(r.stderr).toContain(rc);
    expectNoKey(r);
  });

  it('a key of the wrong form is named by where it came from, never printed', async () => {
    const wrong = 'sk_live_0123456789abcdef0123';
    const r = await s.klv(['config', 'show'], { env: s.env({ KLAVIYO_PRIVATE_API_KEY: wrong }) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('KLAVIYO_PRIVATE_API_KEY');
    expect(r.stderr).toContain('must start with pk_');
    expectNoKey(r, wrong);
  });

  it('no key anywhere: where klv looked and how to set one', async () => {
    const r = await s.klv(['doctor']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("No Private API Key found for profile 'default'");
    expect(r.stderr).toContain(`${s.userFile}: does not exist`);
    expect(r.stderr).toContain('klv config init');
  });
});
