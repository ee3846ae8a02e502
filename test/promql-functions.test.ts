import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';
import { baseTime, loadSeries, promGet, samples } from './promql-helpers.js';

/**
 * Every PromQL function, aggregation and operator against hand-computed answers, through the
 * real server and the embedded ClickHouse. Data (B = an hour boundary, T = B + 10 min):
 *   c{i="a"}  counter, every 15 s from B+5s: 0, 15, 30, ... (1/s), 40 samples (last B+590s = 585)
 *   c{i="b"}  counter, every 15 s from B+5s: 0, 30, ... 870, reset at B+455s: 0, 30, ... 270
 *   g{i="x"}  gauge, every 60 s from B+5s: 1 4 2 8 5 5 7 3 6 9 (B+5s ... B+545s)
 *   h         single sample -2.5 at T-10s;  n  single sample NaN at T-10s
 *   lat_bucket{le=0.1|0.5|1|+Inf}  10, 30, 45, 50 at T-10s
 *   gap       samples at B+5s, B+65s, then B+605s (a gap longer than the 5 m lookback)
 */
let srv: TestServer;
const B = baseTime();
const T = B + 600_000;
const sec = (ms: number) => ms / 1000;

beforeAll(async () => {
  srv = await startTestServer();
  await loadSeries(srv.ctx.store, [
    { labels: { __name__: 'c', i: 'a' }, samples: samples(B + 5000, 15000, Array.from({ length: 40 }, (_, k) => 15 * k)) },
    { labels: { __name__: 'c', i: 'b' }, samples: samples(B + 5000, 15000, Array.from({ length: 40 }, (_, k) => (k < 30 ? 30 * k : 30 * (k - 30)))) },
    { labels: { __name__: 'g', i: 'x' }, samples: samples(B + 5000, 60000, [1, 4, 2, 8, 5, 5, 7, 3, 6, 9]) },
    { labels: { __name__: 'h' }, samples: [[T - 10_000, -2.5]] },
    { labels: { __name__: 'n' }, samples: [[T - 10_000, NaN]] },
    ...[
      ['0.1', 10],
      ['0.5', 30],
      ['1', 45],
      ['+Inf', 50],
    ].map(([le, v]) => ({ labels: { __name__: 'lat_bucket', job: 'j', le: String(le) }, samples: [[T - 10_000, Number(v)]] as [number, number][] })),
    ...[
      ['0.5', 3],
      ['1', 4],
    ].map(([le, v]) => ({ labels: { __name__: 'noinf_bucket', le: String(le) }, samples: [[T - 10_000, Number(v)]] as [number, number][] })),
    { labels: { __name__: 'gap' }, samples: [[B + 5000, 1], [B + 65_000, 2], [B + 605_000, 3]] },
  ]);
});
afterAll(async () => {
  await srv?.destroy();
});

/** Instant query -> { 'label=value,...': number } (labels sorted, __name__ included). */
async function instant(query: string, t = T): Promise<Record<string, number>> {
  const r = await promGet(srv.url, '/api/v1/query', { query, time: sec(t) });
  if (r.status !== 200) throw new Error(`${query}: ${r.status} ${JSON.stringify(r.body)}`);
  const d = r.body.data;
  if (d.resultType === 'scalar') return { scalar: num(d.result[1]) };
  const out: Record<string, number> = {};
  for (const s of d.result) out[key(s.metric)] = num(s.value[1]);
  return out;
}

/** Prometheus' value strings: +Inf and -Inf are not JS number syntax. */
function num(s: string): number {
  return s === '+Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s);
}

function key(m: Record<string, string>): string {
  return Object.keys(m)
    .sort()
    .map((k) => `${k}=${m[k]}`)
    .join(',');
}

async function one(query: string, t = T): Promise<number> {
  const r = await instant(query, t);
  const vals = Object.values(r);
  if (vals.length !== 1) throw new Error(`${query}: expected one result, got ${JSON.stringify(r)}`);
  return vals[0];
}

