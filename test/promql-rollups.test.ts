import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../server/promql/engine.js';
import type { GridPlan } from '../server/promql/sql.js';
import { sql } from '../server/store/index.js';
import { startTestServer, type TestServer } from './helpers.js';
import { loadSeries, promGet, type TestSeries } from './promql-helpers.js';

/**
 * Rollups: the planner reads them when windows align with buckets, and their answers equal the
 * raw answers (raw=true) up to float rounding; a counter reset sends the leaf back to raw
 * points; ranges older than raw retention answer from rollups alone.
 */
let srv: TestServer;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Math.floor(Date.now() / HOUR) * HOUR;
// Recent data: 12 h of 10 s samples, off the minute grid by 3 s.
const R0 = NOW - 14 * HOUR;
const R1 = NOW - 2 * HOUR;
// Old data: 6 h, three days ago (RETENTION_DAYS=2 below makes it older than raw retention).
const O0 = NOW - 3 * DAY;
const O1 = O0 + 6 * HOUR;

function train(from: number, to: number, every: number, f: (t: number, k: number) => number): [number, number][] {
  const out: [number, number][] = [];
  let k = 0;
  for (let t = from + 3000; t < to; t += every) out.push([t, f(t, k++)]);
  return out;
}

const plans: GridPlan[] = [];

beforeAll(async () => {
  // The head of recent points (server/store/head.ts) would answer these from memory: this file
  // checks the rollup planner and the rollups' answers, so leaves must read ClickHouse.
  srv = await startTestServer({ RETENTION_DAYS: '2', HEAD_BYTES: '0', ROLLUP_INTERVAL: '0' });
  (srv.ctx.engine as Engine).onPlan = (p) => plans.push(p);
  let seed = 7;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const series: TestSeries[] = [];
  for (const svc of ['a', 'b', 'c']) {
    let v = 0;
    series.push({ labels: { __name__: 'req_total', svc }, samples: train(R0, R1, 10_000, () => (v += Math.floor(rand() * 10))) });
    series.push({ labels: { __name__: 'cpu', svc }, samples: train(R0, R1, 10_000, () => Math.round(rand() * 1000) / 10) });
  }
  // A counter that resets once, in the middle of a 5 m window (and of a 1 m bucket).
  series.push({ labels: { __name__: 'resetting_total', svc: 'a' }, samples: train(R0, R1, 10_000, (t, k) => (t < R0 + 6 * HOUR + 150_000 ? k : k - 2000)) });
  // One whose reset falls between two 1 m buckets of the same 5 m window.
  series.push({ labels: { __name__: 'resetting2_total', svc: 'a' }, samples: train(R0, R1, 10_000, (t, k) => (t < R0 + 7 * HOUR + 120_000 ? k : k - 3000)) });
  let old = 0;
  series.push({ labels: { __name__: 'old_total', svc: 'a' }, samples: train(O0, O1, 10_000, () => (old += 5)) });
  series.push({ labels: { __name__: 'old_gauge', svc: 'a' }, samples: train(O0, O1, 10_000, (_t, k) => k % 7) });
  // The old data is already past raw retention (the writer would refuse it): hold the TTL until
  // the job has rolled it up, as it would have while the data was young.
  await srv.ctx.store.command(sql`SYSTEM STOP TTL MERGES points`);
  await loadSeries(srv.ctx.store, series);
  // Every hour here has closed: the job rolls them all up.
  const run = await srv.rollups.runOnce();
  expect(run.hours.length).toBeGreaterThanOrEqual(3 * 24 - 1);
  await srv.ctx.store.command(sql`SYSTEM START TTL MERGES points`);
});
afterAll(async () => {
  await srv?.destroy();
});

type Matrix = { metric: Record<string, string>; values: [number, string][] }[];

async function range(query: string, start: number, end: number, step: number, raw: boolean): Promise<Matrix> {
  const r = await promGet(srv.url, '/api/v1/query_range', { query, start: start / 1000, end: end / 1000, step: step / 1000, raw: String(raw) });
  if (r.status !== 200) throw new Error(`${query}: ${JSON.stringify(r.body)}`);
  return r.body.data.result;
}

function expectSame(a: Matrix, b: Matrix, what: string): number {
  expect(a.map((s) => s.metric), what).toEqual(b.map((s) => s.metric));
  let points = 0;
  a.forEach((s, i) => {
    expect(s.values.map((p) => p[0]), what).toEqual(b[i].values.map((p) => p[0]));
    s.values.forEach(([, x], j) => {
      const y = b[i].values[j][1];
      const ok = x === y || Math.abs(Number(x) - Number(y)) <= 1e-9 * Math.max(1, Math.abs(Number(y)));
      if (!ok) expect.fail(`${what}: ${x} vs raw ${y} at step ${j}`);
      points++;
    });
  });
  return points;
}

const ALIGNED = [
  'req_total',
  'rate(req_total[5m])',
  'increase(req_total[15m])',
  'sum by (svc) (rate(req_total[10m]))',
  'sum(rate(req_total[5m]))',
  'delta(cpu[5m])',
  'avg_over_time(cpu[5m])',
  'sum_over_time(cpu[15m])',
  'min_over_time(cpu[5m])',
  'max by (svc) (max_over_time(cpu[15m]))',
  'count_over_time(cpu[5m])',
  'last_over_time(cpu[5m])',
  'present_over_time(cpu[5m])',
  'timestamp(cpu)',
  'avg(cpu)',
  'count by (svc) (cpu)',
];

