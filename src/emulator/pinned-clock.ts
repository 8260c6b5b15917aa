/**
 * The emulator's clock under KLV_NOW: its first reading is the pinned instant, and it then moves
 * on at the real pace. The demo account is built from the first reading, so two emulators started
 * with the same KLV_NOW serve the same account to the millisecond (tests compare them), while
 * rate-limit windows, 429 storms and the timestamps of writes still move as they do in Klaviyo.
 */
export function clockStartingAt(startMs: number, realNow: () => number = Date.now): () => Date {
  let firstReading: number | undefined;
  return () => {
    const real = realNow();
    firstReading ??= real;
    return new Date(startMs + (real - firstReading));
  };
}
