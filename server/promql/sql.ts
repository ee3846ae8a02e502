/**
 * The SQL the query engine sends to ClickHouse, built only through server/store/sql.ts. Pure
 * functions of a plan (no store access) so their output can be asserted in unit tests.
 *
 * A leaf (an instant selector, or a range function over a range selector) becomes one query
 * whose rows are (series_id, v Array(Nullable(Float64)) with one slot per step, NULL where the
 * series is absent, reset UInt8). Two ways to compute it:
 *  - grid: ClickHouse's timeSeries*ToGrid aggregate functions over raw points, which implement
 *    Prometheus' semantics (lookback, left-open windows, counter resets, extrapolation);
 *  - window: every stored row (a raw point, or a rollup bucket named by its end) is assigned to
 *    the steps whose window (t - range, t] holds it, and the window is aggregated per step.
 *    Over rollups this reads one row per series-minute (or hour) instead of every sample.
 * The first aggregation (sum/avg/min/max/count/group by labels) can wrap either, so only one
 * row per group comes back.
 */
import type { Matcher } from './selector.js';
import { seriesWhere } from '../series/lookup.js';
import { join, param, raw, sql, type Sql } from '../store/index.js';

/** Settings every engine query runs with. */
export const QUERY_SETTINGS = {
  allow_experimental_ts_to_grid_aggregate_function: 1,
  // NaN and ±Inf must stay distinguishable from NULL (absent).
  output_format_json_quote_denormals: 1,
} as const;

/** The grid functions, by the PromQL function they compute. `sample` is instant-vector selection. */
export const GRID_FUNCTIONS = {
  sample: 'timeSeriesResampleToGridWithStaleness',
  /** The timestamp (seconds) of the sample instant-vector selection picks: timestamp(x). */
  timestamp: 'timeSeriesResampleToGridWithStaleness',
  rate: 'timeSeriesRateToGrid',
  increase: 'timeSeriesIncreaseToGrid',
  delta: 'timeSeriesDeltaToGrid',
  irate: 'timeSeriesInstantRateToGrid',
  idelta: 'timeSeriesInstantDeltaToGrid',
  deriv: 'timeSeriesDerivToGrid',
  changes: 'timeSeriesChangesToGrid',
  resets: 'timeSeriesResetsToGrid',
  last_over_time: 'timeSeriesLastToGrid',
  predict_linear: 'timeSeriesPredictLinearToGrid',
} as const;

/**
 * Functions the window form computes, and whether rollup buckets hold what they need.
 * Counter functions need "no reset inside the window" to be exact from buckets; rows flag it.
 */
export const WINDOW_FUNCTIONS = {
  sample: { rollup: true },
  timestamp: { rollup: true },
  last_over_time: { rollup: true },
  first_over_time: { rollup: true },
  count_over_time: { rollup: true },
  sum_over_time: { rollup: true },
  avg_over_time: { rollup: true },
  min_over_time: { rollup: true },
  max_over_time: { rollup: true },
  present_over_time: { rollup: true },
  rate: { rollup: true },
  increase: { rollup: true },
  delta: { rollup: true },
  stddev_over_time: { rollup: false },
  stdvar_over_time: { rollup: false },
} as const;

export type GridFunction = keyof typeof GRID_FUNCTIONS;
export type WindowFunction = keyof typeof WINDOW_FUNCTIONS;
export type LeafFunction = GridFunction | WindowFunction;

/** Where a leaf reads: raw points, or a rollup table. */
export type Resolution = 'raw' | '1m' | '1h';

export const RESOLUTION_MS: Record<Exclude<Resolution, 'raw'>, number> = { '1m': 60_000, '1h': 3_600_000 };

/** A series selection over a time span: which series, and which points (from, to] of them. */
export interface Selection {
  matchers: Matcher[];
  /** Exclusive lower bound of point timestamps, unix ms. */
  from: number;
  /** Inclusive upper bound, unix ms. */
  to: number;
}

export interface GridPlan {
  fn: LeafFunction;
  matchers: Matcher[];
  /** First and last evaluation time (unix ms) and step. */
  start: number;
  end: number;
  step: number;
  /** Lookback (sample) or range window, ms. */
  window: number;
  /** predict_linear's `t` in seconds. */
  arg?: number;
  /** Chosen by plan.ts; raw when absent. */
  resolution?: Resolution;
  /** Compute with the window form even over raw points (functions without a grid function). */
  form?: 'grid' | 'window';
}

