/**
 * The SQL the query engine sends to ClickHouse, built only through server/store/sql.ts. Pure
 * functions of a plan (no store access) so their output can be asserted in unit tests.
 *
 * Per-step work runs in ClickHouse's timeSeries*ToGrid aggregate functions, which implement
 * Prometheus' semantics (lookback, left-open range windows, counter resets, extrapolation);
 * the engine gets one array per series (or per group, when the first aggregation is pushed
 * down) with one slot per step, NULL where the series is absent.
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

export type GridFunction = keyof typeof GRID_FUNCTIONS;

/** A series selection over a time span: which series, and which points (from, to] of them. */
export interface Selection {
  matchers: Matcher[];
  /** Exclusive lower bound of point timestamps, unix ms. */
  from: number;
  /** Inclusive upper bound, unix ms. */
  to: number;
}

export interface GridPlan {
  fn: GridFunction;
  matchers: Matcher[];
  /** First and last evaluation time (unix ms) and step. */
  start: number;
  end: number;
  step: number;
  /** Lookback (sample) or range window, ms. */
  window: number;
  /** predict_linear's `t` in seconds. */
  arg?: number;
}

/**
 * How much earlier than a series' last recorded sighting it may still have points: the writer
 * refreshes series.last_seen at most hourly (server/writer.ts), so pad by more than that.
 */
const LAST_SEEN_SLACK_MS = 2 * 3_600_000;

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

function ms(v: number): Sql {
  return sql`fromUnixTimestamp64Milli(${param('Int64', Math.round(v))}, 'UTC')`;
}

/** Seconds as an exact Decimal64(3), the type the grid functions take for step and window. */
function secs(v: number): Sql {
  return sql`toDecimal64(${param('String', (Math.round(v) / 1000).toFixed(3))}, 3)`;
}

/** Filter on points of the selection, using the primary key (series_id, ts). */
function pointsWhere(matchers: Matcher[], from: number, to: number): Sql {
  return sql`series_id IN (${seriesIdsSql(matchers, from, to)}) AND ts > ${ms(from)} AND ts <= ${ms(to)}`;
}

/** One grid function over raw points: rows (id, v Array(Nullable(Float64))) per series. */
export function gridSql(p: GridPlan): Sql {
  const fn = raw(GRID_FUNCTIONS[p.fn]);
  const params =
    p.fn === 'predict_linear'
      ? sql`${ms(p.start)}, ${ms(p.end)}, ${secs(p.step)}, ${secs(p.window)}, ${param('Float64', p.arg ?? 0)}`
      : sql`${ms(p.start)}, ${ms(p.end)}, ${secs(p.step)}, ${secs(p.window)}`;
  const input = p.fn === 'timestamp' ? raw('toFloat64(toUnixTimestamp64Milli(ts)) / 1000') : raw('value');
  let value = sql`${fn}(${params})(ts, ${input})`;
  // ClickHouse's deriv is per millisecond of DateTime64(3); Prometheus' is per second.
  if (p.fn === 'deriv') value = sql`arrayMap(x -> x * 1000, ${value})`;
  return sql`SELECT toString(series_id) AS id, ${value} AS v
    FROM points
    WHERE ${pointsWhere(p.matchers, p.start - p.window, p.end)}
    GROUP BY series_id`;
}

/** Raw samples of a selection: rows (id, t Array(Float64) ms, v Array(Float64)) per series. */
export function samplesSql(sel: Selection): Sql {
  return sql`SELECT toString(series_id) AS id,
      groupArray(toFloat64(toUnixTimestamp64Milli(ts))) AS t, groupArray(value) AS v
    FROM (SELECT series_id, ts, value FROM points WHERE ${pointsWhere(sel.matchers, sel.from, sel.to)} ORDER BY series_id, ts)
    GROUP BY series_id`;
}

export { join };
