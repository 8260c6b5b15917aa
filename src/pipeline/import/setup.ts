/**
 * The signal the operation handlers of a write get (`klv import`, `klv query` INSERT, UPDATE and
 * DELETE).
 *
 * Ctrl-C lets the rows in flight finish: an aborted write is a row whose outcome nobody knows. So
 * these commands' client is built with `interruptible: false` (ctx.client() in src/cli), their run
 * loop stops taking new rows on the command's signal, and their handlers get a signal that is
 * never aborted; a second Ctrl-C exits at once (main.ts).
 */
import { setMaxListeners } from 'node:events';

/**
 * The signal handlers get: the first Ctrl-C does not abort it. Every request in flight listens
 * on it, and an import keeps many in flight: no listener limit.
 */
export const neverAborted = new AbortController().signal;
setMaxListeners(0, neverAborted);
