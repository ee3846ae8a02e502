import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config.js';
import type { Engine } from '../server/promql/engine.js';
import { startMetronome, type Running } from '../server/start.js';
import { until } from './alerting-helpers.js';
import { QueryHold, tempDir } from './helpers.js';
import { baseTime, loadSeries, promGet } from './promql-helpers.js';

/**
 * The query budget (server/promql/budget.ts) over HTTP: each limit is reached by a query that
 * grows in TypeScript (its leaves are small), and answered with the code that names it, in
 * Prometheus' error shape. Small limits make each case quick. The real store is wrapped so that
 * queries reading `held_metric` wait until the test lets them go (for QUERY_MEMORY_BYTES, which
 * needs two queries holding memory at once).
 */
let srv: Running;
const held = new QueryHold('held_metric');

const B = baseTime();
const T = B + 600_000;
const MiB = 1024 ** 2;

beforeAll(async () => {
  const config = loadConfig({
    PORT: '0',
    LOG_LEVEL: 'silent',
    DEMO: '0',
    DATA_DIR: tempDir(),
    QUERY_TIMEOUT_MS: '1000',
    MAX_QUERY_SAMPLES: '200000',
    MAX_QUERY_BYTES: String(5 * MiB),
    QUERY_MEMORY_BYTES: String(5 * MiB),
    MAX_RESULT_BYTES: String(16 * 1024),
    MAX_QUERY_LABEL_BYTES: String(60_000),
  });
  srv = await startMetronome(config, pino({ level: 'silent' }), { wrapStore: held.wrap });
  // 32 series with a 1,000-character label x.
  await loadSeries(
    srv.ctx.store,
    Array.from({ length: 32 }, (_, i) => ({ labels: { __name__: 'lr', i: String(i), x: 'v'.repeat(999) + (i % 10) }, samples: [[T - 1000, i]] as [number, number][] })),
  );
  await loadSeries(srv.ctx.store, [{ labels: { __name__: 'held_metric' }, samples: [[T - 1000, 1]] }]);
});
afterAll(async () => {
  held.release();
  await srv?.close();
});

const q = (query: string) => promGet(srv.url, '/api/v1/query', { query, time: T / 1000 });
const qr = (query: string, steps: number) => promGet(srv.url, '/api/v1/query_range', { query, start: (T - (steps - 1) * 1000) / 1000, end: T / 1000, step: 1 });
/** label_join(lr, "y", "", "x", "x", ...): a label of n copies of x (n thousand characters). */
const joined = (n: number, sel = 'lr') => `label_join(${sel}, "y", "", ${Array(n).fill('"x"').join(', ')})`;

function refused(r: { status: number; body: any }, status: number, code: string, key: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body).toMatchObject({ status: 'error', errorType: status === 422 ? 'execution' : 'timeout', code });
  expect(r.body.error).toContain(key);
}

describe('the query budget', () => {
  it('refuses a query holding more than MAX_QUERY_SAMPLES step values at once in TypeScript', async () => {
    // One new series per distinct value, each of 2,000 steps: 100 of them reach 200,000.
    refused(await qr('count_values("t", vector(time()))', 2000), 422, 'MTR_QUERY_TOO_MANY_SAMPLES', 'MAX_QUERY_SAMPLES');
    // What a node used is given back when it is done: 20 nested functions over 60,000 steps
    // (1.2 million values made in all) hold at most two levels at a time.
    const deep = Array.from({ length: 20 }).reduce<string>((e) => `abs(${e})`, 'vector(time())');
    const r = await q(`count_over_time((${deep})[60000s:1s])`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data.result[0].value[1]).toBe('60000');
  });

  it('refuses a query holding more than MAX_QUERY_BYTES, labels included', async () => {
    // 32 labels of 45,000 characters count 2.9 MB (2 bytes a character), and as much again in
    // the result of the operator, whose series carry them too; 10,000 characters fit.
    refused(await q(`count(${joined(45)} + on(i) group_left ${joined(1)})`), 422, 'MTR_QUERY_TOO_MANY_BYTES', 'MAX_QUERY_BYTES');
    expect((await q(`count(${joined(10)})`)).status).toBe(200);
  });

  it('refuses a label value longer than MAX_QUERY_LABEL_BYTES from label_replace or label_join', async () => {
    // One series, so that MAX_QUERY_BYTES is not reached first: 1,000 characters doubled six times.
    const nested = Array.from({ length: 17 }).reduce<string>((e) => `label_replace(${e}, "x", "$1$1", "x", "(.*)")`, 'lr{i="1"}');
    refused(await q(nested), 422, 'MTR_QUERY_LABEL_TOO_LONG', 'MAX_QUERY_LABEL_BYTES');
    refused(await q(`count(${joined(61, 'lr{i="1"}')})`), 422, 'MTR_QUERY_LABEL_TOO_LONG', 'MAX_QUERY_LABEL_BYTES');
    expect((await q(`count(${joined(59, 'lr{i="1"}')})`)).status).toBe(200);
  });

  it('refuses an answer larger than MAX_RESULT_BYTES', async () => {
    // 32 series with a 1,000-character label: 33 KB of JSON.
    refused(await q('lr'), 422, 'MTR_QUERY_RESULT_TOO_LARGE', 'MAX_RESULT_BYTES');
    expect((await q('lr{i="1"}')).status).toBe(200);
  });

  it('answers 503 MTR_QUERY_TIMEOUT from the TypeScript evaluator within 10 % of QUERY_TIMEOUT_MS', async () => {
    const t0 = performance.now();
    // Small (43,200 steps at most, 1.3 MB as counted) but slow: 21,600 windows of up to 21,600
    // unordered points, each sorted.
    const r = await q('max_over_time(quantile_over_time(0.5, sin(vector(time()))[6h:1s])[6h:1s])');
    const ms = performance.now() - t0;
    refused(r, 503, 'MTR_QUERY_TIMEOUT', 'QUERY_TIMEOUT_MS');
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(ms).toBeLessThan(1100);
    // Everything the query held went back to the pool, and its slot is free.
    const engine = srv.ctx.engine as Engine;
    await until(() => engine.memoryHeld === 0, 5000, 'memory back in the pool');
    expect(engine.running()).toEqual({ api: 0, rule: 0 });
  });

  it('answers 503 MTR_QUERY_MEMORY_FULL when running queries together hold QUERY_MEMORY_BYTES', async () => {
    const engine = srv.ctx.engine as Engine;
    // The left side (32 labels of 35,000 characters, about 2.3 MB as counted) is held while the
    // right side waits on the store; a query holding 3 MB fits MAX_QUERY_BYTES but not what is
    // left of the 5 MiB all queries share.
    const first = q(`count(${joined(35)} + on() group_left sum(held_metric))`);
    await until(() => held.n > 0 && engine.memoryHeld > 2 * MiB, 10_000, 'the first query holding its memory');
    refused(await q(`count(${joined(45)})`), 503, 'MTR_QUERY_MEMORY_FULL', 'QUERY_MEMORY_BYTES');
    held.release();
    const r = await first;
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(engine.memoryHeld).toBe(0);
    held.rearm();
  });
});
