/**
 * One condition language, as users run it (the built CLI against an emulator in this process):
 * `O''Brien` written in --where, in a SELECT and in an UPDATE finds the same profile, with the
 * same filter sent to Klaviyo and the same check on each row.
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { withRecording } from '../helpers/recording.js';

const KEY = 'pk_conditions_e2e_0123456789abcdef012';
const EMAIL = "o'brien@example.com";

const recording = withRecording();
let emulator: RunningEmulator;
let root: string;

beforeAll(async () => {
  emulator = await startEmulator({ data: 'demo', profiles: 20, rateLimits: 'off', seed: 1, record: recording.file });
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-conditions-')));
  const inserted = await klv(['query', "INSERT INTO Profiles (Email, FirstName, LastName) VALUES ('o''brien@example.com', 'O''Brien', 'Before')"]);
  expect(inserted.code, inserted.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await emulator?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

function klv(args: string[]): Promise<RunResult> {
  return runKlv(args, { cwd: root, env: cleanEnv({ HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), KLAVIYO_BASE_URL: emulator.url, KLAVIYO_PRIVATE_API_KEY: KEY }) });
}

async function rows(args: string[]): Promise<Array<Record<string, string>>> {
  const r = await klv([...args, '--format', 'csv']);
  expect(r.code, r.stderr).toBe(0);
  return parse(r.stdout, { columns: true, bom: true }) as Array<Record<string, string>>;
}

describe("O''Brien through --where, SELECT and UPDATE alike", () => {
  it("Email = 'o''brien@example.com' finds the profile each way, with one quote in Klaviyo's filter", async () => {
    const viaWhere = await rows(['export', 'profiles', '--where', "Email = 'o''brien@example.com'", '--columns', 'Email,FirstName']);
    const viaSelect = await rows(['query', "SELECT Email, FirstName FROM Profiles WHERE Email = 'o''brien@example.com'"]);
    expect(viaWhere).toEqual([{ Email: EMAIL, FirstName: "O'Brien" }]);
    expect(viaSelect).toEqual(viaWhere);

    const filter = `equals(email,"o'brien@example.com")`;
    const whereExplain = await klv(['export', 'profiles', '--where', "Email = 'o''brien@example.com'", '--explain']);
    const selectExplain = await klv(['query', '--explain', "SELECT Email FROM Profiles WHERE Email = 'o''brien@example.com'"]);
    expect(whereExplain.stdout).toContain(filter);
    expect(selectExplain.stdout).toContain(filter);
  });

  it("FirstName = 'O''Brien', checked by klv on each row, finds it each way too", async () => {
    const viaWhere = await rows(['export', 'profiles', '--where', "FirstName = 'O''Brien'", '--columns', 'Email']);
    const viaSelect = await rows(['query', "SELECT Email FROM Profiles WHERE FirstName = 'O''Brien'"]);
    expect(viaWhere).toEqual([{ Email: EMAIL }]);
    expect(viaSelect).toEqual(viaWhere);
  });

  it("UPDATE ... WHERE Email = 'o''brien@example.com' changes that profile", async () => {
    const updated = await klv(['query', "UPDATE Profiles SET LastName = 'After' WHERE Email = 'o''brien@example.com'", '--format', 'csv']);
    expect(updated.code, updated.stderr).toBe(0);
    expect(parse(updated.stdout, { columns: true })).toHaveLength(1);
    expect(await rows(['query', "SELECT LastName FROM Profiles WHERE Email = 'o''brien@example.com'"])).toEqual([{ LastName: 'After' }]);
  });
});

describe('a backslash is a backslash, as in SQLite', () => {
  it("INSERT 'C:\\temp' writes that text; --where, a simple SELECT and one SQLite runs all find it", async () => {
    const inserted = await klv(['query', "INSERT INTO Lists (Name) VALUES ('C:\\temp')"]);
    expect(inserted.code, inserted.stderr).toBe(0);
    const expected = [{ Name: 'C:\\temp' }];
    expect(await rows(['export', 'lists', '--where', "Name = 'C:\\temp'", '--columns', 'Name'])).toEqual(expected);
    expect(await rows(['query', "SELECT Name FROM Lists WHERE Name = 'C:\\temp'"])).toEqual(expected);
    // ORDER BY: SQLite evaluates the WHERE again, on the SQL klv hands it.
    expect(await rows(['query', "SELECT Name FROM Lists WHERE Name = 'C:\\temp' ORDER BY Name"])).toEqual(expected);
  });
});