async function error(query: string): Promise<{ status: number; error: string }> {
  const r = await promGet(srv.url, '/api/v1/query', { query, time: sec(T) });
  return { status: r.status, error: r.body.error };
}

describe('counter functions', () => {
  it('rate extrapolates to the window edges', async () => {
    expect((await instant('rate(c[5m])'))['i=a']).toBeCloseTo(1, 12);
  });

  it('rate counts the increase across a counter reset (the value before the reset is added back)', async () => {
    // 600..870, reset, 0..270 -> 270 - 600 + 870 = 540 over 285 s, extrapolated to 300 s.
    expect((await instant('rate(c[5m])'))['i=b']).toBeCloseTo((540 * 300) / 285 / 300, 12);
  });

  it('rate does not extrapolate a counter below zero at the start of a series', async () => {
    // At B+120s: samples B+5..B+110 (0..105). The start is 185 s away (> 1.1 x 15 s), so it would
    // extrapolate 7.5 s, but the counter reaches 0 at its first sample: 105 + 10 s to the end.
    expect((await instant('rate(c{i="a"}[5m])', B + 120_000))['i=a']).toBeCloseTo(115 / 300, 12);
  });

  it('increase is rate times the range', async () => {
    const r = await instant('increase(c[5m])');
    expect(r['i=a']).toBeCloseTo(300, 10);
    expect(r['i=b']).toBeCloseTo((540 * 300) / 285, 10);
  });

  it('irate and idelta use the last two samples', async () => {
    expect(await instant('irate(c[5m])')).toEqual({ 'i=a': 1, 'i=b': 2 });
    expect(await instant('idelta(c[5m])')).toEqual({ 'i=a': 15, 'i=b': 30 });
  });

  it('resets counts decreases', async () => {
    expect(await instant('resets(c[5m])')).toEqual({ 'i=a': 0, 'i=b': 1 });
  });
});

describe('gauge range functions over g[5m] at T: samples 5 7 3 6 9 at B+305 ... B+545', () => {
  it('delta extrapolates like rate without counter handling', async () => {
    // 9 - 5 = 4 over 240 s; 5 s and 55 s to the edges (< 66 s) -> x 300/240.
    expect(await one('delta(g[5m])')).toBeCloseTo(5, 12);
  });

  it('deriv is the least-squares slope per second', async () => {
    expect(await one('deriv(g[5m])')).toBeCloseTo(420 / 36000, 12);
  });

  it('predict_linear extrapolates from the evaluation time', async () => {
    // Line through the mean (x = T-175 s, y = 6) with slope 7/600, read at T + 60 s.
    expect(await one('predict_linear(g[5m], 60)')).toBeCloseTo(6 + (7 / 600) * 235, 10);
    expect(await one('predict_linear(g[5m], 0)')).toBeCloseTo(6 + (7 / 600) * 175, 10);
  });

  it('changes counts value changes', async () => {
    expect(await one('changes(g[5m])')).toBe(4);
  });

  it('computes the *_over_time family', async () => {
    expect(await one('avg_over_time(g[5m])')).toBe(6);
    expect(await one('sum_over_time(g[5m])')).toBe(30);
    expect(await one('min_over_time(g[5m])')).toBe(3);
    expect(await one('max_over_time(g[5m])')).toBe(9);
    expect(await one('count_over_time(g[5m])')).toBe(5);
    expect(await one('last_over_time(g[5m])')).toBe(9);
    expect(await one('first_over_time(g[5m])')).toBe(5);
    expect(await one('present_over_time(g[5m])')).toBe(1);
    expect(await one('stdvar_over_time(g[5m])')).toBeCloseTo(4, 12);
    expect(await one('stddev_over_time(g[5m])')).toBeCloseTo(2, 12);
    expect(await one('quantile_over_time(0.5, g[5m])')).toBe(6);
    expect(await one('quantile_over_time(0.9, g[5m])')).toBeCloseTo(8.2, 12);
    expect(await one('mad_over_time(g[5m])')).toBe(1);
  });

  it('keeps the metric name only for last_over_time', async () => {
    expect(await instant('last_over_time(g[5m])')).toEqual({ '__name__=g,i=x': 9 });
    expect(await instant('max_over_time(g[5m])')).toEqual({ 'i=x': 9 });
  });

  it('uses left-open windows: a sample exactly at t - range is outside', async () => {
    // (B+305s, B+605s]: B+305 is excluded, leaving 7 3 6 9.
    expect(await one('count_over_time(g[5m])', B + 605_000)).toBe(4);
  });
});

