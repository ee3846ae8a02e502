import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { getJson, postJson, tempDir } from './helpers.js';
import { advance, alertsOf, evalNext, push, query, startAlertingServer, startReceiver, testEpoch, type AlertingServer } from './alerting-helpers.js';

let srv: AlertingServer;
let hook: Awaited<ReturnType<typeof startReceiver>>;
const T = testEpoch(1);
const clock = new ManualClock(T);
const STEP = 15_000;
const RPS = 10;

/**
 * http_requests_total counters for a service from T-7h to T+20m at 15 s, with the error
 * fraction at each time given by `errors(t)`.
 */
async function traffic(service: string, errors: (t: number) => number): Promise<void> {
  const ok: [number, number][] = [];
  const bad: [number, number][] = [];
  let okN = 0;
  let badN = 0;
  for (let t = T - 7 * 3_600_000; t <= T + 1_200_000; t += STEP) {
    const n = (RPS * STEP) / 1000;
    badN += n * errors(t);
    okN += n * (1 - errors(t));
    ok.push([t, okN]);
    bad.push([t, badN]);
  }
  await push(srv.url, 'http_requests_total', { service, code: '200' }, ok);
  await push(srv.url, 'http_requests_total', { service, code: '500' }, bad);
}

beforeAll(async () => {
  hook = await startReceiver();
  const cfg = join(tempDir('metronome-slo-cfg-'), 'am.yml');
  writeFileSync(cfg, `route:\n  receiver: hook\n  group_by: [alertname, service, severity]\n  group_wait: 0s\nreceivers:\n  - name: hook\n    webhook_configs: [{ url: '${hook.url}/slo' }]\n`);
  srv = await startAlertingServer(clock, { NOTIFY_CONFIG: cfg });
});
afterAll(async () => {
  await srv?.close();
  await hook?.close();
});

describe('SLO burn-rate alerts', () => {
  it('refuses an SLO with a bad objective, window, SLI or name with MTR_SLO_INVALID naming the field', async () => {
    const bad: [unknown, string][] = [
      [{ name: 'x', service: 'a', objective: 99.9 }, 'objective'],
      [{ name: 'x', service: 'a', objective: 0.999, window: 'forever' }, 'window'],
      [{ name: 'x', service: 'a', objective: 0.999, sli: { errors: 'errs{', total: 'reqs' } }, 'sli'],
      [{ name: 'x', service: 'a', objective: 0.999, sli: { total: 'reqs' } }, 'sli'],
      [{ name: 'bad name!', service: 'a', objective: 0.999 }, 'name'],
    ];
    for (const [body, field] of bad) {
      const r = await postJson(`${srv.url}/api/v1/alerting/slos`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('MTR_SLO_INVALID');
      expect(r.body.error.issues[0].path[0]).toBe(field);
    }
  });

  it('pages on a synthetic error spike, stays quiet on a tiny error rate, and records the error budget left', async () => {
    // checkout: no errors, then half of all requests fail for the last 10 minutes.
    await traffic('checkout', (t) => (t >= T - 600_000 ? 0.5 : 0));
    // search: 0.05 % errors (half the budget of a 99.9 % objective), plus a 1-minute blip at 2 %.
    await traffic('search', (t) => (t >= T - 300_000 && t < T - 240_000 ? 0.02 : 0.0005));
    for (const service of ['checkout', 'search']) {
      const r = await postJson(`${srv.url}/api/v1/alerting/slos`, { name: `${service}-availability`, service, objective: 0.999, window: '30d', interval: '30s' });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body.data.rules.map((x: { type: string; record?: string; alert?: string; labels: { severity?: string } }) => x.record ?? `${x.alert}/${x.labels.severity}`)).toEqual([
        'slo:sli_error:ratio_rate5m',
        'slo:sli_error:ratio_rate30m',
        'slo:sli_error:ratio_rate1h',
        'slo:sli_error:ratio_rate2h',
        'slo:sli_error:ratio_rate6h',
        'slo:sli_error:ratio_rate1d',
        'slo:sli_error:ratio_rate3d',
        'slo:sli_error:ratio_rate30d',
        'slo:objective:ratio',
        'slo:error_budget_remaining:ratio',
        'SLOErrorBudgetBurn/page',
        'SLOErrorBudgetBurn/ticket',
      ]);
    }
    // Each SLO group has its own schedule offset; read each service's series at the later time.
    await evalNext(srv, 'slo:checkout-availability');
    await evalNext(srv, 'slo:search-availability');
    const at = Math.max(...srv.alerting.evaluator.groups().map((g) => g.lastEvaluation));
    await advance(srv, 1000);

    const ratio = async (w: string, service: string) => Number((await query(srv.url, `slo:sli_error:ratio_rate${w}{service="${service}"}`, at))[0].value[1]);
    expect(await ratio('5m', 'checkout')).toBeCloseTo(0.5, 2);
    expect(await ratio('1h', 'checkout')).toBeGreaterThan(14.4 * 0.001);
    expect(await ratio('1h', 'search')).toBeLessThan(14.4 * 0.001);
    expect(await ratio('6h', 'search')).toBeCloseTo(0.0005 + (0.0195 * 60_000) / 21_600_000, 4);

    const burning = (await alertsOf(srv.url)).filter((a) => a.labels.alertname === 'SLOErrorBudgetBurn');
    expect(burning.map((a) => [a.labels.service, a.labels.severity, a.state]).sort()).toEqual([
      ['checkout', 'page', 'firing'],
      ['checkout', 'ticket', 'firing'],
    ]);
    const page = hook.bodies('/slo').find((b) => b.commonLabels.severity === 'page');
    expect(page).toMatchObject({ status: 'firing', commonLabels: { alertname: 'SLOErrorBudgetBurn', service: 'checkout', slo: 'checkout-availability', severity: 'page' } });
    expect(page.alerts[0].annotations.description).toMatch(/^The error ratio is \d+(\.\d+)?%/);
    expect(hook.bodies('/slo').some((b) => b.commonLabels.service === 'search')).toBe(false);

    const budget = async (service: string) => Number((await query(srv.url, `slo:error_budget_remaining:ratio{service="${service}"}`, at))[0].value[1]);
    // checkout spent ~12x its 30-day budget in 10 minutes of 7 hours of data; search about half.
    expect(await budget('checkout')).toBeLessThan(0);
    expect(await budget('search')).toBeGreaterThan(0.3);
    expect(await budget('search')).toBeLessThan(0.6);
    expect((await query(srv.url, 'slo:objective:ratio{service="search"}', at))[0].value[1]).toBe('0.999');

    const list = await getJson(`${srv.url}/api/v1/alerting/slos`);
    expect(list.body.data.map((s: { name: string }) => s.name).sort()).toEqual(['checkout-availability', 'search-availability']);
  });
});
