import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { onAbort } from '../../src/core/abort-fanout.js';

describe('onAbort', () => {
  it('hangs one listener on a signal however many waiters register, and calls each once', () => {
    const ac = new AbortController();
    const calls: number[] = [];
    for (let i = 0; i < 50; i++) onAbort(ac.signal, () => calls.push(i));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    ac.abort();
    expect(calls).toHaveLength(50);
    expect(new Set(calls).size).toBe(50);
  });

  it('does not call a callback that was unregistered (its wait ended another way)', () => {
    const ac = new AbortController();
    const calls: string[] = [];
    const unlink = onAbort(ac.signal, () => calls.push('gone'));
    onAbort(ac.signal, () => calls.push('kept'));
    unlink();
    ac.abort();
    expect(calls).toEqual(['kept']);
  });

  it('calls at once when the signal has already aborted, and registers nothing', () => {
    const ac = new AbortController();
    ac.abort();
    let called = 0;
    onAbort(ac.signal, () => called++);
    expect(called).toBe(1);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('runs the same function registered twice twice, and does nothing without a signal', () => {
    const ac = new AbortController();
    let called = 0;
    const fn = () => called++;
    onAbort(ac.signal, fn);
    onAbort(ac.signal, fn);
    onAbort(undefined, fn)();
    ac.abort();
    expect(called).toBe(2);
  });
});