describe('absent and presence', () => {
  it('absent gives 1 with the equality matchers as labels when nothing matches', async () => {
    expect(await instant('absent(nosuch{job="x", env=~"p.*"})')).toEqual({ 'job=x': 1 });
    expect(await instant('absent(g)')).toEqual({});
  });

  it('absent_over_time looks at the whole window', async () => {
    expect(await instant('absent_over_time(nosuch{job="y"}[5m])')).toEqual({ 'job=y': 1 });
    expect(await instant('absent_over_time(g[5m])')).toEqual({});
  });

  it('drops a series with no sample in the lookback window and brings it back after a gap', async () => {
    const r = await promGet(srv.url, '/api/v1/query_range', { query: 'gap', start: sec(B + 60_000), end: sec(B + 660_000), step: 60 });
    // Samples at B+5, B+65, B+605: visible until B+365, then absent until B+605.
    const steps = r.body.data.result[0].values.map((p: [number, string]) => (p[0] * 1000 - B) / 1000);
    expect(steps).toEqual([60, 120, 180, 240, 300, 360, 660]);
  });
});

describe('element-wise functions', () => {
  it('computes math functions and drops the metric name', async () => {
    expect(await instant('abs(h)')).toEqual({ '': 2.5 });
    expect(await one('ceil(h)')).toBe(-2);
    expect(await one('floor(h)')).toBe(-3);
    expect(await one('round(h)')).toBe(-2); // half rounds up, as Prometheus
    expect(await one('round(h, 2)')).toBe(-2);
    expect(await one('round(g, 4)')).toBe(8);
    expect(await one('sgn(h)')).toBe(-1);
    expect(await one('exp(h)')).toBeCloseTo(Math.exp(-2.5), 14);
    expect(await one('sqrt(abs(h))')).toBeCloseTo(Math.sqrt(2.5), 14);
    expect(await one('ln(g)')).toBeCloseTo(Math.log(9), 14);
    expect(await one('log2(g)')).toBeCloseTo(Math.log2(9), 14);
    expect(await one('log10(g)')).toBeCloseTo(Math.log10(9), 14);
    expect(Number.isNaN(await one('sqrt(h)'))).toBe(true);
  });

  it('clamp, clamp_min and clamp_max bound each value; clamp with max below min returns nothing', async () => {
    expect(await one('clamp(h, -2, 0)')).toBe(-2);
    expect(await one('clamp_min(h, 0)')).toBe(0);
    expect(await one('clamp_max(h, -3)')).toBe(-3);
    // max < min returns nothing.
    expect(await instant('clamp(h, 1, 0)')).toEqual({});
  });

  it('computes calendar functions in UTC, from the argument or the evaluation time', async () => {
    expect(await one('day_of_week(vector(0))')).toBe(4); // 1970-01-01 was a Thursday
    expect(await one('year(vector(0))')).toBe(1970);
    expect(await one('hour(vector(18000))')).toBe(5);
    expect(await one('minute(vector(90))')).toBe(1);
    expect(await one('month(vector(86400 * 40))')).toBe(2);
    expect(await one('day_of_month(vector(86400 * 40))')).toBe(10);
    expect(await one('day_of_year(vector(86400 * 40))')).toBe(41);
    expect(await one('days_in_month(vector(86400 * 40))')).toBe(28);
    expect(await one('hour()')).toBe(new Date(T).getUTCHours());
  });

  it("timestamp is the picked sample's time, scalar of two series is NaN, and time, vector and pi give their plain values", async () => {
    expect(await instant('time()')).toEqual({ scalar: sec(T) });
    // The timestamp of the sample the lookback picked, not the evaluation time.
    expect(await instant('timestamp(g)')).toEqual({ 'i=x': sec(B + 545_000) });
    expect(await instant('timestamp(abs(g))')).toEqual({ 'i=x': sec(T) });
    expect(await instant('vector(3)')).toEqual({ '': 3 });
    expect(await instant('scalar(g)')).toEqual({ scalar: 9 });
    expect(Number.isNaN((await instant('scalar(c)')).scalar)).toBe(true); // two series
    expect(await instant('pi()')).toEqual({ scalar: Math.PI });
  });

  it('label_replace with Go-style templates, fully anchored', async () => {
    expect(await instant('label_replace(g, "foo", "$1-z", "i", "(.*)")')).toEqual({ '__name__=g,foo=x-z,i=x': 9 });
    expect(await instant('label_replace(g, "foo", "${1}y", "i", "(x)")')).toEqual({ '__name__=g,foo=xy,i=x': 9 });
    // No match (anchored): unchanged.
    expect(await instant('label_replace(g, "foo", "$1", "i", "y")')).toEqual({ '__name__=g,i=x': 9 });
    // An empty result removes the label.
    expect(await instant('label_replace(g, "i", "", "i", ".*")')).toEqual({ __name__: undefined, '__name__=g': 9 });
  });

  it("label_join writes the source labels' values, joined by the separator, into the new label", async () => {
    expect(await instant('label_join(g, "foo", ",", "i", "__name__")')).toEqual({ '__name__=g,foo=x,g,i=x': 9 });
  });

  it('sort and sort_desc order an instant vector by value', async () => {
    const asc = await promGet(srv.url, '/api/v1/query', { query: 'sort(c)', time: sec(T) });
    expect(asc.body.data.result.map((s: any) => s.metric.i)).toEqual(['b', 'a']);
    const desc = await promGet(srv.url, '/api/v1/query', { query: 'sort_desc(c)', time: sec(T) });
    expect(desc.body.data.result.map((s: any) => s.metric.i)).toEqual(['a', 'b']);
  });

  it('refuses label sets that collide after a function', async () => {
    const r = await error('label_replace(c, "i", "same", "i", ".*")');
    expect(r.status).toBe(422);
    expect(r.error).toContain('vector cannot contain metrics with the same labelset');
  });
});

