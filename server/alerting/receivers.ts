/**
 * Receiver integrations: where a notification goes. Each takes the same notification data and
 * says whether a failure is worth retrying. New kinds plug in here without touching the
 * dispatcher.
 */
import type { Logger } from 'pino';
import type { Labels } from './labels.js';
import type { IntegrationConfig, LogConfig, WebhookConfig } from './notify-config.js';

/** An alert as the notifier holds it (Alertmanager's types.Alert). */
export interface NotifierAlert {
  fingerprint: string;
  labels: Labels;
  annotations: Labels;
  startsAt: number;
  /** 0 = no end known. An alert whose endsAt is in the past is resolved. */
  endsAt: number;
  generatorURL: string;
  updatedAt: number;
}

export interface Notification {
  receiver: string;
  groupKey: string;
  groupLabels: Labels;
  /** Alerts with their status at flush time, sorted. */
  alerts: { alert: NotifierAlert; status: 'firing' | 'resolved' }[];
  externalURL: string;
  now: number;
}

export interface SendResult {
  ok: boolean;
  /** Worth trying again (network error, 5xx, 429). */
  retry: boolean;
  error?: string;
}

export interface Integration {
  /** "webhook" or "log": with the receiver name and index, the notification log key. */
  readonly kind: string;
  readonly sendResolved: boolean;
  send(n: Notification, signal: AbortSignal): Promise<SendResult>;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
const iso = (ms: number) => new Date(ms).toISOString();

/** Labels every alert of the list has with the same value. */
export function commonOf(maps: Labels[]): Labels {
  if (maps.length === 0) return {};
  const out: Labels = { ...maps[0] };
  for (const m of maps.slice(1)) for (const k of Object.keys(out)) if (m[k] !== out[k]) delete out[k];
  return out;
}

/** Alertmanager's webhook body, version 4 (notify/webhook and template.Data). */
export function webhookPayload(n: Notification, maxAlerts = 0) {
  const all = n.alerts;
  const alerts = maxAlerts > 0 ? all.slice(0, maxAlerts) : all;
  return {
    receiver: n.receiver,
    status: all.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    alerts: alerts.map(({ alert: a, status }) => ({
      status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: iso(a.startsAt),
      // Alertmanager hides the end of an alert that has not ended.
      endsAt: status === 'resolved' ? iso(a.endsAt) : ZERO_TIME,
      generatorURL: a.generatorURL,
      fingerprint: a.fingerprint,
    })),
    groupLabels: n.groupLabels,
    commonLabels: commonOf(all.map((a) => a.alert.labels)),
    commonAnnotations: commonOf(all.map((a) => a.alert.annotations)),
    externalURL: n.externalURL,
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: all.length - alerts.length,
  };
}

export class WebhookIntegration implements Integration {
  readonly kind = 'webhook';
  constructor(readonly cfg: WebhookConfig) {}
  get sendResolved(): boolean {
    return this.cfg.sendResolved;
  }

  async send(n: Notification, signal: AbortSignal): Promise<SendResult> {
    const timeout = AbortSignal.timeout(this.cfg.timeoutMs);
    try {
      const res = await fetch(this.cfg.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Metronome-Alerting/1', ...this.cfg.headers },
        body: JSON.stringify(webhookPayload(n, this.cfg.maxAlerts)),
        signal: AbortSignal.any([signal, timeout]),
      });
      // Drain the body so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { ok: true, retry: false };
      return { ok: false, retry: res.status >= 500 || res.status === 429, error: `webhook ${redact(this.cfg.url)} answered ${res.status}` };
    } catch (e) {
      const why = timeout.aborted ? `timed out after ${this.cfg.timeoutMs} ms` : (e as Error).message;
      return { ok: false, retry: !signal.aborted, error: `webhook ${redact(this.cfg.url)}: ${why}` };
    }
  }
}

/** A URL without credentials or query (it may carry tokens) for logs and errors. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<url>';
  }
}

/** Writes each notification as one structured log line. */
export class LogIntegration implements Integration {
  readonly kind = 'log';
  constructor(
    readonly cfg: LogConfig,
    private readonly log: Logger,
  ) {}
  get sendResolved(): boolean {
    return this.cfg.sendResolved;
  }

  async send(n: Notification): Promise<SendResult> {
    const p = webhookPayload(n);
    this.log[this.cfg.level](
      {
        receiver: p.receiver,
        groupKey: p.groupKey,
        status: p.status,
        groupLabels: p.groupLabels,
        alerts: p.alerts.map((a) => ({ status: a.status, labels: a.labels, annotations: a.annotations, startsAt: a.startsAt })),
      },
      `alert notification: ${p.status} ${Object.entries(p.groupLabels).map(([k, v]) => `${k}=${v}`).join(',') || '(all)'} (${p.alerts.length} alert(s))`,
    );
    return { ok: true, retry: false };
  }
}

export function makeIntegration(cfg: IntegrationConfig, log: Logger): Integration {
  return cfg.kind === 'webhook' ? new WebhookIntegration(cfg) : new LogIntegration(cfg, log);
}
