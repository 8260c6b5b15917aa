/**
 * Error types shared by every layer. Each carries the exit code it should end the process
 * with; the mapping from error to exit code lives in one place (cli/exit-codes.ts), which
 * reads `exitCode` from these classes and handles the few foreign error types.
 */
import { ExitCode } from './exit-code.js';

export class KlvError extends Error {
  readonly exitCode: ExitCode;
  /** What the user should do next; printed under the message. */
  readonly hint?: string;
  constructor(message: string, options: { exitCode?: ExitCode; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? ExitCode.Failure;
    this.hint = options.hint;
  }
}

/** Wrong flags or arguments: exit 2, before any request. */
export class UsageError extends KlvError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.Usage, hint });
  }
}

/** Bad configuration (unknown profile, invalid file, missing or malformed key): exit 2, before any request. */
export class ConfigError extends KlvError {
  /** The file the problem was found in, when there is one. */
  readonly file?: string;
  constructor(message: string, options: { file?: string; hint?: string; cause?: unknown } = {}) {
    super(options.file ? `${message} (in ${options.file})` : message, {
      exitCode: ExitCode.Usage,
      hint: options.hint,
      cause: options.cause,
    });
    this.file = options.file;
  }
}

/** Authentication or permission refused by Klaviyo: exit 4. */
export class AuthError extends KlvError {
  constructor(message: string, hint?: string, cause?: unknown) {
    super(message, { exitCode: ExitCode.Auth, hint, cause });
  }
}

/** The user interrupted the run (SIGINT/SIGTERM): exit 130. */
export class InterruptedError extends KlvError {
  constructor(message = 'Interrupted') {
    super(message, { exitCode: ExitCode.Interrupted });
  }
}
