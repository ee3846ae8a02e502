import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriesId } from '../ingest/series-id.js';
import type { Head } from '../server/store/head.js';
import { compile, param, sql } from '../server/store/index.js';
import { chTime } from '../server/store/store.js';
import { startTestServer, wrapStore, type TestServer } from './helpers.js';
import { baseTime, loadSeries, promGet, type TestSeries } from './promql-helpers.js';

/**
 * The head of recent points (server/store/head.ts) answers every leaf as ClickHouse does: the
 * same queries, range and instant, once from the head and once with the head bypassed, over
 * seeded data that arrives out of order, with counter resets, NaN, gaps and a staleness marker.
 * While the head covers a query, no statement reads the points table.
 */
let srv: TestServer;
const B = baseTime(3);
const HOUR = 3_600_000;
const SEED = Number(process.env.HEAD_TEST_SEED ?? 11);
const sec = (ms: number) => ms / 1000;

/** Statements that read points or their rollups. */
const pointReads: string[] = [];
const counting = wrapStore({
  query: (real, q, opts) => {
    const text = compile(q).sql;
    if (/\bFROM\s+(points|rollup_1[mh])\b/.test(text)) pointReads.push(text);
    return real(q, opts);
  },
});

function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

function data(): TestSeries[] {
  const rand = rng(SEED);
  const out: TestSeries[] = [];
  for (const job of ['api', 'web', 'db']) {
    for (const instance of ['i0', 'i1']) {
      const counter: [number, number][] = [];
      const gauge: [number, number][] = [];
      let c = 0;
      for (let t = B + Math.floor(rand() * 14_000); t < B + 2 * HOUR; t += 15_000) {
        // A gap of 12 minutes in one series, off the scrape grid everywhere.
        if (job === 'web' && instance === 'i1' && t > B + HOUR && t < B + HOUR + 12 * 60_000) continue;
        c = rand() < 0.003 ? 0 : c + Math.floor(rand() * 20);
        counter.push([t, c]);
        gauge.push([t, rand() < 0.01 ? NaN : Math.round(rand() * 1000) / 10]);
      }
      out.push({ labels: { __name__: 'reqs_total', job, instance }, samples: counter });
      out.push({ labels: { __name__: 'depth', job, instance }, samples: gauge });
    }
  }
  return out;
}

beforeAll(async () => {
  srv = await startTestServer({ QUERY_CACHE_BYTES: '0' }, { wrapStore: counting });
  // In chunks of 10 minutes, newest first: every series arrives out of order.
  const all = data();
  for (let k = 11; k >= 0; k--) {
    const lo = B + k * 10 * 60_000;
    const hi = lo + 10 * 60_000;
    await loadSeries(
      srv.ctx.store,
      all.map((s) => ({ labels: s.labels, samples: s.samples.filter(([t]) => t >= lo && t < hi) })).filter((s) => s.samples.length),
    );
  }
  // web/i1 ends at the start of its gap (a staleness marker), and comes back after it.
  await srv.ctx.store.insertRows('series_ends', [{ series_id: seriesId('depth', { job: 'web', instance: 'i1' }), ts: chTime(B + HOUR + 1_000) }]);
  // Two days back: before anything the head holds.
  await loadSeries(srv.ctx.store, [{ labels: { __name__: 'depth', job: 'old', instance: 'i0' }, samples: [[B - 48 * HOUR, 1]] }]);
});
afterAll(async () => {
  await srv?.destroy();
});

const QUERIES = [
  'depth',
  'timestamp(depth)',
  'sum by (job) (depth)',
  'rate(reqs_total[5m])',
  'sum by (job) (rate(reqs_total[5m]))',
  'increase(reqs_total[10m])',
  'irate(reqs_total[1m])',
  'resets(reqs_total[30m])',
  // Not over `depth`: ClickHouse's grid function counts NaN -> NaN as a change, Prometheus and
  // the head do not (issue 18).
  'changes(reqs_total[10m])',
  'delta(depth[10m])',
  'idelta(depth[5m])',
  'deriv(depth[15m])',
  'predict_linear(depth[15m], 600)',
  'avg_over_time(depth[5m])',
  'max by (job) (max_over_time(depth[5m]))',
  'min_over_time(depth[10m])',
  'sum_over_time(depth[3m])',
  'count_over_time(depth[7m])',
  'last_over_time(depth[10m])',
  'first_over_time(depth[10m])',
  'present_over_time(depth[2m])',
  'stddev_over_time(depth[10m])',
  'quantile_over_time(0.9, depth[10m])',
  'rate(reqs_total[5m] offset 10m)',
  'max_over_time(rate(reqs_total[2m])[10m:1m])',
  'depth > 50',
];

