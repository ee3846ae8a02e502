import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';
import { baseTime, loadSeries, promGet, samples } from './promql-helpers.js';

/**
 * Prometheus compatibility found by playing Prometheus' own acceptance files against Metronome
 * (issue 18, `npm run test:promql-suite`), each pinned here with inputs of our own. Data
 * (B = an hour boundary, T = B + 10 min, one sample a minute from B unless said):
 *   req{svc="a"|"b"|"c"}  3, 9, 5 at every minute (constant)
 *   lat_bucket{le}        cumulative 2, 6, 8, 10 for le 0.1, 0.5, 1, +Inf
 *   bumpy_bucket{le}      4, 3, 9 for le 1, 2, +Inf (the second count dips)
 *   nolabel               7 (no `le`)
 *   temperature           20 + minute (a gauge, no counter suffix)
 *   typed{__type__, __unit__}  2 (Prometheus 3's type-and-unit labels)
 *   big{i}                1.5e308, 1.6e308 (their sum overflows)
 *   tiny{i}               4, 6, 1e100, -1e100 (cancellation)
 *   ab_bucket, cd_bucket  the same histogram under two names
 *   flips                 1, 2, 1, 2, ... (changes every minute)
 */
let srv: TestServer;
const B = baseTime();
const T = B + 600_000;
const sec = (ms: number) => ms / 1000;
const minutes = (f: (k: number) => number) => samples(B, 60_000, Array.from({ length: 11 }, (_, k) => f(k)));

beforeAll(async () => {
  srv = await startTestServer();
  const bucket = (name: string, le: string, v: number) => ({ labels: { __name__: name, le }, samples: minutes(() => v) });
  await loadSeries(srv.ctx.store, [
    { labels: { __name__: 'req', svc: 'a' }, samples: minutes(() => 3) },
    { labels: { __name__: 'req', svc: 'b' }, samples: minutes(() => 9) },
    { labels: { __name__: 'req', svc: 'c' }, samples: minutes(() => 5) },
    bucket('lat_bucket', '0.1', 2),
    bucket('lat_bucket', '0.5', 6),
    bucket('lat_bucket', '1', 8),
    bucket('lat_bucket', '+Inf', 10),
    bucket('bumpy_bucket', '1', 4),
    bucket('bumpy_bucket', '2', 3),
    bucket('bumpy_bucket', '+Inf', 9),
    bucket('ab_bucket', '1', 1),
    bucket('ab_bucket', '+Inf', 2),
    bucket('cd_bucket', '1', 1),
    bucket('cd_bucket', '+Inf', 2),
    { labels: { __name__: 'nolabel' }, samples: minutes(() => 7) },
    { labels: { __name__: 'temperature' }, samples: minutes((k) => 20 + k) },
    { labels: { __name__: 'typed', __type__: 'gauge', __unit__: 'seconds', job: 'j' }, samples: minutes(() => 2) },
    ...[1.5e308, 1.6e308].map((v, i) => ({ labels: { __name__: 'big', i: String(i) }, samples: minutes(() => v) })),
    ...[4, 6, 1e100, -1e100].map((v, i) => ({ labels: { __name__: 'tiny', i: String(i) }, samples: minutes(() => v) })),
    { labels: { __name__: 'flips' }, samples: minutes((k) => 1 + (k % 2)) },
  ]);
});
afterAll(async () => {
  await srv?.destroy();
});

async function query(q: string, t = T) {
  const r = await promGet(srv.url, '/api/v1/query', { query: q, time: sec(t) });
  return r;
}

