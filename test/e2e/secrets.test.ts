/**
 * Issue 8, "Secrets": every command of klv runs with a recognisable private key (given by env
 * KLAVIYO_PRIVATE_API_KEY, by a config file, by --api-key-file) against `klv emulator` as a
 * separate process, and the test fails if that key — or more than its first 8 characters — shows
 * up in any stdout, stderr, any file written in the test's directory (logs, journals, CSV/JSON
 * outputs, the SQLite database's bytes) or the emulator's exchange recording (KLV_EMULATOR_RECORD).
 * The scanner is checked first on planted strings, so a scanner that finds nothing fails the test.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { spawnEmulator, type EmulatorProcess } from '../helpers/emulator.js';
import { adminQuery, describeDb, dropTestSchema, pgUrl, uniqueName } from '../helpers/databases.js';

const KEY = 'pk_SeCrEtCaNaRy_0123456789abcdefXYZ';
const WRONG_KEY = 'pk_WrOnGcAnArY_9876543210fedcbaQRS';
/** The first 8 characters may be shown (a masked prefix); any 9 consecutive characters of a key may not. */
const ALLOWED_PREFIX = 8;

/**
 * Every run of ALLOWED_PREFIX + 1 consecutive characters of `secret`: finding any of them means
 * more than the 8-character prefix was shown (the whole key, its first 9, or a long tail).
 */
function leakFragments(secret: string): string[] {
  const frags: string[] = [];
  for (let i = 0; i + ALLOWED_PREFIX + 1 <= secret.length; i++) frags.push(secret.slice(i, i + ALLOWED_PREFIX + 1));
  return frags;
}

/** Where `secret` (or a 9-character piece of it) occurs in `text`, as "label: fragment" lines. */
function findLeaks(label: string, text: string, secrets: readonly string[] = [KEY, WRONG_KEY]): string[] {
  const found: string[] = [];
  for (const s of secrets) {
    const frag = leakFragments(s).find((f) => text.includes(f));
    if (frag) {
      const at = text.indexOf(frag);
      found.push(`${label}: contains '${frag}' near ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 60))}`);
    }
  }
  return found;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

let root: string; // HOME and cwd of every run; everything klv writes lands here
let work: string;
let recordFile: string;
let keyFile: string;
let emulator: EmulatorProcess;
let url: string;
const runs: Array<{ args: string[]; r: RunResult }> = [];

function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return cleanEnv({ HOME: root, XDG_CONFIG_HOME: join(root, '.config'), KLAVIYO_BASE_URL: url, ...extra });
}

async function klv(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<RunResult> {
  const r = await runKlv(args, { env, cwd: work, input });
  runs.push({ args, r });
  return r;
}

/** Every output seen so far, plus every file in the directory, plus the recording. */
function scanEverything(): string[] {
  const leaks: string[] = [];
  for (const { args, r } of runs) {
    leaks.push(...findLeaks(`stdout of klv ${args.join(' ')}`, r.stdout));
    leaks.push(...findLeaks(`stderr of klv ${args.join(' ')}`, r.stderr));
  }
  for (const f of filesUnder(root)) {
    // The key file and the config written by --private-key-stdin hold the key on purpose.
    if (f === keyFile || f.startsWith(join(root, '.config'))) continue;
    leaks.push(...findLeaks(`file ${f}`, readFileSync(f).toString('latin1')));
  }
  return leaks;
}

beforeAll(async () => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-secrets-')));
  work = root;
  recordFile = join(root, 'emulator-record.ndjson');
  keyFile = join(root, 'key.txt');
  writeFileSync(keyFile, `${KEY}\n`);
  chmodSync(keyFile, 0o600);
  emulator = spawnEmulator(['--port', '0', '--rate-limits', 'off', '--profiles', '60', '--key', KEY], cleanEnv({ KLV_EMULATOR_RECORD: recordFile, HOME: root }));
  url = await emulator.url;
});

