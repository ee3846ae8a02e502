import { param, sql, type Store } from '../store/index.js';
import { groupFamilies, type MetricInfo } from './families.js';
import { runtimePanelsOf } from './generator.js';
import type { ServiceDef } from './model.js';
import { findTraffic } from './signals.js';

/**
 * The golden-path scorecard: how far a service follows the conventions that make Metronome's
 * generated dashboard, alerts and SLOs work for it. Each check says what it found (`detail`) and
 * what to do when it fails (`fix`); the score is the share of checks passed, 0-100.
 * `scorecard` is pure; the route gathers its input (metrics, probes, alert rules, cardinality).
 */

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix: string;
}

export interface Scorecard {
  service: string;
  score: number;
  checks: Check[];
}

export interface Cardinality {
  /** The metric name with the most series, and how many. */
  topMetric: { name: string; series: number } | null;
  /** The label with the most distinct values across the service's series (identity labels aside). */
  topLabel: { name: string; values: number } | null;
}

/** Above these a family is expensive to query and store; a label past them is usually an id or a path. */
const CARDINALITY_LIMITS = { seriesPerMetric: 2_000, valuesPerLabel: 200 } as const;

export interface ScorecardInput {
  service: string;
  def: Pick<ServiceDef, 'owner' | 'links' | 'slo'> & { registered?: boolean };
  metrics: readonly MetricInfo[];
  /** Probes configured for the service (server/probes). */
  probes: number;
  /** Proposed alert rules and which are enabled; null when alerting does not run. */
  alerts: { proposed: string[]; enabled: string[] } | null;
  cardinality: Cardinality;
}

/** The checks, in the order the UI and CLI show them. */
export const CHECKS = ['request-metrics', 'latency-histogram', 'runtime-metrics', 'owner', 'runbook', 'slo', 'probe', 'alerts-enabled', 'label-cardinality'] as const;

const CLIENT = 'instrument with @metronome/client (README, "Instrument a service")';

