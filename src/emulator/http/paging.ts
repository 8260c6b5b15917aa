/**
 * Cursor paging. A cursor is opaque to clients (base64url of the offset of the next item, as
 * Klaviyo's are base64 of a position); it is only ever produced by this module and sent back in
 * `links.next`/`links.prev`.
 *
 * Skipping to an offset means walking the collection from the start, which for the lazily
 * generated 1,000,000-profile account would make reading every page O(n²). So when a page is
 * served, the iterator positioned after it is kept (bounded LRU) under the next page's cursor
 * and the query's signature; following links.next resumes it. A cursor whose iterator is gone
 * (evicted, different query) still works by skipping.
 */
import { invalidParameter } from './api-error.js';

const PREFIX = 'klv::offset::';

export function encodeCursor(offset: number): string {
  return Buffer.from(`${PREFIX}${offset}`, 'utf8').toString('base64url');
}

/** The offset a cursor stands for; 400 on anything this emulator did not issue. */
export function decodeCursor(cursor: string): number {
  const text = /^[A-Za-z0-9_\-=]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const m = text.startsWith(PREFIX) ? /^\d{1,15}$/.exec(text.slice(PREFIX.length)) : null;
  if (!m) {
    throw invalidParameter(
      'page[cursor]',
      `'${cursor.slice(0, 60)}' is not a valid page cursor. Use the cursor from links.next or links.prev of the previous page.`,
    );
  }
  return Number(m[0]);
}

interface Resumable<T> {
  iterator: Iterator<T>;
  /** The first item of the page this entry resumes at, already read to learn that it exists. */
  first: T;
  /** The item before `first` (the last of the page that stored this entry). */
  previous: T;
}

export class PageCache {
  readonly #entries = new Map<string, Resumable<unknown>>();
  readonly #max: number;

  constructor(maxEntries = 32) {
    this.#max = maxEntries;
  }

  take<T>(key: string): Resumable<T> | undefined {
    const entry = this.#entries.get(key) as Resumable<T> | undefined;
    if (entry) this.#entries.delete(key);
    return entry;
  }

  put<T>(key: string, entry: Resumable<T>): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry as Resumable<unknown>);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}

export interface Page<T> {
  items: T[];
  offset: number;
  /** Offset of the next page, or null on the last page. */
  nextOffset: number | null;
  /** Offset of the previous page, or null on the first page. */
  prevOffset: number | null;
  /** With `neighbours`: the item at offset - 1 (none on the first page). */
  before?: T;
  /** With `neighbours`: the first item of the next page (none on the last page). */
  after?: T;
}

/**
 * One page of `source()` starting at `offset`. `signature` identifies the query (path, filter,
 * sort): only a cached iterator of the same query may be resumed. With `neighbours`, the page
 * also carries the items just before and just after it (the `unsorted-pages` quirk swaps them in).
 */
export function readPage<T>(o: {
  source: () => Iterator<T>;
  /** An iterator already at `offset`, when the source can get there without walking (an index range). */
  seek?: (offset: number) => Iterator<T>;
  offset: number;
  pageSize: number;
  signature: string;
  cache?: PageCache;
  neighbours?: boolean;
}): Page<T> {
  const items: T[] = [];
  const cached = o.cache?.take<T>(`${o.signature}|${o.offset}`);
  // Where reading starts: one item early when the item before the page is wanted.
  const start = o.neighbours && o.offset > 0 ? o.offset - 1 : o.offset;
  let before: T | undefined;
  const page = (nextOffset: number | null, after?: T): Page<T> => ({
    items,
    offset: o.offset,
    nextOffset,
    prevOffset: prevOf(o.offset, o.pageSize),
    ...(o.neighbours && before !== undefined ? { before } : {}),
    ...(o.neighbours && after !== undefined ? { after } : {}),
  });
  let iterator: Iterator<T>;
  if (cached) {
    iterator = cached.iterator;
    items.push(cached.first);
    if (o.offset > 0) before = cached.previous;
  } else {
    if (o.seek) {
      iterator = o.seek(start);
    } else {
      iterator = o.source();
      for (let skipped = 0; skipped < start; skipped++) {
        if (iterator.next().done) return page(null);
      }
    }
    if (start < o.offset) {
      const r = iterator.next();
      if (r.done) return page(null);
      before = r.value;
    }
  }
  while (items.length < o.pageSize) {
    const r = iterator.next();
    if (r.done) return page(null);
    items.push(r.value);
  }
  // Read one more item to know whether a next page exists (no empty last pages, as Klaviyo).
  const peek = iterator.next();
  const nextOffset = peek.done ? null : o.offset + items.length;
  if (!peek.done && nextOffset !== null) o.cache?.put(`${o.signature}|${nextOffset}`, { iterator, first: peek.value, previous: items[items.length - 1]! });
  else iterator.return?.();
  return page(nextOffset, peek.done ? undefined : peek.value);
}

function prevOf(offset: number, pageSize: number): number | null {
  return offset > 0 ? Math.max(0, offset - pageSize) : null;
}
