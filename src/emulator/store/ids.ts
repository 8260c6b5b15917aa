/**
 * Klaviyo-shaped identifiers. Real Klaviyo ids come in a few shapes and clients (and klv's own
 * CSV round-trips) notice when they are wrong, so the emulator mimics them:
 *   - profiles, campaigns, campaign messages, jobs: 26-char ULIDs (Crockford base32, uppercase,
 *     the first 10 characters encode the creation time in ms), e.g. 01GDDKASAP8TKDDA2GRZDSVP4H;
 *   - lists, segments, metrics, templates, flows: 6 alphanumerics, e.g. Y6nRLr;
 *   - events: 11 alphanumerics;
 *   - tags and tag groups: UUIDs.
 */
import { Rng } from './prng.js';

export const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';

export type IdShape = 'ulid' | 'short' | 'event' | 'uuid';

const SHAPES: Record<string, IdShape> = {
  profile: 'ulid',
  campaign: 'ulid',
  'campaign-message': 'ulid',
  list: 'short',
  segment: 'short',
  metric: 'short',
  template: 'short',
  flow: 'short',
  account: 'short',
  event: 'event',
  tag: 'uuid',
  'tag-group': 'uuid',
};

/** The id shape Klaviyo uses for a resource type; ULID for anything not listed (jobs...). */
export function idShapeOf(type: string): IdShape {
  return SHAPES[type] ?? 'ulid';
}

/** The 10-character ULID time prefix for a time in ms (48 bits, most significant first). */
export function encodeUlidTime(ms: number): string {
  let t = Math.max(0, Math.floor(ms));
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/** Encodes a non-negative integer below 2^(5*width) as `width` Crockford characters. */
export function encodeBase32(value: number, width: number): string {
  let v = value;
  let out = '';
  for (let i = 0; i < width; i++) {
    out = CROCKFORD[v % 32]! + out;
    v = Math.floor(v / 32);
  }
  return out;
}

/** Inverse of encodeBase32; undefined when a character is not Crockford base32. */
export function decodeBase32(text: string): number | undefined {
  let v = 0;
  for (const ch of text) {
    const digit = CROCKFORD.indexOf(ch);
    if (digit < 0) return undefined;
    v = v * 32 + digit;
  }
  return v;
}

export function ulid(timeMs: number, rng: Rng): string {
  let out = encodeUlidTime(timeMs);
  for (let i = 0; i < 16; i++) out += CROCKFORD[rng.int(32)];
  return out;
}

export function alphanumeric(length: number, rng: Rng): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHANUMERIC[rng.int(ALPHANUMERIC.length)];
  return out;
}

/** A version-4-shaped UUID from the stream (not cryptographically random, just well-formed). */
export function uuid(rng: Rng): string {
  let hex = '';
  for (let i = 0; i < 32; i++) hex += HEX[rng.int(16)];
  const variant = HEX[8 + rng.int(4)];
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** One id of the shape Klaviyo uses for `type`. */
export function idFor(type: string, timeMs: number, rng: Rng): string {
  switch (idShapeOf(type)) {
    case 'short':
      return alphanumeric(6, rng);
    case 'event':
      return alphanumeric(11, rng);
    case 'uuid':
      return uuid(rng);
    case 'ulid':
      return ulid(timeMs, rng);
  }
}
