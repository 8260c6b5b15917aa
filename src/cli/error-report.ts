/**
 * The one place where an error becomes an exit code and a message on stderr.
 */
import { CommanderError } from 'commander';
import { ExitCode } from '../core/exit-code.js';
import { KlvError } from '../core/errors.js';
import { diskFullError } from '../core/fs-errors.js';
import type { IO } from './io.js';

/**
 * A full disk is the user's to fix, not a bug in klv: said in words wherever it surfaces (a log,
 * an output file, a SQLite database...), with the fix, even when the code that met it did not
 * expect it.
 */
const FREE_SPACE_HINT = 'The disk is full: free some space on it (or write to another disk), then run the command again.';

function withDiskFullHint(err: unknown, hint: string | undefined): string | undefined {
  if (!diskFullError(err)) return hint;
  if (hint && /\bdisk\b/i.test(hint)) return hint; // it already says what to do about the disk
  return hint ? `${hint} ${FREE_SPACE_HINT}` : FREE_SPACE_HINT;
}

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof KlvError) return err.exitCode;
  if (err instanceof CommanderError) {
    // --help and --version end through commander with exitCode 0.
    return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  }
  if (isApiError(err)) {
    if (err.status === 401 || err.status === 403) return ExitCode.Auth;
    return ExitCode.Failure;
  }
  return ExitCode.Failure;
}

/** Duck-typed so this module need not import the HTTP layer (see klaviyo/errors.ts). */
function isApiError(err: unknown): err is { status: number; hint?: string; message: string } {
  return typeof err === 'object' && err !== null && (err as { name?: string }).name === 'KlaviyoApiError';
}

export function reportError(io: IO, err: unknown, scrub: (text: string) => string): void {
  if (err instanceof CommanderError) return; // commander already printed it
  if (err instanceof KlvError || isApiError(err)) {
    const e = err as KlvError;
    const hint = withDiskFullHint(err, e.hint);
    io.error(scrub(e.message), hint ? scrub(hint) : undefined);
    if (io.verbose && e.stack) io.stderr.write(`${scrub(e.stack)}\n`);
    return;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const full = diskFullError(err);
  if (full) {
    const detail = full.message.startsWith(full.code) ? full.message : `${full.code}: ${full.message}`;
    io.error(scrub(`The disk is full (${detail}).`), 'Free some space on it (or write to another disk), then run the command again.');
    if (io.verbose && e.stack) io.stderr.write(`${scrub(e.stack)}\n`);
    return;
  }
  io.error(
    scrub(`unexpected failure: ${e.message}`),
    'This is probably a bug in klv. Run again with --verbose for details and report it.',
  );
  if (io.verbose && e.stack) io.stderr.write(`${scrub(e.stack)}\n`);
}
