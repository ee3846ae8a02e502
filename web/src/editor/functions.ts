/**
 * PromQL functions, aggregations and keywords with a one-line description each, for completion
 * and the hover help of the explore editor. Descriptions are ours, written from the PromQL docs.
 */

export interface FnDoc {
  name: string;
  signature: string;
  doc: string;
  kind: 'function' | 'aggregation' | 'keyword';
}

const f = (name: string, signature: string, doc: string): FnDoc => ({ name, signature, doc, kind: 'function' });
const a = (name: string, signature: string, doc: string): FnDoc => ({ name, signature, doc, kind: 'aggregation' });

const overTime = (name: string, what: string) => f(name, `${name}(v range-vector)`, `${what} of each series over the range.`);

export const FUNCTIONS: FnDoc[] = [
  f('rate', 'rate(v range-vector)', 'Per-second average rate of increase of a counter over the range, handling resets.'),
  f('irate', 'irate(v range-vector)', 'Per-second rate from the last two samples of the range: spiky, for fast-moving counters.'),
  f('increase', 'increase(v range-vector)', 'Increase of a counter over the range (rate × range), handling resets.'),
  f('delta', 'delta(v range-vector)', 'Difference between the first and last value of a gauge over the range, extrapolated.'),
  f('idelta', 'idelta(v range-vector)', 'Difference between the last two samples of a gauge.'),
  f('deriv', 'deriv(v range-vector)', 'Per-second derivative of a gauge by linear regression.'),
  f('changes', 'changes(v range-vector)', 'Number of times the value changed within the range.'),
  f('resets', 'resets(v range-vector)', 'Number of counter resets within the range.'),
  f('predict_linear', 'predict_linear(v range-vector, t scalar)', 'Value predicted t seconds from now by linear regression.'),
  f('histogram_quantile', 'histogram_quantile(φ scalar, b instant-vector)', 'φ-quantile (0 ≤ φ ≤ 1) from the rate of classic histogram buckets (le label).'),
  overTime('avg_over_time', 'Average'),
  overTime('sum_over_time', 'Sum'),
  overTime('min_over_time', 'Minimum'),
  overTime('max_over_time', 'Maximum'),
  overTime('count_over_time', 'Number of samples'),
  overTime('last_over_time', 'Most recent value'),
  overTime('first_over_time', 'Oldest value'),
  overTime('present_over_time', '1 for every series with any sample'),
  overTime('stddev_over_time', 'Population standard deviation'),
  overTime('stdvar_over_time', 'Population variance'),
  overTime('mad_over_time', 'Median absolute deviation'),
  f('quantile_over_time', 'quantile_over_time(φ scalar, v range-vector)', 'φ-quantile of the values of each series over the range.'),
  f('absent_over_time', 'absent_over_time(v range-vector)', '1 when the selector has no sample in the range (for "no data" alerts), else empty.'),
  f('absent', 'absent(v instant-vector)', '1 when the vector is empty, else empty.'),
  f('abs', 'abs(v instant-vector)', 'Absolute value.'),
  f('ceil', 'ceil(v instant-vector)', 'Round up to the nearest integer.'),
  f('floor', 'floor(v instant-vector)', 'Round down to the nearest integer.'),
  f('round', 'round(v instant-vector, to_nearest=1 scalar)', 'Round to the nearest multiple of to_nearest.'),
  f('clamp', 'clamp(v instant-vector, min scalar, max scalar)', 'Limit values to [min, max].'),
  f('clamp_min', 'clamp_min(v instant-vector, min scalar)', 'Limit values to at least min.'),
  f('clamp_max', 'clamp_max(v instant-vector, max scalar)', 'Limit values to at most max.'),
  f('exp', 'exp(v instant-vector)', 'e raised to the value.'),
  f('ln', 'ln(v instant-vector)', 'Natural logarithm.'),
  f('log2', 'log2(v instant-vector)', 'Binary logarithm.'),
  f('log10', 'log10(v instant-vector)', 'Decimal logarithm.'),
  f('sqrt', 'sqrt(v instant-vector)', 'Square root.'),
  f('sgn', 'sgn(v instant-vector)', 'Sign: 1, 0 or -1.'),
  f('label_replace', 'label_replace(v, dst string, replacement string, src string, regex string)', 'Set label dst to replacement (with $1 groups) where src matches regex.'),
  f('label_join', 'label_join(v, dst string, separator string, src...)', 'Set label dst to the values of the src labels joined by separator.'),
  f('sort', 'sort(v instant-vector)', 'Sort by value, ascending (instant queries).'),
  f('sort_desc', 'sort_desc(v instant-vector)', 'Sort by value, descending (instant queries).'),
  f('sort_by_label', 'sort_by_label(v, label string...)', 'Sort by the values of the given labels.'),
  f('timestamp', 'timestamp(v instant-vector)', 'Timestamp of each sample, in seconds.'),
  f('vector', 'vector(s scalar)', 'The scalar as a vector with no labels.'),
  f('scalar', 'scalar(v instant-vector)', 'The value of a one-element vector as a scalar, else NaN.'),
  f('time', 'time()', 'Evaluation time in seconds since the epoch.'),
  f('hour', 'hour(v=vector(time()))', 'Hour of the day (UTC) of each value taken as a timestamp.'),
  f('day_of_week', 'day_of_week(v=vector(time()))', 'Day of the week (0 = Sunday, UTC).'),
  f('minute', 'minute(v=vector(time()))', 'Minute of the hour (UTC).'),
  a('sum', 'sum by (labels) (v)', 'Sum over the series of each group.'),
  a('avg', 'avg by (labels) (v)', 'Average over the series of each group.'),
  a('min', 'min by (labels) (v)', 'Minimum over the series of each group.'),
  a('max', 'max by (labels) (v)', 'Maximum over the series of each group.'),
  a('count', 'count by (labels) (v)', 'Number of series in each group.'),
  a('group', 'group by (labels) (v)', '1 for each group (the set of label values).'),
  a('stddev', 'stddev by (labels) (v)', 'Population standard deviation over each group.'),
  a('stdvar', 'stdvar by (labels) (v)', 'Population variance over each group.'),
  a('topk', 'topk by (labels) (k, v)', 'The k largest series of each group.'),
  a('bottomk', 'bottomk by (labels) (k, v)', 'The k smallest series of each group.'),
  a('quantile', 'quantile by (labels) (φ, v)', 'φ-quantile over the series of each group.'),
  a('count_values', 'count_values by (labels) ("label", v)', 'Number of series per distinct value, the value in a new label.'),
];

