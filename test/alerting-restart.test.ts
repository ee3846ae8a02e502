import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { RuleFileError } from '../server/alerting/rule-files.js';
import { getJson, postJson, tempDir } from './helpers.js';
import { advance, alertsOf, createRule, evalNext, push, query, series, startAlertingServer, startReceiver, testEpoch, type AlertingServer } from './alerting-helpers.js';

// A Prometheus rule file, as Prometheus' documentation writes them.
const RULES = `groups:
  - name: restart
    interval: 10s
    rules:
      - alert: SlowBurn
        expr: rs_pending > 0
        for: 10m
        labels:
          severity: ticket
        annotations:
          summary: "{{ $labels.job }} has been above zero for 10 minutes"
      - alert: Burning
        expr: rs_firing > 0
        labels:
          severity: page
      - alert: Ending
        expr: rs_ending > 0
      - record: job:rs_firing:sum
        expr: sum by (job) (rs_firing)
`;

let hook: Awaited<ReturnType<typeof startReceiver>>;
let dataDir: string;
let env: Record<string, string>;
let srv: AlertingServer | undefined;
const T = testEpoch(3);

beforeAll(async () => {
  hook = await startReceiver();
  const dir = tempDir('metronome-restart-cfg-');
  writeFileSync(join(dir, 'restart.rules.yml'), RULES);
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    `route:
  receiver: hook
  group_by: [alertname]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs: [{ url: '${hook.url}/hook' }]
`,
  );
  dataDir = tempDir('metronome-restart-data-');
  env = { RULE_FILES: join(dir, '*.rules.yml'), NOTIFY_CONFIG: join(dir, 'alertmanager.yml'), ALERT_FOR_GRACE_PERIOD: '1m' };
});
afterAll(async () => {
  await srv?.close();
  await hook?.close();
});

const sent = (alertname: string) => hook.bodies('/hook').filter((b) => b.groupLabels.alertname === alertname);