/** The first aggregation, pushed into the leaf's query. */
export interface AggregatePlan {
  op: 'sum' | 'avg' | 'min' | 'max' | 'count' | 'group';
  grouping: string[];
  without: boolean;
  /** Whether the leaf's result still carries the metric name (selection, last_over_time). */
  keepsName: boolean;
}

/**
 * How much earlier than a series' last recorded sighting it may still have points: the writer
 * refreshes series.last_seen at most hourly (server/writer.ts), so pad by more than that.
 */
const LAST_SEEN_SLACK_MS = 2 * 3_600_000;

export function stepCount(p: { start: number; end: number; step: number }): number {
  return Math.round((p.end - p.start) / p.step) + 1;
}

/** ids of the series matching the matchers that may have points in (from, to]. */
export function seriesIdsSql(matchers: Matcher[], from: number, to: number): Sql {
  return sql`SELECT series_id FROM series WHERE ${seriesWhere([matchers], { start: from - LAST_SEEN_SLACK_MS, end: to })}`;
}

/** The series (id, name, tags) a selection reads, one row each; `limit` guards MAX_SERIES. */
export function seriesSql(sel: Selection, limit: number): Sql {
  return sql`SELECT toString(series_id) AS id, key, tags FROM series
    WHERE ${seriesWhere([sel.matchers], { start: sel.from - LAST_SEEN_SLACK_MS, end: sel.to })}
    ORDER BY series_id LIMIT 1 BY series_id LIMIT ${param('UInt64', BigInt(limit))}`;
}

/** How many series a selection reads, counting at most `limit` (MAX_SERIES + 1). */
export function seriesCountSql(sel: Selection, limit: number): Sql {
  return sql`SELECT count() AS n FROM (SELECT series_id FROM series
    WHERE ${seriesWhere([sel.matchers], { start: sel.from - LAST_SEEN_SLACK_MS, end: sel.to })}
    GROUP BY series_id LIMIT ${param('UInt64', BigInt(limit))})`;
}

function ms(v: number): Sql {
  return sql`fromUnixTimestamp64Milli(${param('Int64', Math.round(v))}, 'UTC')`;
}

function int(v: number): Sql {
  return sql`${param('Int64', Math.round(v))}`;
}

/** Seconds as an exact Decimal64(3), the type the grid functions take for step and window. */
function secs(v: number): Sql {
  return sql`toDecimal64(${param('String', (Math.round(v) / 1000).toFixed(3))}, 3)`;
}

/** Filter on rows of a selection, using the primary key (series_id, ts). */
function rowsWhere(matchers: Matcher[], from: number, to: number): Sql {
  return sql`series_id IN (${seriesIdsSql(matchers, from, to)}) AND ts > ${ms(from)} AND ts <= ${ms(to)}`;
}

/** A leaf: rows (series_id, v, reset) per series. */
export function leafSql(p: GridPlan): Sql {
  const res = p.resolution ?? 'raw';
  if (res === 'raw' && (p.form ?? 'grid') === 'grid' && p.fn in GRID_FUNCTIONS) return rawGridSql(p);
  return windowSql(p, res);
}

function rawGridSql(p: GridPlan): Sql {
  const fn = raw(GRID_FUNCTIONS[p.fn as GridFunction]);
  const params =
    p.fn === 'predict_linear'
      ? sql`${ms(p.start)}, ${ms(p.end)}, ${secs(p.step)}, ${secs(p.window)}, ${param('Float64', p.arg ?? 0)}`
      : sql`${ms(p.start)}, ${ms(p.end)}, ${secs(p.step)}, ${secs(p.window)}`;
  const input = p.fn === 'timestamp' ? raw('toFloat64(toUnixTimestamp64Milli(ts)) / 1000') : raw('value');
  let value = sql`${fn}(${params})(ts, ${input})`;
  // ClickHouse's deriv is per millisecond of DateTime64(3); Prometheus' is per second.
  if (p.fn === 'deriv') value = sql`arrayMap(x -> x * 1000, ${value})`;
  return sql`SELECT series_id, ${value} AS v, toUInt8(0) AS reset
    FROM points
    WHERE ${rowsWhere(p.matchers, p.start - p.window, p.end)}
    GROUP BY series_id`;
}

