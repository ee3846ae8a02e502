import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';
import { baseTime, loadSeries, promGet, samples } from './promql-helpers.js';

/**
 * What ClickHouse computes for the engine, held to Prometheus' semantics where its own
 * functions differ (issue 18, found by test/promql-suite). No head (HEAD_BYTES=0), so every leaf
 * runs in ClickHouse. Sums and means (a leaf's first `sum`/`avg`, `sum_over_time`,
 * `avg_over_time`) are compensated as Prometheus' are and as the evaluator's are
 * (test/promql-compat.test.ts): Neumaier's sum, and a mean that turns incremental instead of
 * overflowing. changes() does not count NaN -> NaN. Data (B = an hour boundary, T = B + 10 min,
 * one sample a minute from B):
 *   big{i}         1.5e308, 1.6e308 (their sum overflows)
 *   tiny{i}        4, 6, 1e100, -1e100 (cancellation across series)
 *   cancel         1, 1e100, 1, -1e100, 1, ... (cancellation in time)
 *   nans{k="a"}    NaN at every minute
 *   nanflip        0, NaN, 0, NaN, ...
 *   flips{k="b"}   1, 2, 1, 2, ...
 */
let srv: TestServer;
const B = baseTime();
const T = B + 600_000;
const sec = (ms: number) => ms / 1000;
const minutes = (f: (k: number) => number) => samples(B, 60_000, Array.from({ length: 11 }, (_, k) => f(k)));

beforeAll(async () => {
  srv = await startTestServer({ HEAD_BYTES: '0', QUERY_CACHE_BYTES: '0' });
  await loadSeries(srv.ctx.store, [
    ...[1.5e308, 1.6e308].map((v, i) => ({ labels: { __name__: 'big', i: String(i) }, samples: minutes(() => v) })),
    ...[4, 6, 1e100, -1e100].map((v, i) => ({ labels: { __name__: 'tiny', i: String(i) }, samples: minutes(() => v) })),
    { labels: { __name__: 'cancel' }, samples: minutes((k) => [1, 1e100, 1, -1e100][k % 4]) },
    { labels: { __name__: 'nans', k: 'a' }, samples: minutes(() => NaN) },
    { labels: { __name__: 'nanflip' }, samples: minutes((k) => (k % 2 ? NaN : 0)) },
    { labels: { __name__: 'flips', k: 'b' }, samples: minutes((k) => 1 + (k % 2)) },
  ]);
});
afterAll(async () => {
  await srv?.destroy();
});

const num = (s: string) => (s === '+Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s));

/** An instant query's values at T. */
async function at(q: string): Promise<number[]> {
  const r = await promGet(srv.url, '/api/v1/query', { query: q, time: sec(T) });
  if (r.status !== 200) throw new Error(`${q}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data.result.map((s: { value: [number, string] }) => num(s.value[1]));
}

/** A range query's values from B + 4 min to T by the minute, per series. */
async function range(q: string): Promise<number[][]> {
  const r = await promGet(srv.url, '/api/v1/query_range', { query: q, start: sec(B + 240_000), end: sec(T), step: 60 });
  if (r.status !== 200) throw new Error(`${q}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data.result.map((s: { values: [number, string][] }) => s.values.map((v) => num(v[1])));
}

describe('sums and means in ClickHouse', () => {
  it('sum and avg across series keep small terms and do not overflow, as the evaluator', async () => {
    expect(await at('sum(tiny)')).toEqual([10]);
    expect(await at('avg(tiny)')).toEqual([2.5]);
    expect(await at('avg(big)')).toEqual([1.55e308]);
    expect(await at('sum(big)')).toEqual([Infinity]);
    // `* 1` keeps the aggregation in the evaluator: both give the same.
    expect(await at('sum(tiny * 1)')).toEqual(await at('sum(tiny)'));
    expect(await at('avg(big * 1)')).toEqual(await at('avg(big)'));
    expect(await range('sum by () (tiny)')).toEqual([Array(7).fill(10)]);
    expect(await range('avg(big)')).toEqual([Array(7).fill(1.55e308)]);
  });

  // Windows of whole minutes read the 1-minute rollup (a bucket per sample here); 3m50s windows
  // read raw samples. Both hold the last four samples.
  for (const w of ['4m', '3m50s']) {
    it(`sum_over_time and avg_over_time add a window in time order, compensated (${w})`, async () => {
      // The window at T holds -1e100, 1, 1e100, 1: added plainly, 1.
      expect(await at(`sum_over_time(cancel[${w}])`)).toEqual([2]);
      expect(await at(`avg_over_time(cancel[${w}])`)).toEqual([0.5]);
      expect(await at(`sum(sum_over_time(cancel[${w}]))`)).toEqual([2]);
      // Overlapping windows of a range query: each holds the four values in some order.
      expect(await range(`sum_over_time(cancel[${w}])`)).toEqual([Array(7).fill(2)]);
      expect(await range(`avg_over_time(cancel[${w}])`)).toEqual([Array(7).fill(0.5)]);
    });

    it(`averages a window whose sum overflows without answering +Inf (${w})`, async () => {
      expect(await at(`avg_over_time(big{i="1"}[${w}])`)).toEqual([1.6e308]);
      expect(await range(`avg_over_time(big{i="1"}[${w}])`)).toEqual([Array(7).fill(1.6e308)]);
      expect(await at(`sum_over_time(big{i="1"}[${w}])`)).toEqual([Infinity]);
    });
  }
});

describe('changes() in ClickHouse', () => {
  it('does not count NaN followed by NaN as a change, as Prometheus does not', async () => {
    expect(await at('changes(nans[5m])')).toEqual([0]);
    // (T - 5m, T] holds 0, NaN, 0, NaN, 0.
    expect(await at('changes(nanflip[5m])')).toEqual([4]);
    expect(await range('changes(nans[5m])')).toEqual([Array(7).fill(0)]);
    expect(await range('changes(nanflip[5m])')).toEqual([Array(7).fill(4)]);
  });

  it('counts series without NaN beside them, by the grid function', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: 'sort(changes({__name__=~"nans|flips"}[5m]))', time: sec(T) });
    expect([r.status, r.body.data?.result.map((s: { value: [number, string] }) => s.value[1])]).toEqual([200, ['0', '4']]);
    // A window with one sample has no pair; a window with none has no value.
    expect(await at('changes(nanflip[1m])')).toEqual([0]);
    const before = await promGet(srv.url, '/api/v1/query', { query: 'changes(nanflip[1m])', time: sec(B - 120_000) });
    expect([before.status, before.body.data?.result]).toEqual([200, []]);
  });
});