describe('restarting the server', () => {
  let t0 = 0;
  let tClose = 0;
  let apiRule = '';
  let silence = '';

  it('loads the Prometheus rule file and evaluates it', async () => {
    srv = await startAlertingServer(new ManualClock(T), env, dataDir);
    await push(srv.url, 'rs_pending', { job: 'a' }, series(T - 30_000, T + 1_800_000, 5_000, () => 1));
    await push(srv.url, 'rs_firing', { job: 'b' }, series(T - 30_000, T + 480_000, 5_000, () => 1));
    await push(srv.url, 'rs_firing', { job: 'b' }, series(T + 485_000, T + 1_800_000, 5_000, () => 0));
    const rules = (await getJson(`${srv.url}/api/v1/rules`)).body.data.groups;
    expect(rules.map((g: { name: string; file: string; interval: number; rules: unknown[] }) => [g.name, g.file.endsWith('restart.rules.yml'), g.interval, g.rules.length])).toEqual([
      ['restart', true, 10, 4],
    ]);
    // Rules from a file are read-only through the API.
    const fileRule = (await getJson(`${srv.url}/api/v1/alerting/rules`)).body.data.find((r: { alert?: string }) => r.alert === 'Burning');
    expect(fileRule.source).toBe('file');
    const del = await fetch(`${srv.url}/api/v1/alerting/rules/${fileRule.id}`, { method: 'DELETE' });
    expect(del.status).toBe(409);
    expect((await del.json()).error.code).toBe('MTR_ALERT_RULE_READ_ONLY');

    apiRule = await createRule(srv.url, { group: 'api', interval: '10s', alert: 'FromApi', expr: 'vector(0) > 1' });
    const s = await postJson(`${srv.url}/api/v1/silences`, { matchers: ['alertname="Nothing"'], duration: '2h', createdBy: 'me', comment: 'kept across restarts' });
    silence = s.body.data.silenceID;

    t0 = await evalNext(srv, 'restart');
    const alerts = await alertsOf(srv.url);
    expect(alerts.map((a) => [a.labels.alertname, a.state]).sort()).toEqual([
      ['Burning', 'firing'],
      ['SlowBurn', 'pending'],
    ]);
    expect(await query(srv.url, 'job:rs_firing:sum', t0)).toEqual([{ metric: { __name__: 'job:rs_firing:sum', job: 'b' }, value: [t0 / 1000, '1'] }]);
  });

  it('keeps pending and firing state across a restart: `for` restored, nothing announced twice, resolutions still sent', async () => {
    const s1 = srv!;
    // Ending fires now and resolves at T+3m55s, just before the shutdown.
    await push(s1.url, 'rs_ending', { job: 'c' }, series(t0 - 5_000, T + 235_000, 5_000, () => 1));
    await push(s1.url, 'rs_ending', { job: 'c' }, series(T + 240_000, T + 1_800_000, 5_000, () => 0));
    await evalNext(s1, 'restart');
    await advance(s1, 10_000);
    expect(sent('Burning')).toHaveLength(1);
    expect(sent('Ending')).toHaveLength(1);
    let tResolved = 0;
    while ((await alertsOf(s1.url)).some((a) => a.labels.alertname === 'Ending')) tResolved = await evalNext(s1, 'restart');
    expect((await alertsOf(s1.url)).find((a) => a.labels.alertname === 'SlowBurn')).toMatchObject({ state: 'pending', activeAt: new Date(t0).toISOString() });
    // Shut down before the group's next flush: the resolution of Ending has not been sent.
    expect(sent('Ending')).toHaveLength(1);
    tClose = tResolved;
    await s1.close();

    // Back 30 s later on the same data directory.
    const clock = new ManualClock(tClose + 30_000);
    srv = await startAlertingServer(clock, env, dataDir);
    const s2 = srv;
    const restored = await alertsOf(s2.url);
    // Prometheus' `for` restoration: the 30 s of downtime do not count toward the 10 minutes.
    expect(restored.find((a) => a.labels.alertname === 'SlowBurn')).toMatchObject({ state: 'pending', activeAt: new Date(t0 + 30_000).toISOString() });
    expect(restored.find((a) => a.labels.alertname === 'Burning')?.state).toBe('firing');
    await evalNext(s2, 'restart');
    await advance(s2, 60_000);
    // Firing before the restart: not announced again. Resolved before it: the resolution is delivered.
    expect(sent('Burning')).toHaveLength(1);
    expect(sent('Ending')).toHaveLength(2);
    expect(sent('Ending')[1]).toMatchObject({ status: 'resolved', alerts: [{ status: 'resolved', endsAt: new Date(tResolved).toISOString() }] });

    // SlowBurn fires 10 minutes of evaluation after it became pending, not 10 minutes after the restart.
    let fired = 0;
    while (!fired) {
      const at = await evalNext(s2, 'restart');
      if ((await alertsOf(s2.url)).find((a) => a.labels.alertname === 'SlowBurn')?.state === 'firing') fired = at;
    }
    expect(fired).toBeGreaterThanOrEqual(t0 + 30_000 + 600_000);
    expect(fired).toBeLessThan(t0 + 30_000 + 610_000);
    expect(fired).toBeLessThan(tClose + 30_000 + 600_000);
    expect(await query(s2.url, 'ALERTS_FOR_STATE{alertname="SlowBurn"}', fired)).toMatchObject([{ value: [fired / 1000, String(Math.floor((t0 + 30_000) / 1000))] }]);

    // Burning clears at T+8m05s: exactly one resolved notification.
    await advance(s2, 120_000);
    expect(sent('Burning').map((b) => b.status)).toEqual(['firing', 'resolved']);

    // API rules and silences came back too.
    expect((await getJson(`${s2.url}/api/v1/alerting/rules/${apiRule}`)).body.data.alert).toBe('FromApi');
    expect((await getJson(`${s2.url}/api/v1/silences/${silence}`)).body.data.comment).toBe('kept across restarts');
    const hist = (await getJson(`${s2.url}/api/v1/alerting/history?alertname=SlowBurn`)).body.data.map((h: { to: string }) => h.to);
    expect(hist.reverse()).toEqual(['pending', 'firing']);
  });

  it('refuses to start with an invalid rule file, saying where the problem is', async () => {
    await srv?.close();
    srv = undefined;
    const dir = tempDir('metronome-bad-rules-');
    writeFileSync(join(dir, 'bad.rules.yml'), 'groups:\n  - name: bad\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m])\n');
    const err = await startAlertingServer(new ManualClock(T), { RULE_FILES: join(dir, 'bad.rules.yml') }, dataDir).catch((e) => e);
    expect(err).toBeInstanceOf(RuleFileError);
    expect(err.message).toMatch(/bad\.rules\.yml:5:15: groups\.0\.rules\.0\.expr: .*\[MTR_RULE_PROMQL\]/);
    // The failed start released the data directory: the server starts again.
    srv = await startAlertingServer(new ManualClock(T), env, dataDir);
    expect((await getJson(`${srv.url}/api/v1/rules`)).status).toBe(200);
  });
});
