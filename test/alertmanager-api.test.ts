/**
 * Alertmanager's API v2 with real parts: amtool adds, queries and expires silences and posts and
 * queries alerts; a real Prometheus whose rule fires sends to Metronome's /api/v2/alerts and the
 * alert is routed and delivered; Metronome's own alerts reach a real Alertmanager through
 * ALERTMANAGER_URLS. Tokens are on: Prometheus posts with a write token, amtool manages silences
 * with an admin one.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { postJson, tempDir } from './helpers.js';
import { advance, evalNext, startAlertingServer, startReceiver, until, type AlertingServer } from './alerting-helpers.js';

const run = promisify(execFile);
const TOKENS = { write: 'wwwwwwwwwwwwwwww-1', admin: 'aaaaaaaaaaaaaaaa-1', read: 'rrrrrrrrrrrrrrrr-1' };
const dir = tempDir('metronome-amapi-');
const clock = new ManualClock(Date.now());
let srv: AlertingServer;
let hook: Awaited<ReturnType<typeof startReceiver>>;
let am: ChildProcess | undefined;
let amURL = '';
let prom: ChildProcess | undefined;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function waitReady(url: string, what: string): Promise<void> {
  const start = Date.now();
  for (;;) {
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() - start > 30_000) throw new Error(`${what} did not become ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const auth = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  // A real Alertmanager that Metronome forwards its own alerts to.
  const amPort = await freePort();
  amURL = `http://127.0.0.1:${amPort}`;
  writeFileSync(join(dir, 'am.yml'), 'route: { receiver: none }\nreceivers: [{ name: none }]\n');
  am = spawn('prometheus-alertmanager', [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${join(dir, 'am-data')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address='], { stdio: 'ignore' });
  await waitReady(`${amURL}/-/ready`, 'alertmanager');

  hook = await startReceiver();
  writeFileSync(
    join(dir, 'notify.yml'),
    `route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 0s\nreceivers:\n  - name: hook\n    webhook_configs: [{ url: '${hook.url}/hook' }]\n  - name: quiet\n    log_configs: [{}]\n`,
  );
  srv = await startAlertingServer(clock, {
    NOTIFY_CONFIG: join(dir, 'notify.yml'),
    AUTH_TOKENS: `prom:${TOKENS.write}:write,ops:${TOKENS.admin}:admin+write,viewer:${TOKENS.read}:read`,
    ALERTMANAGER_URLS: amURL,
  });
  writeFileSync(join(dir, 'amtool.yml'), `authorization:\n  credentials: ${TOKENS.admin}\n`);
});

afterAll(async () => {
  prom?.kill();
  am?.kill();
  await srv?.close();
  await hook?.close();
});

/** Run amtool; its stderr is in the error when it fails. */
async function amtool(...args: string[]): Promise<string> {
  // amtool stamps silences and alerts with the wall clock: bring the notifier's clock there first.
  if (clock.now() < Date.now()) await clock.advanceTo(Date.now());
  try {
    return (await run('amtool', [`--alertmanager.url=${srv.url}`, `--http.config.file=${join(dir, 'amtool.yml')}`, ...args])).stdout;
  } catch (e) {
    throw new Error(`amtool ${args.join(' ')}: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
  }
}

describe('amtool against Metronome', () => {
  it('adds, queries and expires a silence', async () => {
    const id = (await amtool('silence', 'add', 'alertname=DiskFull', 'instance=~"db-.*"', '--comment=disk swap', '--author=ops@example.com', '--duration=2h')).trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const listed = JSON.parse(await amtool('silence', 'query', '-o', 'json')) as { id: string; matchers: { name: string; value: string; isRegex: boolean }[]; createdBy: string; status: { state: string } }[];
    const s = listed.find((x) => x.id === id)!;
    expect(s).toMatchObject({ createdBy: 'ops@example.com', status: { state: 'active' } });
    expect(s.matchers).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'alertname', value: 'DiskFull', isRegex: false }), expect.objectContaining({ name: 'instance', value: 'db-.*', isRegex: true })]));
    // It mutes what it matches, in Metronome's own notifier.
    expect(srv.alerting.notifier.mutedBy({ alertname: 'DiskFull', instance: 'db-1' }).silencedBy).toEqual([id]);
    expect((await amtool('silence', 'query', '-q', 'alertname=DiskFull')).trim()).toBe(id);
    await amtool('silence', 'expire', id);
    const after = JSON.parse(await amtool('silence', 'query', '-o', 'json', '--expired')) as { id: string; status: { state: string } }[];
    expect(after.find((x) => x.id === id)?.status.state).toBe('expired');
    expect(srv.alerting.notifier.mutedBy({ alertname: 'DiskFull', instance: 'db-1' }).muted).toBe(false);
  });

  it('posts an alert and reads it back, with its receiver and silence', async () => {
    await amtool('alert', 'add', 'alertname=AmtoolAlert', 'severity=warning', '--annotation=summary=posted by amtool');
    type Got = { labels: Record<string, string>; status: { state: string } }[];
    expect((JSON.parse(await amtool('alert', 'query', '-o', 'json', 'alertname=AmtoolAlert')) as Got).map((a) => a.status.state)).toEqual(['active']);
    const id = (await amtool('silence', 'add', 'alertname=AmtoolAlert', '--comment=c', '--author=a', '--duration=1h')).trim();
    // amtool hides silenced alerts unless asked.
    expect(JSON.parse(await amtool('alert', 'query', '-o', 'json', 'alertname=AmtoolAlert'))).toEqual([]);
    const alerts = JSON.parse(await amtool('alert', 'query', '-o', 'json', '--silenced', 'alertname=AmtoolAlert')) as { labels: Record<string, string>; annotations: Record<string, string>; receivers: { name: string }[]; status: { state: string; silencedBy: string[] } }[];
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ labels: { alertname: 'AmtoolAlert', severity: 'warning' }, annotations: { summary: 'posted by amtool' }, receivers: [{ name: 'hook' }], status: { state: 'suppressed', silencedBy: [id] } });
    await amtool('silence', 'expire', id);
  });

  it('is refused silences without the admin scope, with the code in the error', async () => {
    const body = { matchers: [{ name: 'a', value: 'b', isRegex: false }], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: 'x', comment: 'y' };
    const r = await fetch(`${srv.url}/api/v2/silences`, { method: 'POST', headers: { ...auth(TOKENS.write), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(r.status).toBe(403);
    const bad = await fetch(`${srv.url}/api/v2/silences`, { method: 'POST', headers: { ...auth(TOKENS.admin), 'content-type': 'application/json' }, body: JSON.stringify({ ...body, matchers: [] }) });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-metronome-error-code')).toBe('MTR_SILENCE_INVALID');
    expect(await bad.json()).toMatch(/^MTR_SILENCE_INVALID: matchers/);
    const alerts = await fetch(`${srv.url}/api/v2/alerts`, { method: 'POST', headers: { ...auth(TOKENS.read), 'content-type': 'application/json' }, body: '[]' });
    expect(alerts.status).toBe(403);
  });

  it('answers /api/v2/status and /api/v2/receivers in the spec shape, credentials masked', async () => {
    const st = await fetch(`${srv.url}/api/v2/status`, { headers: auth(TOKENS.read) }).then((r) => r.json());
    expect(st).toMatchObject({ cluster: { status: 'disabled' }, versionInfo: { version: expect.any(String) }, uptime: expect.any(String) });
    expect(st.config.original).toContain('<secret>');
    expect(st.config.original).not.toContain(hook.url);
    expect(await fetch(`${srv.url}/api/v2/receivers`, { headers: auth(TOKENS.read) }).then((r) => r.json())).toEqual([{ name: 'hook' }, { name: 'quiet' }]);
  });
});

describe('POST /api/v2/alerts', () => {
  it('lists every invalid alert with its index and field', async () => {
    const r = await fetch(`${srv.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { ...auth(TOKENS.write), 'content-type': 'application/json' },
      body: JSON.stringify([{ labels: {} }, { labels: { 'bad-name': 'x' } }, { labels: { a: '1' }, startsAt: '2024-01-02T00:00:00Z', endsAt: '2024-01-01T00:00:00Z' }, { labels: { a: '1' }, startsAt: 'yesterday' }]),
    });
    expect(r.status).toBe(400);
    expect(r.headers.get('x-metronome-error-code')).toBe('MTR_ALERTS_INVALID');
    const msg = (await r.json()) as string;
    for (const part of ['0.labels: at least one label pair required', '1.labels.bad-name: invalid label name', '2.endsAt: end time must not be before start time', '3.startsAt: invalid time']) expect(msg).toContain(part);
  });
});