function head(): Head {
  const h = srv.ctx.store.head;
  if (!h) throw new Error('the embedded store keeps a head');
  return h;
}

async function both(path: string, params: Record<string, string | number>) {
  pointReads.length = 0;
  const fromHead = await promGet(srv.url, path, params);
  const readsWithHead = pointReads.length;
  const h = head();
  const covers = h.covers;
  h.covers = () => false;
  try {
    return { fromHead, fromStore: await promGet(srv.url, path, params), readsWithHead };
  } finally {
    h.covers = covers;
  }
}

/** Values equal, or within float rounding where ClickHouse sums in another order. */
function expectSame(a: any, b: any) {
  expect(a.status).toBe(200);
  expect(b.status).toBe(200);
  const key = (r: any) => JSON.stringify(r.metric);
  const ra = [...a.body.data.result].sort((x, y) => key(x).localeCompare(key(y)));
  const rb = [...b.body.data.result].sort((x, y) => key(x).localeCompare(key(y)));
  expect(ra.map(key)).toEqual(rb.map(key));
  ra.forEach((s: any, i: number) => {
    const pa: [number, string][] = s.values ?? [s.value];
    const pb: [number, string][] = rb[i].values ?? [rb[i].value];
    expect(pa.map((p) => p[0])).toEqual(pb.map((p) => p[0]));
    pa.forEach(([, x], j) => {
      const y = pb[j][1];
      if (x === y) return;
      expect(Math.abs(Number(x) - Number(y))).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(Number(y))));
    });
  });
}

describe('the head of recent points', () => {
  it('covers the data written since the server started', () => {
    expect(head().covers(B - 1)).toBe(true);
    expect(head().bytes).toBeGreaterThan(0);
  });

  for (const query of QUERIES) {
    it(`answers ${query} as ClickHouse does, without reading points`, async () => {
      const range = await both('/api/v1/query_range', { query, start: sec(B + 20 * 60_000), end: sec(B + 2 * HOUR), step: 60 });
      expectSame(range.fromHead, range.fromStore);
      expect(range.fromHead.body.data.result.length).toBeGreaterThan(0);
      expect(range.readsWithHead).toBe(0);
      const instant = await both('/api/v1/query', { query, time: sec(B + 95 * 60_000 + 7_000) });
      expectSame(instant.fromHead, instant.fromStore);
    });
  }

  it('hides a series at its staleness marker', async () => {
    const at = async (t: number) => (await promGet(srv.url, '/api/v1/query', { query: 'depth{job="web", instance="i1"}', time: sec(t) })).body.data.result.length;
    expect(await at(B + HOUR)).toBe(1);
    expect(await at(B + HOUR + 2 * 60_000)).toBe(0);
    expect(await at(B + HOUR + 13 * 60_000)).toBe(1);
  });

  it('counts a re-sent sample once', async () => {
    const t = B + 2 * HOUR + 30_000;
    const series = [{ labels: { __name__: 'resent', job: 'x' }, samples: [[t, 1], [t + 15_000, 2]] as [number, number][] }];
    for (let i = 0; i < 3; i++) await loadSeries(srv.ctx.store, series);
    const r = await promGet(srv.url, '/api/v1/query', { query: 'count_over_time(resent[1m])', time: sec(t + 20_000) });
    expect(r.body.data.result[0].value[1]).toBe('2');
  });

  it('starts over when points are deleted behind it', async () => {
    const id = seriesId('reqs_total', { job: 'db', instance: 'i1' });
    const count = async () => {
      // Raw points only (a deletion of points leaves rollups as they are).
      const r = await promGet(srv.url, '/api/v1/query', { query: 'reqs_total{job="db"}', time: sec(B + HOUR), raw: 'true' });
      return r.body.data.result.map((s: any) => s.metric.instance).sort();
    };
    expect(await count()).toEqual(['i0', 'i1']);
    await srv.ctx.store.command(sql`DELETE FROM points WHERE series_id = ${param('UInt64', BigInt(id))}`);
    expect(await count()).toEqual(['i0']);
  });

  it('leaves a span it does not cover to ClickHouse', async () => {
    expect(head().covers(B - 48 * HOUR - 60_000)).toBe(false);
    pointReads.length = 0;
    const r = await promGet(srv.url, '/api/v1/query', { query: 'count_over_time(depth[5m])', time: sec(B - 48 * HOUR) });
    expect(r.body.data.result.map((s: any) => [s.metric.job, s.value[1]])).toEqual([['old', '1']]);
    expect(pointReads.length).toBeGreaterThan(0);
  });
});
