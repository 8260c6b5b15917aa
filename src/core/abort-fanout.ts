/**
 * One 'abort' listener per signal, however many waiters share it.
 *
 * klv hangs every request, retry wait and queue slot of a run on one signal (Ctrl-C). A listener
 * each would mean dozens on one signal during a 429 storm with 16 cursors, and Node warns
 * ("MaxListenersExceededWarning: Possible EventTarget memory leak") above 10, on the user's
 * terminal. So each signal gets a single listener that calls the callbacks registered now.
 */
const callbacksBySignal = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `callback` once when `signal` aborts (at once, synchronously, if it already has).
 * Returns the function that unregisters it: call it when the wait ends another way.
 */
export function onAbort(signal: AbortSignal | undefined, callback: () => void): () => void {
  if (!signal) return () => {};
  if (signal.aborted) {
    callback();
    return () => {};
  }
  let callbacks = callbacksBySignal.get(signal);
  if (!callbacks) {
    const created = new Set<() => void>();
    callbacks = created;
    callbacksBySignal.set(signal, created);
    signal.addEventListener(
      'abort',
      () => {
        const due = [...created];
        created.clear();
        for (const fn of due) fn();
      },
      { once: true },
    );
  }
  // A wrapper per registration: the same function registered twice must run twice.
  const entry = () => callback();
  const registered = callbacks;
  registered.add(entry);
  return () => {
    registered.delete(entry);
  };
}
