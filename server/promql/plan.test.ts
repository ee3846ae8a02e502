import { describe, expect, it } from 'vitest';
import { compile } from '../store/sql.js';
import type { Aggregate } from './ast.js';
import { parseExpr } from './parse.js';
import { chooseResolution, pushableAggregate } from './plan.js';
import { aggregateShape, aggregateSql, gridSql, leafSql, unionLeavesSql, type GridPlan } from './sql.js';

const M = 60_000;
const H = 60 * M;
const T = 1_700_000_000_000 - (1_700_000_000_000 % H); // an hour boundary
const opts = { raw: false, rawRetentionStart: T - 15 * 24 * H };
const plan = (over: Partial<GridPlan>): GridPlan => ({
  fn: 'rate',
  matchers: [{ name: '__name__', op: '=', value: 'x' }],
  start: T,
  end: T + H,
  step: M,
  window: 5 * M,
  ...over,
});

describe('chooseResolution', () => {
  it('reads 1-minute rollups when start, step and window are whole minutes and windows do not overlap', () => {
    expect(chooseResolution(plan({ step: 5 * M }), opts)).toMatchObject({ resolution: '1m', form: 'window' });
  });

  it('reads raw points for rate when windows overlap (every window is checked for resets)', () => {
    expect(chooseResolution(plan({}), opts)).toMatchObject({ resolution: 'raw', form: 'grid' });
  });

  it('reads buckets for delta when a bucket lands in a few windows, raw beyond that', () => {
    expect(chooseResolution(plan({ fn: 'delta' }), opts).resolution).toBe('1m');
    expect(chooseResolution(plan({ fn: 'delta', window: H }), opts)).toMatchObject({ resolution: 'raw', form: 'grid' });
  });

  it('reads buckets for *_over_time without a grid function however many windows hold a bucket', () => {
    expect(chooseResolution(plan({ fn: 'avg_over_time' }), opts).resolution).toBe('1m');
    expect(chooseResolution(plan({ fn: 'max_over_time', window: H }), opts)).toMatchObject({ resolution: '1m', form: 'window' });
  });

  it('reads the newest sample of a window from buckets\' last samples with the grid function, at any window size', () => {
    expect(chooseResolution(plan({ fn: 'sample' }), opts)).toMatchObject({ resolution: '1m', form: 'grid' });
    expect(chooseResolution(plan({ fn: 'last_over_time', window: H }), opts)).toMatchObject({ resolution: '1m', form: 'grid' });
    expect(chooseResolution(plan({ fn: 'timestamp', step: H, window: H }), opts)).toMatchObject({ resolution: '1h', form: 'grid' });
    const q = compile(gridSql(chooseResolution(plan({ fn: 'sample' }), opts))).sql;
    expect(q).toContain('timeSeriesResampleToGridWithStaleness');
    expect(q).toMatch(/\(last\.1, last\.2\)\s+AS v/);
    expect(q).toContain('FROM rollup_1m');
  });

  it('reads hourly rollups when they are whole hours', () => {
    expect(chooseResolution(plan({ step: H, window: H }), opts).resolution).toBe('1h');
    expect(chooseResolution(plan({ step: H, window: 30 * M }), opts).resolution).toBe('1m');
    expect(chooseResolution(plan({ step: H, window: 2 * H }), opts).resolution).toBe('raw');
    expect(chooseResolution(plan({ fn: 'sum_over_time', step: H, window: 2 * H }), opts).resolution).toBe('1h');
  });

  it('reads raw points when a window would cut a bucket', () => {
    expect(chooseResolution(plan({ step: 15_000 }), opts)).toMatchObject({ resolution: 'raw', form: 'grid' });
    expect(chooseResolution(plan({ step: 5 * M, window: 90_000 }), opts).resolution).toBe('raw');
    expect(chooseResolution(plan({ start: T + 5000, end: T + 5000 + H }), opts).resolution).toBe('raw');
  });

  it('treats an instant query (one step) as aligned when its time is', () => {
    expect(chooseResolution(plan({ start: T + 3 * M, end: T + 3 * M, step: 1 }), opts).resolution).toBe('1m');
  });

  it('keeps functions that buckets cannot answer on raw points', () => {
    for (const fn of ['irate', 'changes', 'resets', 'deriv', 'stddev_over_time'] as const) {
      expect(chooseResolution(plan({ fn, step: 5 * M }), opts).resolution).toBe('raw');
    }
  });

  it('uses the window form over raw points for *_over_time, which have no grid function', () => {
    expect(chooseResolution(plan({ fn: 'avg_over_time', step: 15_000 }), opts)).toMatchObject({ resolution: 'raw', form: 'window' });
    expect(chooseResolution(plan({ fn: 'stddev_over_time' }), opts)).toMatchObject({ resolution: 'raw', form: 'window' });
  });

  it('honours raw=true', () => {
    expect(chooseResolution(plan({ step: 5 * M }), { ...opts, raw: true }).resolution).toBe('raw');
  });

  it('reads rollups for ranges older than raw retention even when unaligned', () => {
    const old = { raw: false, rawRetentionStart: T + 10 * H };
    expect(chooseResolution(plan({ step: 15_000 }), old).resolution).toBe('1m');
    expect(chooseResolution(plan({ step: 2 * H, window: 2 * H + 5000 }), old).resolution).toBe('1h');
  });
});