afterAll(async () => {
  await emulator?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('the key never leaks', () => {
  it('the scanner finds the key, its tail and a 9-character piece, and lets the 8-character prefix pass', () => {
    expect(findLeaks('planted', `Authorization: Klaviyo-API-Key ${KEY}`)).toHaveLength(1);
    expect(findLeaks('planted', `key …${KEY.slice(-9)}`)).toHaveLength(1);
    expect(findLeaks('planted', `x${KEY.slice(10, 19)}x`)).toHaveLength(1);
    expect(findLeaks('planted', `privateKey ${KEY.slice(0, 8)}…XYZ`)).toEqual([]);
    expect(findLeaks('planted', 'nothing here')).toEqual([]);
    // And in binary bytes read as latin1, as the SQLite file is.
    expect(findLeaks('planted', Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(KEY), Buffer.from([0])]).toString('latin1'))).toHaveLength(1);
  });

  it('runs every command with the key from env, a config file and --api-key-file', async () => {
    const envKey = baseEnv({ KLAVIYO_PRIVATE_API_KEY: KEY });
    const noKey = baseEnv();
    const fileArgs = ['--api-key-file', keyFile];

    // doctor and config show, three ways of giving the key; --verbose and KLV_DEBUG=http too.
    expect((await klv(['doctor'], envKey)).code).toBe(0);
    expect((await klv([...fileArgs, 'doctor'], noKey)).code).toBe(0);
    expect((await klv(['--verbose', 'doctor'], envKey)).code).toBe(0);
    expect((await klv(['doctor'], { ...envKey, KLV_DEBUG: 'http' })).code).toBe(0);
    expect((await klv(['config', 'show'], envKey)).code).toBe(0);
    expect((await klv(['--verbose', 'config', 'show'], envKey)).code).toBe(0);
    expect((await klv([...fileArgs, 'config', 'show'], noKey)).code).toBe(0);

    // config init, non-TTY: the key named by an env var, then stored from stdin in its own file.
    const envCfg = join(root, 'cfg-env.yaml');
    expect((await klv(['config', 'init', '--path', envCfg, '--private-key-env', 'MY_KLV_KEY', '--base-url', url], baseEnv({ MY_KLV_KEY: KEY }))).code).toBe(0);
    const stdinCfg = join(root, '.config', 'klv', 'config.yaml');
    const init = await klv(['config', 'init', '--private-key-stdin', '--base-url', url], noKey, `${KEY}\n`);
    expect(init.code, init.stderr).toBe(0);
    expect(readFileSync(stdinCfg, 'utf8')).toContain(KEY); // it did store the key: the file is excluded from the scan on purpose
    const viaCfg = baseEnv({ KLAVIYO_BASE_URL: undefined });
    expect((await klv(['config', 'show'], viaCfg)).code).toBe(0);
    expect((await klv(['--verbose', 'doctor'], viaCfg)).code).toBe(0);
    const viaEnvCfg = await klv(['--config', envCfg, 'doctor'], baseEnv({ KLAVIYO_BASE_URL: undefined, MY_KLV_KEY: KEY }));
    expect(viaEnvCfg.code, viaEnvCfg.stderr).toBe(0);

    // export: several objects, csv/json, stdout and -o, verbose.
    expect((await klv(['export', 'lists'], envKey)).code).toBe(0);
    expect((await klv(['--verbose', 'export', 'profiles', '--format', 'json', '-o', 'profiles.json'], envKey)).code).toBe(0);
    expect((await klv([...fileArgs, 'export', 'campaigns', '-o', 'campaigns.csv'], noKey)).code).toBe(0);
    expect((await klv(['export', 'templates', '--format', 'ndjson', '-o', 'templates.ndjson'], viaCfg)).code).toBe(0);
    expect((await klv(['export', 'events', '-o', 'events.csv'], { ...envKey, KLV_DEBUG: 'http' })).code).toBe(0);

    // import: insert, upsert, a failing row (exit 3), with logs and the journal.
    writeFileSync(join(work, 'lists.csv'), 'Name\nSecrets list A\nSecrets list B\n');
    const ins = await klv(['--verbose', 'import', 'lists', 'lists.csv', '--op', 'insert'], envKey);
    expect(ins.code, ins.stderr).toBe(0);
    writeFileSync(join(work, 'people.csv'), 'Email,FirstName\nann.secret@example.com,Ann\nnot-an-email,Bob\n');
    const ups = await klv([...fileArgs, 'import', 'profiles', 'people.csv', '--op', 'upsert', '--success-log', 'people.ok.csv', '--error-log', 'people.err.csv'], { ...noKey, KLV_DEBUG: 'http' });
    expect(ups.code, ups.stderr).toBe(3);
    expect(readFileSync(join(work, 'people.err.csv'), 'utf8')).toContain('not-an-email');

    // query: a SELECT and an INSERT.
    const sel = await klv(['--verbose', 'query', 'SELECT Id, Name FROM Lists', '--format', 'csv'], envKey);
    expect(sel.code, sel.stderr).toBe(0);
    expect(sel.stdout).toContain('Secrets list A');
    const qi = await klv(['query', "INSERT INTO Lists (Name) VALUES ('Secrets via query')", '--yes'], envKey);
    expect(qi.code, qi.stderr).toBe(0);

    // replicate and sync into SQLite.
    const rep = await klv(['--verbose', 'replicate', 'lists', 'campaigns', 'profiles', '--to', `sqlite:${join(work, 'replica.db')}`], envKey);
    expect(rep.code, rep.stderr).toBe(0);
    const syn = await klv([...fileArgs, '--verbose', 'sync', 'lists', '--with', `sqlite:${join(work, 'sync.db')}`, '--log-dir', work], noKey);
    expect(syn.code, syn.stderr).toBe(0);

    // The failing path: a wrong key is refused (401, exit 4), also with --verbose.
    const wrong = await klv(['--verbose', 'export', 'lists'], baseEnv({ KLAVIYO_PRIVATE_API_KEY: WRONG_KEY }));
    expect(wrong.code, wrong.stderr).toBe(4);
    const wrongDoctor = await klv(['doctor'], baseEnv({ KLAVIYO_PRIVATE_API_KEY: WRONG_KEY, KLV_DEBUG: 'http' }));
    expect(wrongDoctor.code, wrongDoctor.stderr).toBe(4);

    // The emulator recorded the exchanges (so scanning it proves something) and must hold no key.
    await emulator.stop();
    const recorded = readFileSync(recordFile, 'utf8');
    expect(recorded.split('\n').filter(Boolean).length).toBeGreaterThan(20);

    expect(scanEverything()).toEqual([]);
  }, 240_000);
});

