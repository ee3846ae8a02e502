import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import type { Engine } from '../server/promql/engine.js';
import type { GridPlan } from '../server/promql/sql.js';
import { HOUR_MS } from '../server/rollups/sql.js';
import { param, raw, sql } from '../server/store/index.js';
import { exportSeries, heroic, postJson, startTestServer, type TestServer } from './helpers.js';
import { promGet } from './promql-helpers.js';

/**
 * Exactly-once answers: a client that re-sends a body (its answer lost) must not change any
 * answer, on any read path, at raw or rollup resolution, before or after the rollup job has run,
 * before or after ClickHouse merges.
 */
let srv: TestServer;
const clock = new ManualClock(Date.now());
const plans: GridPlan[] = [];
const HOSTS = ['a', 'b', 'c'];
const STEP = 15_000;
// Three closed hours, ending two hours ago: (H0, H0 + 3 h].
const H0 = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 5 * HOUR_MS;
const H3 = H0 + 3 * HOUR_MS;

/** Sample k of a host's gauge: small integers, so sums are exact. */
const gauge = (h: number, k: number) => (k * 7 + h) % 10;
const times: number[] = [];
for (let t = H0 + 3000; t <= H3; t += STEP) times.push(t);

const body = JSON.stringify(
  HOSTS.flatMap((host, h) => [
    heroic('eo_gauge', { host, service: 'eo' }, times.map((t, k) => [t, gauge(h, k)])),
    heroic('eo_total', { host, service: 'eo' }, times.map((t, k) => [t, k * (h + 1)])),
  ]),
);

async function send(): Promise<void> {
  const r = await postJson(`${srv.url}/write`, body);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  await srv.ctx.writer.settled(); // the test reads ClickHouse's tables directly too
}

type Matrix = { metric: Record<string, string>; values: [number, string][] }[];

async function range(query: string, step: number, raw: boolean, start = H0 + HOUR_MS, end = H3): Promise<Matrix> {
  const r = await promGet(srv.url, '/api/v1/query_range', { query, start: start / 1000, end: end / 1000, step: step / 1000, raw: String(raw) });
  if (r.status !== 200) throw new Error(`${query}: ${JSON.stringify(r.body)}`);
  return r.body.data.result;
}

/** What each query must answer, per host and step, from the samples as written once. */
function expected(fn: 'count' | 'sum' | 'last', windowMs: number, step: number, start = H0 + HOUR_MS, end = H3): number[][] {
  return HOSTS.map((_, h) => {
    const out: number[] = [];
    for (let t = start; t <= end; t += step) {
      const ks = times.map((x, k) => [x, k] as const).filter(([x]) => x > t - windowMs && x <= t).map(([, k]) => k);
      out.push(fn === 'count' ? ks.length : fn === 'sum' ? ks.reduce((s, k) => s + gauge(h, k), 0) : gauge(h, ks[ks.length - 1]));
    }
    return out;
  });
}

function values(m: Matrix): number[][] {
  return m.map((s) => s.values.map(([, v]) => Number(v)));
}

/** Every read path once; `resolutions` are the rollup resolutions the planner must have chosen. */
async function checkEveryPath(): Promise<void> {
  const cases: { q: string; step: number; want: number[][]; res: GridPlan['resolution'] }[] = [
    { q: 'count_over_time(eo_gauge[1h])', step: HOUR_MS, want: expected('count', HOUR_MS, HOUR_MS), res: '1h' },
    { q: 'sum_over_time(eo_gauge[1h])', step: HOUR_MS, want: expected('sum', HOUR_MS, HOUR_MS), res: '1h' },
    { q: 'count_over_time(eo_gauge[5m])', step: 300_000, want: expected('count', 300_000, 300_000), res: '1m' },
    { q: 'sum_over_time(eo_gauge[5m])', step: 300_000, want: expected('sum', 300_000, 300_000), res: '1m' },
    // The 1 h step range of a plain selector.
    { q: 'eo_gauge', step: HOUR_MS, want: expected('last', 300_000, HOUR_MS), res: '1m' },
  ];
  for (const c of cases) {
    plans.length = 0;
    const viaRollups = await range(c.q, c.step, false);
    expect(plans.map((p) => p.resolution), c.q).toEqual([c.res]);
    expect(values(viaRollups), `${c.q} at ${c.res}`).toEqual(c.want);
    plans.length = 0;
    const viaRaw = await range(c.q, c.step, true);
    expect(plans.map((p) => p.resolution), c.q).toEqual(['raw']);
    expect(values(viaRaw), `${c.q} raw`).toEqual(c.want);
  }
  // A counter: rate from 1 m buckets (non-overlapping windows) equals rate from raw samples.
  const rate = await range('rate(eo_total[5m])', 300_000, false);
  const rateRaw = await range('rate(eo_total[5m])', 300_000, true);
  expect(values(rate)).toEqual(values(rateRaw));
  for (const [h, s] of rate.entries()) for (const [, v] of s.values) expect(Number(v)).toBeCloseTo((h + 1) / 15, 9);
  // quantile_over_time is evaluated in TypeScript over raw samples.
  const med = await range('count_over_time(eo_gauge[10m]) - 0 * quantile_over_time(0.5, eo_gauge[10m])', 600_000, false);
  expect(values(med)).toEqual(expected('count', 600_000, 600_000));
  // Export: every sample once.
  const lines = await exportSeries(srv.url, '{service="eo"}', { start: H0, end: H3 });
  expect(lines).toHaveLength(6);
  for (const l of lines) {
    expect(l.timestamps).toEqual(times);
    const h = HOSTS.indexOf(l.metric.host);
    expect(l.values).toEqual(l.metric.__name__ === 'eo_gauge' ? times.map((_, k) => gauge(h, k)) : times.map((_, k) => k * (h + 1)));
  }
  // Series, Heroic metadata: each series once.
  const series = await promGet(srv.url, '/api/v1/series', { 'match[]': '{service="eo"}' });
  expect(series.body.data).toHaveLength(6);
  expect((await postJson(`${srv.url}/metadata/series-count`, { filter: ['=', 'service', 'eo'] })).body.count).toBe(6);
  expect((await postJson(`${srv.url}/metadata/series`, { filter: ['key', 'eo_gauge'] })).body.series).toHaveLength(3);
}

