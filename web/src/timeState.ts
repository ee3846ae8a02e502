import { useEffect, useMemo, useState } from 'preact/hooks';
import { chooseStep, DEFAULT_RANGE, isRelative, queryGrid, resolveRange, type RangeSpec } from './chart/range.js';
import { REFRESH_OPTIONS } from './components/TimeRangePicker.js';
import { setQuery, useLocation } from './router.js';

export interface TimeState {
  spec: RangeSpec;
  setSpec: (r: RangeSpec) => void;
  refresh: string;
  setRefresh: (v: string) => void;
  /** The query grid (unix seconds) for the current range and moment. */
  grid: { start: number; end: number; step: number };
  /** Re-resolve a relative range against the clock and refetch. */
  reload: () => void;
}

/**
 * The time range, query step and auto-refresh of a page, held in the URL (from, to, refresh),
 * so a link reproduces the view.
 */
export function useTimeState(points = 300): TimeState {
  const loc = useLocation();
  const spec: RangeSpec = { from: loc.query.get('from') ?? DEFAULT_RANGE.from, to: loc.query.get('to') ?? DEFAULT_RANGE.to };
  const refresh = loc.query.get('refresh') ?? 'off';
  const [tick, setTick] = useState(0);
  const relative = isRelative(spec);
  const grid = useMemo(() => {
    const r = resolveRange(spec, Date.now());
    return queryGrid(r, chooseStep(r.start, r.end, points));
  }, [spec.from, spec.to, tick, points]);

  useEffect(() => {
    const ms = REFRESH_OPTIONS.find((o) => o.value === refresh)?.ms ?? 0;
    if (!ms || !relative) return;
    const t = setInterval(() => {
      // A hidden tab does not refresh; it catches up when shown.
      if (document.visibilityState === 'visible') setTick((x) => x + 1);
    }, ms);
    return () => clearInterval(t);
  }, [refresh, relative]);

  return {
    spec,
    setSpec: (r) => setQuery({ from: r.from === DEFAULT_RANGE.from && r.to === 'now' ? null : r.from, to: r.to === 'now' ? null : r.to }),
    refresh,
    setRefresh: (v) => setQuery({ refresh: v === 'off' ? null : v }, { replace: true }),
    grid,
    reload: () => setTick((x) => x + 1),
  };
}
