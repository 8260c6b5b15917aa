/**
 * The `unsorted-pages` quirk: pages "slightly unsorted" despite `sort`, as connector maintainers
 * report of Klaviyo (estuary/connectors PR #4062: "records in slightly unsorted order despite the
 * inclusion of a `sort` query parameter"; their connector's out-of-order check crashed on it).
 *
 * The order is a fixed permutation of the sorted rows, made of disjoint swaps of neighbours, so
 * every row still appears exactly once over a cursor chain with a fixed page size and no row
 * moves more than one place:
 *   - across each page boundary, the last slot of a page and the first slot of the next page
 *     swap: page k ends with a row that sorts after page k+1's first row;
 *   - inside a page, a few neighbouring pairs of the inner slots swap (chosen by a hash of their
 *     position, so the same query always gives the same pages).
 * With a page size of 1, pages pair up instead: the pages at offsets 2j and 2j+1 swap their rows.
 *
 * A page needs its neighbours for this: the row before it (the previous page's last) and the
 * row after it (the next page's first), which paging.ts's readPage hands over.
 */
import { hash32, hashString } from '../store/prng.js';

export interface PageWindow<T> {
  /** The page's rows in sorted order. */
  items: readonly T[];
  /** The page's offset in the sorted rows. */
  offset: number;
  pageSize: number;
  /** The row at offset - 1 (absent on the first page). */
  before?: T;
  /** The row after the page, the first of the next page (absent on the last page). */
  after?: T;
}

const SALT = hashString('unsorted-pages');

/** The page's rows in the quirk's order. */
export function unsortedPage<T>(w: PageWindow<T>): T[] {
  const out = [...w.items];
  const n = out.length;
  if (n === 0) return out;
  const hasBefore = w.offset > 0 && w.before !== undefined;
  const hasAfter = w.after !== undefined;
  if (w.pageSize === 1) {
    // Pairs of pages: the even one takes its successor's row, the odd one its predecessor's.
    if (w.offset % 2 === 0 && hasAfter) out[0] = w.after as T;
    else if (w.offset % 2 === 1 && hasBefore) out[0] = w.before as T;
    return out;
  }
  if (hasBefore) out[0] = w.before as T;
  if (hasAfter) out[n - 1] = w.after as T;
  // Inner slots 1..n-2 (never the boundary slots, which are swapped across pages).
  for (let i = 1; i + 1 <= n - 2; ) {
    if (hash32(SALT, w.offset + i) % 3 === 0) {
      [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
      i += 2;
    } else {
      i += 1;
    }
  }
  return out;
}
