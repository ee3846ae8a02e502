/**
 * Argument and return types of the PromQL functions Metronome knows, as in Prometheus'
 * functions.go. `optional` counts trailing arguments that may be left out; -1 repeats the last
 * argument type any number of times (label_join's source labels).
 */
import type { ValueType } from './ast.js';

export interface Signature {
  args: ValueType[];
  ret: ValueType;
  /** How many of the trailing arguments may be omitted; -1: the last type repeats freely. */
  optional?: number;
  variadic?: boolean;
}

const v: ValueType = 'vector';
const m: ValueType = 'matrix';
const s: ValueType = 'scalar';
const str: ValueType = 'string';

const MATH = ['abs', 'ceil', 'floor', 'exp', 'ln', 'log2', 'log10', 'sqrt', 'sgn', 'deg', 'rad'];
const TRIG = ['acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'cos', 'cosh', 'sin', 'sinh', 'tan', 'tanh'];
const RANGE = [
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'deriv',
  'changes',
  'resets',
  'avg_over_time',
  'sum_over_time',
  'min_over_time',
  'max_over_time',
  'count_over_time',
  'last_over_time',
  'first_over_time',
  'present_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'mad_over_time',
  'absent_over_time',
  'ts_of_min_over_time',
  'ts_of_max_over_time',
  'ts_of_first_over_time',
  'ts_of_last_over_time',
];
const DATE = ['day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'hour', 'minute', 'month', 'year'];

export const SIGNATURES: Record<string, Signature> = {
  ...Object.fromEntries([...MATH, ...TRIG].map((f) => [f, { args: [v], ret: v }])),
  ...Object.fromEntries(RANGE.map((f) => [f, { args: [m], ret: v }])),
  ...Object.fromEntries(DATE.map((f) => [f, { args: [v], ret: v, optional: 1 }])),
  absent: { args: [v], ret: v },
  clamp: { args: [v, s, s], ret: v },
  clamp_min: { args: [v, s], ret: v },
  clamp_max: { args: [v, s], ret: v },
  round: { args: [v, s], ret: v, optional: 1 },
  predict_linear: { args: [m, s], ret: v },
  quantile_over_time: { args: [s, m], ret: v },
  double_exponential_smoothing: { args: [m, s, s], ret: v },
  histogram_quantile: { args: [s, v], ret: v },
  histogram_fraction: { args: [s, s, v], ret: v },
  histogram_quantiles: { args: [v, str, s, s], ret: v, optional: 1, variadic: true },
  label_replace: { args: [v, str, str, str, str], ret: v },
  label_join: { args: [v, str, str, str], ret: v, optional: 1, variadic: true },
  sort: { args: [v], ret: v },
  sort_desc: { args: [v], ret: v },
  sort_by_label: { args: [v, str], ret: v, optional: 1, variadic: true },
  sort_by_label_desc: { args: [v, str], ret: v, optional: 1, variadic: true },
  timestamp: { args: [v], ret: v },
  vector: { args: [s], ret: v },
  scalar: { args: [v], ret: s },
  time: { args: [], ret: s },
  pi: { args: [], ret: s },
  // Prometheus 3's query-context functions, folded to numbers per query (durations.ts).
  start: { args: [], ret: s },
  end: { args: [], ret: s },
  range: { args: [], ret: s },
  step: { args: [], ret: s },
  min_of: { args: [s, s], ret: s },
  // Prometheus 3's info(v [, {label selector}]) (info.ts).
  info: { args: [v, v], ret: v, optional: 1 },
  max_of: { args: [s, s], ret: s },
};

/** Functions of native histograms, which Metronome does not store. */
export const UNSUPPORTED_FUNCTIONS = new Set([
  'histogram_count',
  'histogram_sum',
  'histogram_avg',
  'histogram_stddev',
  'histogram_stdvar',
]);
