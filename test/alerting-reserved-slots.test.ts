import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { loadConfig } from '../server/config.js';
import type { Engine } from '../server/promql/engine.js';
import { startMetronome, type Running } from '../server/start.js';
import { createRule, expectHealthyCycle, push, series, testEpoch, until } from './alerting-helpers.js';
import { QueryHold, tempDir } from './helpers.js';

/**
 * Issue 10, "Alerts keep their share": eight slow dashboard queries hold every one of
 * MAX_CONCURRENT_QUERIES' slots, and rule evaluation still runs every cycle, in the
 * ALERT_MAX_CONCURRENT_QUERIES slots the engine reserves for it. Before, rules took their turn in
 * the same queue and failed in 8 of 10 cycles ("too many concurrent queries", "rule query timed
 * out"). The real store is wrapped so that queries reading `dash_metric` wait until the test lets
 * them go (never replaced); the alerting clock is driven by hand.
 */
let srv: Running;
const clock = new ManualClock(testEpoch(1));
const held = new QueryHold('dash_metric');

beforeAll(async () => {
  const config = loadConfig({
    PORT: '0',
    LOG_LEVEL: 'silent',
    DEMO: '0',
    DATA_DIR: tempDir('metronome-reserved-'),
    MAX_CONCURRENT_QUERIES: '8',
    ALERT_MAX_CONCURRENT_QUERIES: '2',
    QUERY_QUEUE_MS: '300',
    QUERY_TIMEOUT_MS: '60000',
    // Slow queries are ones ClickHouse holds (QueryHold): leaves must read it, not the head of
    // recent points, which answers without a statement.
    HEAD_BYTES: '0',
  });
  srv = await startMetronome(config, pino({ level: 'silent' }), { alertingClock: clock, wrapStore: held.wrap });
});
afterAll(async () => {
  held.release();
  await srv?.close();
});

const dashboard = (i: number) =>
  fetch(`${srv.url}/api/v1/query?${new URLSearchParams({ query: `sum(dash_metric{panel="${i}"})`, time: String(clock.now() / 1000) })}`).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

describe('slots reserved for rule evaluation', () => {
  it('evaluates every rule in every cycle while eight dashboard queries hold all API slots', async () => {
    const t0 = clock.now();
    await push(srv.url, 'fast_metric', { job: 'api' }, series(t0 - 600_000, t0 + 1_200_000, 10_000, () => 1));
    await push(srv.url, 'dash_metric', { panel: '0' }, series(t0 - 600_000, t0, 10_000, () => 1));
    await createRule(srv.url, { group: 'g', interval: '10s', alert: 'Up', expr: 'fast_metric > 0' });
    await createRule(srv.url, { group: 'g', record: 'job:fast_metric:sum', expr: 'sum by (job) (fast_metric)' });
    await createRule(srv.url, { group: 'g', alert: 'Ratio', expr: 'job:fast_metric:sum / job:fast_metric:sum > 2' });

    const engine = srv.ctx.engine as Engine;
    const dashboards = Array.from({ length: 8 }, (_, i) => dashboard(i));
    await until(() => engine.running().api === 8 && held.n >= 8, 20_000, 'eight dashboard queries holding their slots');
    expect(engine.running()).toEqual({ api: 8, rule: 0 });

    // Dashboards queue behind each other: a ninth waits QUERY_QUEUE_MS, then 503.
    const ninth = await dashboard(8);
    expect(ninth.status).toBe(503);
    expect(ninth.body).toMatchObject({ errorType: 'timeout', code: 'MTR_QUERY_OVERLOADED' });
    expect(ninth.body.error).toContain('MAX_CONCURRENT_QUERIES=8');

    for (let cycle = 0; cycle < 10; cycle++) {
      await expectHealthyCycle(srv.url, srv.ctx.alerting!, clock, 'g', 3, cycle);
      // The dashboards are still holding their slots.
      expect(engine.running().api).toBe(8);
    }

    held.release();
    const answers = await Promise.all(dashboards);
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(engine.running()).toEqual({ api: 0, rule: 0 });
  });

  it('keeps rule queries in their own slots: a third waits for one while a dashboard query past QUERY_QUEUE_MS gets 503', async () => {
    held.rearm();
    const engine = srv.ctx.engine as Engine;
    const t = clock.now();
    // Two rule queries reading the held metric take both rule slots; a third waits for one.
    const settled: string[] = [];
    const rules = [0, 1, 2].map((i) => engine.instant('sum(dash_metric)', t, { priority: 'rule' }).finally(() => settled.push(`rule ${i}`)));
    const dashboards = Array.from({ length: 8 }, (_, i) => dashboard(i));
    await until(() => engine.running().rule === 2 && engine.running().api === 8, 20_000, 'rule and API slots all held');
    // Every slot is taken: a dashboard query waits QUERY_QUEUE_MS and gets 503; the rule query
    // waiting meanwhile is still waiting (it may wait as long as its timeout).
    const ninth = await dashboard(8);
    expect(ninth.body.code).toBe('MTR_QUERY_OVERLOADED');
    expect(settled).toEqual([]);
    expect(engine.running()).toEqual({ api: 8, rule: 2 });
    held.release();
    const results = await Promise.all(rules);
    expect(results.map((r) => r.type)).toEqual(['vector', 'vector', 'vector']);
    expect((await Promise.all(dashboards)).map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(engine.running()).toEqual({ api: 0, rule: 0 });
  });
});
