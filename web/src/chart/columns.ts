/**
 * Prometheus results -> uPlot's columnar data ([xs, ...ys], null for gaps). Pure functions:
 * the chart component only draws what these return. Times on the x axis are unix seconds.
 */

export type Labels = Record<string, string>;

/** One series of a Prometheus range query result (resultType "matrix"). */
export interface MatrixSeries {
  metric: Labels;
  values: [number, string][];
}

/** One sample of an instant query result (resultType "vector"). */
export interface VectorSample {
  metric: Labels;
  value: [number, string];
}

/** uPlot.AlignedData without the uPlot import, so helpers stay DOM-free. */
export type Columns = [number[], ...(number | null)[][]];

/** Prometheus sends values as strings ("1.5", "NaN", "+Inf"); non-finite values become gaps. */
export function parseValue(s: string): number | null {
  const v = Number(s);
  return Number.isFinite(v) ? v : null;
}

/**
 * Align matrix series on one x axis. With a grid (start/end/step, seconds, as sent to
 * query_range) every step gets a slot, so a missing sample becomes an explicit null and the
 * line breaks there. Without one, the union of all timestamps is used.
 */
export function matrixToColumns(series: readonly MatrixSeries[], grid?: { start: number; end: number; step: number }): Columns {
  if (grid && grid.step > 0 && grid.end >= grid.start) {
    const n = Math.floor((grid.end - grid.start) / grid.step + 1e-9) + 1;
    const xs = new Array<number>(n);
    for (let i = 0; i < n; i++) xs[i] = round3(grid.start + i * grid.step);
    const ys = series.map((s) => {
      const col = new Array<number | null>(n).fill(null);
      let aligned = true;
      for (const [t, v] of s.values) {
        const i = Math.round((t - grid.start) / grid.step);
        if (i < 0 || i >= n || Math.abs(xs[i] - t) > 0.0015) {
          aligned = false;
          continue;
        }
        col[i] = parseValue(v);
      }
      return aligned ? col : null;
    });
    // A series off the grid (a different step than asked): fall back to the union of times.
    if (ys.every((c) => c !== null)) return [xs, ...(ys as (number | null)[][])];
  }
  return unionColumns(series);
}

function unionColumns(series: readonly MatrixSeries[]): Columns {
  const set = new Set<number>();
  for (const s of series) for (const [t] of s.values) set.add(t);
  const xs = [...set].sort((a, b) => a - b);
  const index = new Map<number, number>();
  xs.forEach((t, i) => index.set(t, i));
  const ys = series.map((s) => {
    const col = new Array<number | null>(xs.length).fill(null);
    for (const [t, v] of s.values) col[index.get(t)!] = parseValue(v);
    return col;
  });
  return [xs, ...ys];
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The last non-null value of a column, or null when it has none. */
export function lastValue(col: readonly (number | null)[]): number | null {
  for (let i = col.length - 1; i >= 0; i--) if (col[i] !== null && col[i] !== undefined) return col[i];
  return null;
}

/** Label names whose value differs between series (or is missing in some): what tells them apart. */
export function distinctLabelNames(metrics: readonly Labels[]): string[] {
  if (metrics.length <= 1) return [];
  const names = new Set<string>();
  for (const m of metrics) for (const k of Object.keys(m)) names.add(k);
  const out: string[] = [];
  for (const k of names) {
    const first = metrics[0][k];
    if (metrics.some((m) => m[k] !== first)) out.push(k);
  }
  return out.sort();
}

/**
 * A series' legend label: a `{{label}}` template when the panel has one, otherwise the metric
 * name and the labels that differ between the panel's series, e.g. `{route="/cart", code="500"}`.
 */
export function legendLabel(metric: Labels, opts: { template?: string; distinct?: readonly string[]; fallback?: string } = {}): string {
  if (opts.template) {
    const out = opts.template.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*\}\}/g, (_, k: string) => metric[k] ?? '');
    if (out.trim()) return out;
  }
  const name = metric.__name__ ?? '';
  const keys = opts.distinct ?? Object.keys(metric).filter((k) => k !== '__name__').sort();
  const parts = keys.filter((k) => k !== '__name__' && metric[k] !== undefined).map((k) => `${k}="${metric[k]}"`);
  if (parts.length === 0) return name || opts.fallback || '{}';
  const showName = name && opts.distinct?.includes('__name__');
  return `${showName || !opts.distinct ? name : ''}{${parts.join(', ')}}`;
}

/** The [min, max] of all finite values in the y columns, or null when there are none. */
export function valueExtent(data: Columns): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (let s = 1; s < data.length; s++) {
    const col = data[s] as (number | null)[];
    for (let i = 0; i < col.length; i++) {
      const v = col[i];
      if (v === null) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : null;
}
