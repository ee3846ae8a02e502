import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { getJson, postJson, tempDir } from './helpers.js';
import { advance, alertsOf, createRule, evalNext, push, series, startAlertingServer, startReceiver, testEpoch, until, type AlertingServer } from './alerting-helpers.js';

let srv: AlertingServer;
let hook: Awaited<ReturnType<typeof startReceiver>>;
let flaky: Awaited<ReturnType<typeof startReceiver>>;
let slow: Awaited<ReturnType<typeof startReceiver>>;
const clock = new ManualClock(testEpoch(3));
let cfgText = '';

beforeAll(async () => {
  hook = await startReceiver();
  // Fails the first two deliveries with 503, then accepts.
  flaky = await startReceiver((_req, n) => ({ status: n < 2 ? 503 : 200 }));
  slow = await startReceiver(() => ({ status: 200, delayMs: 3000 }));
  const cfg = join(tempDir('metronome-notify-cfg-'), 'alertmanager.yml');
  cfgText = `global:
  resolve_timeout: 5m
  wechat_api_url: 'http://wechat.invalid/'
templates: ['/etc/alertmanager/*.tmpl']
route:
  receiver: default
  group_by: [alertname]
  group_wait: 30s
  group_interval: 2m
  repeat_interval: 10m
  routes:
    - matchers: ['case="grouping"']
      receiver: grouping
      group_by: [team]
    - matchers: ['case="silence"']
      receiver: silence
      group_wait: 10s
      group_interval: 1m
    - match: { case: retry }
      receiver: flaky
      group_wait: 10s
    - matchers: ['case="slow"']
      receiver: slow
      group_wait: 10s
      continue: true
    - matchers: ['case="slow"']
      receiver: fast
      group_wait: 10s
    - matchers: ['case="inhibit"']
      receiver: inhibit
      group_wait: 10s
      group_by: [severity]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [cluster]
receivers:
  - name: default
    webhook_configs: [{ url: '${hook.url}/default' }]
  - name: grouping
    webhook_configs: [{ url: '${hook.url}/grouping' }]
  - name: silence
    webhook_configs: [{ url: '${hook.url}/silence' }]
  - name: flaky
    webhook_configs: [{ url: '${flaky.url}/flaky' }]
  - name: slow
    webhook_configs: [{ url: '${slow.url}/slow' }]
  - name: fast
    webhook_configs: [{ url: '${hook.url}/fast', http_config: { tls_config: { insecure_skip_verify: true } } }]
  - name: inhibit
    webhook_configs: [{ url: '${hook.url}/inhibit' }]
  - name: pager
    wechat_configs: [{ api_secret: abc, corp_id: c }]
`;
  writeFileSync(cfg, cfgText);
  srv = await startAlertingServer(clock, { NOTIFY_CONFIG: cfg });
});
afterAll(async () => {
  await srv?.close();
  await Promise.all([hook?.close(), flaky?.close(), slow?.close()]);
});

/** Evaluate the group until the clock reaches `target`, returning the times evaluated. */
async function evalUntil(group: string, target: number): Promise<number[]> {
  const out: number[] = [];
  while (srv.alerting.evaluator.groups().find((g) => g.group.name === group)!.nextAt <= target) out.push(await evalNext(srv, group));
  return out;
}

describe('notification config', () => {
  it('reports what is not supported instead of ignoring it', async () => {
    const r = await getJson(`${srv.url}/api/v1/alerting/notifications/config`);
    expect(r.status).toBe(200);
    expect(r.body.data.source).toBe('file');
    const warned = r.body.data.warnings.map((w: { path: string }) => w.path);
    expect(warned).toEqual(
      expect.arrayContaining(['templates[0]', 'global.wechat_api_url', 'receivers[5].webhook_configs[0].http_config.tls_config', 'receivers[7].wechat_configs', 'receivers[7]']),
    );
    expect(r.body.data.warnings.find((w: { path: string }) => w.path === 'receivers[7].wechat_configs').line).toBe(cfgText.split('\n').findIndex((l) => l.includes('wechat_configs')) + 1);
  });
});

