/**
 * core/json: isPlainObject, and the canonical JSON text that dry-run comparisons and the events'
 * derived unique ids rely on (the ids themselves are pinned in write-events-golden.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { canonicalJson, isPlainObject } from '../../src/core/json.js';

/** The events handler's canonical JSON before it moved here: the unified one must write the same text. */
function eventsCanonicalJsonBefore(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(eventsCanonicalJsonBefore).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${eventsCanonicalJsonBefore(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/** A small deterministic generator (mulberry32), so the values are the same on every run. */
function generator(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['a', 'B', 'b', 'é', 'Z', 'z', '😀', 'ｚ', '', 'a b', '\u0001', '\ud800', '10', '9', '__proto_'];
const STRINGS = ['', 'x', 'O\'Brien "q"', 'back\\slash', 'line\nbreak', '\u2028', '\ud800', '😀', 'é'];

function randomJson(next: () => number, depth: number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const kind = Math.floor(next() * (depth > 0 ? 8 : 6));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return next() < 0.5;
    case 2:
      return pick([0, -0, 1, -1.5, 9.99, 1e21, 2 ** 53, 123456789.123]);
    case 3:
    case 4:
    case 5:
      return pick(STRINGS);
    case 6:
      return Array.from({ length: Math.floor(next() * 4) }, () => randomJson(next, depth - 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 5); i > 0; i--) o[pick(KEYS)] = randomJson(next, depth - 1);
      return o;
    }
  }
}

describe('canonicalJson', () => {
  it('sorts object keys at every depth', () => {
    expect(canonicalJson({ b: { d: 1, c: [{ f: 1, e: 2 }] }, a: null })).toBe('{"a":null,"b":{"c":[{"e":2,"f":1}],"d":1}}');
  });

  it('writes what JSON.stringify writes, keys sorted: undefined members left out, undefined items null, toJSON honoured', () => {
    expect(canonicalJson({ b: undefined, a: [undefined, 1] })).toBe('{"a":[null,1]}');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson({ at: new Date(Date.UTC(2026, 0, 1)) })).toBe('{"at":"2026-01-01T00:00:00.000Z"}');
    expect(canonicalJson([NaN, -0, Infinity])).toBe('[null,0,null]');
    expect(canonicalJson('\ud800')).toBe('"\\ud800"');
  });

  it('for every JSON value, writes the text the events handler hashed before it moved here', () => {
    const next = generator(13);
    for (let i = 0; i < 2000; i++) {
      const value = randomJson(next, 4);
      expect(canonicalJson(value)).toBe(eventsCanonicalJsonBefore(value));
      // And it is JSON that reads back as the same value.
      expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
    }
  });

  it('can leave out null members and make strings well formed, for comparisons that need it', () => {
    expect(canonicalJson({ b: null, a: [null, { c: null }] }, { dropNulls: true })).toBe('{"a":[null,{}]}');
    expect(canonicalJson({ '\ud800': '\udc00x' }, { wellFormed: true })).toBe('{"\ufffd":"\ufffdx"}');
  });
});

describe('isPlainObject', () => {
  it('is true for objects with members, false for null, arrays and scalars', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject({ a: 1 })).toBe(true);
    for (const v of [null, undefined, [], [1], 'x', 1, true]) expect(isPlainObject(v)).toBe(false);
  });
});
