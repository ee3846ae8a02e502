/**
 * Runs a Heroic aggregation tree over the store. The first bucketed aggregation over stored
 * points runs in ClickHouse (one row per series and bucket: count, sum, min, max, mean, M2, and
 * the values only for quantile); groups, chains and the filter aggregations (top/bottom k,
 * above/below k, points above/below) run here over those few rows, as the PromQL engine pushes
 * its first aggregation into the leaf and evaluates the rest in TypeScript.
 */
import { MetronomeError } from '../errors.js';
import { param, raw, sql, type Sql, type Store } from '../store/index.js';
import { RequestProblem, SAMPLING, type Aggregation, type SamplingAgg, type SamplingKind } from './aggregation.js';
import { bucketIndexSql, bucketSpan, bucketSpanSql, bucketTime, type Buckets, type BucketStrategy } from './buckets.js';
import { doneHoursOf, POINTS, rollupSource } from '../rollups/sql.js';

export interface SeriesMeta {
  id: string;
  key: string;
  tags: Record<string, string>;
}

/** What flows between aggregations: Heroic's AggregationOutput (key, series, points). */
export interface Group {
  key: Record<string, string>;
  series: SeriesMeta[];
  /** [ms, value], time order. */
  points: [number, number][];
}

export interface EvalContext {
  store: Store;
  /** The (shifted) query range (start, end]. */
  range: { start: number; end: number };
  strategy: BucketStrategy;
  /** Heroic's default size (cadenceFromRange) for sampling without one. */
  defaultSize: number;
  maxBuckets: number;
  maxSamples: number;
  signal?: AbortSignal;
  settings: Record<string, number | string>;
  /** Field of the aggregation in the request, for errors. */
  field: string;
  /** Points read from the store (Heroic's preAggregationSampleSize). */
  sampleSize: number;
}

/** One bucket's running state; merged across series with Chan's parallel variance update. */
interface Partial {
  n: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
  vals?: number[];
}

type Input = { kind: 'raw'; series: SeriesMeta[] } | { kind: 'groups'; groups: Group[] };

/**
 * One request's reads: partial states are fetched once per bucket layout for all the query's
 * series, however many groups then use them.
 */
interface State {
  all: SeriesMeta[];
  cache: Map<string, Promise<Map<string, Map<number, Partial>>>>;
  /** Every series' raw points, read once when an aggregation needs raw points. */
  raw?: Promise<Map<string, [number, number][]>>;
}

/** Evaluate `agg` (or none: each series' raw points) over the series. */
export async function evaluate(ctx: EvalContext, series: SeriesMeta[], agg: Aggregation | undefined): Promise<Group[]> {
  return run(ctx, agg ?? { type: 'empty' }, { kind: 'raw', series }, { all: series, cache: new Map() }, ctx.field);
}

