/**
 * Every PromQL function Metronome knows, one entry each: its signature (as in Prometheus'
 * functions.go, checked by parse.ts), how the evaluator computes a call (eval.ts dispatches here),
 * whether its result keeps the metric name, and its forms as a ClickHouse leaf (sql.ts), where it
 * has them. Adding a function touches this table and the module of its implementation.
 */
import type { Call, ValueType } from './ast.js';
import { absent, clamp, date, info, math, piScalar, round, scalar, scalarPair, sortByLabel, sortByValue, timeScalar, timestamp, vector } from './calls.js';
import type { FunctionDef, SqlForm } from './call.js';
import {
  changes,
  compensatedMean,
  dayOfYear,
  daysInMonth,
  doubleExponentialSmoothing,
  extrapolated,
  instant,
  linearRegression,
  medianAbsoluteDeviation,
  minMax,
  resets,
  stdvar,
  sumOf,
  windowQuantile,
  type RangeFn,
  type Window,
} from './functions.js';
import { histogramFraction, histogramQuantile, histogramQuantiles } from './histogram-calls.js';
import { labelJoin, labelReplace } from './label-calls.js';
import { absentOverTime, rangeCall } from './range-calls.js';
import { extrapolatedSql, type WindowNames } from './window-sql.js';

const v: ValueType = 'vector';
const m: ValueType = 'matrix';
const s: ValueType = 'scalar';
const str: ValueType = 'string';

type Traits = Omit<FunctionDef, 'args' | 'ret' | 'call' | 'range'>;

/** A range function f(range vector) over each step's window; `args` when it takes scalars too. */
function overTime<T extends Traits = Record<never, never>>(range: RangeFn, traits?: T, args: ValueType[] = [m]): FunctionDef & T & { range: RangeFn } {
  return { args, ret: v, call: rangeCall, range, leaf: !!traits?.sql, ...(traits as T) };
}

/** Undefined (no sample) for an empty window. */
function nonEmpty(f: (w: Window, arg: number, arg2: number) => number): RangeFn {
  return (w, arg, arg2) => (w.hi === w.lo ? undefined : f(w, arg, arg2));
}

const element = (fn: (x: number) => number): FunctionDef => ({ args: [v], ret: v, call: math(fn) });
const calendar = (fn: (d: Date) => number): FunctionDef => ({ args: [v], ret: v, optional: 1, call: date(fn) });
const contextFunction: FunctionDef = { args: [], ret: s };

/** Window forms over rollup buckets as well as raw points. */
const rolled = (window: (w: WindowNames) => string, more: SqlForm = {}): SqlForm => ({ window, rollup: true, ...more });

/** Instant-vector selection, the leaf below every selector: no function, but the same forms. */
const SELECTION: SqlForm = { grid: 'timeSeriesResampleToGridWithStaleness', ...rolled((w) => w.wlv), lastSample: true };

const countOverTime = overTime(nonEmpty((w) => w.hi - w.lo), { sql: rolled((w) => `toFloat64(${w.wn})`) });

