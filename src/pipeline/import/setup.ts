/**
 * What a command that writes through the import pipeline (`klv import`, `klv query` INSERT,
 * UPDATE and DELETE) sets up before its first row: its own client, the signal its handlers get,
 * and the delete question.
 *
 * Ctrl-C lets the rows in flight finish: an aborted write is a row whose outcome nobody knows. So
 * these commands do not use ctx.client() (it aborts every request on the first Ctrl-C) and give
 * their handlers a signal that is never aborted; a second Ctrl-C exits at once (main.ts).
 */
import { setMaxListeners } from 'node:events';
import type { CommandContext } from '../../cli/context.js';
import { InterruptedError } from '../../core/errors.js';
import type { KlaviyoClient } from '../../klaviyo/client.js';

/** The client of a write: not aborted by the first Ctrl-C, so that batches in flight can finish. */
export async function writeClient(ctx: CommandContext, concurrency: number): Promise<KlaviyoClient> {
  const limits = ctx.clientLimits();
  const profile = await ctx.profile();
  const [{ KlaviyoClient }, { KLV_VERSION }] = await Promise.all([import('../../klaviyo/client.js'), import('../../core/version.js')]);
  const client = new KlaviyoClient({
    baseUrl: profile.baseUrl,
    apiKey: profile.privateKey,
    revision: profile.revision,
    userAgent: `klv/${KLV_VERSION}`,
    // As ctx.client(): a profile's own concurrency always wins; the rate governor keeps any value within the limits.
    concurrency: profile.sources.concurrency === 'default' ? Math.max(profile.concurrency, Math.floor(concurrency)) : profile.concurrency,
    journal: ctx.io.verbose ? (line) => ctx.io.stderr.write(`${ctx.io.style.dim(line)}\n`) : undefined,
    ...limits,
  });
  ctx.onCleanup(() => client.close());
  return client;
}

/**
 * Asks `question` on the terminal (stdin, stderr): true for y or yes. Ctrl-C while it waits is
 * an InterruptedError with `interrupted` as its message.
 */
export async function confirm(ctx: CommandContext, question: string, interrupted: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: ctx.io.stdin, output: ctx.io.stderr, terminal: true });
  try {
    const answer = await new Promise<string | null>((resolvePromise, reject) => {
      rl.on('SIGINT', () => resolvePromise(null));
      rl.question(question, { signal: ctx.signal }).then(resolvePromise, reject);
    });
    if (answer === null) throw new InterruptedError(interrupted);
    return /^\s*(y|yes)\s*$/i.test(answer);
  } catch (err) {
    if (ctx.signal.aborted || (err as Error).name === 'AbortError') throw new InterruptedError(interrupted);
    throw err;
  } finally {
    rl.close();
  }
}

/**
 * The signal handlers get: the first Ctrl-C does not abort it. Every request in flight listens
 * on it, and an import keeps many in flight: no listener limit.
 */
export const neverAborted = new AbortController().signal;
setMaxListeners(0, neverAborted);
