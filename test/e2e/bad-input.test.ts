/**
 * Issue 8, "Bad input": a corpus of bad inputs run through the built CLI against one spawned
 * `klv emulator`. Each case checks the exit code, a message on stderr naming the problem, and —
 * when the problem is found before the first request — that nothing reached the emulator.
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, REPO_ROOT, runKlv } from '../helpers/cli.js';
import { spawnEmulator, type EmulatorProcess } from '../helpers/emulator.js';

const KEY = 'pk_badinput_0123456789abcdef0123';
const FX = join(REPO_ROOT, 'fixtures/import');

let emu: EmulatorProcess;
let url: string;
let root: string;
let work: string;
let n = 0;

beforeAll(async () => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-bad-')));
  emu = spawnEmulator(['--port', '0', '--rate-limits', 'off'], cleanEnv({ HOME: root }));
  url = await emu.url;
}, 30_000);

afterAll(async () => {
  await emu?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

beforeEach(async () => {
  work = join(root, `w${++n}`);
  mkdirSync(work);
  await fetch(`${url}/_emulator/requests`, { method: 'DELETE' });
});

async function total(): Promise<number> {
  return ((await (await fetch(`${url}/_emulator/requests`)).json()) as { total: number }).total;
}

interface Case {
  name: string;
  args: () => string[];
  /** Files written in the case's working folder first (string or bytes). */
  files?: Record<string, string | Buffer>;
  env?: () => NodeJS.ProcessEnv;
  setup?: () => void;
  code: number;
  stderr: RegExp;
  /** false when the problem can only be found after a request (e.g. an unreachable server). */
  nothingSent?: boolean;
  after?: () => void;
}

const env = (extra: NodeJS.ProcessEnv = {}) => cleanEnv({ HOME: work, XDG_CONFIG_HOME: join(work, 'xdg'), KLAVIYO_BASE_URL: url, KLAVIYO_PRIVATE_API_KEY: KEY, ...extra });
const csv = (...lines: string[]) => lines.join('\n') + '\n';
const imp = (obj: string, file: string, op = 'upsert', ...more: string[]) => () => ['import', obj, file, '--op', op, ...more];

