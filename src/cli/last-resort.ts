/**
 * The last line of defence: an error nobody caught (an 'error' event without a listener in a
 * library, a promise rejected with no handler) still ends as one klv error on stderr, scrubbed
 * of API keys, with exit 1, instead of Node's raw stack and its default exit code. It is a
 * safety net: every such error is a bug to fix where it starts, so the message says so.
 */
import { redactKey, scrubSecrets, type Secret } from '../core/secret.js';
import { ExitCode } from '../core/exit-code.js';

/** Anything shaped like a private key, known to klv or not (a config file's, a test's). */
const KEY_LIKE = /pk_[A-Za-z0-9_]{6,}/g;

export interface LastResortOptions {
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
  /** The keys resolved so far (the profile's), scrubbed by name. */
  secrets: () => Iterable<Secret | string>;
  exit: (code: number) => void;
}

/** The text printed for an uncaught error: one scrubbed line and a hint, the stack only with KLV_DEBUG. */
export function lastResortText(err: unknown, secrets: Iterable<Secret | string>, env: NodeJS.ProcessEnv): string {
  const scrub = (text: string) => scrubSecrets(text, secrets).replace(KEY_LIKE, (key) => redactKey(key));
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as NodeJS.ErrnoException).code;
  const lines = [
    `error: unexpected failure: ${scrub(e.message)}${code && !e.message.includes(code) ? ` (${code})` : ''}`,
    'hint: This is a bug in klv (an error nobody handled). Run again with KLV_DEBUG=1 for the stack trace and report it.',
  ];
  if ((env.KLV_DEBUG ?? '') !== '' && e.stack) lines.push(scrub(e.stack));
  return `${lines.join('\n')}\n`;
}

/** Installs the handlers; returns a function that removes them. */
export function installLastResort(o: LastResortOptions): () => void {
  let reported = false;
  const onError = (err: unknown) => {
    // Report once: a second failure while exiting adds nothing.
    if (!reported) {
      reported = true;
      o.stderr.write(lastResortText(err, o.secrets(), o.env));
    }
    o.exit(ExitCode.Failure);
  };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return () => {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
  };
}
