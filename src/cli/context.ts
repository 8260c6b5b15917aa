/**
 * What a running command gets: the IO streams, the global flags, and lazy access to the
 * resolved connection profile and a Klaviyo client. Nothing is resolved until a command asks
 * for it, so commands that never talk to Klaviyo never read config or load HTTP code.
 */
import type { GlobalOptions } from './flags.js';
import type { IO } from './io.js';
import type { ResolvedProfile } from '../config/profile.js';
import type { KlaviyoClient } from '../klaviyo/client.js';
import { InterruptedError, UsageError } from '../core/errors.js';

/** The global flags' values, typed from their declarations (flags.ts). */
export type { GlobalOptions };

/** KLV_TIMEOUT above this is refused: Node's timers overflow past 2^31 ms (~24.8 days) and fire at once. */
const MAX_TIMEOUT_SECONDS = 86_400;

/**
 * The per-request HTTP timeout from KLV_TIMEOUT (seconds, fractions allowed), in milliseconds;
 * undefined when unset (the client's default, 60 s). A timed-out request counts as a network
 * failure that may have been sent: GETs are retried, a non-idempotent write's outcome is unknown.
 */
export function requestTimeoutMsFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.KLV_TIMEOUT;
  if (raw === undefined || raw.trim() === '') return undefined;
  const seconds = Number(raw.trim());
  if (!(Number.isFinite(seconds) && seconds > 0 && seconds <= MAX_TIMEOUT_SECONDS)) {
    throw new UsageError(
      `KLV_TIMEOUT must be a number of seconds greater than 0 and at most ${MAX_TIMEOUT_SECONDS}, got '${raw}'.`,
      'For example KLV_TIMEOUT=30 or KLV_TIMEOUT=0.5; unset it for the default of 60 seconds.',
    );
  }
  // At least 1 ms: undici reads a timeout of 0 as "no timeout".
  return Math.max(1, Math.round(seconds * 1000));
}

/**
 * The longest Retry-After klv waits out, from KLV_MAX_RETRY_AFTER (seconds); undefined when
 * unset (the client's default, 5 minutes). A longer one stops the command with exit 1 and the
 * time to come back, rather than sleeping in silence (a cron job would pile up behind it).
 */
export function maxRetryAfterMsFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.KLV_MAX_RETRY_AFTER;
  if (raw === undefined || raw.trim() === '') return undefined;
  const seconds = Number(raw.trim());
  if (!(Number.isFinite(seconds) && seconds >= 0 && seconds <= MAX_TIMEOUT_SECONDS)) {
    throw new UsageError(
      `KLV_MAX_RETRY_AFTER must be a number of seconds from 0 to ${MAX_TIMEOUT_SECONDS}, got '${raw}'.`,
      'For example KLV_MAX_RETRY_AFTER=900 to wait out up to 15 minutes; unset it for the default of 300.',
    );
  }
  return Math.round(seconds * 1000);
}

/** The largest response body accepted, from KLV_MAX_RESPONSE_MB; undefined when unset (50 MB). */
export function maxResponseBytesFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.KLV_MAX_RESPONSE_MB;
  if (raw === undefined || raw.trim() === '') return undefined;
  const mb = Number(raw.trim());
  if (!(Number.isFinite(mb) && mb > 0 && mb <= 4096)) {
    throw new UsageError(`KLV_MAX_RESPONSE_MB must be a number of megabytes greater than 0 and at most 4096, got '${raw}'.`, 'Unset it for the default of 50.');
  }
  return Math.round(mb * 1024 * 1024);
}

/** What a command asks of its Klaviyo client (ctx.client()). */
export interface ClientOptions {
  /** Retries per request after a failure (the client's default budgets when unset). */
  maxRetries?: number;
  /** Requests in flight the command can use; a profile's own `concurrency` wins. */
  concurrency?: number;
  /** false: the first Ctrl-C lets the requests in flight finish (default true: it aborts them). */
  interruptible?: boolean;
}

export { KLV_VERSION } from '../core/version.js';
import { KLV_VERSION } from '../core/version.js';

export class CommandContext {
  readonly io: IO;
  /** The global flags (all of them from main.ts; tests give the few they need). */
  readonly globals: Partial<GlobalOptions>;
  readonly abort = new AbortController();
  #profile?: Promise<ResolvedProfile>;
  #client?: Promise<KlaviyoClient>;
  #cleanups: Array<() => Promise<void> | void> = [];

