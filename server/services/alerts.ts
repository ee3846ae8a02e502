import { groupFamilies, type MetricInfo } from './families.js';
import { serviceMatchers } from './generator.js';
import type { ServiceDef, Slo } from './model.js';
import { findTraffic, selector, trafficQueries } from './signals.js';

/**
 * Default alert rules proposed with a generated dashboard: error ratio, latency, SLO burn rate
 * (the multiwindow, multi-burn-rate pair of the Google SRE workbook) and no data. They are in the
 * body shape of POST /api/v1/alerting/rules, so enabling one is one call to the alerting API.
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
}

export interface ProposalInput {
  service: string;
  label: string;
  metrics: readonly MetricInfo[];
  def?: Pick<ServiceDef, 'tier' | 'slo' | 'links'>;
}

/** "inventory-worker" -> "InventoryWorker" (alert names read as one word). */
export function alertPrefix(service: string): string {
  return service
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

export function ruleGroupOf(service: string): string {
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
    if (input.def?.slo) out.push(...burnRules(input.service, prefix, tq, input.def.slo, base, common));
  }

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

function burnRules(
  service: string,
  prefix: string,
  tq: ReturnType<typeof trafficQueries>,
  slo: Slo,
  base: { group: string; interval: string; service: string },
  common: (s: string, d: string) => Record<string, string>,
): ProposedRule[] {
  const bad = (w: string) => (slo.indicator === 'latency' ? tq.slowRatio(slo.latencyThreshold!, w) : tq.errorRatio(w));
  const budget = +(1 - slo.objective).toPrecision(6);
  const windows: [string, string, string, number, string, string][] = [
    // name suffix, long window, short window, burn factor, for, severity
    ['ErrorBudgetBurnFast', '1h', '5m', 14.4, '2m', 'critical'],
    ['ErrorBudgetBurnSlow', '6h', '30m', 6, '15m', 'warning'],
  ];
  const out: ProposedRule[] = [];
  for (const [suffix, long, short, factor, forDur, severity] of windows) {
    const l = bad(long);
    const s = bad(short);
    if (!l || !s) continue;
    const limit = +(factor * budget).toPrecision(6);
    out.push({
      ...base,
      alert: `${prefix}${suffix}`,
      expr: `(${l}) > ${limit} and (${s}) > ${limit}`,
      for: forDur,
      severity,
      labels: { slo: `${+(slo.objective * 100).toPrecision(6)}%` },
      annotations: common(
        `${service} burns its error budget ${factor}x too fast`,
        `At this rate the ${slo.window} error budget (${+(budget * 100).toPrecision(3)}%) runs out in ${+((parseWindowDays(slo.window) / factor) * 24).toPrecision(3)} h.`,
      ),
    });
  }
  return out;
}

function parseWindowDays(w: string): number {
  const m = /^(\d+)([mhdw])$/.exec(w);
  if (!m) return 30;
  const n = Number(m[1]);
  return { m: n / 1440, h: n / 24, d: n, w: n * 7 }[m[2] as 'm' | 'h' | 'd' | 'w'];
}
