/**
 * The SQL the query engine sends to ClickHouse, built only through server/store/sql.ts. Pure
 * functions of a plan (no store access) so their output can be asserted in unit tests.
 *
 * A leaf (an instant selector, or a range function over a range selector) becomes one query
 * whose rows are (series_id, v Array(Nullable(Float64)) with one slot per step, NULL where the
 * series is absent, reset UInt8). Two ways to compute it, each function's listed in
 * function-table.ts:
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
import { POINTS, rollupSource } from '../rollups/sql.js';
import type { DoneHours } from '../store/rollup-hours.js';
import { functionDef, sqlForm, type LeafFunction } from './function-table.js';
import { WINDOW_COLUMNS } from './window-sql.js';

/** Settings every engine query runs with. */
export const QUERY_SETTINGS = {
  allow_experimental_ts_to_grid_aggregate_function: 1,
  // NaN and ±Inf must stay distinguishable from NULL (absent).
  output_format_json_quote_denormals: 1,
} as const;

/** Where a leaf reads: raw points, or a rollup table. */
export type Resolution = 'raw' | '1m' | '1h';

export const RESOLUTION_MS: Record<Exclude<Resolution, 'raw'>, number> = { '1m': 60_000, '1h': 3_600_000 };

/** A series selection over a time span: which series, and which points (from, to] of them. */
export interface Selection {
  matchers: Matcher[];
  /**
   * The matching series' ids when they are already known (source.ts' series cache): leaves then
   * filter on them as a parameter instead of looking the matchers up in the series table.
   */
  ids?: readonly string[];
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
  /** The matching series' ids, when known (see Selection.ids). */
  ids?: readonly string[];
  /** predict_linear's `t` in seconds. */
  arg?: number;
  /** Chosen by plan.ts; raw when absent. */
  resolution?: Resolution;
  /** Compute with the window form even over raw points (functions without a grid function). */
  form?: 'grid' | 'window';
  /** Over a rollup: its done hours, when known in process (source.ts; rollups/sql.ts rollupSource). */
  hours?: DoneHours | null;
}

/** The first aggregation, pushed into the leaf's query. */
export interface AggregatePlan {
  op: 'sum' | 'avg' | 'min' | 'max' | 'count' | 'group';
  grouping: string[];
  without: boolean;
  /** Whether the leaf's result still carries the metric name (selection, last_over_time). */
  keepsName: boolean;
}


export function stepCount(p: { start: number; end: number; step: number }): number {
  return Math.round((p.end - p.start) / p.step) + 1;
}

/** ids of the series matching the matchers that may have points in (from, to]. */
function seriesIdsSql(matchers: Matcher[], from: number, to: number): Sql {
  return sql`SELECT series_id FROM series WHERE ${seriesWhere([matchers], { start: from, end: to })}`;
}

/** The series (id, name, tags) a selection reads, one row each; `limit` guards MAX_SERIES. */
export function seriesSql(sel: Selection, limit: number): Sql {
  return sql`SELECT toString(series_id) AS id, key, tags FROM series
    WHERE ${seriesWhere([sel.matchers], { start: sel.from, end: sel.to })}
    ORDER BY series_id LIMIT 1 BY series_id LIMIT ${param('UInt64', BigInt(limit))}`;
}

/**
 * Every series row matching the matchers, at any time: (id, name, tags, first and last seen in
 * unix ms), several rows for a series whose rows are not merged yet. At most `limit` rows. What
 * source.ts caches per selector and filters by time itself, as seriesWhere would.
 */
export function seriesRowsSql(matchers: Matcher[], limit: number): Sql {
  return sql`SELECT toString(series_id) AS id, key, tags, toUnixTimestamp64Milli(first_seen) AS f, toUnixTimestamp64Milli(last_seen) AS l
    FROM series WHERE ${seriesWhere([matchers])} LIMIT ${param('UInt64', BigInt(limit))}`;
}

/** Where series_ends rows lie in time (unix ms) and how many there are. */
export function endsSpanSql(): Sql {
  return sql`SELECT toUnixTimestamp64Milli(min(ts)) AS min, toUnixTimestamp64Milli(max(ts)) AS max, count() AS n FROM series_ends`;
}

