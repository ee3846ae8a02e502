/**
 * The failure cases of issue 13: credentials shown to readers, *_file secrets read at PUT time,
 * a receiver that never answers, 429 with Retry-After, a hostile silence regex.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import type { NotifierAlert } from '../server/alerting/receivers.js';
import { readSecretFile, SecretFileError } from '../server/alerting/receivers/secret.js';
import { postJson, tempDir } from './helpers.js';
import { advance, startAlertingServer, startReceiver, testEpoch, until, type AlertingServer } from './alerting-helpers.js';

let srv: AlertingServer;
const clock = new ManualClock(testEpoch(2));
const dir = tempDir('metronome-delivery-');

beforeAll(async () => {
  srv = await startAlertingServer(clock);
});
afterAll(async () => {
  await srv?.close();
});

const putConfig = (body: string) =>
  fetch(`${srv.url}/api/v1/alerting/notifications/config`, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body }).then(async (r) => ({ status: r.status, body: await r.json() }));
const getConfig = () => fetch(`${srv.url}/api/v1/alerting/notifications/config`).then((r) => r.json());

let seq = 0;
function alert(labels: Record<string, string>): NotifierAlert {
  const now = clock.now();
  return { fingerprint: `f${(seq++).toString(16).padStart(15, '0')}`, labels, annotations: {}, startsAt: now, endsAt: 0, generatorURL: '', updatedAt: now };
}

describe('credentials', () => {
  it('are shown as <secret> to readers, and a PUT of what was read keeps them', async () => {
    const hook = await startReceiver();
    try {
      const cfg = `route:\n  receiver: r\n  group_wait: 0s\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: ${hook.url}/tok-123\n        http_config: { authorization: { credentials: s3cr3t } }\n`;
      expect((await putConfig(cfg)).status).toBe(200);
      const read = await getConfig();
      expect(read.data.yaml).not.toContain('tok-123');
      expect(read.data.yaml).not.toContain('s3cr3t');
      expect(read.data.yaml).toContain('url: <secret>');
      // Send back what was read, with a change elsewhere: the stored credentials are kept.
      const put = await putConfig(read.data.yaml.replace('group_wait: 0s', 'group_wait: 1s'));
      expect(put.status).toBe(200);
      expect(put.body.data.yaml).toContain('group_wait: 1s');
      srv.alerting.notifier.push([alert({ alertname: 'SecretKept' })]);
      await advance(srv, 1000);
      await until(() => hook.received.length === 1, 10_000, 'the webhook call');
      expect(hook.received[0].path).toBe('/tok-123');
      // <secret> where nothing was stored is refused with its place.
      const bad = await putConfig(read.data.yaml.replace('- name: r', '- name: other').replace('receiver: r', 'receiver: other'));
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('MTR_NOTIFY_CONFIG_INVALID');
      expect(bad.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['receivers[name=other].webhook_configs[0].url', 'receivers[name=other].webhook_configs[0].http_config.authorization.credentials']);
    } finally {
      await hook.close();
    }
  });
});

describe('secret files', () => {
  it('are read at send time, regular files only, with one error for every failure', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    mkdirSync(join(dir, 'adir'));
    const msgs: string[] = [];
    for (const p of [fifo, join(dir, 'adir'), join(dir, 'missing'), '/dev/zero']) {
      const e = await readSecretFile(p).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(SecretFileError);
      msgs.push((e as Error).message.replace(JSON.stringify(p), 'PATH'));
    }
    // The same words whether the path is a FIFO, a directory, missing or a device: existence does not leak.
    expect(new Set(msgs).size).toBe(1);
    const ok = join(dir, 'url');
    writeFileSync(ok, ' http://127.0.0.1:1/x \n');
    expect(await readSecretFile(ok)).toBe('http://127.0.0.1:1/x');
  });

  it('are not opened when the config is PUT: a FIFO as url_file neither blocks nor errors', async () => {
    const fifo = join(dir, 'fifo2');
    execFileSync('mkfifo', [fifo]);
    const hook = await startReceiver();
    try {
      const urlFile = join(dir, 'hook-url');
      writeFileSync(urlFile, `${hook.url}/from-file\n`);
      const r = await putConfig(`route:\n  receiver: r\n  group_wait: 0s\n  routes:\n    - { matchers: ['to="fifo"'], receiver: f }\nreceivers:\n  - name: r\n    webhook_configs: [{ url_file: ${urlFile} }]\n  - name: f\n    webhook_configs: [{ url_file: ${fifo} }]\n`);
      expect(r.status).toBe(200);
      srv.alerting.notifier.push([alert({ alertname: 'FromFile' }), alert({ alertname: 'ToFifo', to: 'fifo' })]);
      await advance(srv, 1000);
      await until(() => hook.received.length === 1, 10_000, 'the webhook call');
      expect(hook.received[0].path).toBe('/from-file');
      const metrics = await fetch(`${srv.url}/metrics`).then((x) => x.text());
      expect(metrics).toMatch(/metronome_notifications_total\{integration="webhook",outcome="failed"\} [1-9]/);
    } finally {
      await hook.close();
    }
  });
});

describe('a receiver answering 429', () => {
  it('is retried no sooner than its Retry-After says', async () => {
    const hook = await startReceiver((_req, n) => (n === 0 ? { status: 429, headers: { 'retry-after': '30' } } : { status: 200 }));
    try {
      expect((await putConfig(`route:\n  receiver: r\n  group_wait: 0s\n  group_interval: 5m\nreceivers:\n  - name: r\n    webhook_configs: [{ url: '${hook.url}/busy' }]\n`)).status).toBe(200);
      srv.alerting.notifier.push([alert({ alertname: 'Busy' })]);
      await advance(srv, 1);
      await until(() => hook.attempts === 1, 10_000, 'the first attempt');
      // The backoff alone would retry after 1 s; the receiver asked for 30 s.
      await advance(srv, 29_000);
      expect(hook.attempts).toBe(1);
      await advance(srv, 1_000);
      await until(() => hook.received.length === 2, 10_000, 'the retry');
      expect(hook.received.map((r) => r.path)).toEqual(['/busy', '/busy']);
    } finally {
      await hook.close();
    }
  });
});

describe('silence matchers', () => {
  it('run on RE2: a backtracking bomb against a long value answers (a JS regex would not return)', async () => {
    const r = await postJson(`${srv.url}/api/v1/silences`, { matchers: ['x=~"(a|a)+"'], duration: '1h', createdBy: 'admin', comment: 'bomb' });
    expect(r.status).toBe(201);
    const long = `${'a'.repeat(5000)}b`;
    expect(srv.alerting.notifier.mutedBy({ x: long }).muted).toBe(false);
    expect(srv.alerting.notifier.mutedBy({ x: 'a'.repeat(5000) }).muted).toBe(true);
  });
});

describe('a receiver that never answers', () => {
  it('gets a bounded number of sockets and queued sends; what does not fit is dropped and counted', async () => {
    // Accepts connections and never answers.
    const sockets = new Set<Socket>();
    let maxOpen = 0;
    let accepted = 0;
    const dead: Server = createServer((s) => {
      accepted++;
      sockets.add(s);
      maxOpen = Math.max(maxOpen, sockets.size);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/`;
    try {
      expect((await putConfig(`route:\n  receiver: dead\n  group_by: [i]\n  group_wait: 0s\n  group_interval: 5m\nreceivers:\n  - name: dead\n    webhook_configs: [{ url: '${url}', timeout: 30s }]\n`)).status).toBe(200);
      const before = await dropped();
      srv.alerting.notifier.push(Array.from({ length: 2000 }, (_, i) => alert({ alertname: 'Dead', i: String(i) })));
      await clock.advance(1);
      await until(() => accepted >= 4, 10_000, 'the first connections');
      const q = srv.alerting.notifier.queues().find((x) => x.receiver === 'dead')!;
      expect(q).toMatchObject({ running: 4, queued: 256 });
      // Two thousand groups, four sockets.
      expect(sockets.size).toBe(4);
      expect(maxOpen).toBe(4);
      // Earlier tests' alerts are still held and routed here too: one group each.
      expect((await dropped()) - before).toBe(srv.alerting.notifier.groups().length - 4 - 256);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => dead.close(() => r()));
    }
    // Route away, then let the waiting sends pass their flush deadline.
    expect((await putConfig('route:\n  receiver: l\nreceivers:\n  - name: l\n    log_configs: [{}]\n')).status).toBe(200);
    await advance(srv, 6 * 60_000);
    expect(srv.alerting.notifier.queues().every((x) => x.queued === 0)).toBe(true);
  });
});

async function dropped(): Promise<number> {
  const text = await fetch(`${srv.url}/metrics`).then((x) => x.text());
  const m = /metronome_notifications_dropped_total\{integration="webhook",reason="queue_full"\} (\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}


describe('templates files', () => {
  it('are loaded from the config and used by receiver fields; a bad one is refused with file:line:column', async () => {
    const hook = await startReceiver();
    try {
      const tdir = join(dir, 'tmpl');
      mkdirSync(tdir);
      writeFileSync(join(tdir, 'team.tmpl'), '{{ define "team.title" }}{{ .Status | toUpper }}: {{ range .Alerts.Firing }}{{ .Labels.alertname }}@{{ .Labels.host }} {{ end }}{{ end }}\n');
      const cfg = (extra = '') =>
        `templates: ['${tdir}/*.tmpl']\nroute:\n  receiver: l\n  group_by: [alertname]\n  group_wait: 0s\n  routes: [{ matchers: ['alertname="Templated"'], receiver: s }]\nreceivers:\n  - name: l\n    log_configs: [{}]\n  - name: s\n    slack_configs: [{ api_url: '${hook.url}/slack', channel: '#ops', title: '{{ template "team.title" . }}', text: '{{ .CommonLabels.host | toUpper }}${extra}' }]\n`;
      expect((await putConfig(cfg())).status).toBe(200);
      srv.alerting.notifier.push([alert({ alertname: 'Templated', host: 'db1' })]);
      await advance(srv, 1000);
      await until(() => hook.received.length === 1, 10_000, 'the slack call');
      expect(hook.received[0].body.attachments[0]).toMatchObject({ title: 'FIRING: Templated@db1 ', text: 'DB1' });

      writeFileSync(join(tdir, 'broken.tmpl'), '{{ define "x" }}\n  {{ if .Status }}\n{{ end }}\n');
      const bad = await putConfig(cfg());
      expect(bad.status).toBe(400);
      expect(bad.body.error.issues[0].message).toBe(`${join(tdir, 'broken.tmpl')}:1:1: unclosed define "x"`);
      const badField = await putConfig(cfg('{{ .Nope'));
      expect(badField.status).toBe(400);
      expect(badField.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['receivers[1].slack_configs[0].text']);
    } finally {
      await hook.close();
    }
  });
});

describe('time intervals on routes', () => {
  it('mute a route inside its mute intervals and outside its active ones', async () => {
    const hook = await startReceiver();
    try {
      const h = new Date(clock.now()).getUTCHours();
      const hh = (x: number) => `${String(x).padStart(2, '0')}:00`;
      const now = `{ times: [{ start_time: '${hh(h)}', end_time: '${hh(h + 1)}' }] }`;
      const later = `{ times: [{ start_time: '${hh((h + 2) % 22)}', end_time: '${hh(((h + 2) % 22) + 1)}' }] }`;
      const cfg = `time_intervals:\n  - { name: now, time_intervals: [${now}] }\n  - { name: later, time_intervals: [${later}] }\nroute:\n  receiver: l\n  group_by: [alertname]\n  group_wait: 0s\n  routes:\n    - { matchers: ['alertname=~"TI.*"'], receiver: h, continue: true, mute_time_intervals: [now] }\n    - { matchers: ['alertname=~"TI.*"'], receiver: h2, continue: true, active_time_intervals: [later] }\n    - { matchers: ['alertname=~"TI.*"'], receiver: h3, active_time_intervals: [now], mute_time_intervals: [later] }\nreceivers:\n  - { name: l, log_configs: [{}] }\n  - { name: h, webhook_configs: [{ url: '${hook.url}/muted' }] }\n  - { name: h2, webhook_configs: [{ url: '${hook.url}/inactive' }] }\n  - { name: h3, webhook_configs: [{ url: '${hook.url}/open' }] }\n`;
      const r = await putConfig(cfg);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      srv.alerting.notifier.push([alert({ alertname: 'TIAlert' })]);
      await advance(srv, 1000);
      await until(() => hook.received.length >= 1, 10_000, 'the open route');
      await advance(srv, 1000);
      expect(hook.received.map((x) => x.path)).toEqual(['/open']);
    } finally {
      await hook.close();
    }
  });
});

describe('routing tree and test notifications', () => {
  it('shows the tree and receivers without credentials, and sends a test notification to a receiver', async () => {
    const hook = await startReceiver((_req, n) => (n === 1 ? { status: 500, body: 'boom' } : { status: 200 }));
    try {
      const cfg = `route:\n  receiver: web\n  group_by: [alertname]\n  routes:\n    - { matchers: ['severity="page"'], receiver: pager, continue: true }\nreceivers:\n  - { name: web, webhook_configs: [{ url: '${hook.url}/test-a?token=t0p' }, { url: '${hook.url}/test-b' }] }\n  - { name: pager, log_configs: [{}] }\n`;
      expect((await putConfig(cfg)).status).toBe(200);
      const routes = await fetch(`${srv.url}/api/v1/alerting/notifications/routes`).then((r) => r.json());
      expect(JSON.stringify(routes)).not.toContain('t0p');
      expect(routes.data).toMatchObject({
        route: { receiver: 'web', groupBy: ['alertname'], routes: [{ receiver: 'pager', matchers: ['severity="page"'], continue: true }] },
        receivers: [
          { name: 'web', integrations: [{ kind: 'webhook' }, { kind: 'webhook' }] },
          { name: 'pager', integrations: [{ kind: 'log' }] },
        ],
      });
      const sent = await postJson(`${srv.url}/api/v1/alerting/notifications/test`, { receiver: 'web' });
      expect(sent.status).toBe(200);
      expect(sent.body.data.map((x: { ok: boolean }) => x.ok).sort()).toEqual([false, true]);
      expect(hook.received.map((r) => r.body.alerts[0].labels.alertname)).toEqual(['TestAlert', 'TestAlert']);
      const none = await postJson(`${srv.url}/api/v1/alerting/notifications/test`, { receiver: 'nobody' });
      expect(none.status).toBe(404);
      expect(none.body.error.code).toBe('MTR_RECEIVER_NOT_FOUND');
    } finally {
      await hook.close();
    }
  });
});
