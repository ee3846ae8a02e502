import { describe, expect, it } from 'vitest';
import { proposeAlerts } from './alerts.js';
import { groupFamilies, rateUnitOf, titleOf, unitOf, type MetricInfo } from './families.js';
import { generateDashboard } from './generator.js';
import { healthStatus, NO_ALERTS } from './health.js';
import { dashboardSchema, type Dashboard, type Panel } from './model.js';
import { findTraffic } from './signals.js';

const m = (name: string, ...labels: string[]): MetricInfo => ({ name, labels: ['instance', 'service', ...labels] });

/** A Prometheus-instrumented Go HTTP service. */
const PROM_HTTP: MetricInfo[] = [
  m('http_requests_total', 'code', 'method', 'route'),
  m('http_request_duration_seconds_bucket', 'le', 'method', 'route'),
  m('http_request_duration_seconds_sum', 'method', 'route'),
  m('http_request_duration_seconds_count', 'method', 'route'),
  m('process_cpu_seconds_total'),
  m('process_resident_memory_bytes'),
  m('go_goroutines'),
  m('go_gc_duration_seconds', 'quantile'),
  m('go_gc_duration_seconds_sum'),
  m('go_gc_duration_seconds_count'),
  m('go_memstats_heap_alloc_bytes'),
  m('go_memstats_frees_total'),
  m('queue_depth', 'queue'),
  m('queue_jobs_total', 'queue', 'outcome'),
  m('cache_hit_ratio'),
  m('db_query_duration_seconds_bucket', 'le', 'operation'),
  m('db_query_duration_seconds_sum', 'operation'),
  m('db_query_duration_seconds_count', 'operation'),
];

const panels = (d: Dashboard): Panel[] => d.rows.flatMap((r) => r.panels);
const panel = (d: Dashboard, id: string): Panel => {
  const p = panels(d).find((x) => x.id === id);
  if (!p) throw new Error(`no panel ${id} in ${panels(d).map((x) => x.id).join(', ')}`);
  return p;
};

describe('metric families', () => {
  it('groups histogram, summary, counter and gauge series into families', () => {
    const fams = groupFamilies(PROM_HTTP);
    const byName = Object.fromEntries(fams.map((f) => [f.name, f]));
    expect(byName.http_request_duration_seconds).toMatchObject({
      type: 'histogram',
      labels: ['method', 'route'],
      members: ['http_request_duration_seconds_bucket', 'http_request_duration_seconds_sum', 'http_request_duration_seconds_count'],
    });
    expect(byName.go_gc_duration_seconds.type).toBe('summary');
    expect(byName.http_requests_total).toMatchObject({ type: 'counter', labels: ['code', 'method', 'route'] });
    expect(byName.queue_depth.type).toBe('gauge');
    // Members of a histogram or summary are not families of their own.
    expect(byName.http_request_duration_seconds_count).toBeUndefined();
    expect(byName.go_gc_duration_seconds_sum).toBeUndefined();
  });

  it('prefers a declared type over the name', () => {
    const fams = groupFamilies([{ name: 'nodejs_active_handles_total', labels: [], type: 'gauge' }, { name: 'jobs', labels: [], type: 'counter' }]);
    expect(fams.map((f) => [f.name, f.type])).toEqual([
      ['jobs', 'counter'],
      ['nodejs_active_handles_total', 'gauge'],
    ]);
  });

  it('reads units from name suffixes', () => {
    expect(unitOf('http_request_duration_seconds')).toBe('seconds');
    expect(unitOf('rpc_server_duration_milliseconds')).toBe('milliseconds');
    expect(unitOf('process_resident_memory_bytes')).toBe('bytes');
    expect(unitOf('cache_hit_ratio')).toBe('percentunit');
    expect(unitOf('queue_depth')).toBe('short');
    expect(rateUnitOf('net_sent_bytes_total')).toBe('bytesps');
    expect(rateUnitOf('queue_jobs_total')).toBe('ops');
    expect(titleOf('db_query_duration_seconds')).toBe('Db query duration');
  });
});

