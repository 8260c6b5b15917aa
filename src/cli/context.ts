/**
 * What a running command gets: the IO streams, the global flags, and lazy access to the
 * resolved connection profile and a Klaviyo client. Nothing is resolved until a command asks
 * for it, so commands that never talk to Klaviyo never read config or load HTTP code.
 */
import type { IO } from './io.js';
import type { ResolvedProfile } from '../config/profile.js';
import type { KlaviyoClient } from '../klaviyo/client.js';
import { InterruptedError } from '../core/errors.js';

export interface GlobalOptions {
  profile?: string;
  config?: string;
  apiKeyFile?: string;
  demo?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  json?: boolean;
  color?: boolean;
}

export { KLV_VERSION } from '../core/version.js';
import { KLV_VERSION } from '../core/version.js';

export class CommandContext {
  readonly io: IO;
  readonly globals: GlobalOptions;
  readonly abort = new AbortController();
  #profile?: Promise<ResolvedProfile>;
  #client?: Promise<KlaviyoClient>;
  #cleanups: Array<() => Promise<void> | void> = [];

  constructor(io: IO, globals: GlobalOptions) {
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
   */
  client(options: { maxRetries?: number; concurrency?: number } = {}): Promise<KlaviyoClient> {
    this.#client ??= (async () => {
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
        signal: this.signal,
        maxRetries: options.maxRetries,
      });
      this.onCleanup(() => client.close());
      return client;
    })();
    return this.#client;
  }
}