export const KEYWORDS: FnDoc[] = [
  { name: 'by', signature: 'by (label, ...)', doc: 'Keep only these labels when aggregating.', kind: 'keyword' },
  { name: 'without', signature: 'without (label, ...)', doc: 'Drop these labels when aggregating.', kind: 'keyword' },
  { name: 'on', signature: 'on (label, ...)', doc: 'Match series of a binary operation on these labels only.', kind: 'keyword' },
  { name: 'ignoring', signature: 'ignoring (label, ...)', doc: 'Match series of a binary operation ignoring these labels.', kind: 'keyword' },
  { name: 'group_left', signature: 'group_left (label, ...)', doc: 'Many-to-one matching: the left side has more series.', kind: 'keyword' },
  { name: 'group_right', signature: 'group_right (label, ...)', doc: 'One-to-many matching: the right side has more series.', kind: 'keyword' },
  { name: 'offset', signature: 'offset 5m', doc: 'Shift the selector back in time.', kind: 'keyword' },
  { name: 'and', signature: 'a and b', doc: 'Series of a that have a match in b.', kind: 'keyword' },
  { name: 'or', signature: 'a or b', doc: 'Series of a, plus those of b with no match in a.', kind: 'keyword' },
  { name: 'unless', signature: 'a unless b', doc: 'Series of a that have no match in b.', kind: 'keyword' },
  { name: 'bool', signature: 'a > bool b', doc: 'Comparison returning 0/1 instead of filtering.', kind: 'keyword' },
];

export const DURATIONS = ['1m', '5m', '15m', '1h', '6h', '1d', '$__rate_interval'];

const BY_NAME = new Map([...FUNCTIONS, ...KEYWORDS].map((d) => [d.name, d]));

export function docOf(name: string): FnDoc | undefined {
  return BY_NAME.get(name);
}
