import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../server/promql/engine.js';
import { parseExpr } from '../server/promql/parse.js';
import { cacheable, ResultCache } from '../server/promql/result-cache.js';
import type { QueryValue } from '../server/promql/types.js';
import { heroic, postJson, startTestServer, type TestServer } from './helpers.js';
import { baseTime, loadSeries, promGet, samples } from './promql-helpers.js';

/**
 * The incremental range-result cache against the real engine: every answer it gives must equal
 * the engine's own answer for the same request, while a refreshing dashboard recomputes only its
 * unsettled tail. Time is the cache's injected clock; the data sits hours in the past.
 */
let srv: TestServer;
let engine: Engine;
/** The server's own cache (QUERY_CACHE_BYTES' default), set aside while the engine is tested bare. */
let serverCache: Engine['cache'];
const B = baseTime(6);
const H = 3_600_000;
const STEP = 15_000;

const counter = (i: number) => Array.from({ length: 4 * 240 }, (_, k) => (k % 300 === 299 ? 0 : k * (i + 1)));

beforeAll(async () => {
  srv = await startTestServer();
  engine = srv.ctx.engine as Engine;
  serverCache = engine.cache;
  engine.cache = undefined;
  await loadSeries(
    srv.ctx.store,
    ['a', 'b', 'c'].map((instance, i) => ({ labels: { __name__: 'reqs_total', job: 'api', instance }, samples: samples(B + 7_000, STEP, counter(i)) })),
  );
});
afterAll(async () => {
  await srv?.destroy();
});

/** A cache on a manual clock, computing through the real engine. */
function setup(maxBytes = 64 << 20) {
  const clock = { now: B + 2 * H };
  const cache = new ResultCache({ maxBytes, freshnessMs: 5 * 60_000, now: () => clock.now });
  const run = (expr: string, start: number, end: number, step = STEP) =>
    cache.range(expr, start, end, step, (from, to) => srv.ctx.engine.range(expr, from, to, step));
  return { clock, cache, run };
}

const direct = (expr: string, start: number, end: number, step = STEP): Promise<QueryValue> => srv.ctx.engine.range(expr, start, end, step);

