/**
 * The connection profile a command runs with, once flags, environment, config files and
 * defaults have been merged (see resolve-profile.ts), and the names and defaults that make it.
 */
import type { Secret } from '../core/secret.js';
import { SPEC_REVISION } from '../klaviyo/generated/api-metadata.js';

export interface ResolvedProfile {
  name: string;
  privateKey: Secret;
  publicKey?: string;
  revision: string;
  baseUrl: string;
  concurrency: number;
  /**
   * Value name -> where it came from, e.g. 'env KLAVIYO_PRIVATE_API_KEY',
   * '/home/u/.config/klv/config.yaml (profile default)', 'default', 'flag --api-key-file',
   * 'demo emulator'. Keys: profile, privateKey, publicKey, revision, baseUrl, concurrency.
   */
  sources: Record<string, string>;
  /** Config files that were read, highest precedence first. */
  files: string[];
  /** Problems worth telling the user about that do not stop the command (typos, loose file modes). */
  warnings: string[];
}

export const DEFAULT_BASE_URL = 'https://a.klaviyo.com';
/** The revision klv's generated API metadata was built from: the one klv is tested against. */
export const DEFAULT_REVISION: string = SPEC_REVISION;
/**
 * Parallel requests per command. Klaviyo's rate limits are per account, so more rarely helps;
 * the client's rate limiter keeps any value within the spec's limits.
 */
export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_PROFILE_NAME = 'default';

/** The keys a profile may hold. Anything else is reported, so a typo never silently drops a value. */
export const PROFILE_KEYS = [
  'privateKey',
  'privateKeyEnv',
  'privateKeyFile',
  'publicKey',
  'revision',
  'baseUrl',
  'concurrency',
] as const;
export type ProfileKey = (typeof PROFILE_KEYS)[number];

/** The three ways a profile can name its Private API Key; a profile uses exactly one. */
export const KEY_SOURCE_KEYS = ['privateKey', 'privateKeyEnv', 'privateKeyFile'] as const;

/** Top-level keys of a config file. */
export const FILE_KEYS = ['profiles'] as const;

export const ENV = {
  profile: 'KLAVIYO_PROFILE',
  privateKey: 'KLAVIYO_PRIVATE_API_KEY',
  publicKey: 'KLAVIYO_PUBLIC_API_KEY',
  baseUrl: 'KLAVIYO_BASE_URL',
  revision: 'KLAVIYO_REVISION',
} as const;
