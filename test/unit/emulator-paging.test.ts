import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, PageCache, readPage } from '../../src/emulator/http/paging.js';
import { ApiError } from '../../src/emulator/http/api-error.js';

function counting(n: number) {
  const stats = { generated: 0, started: 0 };
  const source = () => {
    stats.started += 1;
    return (function* () {
      for (let i = 0; i < n; i++) {
        stats.generated += 1;
        yield i;
      }
    })();
  };
  return { source, stats };
}

describe('cursors', () => {
  it('round-trip an offset and are opaque base64url', () => {
    const c = encodeCursor(1234);
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(c).not.toContain('1234');
    expect(decodeCursor(c)).toBe(1234);
  });

  it.each(['garbage!', 'bm90IGEgY3Vyc29y', encodeCursor(1).slice(0, -3) + 'zzz'])('refuses a cursor it did not issue: %s', (bad) => {
    try {
      decodeCursor(bad);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(400);
      expect((err as ApiError).source).toEqual({ parameter: 'page[cursor]' });
    }
  });
});

describe('readPage', () => {
  it('pages through every item exactly once with next/prev offsets', () => {
    const { source } = counting(25);
    const seen: number[] = [];
    let offset: number | null = 0;
    const prevs: Array<number | null> = [];
    while (offset !== null) {
      const page = readPage({ source, offset, pageSize: 10, signature: 's' });
      seen.push(...page.items);
      prevs.push(page.prevOffset);
      offset = page.nextOffset;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(prevs).toEqual([null, 0, 10]);
  });

  it('has no next page when the items end exactly at a page boundary', () => {
    const { source } = counting(20);
    expect(readPage({ source, offset: 10, pageSize: 10, signature: 's' }).nextOffset).toBeNull();
    expect(readPage({ source, offset: 0, pageSize: 10, signature: 's' }).nextOffset).toBe(10);
  });

  it('resumes the cached iterator for the next page instead of walking from the start', () => {
    const { source, stats } = counting(10_000);
    const cache = new PageCache();
    let offset: number | null = 0;
    let pages = 0;
    while (offset !== null) {
      const page = readPage({ source, offset, pageSize: 100, signature: 'q', cache });
      offset = page.nextOffset;
      pages += 1;
    }
    expect(pages).toBe(100);
    expect(stats.started).toBe(1);
    expect(stats.generated).toBe(10_000);
  });

  it('falls back to skipping when the cursor is not cached or the query differs', () => {
    const { source, stats } = counting(100);
    const cache = new PageCache();
    const first = readPage({ source, offset: 0, pageSize: 10, signature: 'q1', cache });
    const other = readPage({ source, offset: first.nextOffset!, pageSize: 10, signature: 'q2', cache });
    expect(other.items[0]).toBe(10);
    expect(stats.started).toBe(2);
  });

  it('bounds the cache', () => {
    const cache = new PageCache(3);
    const { source } = counting(100);
    for (const sig of ['a', 'b', 'c', 'd', 'e']) readPage({ source, offset: 0, pageSize: 10, signature: sig, cache });
    expect(cache.size).toBe(3);
  });
});