/** An instant query's samples in answer order: [labels, value]. */
async function vector(q: string, t = T): Promise<[Record<string, string>, number][]> {
  const r = await query(q, t);
  if (r.status !== 200) throw new Error(`${q}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data.result.map((s: { metric: Record<string, string>; value: [number, string] }) => [s.metric, Number(s.value[1])]);
}

async function one(q: string): Promise<number> {
  const v = await vector(q);
  if (v.length !== 1) throw new Error(`${q}: expected one sample, got ${JSON.stringify(v)}`);
  return v[0][1];
}

describe('keywords in any letter case', () => {
  it('answers upper- and mixed-case aggregations, modifiers and set operators like lower-case ones', async () => {
    expect(await vector('SUM BY (svc) (req)')).toEqual(await vector('sum by (svc) (req)'));
    expect(await one('Count WITHOUT (svc) (req)')).toBe(3);
    expect(await one('MAX(req OFFSET 5m)')).toBe(9);
    expect(await vector('req > BOOL 4')).toEqual(await vector('req > bool 4'));
    expect(await vector('req AND ON (svc) req{svc="a"}')).toEqual([[{ __name__: 'req', svc: 'a' }, 3]]);
    expect(await one('TOPK(1, req)')).toBe(9);
  });
});

describe('classic histograms', () => {
  it('estimates the fraction of observations between two values with histogram_fraction', async () => {
    expect(await one('histogram_fraction(0, 0.5, lat_bucket)')).toBeCloseTo(0.6, 12);
    // 0.1..0.3 is half of the (0.1, 0.5] bucket, which holds 4 of 10.
    expect(await one('histogram_fraction(0.1, 0.3, lat_bucket)')).toBeCloseTo(0.2, 12);
    expect(await one('histogram_fraction(1, +Inf, lat_bucket)')).toBeCloseTo(0.2, 12);
    expect(await one('histogram_fraction(0.5, 0.5, lat_bucket)')).toBe(0);
  });

  it('gives several quantiles at once with histogram_quantiles, each named in the given label', async () => {
    const v = await vector('histogram_quantiles(lat_bucket, "phi", 0.5, 1)');
    expect(v.map(([m, x]) => [m, x])).toEqual([
      [{ phi: '0.5' }, expect.closeTo(0.4, 12)],
      [{ phi: '1.0' }, 1],
    ]);
    // The label overwrites one the histograms had: two that differ only there collide.
    expect((await query('histogram_quantiles(label_replace({__name__=~"(ab|cd)_bucket"}, "h", "$1", "__name__", "(.*)"), "h", 0.5)')).status).toBe(422);
  });

  it('fails when two histograms collide once their names are dropped', async () => {
    const r = await query('histogram_quantile(0.5, {__name__=~"(ab|cd)_bucket"})');
    expect(r.status).toBe(422);
    expect(r.body.error).toMatch(/vector cannot contain metrics with the same labelset/);
  });
});

describe('warnings and infos', () => {
  it('warns when a bucket has no le label, naming where the argument starts', async () => {
    const r = await query('histogram_quantile(0.9, nolabel)');
    expect(r.body.data.result).toEqual([]);
    expect(r.body.warnings).toEqual(['PromQL warning: bucket label "le" is missing or has a malformed value of "" for metric name "nolabel" (1:25)']);
  });

  it('warns about a quantile outside [0, 1]', async () => {
    const r = await query('histogram_quantile(1.5, lat_bucket)');
    expect(r.body.warnings).toEqual(['PromQL warning: quantile value should be between 0 and 1, got 1.5 (1:20)']);
    expect((await query('quantile(-2, req)')).body.warnings).toEqual(['PromQL warning: quantile value should be between 0 and 1, got -2 (1:10)']);
  });

  it('adds an info when bucket counts had to be made monotonic', async () => {
    const r = await query('histogram_quantile(0.5, bumpy_bucket)');
    expect(r.body.infos).toHaveLength(1);
    expect(r.body.infos[0]).toMatch(/^PromQL info: input to histogram_quantile needed to be fixed for monotonicity .* for metric name "bumpy_bucket" \(1:25\)$/);
  });

  it('adds an info when rate reads a metric whose name does not say counter', async () => {
    const r = await query('rate(temperature[5m])');
    expect(r.body.infos).toEqual(['PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "temperature" (1:6)']);
    expect((await query('rate(lat_bucket[5m])')).body.infos).toBeUndefined();
  });

  it('warns that sort changes nothing in a range query, and not in an instant one', async () => {
    const r = await promGet(srv.url, '/api/v1/query_range', { query: 'sum(sort_desc(req))', start: sec(B), end: sec(T), step: 60 });
    expect(r.body.warnings).toEqual(['PromQL warning: sort is ineffective for range queries since results are always ordered by labels (1:5)']);
    expect((await query('sort_desc(req)')).body.warnings).toBeUndefined();
  });
});

describe('metric name dropping', () => {
  it('drops __type__ and __unit__ along with the metric name', async () => {
    expect(await vector('abs(typed)')).toEqual([[{ job: 'j' }, 2]]);
    expect(await vector('typed * 2')).toEqual([[{ job: 'j' }, 4]]);
    expect(await vector('last_over_time(typed[5m])')).toEqual([[{ __name__: 'typed', __type__: 'gauge', __unit__: 'seconds', job: 'j' }, 2]]);
  });
});

describe('compensated sums and overflow-safe averages', () => {
  it('keeps small terms that a plain sum loses to cancellation', async () => {
    // `* 1` keeps the aggregation in the TypeScript evaluator.
    expect(await one('sum(tiny * 1)')).toBe(10);
    expect(await one('avg(tiny * 1)')).toBe(2.5);
  });

  it('averages values whose sum overflows without answering +Inf', async () => {
    expect(await one('avg(big * 1)')).toBe(1.55e308);
  });
});

describe('topk and bottomk', () => {
  it('answer an instant query best first', async () => {
    expect((await vector('topk(2, req)')).map(([m, v]) => [m.svc, v])).toEqual([
      ['b', 9],
      ['c', 5],
    ]);
    expect((await vector('bottomk(3, req)')).map(([m, v]) => [m.svc, v])).toEqual([
      ['a', 3],
      ['c', 5],
      ['b', 9],
    ]);
  });

  it('refuse NaN as the number of series or the ratio, even over nothing', async () => {
    for (const q of ['topk(NaN, req)', 'bottomk(NaN, absent_metric)', 'limitk(NaN, absent_metric)']) {
      const r = await query(q);
      expect([q, r.status, r.body.error]).toEqual([q, 422, 'Parameter value is NaN']);
    }
    expect((await query('limit_ratio(NaN, absent_metric)')).body.error).toBe('Ratio value is NaN');
  });
});

describe('syntax read as Go reads it', () => {
  it('takes a range selector in parentheses as the range selector', async () => {
    expect(await one('changes((flips[10m]))')).toBe(await one('changes(flips[10m])'));
    expect(await one('changes((flips[10m]))')).toBe(9);
  });

  it('binds an operator after `@` on the right of a matched binary to that operand', async () => {
    const at = sec(T);
    // Go: req @ t + on(svc) group_left (req @ t * 0); lezer alone read ((req @ t + ...) * 0).
    expect(await vector(`req{svc="b"} @ ${at} + on(svc) group_left req{svc="b"} @ ${at} * 0`)).toEqual([[{ svc: 'b' }, 9]]);
  });

  it('reads a number with a trailing point', async () => {
    expect(await one('vector(3.)')).toBe(3);
    expect(await one('vector(1./4.)')).toBe(0.25);
  });
});

describe('NaN in a window', () => {
  it('mad_over_time of a window holding a NaN is NaN, while max_over_time skips the NaN', async () => {
    await loadSeries(srv.ctx.store, [{ labels: { __name__: 'has_nan' }, samples: samples(T - 50_000, 10_000, [1, NaN, 3, 4]) }]);
    expect(await one('mad_over_time(has_nan[1m])')).toBeNaN();
    expect(await one('max_over_time(has_nan[1m])')).toBe(4);
  });
});