describe('range result cache', () => {
  const exprs = ['sum by (job) (rate(reqs_total[2m]))', 'reqs_total', 'max_over_time(rate(reqs_total[1m])[5m:30s])', '1 + 2'];

  it.each(exprs)('answers a refreshing 1 h window exactly as the engine does: %s', async (expr) => {
    const { clock, cache, run } = setup();
    for (let r = 0; r < 8; r++) {
      clock.now = B + 2 * H + r * 30_000;
      const end = Math.floor(clock.now / STEP) * STEP;
      const start = end - H;
      expect(await run(expr, start, end)).toEqual(await direct(expr, start, end));
    }
    // After the first, each refresh computed the unsettled tail (5 min of 15 s steps and the new
    // 30 s) instead of the whole hour.
    expect(cache.stats.misses).toBe(1);
    expect(cache.stats.hits).toBe(7);
    expect(cache.stats.stepsComputed).toBeLessThan(241 + 7 * 25);
    expect(cache.stats.stepsCached).toBeGreaterThan(7 * 200);
  });

  it('recomputes the steps a late write reaches and keeps answering exactly', async () => {
    const { clock, cache, run } = setup();
    const expr = 'sum(reqs_total)';
    const end = Math.floor(clock.now / STEP) * STEP;
    const start = end - H;
    await run(expr, start, end);
    // A backfilled series appears 40 minutes back.
    const late = end - 40 * 60_000 + 3_000;
    await loadSeries(srv.ctx.store, [{ labels: { __name__: 'reqs_total', job: 'api', instance: 'late' }, samples: samples(late, STEP, [1000, 1000, 1000]) }]);
    cache.written(late);
    expect(cache.stats.invalidations).toBe(1);
    clock.now += 30_000;
    expect(await run(expr, start + 30_000, end + 30_000)).toEqual(await direct(expr, start + 30_000, end + 30_000));
    // Writes at the present change nothing cached.
    cache.written(clock.now - 1000);
    expect(cache.stats.invalidations).toBe(1);
  });

  it('drops what it computed when a late write lands during the computation', async () => {
    const { clock, cache } = setup();
    const expr = 'count(reqs_total)';
    const end = Math.floor(clock.now / STEP) * STEP;
    const start = end - H;
    const late = end - 50 * 60_000 + 1_000;
    await cache.range(expr, start, end, STEP, async (from, to) => {
      const v = await srv.ctx.engine.range(expr, from, to, STEP);
      await loadSeries(srv.ctx.store, [{ labels: { __name__: 'reqs_total', job: 'api', instance: 'racing' }, samples: [[late, 1]] }]);
      cache.written(late);
      return v;
    });
    clock.now += 15_000;
    const again = await cache.range(expr, start + 15_000, end + 15_000, STEP, (from, to) => srv.ctx.engine.range(expr, from, to, STEP));
    expect(again).toEqual(await direct(expr, start + 15_000, end + 15_000));
  });

  it('never caches expressions that look past their step', () => {
    expect(cacheable(parseExpr('rate(reqs_total[5m])'))).toBe(true);
    expect(cacheable(parseExpr('reqs_total @ 1700000000'))).toBe(false);
    expect(cacheable(parseExpr('reqs_total @ end()'))).toBe(false);
    expect(cacheable(parseExpr('sum(reqs_total offset -5m)'))).toBe(false);
    expect(cacheable(parseExpr('max_over_time(reqs_total[10m:1m] offset -1m)'))).toBe(false);
    expect(cacheable(parseExpr('reqs_total offset 5m'))).toBe(true);
  });

  it('stays within its byte budget, evicting the least recently used', async () => {
    // One series for its settled 55 minutes at 15 s is about 3.8 KB, and an entry may take an eighth of the
    // cache: room for eight.
    const { clock, cache, run } = setup(32_000);
    const end = Math.floor(clock.now / STEP) * STEP;
    const exprs = Array.from({ length: 9 }, (_, i) => `reqs_total{instance="${'abc'[i % 3]}"} * ${i + 1}`);
    for (const e of exprs) await run(e, end - H, end);
    expect(cache.stats.bytes).toBeLessThanOrEqual(32_000);
    expect(cache.stats.entries).toBe(8);
    await run(exprs[8], end - H, end);
    expect(cache.stats.hits).toBe(1);
    await run(exprs[0], end - H, end);
    expect(cache.stats.misses).toBe(10);
  });

  it('keeps no answer larger than an eighth of its bytes, and answers it all the same', async () => {
    const { clock, cache, run } = setup(30_000);
    const end = Math.floor(clock.now / STEP) * STEP;
    const expr = 'reqs_total';
    expect(await run(expr, end - H, end)).toEqual(await direct(expr, end - H, end));
    expect(cache.stats.entries).toBe(0);
    expect(cache.stats.bytes).toBe(0);
  });

  it('with maxBytes 0 answers as the engine does and counts neither a hit nor a miss', async () => {
    const { cache, run, clock } = setup(0);
    const end = Math.floor(clock.now / STEP) * STEP;
    expect(await run('reqs_total', end - H, end)).toEqual(await direct('reqs_total', end - H, end));
    expect(cache.stats.misses + cache.stats.hits).toBe(0);
  });
});

describe('the query API with the cache on (the default)', () => {
  it('answers a refresh from cache and a late write through the write path invalidates it', async () => {
    engine.cache = serverCache;
    const cache = serverCache!;
    expect(cache.enabled).toBe(true);
    const expr = 'sum by (instance) (rate(reqs_total[1m]))';
    const range = { query: expr, start: (B + H) / 1000, end: (B + 2 * H) / 1000, step: 15 };
    const first = await promGet(srv.url, '/api/v1/query_range', range);
    const hits = cache.stats.hits;
    const again = await promGet(srv.url, '/api/v1/query_range', range);
    expect(again.body).toEqual(first.body);
    expect(cache.stats.hits).toBe(hits + 1);
    // Rule queries never use it.
    await engine.range(expr, B + H, B + 2 * H, STEP, { priority: 'rule' });
    expect(cache.stats.hits).toBe(hits + 1);
    // A late series, 90 minutes into the data, through POST /write.
    const late = B + 90 * 60_000 + 4_000;
    const w = await postJson(`${srv.url}/write`, heroic('reqs_total', { job: 'api', instance: 'late-api' }, samples(late, STEP, [0, 10, 20, 30])));
    expect(w.status).toBe(200);
    const after = await promGet(srv.url, '/api/v1/query_range', range);
    engine.cache = undefined;
    const bare = await promGet(srv.url, '/api/v1/query_range', range);
    engine.cache = serverCache;
    expect(after.body).toEqual(bare.body);
    expect(after.body.data.result.map((s: any) => s.metric.instance)).toContain('late-api');
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    expect(metrics).toMatch(/metronome_query_cache_requests_total\{result="hit"\} [1-9]/);
    expect(metrics).toMatch(/metronome_query_cache_invalidations_total [1-9]/);
  });
});
