/** Shared by the receivers' tests: a notification and a local HTTP endpoint that records requests. */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { parseNotifyConfig } from '../notify-config.js';
import { NotifyTemplates } from '../notify-templates.js';
import type { Integration, Notification } from '../receivers.js';

const T = Date.UTC(2024, 0, 2, 3, 4, 5);

/** Two firing alerts and one resolved, grouped by alertname. */
export function sampleNotification(over: Partial<Notification> = {}): Notification {
  const a = (fp: string, instance: string, status: 'firing' | 'resolved') => ({
    status,
    alert: {
      fingerprint: fp,
      labels: { alertname: 'HighLatency', instance, job: 'api', severity: 'page' },
      annotations: { summary: `latency high on ${instance}`, runbook: 'http://runbooks/latency' },
      startsAt: T - 600_000,
      endsAt: status === 'resolved' ? T - 1000 : T + 240_000,
      generatorURL: `http://metronome:8080/graph?g0.expr=latency`,
      updatedAt: T,
    },
  });
  return {
    receiver: 'team-api',
    groupKey: '{}/{severity="page"}:{alertname="HighLatency"}',
    groupLabels: { alertname: 'HighLatency' },
    externalURL: 'http://metronome:8080',
    now: T,
    alerts: [a('00000000000000a1', 'web-1:9100', 'firing'), a('00000000000000a2', 'web-2:9100', 'firing'), a('00000000000000a3', 'web-3:9100', 'resolved')],
    ...over,
  };
}

/** The sample with the default templates, for receiver fields written as Go templates. */
export const templated = (over: Partial<Notification> = {}): Notification => sampleNotification({ templates: new NotifyTemplates(), ...over });

/** Only the resolved ones. */
export const allResolved = (n = sampleNotification()): Notification => ({ ...n, alerts: n.alerts.map((a) => ({ ...a, status: 'resolved' as const })) });

/** Build the integrations of a one-receiver config (YAML of the receiver's fields). */
export function integrationsOf(receiverYaml: string, globalYaml = ''): Integration[] {
  const text = `${globalYaml ? `global:\n${globalYaml}\n` : ''}route: { receiver: r }\nreceivers:\n  - name: r\n${receiverYaml}\n`;
  const { config } = parseNotifyConfig(text);
  return config.receivers.get('r')!.integrations.map((c) => c.create({ log: pino({ level: 'silent' }) }));
}

/** The parsed configs (globals applied) of a one-receiver config's integrations. */
export function configsOf(receiverYaml: string, globalYaml = ''): unknown[] {
  const text = `${globalYaml ? `global:\n${globalYaml}\n` : ''}route: { receiver: r }\nreceivers:\n  - name: r\n${receiverYaml}\n`;
  return parseNotifyConfig(text).config.receivers.get('r')!.integrations.map((c) => c.config);
}

export interface Captured {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
}

/** A local endpoint; `answer` decides each response (default 200 "ok"). */
export async function endpoint(answer: (c: Captured, n: number) => { status: number; body?: string; headers?: Record<string, string> } = () => ({ status: 200, body: 'ok' })) {
  const got: Captured[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json: unknown = undefined;
      try {
        json = JSON.parse(text);
      } catch {
        // not JSON
      }
      const c: Captured = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, text, json };
      const a = answer(c, got.length);
      got.push(c);
      res.writeHead(a.status, { 'content-type': a.body?.startsWith('{') ? 'application/json' : 'text/plain', ...a.headers });
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    got,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

export const signal = () => new AbortController().signal;
