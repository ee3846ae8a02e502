import { parseValue, type MatrixSeries } from '../chart/columns.js';

/**
 * Prometheus histogram buckets (one series per `le`, cumulative, typically
 * `sum by (le) (rate(x_bucket[...]))`) as heatmap cells: per time step, the count in each bucket
 * alone (cumulative minus the bucket below). Pure; the heatmap panel only draws.
 */

export interface Heatmap {
  /** Unix seconds of each column. */
  times: number[];
  /** Upper bounds, ascending (+Inf last). */
  bounds: number[];
  /** counts[bucket][time]; null where the step has no sample. */
  counts: (number | null)[][];
  max: number;
}

export function bucketsToHeatmap(series: readonly MatrixSeries[]): Heatmap {
  const withLe = series
    .map((s) => ({ le: s.metric.le === '+Inf' ? Infinity : Number(s.metric.le), values: s.values }))
    .filter((s) => s.le === Infinity || Number.isFinite(s.le))
    .sort((a, b) => a.le - b.le);
  // Several series with one le (another label left in) add up.
  const byLe = new Map<number, Map<number, number>>();
  const times = new Set<number>();
  for (const s of withLe) {
    const m = byLe.get(s.le) ?? new Map<number, number>();
    for (const [t, v] of s.values) {
      const x = parseValue(v);
      if (x === null) continue;
      m.set(t, (m.get(t) ?? 0) + x);
      times.add(t);
    }
    byLe.set(s.le, m);
  }
  const bounds = [...byLe.keys()].sort((a, b) => a - b);
  const ts = [...times].sort((a, b) => a - b);
  let max = 0;
  const counts = bounds.map((le, i) => {
    const cur = byLe.get(le)!;
    const below = i > 0 ? byLe.get(bounds[i - 1])! : null;
    return ts.map((t) => {
      const c = cur.get(t);
      if (c === undefined) return null;
      const v = Math.max(0, c - (below?.get(t) ?? 0));
      if (v > max) max = v;
      return v;
    });
  });
  return { times: ts, bounds, counts, max };
}