async function run(ctx: EvalContext, a: Aggregation, input: Input, st: State, field: string): Promise<Group[]> {
  switch (a.type) {
    case 'sum':
    case 'sum2':
    case 'average':
    case 'min':
    case 'max':
    case 'count':
    case 'stddev':
    case 'quantile': {
      const b = buckets(ctx, a, field);
      const series = input.kind === 'raw' ? input.series : input.groups.flatMap((g) => g.series);
      if (input.kind === 'raw' && input.series.length === 0) return [];
      if (input.kind === 'groups' && input.groups.length === 0) return [];
      let acc: (Partial | undefined)[] = new Array(b.count);
      if (input.kind === 'raw' && input.series === st.all) {
        // All the query's series into one: ClickHouse merges them (one row per bucket).
        acc = toArray((await fetchPartials(ctx, b, a.type, input.series, new Array<number>(input.series.length).fill(0))).get(0), b.count);
      } else if (input.kind === 'raw') {
        const per = await partials(ctx, b, a.type, st);
        for (const s of input.series) {
          const m = per.get(s.id);
          if (m) for (const [i, p] of m) acc[i] = merge(acc[i], p);
        }
      } else {
        for (const g of input.groups) {
          for (const [t, v] of g.points) {
            if (Number.isNaN(v)) continue;
            const [lo, hi] = bucketSpan(b, t);
            for (let i = lo; i < hi; i++) acc[i] = merge(acc[i], single(v, a.type === 'quantile'));
          }
        }
      }
      return [{ key: {}, series: dedupe(series), points: finish(a, b, acc) }];
    }
    case 'empty':
      if (input.kind === 'groups') return input.groups;
      return rawGroups(ctx, st, input.series);
    case 'group': {
      const parts = new Map<string, { key: Record<string, string>; members: (SeriesMeta | Group)[] }>();
      const items: (SeriesMeta | Group)[] = input.kind === 'raw' ? input.series : input.groups;
      for (const it of items) {
        const tags = 'id' in it ? it.tags : it.key;
        const key = a.of === null ? tags : pick(tags, a.of);
        const k = JSON.stringify(Object.entries(key).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
        let p = parts.get(k);
        if (!p) parts.set(k, (p = { key, members: [] }));
        p.members.push(it);
      }
      const out: Group[] = [];
      if (input.kind === 'raw' && isSampling(a.each)) {
        // The common dashboard shape (group of tags, each a bucketed aggregation): one read
        // grouped in ClickHouse by each series' group, as the PromQL engine pushes `sum by`.
        const each = a.each;
        const b = buckets(ctx, each, `${field}.each`);
        const list = [...parts.values()];
        const index = new Map<string, number>();
        list.forEach((p, gi) => (p.members as SeriesMeta[]).forEach((m) => index.set(m.id, gi)));
        const per = await fetchPartials(ctx, b, each.type, input.series, input.series.map((m) => index.get(m.id)!));
        list.forEach((p, gi) => out.push({ key: p.key, series: p.members as SeriesMeta[], points: finish(each, b, toArray(per.get(gi), b.count)) }));
        return out;
      }
      for (const p of parts.values()) {
        const sub: Input = input.kind === 'raw' ? { kind: 'raw', series: p.members as SeriesMeta[] } : { kind: 'groups', groups: p.members as Group[] };
        for (const g of await run(ctx, a.each, sub, st, `${field}.each`)) out.push({ ...g, key: p.key });
      }
      return out;
    }
    case 'chain': {
      let cur = input;
      for (let i = 0; i < a.chain.length; i++) cur = { kind: 'groups', groups: await run(ctx, a.chain[i], cur, st, `${field}.chain[${i}]`) };
      return cur.kind === 'groups' ? cur.groups : rawGroups(ctx, st, cur.series);
    }
    case 'topk':
    case 'bottomk': {
      const groups = input.kind === 'groups' ? input.groups : await rawGroups(ctx, st, input.series);
      const scored = groups.filter((g) => g.points.length > 0).map((g) => ({ g, area: area(g.points) }));
      scored.sort((x, y) => (a.type === 'topk' ? y.area - x.area : x.area - y.area));
      return scored.slice(0, a.k).map((s) => s.g);
    }
    case 'abovek':
    case 'belowk': {
      const groups = input.kind === 'groups' ? input.groups : await rawGroups(ctx, st, input.series);
      return groups.filter((g) => {
        if (g.points.length === 0) return false;
        let ext = a.type === 'abovek' ? -Infinity : Infinity;
        for (const [, v] of g.points) ext = a.type === 'abovek' ? Math.max(ext, v) : Math.min(ext, v);
        return a.type === 'abovek' ? ext > a.k : ext < a.k;
      });
    }
    case 'delta':
    case 'deltaPerSecond':
    case 'notNegative': {
      const groups = input.kind === 'groups' ? input.groups : await rawGroups(ctx, st, input.series);
      return groups.map((g) => ({ ...g, points: pointwise(a.type, g.points) }));
    }
    case 'pointsabove':
    case 'pointsbelow': {
      const groups = input.kind === 'groups' ? input.groups : await rawGroups(ctx, st, input.series);
      return groups.map((g) => ({ ...g, points: g.points.filter(([, v]) => (a.type === 'pointsabove' ? v > a.threshold : v < a.threshold)) }));
    }
  }
}

function isSampling(a: Aggregation): a is SamplingAgg {
  return (SAMPLING as readonly string[]).includes(a.type);
}

function toArray(m: Map<number, Partial> | undefined, count: number): (Partial | undefined)[] {
  const acc: (Partial | undefined)[] = new Array(count);
  if (m) for (const [i, p] of m) acc[i] = p;
  return acc;
}

function pick(tags: Record<string, string>, of: string[]): Record<string, string> {
  const key: Record<string, string> = {};
  for (const t of of) if (tags[t] !== undefined) key[t] = tags[t];
  return key;
}

function dedupe(series: SeriesMeta[]): SeriesMeta[] {
  const seen = new Map<string, SeriesMeta>();
  for (const s of series) seen.set(s.id, s);
  return [...seen.values()];
}

function buckets(ctx: EvalContext, a: SamplingAgg, field: string): Buckets {
  const size = a.size ?? ctx.defaultSize;
  const extent = a.extent ?? size;
  const count = Math.floor((ctx.range.end - ctx.range.start) / size);
  if (count < 1) throw new RequestProblem(`${field}.sampling`, `the range (${ctx.range.end - ctx.range.start} ms) is shorter than one bucket of ${size} ms`);
  if (count > ctx.maxBuckets) {
    throw new RequestProblem(`${field}.sampling`, `${count} buckets of ${size} ms are more than ${ctx.maxBuckets} (MAX_POINTS_PER_SERIES); use a larger size`);
  }
  return { strategy: ctx.strategy, start: ctx.range.start, size, extent, count };
}

function single(v: number, keep: boolean): Partial {
  return { n: 1, sum: v, min: v, max: v, mean: v, m2: 0, vals: keep ? [v] : undefined };
}

function merge(a: Partial | undefined, b: Partial): Partial {
  if (!a) return { ...b, vals: b.vals?.slice() };
  const n = a.n + b.n;
  const d = b.mean - a.mean;
  a.m2 = a.m2 + b.m2 + (d * d * a.n * b.n) / n;
  a.mean = a.mean + (d * b.n) / n;
  a.n = n;
  a.sum += b.sum;
  a.min = Math.min(a.min, b.min);
  a.max = Math.max(a.max, b.max);
  if (a.vals && b.vals) for (const v of b.vals) a.vals.push(v);
  return a;
}

/** Each bucket's value as Heroic's buckets give it; buckets without a valid value are left out. */
function finish(a: SamplingAgg, b: Buckets, acc: (Partial | undefined)[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < b.count; i++) {
    const p = acc[i];
    const t = bucketTime(b, i);
    if (a.type === 'count') {
      // CountBucket's point is valid at 0: every bucket of a group that exists gets one.
      out.push([t, p ? p.n : 0]);
      continue;
    }
    if (!p) continue;
    let v: number;
    switch (a.type) {
      case 'sum':
        v = p.sum;
        break;
      case 'sum2':
        // Sum2Bucket: the sum of squares, here from the merged mean and M2.
        v = p.m2 + p.n * p.mean * p.mean;
        break;
      case 'average':
        v = p.sum / p.n;
        break;
      case 'min':
        v = Number.isFinite(p.min) ? p.min : NaN;
        break;
      case 'max':
        v = Number.isFinite(p.max) ? p.max : NaN;
        break;
      case 'stddev':
        // StdDevBucket: the sample standard deviation, none for fewer than two points.
        v = p.n <= 1 ? NaN : Math.sqrt(Math.max(0, p.m2) / (p.n - 1));
        break;
      default: {
        // QuantileBucket estimates the value of rank floor(q * n) (within `error`); this is it exactly.
        const vals = (p.vals ?? []).slice().sort((x, y) => x - y);
        v = vals[Math.min(vals.length - 1, Math.floor((a.q ?? 0.5) * vals.length))];
      }
    }
    if (!Number.isNaN(v)) out.push([t, v]);
  }
  return out;
}

/** DeltaInstance, DeltaPerSecondInstance, NotNegativeInstance: from each point and the one before it. */
function pointwise(type: 'delta' | 'deltaPerSecond' | 'notNegative', points: [number, number][]): [number, number][] {
  if (type === 'notNegative') return points.filter(([, v]) => v >= 0);
  const out: [number, number][] = [];
  for (let i = 1; i < points.length; i++) {
    const d = points[i][1] - points[i - 1][1];
    out.push([points[i][0], type === 'delta' ? d : (d * 1000) / (points[i][0] - points[i - 1][0])]);
  }
  return out;
}

/** Heroic's PointPairArea summed over neighbouring points (the trapezoids, signed). */
function area(points: [number, number][]): number {
  let s = 0;
  for (let i = 1; i < points.length; i++) {
    const [x1, y1] = points[i - 1];
    const [x2, y2] = points[i];
    if (x1 === x2) continue;
    if (y1 === 0 || y2 === 0 || y1 < 0 === y2 < 0) {
      s += Math.sign(y1 || y2) * trapezoid(x1, Math.abs(y1), x2, Math.abs(y2));
    } else {
      const x0 = x1 - y1 / ((y2 - y1) / (x2 - x1));
      s += Math.sign(y1) * trapezoid(x1, Math.abs(y1), x0, 0) + Math.sign(y2) * trapezoid(x0, 0, x2, Math.abs(y2));
    }
  }
  return s;
}

function trapezoid(x1: number, y1: number, x2: number, y2: number): number {
  const base = x2 - x1;
  const h = Math.min(y1, y2);
  return base * h + (base * (Math.max(y1, y2) - h)) / 2;
}

const ids = (series: SeriesMeta[]) => param('Array(UInt64)', series.map((s) => BigInt(s.id)));

/** Per series and bucket partial states, computed in ClickHouse; cached per request by bucket layout. */
function partials(ctx: EvalContext, b: Buckets, kind: SamplingKind, st: State) {
  // A read answers only its kind (the columns it needs, rollups or not).
  const k = `${b.strategy}:${b.start}:${b.size}:${b.extent}:${b.count}:${kind}`;
  let p = st.cache.get(k);
  if (!p) {
    p = fetchPartials(ctx, b, kind, st.all, st.all.map((_, i) => i)).then((byIndex) => {
      const byId = new Map<string, Map<number, Partial>>();
      for (const [i, m] of byIndex) byId.set(st.all[i].id, m);
      return byId;
    });
    st.cache.set(k, p);
  }
  return p;
}

/** Kinds a rollup bucket (count, sum, min, max) answers exactly. */
const ROLLUP_KINDS = new Set(['sum', 'count', 'min', 'max', 'average']);

/**
 * The rollup table whose buckets are whole in every Heroic bucket, or none. A rollup bucket is
 * named by its end and holds (te - resolution, te], as end-strategy buckets do: when the range
 * start, size and extent are multiples of the resolution, each rollup bucket falls entirely into
 * the same Heroic buckets as its points (bucketSpan of its end). 1 m buckets over 10 s samples
 * are a sixth of the rows (bench:heroic, docs/benchmarks.md).
 */
function rollupFor(b: Buckets, kind: SamplingKind): '1m' | '1h' | undefined {
  if (b.strategy !== 'end' || !ROLLUP_KINDS.has(kind)) return undefined;
  for (const [ms, res] of [
    [3_600_000, '1h'],
    [60_000, '1m'],
  ] as const) {
    if (b.start % ms === 0 && b.size % ms === 0 && b.extent % ms === 0) return res;
  }
  return undefined;
}

/**
 * Partial states per group and bucket, computed in ClickHouse: `group[i]` is the group of
 * `series[i]` (handed over by id with transform(), as the PromQL engine hands over its groups).
 */
async function fetchPartials(ctx: EvalContext, b: Buckets, kind: SamplingKind, series: SeriesMeta[], group: number[]): Promise<Map<number, Map<number, Partial>>> {
  const copies = Math.ceil(b.extent / b.size);
  if (series.length * b.count > ctx.maxSamples) throw new MetronomeError('MTR_QUERY_TOO_MANY_SAMPLES', [ctx.maxSamples]);
  const inRange = sql`series_id IN ${ids(series)}
          AND ts > fromUnixTimestamp64Milli(${param('Int64', ctx.range.start)}, 'UTC')
          AND ts <= fromUnixTimestamp64Milli(${param('Int64', ctx.range.end)}, 'UTC')`;
  const res = rollupFor(b, kind);
  // Rollups of the hours the rollup job has done, raw points elsewhere (server/rollups/sql.ts).
  const rollup = res && rollupSource(res, inRange, ctx.range.start, ctx.range.end, doneHoursOf(ctx.store, ctx.range.start, ctx.range.end));
  const g = sql`transform(series_id, ${ids(series)}, ${param('Array(UInt32)', group)}, toUInt32(0))`;
  const vals = kind === 'quantile' ? sql`, groupArray(value) AS vals` : sql``;
  // Each stored row's buckets: one index when extent = size (no array per row; 2-3x less time
  // in ClickHouse over raw points, bench:heroic), else an ARRAY JOIN over its span.
  const single = b.extent === b.size;
  const bucketed = (from: Sql, where: Sql) =>
    single
      ? sql`FROM ${from} WHERE ${where} AND b >= 0 AND b < ${param('Int64', b.count)}`
      : sql`FROM ${from} ARRAY JOIN ${bucketSpanSql(b)} AS b WHERE ${where}`;
  const bucket = single ? sql`${bucketIndexSql(b)} AS b` : sql`b`;
  // Only what the kind needs: varPopStable and avg cost as much as the rest together.
  const zero = raw('toFloat64(0)');
  const want = (kinds: SamplingKind[], col: Sql) => (kinds.includes(kind) ? col : zero);
  // A rollup table may hold a bucket in several unmerged rows: merge them before bucketing.
  const q = rollup
    ? sql`SELECT ${g} AS g, ${bucket}, sum(rc) AS n, ${want(['sum', 'average'], sql`sum(rs)`)} AS s, ${want(['min'], sql`min(rmin)`)} AS mn, ${want(['max'], sql`max(rmax)`)} AS mx, ${zero} AS mean, ${zero} AS m2
        ${bucketed(sql`(SELECT series_id, ts, sum(cnt) AS rc, sum(sum) AS rs, min(min) AS rmin, max(max) AS rmax FROM ${rollup} WHERE ${inRange} GROUP BY series_id, ts)`, raw('1'))}
        GROUP BY g, b`
    : sql`SELECT ${g} AS g, ${bucket}, count() AS n, ${want(['sum', 'average'], sql`sum(value)`)} AS s, ${want(['min'], sql`min(value)`)} AS mn, ${want(['max'], sql`max(value)`)} AS mx,
          ${want(['stddev', 'sum2'], sql`avg(value)`)} AS mean, ${want(['stddev', 'sum2'], sql`varPopStable(value) * count()`)} AS m2 ${vals}
        ${bucketed(POINTS, sql`${inRange} AND NOT isNaN(value)`)}
        GROUP BY g, b`;
  const rows = await ctx.store.query<{ g: number; b: string | number; n: string | number; s: number; mn: number; mx: number; mean: number; m2: number; vals?: number[] }>(q, {
    signal: ctx.signal,
    // quantile brings every value back: the read stops past MAX_QUERY_SAMPLES rows (code 158).
    settings: kind === 'quantile' ? { ...ctx.settings, max_rows_to_read: ctx.maxSamples } : ctx.settings,
    binary: true,
    priority: 'api',
  });
  const out = new Map<number, Map<number, Partial>>();
  let n = 0;
  for (const r of rows) {
    const gi = Number(r.g);
    let m = out.get(gi);
    if (!m) out.set(gi, (m = new Map()));
    const cnt = Number(r.n);
    n += cnt;
    m.set(Number(r.b), { n: cnt, sum: r.s, min: r.mn, max: r.mx, mean: r.mean, m2: r.m2, vals: r.vals });
  }
  // A point in several buckets (extent > size) was counted once per bucket.
  ctx.sampleSize += Math.round(n / Math.max(1, copies));
  return out;
}

/** Each series' raw points (range (start, end]), one group per series keyed by its tags. */
async function rawGroups(ctx: EvalContext, st: State, series: SeriesMeta[]): Promise<Group[]> {
  if (series.length === 0) return [];
  st.raw ??= fetchRaw(ctx, st.all);
  const by = await st.raw;
  return series.map((s) => ({ key: s.tags, series: [s], points: by.get(s.id) ?? [] }));
}

async function fetchRaw(ctx: EvalContext, series: SeriesMeta[]): Promise<Map<string, [number, number][]>> {
  const rows = await ctx.store.query<{ id: string; t: string | number; v: number }>(
    sql`SELECT toString(series_id) AS id, toUnixTimestamp64Milli(ts) AS t, value AS v FROM ${POINTS}
        WHERE series_id IN ${ids(series)}
          AND ts > fromUnixTimestamp64Milli(${param('Int64', ctx.range.start)}, 'UTC')
          AND ts <= fromUnixTimestamp64Milli(${param('Int64', ctx.range.end)}, 'UTC')
          AND NOT isNaN(value)
        ORDER BY series_id, ts LIMIT ${param('UInt64', BigInt(ctx.maxSamples + 1))}`,
    { signal: ctx.signal, settings: ctx.settings, binary: true, priority: 'api' },
  );
  if (rows.length > ctx.maxSamples) throw new MetronomeError('MTR_QUERY_TOO_MANY_SAMPLES', [ctx.maxSamples]);
  ctx.sampleSize += rows.length;
  const by = new Map<string, [number, number][]>();
  for (const r of rows) {
    let l = by.get(r.id);
    if (!l) by.set(r.id, (l = []));
    l.push([Number(r.t), r.v]);
  }
  return by;
}