describe('rollup answers equal raw answers', () => {
  for (const q of ALIGNED) {
    it(`${q} over 10 h at a 15 m step reads rollups and matches raw`, async () => {
      plans.length = 0;
      const viaRollups = await range(q, R0 + HOUR, R1, 15 * 60_000, false);
      expect(plans.some((p) => p.resolution === '1m' || p.resolution === '1h'), `${q}: ${JSON.stringify(plans.map((p) => p.resolution))}`).toBe(true);
      plans.length = 0;
      const viaRaw = await range(q, R0 + HOUR, R1, 15 * 60_000, true);
      expect(plans.every((p) => p.resolution === 'raw')).toBe(true);
      expect(expectSame(viaRollups, viaRaw, q)).toBeGreaterThan(0);
    });
  }

  for (const q of ['cpu', 'avg_over_time(cpu[5m])', 'max by (svc) (max_over_time(cpu[6m]))', 'sum_over_time(cpu[3m])', 'last_over_time(cpu[5m])', 'delta(cpu[5m])']) {
    it(`${q} at a 1 m step (overlapping windows) reads 1 m buckets and matches raw`, async () => {
      plans.length = 0;
      const viaRollups = await range(q, R0 + HOUR, R0 + 4 * HOUR, 60_000, false);
      expect(plans.map((p) => p.resolution)).toEqual(['1m']);
      expect(expectSame(viaRollups, await range(q, R0 + HOUR, R0 + 4 * HOUR, 60_000, true), q)).toBeGreaterThan(100);
    });
  }

  it('reads hourly rollups for hourly steps and windows, matching raw', async () => {
    plans.length = 0;
    const q = 'sum by (svc) (increase(req_total[1h]))';
    const viaRollups = await range(q, R0 + HOUR, R1, HOUR, false);
    expect(plans.map((p) => p.resolution)).toEqual(['1h']);
    // Steps R0+1h ... R1 (12), three services.
    expect(expectSame(viaRollups, await range(q, R0 + HOUR, R1, HOUR, true), q)).toBe(3 * 12);
  });

  it('reads raw points when the step is not a multiple of a bucket, or windows overlap', async () => {
    plans.length = 0;
    await range('rate(req_total[5m])', R0 + HOUR, R0 + 2 * HOUR, 45_000, false);
    await range('rate(req_total[5m])', R0 + HOUR, R0 + 2 * HOUR, 60_000, false);
    expect(plans.map((p) => p.resolution)).toEqual(['raw', 'raw']);
  });

  it('matches raw at a 1 m step for the instant queries alerting runs', async () => {
    for (const q of ['rate(req_total[5m])', 'sum(increase(req_total[1h]))', 'max_over_time(cpu[10m])']) {
      plans.length = 0;
      const a = await promGet(srv.url, '/api/v1/query', { query: q, time: (R1 - HOUR) / 1000 });
      expect(plans.map((p) => p.resolution)).toEqual([q.includes('[1h]') ? '1h' : '1m']);
      const b = await promGet(srv.url, '/api/v1/query', { query: q, time: (R1 - HOUR) / 1000, raw: 'true' });
      expect(a.body.data.result.length).toBeGreaterThan(0);
      a.body.data.result.forEach((s: any, i: number) => expect(Number(s.value[1])).toBeCloseTo(Number(b.body.data.result[i].value[1]), 9));
    }
  });

  it('re-reads a counter with a reset in range from raw points, with the raw answer', async () => {
    plans.length = 0;
    const q = 'rate(resetting_total[5m])';
    const viaRollups = await range(q, R0 + HOUR, R1, 5 * 60_000, false);
    expect(plans.map((p) => p.resolution)).toEqual(['1m', 'raw']);
    expectSame(viaRollups, await range(q, R0 + HOUR, R1, 5 * 60_000, true), q);
    // The reset costs one 10 s interval: rate stays near 0.1/s everywhere.
    for (const [, v] of viaRollups[0].values) expect(Number(v)).toBeGreaterThan(0.05);
  });
});

describe('counter resets between buckets', () => {
  it('are found by comparing consecutive buckets of a window', async () => {
    plans.length = 0;
    const q = 'increase(resetting2_total[5m])';
    const viaRollups = await range(q, R0 + HOUR, R1, 5 * 60_000, false);
    expect(plans.map((p) => p.resolution)).toEqual(['1m', 'raw']);
    expectSame(viaRollups, await range(q, R0 + HOUR, R1, 5 * 60_000, true), q);
  });
});

describe('ranges older than raw retention', () => {
  it('answer from rollups once raw points have expired', async () => {
    const before = await range('sum(rate(old_total[5m]))', O0 + HOUR, O1, 60_000, false);
    // Expire the raw points (RETENTION_DAYS=2): the TTL applies on merge.
    await srv.ctx.store.command(sql`OPTIMIZE TABLE points FINAL`);
    const left = await srv.ctx.store.query<{ n: string }>(sql`SELECT count() AS n FROM points WHERE ts < now() - INTERVAL 2 DAY`);
    expect(Number(left[0].n)).toBe(0);
    expect(await range('sum(rate(old_total[5m]))', O0 + HOUR, O1, 60_000, true)).toEqual([]);
    const after = await range('sum(rate(old_total[5m]))', O0 + HOUR, O1, 60_000, false);
    expectSame(after, before, 'rollups after expiry');
    // 5 per 10 s: 0.5/s.
    expect(Number(after[0].values[10][1])).toBeCloseTo(0.5, 9);
  });

  it('read rollups even when the step does not align, rather than return nothing', async () => {
    plans.length = 0;
    const r = await range('avg_over_time(old_gauge[10m])', O0 + HOUR, O1, 90_000, false);
    expect(plans.map((p) => p.resolution)).toEqual(['1m']);
    // k % 7 over many samples averages to 3.
    expect(Number(r[0].values[5][1])).toBeCloseTo(3, 0);
  });
});
