/**
 * The emulator's clock under KLV_NOW: it reads the pinned instant first, then moves at the real
 * pace (rate-limit windows and 429 storms must still end).
 */
import { describe, expect, it } from 'vitest';
import { clockStartingAt } from '../../src/emulator/pinned-clock.js';

describe('clockStartingAt', () => {
  it('reads the pinned instant first, whenever that is, then moves on at the real pace', () => {
    let real = 1_000_000;
    const clock = clockStartingAt(Date.UTC(2026, 6, 15, 12), () => real);
    real += 5_000; // started later than the process: the first reading is still the pinned one
    expect(clock().toISOString()).toBe('2026-07-15T12:00:00.000Z');
    real += 1_500;
    expect(clock().toISOString()).toBe('2026-07-15T12:00:01.500Z');
    expect(clock().toISOString()).toBe('2026-07-15T12:00:01.500Z');
  });
});
