import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FAULT_KINDS,
  FAULT_KINDS,
  FaultInjector,
  FaultSettingError,
  mulberry32,
  parseFaultKinds,
  type FaultDecision,
  type FaultInjectorOptions,
} from '../../src/emulator/http/faults.js';

function draw(injector: FaultInjector, n: number): (FaultDecision | null)[] {
  return Array.from({ length: n }, () => injector.next());
}

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000) {
  const clock = { ms: start, now: () => clock.ms };
  return clock;
}

function injector(o: Partial<FaultInjectorOptions> = {}) {
  return new FaultInjector({ seed: 1, ...o });
}

describe('FaultInjector: which requests and which kinds', () => {
  it('injects nothing at rate 0 and always at rate 1', () => {
    expect(draw(injector({ rate: 0 }), 1000).every((f) => f === null)).toBe(true);
    expect(draw(injector({ rate: 1 }), 1000).every((f) => f !== null)).toBe(true);
  });

  it('hits about the requested fraction', () => {
    const faults = draw(injector({ rate: 0.1, seed: 7 }), 20_000).filter((f) => f !== null);
    expect(faults.length).toBeGreaterThan(1700);
    expect(faults.length).toBeLessThan(2300);
  });

  it('defaults to today\'s kinds: 500, 502, 503 and drop', () => {
    expect(DEFAULT_FAULT_KINDS).toEqual(['500', '502', '503', 'drop']);
    expect(injector().report().kinds).toEqual(['500', '502', '503', 'drop']);
  });

  it('hands out the configured kinds round-robin, whatever the PRNG says', () => {
    const kinds = ['drop-after', '503', 'slow', 'drop'] as const;
    const faults = draw(injector({ rate: 0.3, seed: 11, kinds }), 400).filter((f) => f !== null);
    expect(faults.length).toBeGreaterThan(8);
    faults.forEach((f, i) => expect(f!.kind).toBe(kinds[i % kinds.length]));
  });

  it('sees every kind once there are as many faults as kinds', () => {
    const faults = draw(injector({ rate: 1, kinds: FAULT_KINDS, stormMs: 0 }), FAULT_KINDS.length);
    expect(faults.map((f) => f!.kind)).toEqual([...FAULT_KINDS]);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const o = { rate: 0.3, kinds: ['500', 'drop', 'slow'] as const };
    const a = draw(injector({ ...o, seed: 42 }), 200);
    const b = draw(injector({ ...o, seed: 42 }), 200);
    const c = draw(injector({ ...o, seed: 43 }), 200);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('chooses the same requests whatever the kinds (one draw per request)', () => {
    const hits = (kinds: readonly (typeof FAULT_KINDS)[number][]) =>
      draw(injector({ rate: 0.25, seed: 5, kinds, stormMs: 0 }), 300).map((f) => f !== null);
    expect(hits(['500'])).toEqual(hits(['drop-after', 'slow', '503']));
  });

  it('describes a slow fault with its delay', () => {
    expect(injector({ rate: 1, kinds: ['slow'], slowMs: 1234 }).next()).toEqual({ kind: 'slow', delayMs: 1234 });
    expect(injector({ rate: 1, kinds: ['slow'] }).next()).toEqual({ kind: 'slow', delayMs: 1500 });
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

describe('FaultInjector: 429 storms (fake clock)', () => {
  it('answers every request 429 for stormMs, with Retry-After counting down, then ends', () => {
    const clock = fakeClock();
    // Rate 1 with only 429: every request outside a storm would start a new one.
    const faults = injector({ rate: 1, kinds: ['429'], stormMs: 2_500, now: clock.now });
    expect(faults.next()).toEqual({ kind: '429', storm: true, retryAfterSeconds: 3 });
    expect(faults.next()).toEqual({ kind: '429', storm: false, retryAfterSeconds: 3 });
    clock.ms += 600; // 1.9 s left
    expect(faults.next()).toEqual({ kind: '429', storm: false, retryAfterSeconds: 2 });
    clock.ms += 1_000; // 0.9 s left
    expect(faults.next()).toEqual({ kind: '429', storm: false, retryAfterSeconds: 1 });
    clock.ms += 899; // 1 ms left: still at least 1 second
    expect(faults.next()).toEqual({ kind: '429', storm: false, retryAfterSeconds: 1 });
    clock.ms += 1; // over: the next request draws again and starts a new storm
    expect(faults.next()).toEqual({ kind: '429', storm: true, retryAfterSeconds: 3 });
    expect(faults.report().injected).toMatchObject({ '429': 2, throttled: 4 });
  });

  it('does not draw inside a storm, so the requests after it fail as if it had not been there', () => {
    const clock = fakeClock();
    const kinds = ['429', '500'] as const;
    const stormy = injector({ rate: 0.5, seed: 9, kinds, stormMs: 1_000, now: clock.now });
    const calm = injector({ rate: 0.5, seed: 9, kinds, stormMs: 0, now: clock.now });
    // Up to the first hit, which starts a storm (the round-robin starts at 429).
    let requests = 0;
    while (stormy.next() === null) requests += 1;
    expect(requests).toBeLessThan(50);
    draw(calm, requests + 1);
    for (let i = 0; i < 5; i++) expect(stormy.next()).toMatchObject({ kind: '429', storm: false });
    expect(stormy.report().injected.throttled).toBe(5);
    // Each later request comes after the storm it may have started has ended.
    const tail = (faults: FaultInjector) => Array.from({ length: 60 }, () => ((clock.ms += 1_000), faults.next()));
    const stormyTail = tail(stormy);
    expect(stormyTail.filter((f) => f?.kind === '429').length).toBeGreaterThan(3);
    expect(stormyTail).toEqual(tail(calm));
  });

  it('a storm of 0 ms throttles only the request that started it', () => {
    const clock = fakeClock();
    const faults = injector({ rate: 1, kinds: ['429', '500'], stormMs: 0, now: clock.now });
    expect(faults.next()).toEqual({ kind: '429', storm: true, retryAfterSeconds: 1 });
    expect(faults.next()).toEqual({ kind: '500' });
  });

  it('a storm applies even after the rate is set to 0', () => {
    const clock = fakeClock();
    const faults = injector({ rate: 1, kinds: ['429'], stormMs: 5_000, now: clock.now });
    faults.next();
    faults.update({ rate: 0 });
    expect(faults.next()).toMatchObject({ kind: '429', storm: false, retryAfterSeconds: 5 });
    clock.ms += 5_000;
    expect(faults.next()).toBeNull();
  });
});

describe('FaultInjector: counters', () => {
  it('counts each kind injected, throttled requests and cancelled jobs', () => {
    const clock = fakeClock();
    const faults = injector({ rate: 1, kinds: [...FAULT_KINDS], stormMs: 1_000, jobFailRate: 1, now: clock.now });
    draw(faults, 7); // one of each, the last starts a storm
    draw(faults, 3); // inside the storm
    clock.ms += 1_000;
    draw(faults, 2); // 500, 502
    faults.nextJobFails();
    faults.nextJobFails();
    expect(faults.report().injected).toEqual({
      '500': 2, '502': 2, '503': 1, drop: 1, 'drop-after': 1, slow: 1, '429': 1, throttled: 3, 'job-cancelled': 2,
    });
    faults.clearCounts();
    expect(Object.values(faults.report().injected).every((n) => n === 0)).toBe(true);
  });

  it('reports the settings', () => {
    const faults = injector({ rate: 0.2, kinds: ['slow', '429'], slowMs: 10, stormMs: 20, jobFailRate: 0.3 });
    expect(faults.report()).toMatchObject({ rate: 0.2, kinds: ['slow', '429'], slowMs: 10, stormMs: 20, jobFailRate: 0.3 });
    expect(injector().report()).toMatchObject({ rate: 0, slowMs: 1500, stormMs: 2000, jobFailRate: 0 });
  });
});

describe('FaultInjector: job faults', () => {
  it('cancels about jobFailRate of the jobs, deterministically', () => {
    const fails = (seed: number) => {
      const faults = injector({ seed, jobFailRate: 0.3 });
      return Array.from({ length: 2_000 }, () => faults.nextJobFails());
    };
    const a = fails(4);
    expect(a).toEqual(fails(4));
    expect(a).not.toEqual(fails(5));
    const n = a.filter(Boolean).length;
    expect(n).toBeGreaterThan(500);
    expect(n).toBeLessThan(700);
  });

  it('never cancels at 0 and always at 1', () => {
    const none = injector({ jobFailRate: 0 });
    const all = injector({ jobFailRate: 1 });
    for (let i = 0; i < 100; i++) {
      expect(none.nextJobFails()).toBe(false);
      expect(all.nextJobFails()).toBe(true);
    }
  });

  it('draws from its own stream: job draws do not shift the request faults', () => {
    const plain = injector({ rate: 0.3, seed: 8 });
    const withJobs = injector({ rate: 0.3, seed: 8, jobFailRate: 0.5 });
    const a: (FaultDecision | null)[] = [];
    const b: (FaultDecision | null)[] = [];
    for (let i = 0; i < 200; i++) {
      a.push(plain.next());
      if (i % 3 === 0) withJobs.nextJobFails();
      b.push(withJobs.next());
    }
    expect(b).toEqual(a);
  });
});

describe('FaultInjector: settings and validation', () => {
  it('changes only the fields given, and restarts the round-robin on new kinds', () => {
    const faults = injector({ rate: 1, kinds: ['500', '502', '503'] });
    expect(faults.next()).toEqual({ kind: '500' });
    faults.update({ slowMs: 5 });
    expect(faults.report()).toMatchObject({ rate: 1, kinds: ['500', '502', '503'], slowMs: 5 });
    expect(faults.next()).toEqual({ kind: '502' });
    faults.update({ kinds: ['drop', 'slow'] });
    expect(draw(faults, 3).map((f) => f!.kind)).toEqual(['drop', 'slow', 'drop']);
  });

  it('refuses out-of-range values, naming the field; nothing changes when one field is invalid', () => {
    const faults = injector({ rate: 0.5 });
    const refused = (settings: Parameters<FaultInjector['update']>[0]) => {
      try {
        faults.update(settings);
      } catch (err) {
        expect(err).toBeInstanceOf(FaultSettingError);
        return { field: (err as FaultSettingError).field, message: (err as Error).message };
      }
      throw new Error(`accepted ${JSON.stringify(settings)}`);
    };
    expect(refused({ rate: 1.5 })).toEqual({ field: 'rate', message: expect.stringContaining('from 0 to 1') });
    expect(refused({ rate: Number.NaN }).field).toBe('rate');
    expect(refused({ jobFailRate: -0.1 })).toEqual({ field: 'jobFailRate', message: expect.stringContaining('from 0 to 1') });
    expect(refused({ slowMs: -1 })).toEqual({ field: 'slowMs', message: expect.stringContaining('whole number') });
    expect(refused({ stormMs: 1.5 }).field).toBe('stormMs');
    expect(refused({ stormMs: 600_001 }).field).toBe('stormMs');
    expect(refused({ kinds: [] }).field).toBe('kinds');
    expect(refused({ kinds: ['500', 'teapot'] as never })).toEqual({ field: 'kinds', message: expect.stringContaining("unknown fault kind 'teapot'; allowed: 500, 502, 503, drop, drop-after, slow, 429") });
    expect(refused({ kinds: ['500', '500'] }).message).toContain('must not repeat');
    expect(refused({ rate: 0.1, slowMs: -5 }).field).toBe('slowMs');
    expect(faults.rate).toBe(0.5);
    expect(() => injector({ rate: -0.1 })).toThrow('from 0 to 1');
    expect(() => injector({ kinds: ['nope'] as never })).toThrow(FaultSettingError);
  });

  it('parses kinds from the command line: a comma list or all', () => {
    expect(parseFaultKinds('all')).toEqual([...FAULT_KINDS]);
    expect(parseFaultKinds(' 500, drop-after ,429')).toEqual(['500', 'drop-after', '429']);
    expect(() => parseFaultKinds('500,,drop')).toThrow("unknown fault kind ''");
    expect(() => parseFaultKinds('timeout')).toThrow(/allowed: .*\(or all\)/);
  });
});