await describeDb('the key never leaks into PostgreSQL', pgUrl(), (dbUrl) => {
  const schema = uniqueName('secrets');
  let pgRoot: string;
  let pgEmulator: EmulatorProcess | undefined;
  afterAll(async () => {
    await pgEmulator?.stop();
    await dropTestSchema(dbUrl, schema);
    if (pgRoot) rmSync(pgRoot, { recursive: true, force: true });
  });

  it('replicate --verbose into PostgreSQL: no key in its output, the recording or any table', async () => {
    pgRoot = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-secrets-pg-')));
    const rec = join(pgRoot, 'record.ndjson');
    pgEmulator = spawnEmulator(['--port', '0', '--rate-limits', 'off', '--profiles', '30', '--key', KEY], cleanEnv({ KLV_EMULATOR_RECORD: rec, HOME: pgRoot }));
    const pgEmuUrl = await pgEmulator.url;
    const env = cleanEnv({ HOME: pgRoot, XDG_CONFIG_HOME: join(pgRoot, '.config'), KLAVIYO_BASE_URL: pgEmuUrl, KLAVIYO_PRIVATE_API_KEY: KEY, KLV_DEBUG: 'http' });
    const r = await runKlv(['--verbose', 'replicate', 'lists', 'campaigns', 'profiles', '--to', dbUrl, '--schema', schema], { env, cwd: pgRoot });
    expect(r.code, r.stderr).toBe(0);
    await pgEmulator.stop();
    const tables = await adminQuery(dbUrl, 'SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema]);
    expect(tables.length).toBeGreaterThan(2);
    let dump = '';
    for (const t of tables) {
      const rows = await adminQuery(dbUrl, `SELECT * FROM "${schema}"."${String(t.table_name)}"`);
      dump += JSON.stringify(rows);
    }
    expect(dump).toContain('@'); // the profiles did land: the dump is worth scanning
    const leaks = [
      ...findLeaks('replicate stdout', r.stdout),
      ...findLeaks('replicate stderr', r.stderr),
      ...findLeaks('PostgreSQL tables', dump),
      ...filesUnder(pgRoot).flatMap((f) => findLeaks(`file ${f}`, readFileSync(f).toString('latin1'))),
    ];
    expect(leaks).toEqual([]);
  }, 120_000);
});
