/**
 * A key that lacks a scope, end to end: `klv emulator --key K --scopes ...` (the built CLI) and
 * klv commands run with K. Klaviyo answers 403 where the spec asks for a scope the key lacks;
 * klv must stop with exit 4 (auth refused) and name the scope, never exit 0 with rows missing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { registerKey, spawnEmulator, type EmulatorProcess } from '../helpers/emulator.js';

const PROFILES_ONLY = 'pk_scopes_profiles_only_0123456789';
const LISTS_WRITER = 'pk_scopes_lists_writer_0123456789';

let emulator: EmulatorProcess | undefined;
let url: string;
let root: string;

beforeAll(async () => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-scopes-')));
  emulator = spawnEmulator(['--port', '0', '--profiles', '20', '--rate-limits', 'off', '--key', PROFILES_ONLY, '--scopes', 'profiles:read'], cleanEnv());
  url = await emulator.url;
  await registerKey(url, LISTS_WRITER, ['lists:write']);
});

afterAll(async () => {
  await emulator?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

function klv(key: string, args: string[]): Promise<RunResult> {
  return runKlv(args, { cwd: root, env: cleanEnv({ HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), KLAVIYO_BASE_URL: url, KLAVIYO_PRIVATE_API_KEY: key }) });
}

function expectNoKey(r: RunResult, key: string): void {
  expect(r.stdout + r.stderr).not.toContain(key.slice(0, 16));
}

describe('a key without the scope a command needs', () => {
  it('export lists with a key that has only profiles:read: exit 4, naming lists:read, no output file', async () => {
    const r = await klv(PROFILES_ONLY, ['export', 'lists', '-o', 'lists.csv']);
    expectNoKey(r, PROFILES_ONLY);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/GET \/api\/lists failed: 403 permission_denied: This API key lacks the scope lists:read, which GET \/api\/lists needs/);
    expect(r.stderr).toMatch(/hint: The API key lacks a scope this request needs: lists:read/);
    expect(existsSync(join(root, 'lists.csv'))).toBe(false);
  });

  it('the same key exports profiles (the scope it has)', async () => {
    const r = await klv(PROFILES_ONLY, ['export', 'profiles', '--limit', '3', '--format', 'ndjson']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('a key registered with lists:write reads lists too (full access includes read access)', async () => {
    const r = await klv(LISTS_WRITER, ['export', 'lists', '--format', 'ndjson']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').length).toBeGreaterThan(0);
  });
});