/** How many series a selection reads, counting at most `limit` (MAX_SERIES + 1). */
export function seriesCountSql(sel: Selection, limit: number): Sql {
  return sql`SELECT count() AS n FROM (SELECT series_id FROM series
    WHERE ${seriesWhere([sel.matchers], { start: sel.from, end: sel.to })}
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

/** The series of a selection: its known ids as one parameter, or the series-table lookup. */
function seriesIn(sel: { matchers: Matcher[]; ids?: readonly string[] }, from: number, to: number): Sql {
  if (sel.ids) return sql`series_id IN ${param('Array(UInt64)', sel.ids.map(BigInt))}`;
  return sql`series_id IN (${seriesIdsSql(sel.matchers, from, to)})`;
}

/** Filter on rows of a selection, using the primary key (series_id, ts). */
function rowsWhere(sel: { matchers: Matcher[]; ids?: readonly string[] }, from: number, to: number): Sql {
  return sql`${seriesIn(sel, from, to)} AND ts > ${ms(from)} AND ts <= ${ms(to)}`;
}

function isCounter(p: GridPlan): boolean {
  return !!functionDef(p.fn)?.counter;
}

/** A window form's value over the window's aggregates (the function table's SQL forms). */
function windowValueSql(p: GridPlan): string {
  const form = sqlForm(p.fn).window;
  if (!form) throw new Error(`${p.fn} has no window form`);
  return form(WINDOW_COLUMNS);
}

/** Whether every window (t - range, t] of the plan is a whole number of buckets. */
export function alignedTo(p: GridPlan, r: number): boolean {
  return (p.start - p.window) % r === 0 && p.window % r === 0 && (p.step % r === 0 || p.start === p.end);
}

/** Whether a plan runs as a grid function (dense arrays per series) rather than window rows. */
export function isGridForm(p: GridPlan): boolean {
  const form = sqlForm(p.fn);
  if ((p.form ?? 'grid') !== 'grid' || !form.grid) return false;
  return (p.resolution ?? 'raw') === 'raw' || !!form.lastSample;
}

/**
 * A leaf as sparse rows (series_id, i, val, rst): the value at step i, and whether that step's
 * window held a counter reset that buckets cannot replay.
 */
function leafRowsSql(p: GridPlan): Sql {
  if (!isGridForm(p)) return windowRowsSql(p, p.resolution ?? 'raw');
  return sql`SELECT series_id, toUInt64(i - 1) AS i, assumeNotNull(x) AS val, toUInt8(0) AS rst
    FROM (${rawGridSql(p)}) ARRAY JOIN v AS x, arrayEnumerate(v) AS i WHERE x IS NOT NULL`;
}

/** A leaf, one row per series: a dense array (grid form) or sparse (step, value) pairs. */
export function leafSql(p: GridPlan): Sql {
  if (isGridForm(p)) return rawGridSql(p);
  return sql`SELECT series_id, arraySort(groupArray((i, val))) AS pts, max(rst) AS reset FROM (${windowRowsSql(p, p.resolution ?? 'raw')}) GROUP BY series_id`;
}

function rawGridSql(p: GridPlan): Sql {
  const fn = raw(sqlForm(p.fn).grid!);
  const params =
    p.fn === 'predict_linear'
      ? sql`${ms(p.start)}, ${ms(p.end)}, ${secs(p.step)}, ${secs(p.window)}, ${param('Float64', p.arg ?? 0)}`
      : sql`${ms(p.start)}, ${ms(p.end)}, ${secs(p.step)}, ${secs(p.window)}`;
  const res = p.resolution ?? 'raw';
  const where = sql`${rowsWhere(p, p.start - p.window, p.end)}${inSomeWindow(p)}`;
  // Over rollups (functions that read a window's last sample only): each bucket's last sample stands for the bucket.
  const [time, val, from] = res === 'raw' ? ['ts', 'value', sql`${POINTS} WHERE ${where}`] : ['last.1', 'last.2', rollupSource(res, where, p.start - p.window, p.end, p.hours)];
  const input = p.fn === 'timestamp' ? raw(`toFloat64(toUnixTimestamp64Milli(${time})) / 1000`) : raw(val);
  let value = sql`${fn}(${params})(${raw(time)}, ${input})`;
  // ClickHouse's deriv is per millisecond of DateTime64(3); Prometheus' is per second.
  if (p.fn === 'deriv') value = sql`arrayMap(x -> x * 1000, ${value})`;
  if (p.fn === 'changes') return changesSql(p, value, where);
  return sql`SELECT series_id, ${value} AS v, toUInt8(0) AS reset
    FROM ${from}
    GROUP BY series_id`;
}

/**
 * changes() over raw points. ClickHouse's timeSeriesChangesToGrid counts NaN -> NaN as a change
 * (NaN != NaN); Prometheus does not. Series with a NaN in the span (found first, usually none)
 * count in SQL instead, per step over their sorted samples: pairs of consecutive samples in the
 * window (t - range, t] whose values differ and are not both NaN. That is O(steps x samples)
 * for such a series, so only they take it. The NaN series are found without FINAL (a duplicate
 * not merged yet can only add one): changes(m[5m]) over 2,000 series x 360 steps took 129 ms in
 * ClickHouse before, 150 with the check (204 with FINAL).
 */
function changesSql(p: GridPlan, grid: Sql, where: Sql): Sql {
  const W = int(p.window);
  return sql`SELECT series_id, v, reset FROM (SELECT series_id, arraySort(groupArrayIf((toUnixTimestamp64Milli(ts), value), has_nan)) AS nan_pts,
      if(max(has_nan) = 0, ${grid}, arrayMap(t -> if(
        arrayExists(x -> x.1 > t - ${W} AND x.1 <= t, nan_pts),
        toNullable(toFloat64(arrayCount((a, b) -> a.1 > t - ${W} AND b.1 <= t AND a.2 != b.2 AND NOT (isNaN(a.2) AND isNaN(b.2)), arrayPopBack(nan_pts), arrayPopFront(nan_pts)))),
        NULL), arrayMap(j -> ${int(p.start)} + toInt64(j) * ${int(p.step)}, range(${int(stepCount(p))})))) AS v, toUInt8(0) AS reset
    FROM (SELECT series_id, ts, value, series_id IN (SELECT series_id FROM points WHERE ${where} AND isNaN(value)) AS has_nan FROM ${POINTS} WHERE ${where})
    GROUP BY series_id)`;
}

/** Rows in no window (when the step is longer than the range) are skipped before any work. */
function inSomeWindow(p: GridPlan): Sql {
  if (!(p.step > p.window) || p.start === p.end) return raw('');
  // The first step at or after b is b + ((start - b) mod step); b is in its window if that is < range.
  return sql` AND positiveModulo(${int(p.start)} - toUnixTimestamp64Milli(ts), ${int(p.step)}) < ${int(p.window)}`;
}

function gcd(a: number, b: number): number {
  a = Math.round(Math.abs(a));
  b = Math.round(Math.abs(b));
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * The rows a window function reads, as buckets named by their end b: (series_id, b, cnt, sum,
 * min, max, fts/fv first sample (time ms, value), lts/lv last sample, drops). A raw point is a
 * bucket of one.
 * Rollup rows are read as stored: every column merges in any order, so rows of parts not
 * merged yet need no merge step of their own. Hours the rollup job has not done are read from
 * raw points (rollupSource).
 */
function rowsSql(p: GridPlan, res: Resolution): Sql {
  const where = sql`${rowsWhere(p, p.start - p.window, p.end)}${inSomeWindow(p)}`;
  if (res === 'raw') {
    const g = gcd(p.step, p.window);
    // Slices would add their samples plainly: the statistics and the compensated sums take every sample.
    const perSample = !!sqlForm(p.fn).perSample;
    if (p.window > p.step && p.start !== p.end && g >= 1000 && !perSample) {
      // Overlapping windows: first fold samples into slices of gcd(step, range) that tile every
      // window exactly, so each slice (not each sample) is copied to the windows holding it.
      return sql`SELECT series_id, ${int(p.start)} + j * ${int(g)} AS b, count() AS cnt, sum(value) AS sum, min(value) AS min, max(value) AS max,
          min(t) AS fts, argMin(value, t) AS fv, max(t) AS lts, argMax(value, t) AS lv
        FROM (SELECT series_id, toUnixTimestamp64Milli(ts) AS t, value, toInt64(ceil((t - ${int(p.start)}) / ${int(g)})) AS j FROM ${POINTS} WHERE ${where})
        GROUP BY series_id, j`;
    }
    return sql`SELECT series_id, toUnixTimestamp64Milli(ts) AS b, toUInt64(1) AS cnt, value AS sum, value AS min, value AS max,
        b AS fts, value AS fv, b AS lts, value AS lv
      FROM ${POINTS} WHERE ${where}`;
  }
  const drops = isCounter(p) ? raw(', drops') : raw('');
  // Tuples are unpacked: min/max over tuples take ClickHouse's generic (slow) path.
  return sql`SELECT series_id, toUnixTimestamp64Milli(ts) AS b, cnt, sum, min, max,
      toUnixTimestamp64Milli(first.1) AS fts, first.2 AS fv, toUnixTimestamp64Milli(last.1) AS lts, last.2 AS lv${drops}
    FROM ${rollupSource(res, where, p.start - p.window, p.end, p.hours)}`;
}

/**
 * A window function in ClickHouse, as sparse rows (series_id, i, val, rst): every row of
 * rowsSql is copied to each step i whose window (t - range, t] holds it, then each (series,
 * step) is aggregated. Over rollups, rows are series-minutes (or hours) instead of samples.
 */
function windowRowsSql(p: GridPlan, res: Resolution): Sql {
  const n = stepCount(p);
  const S = int(p.start);
  const P = int(p.step);
  const W = int(p.window);
  // A row at b belongs to step i when t_i - W < b <= t_i.
  const steps = sql`arrayJoin(range(toUInt64(greatest(0, toInt64(ceil((b - ${S}) / ${P})))), toUInt64(least(${int(n)}, greatest(0, toInt64(ceil((b - ${S} + ${W}) / ${P})))))))`;
  const stats = sqlForm(p.fn).perSample === 'variance' ? 'varPopStable(sum)' : '0.';
  // A counter window read from buckets is exact only without a decrease: inside a bucket
  // (drops, merged in time order; or a first value above the minimum, or a last below the
  // maximum) or between two consecutive buckets (found by sorting the window's few buckets).
  const reset =
    isCounter(p) && res !== 'raw'
      ? `toUInt8(deltaSumTimestampMerge(drops) > 0 OR wfv > wmn OR wlv < wmx
          OR arrayExists((x, y) -> x.3 > y.2, arrayPopBack(arraySort(groupArray((fts, fv, lv)))), arrayPopFront(arraySort(groupArray((fts, fv, lv))))))`
      : 'toUInt8(0)';
  // sum_over_time and avg_over_time add the window's rows in time order, compensated as
  // Prometheus adds (raw rows are samples; a rollup bucket's own sum is a plain one, and its
  // terms are not in Prometheus' order), where a plain sum may differ: only series with values
  // of both signs, or a sum of magnitudes that is not finite (`fold`), keep their rows for it.
  // A row's magnitude bound: |sum| when its values share a sign, else count * max(|min|, |max|).
  let from = rowsSql(p, res);
  let wsm = 'sum(sum)';
  let wmean = '0.';
  if (sqlForm(p.fn).perSample === 'sum') {
    // Over raw points the series are found without FINAL, as changesSql finds its NaN series: a
    // duplicate not merged yet can only add a series to the fold, never take one out.
    const fold =
      res === 'raw'
        ? sql`SELECT series_id FROM points WHERE ${rowsWhere(p, p.start - p.window, p.end)} GROUP BY series_id
            HAVING (min(value) < 0 AND max(value) > 0) OR NOT isFinite(sum(abs(value)))`
        : sql`SELECT series_id FROM (${from}) GROUP BY series_id HAVING (min(min) < 0 AND max(max) > 0) OR NOT isFinite(sum(abs(sum)))`;
    from = sql`SELECT *, series_id IN (${fold}) AS fold FROM (${from})`;
    const rows = 'arraySort(groupArrayIf((fts, sum, toFloat64(cnt)), fold))';
    const vals = `arrayMap(r -> r.2, ${rows})`;
    const exact = `(max(fold) = 0 OR ${plainIsExactSql('sum', 'if(min >= 0 OR max <= 0, abs(sum), cnt * greatest(abs(min), abs(max)))')})`;
    wsm = `if(${exact}, sumKahan(sum), ${compensatedSumSql(vals)})`;
    // A rollup bucket enters the mean with the weight of its sample count.
    const mean = res === 'raw' ? compensatedMeanSql(vals) : compensatedMeanSql(vals, `arrayMap(r -> r.3, ${rows})`);
    if (p.fn === 'avg_over_time') wmean = `if(${exact}, sumKahan(sum) / sum(cnt), ${mean})`;
  }
  return sql`SELECT series_id, i, ${raw(windowValueSql(p))} AS val, rst FROM (
      SELECT series_id, i, ${S} + i * ${P} AS t, ${W} AS wms,
        sum(cnt) AS wn, ${raw(wsm)} AS wsm, ${raw(wmean)} AS wmean, min(min) AS wmn, max(max) AS wmx, ${raw(stats)} AS wsv,
        min(fts) AS wfts, argMin(fv, fts) AS wfv, max(lts) AS wlts, argMax(lv, lts) AS wlv,
        ${raw(reset)} AS rst
      FROM (SELECT *, ${steps} AS i FROM (${from}))
      GROUP BY series_id, i
    )
    WHERE val IS NOT NULL OR rst = 1`;
}

/**
 * Per-series leaf results with string ids, for the evaluator: `v` (one slot per step, NULL where
 * absent) in the grid form, or `pts` ([step, value] pairs) in the window form.
 */
export function gridSql(p: GridPlan): Sql {
  return isGridForm(p)
    ? sql`SELECT toString(series_id) AS id, v, reset FROM (${leafSql(p)})`
    : sql`SELECT toString(series_id) AS id, pts, reset FROM (${leafSql(p)})`;
}

/**
 * Prometheus' kahanSumInc (promql/functions.go) as SQL: Neumaier's compensated step, adding
 * `inc` to the running `sum` with compensation `c`; the compensation is dropped once the sum is
 * infinite. The arguments are SQL expressions; ClickHouse computes a repeated one once.
 */
function kahanIncSql(inc: string, sum: string, c: string): [sum: string, c: string] {
  const t = `(${sum} + ${inc})`;
  return [t, `if(isInfinite(${t}), 0., ${c} + if(abs(${sum}) >= abs(${inc}), (${sum} - ${t}) + ${inc}, (${inc} - ${t}) + ${sum}))`];
}

/**
 * A compensated sum of the Float64 array `arr` in its order, as Prometheus' `sum` and
 * `sum_over_time` add: 2, 8, 1e100, -1e100 sum to 10 (ClickHouse's sumKahan, plain Kahan,
 * answers 0, and an Inf term makes its compensation NaN). NULL for an empty array.
 */
function compensatedSumSql(arr: string): string {
  const [t, c] = kahanIncSql('cx', 'cs.1', 'cs.2');
  const fold = `arrayFold((cs, cx) -> (${t}, ${c}), arrayPopFront(${arr}), (${arr}[1], 0.))`;
  return `if(empty(${arr}), NULL, arrayMap(cf -> cf.1 + cf.2, [${fold}])[1])`;
}

/**
 * A mean of the Float64 array `arr` in its order, as Prometheus' `avg` and `avg_over_time` take
 * it: the compensated sum divided by the count while the sum stays finite; once it would
 * overflow, an incremental mean from there on (each value enters as x / k, the mean so far
 * scaled by (k - 1) / k), still compensated. So values near the float maximum average to a
 * finite number instead of +Inf. With `counts` (Float64, one per element), an element is the
 * sum of that many samples (a rollup bucket) and enters with that weight. The fold's state:
 * (sum or, once incremental, mean; its compensation; incremental; count). NULL for an empty array.
 */
function compensatedMeanSql(arr: string, counts?: string): string {
  const w = counts ? 'cw' : '1.';
  const k = `(cs.4 + ${w})`;
  const [t, tc] = kahanIncSql('cx', 'cs.1', 'cs.2');
  // The mean so far and its compensation, scaled by k_before / k: at the switch from the sum,
  // sum / k_before and c / k_before.
  const q = `(if(cs.3 = 0, 1., cs.4) / ${k})`;
  const [m, c] = kahanIncSql(`(cx / ${k})`, `(${q} * cs.1)`, `(${q} * cs.2)`);
  const step = `if(cs.3 = 0 AND NOT isInfinite(${t}), (${t}, ${tc}, toUInt8(0), ${k}), (${m}, ${c}, toUInt8(1), ${k}))`;
  const init = `(${arr}[1], 0., toUInt8(0), ${counts ? `${counts}[1]` : '1.'})`;
  const fold = counts
    ? `arrayFold((cs, cx, cw) -> ${step}, arrayPopFront(${arr}), arrayPopFront(${counts}), ${init})`
    : `arrayFold((cs, cx) -> ${step}, arrayPopFront(${arr}), ${init})`;
  return `if(empty(${arr}), NULL, arrayMap(cf -> if(cf.3 = 1, cf.1 + cf.2, cf.1 / cf.4 + cf.2 / cf.4), [${fold}])[1])`;
}

/**
 * Whether ClickHouse's sumKahan over the rows' `x` is as good as a compensated sum: finite, and
 * without heavy cancellation (the terms' magnitudes, `abs` summed, at most 1024 times the sum's).
 * Kahan's error is then within 2.3e-13 of the sum (2 eps * 1024), and the array folds are
 * skipped (`if` evaluates one branch): over 360 groups of 2,000 values, sumKahan took 5 ms, the
 * Neumaier fold 48, the mean's 91, and either guarded by this 12 and 18.
 */
function plainIsExactSql(x: string, abs: string): string {
  return `isFinite(sum(${x})) AND sum(${abs}) <= 1024 * abs(sumKahan(${x}))`;
}

const AGG_FOR_EACH: Record<Exclude<AggregatePlan['op'], 'sum' | 'avg'>, string> = {
  min: 'minForEach(v)',
  max: 'maxForEach(v)',
  count: 'arrayMap(c -> if(c = 0, NULL, toFloat64(c)), countForEach(v))',
  group: 'arrayMap(c -> if(c = 0, NULL, 1.), countForEach(v))',
};

const AGG_ROWS: Record<AggregatePlan['op'], string> = {
  sum: `if(${plainIsExactSql('val', 'abs(val)')}, sumKahan(val), ${compensatedSumSql('groupArray(val)')})`,
  avg: `if(${plainIsExactSql('val', 'abs(val)')}, sumKahan(val) / count(val), ${compensatedMeanSql('groupArray(val)')})`,
  min: 'min(val)',
  max: 'max(val)',
  count: 'if(count(val) = 0, NULL, toFloat64(count(val)))',
  group: 'if(count(val) = 0, NULL, 1.)',
};

/**
 * Whether an aggregation keeps the leaf's dense arrays (`v`): sums and means are compensated
 * per step over the group's values, which the -ForEach combinators cannot do, so they take
 * sparse (step, value) rows (`pts`) as window leaves do.
 */
export function aggregateShape(p: GridPlan, a: AggregatePlan): LeafShape['values'] {
  return isGridForm(p) && a.op !== 'sum' && a.op !== 'avg' ? 'v' : 'pts';
}

/**
 * The leaf aggregated by label groups in ClickHouse: rows (k, v or pts, reset), where k is the
 * values of the `by` labels in order, or the remaining [name, value] pairs for `without`.
 *
 * With `groups` (the series' labels known in process, source.ts), k is instead the group's
 * number, given per series id as parameters: no join with the series table (bench/query-profile.ts,
 * `sum(up)`: 37 ms -> 15 ms in ClickHouse).
 */
export function aggregateSql(p: GridPlan, a: AggregatePlan, groups?: SeriesGroups): Sql {
  let key: Sql;
  let series = raw('');
  if (groups) {
    key = sql`transform(series_id, ${param('Array(UInt64)', groups.ids.map(BigInt))}, ${param('Array(UInt32)', groups.group)}, toUInt32(0))`;
  } else {
    const labels = param('Array(String)', a.grouping);
    key = a.without
      ? sql`arraySort(arrayFilter(kv -> kv.2 != '' AND NOT has(${labels}, kv.1), CAST(tags, 'Array(Tuple(String, String))')))`
      : a.keepsName
        ? sql`arrayMap(l -> if(l = '__name__', key, tags[l]), ${labels})`
        : sql`arrayMap(l -> if(l = '__name__', '', tags[l]), ${labels})`;
    series = sql` INNER JOIN (SELECT series_id, any(key) AS key, any(tags) AS tags FROM series
      WHERE series_id IN (${seriesIdsSql(p.matchers, p.start - p.window, p.end)}) GROUP BY series_id) AS s USING series_id`;
  }
  if (aggregateShape(p, a) === 'v') {
    return sql`SELECT ${key} AS k, ${raw(AGG_FOR_EACH[a.op as keyof typeof AGG_FOR_EACH])} AS v, max(reset) AS reset
      FROM (${leafSql(p)}) AS l${series}
      GROUP BY k`;
  }
  return sql`SELECT k, arraySort(groupArray((i, x))) AS pts, max(r) AS reset FROM (
      SELECT ${key} AS k, i, ${raw(AGG_ROWS[a.op])} AS x, max(rst) AS r
      FROM (${leafRowsSql(p)}) AS l${series}
      GROUP BY k, i
    )
    WHERE x IS NOT NULL OR r = 1
    GROUP BY k`;
}

/** Each series' aggregation group, by position: series ids[i] is in group number group[i]. */
export interface SeriesGroups {
  ids: readonly string[];
  group: readonly number[];
}

/** How a leaf's rows look: a dense array `v` or sparse `pts`, keyed by series `id` or group `k`. */
export interface LeafShape {
  values: 'v' | 'pts';
  key: 'id' | 'k';
}

/**
 * Several leaves as one statement: each leaf's rows in one shape, tagged with the leaf's
 * position `q`, under UNION ALL. ClickHouse runs the branches side by side, and the statement
 * pays the fixed cost of one (bench/query-profile.ts data, two `sum by (job) (rate(...))` leaves:
 * 42.5 ms as two statements, 33.5 ms as one).
 */
export function unionLeavesSql(leaves: readonly { sql: Sql; shape: LeafShape }[]): Sql {
  const branches = leaves.map(({ sql: q, shape }, i) => {
    const id = shape.key === 'id' ? raw('id') : raw("''");
    const k = shape.key === 'k' ? raw('toUInt32(k)') : raw('toUInt32(0)');
    const v = shape.values === 'v' ? raw('v') : raw('[]');
    const pts = shape.values === 'pts' ? raw('pts') : raw('[]');
    return sql`SELECT toUInt32(${raw(String(i))}) AS q, ${id} AS id, ${k} AS k, CAST(${v}, 'Array(Nullable(Float64))') AS v,
        CAST(${pts}, 'Array(Tuple(UInt64, Nullable(Float64)))') AS pts, toUInt8(reset) AS reset FROM (${q})`;
  });
  return join(branches, '\nUNION ALL\n');
}

/**
 * Where series of a selection ended (Prometheus staleness markers, table series_ends written by
 * the remote-write path): rows (id, t Array(Float64) ms, ascending) for marks in (from, to].
 */
export function staleMarksSql(sel: Selection): Sql {
  return sql`SELECT toString(series_id) AS id, arraySort(groupArray(toFloat64(toUnixTimestamp64Milli(ts)))) AS t
    FROM series_ends WHERE ${rowsWhere(sel, sel.from, sel.to)}
    GROUP BY series_id`;
}

/**
 * Raw samples of a selection: rows (id, pts [[t ms, value], ...] ascending) per series. Sorted
 * after grouping: groupArray's order is not guaranteed when aggregation runs in parallel.
 */
export function samplesSql(sel: Selection): Sql {
  return sql`SELECT toString(series_id) AS id, arraySort(groupArray((toFloat64(toUnixTimestamp64Milli(ts)), value))) AS pts
    FROM ${POINTS} WHERE ${rowsWhere(sel, sel.from, sel.to)}
    GROUP BY series_id`;
}

