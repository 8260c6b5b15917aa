/**
 * The queue between a partitioned read's cursors and its consumer (partitioned.ts).
 *
 * A bounded queue from several producers to one consumer: producers await `push` when it is
 * full (backpressure keeps memory flat whatever the consumer's pace), the consumer drains it.
 */
export class RowQueue<T> {
  readonly capacity: number;
  #items: (T | undefined)[] = [];
  #head = 0;
  #reader?: () => void;
  #writers: Array<() => void> = [];
  #closed = false;
  #failure?: { error: unknown };

  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Adds an item; returns a promise to await before pushing more when the queue is full. */
  push(item: T): Promise<void> | undefined {
    if (this.#closed) return undefined;
    this.#items.push(item);
    this.#wakeReader();
    if (this.size < this.capacity) return undefined;
    return new Promise((resolve) => this.#writers.push(resolve));
  }

  /** No more items: the consumer ends after draining. Also releases waiting producers. */
  close(): void {
    this.#closed = true;
    this.#releaseWriters();
    this.#wakeReader();
  }

  /** The consumer throws `error` at its next step (the first failure wins). */
  fail(error: unknown): void {
    this.#failure ??= { error };
    this.close();
  }

  async *drain(): AsyncGenerator<T> {
    for (;;) {
      if (this.#failure) throw this.#failure.error;
      if (this.#head < this.#items.length) {
        const item = this.#items[this.#head] as T;
        this.#items[this.#head] = undefined;
        this.#head += 1;
        if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
          this.#items = this.#items.slice(this.#head);
          this.#head = 0;
        }
        // Producers resume once half the room is free, not one row at a time.
        if (this.#writers.length > 0 && this.size <= this.capacity / 2) this.#releaseWriters();
        yield item;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => (this.#reader = resolve));
    }
  }

  #wakeReader(): void {
    const wake = this.#reader;
    this.#reader = undefined;
    wake?.();
  }

  #releaseWriters(): void {
    const writers = this.#writers;
    this.#writers = [];
    for (const w of writers) w();
  }
}
