import { describe, expect, it } from 'vitest';
import { FaultInjector, mulberry32 } from '../../src/emulator/http/faults.js';

function draw(injector: FaultInjector, n: number) {
  return Array.from({ length: n }, () => injector.next());
}

describe('FaultInjector', () => {
  it('injects nothing at rate 0 and always at rate 1', () => {
    expect(draw(new FaultInjector({ rate: 0, seed: 1 }), 1000).every((f) => f === null)).toBe(true);
    expect(draw(new FaultInjector({ rate: 1, seed: 1 }), 1000).every((f) => f !== null)).toBe(true);
  });

  it('hits about the requested fraction, with every kind of fault', () => {
    const faults = draw(new FaultInjector({ rate: 0.1, seed: 7 }), 20_000).filter((f) => f !== null);
    expect(faults.length).toBeGreaterThan(1700);
    expect(faults.length).toBeLessThan(2300);
    const kinds = new Set(faults.map((f) => (f!.kind === 'drop' ? 'drop' : String(f!.status))));
    expect([...kinds].sort()).toEqual(['500', '502', '503', 'drop']);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = draw(new FaultInjector({ rate: 0.3, seed: 42 }), 200);
    const b = draw(new FaultInjector({ rate: 0.3, seed: 42 }), 200);
    const c = draw(new FaultInjector({ rate: 0.3, seed: 43 }), 200);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('changes rate at run time and rejects rates outside 0..1', () => {
    const injector = new FaultInjector({ rate: 0, seed: 1 });
    injector.rate = 1;
    expect(injector.next()).not.toBeNull();
    expect(() => (injector.rate = 1.5)).toThrow(RangeError);
    expect(() => new FaultInjector({ rate: -0.1, seed: 1 })).toThrow('from 0 to 1');
  });

  it('mulberry32 yields numbers in [0, 1)', () => {
    const random = mulberry32(123);
    for (let i = 0; i < 1000; i++) {
      const x = random();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });
});
