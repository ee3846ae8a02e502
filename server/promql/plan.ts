/**
 * The planner: which resolution a leaf reads (raw points or a rollup), and whether the first
 * aggregation above it can run in ClickHouse.
 *
 * A rollup bucket holds the samples in (end - resolution, end]. A leaf may read buckets instead
 * of samples when every window it evaluates, (t - range, t], is an exact union of buckets: the
 * evaluation times and the range are multiples of the resolution. Then the answer is the raw
 * answer up to float rounding (sum of sums instead of a sum of samples). Counter functions
 * additionally need no reset in the window; the rollup query flags windows with one and the
 * whole leaf is re-read from raw points (source.ts).
 *
 * Ranges older than raw retention have only rollups: there the planner reads them even when
 * windows are not aligned (a bucket counts in a window when its end does) rather than return
 * nothing.
 *
 * A rollup resolution reads rollup rows only of hours the rollup job has recorded as done and
 * not dirty since, and raw points for the other hours (server/rollups/sql.ts, rollupSource):
 * choosing a rollup never changes an answer, however far the job has got.
 */
import type { Aggregate, Expr } from './ast.js';
import { functionDef, isLeafFunction, keepsName as keepsNameOf, sqlForm } from './function-table.js';
import { alignedTo, RESOLUTION_MS, type AggregatePlan, type GridPlan, type Resolution } from './sql.js';

export interface PlanOptions {
  /** Never read rollups (the API's raw=true). */
  raw: boolean;
  /** Oldest time raw points are kept (now - RETENTION_DAYS), unix ms. */
  rawRetentionStart: number;
}

/**
 * Most windows one bucket may be copied to before raw samples are cheaper, for `delta`, which
 * has a grid function over raw samples (bench/query.ts, 10 s data). Functions without one
 * (sum/avg/min/max/count/first/present_over_time) have no such limit: over raw points they fold
 * samples into the same slices first (sql.ts) and copy those, so buckets only save the folding.
 */
const MAX_BUCKET_COPIES = 8;

/** Pick raw or a rollup for a leaf, and the SQL form that computes it. */
export function chooseResolution(p: GridPlan, opts: PlanOptions): GridPlan {
  const form = sqlForm(p.fn);
  const hasGrid = form.grid !== undefined;
  const rawPlan: GridPlan = { ...p, resolution: 'raw', form: hasGrid ? 'grid' : 'window' };
  if (opts.raw) return rawPlan;
  if (!form.rollup) return rawPlan;
  const from = p.start - p.window;
  // A bucket in overlapping windows is copied to every step that sees it. Measured in
  // bench/query.ts: for rate/increase (which also check every window for counter resets) that
  // costs more than ClickHouse's grid functions over the samples, so they read buckets only when
  // windows do not overlap; other functions gain up to a few copies per bucket.
  const copies = p.start === p.end ? 1 : Math.ceil(p.window / p.step);
  const affordable = functionDef(p.fn)?.counter ? copies <= 1 : hasGrid ? copies <= MAX_BUCKET_COPIES : true;
  for (const res of ['1h', '1m'] as const) {
    if (!alignedTo(p, RESOLUTION_MS[res])) continue;
    // Selection, timestamp() and last_over_time need a window's newest sample only: the grid
    // function over each bucket's last sample copies nothing, so any window size pays. Measured
    // (bench/query-profile.ts data, 5 h 30 m at 60 s, 5 m lookback, ClickHouse ms): 12 gauges
    // 9.2 vs 10.4 raw vs 16.6 buckets in windows; 120 series 13.3 vs 27.1 vs 34.5;
    // last_over_time(x[10m]) over 24 series 9.7 vs 12.8 raw vs 17.4.
    if (form.lastSample) return { ...p, resolution: res, form: 'grid' };
    // Other *_over_time stay on buckets at any number of copies: cheaper than raw in the same
    // runs at a 60 s step over 15 s samples (avg_over_time [5m] 12 gauges 14.8 vs 17.6 raw;
    // min_over_time [10m] 24 series 16.5 vs 23.4; max_over_time over 12 series, [5m] to [60m]
    // (5 to 60 copies): 16.9-20.7 vs 20.0-25.5; avg_over_time over 24, [5m] to [60m]: 22.7-32.1
    // vs 31.8-51.5).
    if (affordable) return { ...p, resolution: res, form: 'window' };
  }
  if (from < opts.rawRetentionStart) {
    // Only rollups hold this range: read them at the coarsest resolution the range allows.
    const res: Resolution = p.window >= RESOLUTION_MS['1h'] && p.step >= RESOLUTION_MS['1h'] ? '1h' : '1m';
    return { ...p, resolution: res, form: 'window' };
  }
  return rawPlan;
}

/** The first aggregation of an expression, when ClickHouse can compute it with its leaf. */
export function pushableAggregate(e: Aggregate): AggregatePlan | null {
  if (!['sum', 'avg', 'min', 'max', 'count', 'group'].includes(e.op)) return null;
  const inner = unparen(e.expr);
  let keepsName: boolean;
  let nameFixed: boolean;
  if (inner.kind === 'vector') {
    keepsName = true;
    nameFixed = true;
  } else if (inner.kind === 'call' && isLeafFunction(inner.func)) {
    const m = inner.args.find((a) => a.kind === 'matrix');
    if (!m || m.kind !== 'matrix') return null;
    keepsName = keepsNameOf(inner.func);
    // A function that drops the name may merge two metrics into one label set, which
    // Prometheus reports as an error before aggregating: only push down when one metric is read.
    nameFixed = keepsName || m.vector.matchers.some((x) => x.name === '__name__' && x.op === '=');
  } else return null;
  if (!nameFixed) return null;
  return { op: e.op as AggregatePlan['op'], grouping: e.grouping, without: e.without, keepsName };
}

function unparen(e: Expr): Expr {
  return e.kind === 'paren' ? unparen(e.expr) : e;
}
