/**
 * Checks for each profile value. Each throws a ConfigError (exit 2, before any request) that
 * says which setting is wrong, where it came from and how to fix it. Pure; never prints a key.
 */
import { ConfigError } from '../core/errors.js';
import { looksLikePrivateKey, redactKey } from '../core/secret.js';
import { revisionDate } from './revision.js';
import { safeEcho } from './redact.js';
import { DEFAULT_BASE_URL, DEFAULT_REVISION } from './profile.js';

/** Where a value came from, for `sources` and for error messages. */
export interface Origin {
  /** For ResolvedProfile.sources: 'env KLAVIYO_BASE_URL', '/x/config.yaml (profile default)'. */
  source: string;
  /** How messages name the setting: "KLAVIYO_BASE_URL", "baseUrl of profile 'default'". */
  subject: string;
  /** The config file, when the value came from one (ConfigError appends it). */
  file?: string;
}

const KEY_HELP = 'Private API Keys start with pk_; create one in Klaviyo under Settings > Account > API keys.';
/** Klaviyo's Public API Key (site id / company id) is 6 letters and digits. */
const PUBLIC_KEY_SHAPE = /^[A-Za-z0-9]{6}$/;

export function checkPrivateKey(key: string, origin: Origin): string {
  const k = key.trim();
  if (k === '') {
    throw new ConfigError(`The Private API Key from ${origin.subject} is empty`, { file: origin.file, hint: KEY_HELP });
  }
  if (PUBLIC_KEY_SHAPE.test(k)) {
    throw new ConfigError(
      `The key from ${origin.subject} is a Public API Key (site id, 6 characters), not a Private API Key`,
      {
        file: origin.file,
        hint: `${KEY_HELP} The 6-character key belongs in publicKey (or KLAVIYO_PUBLIC_API_KEY).`,
      },
    );
  }
  if (!k.startsWith('pk_')) {
    throw new ConfigError(
      `The key from ${origin.subject} (${redactKey(k)}) is not a Klaviyo Private API Key: it must start with pk_`,
      { file: origin.file, hint: KEY_HELP },
    );
  }
  if (/\s/.test(k)) {
    throw new ConfigError(`The Private API Key from ${origin.subject} (${redactKey(k)}) contains spaces or several lines`, {
      file: origin.file,
      hint: 'The key is one word: pk_ followed by letters and digits. Check for a pasted line break.',
    });
  }
  if (!looksLikePrivateKey(k)) {
    throw new ConfigError(
      `The Private API Key from ${origin.subject} (${redactKey(k)}) is too short or has characters a Klaviyo key never has`,
      { file: origin.file, hint: `${KEY_HELP} Copy it again from Klaviyo.` },
    );
  }
  return k;
}

export function checkPublicKey(value: unknown, origin: Origin): string {
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new ConfigError(`${origin.subject} must be a string (the 6-character site id)`, { file: origin.file });
  }
  const v = String(value).trim();
  if (v.startsWith('pk_')) {
    // Public keys are printed freely (doctor, config show); a private key here would leak.
    throw new ConfigError(`${origin.subject} holds a Private API Key (${redactKey(v)}), not the Public API Key`, {
      file: origin.file,
      hint: 'Move the pk_ key to privateKey/privateKeyEnv/privateKeyFile; publicKey is the 6-character site id.',
    });
  }
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(v)) {
    throw new ConfigError(`${origin.subject} (${safeEcho(v)}) is not a Public API Key (site id)`, {
      file: origin.file,
      hint: 'The Public API Key is 6 letters and digits, shown in Klaviyo under Settings > Account > API keys.',
    });
  }
  return v;
}

export function checkRevision(value: unknown, origin: Origin): string {
  const v = typeof value === 'string' ? value.trim() : value;
  if (typeof v !== 'string' || revisionDate(v) === null) {
    throw new ConfigError(`${origin.subject} (${safeEcho(value)}) is not an API revision`, {
      file: origin.file,
      hint: `Revisions are dates, YYYY-MM-DD (optionally .pre for beta), quoted in YAML: revision: "${DEFAULT_REVISION}".`,
    });
  }
  return v;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The base URL without a trailing slash. https everywhere; plain http only on loopback (the emulator). */
export function checkBaseUrl(value: unknown, origin: Origin): string {
  if (typeof value !== 'string') {
    throw new ConfigError(`${origin.subject} must be a URL string like ${DEFAULT_BASE_URL}`, { file: origin.file });
  }
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ConfigError(`${origin.subject} (${safeEcho(value)}) is not a valid URL`, {
      file: origin.file,
      hint: `Write the scheme and host, like ${DEFAULT_BASE_URL} (or http://127.0.0.1:8787 for the emulator).`,
    });
  }
  if (url.username || url.password) {
    throw new ConfigError(`${origin.subject} must not contain a user name or password`, {
      file: origin.file,
      hint: 'klv sends the Private API Key in the Authorization header; remove the user:password@ part.',
    });
  }
  if (url.search || url.hash) {
    throw new ConfigError(`${origin.subject} (${safeEcho(value)}) must not have a query (?) or fragment (#)`, {
      file: origin.file,
      hint: `Use just the scheme and host, like ${DEFAULT_BASE_URL}.`,
    });
  }
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw new ConfigError(`${origin.subject} (${safeEcho(value)}) uses http:// on a host that is not loopback`, {
      file: origin.file,
      hint: 'The API key would cross the network unencrypted. Use https://, or http://127.0.0.1, http://localhost, http://[::1] for a local emulator.',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${origin.subject} (${safeEcho(value)}) is not an http(s) URL`, {
      file: origin.file,
      hint: `Use ${DEFAULT_BASE_URL}, or http://127.0.0.1:PORT for the emulator.`,
    });
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

/** Whether a (checked) base URL is on this machine, where plain http is allowed. */
export function isLoopbackUrl(baseUrl: string): boolean {
  return LOOPBACK_HOSTS.has(new URL(baseUrl).hostname);
}

export function checkConcurrency(value: unknown, origin: Origin): number {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new ConfigError(`${origin.subject} must be a positive whole number, not ${safeEcho(value)}`, {
      file: origin.file,
      hint: 'For example concurrency: 4. Klaviyo rate-limits per account, so more than 8 rarely helps.',
    });
  }
  return n;
}

/** An environment variable name as a shell would accept it. */
export function isEnvVarName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}
