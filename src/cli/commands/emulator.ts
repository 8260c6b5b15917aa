/**
 * `klv emulator`: runs the built-in Klaviyo emulator on loopback until Ctrl-C / SIGTERM.
 * Prints `listening on http://HOST:PORT` on stderr (always, even with --quiet: scripts and
 * tests read the port from it when they pass --port 0), then a hint on pointing klv at it.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import type { EmulatorFlags } from '../flags.js';
import { UsageError } from '../../core/errors.js';
import { looksLikePrivateKey, redactKey } from '../../core/secret.js';
import { isLoopbackHost } from '../../emulator/http/loopback.js';
import type { EmulatorOptions } from '../../emulator/server.js';
import { FAULT_KINDS, FaultSettingError, MAX_FAULT_MS, parseFaultKinds } from '../../emulator/http/faults.js';
import { QuirkSettingError, quirkRatesFrom, validQuirksHint, type QuirkRates } from '../../emulator/http/quirks.js';
import { SPEC_SCOPES, unknownScopes } from '../../emulator/http/scopes.js';
import { clockStartingAt } from '../../emulator/pinned-clock.js';
import { exportNow } from '../../pipeline/export/since.js';

/**
 * Turns the command's flags (strings from commander) into emulator options; UsageError on bad
 * values. Flags left out take the defaults they have on the command line.
 */
export function emulatorOptionsFrom(options: Partial<EmulatorFlags>, cwd: string): EmulatorOptions & { port: number; quirks: QuirkRates } {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    throw new UsageError(
      `--host ${host} is not a loopback address: the emulator accepts any API key, so it only listens on this machine.`,
      'Use --host 127.0.0.1 (the default), ::1 or localhost.',
    );
  }
  const port = wholeNumber(options.port ?? '8787', '--port', 0, 65_535);
  const profiles = wholeNumber(options.profiles ?? '2000', '--profiles', 0, 100_000_000);
  const latencyMs = wholeNumber(options.latency ?? '0', '--latency', 0, 60_000);
  const seed = wholeNumber(options.seed ?? '1', '--seed', 0, 2 ** 32 - 1);
  const faults = fraction(options.faults ?? '0', '--faults', 'For example --faults 0.1 fails one request in ten.');
  const jobFailRate = fraction(options.jobFaults ?? '0', '--job-faults', 'For example --job-faults 0.2 cancels one profile bulk import job in five half-way.');
  let faultKinds;
  try {
    faultKinds = parseFaultKinds(options.faultKinds ?? '500,502,503,drop');
  } catch (err) {
    if (!(err instanceof FaultSettingError)) throw err;
    throw new UsageError(`--fault-kinds '${options.faultKinds}': ${err.message}.`, `Give a comma list of ${FAULT_KINDS.join(',')}, or all.`);
  }
  const slowMs = wholeNumber(options.slowMs ?? '1500', '--slow-ms', 0, MAX_FAULT_MS);
  const stormMs = wholeNumber(options.stormMs ?? '2000', '--storm-ms', 0, MAX_FAULT_MS);
  const quirks = quirksFrom(options.quirks);
  // commander refuses any other value (the option's choices).
  const rateLimits = options.rateLimits ?? 'spec';
  const key = options.key;
  if (key !== undefined) {
    if (!looksLikePrivateKey(key)) {
      throw new UsageError(`--key ${redactKey(key)} is not a private API key.`, 'Private keys start with pk_ followed by at least 6 letters, digits or underscores.');
    }
  }
  const scopes = options.scopes === undefined ? undefined : scopesFrom(options.scopes, key);
  let data = options.data ?? 'demo';
  if (data !== 'demo' && data !== 'empty') {
    data = resolve(cwd, data);
    if (!existsSync(data)) {
      throw new UsageError(`--data ${data}: no such file.`, 'Give demo, empty, or a JSON account snapshot (save one with: curl http://127.0.0.1:8787/_emulator/state > account.json).');
    }
  }
  return { host, port, data, profiles, rateLimits, faults, faultKinds, slowMs, stormMs, jobFailRate, quirks, latencyMs, seed, key, scopes };
}

