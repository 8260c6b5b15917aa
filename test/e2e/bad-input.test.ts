/**
 * Issue 8, "Bad input": a corpus of bad inputs run through the built CLI against one spawned
 * `klv emulator`. Each case checks the exit code, a message on stderr naming the problem, and —
 * when the problem is found before the first request — that nothing reached the emulator.
 * The last part is a full disk for the logs, the output and the database, simulated: /dev/full,
 * and a small tmpfs that fills part-way when the tests run as root (skipped, saying why, if not).
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, openSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { cleanEnv, KLV_BIN, REPO_ROOT, runKlv } from '../helpers/cli.js';
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

/**
 * The request count once it has stopped moving. A run that failed with reads in flight (an
 * export's cursors, when its first write failed) exits before the emulator has handled requests
 * already on the wire: counted a moment later, they would be charged to the next case.
 */
async function settledTotal(): Promise<number> {
  let last = await total();
  let still = 0;
  const deadline = Date.now() + 5_000;
  while (still < 5 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    const now = await total();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return last;
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
      const before = await settledTotal();
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

// --- a full disk -------------------------------------------------------------------------------
// Two honest simulations. /dev/full (Linux) opens fine and fails every write with ENOSPC: a log,
// an output or a database that is full from the first byte. A small tmpfs filled to the page
// (root only: skipped with the reason otherwise) is a real file system that fills part-way: the
// logs are written until there is no room left, and then room is made again, as a person would.

const DEV_FULL = '/dev/full';
const hasDevFull = existsSync(DEV_FULL);
const devFullIntact = () => expect(statSync(DEV_FULL).isCharacterDevice()).toBe(true);

const devFullCases: Case[] = [
  {
    name: 'disk full: --success-log /dev/full',
    args: imp('profiles', 'p.csv', 'upsert', '--success-log', DEV_FULL),
    code: 2,
    stderr: /Cannot write the success log \/dev\/full: no space left on the device \(ENOSPC\): the disk is full\.\nhint: Free some space on that disk, or choose another file with --success-log PATH\. Nothing was sent\./,
    after: () => {
      for (const f of ['p.errors.csv', 'p.errors.csv.journal', 'p.success.csv']) expect(existsSync(join(work, f)), f).toBe(false);
      devFullIntact();
    },
  },
  {
    name: 'disk full: --error-log /dev/full (no empty success log left behind)',
    args: imp('profiles', 'p.csv', 'upsert', '--error-log', DEV_FULL),
    code: 2,
    stderr: /Cannot write the error log \/dev\/full: no space left on the device \(ENOSPC\): the disk is full\.\nhint: Free some space on that disk, or choose another file with --error-log PATH\. Nothing was sent\./,
    after: () => {
      expect(existsSync(join(work, 'p.success.csv'))).toBe(false);
      expect(existsSync(`${DEV_FULL}.journal`)).toBe(false);
      devFullIntact();
    },
  },
  {
    name: 'disk full: export -o /dev/full',
    args: () => ['export', 'profiles', '-o', DEV_FULL],
    code: 1,
    stderr: /Writing the export to \/dev\/full failed: no space left on the device \(ENOSPC\): the disk is full\nhint: .*free some space on it/,
    nothingSent: false, // the first page is read before the first write
    after: devFullIntact,
  },
  {
    name: 'disk full: replicate --to sqlite:/dev/full',
    args: () => ['replicate', 'lists', '--to', `sqlite:${DEV_FULL}`],
    code: 1,
    stderr: /Cannot open SQLite database \/dev\/full: the database or its disk is full \(SQLITE_FULL\)\nhint: Free some space on that disk \(or point --to at another disk\), then run the command again\./,
    after: devFullIntact,
  },
];

describe('bad input: a full disk (/dev/full)', () => {
  if (!hasDevFull) {
    // Skipped on purpose, saying why in its name: /dev/full is Linux's; elsewhere there is no
    // honest way to make every write fail with ENOSPC, and the tmpfs cases below cover Linux.
    it.skip('no /dev/full on this system: the /dev/full cases cannot run', () => {});
    return;
  }
  for (const c of devFullCases) {
    it(c.name, async () => {
      copyFileSync(join(FX, 'profiles-basic.csv'), join(work, 'p.csv'));
      const before = await settledTotal();
      const r = await runKlv(c.args(), { cwd: work, env: env() });
      expect(r.stderr, r.stderr).toMatch(c.stderr);
      expect(r.code, r.stderr).toBe(c.code);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
      expect(r.stdout + r.stderr).not.toContain(KEY.slice(0, 12));
      if (c.nothingSent !== false) expect(await total()).toBe(before);
      c.after?.();
    });
  }

  it('disk full: export to standard output redirected to /dev/full', async () => {
    // `klv export profiles > /dev/full`: standard output itself is the full disk, so runKlv's
    // pipe will not do; the child's fd 1 is /dev/full.
    const fd = openSync(DEV_FULL, 'w');
    try {
      const r = await new Promise<{ code: number | null; stderr: string }>((done, fail) => {
        const child = spawn(process.execPath, [KLV_BIN, 'export', 'profiles'], { cwd: work, env: env(), stdio: ['ignore', fd, 'pipe'] });
        let stderr = '';
        child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('error', fail);
        child.on('close', (code) => done({ code, stderr }));
      });
      expect(r.stderr).toMatch(/error: Cannot write to standard output: no space left on the device \(ENOSPC\): the disk is full\.\nhint: .*Free some space, or write to a file with -o FILE/);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
      expect(r.stderr).not.toContain(KEY.slice(0, 12));
    } finally {
      closeSync(fd);
    }
    devFullIntact();
  });
});

describe('bad input: a disk that fills (a 1 MB tmpfs)', () => {
  let mnt = '';
  let mounted = false;

  beforeAll(() => {
    mnt = join(root, 'full-fs');
    mkdirSync(mnt);
    let why = '';
    if (process.platform !== 'linux') why = 'tmpfs needs Linux';
    else {
      const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'klv-full-disk-test', mnt], { encoding: 'utf8' });
      if (r.error || r.status !== 0) why = `cannot mount a tmpfs (${(r.error?.message ?? r.stderr ?? '').trim() || `exit ${r.status}`}); it needs root`;
      else mounted = true;
    }
    if (!mounted) console.warn(`bad-input: skipping the tests on a file system that fills: ${why}`);
  });

  afterAll(() => {
    if (mounted && spawnSync('umount', [mnt]).status !== 0) spawnSync('umount', ['-l', mnt]);
  });

  /** Empties the tmpfs, then fills it so that exactly `pages` blocks are left (checked). */
  function leaveFree(pages: number): string {
    for (const f of readdirSync(mnt)) rmSync(join(mnt, f), { recursive: true, force: true });
    const s = statfsSync(mnt);
    writeFileSync(join(mnt, 'filler'), Buffer.alloc((s.bfree - pages) * s.bsize));
    expect(statfsSync(mnt).bfree, 'free blocks on the tmpfs').toBe(pages);
    return join(mnt, 'filler');
  }

  const keyFor = (scenario: string) => `pk_fulldisk_${scenario}_0123456789abcdef`;
  const runAs = (scenario: string, args: string[]) => runKlv(args, { cwd: work, env: env({ KLAVIYO_PRIVATE_API_KEY: keyFor(scenario) }) });
  const clean = (r: { stdout: string; stderr: string }, scenario: string) => {
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(r.stdout + r.stderr).not.toContain(keyFor(scenario).slice(0, 16));
  };

  async function account() {
    return (await (await fetch(`${url}/_emulator/state`)).json()) as { resources: Record<string, Array<{ id: string; attributes: Record<string, unknown> }>> };
  }

  /** The rows of a log as written, skipping a last line torn by the full disk. */
  function logRows(path: string): Array<Record<string, string>> {
    const text = readFileSync(path, 'utf8');
    const whole = text.slice(0, text.lastIndexOf('\n') + 1);
    return parse(whole, { columns: true }) as Array<Record<string, string>>;
  }

  /** Rows the journal says were sent (its `unsent` entries taken back). */
  function journaled(path: string): Set<number> {
    const sent = new Set<number>();
    for (const line of readFileSync(path, 'utf8').split('\n').slice(1)) {
      if (!line.endsWith('}')) continue;
      const e = JSON.parse(line) as { sent?: number[]; unsent?: number[] };
      for (const r of e.sent ?? []) sent.add(r);
      for (const r of e.unsent ?? []) sent.delete(r);
    }
    return sent;
  }

  const range = (count: number) => Array.from({ length: count }, (_, i) => i + 1);

  it('the success log fills mid-run (profiles, upsert): stops at once, exit 1, and --resume after freeing space imports every row exactly once', async (ctx) => {
    // Skipped on purpose when no tmpfs can be mounted (needs root); beforeAll printed why.
    if (!mounted) return ctx.skip();
    const ROWS = 120;
    const tag = `fd${Date.now().toString(36)}`;
    const email = (i: number) => `${tag}-${i}@example.com`;
    writeFileSync(join(work, 'big.csv'), csv('Email,FirstName', ...range(ROWS).map((i) => `${email(i)},Name${i}`)));
    const filler = leaveFree(1); // the header and about 60 rows
    const log = join(mnt, 's.csv');
    const args = ['import', 'profiles', 'big.csv', '--op', 'upsert', '--batch-size', '10', '--success-log', log];

    const r = await runAs('upsert', args);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`Cannot write the success log ${log}: no space left on the device (ENOSPC): the disk is full.`);
    expect(r.stderr).toMatch(/hint: The rows sent are in the journal .*\. Once there is room on the disk, run: klv import .*--resume \(it logs them/);
    clean(r, 'upsert');

    // Stopped at once: every row sent was journaled first, and at most the batches in flight
    // (4 of 10 rows) were sent after the last one logged.
    const journal = join(work, 'big.errors.csv.journal');
    const sent = journaled(journal);
    const logged = logRows(log).map((x) => Number(x.Row));
    const inAccount = new Set((await account()).resources.profile.map((p) => String(p.attributes.email)));
    const imported = range(ROWS).filter((i) => inAccount.has(email(i)));
    expect(logged.length).toBeGreaterThan(10);
    expect(sent.size).toBeLessThan(ROWS);
    for (const i of imported) expect(sent.has(i), `row ${i} reached Klaviyo without a journal entry`).toBe(true);
    for (const i of logged) expect(sent.has(i)).toBe(true);
    expect(sent.size - logged.length).toBeLessThanOrEqual(4 * 10);
    expect(sent.size - logged.length, 'rows sent but not logged: only the journal has them').toBeGreaterThan(0);

    rmSync(filler); // room again
    const again = await runAs('upsert', [...args, '--resume']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/were being sent when the run stopped: they are sent again/);
    clean(again, 'upsert');
    expect(logRows(log).map((x) => Number(x.Row)).sort((a, b) => a - b)).toEqual(range(ROWS));
    expect(logRows(join(work, 'big.errors.csv'))).toEqual([]);
    expect(existsSync(journal)).toBe(false);
    const after = (await account()).resources.profile.map((p) => String(p.attributes.email)).filter((e) => e.startsWith(`${tag}-`));
    expect(after.sort()).toEqual(range(ROWS).map(email).sort());
  }, 60_000);

  it('the success log fills mid-run (email templates, insert, not idempotent): no template created twice, the rows in doubt are unknown_outcome', async (ctx) => {
    // Skipped on purpose when no tmpfs can be mounted (needs root); beforeAll printed why.
    if (!mounted) return ctx.skip();
    const ROWS = 150;
    const tag = `fd${Date.now().toString(36)}`;
    const name = (i: number) => `${tag}-template-${i}`;
    writeFileSync(join(work, 't.csv'), csv('Name,Html', ...range(ROWS).map((i) => `${name(i)},<p>${i}</p>`)));
    const filler = leaveFree(1);
    const log = join(mnt, 'ts.csv');
    const args = ['import', 'email-templates', 't.csv', '--op', 'insert', '--success-log', log];

    const r = await runAs('insert', args);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`Cannot write the success log ${log}: no space left on the device (ENOSPC): the disk is full.`);
    expect(r.stderr).toMatch(/--resume/);
    clean(r, 'insert');
    const sent = journaled(join(work, 't.errors.csv.journal'));
    expect(sent.size).toBeLessThan(ROWS);

    rmSync(filler);
    const again = await runAs('insert', [...args, '--resume']);
    expect(again.code, again.stderr).toBe(3); // the rows in doubt are failures to check
    clean(again, 'insert');
    const success = logRows(log);
    const errors = logRows(join(work, 't.errors.csv'));
    expect([...success, ...errors].map((x) => Number(x.Row)).sort((a, b) => a - b), 'every row in exactly one log').toEqual(range(ROWS));
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e.ErrorCode).toBe('unknown_outcome');

    const created = (await account()).resources.template.map((t) => String(t.attributes.name)).filter((x) => x.startsWith(`${tag}-`));
    expect(created.length, 'no template created twice').toBe(new Set(created).size);
    expect(created.sort(), 'no row lost').toEqual(range(ROWS).map(name).sort());
    // unknown_outcome only for rows that were sent: never a false alarm for a row held back.
    for (const e of errors) expect(sent.has(Number(e.Row)), `row ${e.Row}`).toBe(true);
  }, 60_000);

  it('the import journal cannot be started on the full disk: exit 2, nothing sent, no journal left behind', async (ctx) => {
    // Skipped on purpose when no tmpfs can be mounted (needs root); beforeAll printed why.
    if (!mounted) return ctx.skip();
    copyFileSync(join(FX, 'profiles-basic.csv'), join(work, 'p.csv'));
    leaveFree(1); // the error log's header takes it
    const errorLog = join(mnt, 'e.csv');
    const before = await settledTotal();
    const r = await runAs('journal', ['import', 'profiles', 'p.csv', '--op', 'upsert', '--error-log', errorLog]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(
      `Cannot write the import journal ${errorLog}.journal: no space left on the device (ENOSPC): the disk is full.\nhint: It lives beside the error log: free some space on that disk, or choose another --error-log. Nothing was sent.`,
    );
    clean(r, 'journal');
    expect(await total()).toBe(before);
    expect(existsSync(`${errorLog}.journal`)).toBe(false);
  });

  it('export -o FILE on the full disk: exit 1, no FILE, and the message says where the .partial is', async (ctx) => {
    // Skipped on purpose when no tmpfs can be mounted (needs root); beforeAll printed why.
    if (!mounted) return ctx.skip();
    leaveFree(1);
    const out = join(mnt, 'out.csv');
    const r = await runAs('export', ['export', 'profiles', '-o', out]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`Writing the export to ${out} failed: no space left on the device (ENOSPC): the disk is full`);
    expect(r.stderr).toContain(`What was written is in ${out}.partial; ${out} was not changed.`);
    clean(r, 'export');
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.partial`)).toBe(true);
  });

  it('replicate into a SQLite file on a disk that fills: exit 1, the disk named as the cause, the fix in the hint', async (ctx) => {
    // Skipped on purpose when no tmpfs can be mounted (needs root); beforeAll printed why.
    if (!mounted) return ctx.skip();
    leaveFree(40); // room for the tables and the lists, not for the profiles
    const r = await runAs('replicate', ['replicate', 'lists', 'profiles', '--to', `sqlite:${join(mnt, 'k.db')}`]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/Replication failed for Profiles: database or disk is full\nhint: .*The disk is full: free some space on it/);
    clean(r, 'replicate');
  });
});