/** Rows of a source as buckets: (series_id, b = bucket end ms, cnt, sm, mn, mx, fts, fv, lts, lv, dr). */
function bucketsSql(p: GridPlan, res: Resolution): Sql {
  const where = rowsWhere(p.matchers, p.start - p.window, p.end);
  if (res === 'raw') {
    return sql`SELECT series_id, toUnixTimestamp64Milli(ts) AS b, toUInt64(1) AS c, value AS sm, value AS mn, value AS mx,
        b AS fts, value AS fv, b AS lts, value AS lv, 0. AS dr
      FROM points WHERE ${where}`;
  }
  const table = raw(res === '1m' ? 'rollup_1m' : 'rollup_1h');
  // Parts not merged yet may hold several rows per bucket: merge them first.
  return sql`SELECT series_id, toUnixTimestamp64Milli(bts) AS b, sum(cnt) AS c, sum(s) AS sm, min(vmin) AS mn, max(vmax) AS mx,
        toUnixTimestamp64Milli(min(first_ts)) AS fts, argMinMerge(f) AS fv,
        toUnixTimestamp64Milli(max(last_ts)) AS lts, argMaxMerge(l) AS lv, deltaSumTimestampMerge(d) AS dr
      FROM (SELECT series_id, ts AS bts, cnt, sum AS s, min AS vmin, max AS vmax, first_ts, last_ts, first AS f, last AS l, drops AS d
        FROM ${table} WHERE ${where})
      GROUP BY series_id, bts`;
}

/**
 * Prometheus' extrapolatedRate over a window's first/last sample, sample count and range
 * (promql/functions.go). Assumes the window had no counter reset (rows flag windows that did).
 */
function extrapolatedSql(counter: boolean, isRate: boolean, windowSec: number): string {
  const result = '(wlv - wfv)';
  const toZero = counter ? `if(${result} > 0 AND wfv >= 0, sampled * (wfv / ${result}), inf)` : 'inf';
  const toStart = `least(if((wfts - lo) / 1000 >= avg_gap * 1.1, avg_gap / 2, (wfts - lo) / 1000), ${toZero})`;
  const toEnd = `if((t - wlts) / 1000 >= avg_gap * 1.1, avg_gap / 2, (t - wlts) / 1000)`;
  return `if(wn < 2, NULL, ${result} * ((sampled + ${toStart} + ${toEnd}) / sampled${isRate ? ` / ${windowSec}` : ''}))`;
}

/** Per-window value expression of a window function, over the window's aggregates. */
function windowValueSql(p: GridPlan): string {
  const w = p.window / 1000;
  switch (p.fn) {
    case 'sample':
    case 'last_over_time':
      return 'wlv';
    case 'first_over_time':
      return 'wfv';
    case 'timestamp':
      return 'wlts / 1000';
    case 'count_over_time':
      return 'toFloat64(wn)';
    case 'sum_over_time':
      return 'wsm';
    case 'avg_over_time':
      return 'wsm / wn';
    case 'min_over_time':
      return 'wmn';
    case 'max_over_time':
      return 'wmx';
    case 'present_over_time':
      return '1.';
    case 'stddev_over_time':
      return 'sd';
    case 'stdvar_over_time':
      return 'sv';
    case 'rate':
      return extrapolatedSql(true, true, w);
    case 'increase':
      return extrapolatedSql(true, false, w);
    case 'delta':
      return extrapolatedSql(false, false, w);
    default:
      throw new Error(`${p.fn} has no window form`);
  }
}