describe('generateDashboard', () => {
  const d = generateDashboard({ service: 'checkout', label: 'service', metrics: PROM_HTTP });

  it('produces a document the dashboard schema accepts', () => {
    expect(dashboardSchema.safeParse(d).success).toBe(true);
    const ids = panels(d).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('builds the HTTP row from Prometheus conventions: rate by route, status, error ratio, latency quantiles', () => {
    expect(d.rows[0].title).toBe('HTTP server');
    expect(panel(d, 'traffic-rate')).toMatchObject({
      unit: 'reqps',
      queries: [{ expr: 'sum by (route) (rate(http_requests_total{service="checkout"}[$__rate_interval]))', legend: '{{route}}' }],
    });
    expect(panel(d, 'traffic-status').queries[0].expr).toBe('sum by (code) (rate(http_requests_total{service="checkout"}[$__rate_interval]))');
    const err = panel(d, 'traffic-errors');
    expect(err.unit).toBe('percentunit');
    expect(err.queries[0].expr).toBe(
      '(sum(rate(http_requests_total{service="checkout",code=~"5.."}[$__rate_interval])) or vector(0)) / sum(rate(http_requests_total{service="checkout"}[$__rate_interval]))',
    );
    expect(err.thresholds?.map((t) => [t.value, t.severity])).toEqual([
      [0.01, 'warning'],
      [0.05, 'critical'],
    ]);
    const lat = panel(d, 'traffic-latency');
    expect(lat.unit).toBe('seconds');
    expect(lat.queries.map((q) => q.legend)).toEqual(['p50', 'p90', 'p99']);
    expect(lat.queries[2].expr).toBe('histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="checkout"}[$__rate_interval])))');
  });

  it('builds runtime panels from process and Go metrics, leftovers in a collapsed section', () => {
    const runtime = d.rows.find((r) => r.title === 'Runtime and process')!;
    expect(runtime.panels.map((p) => p.id)).toEqual(['runtime-cpu', 'runtime-memory', 'runtime-gc', 'runtime-threads']);
    expect(panel(d, 'runtime-cpu')).toMatchObject({ unit: 'cores', queries: [{ expr: 'sum by (instance) (rate(process_cpu_seconds_total{service="checkout"}[$__rate_interval]))' }] });
    expect(panel(d, 'runtime-gc').queries[0].expr).toContain('go_gc_duration_seconds_sum');
    const more = d.rows.find((r) => r.title === 'More runtime metrics')!;
    expect(more.collapsed).toBe(true);
    expect(more.panels.map((p) => p.id)).toEqual(['go-memstats-frees-total']);
  });

  it('gives every other family a section by namespace: gauges as values, counters as rates, histograms as quantiles', () => {
    const queue = d.rows.find((r) => r.title === 'queue metrics')!;
    expect(queue.panels.map((p) => [p.id, p.unit, p.queries[0].expr])).toEqual([
      ['queue-depth', 'short', 'sum by (queue) (queue_depth{service="checkout"})'],
      ['queue-jobs-total', 'ops', 'sum by (outcome, queue) (rate(queue_jobs_total{service="checkout"}[$__rate_interval]))'],
    ]);
    expect(panel(d, 'cache-hit-ratio')).toMatchObject({ unit: 'percentunit', queries: [{ expr: 'avg (cache_hit_ratio{service="checkout"})' }] });
    const db = panel(d, 'db-query-duration-seconds');
    expect(db.unit).toBe('seconds');
    expect(db.queries[0].expr).toBe('histogram_quantile(0.5, sum by (le) (rate(db_query_duration_seconds_bucket{service="checkout"}[$__rate_interval])))');
    expect(panel(d, 'db-query-duration-seconds-p99-by').queries[0].expr).toBe(
      'histogram_quantile(0.99, sum by (le, operation) (rate(db_query_duration_seconds_bucket{service="checkout"}[$__rate_interval])))',
    );
    // Families consumed by the HTTP and runtime rows are not repeated.
    expect(d.rows.some((r) => r.title === 'http metrics' || r.title === 'process metrics')).toBe(false);
    expect(d.families).toContain('queue_depth');
  });

  it('recognises OpenTelemetry HTTP histograms and selects by job when the service is a scrape job', () => {
    const otel = generateDashboard({
      service: 'payments',
      label: 'job',
      metrics: [m('http_server_request_duration_seconds_bucket', 'le', 'http_route', 'http_request_method', 'http_response_status_code'), m('http_server_request_duration_seconds_count', 'http_route', 'http_request_method', 'http_response_status_code')],
    });
    expect(panel(otel, 'traffic-rate').queries[0].expr).toBe('sum by (http_route) (rate(http_server_request_duration_seconds_count{job="payments"}[$__rate_interval]))');
    expect(panel(otel, 'traffic-errors').queries[0].expr).toContain('http_response_status_code=~"5.."');
  });

  it('recognises gRPC servers, with server-side codes as errors', () => {
    const t = findTraffic(groupFamilies([m('grpc_server_handled_total', 'grpc_code', 'grpc_method', 'grpc_service'), m('grpc_server_handling_seconds_bucket', 'le', 'grpc_method')]));
    expect(t).toMatchObject({ kind: 'rpc', requests: 'grpc_server_handled_total', route: 'grpc_method', status: { label: 'grpc_code' } });
    expect(t!.status!.errors).toContain('Unavailable');
    expect(t!.status!.errors).not.toContain('NotFound');
  });

  it('adds SLO panels (compliance, budget, burn rate) when the service has an SLO', () => {
    const s = generateDashboard({ service: 'checkout', label: 'service', metrics: PROM_HTTP, slo: { objective: 0.999, window: '30d', indicator: 'availability' } });
    expect(s.rows[0].title).toBe('SLO: 99.9% of requests without a server error over 30d');
    expect(s.rows[0].panels.map((p) => [p.id, p.kind])).toEqual([
      ['slo-compliance', 'stat'],
      ['slo-budget', 'stat'],
      ['slo-burn', 'timeseries'],
    ]);
    expect(panel(s, 'slo-budget').queries[0].expr).toMatch(/\[30d\].*\/ 0\.001$/);
    expect(panel(s, 'slo-burn').thresholds?.map((t) => t.value)).toEqual([6, 14.4]);
    // The error-ratio panel's thresholds follow the SLO budget.
    expect(panel(s, 'traffic-errors').thresholds?.[0].value).toBe(0.001);
  });

  it('uses the latency histogram as the SLI of a latency SLO', () => {
    const s = generateDashboard({ service: 'checkout', label: 'service', metrics: PROM_HTTP, slo: { objective: 0.99, window: '7d', indicator: 'latency', latencyThreshold: 0.25 } });
    expect(panel(s, 'slo-compliance').queries[0].expr).toContain('http_request_duration_seconds_bucket{service="checkout",le="0.25"}');
    expect(panel(s, 'traffic-latency').thresholds).toEqual([{ value: 0.25, severity: 'critical', direction: 'above' }]);
  });

  it('gives a service without metrics a placeholder row instead of nothing', () => {
    const e = generateDashboard({ service: 'new', label: 'service', metrics: [] });
    expect(e.rows).toHaveLength(1);
    expect(dashboardSchema.safeParse(e).success).toBe(true);
  });

  it('quotes metric names that PromQL cannot write bare', () => {
    const e = generateDashboard({ service: 'api', label: 'service', metrics: [{ name: 'cpu.usage', labels: ['host', 'service'] }] });
    expect(panels(e)[0].queries[0].expr).toBe('sum ({"cpu.usage",service="api"})');
    expect(panels(e)[0].title).toBe('Cpu usage');
  });

  it('escapes the service name in selectors', () => {
    const e = generateDashboard({ service: 'a"b', label: 'service', metrics: [m('up')] });
    expect(panels(e)[0].queries[0].expr).toBe('sum (up{service="a\\"b"})');
  });
});

describe('proposeAlerts', () => {
  it('proposes error ratio, latency and no-data rules in the alerting API shape', () => {
    const rules = proposeAlerts({ service: 'inventory-worker', label: 'service', metrics: PROM_HTTP, def: { tier: 'critical', links: { runbook: 'https://r/x' } } });
    expect(rules.map((r) => [r.alert, r.severity, r.for])).toEqual([
      ['InventoryWorkerHighErrorRatio', 'critical', '5m'],
      ['InventoryWorkerHighLatency', 'warning', '10m'],
      ['InventoryWorkerNoData', 'warning', '5m'],
    ]);
    expect(rules[0].expr).toMatch(/ > 0\.05$/);
    expect(rules[0].annotations.runbook_url).toBe('https://r/x');
    expect(rules.every((r) => r.group === 'service:inventory-worker' && r.service === 'inventory-worker')).toBe(true);
    expect(rules[2].expr).toBe('absent_over_time(http_requests_total{service="inventory-worker"}[5m])');
  });

  it('proposes the SLO as an alerting SLO with the request counter as its SLI', () => {
    const rules = proposeAlerts({ service: 'checkout', label: 'service', metrics: PROM_HTTP, def: { slo: { objective: 0.995, window: '30d', indicator: 'availability' } } });
    const slo = rules.find((r) => r.slo)!;
    expect(slo.slo).toEqual({
      name: 'checkout-availability',
      service: 'checkout',
      objective: 0.995,
      window: '30d',
      sli: { errors: 'http_requests_total{service="checkout",code=~"5.."}', total: 'http_requests_total{service="checkout"}' },
    });
  });

  it('only proposes no-data for a service without traffic metrics', () => {
    const rules = proposeAlerts({ service: 'w', label: 'service', metrics: [m('queue_depth', 'queue')] });
    expect(rules.map((r) => r.alert)).toEqual(['WNoData']);
  });
});

describe('healthStatus', () => {
  const now = 1_000_000_000;
  it('colours by alerts, error ratio and freshness', () => {
    const base = { requestRate: 10, errorRatio: 0.001, p99: 0.1, alerts: NO_ALERTS };
    expect(healthStatus(base, now - 10_000, now).status).toBe('ok');
    expect(healthStatus({ ...base, errorRatio: 0.02 }, now, now).status).toBe('warning');
    expect(healthStatus({ ...base, errorRatio: 0.08 }, now, now).status).toBe('critical');
    expect(healthStatus({ ...base, alerts: { firing: 1, pending: 0, critical: 0 } }, now, now).status).toBe('warning');
    expect(healthStatus({ ...base, alerts: { firing: 1, pending: 0, critical: 1 } }, now, now).status).toBe('critical');
    expect(healthStatus(base, now - 600_000, now).status).toBe('stale');
    expect(healthStatus(base, null, now).status).toBe('unknown');
    // With an SLO the warning line is its error budget.
    expect(healthStatus({ ...base, errorRatio: 0.002 }, now, now, { objective: 0.999, window: '30d', indicator: 'availability' }).status).toBe('warning');
  });
});

describe('probes on the dashboard and in the proposals', () => {
  const PROBED = [...PROM_HTTP, m('probe_success', 'probe', 'kind', 'target'), m('probe_duration_seconds', 'probe', 'kind', 'target'), m('probe_http_status_code', 'probe', 'kind', 'target'), m('probe_ssl_earliest_cert_expiry', 'probe', 'kind', 'target')];

  it('gives probe families a Probes row (availability, success, duration, status, certificate) instead of a generic section', () => {
    const d = generateDashboard({ service: 'api', label: 'service', metrics: PROBED });
    const row = d.rows.find((r) => r.title === 'Probes')!;
    expect(row.panels.map((p) => p.id)).toEqual(['probe-availability', 'probe-success', 'probe-duration', 'probe-http-status', 'probe-cert-expiry']);
    expect(panel(d, 'probe-success').queries[0].expr).toBe('avg by (probe) (avg_over_time(probe_success{service="api"}[$__rate_interval]))');
    expect(panel(d, 'probe-cert-expiry').queries[0].expr).toBe('min by (probe) (probe_ssl_earliest_cert_expiry{service="api"}) - time()');
    expect(d.rows.some((r) => r.title === 'probe metrics')).toBe(false);
    expect(generateDashboard({ service: 'api', label: 'service', metrics: PROM_HTTP }).rows.some((r) => r.title === 'Probes')).toBe(false);
    expect(dashboardSchema.safeParse(d).success).toBe(true);
  });

  it('proposes a failing-probe alert, a certificate alert and the probe availability SLO (the service objective when it has one)', () => {
    const rules = proposeAlerts({ service: 'api', label: 'service', metrics: PROBED, def: { slo: { objective: 0.995, window: '28d', indicator: 'availability' } } });
    const byName = Object.fromEntries(rules.map((r) => [r.alert, r]));
    expect(byName.ApiProbeFailing.expr).toBe('max by (probe, target) (probe_success{service="api"}) == 0');
    expect(byName.ApiCertificateExpiresSoon.expr).toBe('min by (probe, target) (probe_ssl_earliest_cert_expiry{service="api"}) - time() < 14 * 86400');
    expect(byName.ApiProbeErrorBudgetBurn.slo).toEqual({
      name: 'api-probe-availability',
      service: 'api',
      objective: 0.995,
      window: '28d',
      sli: { good: 'sum(sum_over_time(probe_success{service="api"}[$window]))', total: 'sum(count_over_time(probe_success{service="api"}[$window]))' },
    });
    const plain = proposeAlerts({ service: 'api', label: 'service', metrics: PROBED.filter((x) => x.name !== 'probe_ssl_earliest_cert_expiry') });
    expect(plain.map((r) => r.alert)).not.toContain('ApiCertificateExpiresSoon');
    expect(plain.find((r) => r.alert === 'ApiProbeErrorBudgetBurn')!.slo!.objective).toBe(0.999);
  });
});