export const FUNCTIONS = {
  // Range functions, over the samples of each step's window (functions.ts).
  rate: overTime((w) => extrapolated(w, true, true), { counter: true, sql: { grid: 'timeSeriesRateToGrid', ...rolled((w) => extrapolatedSql(w, true, true)) } }),
  increase: overTime((w) => extrapolated(w, true, false), { counter: true, sql: { grid: 'timeSeriesIncreaseToGrid', ...rolled((w) => extrapolatedSql(w, true, false)) } }),
  delta: overTime((w) => extrapolated(w, false, false), { sql: { grid: 'timeSeriesDeltaToGrid', ...rolled((w) => extrapolatedSql(w, false, false)) } }),
  irate: overTime((w) => instant(w, true), { sql: { grid: 'timeSeriesInstantRateToGrid' } }),
  idelta: overTime((w) => instant(w, false), { sql: { grid: 'timeSeriesInstantDeltaToGrid' } }),
  // deriv and predict_linear run in TypeScript, over raw samples in time order with Prometheus'
  // compensated regression: ClickHouse's grid functions sum over rows in the order its threads
  // read them, and answered predict_linear(x[50m], 3600) - (x + deriv(x[50m]) * 3600) with
  // 0 or 2.3e-13 from one run to the next (functions.test:466 of Prometheus' suite).
  deriv: overTime((w) => (w.hi - w.lo < 2 ? undefined : linearRegression(w, w.t[w.lo])[0]), { sql: { grid: 'timeSeriesDerivToGrid' }, leaf: false }),
  predict_linear: overTime(
    (w, t) => {
      if (w.hi - w.lo < 2) return undefined;
      const [slope, intercept] = linearRegression(w, w.evalT);
      return slope * t + intercept;
    },
    { sql: { grid: 'timeSeriesPredictLinearToGrid' }, leaf: false },
    [m, s],
  ),
  changes: overTime(changes, { sql: { grid: 'timeSeriesChangesToGrid' } }),
  resets: overTime(resets, { sql: { grid: 'timeSeriesResetsToGrid' } }),
  avg_over_time: overTime(
    nonEmpty((w) => compensatedMean(w.v, w.lo, w.hi)),
    { sql: rolled((w) => w.wmean, { perSample: 'sum' }) },
  ),
  sum_over_time: overTime(nonEmpty(sumOf), { sql: rolled((w) => w.wsm, { perSample: 'sum' }) }),
  count_over_time: countOverTime,
  min_over_time: overTime(nonEmpty((w) => minMax(w, false)[0]), { sql: rolled((w) => w.wmn) }),
  max_over_time: overTime(nonEmpty((w) => minMax(w, true)[0]), { sql: rolled((w) => w.wmx) }),
  last_over_time: overTime(nonEmpty((w) => w.v[w.hi - 1]), { keepsName: true, sql: { grid: 'timeSeriesLastToGrid', ...rolled((w) => w.wlv), lastSample: true } }),
  first_over_time: overTime(nonEmpty((w) => w.v[w.lo]), { keepsName: true, sql: rolled((w) => w.wfv) }),
  present_over_time: overTime(nonEmpty(() => 1), { sql: rolled(() => '1.') }),
  stdvar_over_time: overTime(nonEmpty(stdvar), { sql: { window: (w: WindowNames) => w.wsv, perSample: 'variance' } }),
  stddev_over_time: overTime(nonEmpty((w) => Math.sqrt(stdvar(w))), { sql: { window: (w: WindowNames) => `sqrt(${w.wsv})`, perSample: 'variance' } }),
  quantile_over_time: overTime(nonEmpty((w, q) => windowQuantile(w, q)), {}, [s, m]),
  mad_over_time: overTime(nonEmpty(medianAbsoluteDeviation)),
  ts_of_min_over_time: overTime(nonEmpty((w) => minMax(w, false)[1] / 1000)),
  ts_of_max_over_time: overTime(nonEmpty((w) => minMax(w, true)[1] / 1000)),
  ts_of_first_over_time: overTime(nonEmpty((w) => w.t[w.lo] / 1000)),
  ts_of_last_over_time: overTime(nonEmpty((w) => w.t[w.hi - 1] / 1000)),
  double_exponential_smoothing: overTime(doubleExponentialSmoothing, {}, [m, s, s]),
  absent_over_time: { args: [m], ret: v, call: absentOverTime(countOverTime) },

  // Element-wise math (they drop the metric name).
  abs: element(Math.abs),
  ceil: element(Math.ceil),
  floor: element(Math.floor),
  exp: element(Math.exp),
  ln: element(Math.log),
  log2: element(Math.log2),
  log10: element(Math.log10),
  sqrt: element(Math.sqrt),
  sgn: element((x) => (x > 0 ? 1 : x < 0 ? -1 : x)),
  deg: element((x) => (x * 180) / Math.PI),
  rad: element((x) => (x * Math.PI) / 180),
  acos: element(Math.acos),
  acosh: element(Math.acosh),
  asin: element(Math.asin),
  asinh: element(Math.asinh),
  atan: element(Math.atan),
  atanh: element(Math.atanh),
  cos: element(Math.cos),
  cosh: element(Math.cosh),
  sin: element(Math.sin),
  sinh: element(Math.sinh),
  tan: element(Math.tan),
  tanh: element(Math.tanh),
  clamp: { args: [v, s, s], ret: v, call: clamp('both') },
  clamp_min: { args: [v, s], ret: v, call: clamp('min') },
  clamp_max: { args: [v, s], ret: v, call: clamp('max') },
  round: { args: [v, s], ret: v, optional: 1, call: round },

  // Calendar functions of a unix time in seconds, in UTC (of the step's time without an argument).
  day_of_month: calendar((d) => d.getUTCDate()),
  day_of_week: calendar((d) => d.getUTCDay()),
  day_of_year: calendar(dayOfYear),
  days_in_month: calendar(daysInMonth),
  hour: calendar((d) => d.getUTCHours()),
  minute: calendar((d) => d.getUTCMinutes()),
  month: calendar((d) => d.getUTCMonth() + 1),
  year: calendar((d) => d.getUTCFullYear()),

  // Classic histograms (`le` buckets) (histogram-calls.ts).
  histogram_quantile: { args: [s, v], ret: v, call: histogramQuantile },
  histogram_fraction: { args: [s, s, v], ret: v, call: histogramFraction },
  histogram_quantiles: { args: [v, str, s, s], ret: v, optional: 1, variadic: true, call: histogramQuantiles },

  // Labels and order (label-calls.ts, calls.ts).
  label_replace: { args: [v, str, str, str, str], ret: v, call: labelReplace },
  label_join: { args: [v, str, str, str], ret: v, optional: 1, variadic: true, call: labelJoin },
  sort: { args: [v], ret: v, call: sortByValue(false) },
  sort_desc: { args: [v], ret: v, call: sortByValue(true) },
  sort_by_label: { args: [v, str], ret: v, optional: 1, variadic: true, call: sortByLabel(false) },
  sort_by_label_desc: { args: [v, str], ret: v, optional: 1, variadic: true, call: sortByLabel(true) },
  // Prometheus 3's info(v [, {label selector}]) (info.ts).
  info: { args: [v, v], ret: v, optional: 1, call: info },

  // Presence, time and conversions (calls.ts).
  absent: { args: [v], ret: v, call: absent },
  // Over a selector, the time of the sample selection picks: selection's leaf with times as values.
  timestamp: { args: [v], ret: v, call: timestamp, sql: { grid: SELECTION.grid, ...rolled((w) => `${w.wlts} / 1000`), lastSample: true } },
  vector: { args: [s], ret: v, call: vector },
  scalar: { args: [v], ret: s, call: scalar },
  time: { args: [], ret: s, call: timeScalar },
  pi: { args: [], ret: s, call: piScalar },
  min_of: { args: [s, s], ret: s, call: scalarPair(Math.min) },
  max_of: { args: [s, s], ret: s, call: scalarPair(Math.max) },
  // Prometheus 3's query-context functions, folded to numbers per query (durations.ts).
  start: contextFunction,
  end: contextFunction,
  range: contextFunction,
  step: contextFunction,
} satisfies Record<string, FunctionDef>;