describe('pushableAggregate', () => {
  const agg = (q: string) => pushableAggregate(parseExpr(q) as Aggregate);

  it('pushes sum/avg/min/max/count/group of a selector or leaf function', () => {
    expect(agg('sum by (job) (rate(x[5m]))')).toEqual({ op: 'sum', grouping: ['job'], without: false, keepsName: false });
    expect(agg('max without (a) (x)')).toEqual({ op: 'max', grouping: ['a'], without: true, keepsName: true });
    expect(agg('count(last_over_time(x[5m]))')?.keepsName).toBe(true);
  });

  it('does not push what ClickHouse cannot compute the same way', () => {
    expect(agg('topk(3, x)')).toBeNull();
    expect(agg('stddev(x)')).toBeNull();
    expect(agg('sum(x + 1)')).toBeNull();
    expect(agg('sum(irate(x[5m]) * 2)')).toBeNull();
    // rate over several metric names may collide after dropping the name: evaluate in TS.
    expect(agg('sum(rate({__name__=~"a|b"}[5m]))')).toBeNull();
  });
});

describe('SQL', () => {
  it('binds every value as a parameter', () => {
    const evil = "x') OR 1=1 --";
    const q = compile(gridSql(plan({ matchers: [{ name: 'job', op: '=~', value: evil }] })));
    expect(q.sql).not.toContain(evil);
    expect(Object.values(q.params)).toContain(`^(?:${evil})$`);
  });

  it('computes a raw leaf with the ClickHouse grid function over the window before start', () => {
    const q = compile(leafSql({ ...plan({}), resolution: 'raw', form: 'grid' }));
    expect(q.sql).toMatch(/timeSeriesRateToGrid\(fromUnixTimestamp64Milli\(\{p0:Int64\}, 'UTC'\), fromUnixTimestamp64Milli\(\{p1:Int64\}, 'UTC'\), toDecimal64\(\{p2:String\}, 3\), toDecimal64\(\{p3:String\}, 3\)\)\(ts, value\)/);
    expect(q.params).toMatchObject({ p0: T, p1: T + H, p2: '60.000', p3: '300.000' });
    // Points from (start - window, end].
    expect(Object.values(q.params)).toContain(T - 5 * M);
  });

  it('scales ClickHouse deriv to per second', () => {
    expect(compile(leafSql({ ...plan({ fn: 'deriv' }), resolution: 'raw' })).sql).toContain('arrayMap(x -> x * 1000, timeSeriesDerivToGrid');
  });

  it('reads the rollup table of the chosen resolution; rows of unmerged parts merge in the window', () => {
    const q = compile(leafSql({ ...plan({}), resolution: '1h' })).sql;
    expect(q).toContain('FROM rollup_1h');
    expect(q).toContain('argMin(fv, fts) AS wfv');
    expect(q).toContain('deltaSumTimestampMerge(drops)');
    expect(compile(leafSql({ ...plan({}), resolution: '1m' })).sql).toContain('FROM rollup_1m');
  });

  it('copies buckets to the steps whose windows hold them, skipping rows no window needs', () => {
    const q = compile(leafSql({ ...plan({ step: 10 * M }), resolution: '1m' })).sql;
    expect(q).toContain('arrayJoin(range(');
    expect(q).toContain('positiveModulo(');
    // Counters: a drop between two buckets of a window is found by sorting its few buckets.
    expect(q).toContain('arraySort(groupArray((fts, fv, lv)))');
    expect(compile(leafSql({ ...plan({ fn: 'avg_over_time' }), resolution: 'raw', form: 'window' })).sql).toContain('FROM points');
  });

  it('filters on known series ids as one parameter, and groups by numbers given per id without a join', () => {
    const p = { ...plan({ ids: ['1', '18446744073709551615'] }), resolution: 'raw' as const };
    const g = compile(gridSql(p));
    expect(g.sql).not.toContain('FROM series');
    expect(g.sql).toMatch(/series_id IN \{p\d+:Array\(UInt64\)\}/);
    expect(Object.values(g.params)).toContainEqual([1n, 18446744073709551615n]);
    const a = compile(aggregateSql(p, { op: 'sum', grouping: ['job'], without: false, keepsName: false }, { ids: ['1', '18446744073709551615'], group: [0, 0] }));
    expect(a.sql).not.toContain('INNER JOIN');
    expect(a.sql).toMatch(/transform\(series_id, \{p\d+:Array\(UInt64\)\}, \{p\d+:Array\(UInt32\)\}, toUInt32\(0\)\) AS k/);
  });

  it('sends several leaves as one UNION ALL statement, each in one shape and tagged with its position', () => {
    const p = { ...plan({ ids: ['1'] }), resolution: 'raw' as const };
    const q = compile(
      unionLeavesSql([
        { sql: gridSql(p), shape: { values: 'v', key: 'id' } },
        { sql: aggregateSql({ ...p, fn: 'avg_over_time', resolution: '1m', form: 'window' }, { op: 'sum', grouping: [], without: false, keepsName: false }, { ids: ['1'], group: [0] }), shape: { values: 'pts', key: 'k' } },
      ]),
    ).sql;
    const branches = q.split('\nUNION ALL\n');
    expect(branches).toHaveLength(2);
    expect(branches[0]).toMatch(/^SELECT toUInt32\(0\) AS q, id AS id, toUInt32\(0\) AS k, CAST\(v, 'Array\(Nullable\(Float64\)\)'\) AS v/);
    expect(branches[1]).toMatch(/^SELECT toUInt32\(1\) AS q, '' AS id, toUInt32\(k\) AS k, CAST\(\[\], 'Array\(Nullable\(Float64\)\)'\) AS v,\s+CAST\(pts, 'Array\(Tuple\(UInt64, Nullable\(Float64\)\)\)'\) AS pts/);
  });

  it('groups a pushed-down aggregation by the by-labels, joined from the series table', () => {
    const q = compile(aggregateSql({ ...plan({}), resolution: 'raw' }, { op: 'max', grouping: ['job'], without: false, keepsName: false }));
    expect(q.sql).toContain('maxForEach(v)');
    expect(q.sql).toMatch(/GROUP BY k$/);
    expect(Object.values(q.params)).toContainEqual(['job']);
  });

  it('sums and averages per step over the group values, compensated, instead of with -ForEach', () => {
    const p = { ...plan({}), resolution: 'raw' as const };
    for (const op of ['sum', 'avg'] as const) {
      const a = { op, grouping: ['job'], without: false, keepsName: false };
      expect(aggregateShape(p, a)).toBe('pts');
      const q = compile(aggregateSql(p, a)).sql;
      expect(q).toContain('arrayFold((cs, cx) -> ');
      expect(q).not.toContain('ForEach');
    }
    expect(aggregateShape(p, { op: 'min', grouping: [], without: false, keepsName: false })).toBe('v');
  });
});
