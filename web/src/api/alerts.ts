import { getJSON, sendJSON } from './client.js';

/**
 * The alerting API (server/routes/alerting.ts): Prometheus' /api/v1/alerts and /api/v1/rules
 * shapes, rule management under /api/v1/alerting/rules, silences, history.
 */

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'firing' | 'pending' | string;
  activeAt: string;
  value: string;
  silencedBy?: string[];
  inhibitedBy?: string[];
}

export interface RuleView {
  id: string;
  source: 'api' | 'file' | 'slo';
  group: string;
  file: string;
  interval: string;
  type: 'alerting' | 'recording';
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  keep_firing_for?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  no_data_state?: string;
  error_state?: string;
  state?: string;
  health: string;
  lastError: string;
  lastEvaluation: string | null;
  alerts?: Alert[];
}

export interface RuleInput {
  alert: string;
  expr: string;
  for?: string;
  group?: string;
  severity?: string;
  service?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  no_data_state?: string;
}

export interface Silence {
  id: string;
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  createdBy: string;
  comment: string;
  status: { state: 'active' | 'pending' | 'expired' | string };
}

export interface HistoryEntry {
  time: string;
  ruleId: string;
  rule: string;
  group: string;
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  from: string;
  to: string;
  value: string;
}

type Ok<T> = { status: 'success'; data: T };

export const listAlerts = (signal?: AbortSignal) => getJSON<Ok<{ alerts: Alert[] }>>('/api/v1/alerts', undefined, signal).then((r) => r.data.alerts);
export const listRules = (signal?: AbortSignal) => getJSON<Ok<RuleView[]>>('/api/v1/alerting/rules', undefined, signal).then((r) => r.data);
export const getRule = (id: string, signal?: AbortSignal) => getJSON<Ok<RuleView>>(`/api/v1/alerting/rules/${encodeURIComponent(id)}`, undefined, signal).then((r) => r.data);
export const createRule = (rule: RuleInput) => sendJSON<Ok<RuleView>>('POST', '/api/v1/alerting/rules', rule).then((r) => r.data);
export const updateRule = (id: string, rule: RuleInput) => sendJSON<Ok<RuleView>>('PUT', `/api/v1/alerting/rules/${encodeURIComponent(id)}`, rule).then((r) => r.data);
export const deleteRule = (id: string) => sendJSON<unknown>('DELETE', `/api/v1/alerting/rules/${encodeURIComponent(id)}`);
export const listSilences = (signal?: AbortSignal) => getJSON<Ok<Silence[]>>('/api/v1/silences', undefined, signal).then((r) => r.data);
export const createSilence = (body: { id?: string; matchers: string[]; duration: string; createdBy: string; comment: string }) =>
  sendJSON<Ok<{ silenceID: string }>>('POST', '/api/v1/silences', body).then((r) => r.data.silenceID);
export const expireSilence = (id: string) => sendJSON<unknown>('DELETE', `/api/v1/silences/${encodeURIComponent(id)}`);
export const alertHistory = (params: { limit?: number; start?: number }, signal?: AbortSignal) =>
  getJSON<Ok<HistoryEntry[]>>('/api/v1/alerting/history', { limit: params.limit ?? 200, start: params.start }, signal).then((r) => r.data);

/** The routing tree as GET /api/v1/alerting/notifications/routes gives it (no credentials). */
export interface RouteNode {
  receiver: string;
  matchers: string[];
  groupBy: string[];
  groupWait: number;
  groupInterval: number;
  repeatInterval: number;
  continue: boolean;
  muteTimeIntervals: string[];
  activeTimeIntervals: string[];
  /** The interval that holds this route's notifications now, or null. */
  timeMuted: string | null;
  routes: RouteNode[];
}
export interface NotificationRoutes {
  route: RouteNode;
  receivers: { name: string; integrations: { kind: string; sendResolved: boolean }[] }[];
  timeIntervals: string[];
}
/** An alert as Alertmanager's GET /api/v2/alerts gives it. */
export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  fingerprint: string;
  receivers: { name: string }[];
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
}

export const notificationRoutes = (signal?: AbortSignal) => getJSON<Ok<NotificationRoutes>>('/api/v1/alerting/notifications/routes', undefined, signal).then((r) => r.data);
export const testReceiver = (receiver: string) =>
  sendJSON<Ok<{ integration: string; ok: boolean; error?: string }[]>>('POST', '/api/v1/alerting/notifications/test', { receiver }).then((r) => r.data);
/** Alerts (firing, not resolved) the matchers select, silenced ones included: the preview of a silence. */
export const matchingAlerts = (matchers: string[], signal?: AbortSignal) => getJSON<AmAlert[]>('/api/v2/alerts', { filter: matchers }, signal);