describe('a real Prometheus', () => {
  it('sends a firing alert that is routed, delivered and recorded', async () => {
    writeFileSync(join(dir, 'rules.yml'), 'groups:\n  - name: prom\n    interval: 1s\n    rules:\n      - alert: PromFired\n        expr: vector(1)\n        labels: { severity: page }\n        annotations: { summary: "fired in Prometheus" }\n');
    const port = new URL(srv.url).port;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { evaluation_interval: 1s }\nrule_files: ['${join(dir, 'rules.yml')}']\nalerting:\n  alertmanagers:\n    - api_version: v2\n      authorization: { credentials: ${TOKENS.write} }\n      static_configs: [{ targets: ['127.0.0.1:${port}'] }]\n`,
    );
    const promPort = await freePort();
    prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'prom-data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--rules.alert.resend-delay=1s'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let promLog = '';
    prom.stderr!.on('data', (c: Buffer) => (promLog += c.toString()));
    await until(() => srv.alerting.notifier.activeAlerts().some((a) => a.alert.labels.alertname === 'PromFired'), 60_000, 'the alert from Prometheus').catch((e: Error) => {
      throw new Error(`${e.message}; Prometheus said:\n${promLog.split('\n').filter((l) => /level=(warn|error)/.test(l)).slice(-10).join('\n')}`);
    });
    await until(() => srv.alerting.notifier.activeAlerts().some((a) => a.alert.labels.alertname === 'PromFired'), 60_000, 'the alert from Prometheus');
    const a = srv.alerting.notifier.activeAlerts().find((x) => x.alert.labels.alertname === 'PromFired')!;
    expect(a.alert).toMatchObject({ labels: { alertname: 'PromFired', severity: 'page' }, annotations: { summary: 'fired in Prometheus' } });
    expect(a.alert.generatorURL).toContain('/graph?g0.expr=vector');
    expect(a.receivers).toEqual(['hook']);
    await advance(srv, 1000);
    await until(() => hook.bodies('/hook').some((b) => b.groupLabels.alertname === 'PromFired'), 10_000, 'the webhook delivery');
    const body = hook.bodies('/hook').find((b) => b.groupLabels.alertname === 'PromFired');
    expect(body).toMatchObject({ status: 'firing', alerts: [{ labels: { alertname: 'PromFired', severity: 'page' }, annotations: { summary: 'fired in Prometheus' } }] });
    const hist = await fetch(`${srv.url}/api/v1/alerting/history?alertname=PromFired`, { headers: auth(TOKENS.read) }).then((r) => r.json());
    expect(hist.data[0]).toMatchObject({ ruleId: 'api', rule: 'PromFired', to: 'firing' });
    const groups = await fetch(`${srv.url}/api/v2/alerts/groups?filter=alertname%3D%22PromFired%22`, { headers: auth(TOKENS.read) }).then((r) => r.json());
    expect(groups).toMatchObject([{ labels: { alertname: 'PromFired' }, receiver: { name: 'hook' }, alerts: [{ labels: { alertname: 'PromFired' }, status: { state: 'active' } }] }]);
  }, 90_000);
});

describe('ALERTMANAGER_URLS', () => {
  it("forwards Metronome's own alerts to a real Alertmanager", async () => {
    const r = await postJson(`${srv.url}/api/v1/alerting/rules`, { group: 'fwd', interval: '10s', alert: 'ForwardedAlert', expr: 'vector(1)', labels: { team: 'db' }, annotations: { summary: 'from Metronome' } }, auth(TOKENS.admin));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    await evalNext(srv, 'fwd');
    await srv.alerting.forwarder!.idle();
    const got = (await fetch(`${amURL}/api/v2/alerts?filter=alertname%3D%22ForwardedAlert%22`).then((r) => r.json())) as { labels: Record<string, string>; annotations: Record<string, string>; generatorURL: string }[];
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ labels: { alertname: 'ForwardedAlert', team: 'db' }, annotations: { summary: 'from Metronome' } });
    // Alerts posted to Metronome are not forwarded (only its own, as Prometheus forwards only its own).
    const posted = (await fetch(`${amURL}/api/v2/alerts?filter=alertname%3D%22AmtoolAlert%22`).then((r) => r.json())) as unknown[];
    expect(posted).toEqual([]);
    const metrics = await fetch(`${srv.url}/metrics`, { headers: auth(TOKENS.read) }).then((r) => r.text());
    expect(metrics).toMatch(/metronome_alertmanager_alerts_sent_total\{alertmanager="http:\/\/127\.0\.0\.1:\d+\/…"\} [1-9]/);
  });
});