describe('grouping', () => {
  it('waits group_wait, batches by group_by, sends changes at group_interval and repeats at repeat_interval', async () => {
    const t = clock.now();
    const up = (from: number, to = t + 1_800_000) => series(from, to, 5_000, () => 1);
    await push(srv.url, 'grp_up', { team: 'x', instance: 'i1' }, up(t - 30_000));
    await push(srv.url, 'grp_up', { team: 'y', instance: 'j1' }, up(t - 30_000));
    await createRule(srv.url, { group: 'grouping', interval: '10s', alert: 'Grouped', expr: 'grp_up > 0', labels: { case: 'grouping' } });
    const t0 = await evalNext(srv, 'grouping');
    // i2 shows up while the group waits; i3 after its first notification.
    await push(srv.url, 'grp_up', { team: 'x', instance: 'i2' }, up(t0 + 15_000));
    await push(srv.url, 'grp_up', { team: 'x', instance: 'i3' }, up(t0 + 35_000));
    const sent = () => hook.received.filter((r) => r.path === '/grouping');
    const teamX = () => sent().filter((r) => r.body.groupLabels.team === 'x');

    await evalUntil('grouping', t0 + 29_999);
    expect(sent()).toHaveLength(0);
    await advance(srv, t0 + 30_000 - clock.now());
    expect(sent().map((r) => [r.body.groupKey, r.body.alerts.map((a: { labels: { instance: string } }) => a.labels.instance)]).sort()).toEqual([
      ['{}/{case="grouping"}:{team="x"}', ['i1', 'i2']],
      ['{}/{case="grouping"}:{team="y"}', ['j1']],
    ]);
    // i3 fires at t0+40s but waits for the group's next flush, group_interval after the first.
    await evalUntil('grouping', t0 + 149_999);
    expect(teamX()).toHaveLength(1);
    await advance(srv, t0 + 150_000 - clock.now());
    expect(teamX()).toHaveLength(2);
    expect(teamX()[1].body.alerts.map((a: { labels: { instance: string } }) => a.labels.instance)).toEqual(['i1', 'i2', 'i3']);
    // Nothing changes: flushes every 2 minutes send nothing until a flush finds the last
    // notification more than repeat_interval (10 m) old, as Alertmanager does: team y (sent at
    // +30s) repeats at +750s, team x (sent at +150s) at +870s.
    const teamY = () => sent().filter((r) => r.body.groupLabels.team === 'y');
    await evalUntil('grouping', t0 + 749_999);
    expect([teamX().length, teamY().length]).toEqual([2, 1]);
    await advance(srv, t0 + 750_000 - clock.now());
    expect([teamX().length, teamY().length]).toEqual([2, 2]);
    await evalUntil('grouping', t0 + 869_999);
    expect(teamX()).toHaveLength(2);
    await advance(srv, t0 + 870_000 - clock.now());
    expect([teamX().length, teamY().length]).toEqual([3, 2]);
    expect(teamX()[2].body.alerts).toEqual(teamX()[1].body.alerts);
  });
});

