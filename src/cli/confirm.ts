/**
 * Yes/no questions on the terminal (a delete's confirmation): asked on stderr, answered on stdin.
 */
import type { IO } from './io.js';
import { InterruptedError } from '../core/errors.js';

/** Whether there is a person to ask: stdin and stderr are both a terminal. */
export function canAsk(io: IO): boolean {
  return io.stdinIsTTY && io.stderrIsTTY;
}

/**
 * Asks `question`: true for y or yes. Ctrl-C while it waits (the readline's own SIGINT, or the
 * command's signal) is an InterruptedError with `interrupted` as its message.
 */
export async function confirm(io: IO, signal: AbortSignal, question: string, interrupted: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
  try {
    const answer = await new Promise<string | null>((resolvePromise, reject) => {
      rl.on('SIGINT', () => resolvePromise(null));
      rl.question(question, { signal }).then(resolvePromise, reject);
    });
    if (answer === null) throw new InterruptedError(interrupted);
    return /^\s*(y|yes)\s*$/i.test(answer);
  } catch (err) {
    if (signal.aborted || (err as Error).name === 'AbortError') throw new InterruptedError(interrupted);
    throw err;
  } finally {
    rl.close();
  }
}
