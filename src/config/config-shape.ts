/**
 * The shape of a config file (`profiles: { name: { privateKeyEnv: ..., ... } }`), checked
 * without judging the values (validate.ts does that for the one profile in use). Pure.
 */
import { ConfigError } from '../core/errors.js';
import { isPlainObject } from '../core/json.js';
import { FILE_KEYS, PROFILE_KEYS } from './profile.js';
import { safeEcho } from './redact.js';

export type RawProfile = Record<string, unknown>;

export interface ConfigFileData {
  profiles: Record<string, RawProfile>;
  /** Top-level keys other than `profiles`. */
  unknownTopLevel: string[];
}

const EXAMPLE = 'profiles:\n  default:\n    privateKeyEnv: KLAVIYO_PRIVATE_API_KEY';

export function readConfigShape(file: string, data: unknown): ConfigFileData {
  // An empty file (or `klaviyo: null` in package.json) holds no profiles; that is not an error.
  if (data === undefined || data === null) return { profiles: {}, unknownTopLevel: [] };
  if (!isPlainObject(data)) {
    throw new ConfigError(`The config must be a mapping with a 'profiles' key, not ${describeType(data)}`, {
      file,
      hint: `Example:\n${EXAMPLE}`,
    });
  }
  const misplaced = Object.keys(data).filter((k) => (PROFILE_KEYS as readonly string[]).includes(k));
  if (misplaced.length > 0) {
    throw new ConfigError(`'${misplaced.join("', '")}' must be inside a profile, not at the top level`, {
      file,
      hint: `Put them under a profile name, e.g.:\n${EXAMPLE}`,
    });
  }
  const unknownTopLevel = Object.keys(data).filter((k) => !(FILE_KEYS as readonly string[]).includes(k));
  const profilesValue = data.profiles;
  if (profilesValue === undefined || profilesValue === null) return { profiles: {}, unknownTopLevel };
  if (!isPlainObject(profilesValue)) {
    throw new ConfigError(`'profiles' must be a mapping of profile names to settings, not ${describeType(profilesValue)}`, {
      file,
      hint: `Example:\n${EXAMPLE}`,
    });
  }
  const profiles: Record<string, RawProfile> = {};
  for (const [name, value] of Object.entries(profilesValue)) {
    if (value === null || value === undefined) {
      profiles[name] = {};
    } else if (isPlainObject(value)) {
      profiles[name] = value;
    } else {
      throw new ConfigError(`Profile '${safeEcho(name)}' must be a mapping of settings, not ${describeType(value)}`, {
        file,
        hint: `Known settings: ${PROFILE_KEYS.join(', ')}.`,
      });
    }
  }
  return { profiles, unknownTopLevel };
}

/** The keys of a profile that klv does not know. */
export function unknownProfileKeys(profile: RawProfile): string[] {
  return Object.keys(profile).filter((k) => !(PROFILE_KEYS as readonly string[]).includes(k));
}

/** The known key a typo most likely meant (same letters ignoring case, or at most 2 edits away). */
export function suggestKey(unknown: string, known: readonly string[] = PROFILE_KEYS): string | undefined {
  const lower = unknown.toLowerCase().replace(/[-_]/g, '');
  const exact = known.find((k) => k.toLowerCase() === lower);
  if (exact) return exact;
  let best: { key: string; distance: number } | undefined;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (d <= 2 && (!best || d < best.distance)) best = { key: k, distance: d };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

function describeType(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return 'a string';
  return `a ${typeof v}`;
}
