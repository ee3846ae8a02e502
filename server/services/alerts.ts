import { groupFamilies, type MetricInfo } from './families.js';
import { serviceMatchers } from './generator.js';
import type { ServiceDef, Slo } from './model.js';
import { findTraffic, formatLe, quote, selector, trafficQueries, type Traffic } from './signals.js';

/**
 * Default alert rules proposed with a generated dashboard: error ratio, latency, SLO burn rate
 * and no data. Rules are in the body shape of POST /api/v1/alerting/rules and the SLO in that of
 * POST /api/v1/alerting/slos, so enabling one is one call to the alerting API.
 */

export interface ProposedRule {
  alert: string;
  expr: string;
  for: string;
  group: string;
  interval: string;
  severity: string;
  service: string;
  labels?: Record<string, string>;
  annotations: Record<string, string>;
  /** When set, enabling creates this SLO (POST /api/v1/alerting/slos) instead of one rule. */
  slo?: SloBody;
}

/** The body of POST /api/v1/alerting/slos (server/alerting/slo.ts). */
interface SloBody {
  name: string;
  service: string;
  objective: number;
  window: string;
  sli: { errors?: string; good?: string; total: string };
}

export interface ProposalInput {
  service: string;
  label: string;
  metrics: readonly MetricInfo[];
  def?: Pick<ServiceDef, 'tier' | 'slo' | 'links'>;
}

