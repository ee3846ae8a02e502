import type { QueryEngine, QueryValue } from '../promql/types.js';
import { groupFamilies, type MetricInfo } from './families.js';
import { serviceMatchers } from './generator.js';
import type { Slo } from './model.js';
import { findTraffic, trafficQueries } from './signals.js';

/**
 * A service's health at a glance: request rate, error ratio and p99 latency over the last
 * 5 minutes (instant PromQL queries on its golden signals), firing alerts, and how fresh its
 * data is; folded into one status that the services page colours.
 */

export interface AlertCounts {
  firing: number;
  pending: number;
  /** Firing alerts labelled severity=critical (or page). */
  critical: number;
}

export type HealthStatus = 'ok' | 'warning' | 'critical' | 'stale' | 'unknown';

export interface Health {
  requestRate: number | null;
  errorRatio: number | null;
  /** p99 latency in seconds. */
  p99: number | null;
  alerts: AlertCounts;
  status: HealthStatus;
  /** Why the status is what it is, for tooltips and screen readers. */
  reason: string;
}

/** No sample for this long: the service is stale. */
const STALE_MS = 5 * 60_000;

export const NO_ALERTS: AlertCounts = { firing: 0, pending: 0, critical: 0 };

/** The first value of an instant query result, or null. */
function scalarOf(v: QueryValue): number | null {
  let x: number | undefined;
  if (v.type === 'scalar') x = v.v;
  else if (v.type === 'vector') x = v.samples[0]?.v;
  else if (v.type === 'matrix') {
    const s = v.series[0];
    x = s ? s.v[s.v.length - 1] : undefined;
  }
  return x === undefined || !Number.isFinite(x) ? null : x;
}

/** Run the golden-signal queries for a service (in parallel). Failures read as "no value". */
export async function goldenSignals(
  engine: QueryEngine,
  input: { service: string; label: string; metrics: readonly MetricInfo[] },
  now: number,
): Promise<Pick<Health, 'requestRate' | 'errorRatio' | 'p99'>> {
  const traffic = findTraffic(groupFamilies(input.metrics));
  if (!traffic) return { requestRate: null, errorRatio: null, p99: null };
  const tq = trafficQueries(traffic, serviceMatchers(input.label, input.service));
  const run = async (expr: string | null) => {
    if (!expr) return null;
    try {
      return scalarOf(await engine.instant(expr, now));
    } catch {
      return null;
    }
  };
  const [requestRate, errorRatio, p99raw] = await Promise.all([run(tq.rate('5m')), run(tq.errorRatio('5m')), run(tq.quantile(0.99, '5m'))]);
  const p99 = p99raw === null ? null : traffic.latency?.unit === 'milliseconds' ? p99raw / 1000 : p99raw;
  return { requestRate, errorRatio, p99 };
}

/** Fold signals, alerts and freshness into one status, with the reason. */
export function healthStatus(
  h: Pick<Health, 'requestRate' | 'errorRatio' | 'p99' | 'alerts'>,
  lastSeen: number | null,
  now: number,
  slo?: Slo,
): { status: HealthStatus; reason: string } {
  if (h.alerts.critical > 0) return { status: 'critical', reason: `${h.alerts.critical} critical alert(s) firing` };
  const budget = slo && slo.indicator === 'availability' ? +(1 - slo.objective).toPrecision(6) : null;
  if (h.errorRatio !== null && h.errorRatio >= 0.05) return { status: 'critical', reason: `error ratio ${pct(h.errorRatio)} (≥ 5%)` };
  if (lastSeen === null) return { status: 'unknown', reason: 'no data received' };
  if (now - lastSeen > STALE_MS) return { status: 'stale', reason: `no data for ${Math.round((now - lastSeen) / 60_000)} min` };
  if (h.alerts.firing > 0) return { status: 'warning', reason: `${h.alerts.firing} alert(s) firing` };
  if (h.errorRatio !== null && h.errorRatio >= (budget ?? 0.01)) {
    return { status: 'warning', reason: `error ratio ${pct(h.errorRatio)} (≥ ${pct(budget ?? 0.01)}${budget !== null ? ', the SLO budget' : ''})` };
  }
  return { status: 'ok', reason: h.errorRatio !== null ? `error ratio ${pct(h.errorRatio)}` : 'receiving data' };
}

function pct(v: number): string {
  return `${+(v * 100).toPrecision(3)}%`;
}
