/**
 * Config values are echoed in error messages (a bad URL, an unknown key) so that the user can
 * find them. A key pasted into the wrong field must still never be printed: every echoed value
 * goes through `safeEcho`.
 */
import { redactKey } from '../core/secret.js';

const KEY_LIKE = /pk_[A-Za-z0-9_]+/g;

/** The text with anything that looks like a Private API Key redacted, cut to a readable length. */
export function safeEcho(value: unknown, max = 80): string {
  const text = String(value).replace(KEY_LIKE, (k) => redactKey(k));
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
