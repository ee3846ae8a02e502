import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { DEMO_ALERT } from '../server/demo/catalog.js';
import { shouldRunDemo } from '../server/demo/run.js';
import { promGet } from './promql-helpers.js';
import { exportSeries, getJson, heroic, postJson, startTestServer, tempDir, type TestServer } from './helpers.js';

// chdb binds one data directory per process: each server here is closed before the next opens.
const dir = tempDir('metronome-demo-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The demo's time, shared by the servers on `dir` so a restart continues on it. Five minutes
 * back, so every sample it writes as the test moves it stays in the past the writer accepts.
 */
const clock = new ManualClock(Date.now() - 5 * 60_000);

async function start(env: Record<string, string>): Promise<TestServer> {
  return startTestServer({ DATA_DIR: dir, DEMO_BACKFILL_HOURS: '0.25', DEMO_INTERVAL_SECONDS: '1', ...env }, { demoClock: clock });
}

describe('demo traffic generator', () => {
  it('backfills 15 minutes through the real write path, then pushes a sample every interval', async () => {
    const srv = await start({ DEMO: 'auto' });
    try {
      expect(srv.demo).toBeDefined();
      await srv.demo!.ready;
      const since = clock.now() - 20 * 60_000;
      const [cpu] = await exportSeries(srv.url, 'process_cpu_seconds_total{service="frontend",instance="frontend-1"}', { start: since });
      // 15 minutes at 1 s, up to the clock's now.
      expect(cpu.timestamps.length).toBe(15 * 60);
      expect(cpu.timestamps[0]).toBeLessThanOrEqual(clock.now() - 15 * 60_000 + 1000);
      const last = cpu.timestamps[cpu.timestamps.length - 1];
      expect(clock.now() - last).toBeLessThan(1000);
      // Three intervals on the clock: three live pushes, one sample each, 1 s apart (each push
      // is committed before the clock moves on).
      await clock.advanceTo(last + 3000 + 50);
      const [again] = await exportSeries(srv.url, 'process_cpu_seconds_total{service="frontend",instance="frontend-1"}', { start: since });
      expect(again.timestamps.filter((t) => t > last)).toEqual([last + 1000, last + 2000, last + 3000]);
      // Counted as the "demo" protocol by the writer, like any client.
      const metrics = await (await fetch(`${srv.url}/metrics`)).text();
      expect(metrics).toMatch(/metronome_points_accepted_total\{protocol="demo"\} [1-9]/);
      // The demo registered its services and enabled their alert rules.
      const svc = (await getJson(`${srv.url}/api/v1/services/checkout`)).body.data;
      expect(svc).toMatchObject({ registered: true, slo: { objective: 0.995 } });
      const rules = (await getJson(`${srv.url}/api/v1/alerting/rules`)).body.data.map((r: any) => r.alert).filter(Boolean);
      expect(rules).toEqual(expect.arrayContaining(['PaymentProviderDegraded', 'CheckoutHighErrorRatio', 'FrontendNoData']));
    } finally {
      await srv.close();
    }
  });

  it('keeps running on restart when the data is the demo\'s own, continuing where it stopped', async () => {
    await clock.advance(10_000); // down for 10 s
    const srv = await start({ DEMO: 'auto' });
    try {
      expect(srv.demo).toBeDefined();
      await srv.demo!.ready;
      const [cpu] = await exportSeries(srv.url, 'process_cpu_seconds_total{service="checkout",instance="checkout-1"}', { start: clock.now() - 30 * 60_000 });
      // One sample per second: the 10 s down filled, no duplicates from a second backfill.
      const steps = new Set(cpu.timestamps.slice(1).map((t, i) => t - cpu.timestamps[i]));
      expect([...steps]).toEqual([1000]);
      expect(clock.now() - cpu.timestamps[cpu.timestamps.length - 1]).toBeLessThan(1000);
      // Its alert rules were kept, not created twice.
      const rules = (await getJson(`${srv.url}/api/v1/alerting/rules`)).body.data.filter((r: any) => r.alert === 'PaymentProviderDegraded');
      expect(rules).toHaveLength(1);
      // Now real data arrives.
      const w = await postJson(`${srv.url}/write`, heroic('orders_total', { service: 'shop' }, [[Date.now(), 1]]));
      expect(w.status).toBe(200);
    } finally {
      await srv.close();
    }
  });

  it('stays off in auto mode once other services send data, and follows DEMO=1 and DEMO=0', async () => {
    const srv = await start({ DEMO: 'auto' });
    try {
      expect(srv.demo).toBeUndefined();
      expect(await shouldRunDemo('auto', srv.ctx.store)).toBe(false);
      expect(await shouldRunDemo('1', srv.ctx.store)).toBe(true);
      expect(await shouldRunDemo('0', srv.ctx.store)).toBe(false);
    } finally {
      await srv.close();
    }
  });
});

describe('the demo right after start', () => {
  it('answers its dashboards, health and alert queries at once after the default 3 h backfill', async () => {
    // A backfill of over an hour written oldest-first, then live pushes: every query at now must
    // see the live data (it once saw nothing for an hour: last_seen stayed at the first flush).
    const own = tempDir('metronome-demo-fresh-');
    const srv = await startTestServer({ DATA_DIR: own, DEMO: '1', DEMO_BACKFILL_HOURS: '3', DEMO_INTERVAL_SECONDS: '10' });
    try {
      await srv.demo!.ready;
      const now = Date.now() / 1000;
      const services = (await getJson(`${srv.url}/api/v1/services`)).body.data;
      for (const name of ['frontend', 'checkout', 'payments', 'auth']) {
        const s = services.find((x: any) => x.name === name);
        expect(s.health.requestRate, name).toBeGreaterThan(0);
        expect(s.health.p99, name).toBeGreaterThan(0);
      }
      // Every enabled rule's expression evaluated at now: no NoData alert for a service that
      // pushes, and the demo's own alert condition holds.
      const rules = (await getJson(`${srv.url}/api/v1/alerting/rules`)).body.data.filter((r: any) => r.alert);
      const noData = rules.filter((r: any) => r.alert.endsWith('NoData'));
      expect(noData.length).toBeGreaterThanOrEqual(4);
      for (const r of noData) {
        const q = await promGet(srv.url, '/api/v1/query', { query: r.expr, time: now });
        expect(q.body.data.result, r.alert).toEqual([]);
      }
      const degraded = await promGet(srv.url, '/api/v1/query', { query: DEMO_ALERT.expr, time: now });
      expect(degraded.body.data.result.map((x: any) => x.metric.provider)).toContain('acme');
    } finally {
      await srv.close();
      rmSync(own, { recursive: true, force: true });
    }
  });
});
