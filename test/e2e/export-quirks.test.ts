/**
 * Issue 12, items 2 and 9, end to end: `klv export profiles` on 20,000 profiles against
 * `klv emulator` run as a separate process with the quirks real Klaviyo has been seen to have:
 * pages slightly unsorted (also across page boundaries), greater-than and less-than matching the
 * bound (estuary/connectors PR #4062), and page cursors refused as expired mid-read. The export
 * must exit 0 with exactly the rows of a quirk-free reference export: the same ids, each once,
 * each line the same.
 *
 * The reference is taken from the same emulator with its quirks switched off
 * (POST /_emulator/quirks). A refused chain reads two pages again before reaching new rows
 * (resume-point.ts), and the client gives up after five refusals in a row with nothing new; at
 * 5% of page requests refused that takes ~10⁻⁵ per refusal, so the run does not flake.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { spawnEmulator, type EmulatorProcess } from '../helpers/emulator.js';

const PROFILES = 20_000;
const QUIRKS = 'unsorted-pages,inclusive-bounds,expired-cursor=0.05';
const RUN_TIMEOUT_MS = 90_000;

let emulator: EmulatorProcess | undefined;
let url: string;
let root: string;

/** A distinct key per run: the emulator rate-limits per key, as Klaviyo does. */
const keyFor = (run: string) => `pk_export_quirks_${run}_0123456789abcdef`;

async function exportRun(run: string, args: string[]): Promise<RunResult> {
  const env = cleanEnv({ HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), KLAVIYO_BASE_URL: url, KLAVIYO_PRIVATE_API_KEY: keyFor(run) });
  return runKlv(['export', 'profiles', ...args], { cwd: root, env, timeoutMs: RUN_TIMEOUT_MS });
}

async function quirks(body?: Record<string, boolean>): Promise<{ quirks: Record<string, number>; injected: Record<string, number> }> {
  const res = await fetch(`${url}/_emulator/quirks`, body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {});
  expect(res.status).toBe(200);
  return (await res.json()) as { quirks: Record<string, number>; injected: Record<string, number> };
}

/** Data lines of a CSV export (the header checked apart), by id: the first cell, never quoted. */
function linesById(text: string): { header: string; byId: Map<string, string[]> } {
  const lines = text.split('\n');
  expect(lines.pop(), 'the export ends with a line break').toBe('');
  const header = lines.shift()!;
  const byId = new Map<string, string[]>();
  for (const line of lines) {
    const id = line.slice(0, line.indexOf(','));
    byId.set(id, [...(byId.get(id) ?? []), line]);
  }
  return { header, byId };
}

beforeAll(async () => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-export-quirks-')));
  emulator = spawnEmulator(['--port', '0', '--profiles', String(PROFILES), '--seed', '7', '--rate-limits', 'spec', '--quirks', QUIRKS], cleanEnv());
  url = await emulator.url;
}, 30_000);

afterAll(async () => {
  await emulator?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe(`klv export profiles, ${PROFILES.toLocaleString('en-US')} profiles, against --quirks ${QUIRKS}`, () => {
  it('exit 0 with the rows of a quirk-free export: the same ids, each once, the same values', async () => {
    const before = await quirks();
    expect(Object.keys(before.quirks).sort()).toEqual(['expired-cursor', 'inclusive-bounds', 'unsorted-pages']);
    const quirky = await exportRun('quirky', ['-o', 'quirky.csv']);
    const met = (await quirks()).injected;
    expect(quirky.code, quirky.stderr).toBe(0);
    expect(met['unsorted-pages'], 'pages came unsorted').toBeGreaterThan(50);
    expect(met['inclusive-bounds'], 'bounds were matched').toBeGreaterThan(10);
    expect(met['expired-cursor'], 'cursors were refused').toBeGreaterThan(2);

    await quirks({ 'unsorted-pages': false, 'inclusive-bounds': false, 'expired-cursor': false });
    const reference = await exportRun('reference', ['-o', 'reference.csv']);
    expect(reference.code, reference.stderr).toBe(0);
    expect((await quirks()).injected).toEqual(met);

    const want = linesById(readFileSync(join(root, 'reference.csv'), 'utf8'));
    const got = linesById(readFileSync(join(root, 'quirky.csv'), 'utf8'));
    expect(want.byId.size, 'the reference holds every profile once').toBe(PROFILES);
    expect(got.header).toBe(want.header);
    const missing = [...want.byId.keys()].filter((id) => !got.byId.has(id));
    const twice = [...got.byId].filter(([, lines]) => lines.length > 1).map(([id]) => id);
    const unexpected = [...got.byId.keys()].filter((id) => !want.byId.has(id));
    const changed = [...got.byId].filter(([id, lines]) => want.byId.has(id) && lines[0] !== want.byId.get(id)![0]).map(([id]) => id);
    expect({ missing: missing.slice(0, 5), twice: twice.slice(0, 5), unexpected: unexpected.slice(0, 5), changed: changed.slice(0, 5) }).toEqual({
      missing: [],
      twice: [],
      unexpected: [],
      changed: [],
    });
    expect(got.byId.size).toBe(PROFILES);
  }, 3 * RUN_TIMEOUT_MS);
});
