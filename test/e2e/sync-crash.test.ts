/**
 * `klv sync` never duplicates a record it creates in Klaviyo, however a run ends (issue 8,
 * hardening). Rows inserted in the table without an Id are created in Klaviyo one by one; a run
 * that dies between Klaviyo creating a record and the new Id reaching the row must not create it
 * again on the next run, nor copy the orphan back into the table as a row of its own.
 *
 * Against `klv emulator` as a separate process (the built CLI) and SQLite, ~50 new list rows each:
 *   - SIGKILL once some but not all creates reached the emulator, then run again;
 *   - SIGINT the same way: exit 130, logs written for what was done, then run again;
 *   - fault injection (5xx, dropped connections and, once the emulator offers them, responses lost
 *     after the create was applied, slow responses and 429 storms), runs repeated until one exits 0.
 * Each ends with every new row in Klaviyo exactly once and its Klaviyo Id written back to the row.
 *
 * Landing mid-way is condition-driven: `--latency` holds every response back after the request was
 * handled, and the signal goes once the emulator's request counts show the Nth create arrived, so
 * it lands while that create's answer is on its way. The test checks that it did (a record in
 * Klaviyo whose Id is not in the table yet) before checking the recovery.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { spawnEmulator, type EmulatorProcess } from '../helpers/emulator.js';
import { ALL_FAULT_KINDS, getFaults, setFaults, type FaultKind } from '../helpers/faults.js';
import { runAndInterrupt } from '../helpers/midway.js';

const ROWS = 50;
/** The create during which the signal goes: some but not all of the ROWS. */
const SIGNAL_AT_CREATE = 20;
/** Every response held back this long after the request was handled: the window the signal lands in. */
const LATENCY_MS = 100;

let root: string;
const emulators: EmulatorProcess[] = [];

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-sync-crash-')));
});