export function scorecard(input: ScorecardInput): Scorecard {
  const families = groupFamilies(input.metrics);
  const traffic = findTraffic(families);
  const svc = input.service;
  const checks: Check[] = [];
  const add = (name: (typeof CHECKS)[number], ok: boolean, detail: string, fix: string) => checks.push({ name, ok, detail, fix: ok ? '' : fix });

  // Request metrics: a request counter (or histogram) split by route and status.
  if (!traffic) {
    add('request-metrics', false, 'no HTTP or gRPC server request metrics (http_requests_total, http_server_request_duration_seconds, grpc_server_handled_total...)', `Count requests by route and status code: ${CLIENT}.`);
  } else {
    const missing = [traffic.route ? null : 'route', traffic.status ? null : 'status'].filter(Boolean);
    add(
      'request-metrics',
      missing.length === 0,
      missing.length ? `${traffic.requests} has no ${missing.join(' or ')} label` : `${traffic.requests} by ${traffic.route} and ${traffic.status!.label}`,
      `Label ${traffic.requests} with the route template and the status code (without them there is no error ratio or per-route view): ${CLIENT}.`,
    );
  }
  add(
    'latency-histogram',
    !!traffic?.latency,
    traffic?.latency ? `${traffic.latency.family} (histogram)` : 'no request latency histogram: no p99 panel, latency alert or latency SLO',
    `Record request latency as a histogram with _bucket series (a summary cannot be aggregated across instances): ${CLIENT}.`,
  );
  const runtime = runtimePanelsOf(families);
  const cpu = runtime.includes('runtime-cpu') || runtime.includes('runtime-cpu-util');
  const mem = runtime.includes('runtime-memory');
  add(
    'runtime-metrics',
    cpu && mem,
    runtime.length ? `runtime panels: ${runtime.map((r) => r.replace('runtime-', '')).join(', ')}` : 'no runtime or process metrics',
    `Export CPU and memory under the Prometheus client conventions (process_cpu_seconds_total, process_resident_memory_bytes; Node: ${CLIENT}).`,
  );
  add('owner', !!input.def.owner?.team, input.def.owner ? `${input.def.owner.team}${input.def.owner.contact ? ` (${input.def.owner.contact})` : ''}` : 'nobody owns it', `Register the service with an owner: POST /api/v1/services {"name": "${svc}", "owner": {"team": "...", "contact": "..."}} (the client takes it from package.json).`);
  add('runbook', !!input.def.links?.runbook, input.def.links?.runbook ?? 'no runbook link', `Add links.runbook to the service's registration (package.json "metronome": {"runbook": "https://..."} with the client): alerts link to it.`);
  const slo = input.def.slo;
  add('slo', !!slo, slo ? `${+(slo.objective * 100).toPrecision(6)}% ${slo.indicator} over ${slo.window}` : 'no SLO', `Set an SLO in the registration: "slo": {"objective": 0.999, "window": "30d"}; its burn-rate alerts are then proposed.`);
  add('probe', input.probes > 0, input.probes ? `${input.probes} black-box probe(s)` : 'no black-box probe', `Register a health link ("links": {"health": "https://.../healthz"}) or POST /api/v1/probes, so an outage is seen from outside.`);
  if (input.alerts === null) add('alerts-enabled', false, 'alerting does not run in this server', 'Run Metronome with alerting.');
  else {
    const missing = input.alerts.proposed.filter((a) => !input.alerts!.enabled.includes(a));
    add(
      'alerts-enabled',
      input.alerts.proposed.length > 0 && missing.length === 0,
      input.alerts.proposed.length === 0 ? 'no alerts proposed (no metrics yet)' : `${input.alerts.proposed.length - missing.length} of ${input.alerts.proposed.length} proposed alerts enabled${missing.length ? `; not: ${missing.join(', ')}` : ''}`,
      `Enable the proposed alerts: POST /api/v1/services/${svc}/alerts/enable (or "Alerts…" on the service page).`,
    );
  }
  const { topMetric, topLabel } = input.cardinality;
  const L = CARDINALITY_LIMITS;
  const metricOk = !topMetric || topMetric.series <= L.seriesPerMetric;
  const labelOk = !topLabel || topLabel.values <= L.valuesPerLabel;
  add(
    'label-cardinality',
    metricOk && labelOk,
    [topMetric ? `most series: ${topMetric.name} (${topMetric.series}, limit ${L.seriesPerMetric})` : 'no series', topLabel ? `most values: ${topLabel.name} (${topLabel.values}, limit ${L.valuesPerLabel})` : ''].filter(Boolean).join('; '),
    `Drop ids, raw paths and other unbounded values from labels (use route templates; GET /api/v1/status/cardinality shows where series come from).`,
  );
  const score = Math.round((100 * checks.filter((c) => c.ok).length) / checks.length);
  return { service: svc, score, checks };
}

/** Labels that say where a series comes from, not what it measures: many values there are expected. */
const IDENTITY = ['service', 'job', 'instance', 'pod', 'host', 'le', 'quantile'];

/** The service's biggest metric and its label with the most values, from the series table. */
export async function cardinalityOf(store: Store, service: string): Promise<Cardinality> {
  const [m, l] = await Promise.all([
    store.query<{ key: string; n: string }>(sql`SELECT key, uniqExact(series_id) AS n FROM series WHERE service = ${param('String', service)} GROUP BY key ORDER BY n DESC, key LIMIT 1`),
    store.query<{ k: string; n: string }>(
      sql`SELECT k, uniqExact(v) AS n FROM series ARRAY JOIN mapKeys(tags) AS k, mapValues(tags) AS v
          WHERE service = ${param('String', service)} AND k NOT IN ${param('Array(String)', IDENTITY)}
          GROUP BY k ORDER BY n DESC, k LIMIT 1`,
    ),
  ]);
  return {
    topMetric: m[0] ? { name: m[0].key, series: Number(m[0].n) } : null,
    topLabel: l[0] ? { name: l[0].k, values: Number(l[0].n) } : null,
  };
}