  constructor(io: IO, globals: Partial<GlobalOptions>) {
    this.io = io;
    this.globals = globals;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Throws InterruptedError once the user pressed Ctrl-C; long loops call it between steps. */
  throwIfInterrupted(): void {
    if (this.abort.signal.aborted) throw new InterruptedError();
  }

  onCleanup(fn: () => Promise<void> | void): void {
    this.#cleanups.push(fn);
  }

  async dispose(): Promise<void> {
    const fns = this.#cleanups.reverse();
    this.#cleanups = [];
    for (const fn of fns) {
      try {
        await fn();
      } catch {
        // Cleanup failures must not hide the command's own result.
      }
    }
  }

  /** The per-request HTTP timeout (KLV_TIMEOUT) for every client a command builds; UsageError when invalid. */
  requestTimeoutMs(): number | undefined {
    return requestTimeoutMsFromEnv(this.io.env);
  }

  /** The client limits the environment sets (KLV_TIMEOUT, KLV_MAX_RETRY_AFTER, KLV_MAX_RESPONSE_MB); UsageError when one is invalid. */
  clientLimits(): { timeoutMs?: number; maxRetryAfterMs?: number; maxResponseBytes?: number } {
    return {
      timeoutMs: this.requestTimeoutMs(),
      maxRetryAfterMs: maxRetryAfterMsFromEnv(this.io.env),
      maxResponseBytes: maxResponseBytesFromEnv(this.io.env),
    };
  }

  /** The connection profile: flags, then environment, then project file, then user file; or the demo emulator. */
  profile(): Promise<ResolvedProfile> {
    this.#profile ??= this.#resolveProfile();
    return this.#profile;
  }

  async #resolveProfile(): Promise<ResolvedProfile> {
    const { resolveProfile } = await import('../config/resolve-profile.js');
    if (this.globals.demo) {
      const { startDemoEmulator } = await import('../emulator/demo.js');
      const demo = await startDemoEmulator();
      this.onCleanup(() => demo.close());
      this.io.info(this.io.style.dim(`Using the built-in Klaviyo emulator with the demo account (${demo.url}).`));
      const profile = await resolveProfile({
        profile: this.globals.profile,
        configPath: this.globals.config,
        env: this.io.env,
        cwd: this.io.cwd,
        stdin: this.io.stdin,
        demo: { baseUrl: demo.url, privateKey: demo.privateKey, publicKey: demo.publicKey },
      });
      for (const w of profile.warnings) this.io.warn(w);
      return profile;
    }
    const profile = await resolveProfile({
      profile: this.globals.profile,
      configPath: this.globals.config,
      apiKeyFile: this.globals.apiKeyFile,
      env: this.io.env,
      cwd: this.io.cwd,
      stdin: this.io.stdin,
    });
    for (const w of profile.warnings) this.io.warn(w);
    return profile;
  }

  /**
   * A Klaviyo client for the resolved profile, closed when the command ends. Options apply to
   * the first call only (one client per command): `maxRetries` lets a quick check such as
   * `klv doctor` fail fast on an unreachable host instead of retrying for long. `concurrency`
   * is the number of requests in flight the command can use (a partitioned export reads ~16
   * cursors at once to reach Klaviyo's rate limit); it applies unless the profile sets
   * `concurrency` itself, which always wins. The rate governor keeps any value within the limits.
   *
   * The first Ctrl-C aborts every request of the client, unless `interruptible: false`: a
   * command that writes (klv import, klv query INSERT/UPDATE/DELETE) lets the writes in flight
   * finish, since an aborted write is a row whose outcome nobody knows; it stops sending new
   * ones itself, and a second Ctrl-C exits at once (main.ts).
   */
  client(options: ClientOptions = {}): Promise<KlaviyoClient> {
    this.#client ??= (async () => {
      // Checked before the profile: a bad KLV_TIMEOUT is a usage error whatever else is wrong.
      const limits = this.clientLimits();
      const profile = await this.profile();
      const { KlaviyoClient } = await import('../klaviyo/client.js');
      const verbose = this.globals.verbose || (this.io.env.KLV_DEBUG ?? '').split(',').includes('http');
      const client = new KlaviyoClient({
        baseUrl: profile.baseUrl,
        apiKey: profile.privateKey,
        revision: profile.revision,
        userAgent: `klv/${KLV_VERSION}`,
        concurrency:
          options.concurrency !== undefined && profile.sources.concurrency === 'default'
            ? Math.max(profile.concurrency, Math.floor(options.concurrency))
            : profile.concurrency,
        journal: verbose ? (line) => this.io.stderr.write(`${this.io.style.dim(line)}\n`) : undefined,
        signal: options.interruptible === false ? undefined : this.signal,
        maxRetries: options.maxRetries,
        ...limits,
      });
      this.onCleanup(() => client.close());
      return client;
    })();
    return this.#client;
  }
}