describe('histogram_quantile over classic buckets (10, 30, 45, 50 at le 0.1, 0.5, 1, +Inf)', () => {
  it('interpolates inside the bucket holding the rank', async () => {
    // rank 25 falls in (0.1, 0.5]: 0.1 + 0.4 * (25 - 10) / (30 - 10).
    expect(await instant('histogram_quantile(0.5, lat_bucket)')).toEqual({ 'job=j': 0.4 });
    expect(await one('histogram_quantile(0.05, lat_bucket)')).toBeCloseTo(0.025, 14);
  });

  it('returns the highest finite bound for ranks in the +Inf bucket, and ±Inf outside [0, 1]', async () => {
    expect(await one('histogram_quantile(0.99, lat_bucket)')).toBe(1);
    expect(await one('histogram_quantile(2, lat_bucket)')).toBe(Infinity);
    expect(await one('histogram_quantile(-1, lat_bucket)')).toBe(-Infinity);
  });

  it('returns NaN without a +Inf bucket', async () => {
    expect(Number.isNaN(await one('histogram_quantile(0.5, noinf_bucket)'))).toBe(true);
  });

  it('takes the quantile of bucket rates summed by le', async () => {
    expect(await one('histogram_quantile(0.5, sum by (le) (lat_bucket))')).toBe(0.4);
  });
});

