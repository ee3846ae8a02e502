import { useEffect, useRef, useState } from 'preact/hooks';
import { isAbort } from './api/client.js';

/** Result of an async load: data (kept while reloading), error, and whether a load is running. */
export interface Async<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Run `fn` when deps change (and every `pollMs` when given), aborting the previous run.
 * The last good data stays visible while a reload runs.
 */
export function useAsync<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[], pollMs?: number): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    const ac = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    fnRef.current(ac.signal).then(
      (data) => !ac.signal.aborted && setState({ data, loading: false }),
      (error) => !ac.signal.aborted && !isAbort(error) && setState((s) => ({ data: s.data, error, loading: false })),
    );
    let timer: number | undefined;
    if (pollMs) timer = window.setTimeout(() => setTick((t) => t + 1), pollMs);
    return () => {
      ac.abort();
      if (timer) clearTimeout(timer);
    };
  }, [...deps, tick, pollMs]);
  return { ...state, reload: () => setTick((t) => t + 1) } as Async<T>;
}

/** Set document.title for a page. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Metronome` : 'Metronome';
  }, [title]);
}

/** A value that only updates after `ms` without change (search boxes). */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

/** The previous value while the new one is deep-equal (as JSON): polling does not re-render unchanged data. */
export function useStable<T>(value: T): T {
  const ref = useRef<{ v: T; json: string } | null>(null);
  const json = JSON.stringify(value) ?? '';
  if (!ref.current || ref.current.json !== json) ref.current = { v: value, json };
  return ref.current.v;
}