/** --quirks LIST as rates (only the quirks switched on); UsageError naming the valid quirks. */
function quirksFrom(text: string | undefined): QuirkRates {
  if (text === undefined) return {};
  try {
    return quirkRatesFrom(text);
  } catch (err) {
    if (!(err instanceof QuirkSettingError)) throw err;
    const hint = err.message.includes('valid quirks:') ? undefined : `${validQuirksHint().replace(/^v/, 'V')}.`;
    throw new UsageError(`--quirks '${text}': ${err.message}.`, hint ?? 'For example --quirks html-200=0.1,unsorted-pages,microseconds.');
  }
}

/** --scopes: the scopes of the --key key, names the spec uses. */
function scopesFrom(text: string, key: string | undefined): string[] {
  if (key === undefined) {
    throw new UsageError('--scopes names the scopes of the --key key, and no --key was given.', 'Add --key pk_..., or register more keys while running: POST /_emulator/keys {"key": "pk_...", "scopes": [...]}.');
  }
  const scopes = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (scopes.length === 0) throw new UsageError('--scopes is empty.', 'Give a comma list such as profiles:read,lists:read, or leave --scopes out for a key with every scope.');
  const unknown = unknownScopes(scopes);
  if (unknown.length > 0) {
    throw new UsageError(`--scopes: unknown scope${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}.`, `The spec's scopes: ${SPEC_SCOPES.join(', ')}.`);
  }
  return scopes;
}

function fraction(value: string, flag: string, hint: string): number {
  const text = value.trim();
  const n = text === '' ? NaN : Number(text);
  if (!(n >= 0 && n <= 1)) throw new UsageError(`${flag} must be a fraction from 0 to 1, got '${text}'.`, hint);
  return n;
}

function wholeNumber(value: string, flag: string, min: number, max: number): number {
  const text = value.trim();
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got '${text}'.`);
  return n;
}

export async function run(ctx: CommandContext, _args: string[], options: EmulatorFlags): Promise<number> {
  const emulatorOptions = emulatorOptionsFrom(options, ctx.io.cwd);
  // KLV_NOW pins "now" (the demo account's times), as it does klv's; a bad value is a usage error.
  const clock = ctx.io.env.KLV_NOW ? clockStartingAt(exportNow(ctx.io.env).getTime()) : undefined;
  const { startEmulator } = await import('../../emulator/server.js');
  let emulator;
  try {
    emulator = await startEmulator({ ...emulatorOptions, clock });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') {
      throw new UsageError(`Port ${emulatorOptions.port} on ${emulatorOptions.host} is already in use.`, 'Pick another --port, or --port 0 for a free one.');
    }
    if (e.code === 'EADDRNOTAVAIL') {
      throw new UsageError(`Cannot listen on ${emulatorOptions.host}: the address is not available on this machine.`);
    }
    // What remains comes from the flags' values: an unreadable or invalid --data snapshot, or --profiles.
    throw new UsageError(`The emulator did not start: ${e.message}`, 'Check --data and --profiles.');
  }
  ctx.onCleanup(() => emulator.close());

  ctx.io.stderr.write(`listening on ${emulator.url}\n`);
  const keyHint = emulatorOptions.key ? '<the --key value>' : 'pk_test_123456';
  ctx.io.info(
    ctx.io.style.dim(`Point klv at it: KLAVIYO_BASE_URL=${emulator.url} KLAVIYO_PRIVATE_API_KEY=${keyHint} klv doctor   (Ctrl-C stops it)`),
  );

  await new Promise<void>((done) => {
    if (ctx.signal.aborted) return done();
    ctx.signal.addEventListener('abort', () => done(), { once: true });
  });
  await emulator.close();
  ctx.io.info('emulator stopped');
  return 0;
}
