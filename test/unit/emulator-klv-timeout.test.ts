/**
 * KLV_TIMEOUT against the emulator's `slow` fault: a response held back longer than the timeout
 * is a timed-out request to klv, classified as "maybe sent" (a GET is retried, a create is an
 * unknown outcome), for both kinds of client commands build (ctx.client(), and the writes' one
 * whose requests survive the first Ctrl-C).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { CommandContext, requestTimeoutMsFromEnv } from '../../src/cli/context.js';
import { UsageError } from '../../src/core/errors.js';
import { KlaviyoNetworkError, UnknownOutcomeError } from '../../src/klaviyo/errors.js';
import { cleanEnv, runKlv } from '../helpers/cli.js';
import { testContext } from '../helpers/io.js';

const KEY = 'pk_klv_timeout_0123456789';

let emu: RunningEmulator;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'klv-timeout-'));
  // Every /api response is held back 2 s: ten times the 0.2 s timeout the tests set.
  emu = await startEmulator({ data: 'empty', rateLimits: 'off', faults: 1, faultKinds: ['slow'], slowMs: 2_000 });
});

afterAll(async () => {
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
});

function context(env: NodeJS.ProcessEnv): CommandContext {
  return testContext({ cwd: dir, env: { HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), KLAVIYO_BASE_URL: emu.url, KLAVIYO_PRIVATE_API_KEY: KEY, ...env } }).ctx;
}

async function slowFaults(): Promise<number> {
  const report = (await (await fetch(`${emu.url}/_emulator/faults`)).json()) as { injected: Record<string, number> };
  return report.injected.slow!;
}

describe('KLV_TIMEOUT', () => {
  it('is read as seconds, fractions allowed; unset or empty means the default', () => {
    expect(requestTimeoutMsFromEnv({})).toBeUndefined();
    expect(requestTimeoutMsFromEnv({ KLV_TIMEOUT: '' })).toBeUndefined();
    expect(requestTimeoutMsFromEnv({ KLV_TIMEOUT: '1' })).toBe(1_000);
    expect(requestTimeoutMsFromEnv({ KLV_TIMEOUT: ' 0.5 ' })).toBe(500);
    expect(requestTimeoutMsFromEnv({ KLV_TIMEOUT: '90' })).toBe(90_000);
    // Never 0: undici reads 0 as "no timeout".
    expect(requestTimeoutMsFromEnv({ KLV_TIMEOUT: '0.0001' })).toBe(1);
  });

  it.each(['abc', '0', '-1', 'Infinity', 'NaN', '1e9', '10s'])('refuses %j as a usage error naming KLV_TIMEOUT', (value) => {
    let error: unknown;
    try {
      requestTimeoutMsFromEnv({ KLV_TIMEOUT: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    expect((error as Error).message).toContain('KLV_TIMEOUT');
    expect((error as Error).message).toContain(`'${value}'`);
  });

  it("reaches the command's client: a GET that outlasts it times out and is retried", async () => {
    const ctx = context({ KLV_TIMEOUT: '0.2' });
    const before = await slowFaults();
    const client = await ctx.client({ maxRetries: 1 });
    const started = performance.now();
    const error = await client.request('get_lists').then(
      () => null,
      (err: unknown) => err,
    );
    const elapsed = performance.now() - started;
    await ctx.dispose();
    expect(error).toBeInstanceOf(KlaviyoNetworkError);
    expect(error).toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT', attempts: 2 });
    // Both attempts reached the emulator; neither waited for its 2 s response.
    expect((await slowFaults()) - before).toBe(2);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('times out on the dot: KLV_TIMEOUT=1 fails a response held back 1.5 s', async () => {
    // undici alone checks its timeout on half-second ticks and would fire after 1.5 to 2 s, too
    // late for this; the client's own timer makes the contract's example hold.
    await fetch(`${emu.url}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ slowMs: 1_500 }) });
    try {
      const ctx = context({ KLV_TIMEOUT: '1' });
      const client = await ctx.client({ maxRetries: 0 });
      const started = performance.now();
      const error = await client.request('get_lists').then(
        () => null,
        (err: unknown) => err,
      );
      const elapsed = performance.now() - started;
      await ctx.dispose();
      expect(error).toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT', attempts: 1 });
      expect(elapsed).toBeGreaterThanOrEqual(999);
      expect(elapsed).toBeLessThan(1_500);
    } finally {
      await fetch(`${emu.url}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ slowMs: 2_000 }) });
    }
  });

  it("reaches the writes' client: a create that outlasts it has an unknown outcome, not a retry", async () => {
    const ctx = context({ KLV_TIMEOUT: '0.2' });
    const before = await slowFaults();
    const client = await ctx.client({ concurrency: 1, interruptible: false });
    const error = await client
      .request('create_profile', { body: { data: { type: 'profile', attributes: { email: 'timeout@example.com' } } } })
      .then(
        () => null,
        (err: unknown) => err,
      );
    await ctx.dispose();
    expect(error).toBeInstanceOf(UnknownOutcomeError);
    expect((error as Error).message).toContain('UND_ERR_HEADERS_TIMEOUT');
    expect((await slowFaults()) - before).toBe(1);
    // The emulator handled it before holding the response back: it was applied after all.
    expect([...emu.store.collection('profile').values()].map((p) => p.attributes.email)).toContain('timeout@example.com');
  });

  it('an invalid value refuses to build either client', async () => {
    await expect(context({ KLV_TIMEOUT: 'abc' }).client()).rejects.toThrow(UsageError);
    await expect(context({ KLV_TIMEOUT: '-2' }).client({ concurrency: 1, interruptible: false })).rejects.toThrow(/KLV_TIMEOUT/);
  });

  it('klv exits 2 on KLV_TIMEOUT=abc, naming it', async () => {
    const r = await runKlv(['doctor'], {
      env: cleanEnv({ HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), KLAVIYO_BASE_URL: emu.url, KLAVIYO_PRIVATE_API_KEY: KEY, KLV_TIMEOUT: 'abc' }),
      timeoutMs: 20_000,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('KLV_TIMEOUT');
    expect(r.stderr).not.toContain(KEY);
  });
});