/** The window form: rows from bucketsSql assigned to every step whose window holds them. */
function windowSql(p: GridPlan, res: Resolution): Sql {
  const n = stepCount(p);
  const counter = p.fn === 'rate' || p.fn === 'increase';
  const stats = p.fn === 'stddev_over_time' || p.fn === 'stdvar_over_time';
  const S = int(p.start);
  const P = int(p.step);
  const W = int(p.window);
  // A row with bucket end b belongs to step i when t_i - W < b <= t_i.
  const steps = sql`arrayJoin(range(toUInt64(greatest(0, toInt64(ceil((b - ${S}) / ${P})))), toUInt64(least(${int(n)}, greatest(0, toInt64(ceil((b - ${S} + ${W}) / ${P})))))))`;
  // A counter window is exact from buckets only without a decrease inside a bucket or between two.
  const reset = counter
    ? `toUInt8(sum(dr) > 0 OR arrayExists((x, y) -> x.3 > y.2, arrayPopBack(arraySort(groupArray((fts, fv, lv)))), arrayPopFront(arraySort(groupArray((fts, fv, lv))))))`
    : 'toUInt8(0)';
  const value = raw(windowValueSql(p));
  return sql`SELECT series_id,
      arrayMap((x, h) -> if(h = 1, x, NULL), groupArrayInsertAt(0., ${int(n)})(assumeNotNull(val), i), groupArrayInsertAt(toUInt8(0), ${int(n)})(toUInt8(1), i)) AS v,
      max(rst) AS reset
    FROM (
      SELECT series_id, i, ${value} AS val, rst FROM (
        SELECT series_id, i, ${S} + i * ${P} AS t, t - ${W} AS lo, sum(c) AS wn, sum(sm) AS wsm, min(mn) AS wmn, max(mx) AS wmx,
          min(fts) AS wfts, argMin(fv, fts) AS wfv, max(lts) AS wlts, argMax(lv, lts) AS wlv,
          (wlts - wfts) / 1000 AS sampled, sampled / (wn - 1) AS avg_gap,
          ${raw(stats ? 'varPopStable(sm) AS sv, sqrt(sv) AS sd,' : '')}
          ${raw(reset)} AS rst
        FROM (SELECT *, ${steps} AS i FROM (${bucketsSql(p, res)}))
        GROUP BY series_id, i
      )
      WHERE val IS NOT NULL
    )
    GROUP BY series_id`;
}

/** Per-series leaf results with string ids, for the evaluator. */
export function gridSql(p: GridPlan): Sql {
  return sql`SELECT toString(series_id) AS id, v, reset FROM (${leafSql(p)})`;
}

const AGG_FOR_EACH: Record<AggregatePlan['op'], string> = {
  sum: 'sumKahanForEach(v)',
  avg: 'avgForEach(v)',
  min: 'minForEach(v)',
  max: 'maxForEach(v)',
  count: 'arrayMap(c -> if(c = 0, NULL, toFloat64(c)), countForEach(v))',
  group: 'arrayMap(c -> if(c = 0, NULL, 1.), countForEach(v))',
};

/**
 * The leaf aggregated by label groups in ClickHouse: rows (k, v, reset), where k is the values
 * of the `by` labels in order, or the remaining [name, value] pairs for `without`.
 */
export function aggregateSql(p: GridPlan, a: AggregatePlan): Sql {
  const labels = param('Array(String)', a.grouping);
  const key = a.without
    ? sql`arraySort(arrayFilter(kv -> kv.2 != '' AND NOT has(${labels}, kv.1), CAST(tags, 'Array(Tuple(String, String))')))`
    : a.keepsName
      ? sql`arrayMap(l -> if(l = '__name__', key, tags[l]), ${labels})`
      : sql`arrayMap(l -> if(l = '__name__', '', tags[l]), ${labels})`;
  return sql`SELECT ${key} AS k, ${raw(AGG_FOR_EACH[a.op])} AS v, max(reset) AS reset
    FROM (${leafSql(p)}) AS l
    INNER JOIN (SELECT series_id, any(key) AS key, any(tags) AS tags FROM series
      WHERE series_id IN (${seriesIdsSql(p.matchers, p.start - p.window, p.end)}) GROUP BY series_id) AS s
    USING series_id
    GROUP BY k`;
}

/** Raw samples of a selection: rows (id, t Array(Float64) ms, v Array(Float64)) per series. */
export function samplesSql(sel: Selection): Sql {
  return sql`SELECT toString(series_id) AS id,
      groupArray(toFloat64(toUnixTimestamp64Milli(ts))) AS t, groupArray(value) AS v
    FROM (SELECT series_id, ts, value FROM points WHERE ${rowsWhere(sel.matchers, sel.from, sel.to)} ORDER BY series_id, ts)
    GROUP BY series_id`;
}

export { join };
