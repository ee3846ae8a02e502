/**
 * What the notifier hands to receiver integrations, and what they answer: each takes the same
 * notification data and says whether a failure is worth retrying (and after how long). The
 * integrations themselves live in receivers/<name>/, assembled in receivers/registry.ts.
 */
import type { Labels } from './labels.js';

/**
 * What a receiver field written as a Go template needs of the config's templates
 * (notify-templates.ts implements it; declared here so the data model imports no template code).
 */
interface TemplateExpander {
  expand(text: string, n: Notification, html?: boolean): string;
}

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
  /** The config's templates, for receiver fields written as Go templates. */
  templates?: TemplateExpander;
}

export interface SendResult {
  ok: boolean;
  /** Worth trying again (network error, 5xx, 429). */
  retry: boolean;
  error?: string;
  /** The receiver asked to wait this long (429/503 Retry-After). */
  retryAfterMs?: number;
}

export interface Integration {
  /** The integration's name ("webhook", "slack"...): with the receiver name and index, the notification log key. */
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