describe('silences', () => {
  it('validates silences and answers with the field at fault', async () => {
    const now = clock.now();
    const cases: [unknown, string][] = [
      [{ matchers: ['instance="a'], endsAt: (now + 3_600_000) / 1000, createdBy: 'me', comment: 'x' }, 'matchers'],
      [{ matchers: ['alertname=~".*"'], endsAt: (now + 3_600_000) / 1000, createdBy: 'me', comment: 'x' }, 'matchers'],
      [{ matchers: ['alertname="A"'], startsAt: (now + 60_000) / 1000, endsAt: now / 1000, createdBy: 'me', comment: 'x' }, 'endsAt'],
      [{ matchers: ['alertname="A"'], endsAt: 'tomorrow', createdBy: 'me', comment: 'x' }, 'endsAt'],
      [{ matchers: ['alertname="A"'], duration: '1h', comment: 'x' }, 'createdBy'],
      [{ matchers: [], duration: '1h', createdBy: 'me', comment: 'x' }, 'matchers'],
    ];
    for (const [body, field] of cases) {
      const r = await postJson(`${srv.url}/api/v1/silences`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('MTR_SILENCE_INVALID');
      expect(r.body.error.issues[0].path[0], JSON.stringify(r.body)).toBe(field);
    }
    const gone = await fetch(`${srv.url}/api/v1/silences/nope`, { method: 'DELETE' });
    expect(gone.status).toBe(404);
    expect((await gone.json()).error.code).toBe('MTR_SILENCE_NOT_FOUND');
  });

  it('keeps silenced alerts out of notifications and marks them in the API until the silence expires', async () => {
    const t = clock.now();
    for (const instance of ['a', 'b']) await push(srv.url, 'sil_up', { instance }, series(t - 30_000, t + 600_000, 5_000, () => 1));
    const s = await postJson(`${srv.url}/api/v1/silences`, { matchers: ['instance="a"', 'case="silence"'], duration: '1h', createdBy: 'ops@example.com', comment: 'maintenance of a' });
    expect(s.status).toBe(201);
    const sid = s.body.data.silenceID as string;
    await createRule(srv.url, { group: 'silence', interval: '10s', alert: 'Silenced', expr: 'sil_up > 0', labels: { case: 'silence' } });
    const t0 = await evalNext(srv, 'silence');
    const alerts = (await alertsOf(srv.url)).filter((a) => a.labels.alertname === 'Silenced');
    expect(alerts.map((a) => [a.labels.instance, a.silencedBy])).toEqual([
      ['a', [sid]],
      ['b', []],
    ]);
    await advance(srv, t0 + 10_000 - clock.now());
    const sent = () => hook.bodies('/silence');
    expect(sent()).toHaveLength(1);
    expect(sent()[0].alerts.map((a: { labels: { instance: string } }) => a.labels.instance)).toEqual(['b']);
    const list = await getJson(`${srv.url}/api/v1/silences`);
    expect(list.body.data.find((x: { id: string }) => x.id === sid)).toMatchObject({
      status: { state: 'active' },
      createdBy: 'ops@example.com',
      matchers: [
        { name: 'instance', value: 'a', isRegex: false, isEqual: true },
        { name: 'case', value: 'silence', isRegex: false, isEqual: true },
      ],
    });
    // Expire: a is notified at the group's next flush.
    const exp = await fetch(`${srv.url}/api/v1/silences/${sid}`, { method: 'DELETE' });
    expect(exp.status).toBe(200);
    expect((await getJson(`${srv.url}/api/v1/silences/${sid}`)).body.data.status.state).toBe('expired');
    await advance(srv, t0 + 70_000 - clock.now());
    expect(sent()).toHaveLength(2);
    expect(sent()[1].alerts.map((a: { labels: { instance: string } }) => a.labels.instance)).toEqual(['a', 'b']);
    expect((await alertsOf(srv.url)).find((a) => a.labels.alertname === 'Silenced' && a.labels.instance === 'a')?.silencedBy).toEqual([]);
  });
});

describe('delivery', () => {
  it('retries with backoff after a receiver failure and delivers once', async () => {
    const t = clock.now();
    await push(srv.url, 'retry_up', {}, series(t - 30_000, t + 600_000, 5_000, () => 1));
    await createRule(srv.url, { group: 'retry', interval: '10s', alert: 'Retried', expr: 'retry_up > 0', labels: { case: 'retry' } });
    const t0 = await evalNext(srv, 'retry');
    await advance(srv, t0 + 10_000 - clock.now());
    // First attempt answered 503; the retry waits 1 s, the next 2 s (manual clock).
    expect(flaky.received.length).toBe(1);
    await advance(srv, 999);
    expect(flaky.received.length).toBe(1);
    await advance(srv, 1);
    expect(flaky.received.length).toBe(2);
    await advance(srv, 2_000);
    expect(flaky.received.length).toBe(3);
    const bodies = flaky.bodies();
    expect(bodies[2]).toEqual(bodies[0]);
    expect(bodies[2]).toMatchObject({ status: 'firing', groupLabels: { alertname: 'Retried' } });
    // Delivered: the next flushes do not send it again.
    await advance(srv, 5 * 60_000);
    expect(flaky.received.length).toBe(3);
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    expect(metrics).toMatch(/metronome_notifications_total\{integration="webhook",outcome="ok"\} [1-9]/);
  });

  it('does not let a slow receiver hold up another receiver or the evaluation', async () => {
    const t = clock.now();
    await push(srv.url, 'slow_up', {}, series(t - 30_000, t + 600_000, 5_000, () => 1));
    await createRule(srv.url, { group: 'slow', interval: '10s', alert: 'SlowAndFast', expr: 'slow_up > 0', labels: { case: 'slow' } });
    const t0 = await evalNext(srv, 'slow');
    const started = Date.now();
    await clock.advance(t0 + 10_000 - clock.now());
    await until(() => hook.bodies('/fast').length === 1, 5_000, 'the fast receiver');
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(slow.received).toHaveLength(0);
    // Evaluation goes on while the slow receiver is still answering.
    const before = srv.alerting.evaluator.groups().find((g) => g.group.name === 'slow')!.lastEvaluation;
    await clock.advance(10_000);
    expect(srv.alerting.evaluator.groups().find((g) => g.group.name === 'slow')!.lastEvaluation).toBe(before + 10_000);
    expect(slow.received).toHaveLength(0);
    await srv.alerting.notifier.settled();
    expect(slow.bodies('/slow')).toHaveLength(1);
    expect(slow.bodies('/slow')[0].alerts[0].labels.alertname).toBe('SlowAndFast');
  });
});

describe('inhibition', () => {
  it('mutes warnings while a critical alert with the same cluster fires', async () => {
    const t = clock.now();
    for (const cluster of ['c1', 'c2']) await push(srv.url, 'inh_warn', { cluster }, series(t - 30_000, t + 600_000, 5_000, () => 1));
    await push(srv.url, 'inh_crit', { cluster: 'c1' }, series(t - 30_000, t + 600_000, 5_000, () => 1));
    await createRule(srv.url, { group: 'inhibit', interval: '10s', alert: 'InhWarning', expr: 'inh_warn > 0', labels: { case: 'inhibit', severity: 'warning' } });
    await createRule(srv.url, { group: 'inhibit', alert: 'InhCritical', expr: 'inh_crit > 0', labels: { case: 'inhibit', severity: 'critical' } });
    const t0 = await evalNext(srv, 'inhibit');
    await advance(srv, t0 + 10_000 - clock.now());
    const sent = hook.bodies('/inhibit');
    const warn = sent.find((b) => b.groupLabels.severity === 'warning');
    expect(warn.alerts.map((a: { labels: { cluster: string } }) => a.labels.cluster)).toEqual(['c2']);
    expect(sent.find((b) => b.groupLabels.severity === 'critical').alerts).toHaveLength(1);
    const c1 = (await getJson(`${srv.url}/api/v1/alerts`)).body.data.alerts.find(
      (a: { labels: Record<string, string> }) => a.labels.alertname === 'InhWarning' && a.labels.cluster === 'c1',
    );
    expect(c1.inhibitedBy).toHaveLength(1);
  });
});

describe('notification config through the API', () => {
  it('rejects an invalid config with the place of the problem and applies a valid one', async () => {
    const put = (body: string) => fetch(`${srv.url}/api/v1/alerting/notifications/config`, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body }).then(async (r) => ({ status: r.status, body: await r.json() }));
    let r = await put('route: [');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('MTR_NOTIFY_CONFIG_INVALID');
    expect(r.body.error.issues[0].line).toBe(1);
    r = await put('route:\n  receiver: nobody\n  group_wait: soon\nreceivers:\n  - name: x\n    webhook_configs: [{url: "ftp://x"}]\n');
    expect(r.status).toBe(400);
    expect(r.body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual(['receivers[0].webhook_configs[0].url', 'route.group_wait', 'route.receiver']);
    r = await put(`route:\n  receiver: all\nreceivers:\n  - name: all\n    webhook_configs: [{url: "${hook.url}/all"}]\n    wechat_configs: [{corp_id: "x"}]\n`);
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ source: 'api', warnings: [{ path: 'receivers[0].wechat_configs' }] });
    expect((await getJson(`${srv.url}/api/v1/alerting/notifications/config`)).body.data.source).toBe('api');
    // Held alerts are regrouped under the new root route and delivered to its receiver.
    await advance(srv, 60_000);
    expect(hook.bodies('/all').length).toBeGreaterThan(0);
  });
});
