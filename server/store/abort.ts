/**
 * Many reads share one signal: a PromQL query's leaves and chunks all read under its budget's
 * signal, and a query with a dozen selectors has a dozen reads waiting for the embedded store's
 * read session at once. A listener per read on that signal passed Node's limit of 10 and logged
 * `MaxListenersExceededWarning` (254 in an hour of dashboard use, issue 14). Here a signal gets
 * one listener however many reads wait on it, removed when the last of them is done.
 */

interface Waiters {
  fns: Set<() => void>;
  fire: () => void;
}

const WAITING = new WeakMap<AbortSignal, Waiters>();

/**
 * Call `fn` once when `signal` aborts; the returned function forgets it. The signal carries one
 * 'abort' listener for all callers, and none once every caller has forgotten (or it fired).
 */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  let w = WAITING.get(signal);
  if (!w) {
    const fns = new Set<() => void>();
    const fire = () => {
      WAITING.delete(signal);
      for (const f of fns) f();
      fns.clear();
    };
    w = { fns, fire };
    WAITING.set(signal, w);
    signal.addEventListener('abort', fire, { once: true });
  }
  const waiters = w;
  waiters.fns.add(fn);
  return () => {
    if (!waiters.fns.delete(fn) || waiters.fns.size > 0) return;
    signal.removeEventListener('abort', waiters.fire);
    if (WAITING.get(signal) === waiters) WAITING.delete(signal);
  };
}

/**
 * A signal of one read's own, aborted with `parent`'s reason, so whatever the transport hangs on
 * it (@clickhouse/client's request, chdb's wait) does not land on the shared parent. Call
 * `done()` when the read has settled.
 */
export function readSignal(parent: AbortSignal | undefined): { signal: AbortSignal | undefined; done: () => void } {
  if (!parent) return { signal: undefined, done: () => {} };
  const ac = new AbortController();
  if (parent.aborted) {
    ac.abort(parent.reason);
    return { signal: ac.signal, done: () => {} };
  }
  const off = onAbort(parent, () => ac.abort(parent.reason));
  return { signal: ac.signal, done: off };
}