describe('aggregations over c at T (a = 585, b = 270)', () => {
  it('sum, avg, min, max, count, group, stddev, stdvar, quantile', async () => {
    expect(await instant('sum(c)')).toEqual({ '': 855 });
    expect(await one('avg(c)')).toBe(427.5);
    expect(await one('min(c)')).toBe(270);
    expect(await one('max(c)')).toBe(585);
    expect(await one('count(c)')).toBe(2);
    expect(await one('group(c)')).toBe(1);
    expect(await one('stddev(c)')).toBe(157.5);
    expect(await one('stdvar(c)')).toBe(157.5 ** 2);
    expect(await one('quantile(0.5, c)')).toBe(427.5);
  });

  it('groups by and without labels, by __name__, and by a missing label into one group', async () => {
    expect(await instant('sum by (i) (c)')).toEqual({ 'i=a': 585, 'i=b': 270 });
    expect(await instant('sum without (i) (c)')).toEqual({ '': 855 });
    expect(await instant('sum by (__name__) (c)')).toEqual({ '__name__=c': 855 });
    expect(await instant('count by (nosuch) (c)')).toEqual({ '': 2 });
  });

  it('topk and bottomk keep the whole series', async () => {
    expect(await instant('topk(1, c)')).toEqual({ '__name__=c,i=a': 585 });
    expect(await instant('bottomk(1, c)')).toEqual({ '__name__=c,i=b': 270 });
    expect(await instant('topk(5, c)')).toEqual({ '__name__=c,i=a': 585, '__name__=c,i=b': 270 });
  });

  it('count_values counts equal values under a new label', async () => {
    expect(await instant('count_values("val", c)')).toEqual({ 'val=585': 1, 'val=270': 1 });
    expect(await instant('count_values("val", c * 0)')).toEqual({ 'val=0': 2 });
    const bad = await error('count_values("1 bad", c)');
    expect(bad.status).toBe(422);
    expect(bad.error).toContain('invalid label name');
  });

  it('sum and avg of a NaN are NaN, count counts it, min and max skip it, and of the comparisons only != keeps it', async () => {
    expect(Number.isNaN(await one('sum(n)'))).toBe(true);
    expect(Number.isNaN(await one('avg(n)'))).toBe(true);
    expect(await one('count(n)')).toBe(1);
    // min/max replace a NaN by any number.
    expect(await one('max({__name__=~"n|g"})')).toBe(9);
    expect(await one('min({__name__=~"n|g"})')).toBe(9);
    // Comparisons with NaN are false, except !=.
    expect(await instant('n > 0')).toEqual({});
    expect(Number.isNaN(await one('n != 0'))).toBe(true);
  });
});

describe('binary operators', () => {
  it('vector-scalar arithmetic drops the name; comparison filters and keeps it', async () => {
    expect(await instant('c / 15')).toEqual({ 'i=a': 39, 'i=b': 18 });
    expect(await instant('c > 300')).toEqual({ '__name__=c,i=a': 585 });
    expect(await instant('300 < c')).toEqual({ '__name__=c,i=a': 585 });
    expect(await instant('c > bool 300')).toEqual({ 'i=a': 1, 'i=b': 0 });
    expect(await instant('2 ^ 3 - 1 + c % 7')).toEqual({ 'i=a': 7 + (585 % 7), 'i=b': 7 + (270 % 7) });
  });

  it('scalar-scalar comparison needs bool and gives 0 or 1', async () => {
    expect(await instant('1 < bool 2')).toEqual({ scalar: 1 });
    expect(await instant('2 == bool 3')).toEqual({ scalar: 0 });
  });

  it('matches one-to-one on all labels but the name', async () => {
    expect(await instant('c - c')).toEqual({ 'i=a': 0, 'i=b': 0 });
    expect(await instant('c{i="a"} + on(i) c')).toEqual({ 'i=a': 1170 });
  });

  it('matches many-to-one with group_left, copying included labels from the one side', async () => {
    expect(await instant('c + ignoring(i) group_left g')).toEqual({ 'i=a': 594, 'i=b': 279 });
  });

  it('refuses a many-to-one match whose result labels collide', async () => {
    // Both c series become {i="z"} after group_left(i) copies i from the one side.
    const r = await error('c * on() group_left(i) label_replace(vector(1), "i", "z", "", "")');
    expect(r.status).toBe(422);
    expect(r.error).toContain('grouping labels must ensure unique matches');
  });

  it('refuses many-to-one without group_left', async () => {
    const r = await error('c + ignoring(i) g');
    expect(r.status).toBe(422);
    expect(r.error).toContain('many-to-one matching must be explicit');
  });

  it('and keeps the matched left elements, unless the unmatched ones, or adds the right ones the left lacks; on(...) matches on the listed labels only', async () => {
    expect(await instant('c and c{i="a"}')).toEqual({ '__name__=c,i=a': 585 });
    expect(await instant('c unless c{i="a"}')).toEqual({ '__name__=c,i=b': 270 });
    expect(await instant('c{i="a"} or g')).toEqual({ '__name__=c,i=a': 585, '__name__=g,i=x': 9 });
    expect(await instant('c and on() g')).toEqual({ '__name__=c,i=a': 585, '__name__=c,i=b': 270 });
    expect(await instant('c and on(i) g')).toEqual({});
  });
});