const cases: Case[] = [
  // --- malformed CSV: found before anything is sent ---
  { name: 'CSV: UTF-16 file', args: imp('profiles', join(FX, 'utf16.csv')), code: 2, stderr: /is UTF-16, not UTF-8/ },
  { name: 'CSV: empty file', args: imp('profiles', join(FX, 'empty.csv')), code: 2, stderr: /is empty: there is no header line/ },
  { name: 'CSV: duplicate headers', args: imp('profiles', join(FX, 'duplicate-headers.csv')), code: 2, stderr: /the header repeats 'Email'/ },
  { name: 'CSV: empty header names', args: imp('profiles', join(FX, 'empty-header.csv')), code: 2, stderr: /empty column names/ },
  { name: 'CSV: unclosed quote on the first row', files: { 'a.csv': csv('Email,FirstName', 'ann@example.com,"Ann', 'bob@example.com,Bob') }, args: imp('profiles', 'a.csv'), code: 2, stderr: /quote/i },
  { name: 'CSV: row with too many cells', files: { 'a.csv': csv('Email,FirstName', 'ann@example.com,Ann,extra,more') }, args: imp('profiles', 'a.csv'), code: 2, stderr: /line 2/ },
  { name: 'CSV: row with too few cells', files: { 'a.csv': csv('Email,FirstName,LastName', 'ann@example.com') }, args: imp('profiles', 'a.csv'), code: 2, stderr: /line 2/ },
  { name: 'CSV: invalid UTF-8 on the first row', files: { 'a.csv': Buffer.concat([Buffer.from('Email,FirstName\nann@example.com,'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('\n')]) }, args: imp('profiles', 'a.csv'), code: 2, stderr: /UTF-8/ },
  { name: 'CSV: invalid UTF-8 in the header', files: { 'a.csv': Buffer.concat([Buffer.from('Email,Fi'), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from('\nann@example.com,Ann\n')]) }, args: imp('profiles', 'a.csv'), code: 2, stderr: /UTF-8/ },
  { name: 'CSV: stray quote inside a cell on the first row', files: { 'a.csv': csv('Email,FirstName', 'ann@example.com,An"n', 'bob@example.com,Bob') }, args: imp('profiles', 'a.csv'), code: 2, stderr: /quote/i },
  { name: 'CSV: huge line (200,000 cells)', files: { 'a.csv': 'Email,FirstName\nann@example.com,' + Array(200_000).fill('x').join(',') + '\n' }, args: imp('profiles', 'a.csv'), code: 2, stderr: /a\.csv/ },
  { name: 'CSV: missing file', args: imp('profiles', 'nofile.csv'), code: 2, stderr: /Cannot read nofile\.csv: no such file/ },
  { name: 'CSV: a folder instead of a file', setup: () => mkdirSync(join(work, 'dir.csv')), args: imp('profiles', 'dir.csv'), code: 2, stderr: /dir\.csv/ },
  { name: 'CSV: no column identifies the profile', files: { 'a.csv': csv('FirstName', 'Ann') }, args: imp('profiles', 'a.csv'), code: 2, stderr: /Email|PhoneNumber|ExternalId/ },
  { name: 'CSV: required column missing (lists need Name)', files: { 'a.csv': csv('OptInProcess', 'single_opt_in') }, args: imp('lists', 'a.csv', 'insert'), code: 2, stderr: /Name/ },
  { name: 'CSV: unknown header with --strict', files: { 'a.csv': csv('Email,Shoe Size', 'ann@example.com,42') }, args: imp('profiles', 'a.csv', 'upsert', '--strict'), code: 2, stderr: /Shoe Size/ },

  // --- wrong types, one per column type: the row is rejected, nothing sent, exit 3 ---
  { name: 'type email: not an email', files: { 'a.csv': csv('Email,FirstName', 'not-an-email,Ann') }, args: imp('profiles', 'a.csv'), code: 3, stderr: /1 failed/ },
  { name: 'type phone: not E.164', files: { 'a.csv': csv('Email,PhoneNumber', 'ann@example.com,555-abc') }, args: imp('profiles', 'a.csv'), code: 3, stderr: /1 failed/ },
  { name: 'type number: not a number', files: { 'a.csv': csv('Email,Latitude', 'ann@example.com,north') }, args: imp('profiles', 'a.csv'), code: 3, stderr: /1 failed/ },
  { name: 'type json: not JSON', files: { 'a.csv': csv('Email,Properties', 'ann@example.com,{oops') }, args: imp('profiles', 'a.csv'), code: 3, stderr: /1 failed/ },
  { name: 'type datetime: not a date', files: { 'a.csv': csv('MetricName,Email,Datetime', 'Placed Order,ann@example.com,yesterday') }, args: imp('events', 'a.csv', 'insert'), code: 3, stderr: /1 failed/ },
  { name: 'type enum: not one of the values', files: { 'a.csv': csv('Name,Channel', 'C,pigeon') }, args: imp('campaigns', 'a.csv', 'insert'), code: 3, stderr: /1 failed/ },
  { name: 'huge cell (5 MB)', files: { 'a.csv': 'Email,FirstName\nann@example.com,' + 'x'.repeat(5 * 1024 * 1024) + '\n' }, args: imp('profiles', 'a.csv'), code: 3, stderr: /1 failed/ },
  { name: 'type integer in --where', args: () => ['export', 'lists', '--where', 'ProfileCount > abc'], code: 2, stderr: /'abc' is not a whole number/ },
  { name: 'type boolean in --where', args: () => ['export', 'campaigns', '--where', 'Archived = maybe'], code: 2, stderr: /'maybe' is not true or false/ },
  { name: 'type datetime in --where', args: () => ['export', 'profiles', '--where', 'Created > notadate'], code: 2, stderr: /'notadate' is not a date/ },

  // --- unknown objects, columns, operations ---
  { name: 'unknown object for import', args: imp('widgets', 'p.csv'), code: 2, stderr: /Unknown object 'widgets'/ },
  { name: 'unknown object for export', args: () => ['export', 'widgets'], code: 2, stderr: /Unknown object 'widgets'/ },
  { name: 'unknown column in --columns', args: () => ['export', 'profiles', '--columns', 'Email,Nope'], code: 2, stderr: /no column 'Nope'/ },
  { name: 'unknown column in --where', args: () => ['export', 'profiles', '--where', 'Nope = 1'], code: 2, stderr: /no column 'Nope'/ },
  { name: 'incomplete --where', args: () => ['export', 'profiles', '--where', 'Email ='], code: 2, stderr: /a value is missing/ },
  { name: 'unknown column in --map', args: imp('profiles', 'p.csv', 'upsert', '--map', 'email=Nope'), code: 2, stderr: /--map 'email=Nope': Profiles has no column 'Nope'/ },
  { name: 'unknown operation', args: imp('profiles', 'p.csv', 'frobnicate'), code: 2, stderr: /'frobnicate' is not an operation/ },
  { name: 'operation the object does not support', args: imp('profiles', 'p.csv', 'delete'), code: 2, stderr: /Profiles does not support --op delete/ },
  { name: 'unknown column in --set', args: imp('profiles', 'p.csv', 'upsert', '--set', 'Nope=1'), code: 2, stderr: /Nope/ },
  { name: 'unknown command', args: () => ['frobnicate'], code: 2, stderr: /frobnicate/ },

  // --- invalid SQL ---
  { name: 'SQL syntax error', args: () => ['query', 'SELEC * FROM profiles'], code: 2, stderr: /SQL syntax error at line 1/ },
  { name: 'SQL unknown table', args: () => ['query', 'SELECT * FROM widgets'], code: 2, stderr: /Unknown object 'widgets' in the query/ },
  { name: 'SQL unknown column', args: () => ['query', 'SELECT Nope FROM profiles'], code: 2, stderr: /Unknown column 'Nope'/ },

  // --- broken and hostile config files ---
  { name: 'config: invalid YAML', files: { 'bad.yaml': 'profiles: [unclosed\n  x: :\n' }, args: () => ['export', 'lists', '--config', 'bad.yaml'], code: 2, stderr: /Invalid YAML at line 1/ },
  { name: 'config: unknown profile', files: { 'ok.yaml': 'profiles:\n  default:\n    privateKeyEnv: KLAVIYO_PRIVATE_API_KEY\n' }, args: () => ['export', 'lists', '--config', 'ok.yaml', '--profile', 'nope'], code: 2, stderr: /Profile 'nope' \(from flag --profile\) does not exist/ },
  { name: 'config: --config file that does not exist', args: () => ['export', 'lists', '--config', 'missing.yaml'], code: 2, stderr: /missing\.yaml/ },
  {
    name: 'config: a .klaviyorc.js is never run (warning, the run goes on)',
    files: { 'package.json': '{"name":"x"}', '.klaviyorc.js': 'require("fs").writeFileSync("PWNED", "x"); module.exports = {};\n' },
    args: () => ['export', 'lists'],
    code: 0,
    stderr: /Ignoring .*\.klaviyorc\.js: klv never executes config code/,
    nothingSent: false,
    after: () => expect(existsSync(join(work, 'PWNED'))).toBe(false),
  },
  {
    name: 'config: literal key in a world-readable file (warning)',
    files: { 'package.json': '{"name":"x"}' },
    setup: () => {
      writeFileSync(join(work, '.klaviyorc.yaml'), `profiles:\n  default:\n    privateKey: ${KEY}\n    baseUrl: ${url}\n`);
      chmodSync(join(work, '.klaviyorc.yaml'), 0o644);
    },
    env: () => cleanEnv({ HOME: work, XDG_CONFIG_HOME: join(work, 'xdg') }),
    args: () => ['export', 'lists'],
    code: 0,
    stderr: /holds a Private API Key .* can be read by other users \(mode 644\): run chmod 600/,
    nothingSent: false,
  },
  { name: 'config: --api-key-file that does not exist', args: () => ['export', 'lists', '--api-key-file', 'missing.key'], code: 2, stderr: /Cannot read --api-key-file .*missing\.key: it does not exist/ },

  // --- keys of the wrong form ---
  { name: 'key: not pk_', env: () => env({ KLAVIYO_PRIVATE_API_KEY: 'sk_wrong_0123456789abcdef' }), args: () => ['export', 'lists'], code: 2, stderr: /is not a Klaviyo Private API Key: it must start with pk_/ },
  { name: 'key: too short', env: () => env({ KLAVIYO_PRIVATE_API_KEY: 'pk_' }), args: () => ['export', 'lists'], code: 2, stderr: /too short or has characters/ },
  { name: 'key: contains a space', env: () => env({ KLAVIYO_PRIVATE_API_KEY: 'pk_has space 0123456789' }), args: () => ['export', 'lists'], code: 2, stderr: /contains spaces or several lines/ },
  { name: 'key: contains a line break', env: () => env({ KLAVIYO_PRIVATE_API_KEY: 'pk_0123456789abcdef\npk_0123456789abcdef' }), args: () => ['export', 'lists'], code: 2, stderr: /contains spaces or several lines/ },

  // --- base URLs ---
  { name: 'base URL: unreachable https://127.0.0.1:1', env: () => env({ KLAVIYO_BASE_URL: 'https://127.0.0.1:1' }), args: () => ['export', 'lists'], code: 1, stderr: /could not reach Klaviyo at https:\/\/127\.0\.0\.1:1/ },
  { name: 'base URL: http:// on a non-loopback host', env: () => env({ KLAVIYO_BASE_URL: 'http://example.com' }), args: () => ['export', 'lists'], code: 2, stderr: /uses http:\/\/ on a host that is not loopback/ },
  { name: 'base URL: not a URL', env: () => env({ KLAVIYO_BASE_URL: 'not-a-url' }), args: () => ['export', 'lists'], code: 2, stderr: /is not a valid URL/ },

  // --- unwritable logs and other flags ---
  { name: 'log: error log in a folder that does not exist', args: imp('profiles', 'p.csv', 'upsert', '--error-log', '/nonexistent-klv/dir/e.csv'), code: 2, stderr: /Cannot write the error log .*: its folder does not exist/, after: () => expect(existsSync(join(work, 'p.success.csv'))).toBe(false) },
  { name: 'log: success log in a folder that does not exist', args: imp('profiles', 'p.csv', 'upsert', '--success-log', 'nope/s.csv'), code: 2, stderr: /success log/ },
  { name: 'log: success log under a regular file', files: { 'plain.txt': 'x' }, args: imp('profiles', 'p.csv', 'upsert', '--success-log', 'plain.txt/s.csv'), code: 2, stderr: /plain\.txt/ },
  { name: 'flag: --batch-size 0', args: imp('profiles', 'p.csv', 'upsert', '--batch-size', '0'), code: 2, stderr: /--batch-size '0' is not a whole number of rows above zero/ },
];

describe('bad input', () => {
  for (const c of cases) {
    it(c.name, async () => {
      for (const [name, content] of Object.entries(c.files ?? {})) writeFileSync(join(work, name), content);
      // A copy, so that logs written beside the input never land in fixtures/.
      copyFileSync(join(FX, 'profiles-basic.csv'), join(work, 'p.csv'));
      c.setup?.();
      const before = await total();
      const e = c.env?.() ?? env();
      const r = await runKlv(c.args(), { cwd: work, env: e });
      expect(r.stderr, r.stderr).toMatch(c.stderr);
      expect(r.code, r.stderr).toBe(c.code);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
      expect(r.stdout + r.stderr).not.toContain(KEY.slice(0, 12));
      if (c.nothingSent !== false) expect(await total()).toBe(before);
      c.after?.();
    });
  }
});
