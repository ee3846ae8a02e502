import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { getJson, postJson, tempDir } from './helpers.js';
import {
  advance,
  alertsOf,
  createRule,
  evalNext,
  nextEval,
  push,
  query,
  series,
  startAlertingServer,
  startReceiver,
  testEpoch,
  type AlertingServer,
} from './alerting-helpers.js';

let srv: AlertingServer;
let hook: Awaited<ReturnType<typeof startReceiver>>;
const clock = new ManualClock(testEpoch(3));

beforeAll(async () => {
  hook = await startReceiver();
  const dir = tempDir('metronome-alerting-cfg-');
  const cfg = join(dir, 'alertmanager.yml');
  writeFileSync(
    cfg,
    `route:
  receiver: hook
  group_by: [alertname]
  group_wait: 5s
  group_interval: 1m
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: ${hook.url}/alerts
`,
  );
  srv = await startAlertingServer(clock, { NOTIFY_CONFIG: cfg });
});
afterAll(async () => {
  await srv?.close();
  await hook?.close();
});

const put = (url: string, body: unknown) =>
  fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json() }));
const del = (url: string) => fetch(url, { method: 'DELETE' }).then(async (r) => ({ status: r.status, body: r.status === 204 ? null : await r.json() }));

describe('rule management API', () => {
  it('rejects invalid rules with a code, the field and the position', async () => {
    const cases: [unknown, string, (string | number)[], number?][] = [
      [{ alert: 'X', expr: 'rate(x[5m)' }, 'MTR_RULE_PROMQL', ['expr'], 9],
      [{ alert: 'X', expr: 'up[5m]' }, 'MTR_RULE_PROMQL', ['expr'], 0],
      [{ alert: 'X', expr: 'nosuchfn(up)' }, 'MTR_RULE_PROMQL', ['expr'], 0],
      [{ alert: 'X', expr: 'up', annotations: { summary: 'at {{ if $value }}' } }, 'MTR_RULE_TEMPLATE', ['annotations', 'summary'], 6],
      [{ alert: 'X', expr: 'up', bogus: 1 }, 'MTR_RULE_FIELD', ['bogus']],
      [{ record: 'x:y', expr: 'up', for: '5m' }, 'MTR_RULE_FIELD', ['for']],
      [{ record: 'bad name', expr: 'up' }, 'MTR_RULE_NAME', ['record']],
      [{ alert: 'X', record: 'y', expr: 'up' }, 'MTR_RULE_NAME', []],
      [{ alert: 'X', expr: 'up', for: '5 minutes' }, 'MTR_RULE_DURATION', ['for']],
      [{ alert: 'X', expr: 'up', labels: { 'bad-name': 'x' } }, 'MTR_RULE_LABEL_NAME', ['labels', 'bad-name']],
      [{ alert: 'X', expr: 'up', interval: '100ms' }, 'MTR_RULE_DURATION', ['interval']],
    ];
    for (const [body, code, path, position] of cases) {
      const r = await postJson(`${srv.url}/api/v1/alerting/rules`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('MTR_ALERT_RULE_INVALID');
      const issue = r.body.error.issues.find((i: { code: string }) => i.code === code);
      expect(issue, JSON.stringify(r.body)).toBeDefined();
      expect(issue.path).toEqual(path);
      if (position !== undefined) expect(issue.position).toBe(position);
    }
    const notJson = await postJson(`${srv.url}/api/v1/alerting/rules`, '{"alert":');
    expect(notJson.status).toBe(400);
  });

  it('creates, lists, updates and deletes rules; conflicting group intervals and unknown ids are refused', async () => {
    const id = await createRule(srv.url, { group: 'crud', interval: '1m', alert: 'CrudRule', expr: 'vector(1) > 2', for: '2m', severity: 'ticket', service: 'api' });
    let r = await getJson(`${srv.url}/api/v1/alerting/rules/${id}`);
    expect(r.body.data).toMatchObject({ id, source: 'api', group: 'crud', interval: '1m', type: 'alerting', alert: 'CrudRule', for: '2m', labels: { severity: 'ticket', service: 'api' }, no_data_state: 'ok', error_state: 'keep_last' });
    const conflict = await postJson(`${srv.url}/api/v1/alerting/rules`, { group: 'crud', interval: '30s', alert: 'Other', expr: 'vector(1)' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('MTR_ALERT_GROUP_INTERVAL');
    const upd = await put(`${srv.url}/api/v1/alerting/rules/${id}`, { group: 'crud', interval: '1m', alert: 'CrudRule', expr: 'vector(1) > 3', for: '5m' });
    expect(upd.status).toBe(200);
    expect(upd.body.data).toMatchObject({ expr: 'vector(1) > 3', for: '5m' });
    const bad = await put(`${srv.url}/api/v1/alerting/rules/${id}`, { alert: 'CrudRule', expr: 'sum(' });
    expect(bad.body.error.code).toBe('MTR_ALERT_RULE_INVALID');
    r = await getJson(`${srv.url}/api/v1/alerting/rules`);
    expect(r.body.data.some((x: { id: string }) => x.id === id)).toBe(true);
    expect((await del(`${srv.url}/api/v1/alerting/rules/${id}`)).status).toBe(204);
    const gone = await del(`${srv.url}/api/v1/alerting/rules/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('MTR_ALERT_RULE_NOT_FOUND');
    expect((await put(`${srv.url}/api/v1/alerting/rules/nope`, { alert: 'A', expr: 'up' })).body.error.code).toBe('MTR_ALERT_RULE_NOT_FOUND');
    expect((await getJson(`${srv.url}/api/v1/alerting/rules/nope`)).status).toBe(404);
  });
});

describe('bad input on the alerting routes', () => {
  it('answers a 4xx with a code, never a 500', async () => {
    const req = async (method: string, path: string, body?: string, type = 'application/json') => {
      const r = await fetch(`${srv.url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': type }, body });
      const text = await r.text();
      return { status: r.status, text };
    };
    const cases: [string, string, string | undefined, string?][] = [
      ['GET', '/api/v1/rules?type=bogus', undefined],
      ['GET', '/api/v1/alerting/history?start=yesterday', undefined],
      ['GET', '/api/v1/alerting/history?limit=-1', undefined],
      ['POST', '/api/v1/alerting/rules', '[]'],
      ['POST', '/api/v1/alerting/rules', '"text"'],
      ['POST', '/api/v1/alerting/rules', 'null'],
      ['POST', '/api/v1/alerting/rules', JSON.stringify({ alert: 'A'.repeat(10), expr: 'up', group: 'g'.repeat(300) })],
      ['POST', '/api/v1/alerting/rules', JSON.stringify({ alert: 'A', expr: 'up', labels: { a: null } })],
      ['POST', '/api/v1/alerting/rules', '<xml/>', 'application/xml'],
      ['POST', '/api/v1/alerting/slos', '{}'],
      ['PUT', '/api/v1/alerting/slos/nope', JSON.stringify({ name: 'x', service: 'y', objective: 0.9 })],
      ['DELETE', '/api/v1/alerting/slos/nope', undefined],
      ['POST', '/api/v1/silences', '{"matchers": "x"}'],
      ['POST', '/api/v1/silences', JSON.stringify({ id: 'nope', matchers: ['a="b"'], duration: '1h', createdBy: 'me', comment: 'c' })],
      ['GET', '/api/v1/silences/nope', undefined],
      ['PUT', '/api/v1/alerting/notifications/config', '{}'],
      ['PUT', '/api/v1/alerting/notifications/config', 'receivers: 3', 'text/plain'],
      ['PUT', '/api/v1/alerting/notifications/config', '- a\n- b', 'application/yaml'],
    ];
    for (const [method, path, body, type] of cases) {
      const r = await req(method, path, body, type);
      expect(r.status, `${method} ${path} ${body}: ${r.text}`).toBeGreaterThanOrEqual(400);
      expect(r.status, `${method} ${path} ${body}: ${r.text}`).toBeLessThan(500);
      expect(r.text).toMatch(/MTR_[A-Z_]+/);
    }
  });

  it('words a bad history time as /api/v1/query does, naming the parameter once', async () => {
    const r = await getJson(`${srv.url}/api/v1/alerting/history?end=yesterday`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({
      code: 'MTR_READ_BAD_PARAM',
      message: 'invalid parameter "end": cannot parse "yesterday" to a valid timestamp (unix seconds or RFC 3339)',
    });
    // Empty means not given, as Prometheus reads an empty start or end.
    expect((await getJson(`${srv.url}/api/v1/alerting/history?start=&end=`)).status).toBe(200);
  });
});

describe('evaluation with the real engine and store', () => {
  it('goes pending, fires after `for`, writes ALERTS, notifies, then resolves and notifies again', async () => {
    const t = clock.now();
    // 30 degrees until t+60s, then 20.
    await push(srv.url, 'temperature', { room: 'a' }, series(t - 60_000, t + 55_000, 5_000, () => 30));
    await push(srv.url, 'temperature', { room: 'a' }, series(t + 60_000, t + 600_000, 5_000, () => 20));
    await createRule(srv.url, {
      group: 'temps',
      interval: '10s',
      alert: 'HighTemp',
      expr: 'temperature > 25',
      for: '30s',
      severity: 'page',
      annotations: { summary: '{{ $labels.room }} is at {{ $value }} degrees' },
    });
    const t0 = await evalNext(srv, 'temps');
    let alerts = (await alertsOf(srv.url)).filter((a) => a.labels.alertname === 'HighTemp');
    expect(alerts).toEqual([
      { labels: { alertname: 'HighTemp', room: 'a', severity: 'page' }, annotations: { summary: 'a is at 30 degrees' }, state: 'pending', activeAt: new Date(t0).toISOString(), value: '3e+01' },
    ]);
    expect(await query(srv.url, 'ALERTS{alertname="HighTemp"}', t0)).toEqual([
      { metric: { __name__: 'ALERTS', alertname: 'HighTemp', alertstate: 'pending', room: 'a', severity: 'page' }, value: [t0 / 1000, '1'] },
    ]);
    await evalNext(srv, 'temps');
    await evalNext(srv, 'temps');
    expect((await alertsOf(srv.url)).find((a) => a.labels.alertname === 'HighTemp')?.state).toBe('pending');
    expect(hook.bodies('/alerts').filter((b) => b.groupLabels.alertname === 'HighTemp')).toEqual([]);
    const tFire = await evalNext(srv, 'temps');
    expect(tFire).toBe(t0 + 30_000);
    expect((await alertsOf(srv.url)).find((a) => a.labels.alertname === 'HighTemp')?.state).toBe('firing');
    expect(await query(srv.url, 'ALERTS_FOR_STATE{alertname="HighTemp"}', tFire)).toEqual([
      { metric: { __name__: 'ALERTS_FOR_STATE', alertname: 'HighTemp', room: 'a', severity: 'page' }, value: [tFire / 1000, String(Math.floor(t0 / 1000))] },
    ]);
    // group_wait (5 s) later, one notification.
    await advance(srv, 5_000);
    const fired = hook.bodies('/alerts').filter((b) => b.groupLabels.alertname === 'HighTemp');
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({
      version: '4',
      status: 'firing',
      receiver: 'hook',
      groupKey: '{}:{alertname="HighTemp"}',
      truncatedAlerts: 0,
      groupLabels: { alertname: 'HighTemp' },
      commonLabels: { alertname: 'HighTemp', room: 'a', severity: 'page' },
      commonAnnotations: { summary: 'a is at 30 degrees' },
      externalURL: srv.url,
    });
    expect(fired[0].alerts).toEqual([
      {
        status: 'firing',
        labels: { alertname: 'HighTemp', room: 'a', severity: 'page' },
        annotations: { summary: 'a is at 30 degrees' },
        startsAt: new Date(tFire).toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: `${srv.url}/graph?g0.expr=${encodeURIComponent('temperature > 25')}&g0.tab=1`,
        fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
      },
    ]);
    // The condition clears at t+60s: resolved at the next evaluation, notified at the next group_interval.
    let tResolved = 0;
    while ((await alertsOf(srv.url)).some((a) => a.labels.alertname === 'HighTemp')) tResolved = await evalNext(srv, 'temps');
    expect(tResolved).toBeGreaterThanOrEqual(t + 60_000);
    expect(tResolved).toBeLessThan(t + 70_000);
    await advance(srv, 60_000);
    const all = hook.bodies('/alerts').filter((b) => b.groupLabels.alertname === 'HighTemp');
    expect(all).toHaveLength(2);
    expect(all[1]).toMatchObject({ status: 'resolved', alerts: [{ status: 'resolved', startsAt: new Date(tFire).toISOString(), endsAt: new Date(tResolved).toISOString() }] });

    const hist = await getJson(`${srv.url}/api/v1/alerting/history?alertname=HighTemp`);
    expect(hist.status).toBe(200);
    expect(hist.body.data.map((h: { from: string; to: string; time: string }) => [h.from, h.to, h.time]).reverse()).toEqual([
      ['inactive', 'pending', new Date(t0).toISOString()],
      ['pending', 'firing', new Date(tFire).toISOString()],
      ['firing', 'resolved', new Date(tResolved).toISOString()],
    ]);
  });

  it('does not fire when the condition flaps inside `for`', async () => {
    const t = clock.now();
    // Above the threshold in even 10 s blocks, below in odd ones: every evaluation flips.
    await push(srv.url, 'flappy', {}, series(t - 10_000, t + 300_000, 1_000, (x) => (Math.floor((x - t) / 10_000) % 2 === 0 ? 30 : 20)));
    await createRule(srv.url, { group: 'flap', interval: '10s', alert: 'Flappy', expr: 'flappy > 25', for: '30s' });
    const states: string[] = [];
    for (let i = 0; i < 12; i++) {
      await evalNext(srv, 'flap');
      states.push((await alertsOf(srv.url)).find((a) => a.labels.alertname === 'Flappy')?.state ?? 'none');
    }
    expect(states).not.toContain('firing');
    expect(states.filter((s) => s === 'pending').length).toBeGreaterThanOrEqual(5);
    await advance(srv, 60_000);
    expect(hook.bodies('/alerts').filter((b) => b.groupLabels.alertname === 'Flappy')).toEqual([]);
  });

  it('keeps firing for keep_firing_for after the condition clears', async () => {
    const t = clock.now();
    await push(srv.url, 'kf_metric', {}, series(t - 10_000, t + 15_000, 1_000, () => 1));
    await push(srv.url, 'kf_metric', {}, series(t + 16_000, t + 300_000, 1_000, () => 0));
    await createRule(srv.url, { group: 'kf', interval: '10s', alert: 'KeepFiring', expr: 'kf_metric > 0', keep_firing_for: '30s' });
    const seen: [number, string, string | undefined][] = [];
    for (let i = 0; i < 8; i++) {
      const at = await evalNext(srv, 'kf');
      const r = await getJson(`${srv.url}/api/v1/rules?rule_name[]=KeepFiring`);
      const rule = r.body.data.groups[0].rules[0];
      seen.push([at - t, rule.state, rule.alerts[0]?.keepFiringSince]);
    }
    const firstClear = seen.find(([dt]) => dt > 16_000)![0];
    for (const [dt, state, since] of seen) {
      if (dt <= 15_000) expect(state).toBe('firing');
      else if (dt - firstClear < 30_000) {
        expect(state).toBe('firing');
        expect(since).toBe(new Date(t + firstClear).toISOString());
      } else expect(state).toBe('inactive');
    }
    expect(seen.some(([, s]) => s === 'inactive')).toBe(true);
  });

  it('applies the no-data and error outcomes and shows them in the API', async () => {
    const t = clock.now();
    // Two series on each side of a one-to-one match on k: a many-to-many error at evaluation.
    for (const x of ['1', '2']) {
      await push(srv.url, 'mm_a', { k: '1', x }, series(t - 60_000, t + 600_000, 10_000, () => 1));
      await push(srv.url, 'mm_b', { k: '1', y: x }, series(t - 60_000, t + 600_000, 10_000, () => 1));
    }
    const noDataId = await createRule(srv.url, { group: 'outcomes', interval: '10s', alert: 'NoSamples', expr: 'never_written_metric > 0', no_data_state: 'nodata', severity: 'ticket' });
    await createRule(srv.url, { group: 'outcomes', alert: 'NoSamplesAlerting', expr: 'never_written_metric > 0', no_data_state: 'alerting' });
    await createRule(srv.url, { group: 'outcomes', alert: 'NoSamplesOk', expr: 'never_written_metric > 0' });
    const errId = await createRule(srv.url, { group: 'outcomes', alert: 'Broken', expr: 'mm_a * on(k) mm_b > 0', error_state: 'error' });
    await createRule(srv.url, { group: 'outcomes', alert: 'BrokenKeep', expr: 'mm_a * on(k) mm_b > 0' });
    await evalNext(srv, 'outcomes');

    const rules = (await getJson(`${srv.url}/api/v1/rules?rule_group[]=outcomes`)).body.data.groups[0].rules as {
      name: string;
      state: string;
      health: string;
      lastError?: string;
      alerts: { labels: Record<string, string>; state: string; annotations: Record<string, string> }[];
    }[];
    const by = (n: string) => rules.find((r) => r.name === n)!;
    expect(by('NoSamples')).toMatchObject({ state: 'nodata', health: 'ok' });
    expect(by('NoSamples').alerts).toEqual([expect.objectContaining({ state: 'nodata', labels: { alertname: 'DatasourceNoData', rulename: 'NoSamples', severity: 'ticket' } })]);
    expect(by('NoSamplesAlerting')).toMatchObject({ state: 'firing', alerts: [{ labels: { alertname: 'NoSamplesAlerting' }, state: 'firing' }] });
    expect(by('NoSamplesOk')).toMatchObject({ state: 'inactive', health: 'ok', alerts: [] });
    expect(by('Broken')).toMatchObject({ state: 'error', health: 'err' });
    expect(by('Broken').lastError).toMatch(/many-to-many/);
    expect(by('Broken').alerts[0].labels).toEqual({ alertname: 'DatasourceError', rulename: 'Broken' });
    expect(by('Broken').alerts[0].annotations.Error).toMatch(/many-to-many/);
    expect(by('BrokenKeep')).toMatchObject({ state: 'inactive', health: 'err', alerts: [] });
    const mgmt = (await getJson(`${srv.url}/api/v1/alerting/rules/${errId}`)).body.data;
    expect(mgmt).toMatchObject({ state: 'error', health: 'err', error_state: 'error' });
    expect((await getJson(`${srv.url}/api/v1/alerting/rules/${noDataId}`)).body.data.state).toBe('nodata');

    await advance(srv, 5_000);
    const sent = hook.bodies('/alerts').map((b) => b.groupLabels.alertname);
    expect(sent).toEqual(expect.arrayContaining(['DatasourceNoData', 'DatasourceError', 'NoSamplesAlerting']));
    expect(sent).not.toContain('NoSamplesOk');
    expect(sent).not.toContain('BrokenKeep');
  });

  it('writes recording rules back as series and exports evaluation metrics', async () => {
    const t = clock.now();
    for (const room of ['a', 'b', 'c']) await push(srv.url, 'room_temp', { room, site: 'x' }, series(t - 60_000, t + 120_000, 10_000, () => (room === 'c' ? 25 : 20)));
    await createRule(srv.url, { group: 'recording', interval: '15s', record: 'site:room_temp:max', expr: 'max by (site) (room_temp)', labels: { source: 'rule' } });
    // Depends on the recording above: evaluated after it in the same iteration.
    await createRule(srv.url, { group: 'recording', alert: 'SiteHot', expr: 'site:room_temp:max > 24' });
    const at = await evalNext(srv, 'recording');
    expect(await query(srv.url, 'site:room_temp:max', at)).toEqual([{ metric: { __name__: 'site:room_temp:max', site: 'x', source: 'rule' }, value: [at / 1000, '25'] }]);
    expect((await alertsOf(srv.url)).find((a) => a.labels.alertname === 'SiteHot')).toMatchObject({ state: 'firing', labels: { site: 'x', source: 'rule' } });
    const rec = (await getJson(`${srv.url}/api/v1/rules?type=record`)).body.data.groups;
    expect(rec.flatMap((g: { rules: { type: string }[] }) => g.rules.map((r) => r.type))).toEqual(['recording']);
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    expect(metrics).toMatch(/metronome_rule_evaluations_total\{rule_group="recording"\} [1-9]/);
    expect(metrics).toMatch(/metronome_rule_evaluation_failures_total\{rule_group="outcomes"\} [1-9]/);
    expect(metrics).toMatch(/metronome_rule_group_duration_seconds_count\{rule_group="temps"\} [1-9]/);
    expect(metrics).toMatch(/metronome_notifications_total\{integration="webhook",outcome="ok"\} [1-9]/);
    expect(nextEval(srv.alerting, 'recording')).toBe(at + 15_000);
  });

  it('writes NaN and infinite results of a recording rule as Prometheus does', async () => {
    const t = clock.now();
    await push(srv.url, 'ratio_input', { k: 'x' }, series(t - 60_000, t + 120_000, 10_000, () => 0));
    await createRule(srv.url, { group: 'nonfinite', interval: '15s', record: 'x:zero_by_zero', expr: 'ratio_input / ratio_input' });
    await createRule(srv.url, { group: 'nonfinite', interval: '15s', record: 'x:one_by_zero', expr: '(ratio_input + 1) / ratio_input' });
    const at = await evalNext(srv, 'nonfinite');
    expect(await query(srv.url, 'x:zero_by_zero', at)).toEqual([{ metric: { __name__: 'x:zero_by_zero', k: 'x' }, value: [at / 1000, 'NaN'] }]);
    expect(await query(srv.url, 'x:one_by_zero', at)).toEqual([{ metric: { __name__: 'x:one_by_zero', k: 'x' }, value: [at / 1000, '+Inf'] }]);
  });
});