/** Functions of native histograms, which Metronome does not store. */
export const UNSUPPORTED_FUNCTIONS = new Set(['histogram_count', 'histogram_sum', 'histogram_avg', 'histogram_stddev', 'histogram_stdvar']);

type Table = typeof FUNCTIONS;
/** What a leaf computes: instant-vector selection (`sample`), or a function with SQL forms. */
export type LeafFunction = 'sample' | { [K in keyof Table]: Table[K] extends { sql: SqlForm } ? K : never }[keyof Table];

/** The function of that name, if Metronome knows it. */
export function functionDef(name: string): FunctionDef | undefined {
  return Object.hasOwn(FUNCTIONS, name) ? (FUNCTIONS as Record<string, FunctionDef>)[name] : undefined;
}

/** The SQL forms of what a leaf computes. */
export function sqlForm(fn: LeafFunction): SqlForm {
  return fn === 'sample' ? SELECTION : FUNCTIONS[fn].sql;
}

/** Functions a call over a range selector hands to the data source as a leaf; the others run in TypeScript over samples. */
export function isLeafFunction(f: string): f is LeafFunction {
  return !!functionDef(f)?.leaf;
}

/** Whether a function's result keeps the metric name of its input series. */
export function keepsName(f: string): boolean {
  return !!functionDef(f)?.keepsName;
}