beforeAll(async () => {
  // ClickHouse's read paths (raw, rollups, export): the head of recent points, which replaces a
  // re-sent sample by itself, would answer the queries instead (test/promql-head.test.ts).
  srv = await startTestServer({ ROLLUP_INTERVAL: '1m', ROLLUP_LATE_ALLOWANCE: '5m', QUERY_CACHE_BYTES: '0', HEAD_BYTES: '0' }, { rollupClock: clock });
  (srv.ctx.engine as Engine).onPlan = (p) => plans.push(p);
});
afterAll(async () => {
  await srv?.destroy();
});

describe('the same body sent three times', () => {
  it('answers as if sent once before the rollup job has run (rollup reads fall back to raw points)', async () => {
    for (let i = 0; i < 3; i++) await send();
    const [stored] = await srv.ctx.store.query<{ n: string }>(sql`SELECT count() AS n FROM points`);
    expect(Number(stored.n)).toBe(3 * 6 * times.length); // the copies are there, unmerged
    await checkEveryPath();
  });

  it('answers as if sent once from the rollups the job wrote', async () => {
    await clock.advance(0); // the job's first run is due at start
    const [done] = await srv.ctx.store.query<{ n: string }>(
      sql`SELECT count() AS n FROM rollup_windows WHERE w > ${raw(String(H0 / HOUR_MS))} AND w <= ${raw(String(H3 / HOUR_MS))}`,
    );
    expect(Number(done.n)).toBe(3);
    const [cnt] = await srv.ctx.store.query<{ n: string }>(sql`SELECT sum(cnt) AS n FROM rollup_1h WHERE ts > ${ms(H0)} AND ts <= ${ms(H3)}`);
    expect(Number(cnt.n)).toBe(6 * times.length);
    await checkEveryPath();
  });

  it('answers the same after a fourth copy lands in hours already rolled up, and after the job recomputes them', async () => {
    await send();
    const [dirty] = await srv.ctx.store.query<{ n: string }>(sql`SELECT count(DISTINCT w) AS n FROM rollup_dirty WHERE at > 1`);
    expect(Number(dirty.n)).toBe(3);
    await checkEveryPath(); // dirty hours read raw points
    const before = await srv.ctx.store.query<{ w: number }>(sql`SELECT w FROM rollup_windows FINAL ORDER BY w`);
    await clock.advance(60_000);
    const recomputed = await srv.ctx.store.query<{ w: number; gen: string }>(
      sql`SELECT w, argMax(gen, version) AS gen FROM rollup_windows GROUP BY w HAVING gen > 0 ORDER BY w`,
    );
    expect(recomputed.length).toBe(before.length);
    await checkEveryPath();
  });

  it('answers the same once ClickHouse has merged the copies', async () => {
    await srv.ctx.store.command(sql`OPTIMIZE TABLE points FINAL`);
    await srv.ctx.store.command(sql`OPTIMIZE TABLE rollup_1m FINAL`);
    await srv.ctx.store.command(sql`OPTIMIZE TABLE rollup_1h FINAL`);
    const [stored] = await srv.ctx.store.query<{ n: string }>(sql`SELECT count() AS n FROM points`);
    expect(Number(stored.n)).toBe(6 * times.length);
    await checkEveryPath();
  });
});

describe('the rollup job on an injected clock', () => {
  it('waits for the late allowance after an hour ends, then rolls it up', async () => {
    const w = Math.ceil(clock.now() / HOUR_MS); // the hour now open
    const t = Date.now() - 1000;
    const r = await postJson(`${srv.url}/write`, heroic('eo_live', { host: 'a', service: 'eo' }, [[t, 1]]));
    expect(r.status).toBe(200);
    await srv.ctx.writer.settled();
    const isDone = async () =>
      Number((await srv.ctx.store.query<{ n: string }>(sql`SELECT count() AS n FROM rollup_windows WHERE w = ${raw(String(w))}`))[0].n) > 0;
    await clock.advanceTo(w * HOUR_MS + 5 * 60_000 - 1);
    expect(await isDone()).toBe(false);
    await clock.advance(60_000);
    expect(await isDone()).toBe(true);
    const [cnt] = await srv.ctx.store.query<{ n: string }>(sql`SELECT sum(cnt) AS n FROM rollup_1m WHERE ts > ${ms((w - 1) * HOUR_MS)} AND ts <= ${ms(w * HOUR_MS)}`);
    expect(Number(cnt.n)).toBe(1);
  });
});

function ms(v: number) {
  return sql`fromUnixTimestamp64Milli(${param('Int64', v)}, 'UTC')`;
}
