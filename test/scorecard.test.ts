import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { CHECKS } from '../server/services/scorecard.js';
import { getJson, heroic, postJson, startTestServer, type TestServer } from './helpers.js';

/**
 * The golden-path scorecard on the demo services (an hour of demo traffic, their proposed alerts
 * enabled by the demo), and `metronome check` against it.
 */

let srv: TestServer;
const probeClock = new ManualClock(Date.now());
beforeAll(async () => {
  srv = await startTestServer({ DEMO: '1', DEMO_BACKFILL_HOURS: '1' }, { probeClock });
  await srv.demo!.ready;
}, 120_000);
afterAll(async () => {
  await srv?.destroy();
});

type Card = { service: string; score: number; checks: { name: string; ok: boolean; detail: string; fix: string }[] };

async function card(service: string): Promise<Card> {
  const r = await getJson(`${srv.url}/api/v1/services/${service}/scorecard`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.data;
}

const failed = (c: Card) => c.checks.filter((x) => !x.ok).map((x) => x.name);

describe('GET /api/v1/services/<name>/scorecard', () => {
  it('checks every convention, with a detail and a fix for each failure', async () => {
    const c = await card('checkout');
    expect(c.checks.map((x) => x.name)).toEqual([...CHECKS]);
    for (const x of c.checks) {
      expect(x.detail, x.name).not.toBe('');
      expect(x.fix === '', x.name).toBe(x.ok);
    }
  });

  it('scores the demo services by what each one does and lacks', async () => {
    // checkout: Prometheus HTTP metrics, Go runtime, owner, runbook, SLO, alerts enabled; no probe.
    const checkout = await card('checkout');
    expect(failed(checkout)).toEqual(['probe']);
    expect(checkout.score).toBe(89);
    expect(checkout.checks.find((x) => x.name === 'request-metrics')!.detail).toBe('http_requests_total by route and code');
    expect(checkout.checks.find((x) => x.name === 'slo')!.detail).toBe('99.5% availability over 30d');

    // payments: OpenTelemetry HTTP histogram (route and status from its attributes), JVM; no SLO.
    const payments = await card('payments');
    expect(failed(payments)).toEqual(['slo', 'probe']);
    expect(payments.checks.find((x) => x.name === 'latency-histogram')!.detail).toMatch(/^http_server_request_duration_seconds/);

    // auth: gRPC, scraped as a job; registered without a runbook.
    expect(failed(await card('auth'))).toEqual(expect.arrayContaining(['runbook', 'slo', 'probe']));

    // inventory-worker: a queue worker, no request metrics at all.
    const worker = await card('inventory-worker');
    expect(failed(worker)).toEqual(expect.arrayContaining(['request-metrics', 'latency-histogram', 'runbook', 'slo', 'probe']));
    expect(worker.checks.find((x) => x.name === 'owner')).toMatchObject({ ok: true, detail: 'catalog' });
    expect(worker.score).toBeLessThan(checkout.score);
  });

  it('fails label cardinality for a label holding ids, and names it', async () => {
    const now = Date.now();
    const body = Array.from({ length: 250 }, (_, i) => heroic('http_requests_total', { service: 'leaky', route: `/users/${i}`, code: '200', method: 'GET' }, [[now, 1]]));
    expect((await postJson(`${srv.url}/write`, body)).status).toBe(200);
    const c = await card('leaky');
    const x = c.checks.find((y) => y.name === 'label-cardinality')!;
    expect(x).toMatchObject({ ok: false });
    expect(x.detail).toMatch(/most values: route \(250, limit 200\)/);
  });

  it('passes checks once the service does what their fixes say: a probe, then its proposed alerts enabled', async () => {
    const probe = await postJson(`${srv.url}/api/v1/probes`, { service: 'checkout', kind: 'dns', target: 'localhost', interval: '1m' });
    expect(probe.status, JSON.stringify(probe.body)).toBe(201);
    await probeClock.advance(0); // the probe's first run, its result committed
    let checkout = await card('checkout');
    // The probe's series bring new proposals (a failing-probe alert, the probe availability SLO), not enabled yet.
    expect(failed(checkout)).toEqual(['alerts-enabled']);
    expect(checkout.checks.find((x) => x.name === 'alerts-enabled')!.detail).toMatch(/not: CheckoutProbeFailing, CheckoutProbeErrorBudgetBurn$/);
    expect((await postJson(`${srv.url}/api/v1/services/checkout/alerts/enable`, {})).status).toBe(200);
    checkout = await card('checkout');
    expect(failed(checkout)).toEqual([]);
    expect(checkout.score).toBe(100);
  });

  it('lists every service with its score for the UI column', async () => {
    const r = await getJson(`${srv.url}/api/v1/scorecards`);
    expect(r.status).toBe(200);
    const by = Object.fromEntries(r.body.data.map((c: Card) => [c.service, c.score]));
    expect(Object.keys(by)).toEqual(expect.arrayContaining(['auth', 'checkout', 'frontend', 'inventory-worker', 'payments']));
    expect(by.checkout).toBe((await card('checkout')).score);
  });

  it('answers 404 for a service that does not exist', async () => {
    const r = await getJson(`${srv.url}/api/v1/services/nope/scorecard`);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('MTR_SERVICE_NOT_FOUND');
  });
});

describe('npx metronome check', () => {
  const run = (...args: string[]) =>
    promisify(execFile)(process.execPath, [join(process.cwd(), 'bin/metronome.js'), ...args], { env: { ...process.env, METRONOME_URL: srv.url } }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('exits 0 at or above the threshold and 1 below it, printing each check and the fixes', async () => {
    const score = (await card('payments')).score;
    const ok = await run('check', 'payments', '--min', String(score));
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^payments: golden-path score ${score}/100 \\(minimum ${score}\\) PASS`));
    const low = await run('check', 'payments', `--min=${score + 1}`);
    expect(low.code).toBe(1);
    expect(low.stdout).toMatch(/FAIL {2}slo +no SLO\n +fix: Set an SLO/);
    const json = await run('check', 'payments', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ service: 'payments', score, min: 80, pass: score >= 80 });
  }, 120_000); // three node processes, each reading a scorecard: slow on a loaded machine

  it('exits 2 with a message for an unknown service, an unreachable server or bad arguments', async () => {
    const missing = await run('check', 'nope');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/answered 404: no service named nope/);
    const down = await run('check', 'payments', '--url', 'http://127.0.0.1:9');
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
    const bad = await run('check', 'payments', '--min', '120');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--min must be a number from 0 to 100/);
  }, 120_000);
});
