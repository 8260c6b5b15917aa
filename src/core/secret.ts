/**
 * A Klaviyo API key that cannot leak by accident. Converting it to a string, to JSON or
 * through util.inspect (console.log, error messages, debug dumps) yields the redacted form;
 * only `reveal()` gives the key itself, and only the HTTP layer calls it to build the
 * Authorization header.
 */
import { inspect } from 'node:util';

const PRIVATE_KEY_PATTERN = /^pk_[A-Za-z0-9_]{6,}$/;

/** `pk_1a2b…9f8e`: enough to tell keys apart, never enough to use one. */
export function redactKey(key: string): string {
  if (key.length <= 10) return `${key.slice(0, 3)}…`;
  return `${key.slice(0, 7)}…${key.slice(-4)}`;
}

export function looksLikePrivateKey(key: string): boolean {
  return PRIVATE_KEY_PATTERN.test(key);
}

export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  get redacted(): string {
    return redactKey(this.#value);
  }
  toString(): string {
    return this.redacted;
  }
  toJSON(): string {
    return this.redacted;
  }
  [inspect.custom](): string {
    return `Secret(${this.redacted})`;
  }
}

/**
 * Removes every occurrence of the given secrets from a text (error messages from libraries,
 * URLs, stack traces). The last line of defence: callers should never put a key in text.
 */
export function scrubSecrets(text: string, secrets: Iterable<Secret | string>): string {
  let out = text;
  for (const s of secrets) {
    const raw = typeof s === 'string' ? s : s.reveal();
    if (raw.length < 8) continue;
    out = out.split(raw).join(typeof s === 'string' ? redactKey(s) : s.redacted);
  }
  return out;
}