afterAll(async () => {
  for (const e of emulators) await e.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

async function startEmulator(args: string[]): Promise<string> {
  const emu = spawnEmulator(['--port', '0', '--data', 'empty', '--rate-limits', 'off', ...args], cleanEnv());
  emulators.push(emu);
  return emu.url;
}

/** One scenario's key, database and runs. */
function setup(url: string, name: string, extraEnv: NodeJS.ProcessEnv = {}) {
  const file = join(root, `${name}.db`);
  const prefix = `${name} row `;
  const env = cleanEnv({
    KLAVIYO_BASE_URL: url,
    KLAVIYO_PRIVATE_API_KEY: `pk_sync_crash_${name}_0123456789abcdef`,
    HOME: root,
    XDG_CONFIG_HOME: join(root, '.config'),
    ...extraEnv,
  });
  let runNo = 0;
  const sql = <T = Record<string, unknown>>(query: string): T[] => {
    const db = new Database(file);
    try {
      const st = db.prepare(query);
      if (st.reader) return st.all() as T[];
      st.run();
      return [];
    } finally {
      db.close();
    }
  };
  const args = (dir: string, extra: string[] = []) => ['sync', 'lists', '--with', `sqlite:${file}`, '--log-dir', dir, ...extra];
  const logLines = (dir: string, kind: string) => {
    const f = existsSync(dir) ? readdirSync(dir).find((n) => n.endsWith(`.${kind}.csv`)) : undefined;
    return f ? readFileSync(join(dir, f), 'utf8').trim().split('\n').slice(1) : [];
  };
  return {
    file,
    prefix,
    env,
    sql,
    /** The table as a user makes it, holding ROWS rows not yet in Klaviyo. */
    makeTable() {
      sql(`CREATE TABLE "lists" ("_klv_row_id" INTEGER PRIMARY KEY AUTOINCREMENT, "Id" TEXT, "Name" TEXT, "OptInProcess" TEXT)`);
      const db = new Database(file);
      try {
        const insert = db.prepare(`INSERT INTO "lists" ("Name", "OptInProcess") VALUES (?, 'single_opt_in')`);
        db.transaction(() => {
          for (let i = 1; i <= ROWS; i++) insert.run(`${prefix}${String(i).padStart(2, '0')}`);
        })();
      } finally {
        db.close();
      }
    },
    newLogDir: () => join(root, `${name}-run-${++runNo}`),
    args,
    logLines,
    async sync(extra: string[] = []): Promise<{ r: RunResult; success: string[]; errors: string[] }> {
      const dir = join(root, `${name}-run-${++runNo}`);
      const r = await runKlv(args(dir, extra), { env, cwd: root, timeoutMs: 120_000 });
      return { r, success: logLines(dir, 'success'), errors: logLines(dir, 'errors') };
    },
    /** Rows of this scenario whose Klaviyo Id is written back. */
    writtenBack: () => sql<{ Id: string | null; Name: string }>(`SELECT "Id", "Name" FROM "lists"`).filter((r) => r.Name.startsWith(prefix) && r.Id).length,
  };
}

async function klaviyoLists(url: string, prefix: string): Promise<Array<{ id: string; name: string }>> {
  const state = (await (await fetch(`${url}/_emulator/state`)).json()) as { resources: { list?: Array<{ id: string; attributes: { name: string } }> } };
  return (state.resources.list ?? []).filter((l) => l.attributes.name.startsWith(prefix)).map((l) => ({ id: l.id, name: l.attributes.name }));
}

/**
 * Follows the emulator's count of one operation in the background (polled, never slept on), so
 * that runAndInterrupt's synchronous condition can read it. Counts from the moment it starts.
 */
async function watchRequests(url: string, operation: string) {
  const read = async () => ((await (await fetch(`${url}/_emulator/requests`)).json()) as { byOperation: Record<string, number> }).byOperation[operation] ?? 0;
  const baseline = await read();
  let latest = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      latest = (await read()) - baseline;
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return {
    count: () => latest,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** Each of the ROWS names once in Klaviyo, once in the table, with Klaviyo's Id written back. */
async function expectEachRowOnce(url: string, s: ReturnType<typeof setup>): Promise<void> {
  const lists = await klaviyoLists(url, s.prefix);
  const byName = new Map<string, string[]>();
  for (const l of lists) byName.set(l.name, [...(byName.get(l.name) ?? []), l.id]);
  const duplicated = [...byName].filter(([, ids]) => ids.length > 1).map(([n, ids]) => `${n}: ${ids.join(', ')}`);
  expect(duplicated, 'records created twice in Klaviyo').toEqual([]);
  const rows = s.sql<{ Id: string | null; Name: string }>(`SELECT "Id", "Name" FROM "lists" ORDER BY "_klv_row_id"`).filter((r) => r.Name.startsWith(s.prefix));
  expect(rows.map((r) => r.Name), 'the table holds each row once (no orphan copied back as a new row)').toEqual(
    Array.from({ length: ROWS }, (_, i) => `${s.prefix}${String(i + 1).padStart(2, '0')}`),
  );
  const missing = rows.filter((r) => !byName.has(r.Name)).map((r) => r.Name);
  expect(missing, 'rows never created in Klaviyo').toEqual([]);
  const wrongId = rows.filter((r) => r.Id !== byName.get(r.Name)![0]).map((r) => `${r.Name}: table ${r.Id}, Klaviyo ${byName.get(r.Name)}`);
  expect(wrongId, 'rows without their Klaviyo Id written back').toEqual([]);
  expect(lists).toHaveLength(ROWS);
}

describe('klv sync: an interrupted create is never made twice', () => {
  for (const signal of ['SIGKILL', 'SIGINT'] as const) {
    it(`${signal} while a create is in flight, then a second run: each row in Klaviyo once, its Id in the row`, async () => {
      const url = await startEmulator(['--latency', String(LATENCY_MS)]);
      const s = setup(url, signal.toLowerCase());
      s.makeTable();
      const creates = await watchRequests(url, 'create_list');
      const dir = s.newLogDir();
      let interrupted;
      try {
        interrupted = await runAndInterrupt(s.args(dir), {
          cwd: root,
          env: s.env,
          signal,
          when: () => creates.count() >= SIGNAL_AT_CREATE,
          what: `create ${SIGNAL_AT_CREATE} of ${ROWS} to reach the emulator`,
        });
      } finally {
        await creates.stop();
      }
      if (signal === 'SIGKILL') expect(interrupted.signal).toBe('SIGKILL');
      else expect(interrupted.code, interrupted.stderr).toBe(130);

      // The signal landed mid-way: some rows created, not all, and one record Klaviyo created
      // whose Id the row does not have yet (the gap this test is about).
      const created = (await klaviyoLists(url, s.prefix)).length;
      expect(created).toBeGreaterThan(0);
      expect(created).toBeLessThan(ROWS);
      expect(s.writtenBack()).toBeLessThan(created);

      if (signal === 'SIGINT') {
        // A clean stop: the logs say what was done; the create in flight is reported, not lost.
        const success = s.logLines(dir, 'success').filter((l) => l.startsWith('klaviyo,insert,'));
        expect(success).toHaveLength(s.writtenBack());
        expect(s.logLines(dir, 'errors').filter((l) => l.startsWith('klaviyo,insert,'))).toHaveLength(1);
      }

      const again = await s.sync();
      expect(again.r.code, again.r.stderr).toBe(0);
      expect(again.errors).toEqual([]);
      await expectEachRowOnce(url, s);
      // And nothing left to do: a third run creates nothing.
      const third = await s.sync();
      expect(third.r.code, third.r.stderr).toBe(0);
      expect(third.success).toEqual([]);
      expect((await klaviyoLists(url, s.prefix)).length).toBe(ROWS);
    }, 90_000);
  }
});

describe('klv sync under faults: a create whose answer was lost is not made again', () => {
  const kinds: FaultKind[] = [...ALL_FAULT_KINDS];

  it(`creates ${ROWS} rows with faults ${kinds.join(',')}: each row once in Klaviyo, with its Id`, async () => {
    const url = await startEmulator(['--seed', '8']);
    await setFaults(url, { rate: 0.25, kinds, slowMs: 1500, stormMs: 1000 });
    // A slow answer longer than the timeout is a create klv cannot know the outcome of.
    const s = setup(url, 'faults', { KLV_TIMEOUT: '1' });
    s.makeTable();
    const codes: Array<number | null> = [];
    let adopted = 0;
    for (let run = 0; run < 12; run++) {
      const r = await s.sync(['--verbose']);
      codes.push(r.r.code);
      adopted += r.r.stderr.split('\n').filter((l) => l.includes('adopted, not created again')).length;
      // 0: done; 3: rows failed (an unknown outcome), looked up on the next run; 1: a run failure
      // (retries exhausted on a read), resumed by the next run.
      expect([0, 1, 3], r.r.stderr.slice(-3000)).toContain(r.r.code);
      if (r.r.code === 0) break;
    }
    expect(codes.at(-1), `exit codes of the runs: ${codes.join(', ')}`).toBe(0);
    const report = await getFaults(url);

    await setFaults(url, { rate: 0 });
    const quiet = await s.sync();
    expect(quiet.r.code, quiet.r.stderr).toBe(0);
    expect(quiet.success).toEqual([]);
    await expectEachRowOnce(url, s);

    // The faults did happen, and the case this scenario is about among them: creates Klaviyo made
    // whose answer was lost were found and adopted, not made again (round-robin kinds: every kind
    // comes several times; seeded, so the same requests get them on every run of the test).
    const injected = Object.entries(report.injected).filter(([k]) => (kinds as string[]).includes(k)).reduce((a, [, n]) => a + n, 0);
    expect(injected).toBeGreaterThan(0);
    expect(report.injected['drop-after']).toBeGreaterThan(0);
    expect(adopted, `runs' exit codes ${codes.join(', ')}`).toBeGreaterThan(0);
  }, 120_000);
});