/** "inventory-worker" -> "InventoryWorker" (alert names read as one word). */
function alertPrefix(service: string): string {
  return service
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

function ruleGroupOf(service: string): string {
  return `service:${service}`;
}

export function proposeAlerts(input: ProposalInput): ProposedRule[] {
  const families = groupFamilies(input.metrics);
  const sel = serviceMatchers(input.label, input.service);
  const traffic = findTraffic(families);
  const prefix = alertPrefix(input.service);
  const group = ruleGroupOf(input.service);
  const pageSeverity = input.def?.tier === 'critical' || input.def?.tier === 'high' ? 'critical' : 'warning';
  const runbook = input.def?.links?.runbook;
  const common = (summary: string, description: string): Record<string, string> => ({
    summary,
    description,
    ...(runbook ? { runbook_url: runbook } : {}),
  });
  const base = { group, interval: '30s', service: input.service };
  const out: ProposedRule[] = [];

  if (traffic) {
    const tq = trafficQueries(traffic, sel);
    const err = tq.errorRatio('5m');
    if (err) {
      out.push({
        ...base,
        alert: `${prefix}HighErrorRatio`,
        expr: `${err} > 0.05`,
        for: '5m',
        severity: pageSeverity,
        annotations: common(
          `${input.service}: {{ $value | humanizePercentage }} of requests fail`,
          'More than 5% of requests got a server error over the last 5 minutes.',
        ),
      });
    }
    const p99 = tq.quantile(0.99, '5m');
    if (p99 && traffic.latency) {
      const limitSec = input.def?.slo?.indicator === 'latency' && input.def.slo.latencyThreshold !== undefined ? input.def.slo.latencyThreshold : 1;
      const limit = traffic.latency.unit === 'milliseconds' ? limitSec * 1000 : limitSec;
      out.push({
        ...base,
        alert: `${prefix}HighLatency`,
        expr: `${p99} > ${limit}`,
        for: '10m',
        severity: 'warning',
        annotations: common(`${input.service}: p99 latency is {{ $value | humanizeDuration }}`, `p99 latency above ${limitSec} s for 10 minutes.`),
      });
    }
    const sloRule = input.def?.slo ? sloProposal(input.service, prefix, traffic, sel, input.def.slo, base, common) : null;
    if (sloRule) out.push(sloRule);
  }

  if (families.some((f) => f.name === 'probe_success')) out.push(...probeProposals(input, prefix, sel, base, common, pageSeverity));

  // No data: the request counter when there is one, else any family the service sends.
  const probe = traffic?.requests ?? families[0]?.members[0];
  if (probe) {
    out.push({
      ...base,
      alert: `${prefix}NoData`,
      expr: `absent_over_time(${selector(probe, sel)}[5m])`,
      for: '5m',
      severity: 'warning',
      annotations: common(`${input.service} sends no ${probe}`, `No sample of ${probe} for ${input.service} in the last 5 minutes: the service or its metrics pipeline is down.`),
    });
  }
  return out;
}

/**
 * The SLO burn-rate alerts are alerting's SLO rules (POST /api/v1/alerting/slos): recording rules
 * per window plus the workbook's page and ticket multiwindow alerts. The SLI is the service's
 * request counter (availability) or its latency histogram (latency).
 */
function sloProposal(
  service: string,
  prefix: string,
  t: Traffic,
  sel: string[],
  slo: Slo,
  base: { group: string; interval: string; service: string },
  common: (s: string, d: string) => Record<string, string>,
): ProposedRule | null {
  let sli: SloBody['sli'];
  if (slo.indicator === 'latency') {
    if (!t.latency || slo.latencyThreshold === undefined) return null;
    const le = t.latency.unit === 'milliseconds' ? slo.latencyThreshold * 1000 : slo.latencyThreshold;
    sli = { good: selector(t.latency.bucket, [...sel, `le=${quote(formatLe(le))}`]), total: selector(t.latency.count, sel) };
  } else {
    if (!t.status) return null;
    sli = { errors: selector(t.requests, [...sel, `${t.status.label}=~${quote(t.status.errors)}`]), total: selector(t.requests, sel) };
  }
  const budget = +(1 - slo.objective).toPrecision(6);
  const name = `${service}-${slo.indicator}`;
  return {
    ...base,
    group: `slo:${name}`,
    alert: `${prefix}ErrorBudgetBurn`,
    expr: `SLO ${name}: burn rate above 14.4 over 1h and 5m, or 6 over 6h and 30m (page); 3 over 1d and 2h, or 1 over 3d and 6h (ticket)`,
    for: '0s',
    severity: 'page',
    annotations: common(`${service} burns its error budget too fast`, `The ${slo.window} error budget is ${+(budget * 100).toPrecision(3)}% of requests.`),
    slo: { name, service, objective: slo.objective, window: slo.window, sli },
  };
}

/**
 * Black-box probes (server/probes): a failing probe, a certificate about to expire, and the
 * availability SLO template over probes: good = successful runs, total = runs, so the error
 * budget is spent by the share of failed probe runs. Its objective is the service's availability
 * SLO when it has one, else 99.9 %.
 */
function probeProposals(
  input: ProposalInput,
  prefix: string,
  sel: string[],
  base: { group: string; interval: string; service: string },
  common: (s: string, d: string) => Record<string, string>,
  severity: string,
): ProposedRule[] {
  const families = new Set(input.metrics.map((m) => m.name));
  const out: ProposedRule[] = [
    {
      ...base,
      alert: `${prefix}ProbeFailing`,
      expr: `max by (probe, target) (${selector('probe_success', sel)}) == 0`,
      for: '2m',
      severity,
      annotations: common(`${input.service}: probe {{ $labels.probe }} fails`, 'The black-box probe of {{ $labels.target }} has failed for 2 minutes.'),
    },
  ];
  if (families.has('probe_ssl_earliest_cert_expiry')) {
    out.push({
      ...base,
      alert: `${prefix}CertificateExpiresSoon`,
      expr: `min by (probe, target) (${selector('probe_ssl_earliest_cert_expiry', sel)}) - time() < 14 * 86400`,
      for: '1h',
      severity: 'warning',
      annotations: common(`${input.service}: the certificate of {{ $labels.target }} expires in {{ $value | humanizeDuration }}`, 'Renew it: it expires within 14 days.'),
    });
  }
  const slo = probeAvailabilitySlo(input.service, sel, input.def?.slo);
  out.push({
    ...base,
    group: `slo:${slo.name}`,
    alert: `${prefix}ProbeErrorBudgetBurn`,
    expr: `SLO ${slo.name}: burn rate above 14.4 over 1h and 5m, or 6 over 6h and 30m (page); 3 over 1d and 2h, or 1 over 3d and 6h (ticket)`,
    for: '0s',
    severity: 'page',
    annotations: common(`${input.service}'s probes fail too often for ${+(slo.objective * 100).toPrecision(6)}% availability`, `The ${slo.window} error budget of the probe availability SLO burns too fast.`),
    slo,
  });
  return out;
}

/** The availability SLO template over a service's probes (POST /api/v1/alerting/slos body). */
function probeAvailabilitySlo(service: string, sel: string[], slo?: Slo): SloBody {
  const objective = slo && slo.indicator === 'availability' ? slo.objective : 0.999;
  return {
    name: `${service}-probe-availability`,
    service,
    objective,
    window: slo?.window ?? '30d',
    sli: {
      good: `sum(sum_over_time(${selector('probe_success', sel)}[$window]))`,
      total: `sum(count_over_time(${selector('probe_success', sel)}[$window]))`,
    },
  };
}