describe('offset, @ and subqueries', () => {
  it('offset shifts the selection back', async () => {
    // T - 60 s = B+540: last sample B+530 (k = 35).
    expect(await instant('c{i="a"} offset 1m')).toEqual({ '__name__=c,i=a': 525 });
    // (B, B+300]: 0..285 from B+5 to B+290; the counter's zero point is its first sample, so
    // only the 10 s to the end are extrapolated: 295 / 300.
    expect((await instant('rate(c{i="a"}[5m] offset 5m)'))['i=a']).toBeCloseTo(295 / 300, 12);
  });

  it('@ pins the evaluation time, with or without offset', async () => {
    expect(await instant(`c{i="a"} @ ${sec(B + 300_000)}`)).toEqual({ '__name__=c,i=a': 285 });
    expect(await instant(`c{i="a"} offset 1m @ ${sec(B + 300_000)}`)).toEqual({ '__name__=c,i=a': 225 });
    const r = await promGet(srv.url, '/api/v1/query_range', { query: 'c{i="a"} @ end()', start: sec(T - 120_000), end: sec(T), step: 60 });
    expect(r.body.data.result[0].values.map((p: any) => p[1])).toEqual(['585', '585', '585']);
    const s = await promGet(srv.url, '/api/v1/query_range', { query: 'c{i="a"} @ start()', start: sec(B + 300_000), end: sec(T), step: 150 });
    expect(s.body.data.result[0].values.map((p: any) => p[1])).toEqual(['285', '285', '285']);
  });

  it('subqueries evaluate at absolute multiples of their step inside (t - range, t]', async () => {
    // Steps B+360 ... B+600; c{b} is 690 at B+360, 810 at B+420, then resets.
    expect(await instant('max_over_time(c[5m:1m])')).toEqual({ 'i=a': 585, 'i=b': 810 });
    // (T-120, T]: B+540 (525) and B+600 (585).
    expect((await instant('sum_over_time(c[2m:1m])'))['i=a']).toBe(1110);
    // 345, 405, 465, 525, 585 at B+360 ... B+600: 240 over 240 s, 60 s to the start (< 66) -> 300.
    expect((await instant('rate(c[5m:1m])'))['i=a']).toBeCloseTo(1, 12);
    expect((await instant('max_over_time(c[5m:1m] offset 5m)'))['i=a']).toBe(285);
  });

  it('returns a subquery as a matrix of its steps for an instant query', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: 'c{i="a"}[2m:1m]', time: sec(T) });
    expect(r.body.data.result[0].values).toEqual([
      [sec(B + 540_000), '525'],
      [sec(B + 600_000), '585'],
    ]);
  });
});
