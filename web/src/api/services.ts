import { getJSON, sendJSON } from './client.js';

/** The services API (server/routes/services.ts); types mirror server/services/model.ts. */

export type HealthStatus = 'ok' | 'warning' | 'critical' | 'stale' | 'unknown';

interface Slo {
  objective: number;
  window: string;
  indicator: 'availability' | 'latency';
  latencyThreshold?: number;
}

export interface Service {
  name: string;
  owner?: { team: string; contact?: string };
  description?: string;
  tier?: 'critical' | 'high' | 'medium' | 'low';
  links?: Record<string, string>;
  slo?: Slo;
  registered: boolean;
  discovered: boolean;
  label: 'service' | 'job' | null;
  series: number;
  lastSeen: number | null;
  health: {
    requestRate: number | null;
    errorRatio: number | null;
    p99: number | null;
    alerts: { firing: number; pending: number; critical: number };
    status: HealthStatus;
    reason: string;
  };
}

interface Threshold {
  value: number;
  severity: 'warning' | 'critical';
  direction?: 'above' | 'below';
}

interface Panel {
  id: string;
  title: string;
  description?: string;
  kind: 'timeseries' | 'stat';
  queries: { expr: string; legend?: string }[];
  unit: string;
  thresholds?: Threshold[];
  width: number;
  stacked?: boolean;
  min?: number;
  max?: number;
}

interface Row {
  title: string;
  collapsed?: boolean;
  panels: Panel[];
}

export interface Dashboard {
  version: 1;
  service: string;
  title: string;
  families: string[];
  rows: Row[];
  source: 'generated' | 'saved';
  newFamilies?: string[];
  updatedAt?: number;
}

export interface ProposedRule {
  alert: string;
  expr: string;
  for: string;
  group: string;
  severity: string;
  service: string;
  annotations: Record<string, string>;
  enabled: boolean;
}

export const listServices = (signal?: AbortSignal) => getJSON<{ data: Service[] }>('/api/v1/services', undefined, signal).then((r) => r.data);
export const getService = (name: string, signal?: AbortSignal) =>
  getJSON<{ data: Service }>(`/api/v1/services/${encodeURIComponent(name)}`, undefined, signal).then((r) => r.data);
export const getDashboard = (name: string, signal?: AbortSignal) =>
  getJSON<{ data: Dashboard }>(`/api/v1/services/${encodeURIComponent(name)}/dashboard`, undefined, signal).then((r) => r.data);
export const saveDashboard = (name: string, doc: unknown) =>
  sendJSON<{ data: Dashboard }>('PUT', `/api/v1/services/${encodeURIComponent(name)}/dashboard`, doc).then((r) => r.data);
export const resetDashboard = (name: string) =>
  sendJSON<{ data: Dashboard }>('DELETE', `/api/v1/services/${encodeURIComponent(name)}/dashboard`).then((r) => r.data);
export const proposedAlerts = (name: string) =>
  getJSON<{ data: ProposedRule[] }>(`/api/v1/services/${encodeURIComponent(name)}/alerts/proposed`).then((r) => r.data);
export const enableAlerts = (name: string, alerts?: string[]) =>
  sendJSON<{ data: { created: string[]; alreadyEnabled: string[] } }>('POST', `/api/v1/services/${encodeURIComponent(name)}/alerts/enable`, alerts ? { alerts } : {}).then(
    (r) => r.data,
  );

/** GET /api/v1/services/<name>/scorecard (server/services/scorecard.ts). */
export interface Scorecard {
  service: string;
  /** Share of checks passed, 0-100. */
  score: number;
  checks: { name: string; ok: boolean; detail: string; fix: string }[];
}

export const getScorecard = (name: string, signal?: AbortSignal) =>
  getJSON<{ data: Scorecard }>(`/api/v1/services/${encodeURIComponent(name)}/scorecard`, undefined, signal).then((r) => r.data);
export const listScorecards = (signal?: AbortSignal) => getJSON<{ data: Scorecard[] }>('/api/v1/scorecards', undefined, signal).then((r) => r.data);

/** The badge class of a score: the same cut as `npx metronome check`'s default minimum (80). */
export function scoreClass(score: number): 'ok' | 'warning' | 'critical' {
  if (score >= 80) return 'ok';
  if (score >= 50) return 'warning';
  return 'critical';
}
