import { mapLimit } from '../concurrency.js';
import type { QueryEngine } from '../promql/types.js';
import type { Store } from '../store/index.js';
import type { MetricInfo } from './families.js';
import { goldenSignals, healthStatus, NO_ALERTS, type AlertCounts, type Health } from './health.js';
import type { ServiceDef } from './model.js';
import { discoverServices, recentActivity, registeredServices, serviceMetrics, type DiscoveredService } from './registry.js';

/**
 * The services as the API lists them: registered and discovered ones merged, each with its
 * health. Holds short-lived caches (the services page polls), dropped on every registry write.
 */

export interface ActiveAlert {
  labels: Record<string, string>;
  state: 'firing' | 'pending' | string;
}

export interface DirectoryDeps {
  store: Store;
  /** The PromQL engine; without it health has no signals. */
  engine?: () => QueryEngine | undefined;
  /** Active alerts from the alerting module, when it runs. */
  alerts?: () => Promise<ActiveAlert[]>;
  now?: () => number;
}

export interface ServiceSummary extends Omit<ServiceDef, 'name'> {
  name: string;
  /** Registered through the API (owner, tier... come from there). */
  registered: boolean;
  /** Sends metrics. */
  discovered: boolean;
  /** The label that names it on its series. */
  label: 'service' | 'job' | null;
  series: number;
  lastSeen: number | null;
  health: Health;
}

const LIST_TTL_MS = 5_000;
const METRICS_TTL_MS = 60_000;
/** Points newer than this give an exact "last seen"; older ones fall back to the series table. */
const ACTIVITY_WINDOW_MS = 15 * 60_000;

export class ServiceDirectory {
  #list: { at: number; value: Promise<ServiceSummary[]> } | null = null;
  readonly #metrics = new Map<string, { at: number; series: number | undefined; value: Promise<MetricInfo[]> }>();

  constructor(readonly deps: DirectoryDeps) {}

  #now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** Forget cached lists (after a registration change). */
  invalidate(): void {
    this.#list = null;
  }

  /**
   * The metric names and label names a service sends (cached for a minute, or until its series
   * count changes: a service that just started sending a new family gets it on the next load).
   */
  metrics(name: string, series?: number): Promise<MetricInfo[]> {
    const hit = this.#metrics.get(name);
    const now = this.#now();
    if (hit && now - hit.at < METRICS_TTL_MS && (series === undefined || hit.series === undefined || hit.series === series)) return hit.value;
    const value = serviceMetrics(this.deps.store, name);
    this.#metrics.set(name, { at: now, series, value });
    value.catch(() => this.#metrics.delete(name));
    return value;
  }

  /** Every service, sorted by name. */
  list(): Promise<ServiceSummary[]> {
    const now = this.#now();
    if (this.#list && now - this.#list.at < LIST_TTL_MS) return this.#list.value;
    const value = this.#build(undefined);
    this.#list = { at: now, value };
    value.catch(() => (this.#list = null));
    return value;
  }

  /** One service, or null when it is neither registered nor sending metrics. */
  async get(name: string): Promise<ServiceSummary | null> {
    const [one] = await this.#build(name);
    return one ?? null;
  }

  async #build(name: string | undefined): Promise<ServiceSummary[]> {
    const now = this.#now();
    const [registered, discovered, recent, alerts] = await Promise.all([
      registeredServices(this.deps.store, name),
      discoverServices(this.deps.store, name),
      recentActivity(this.deps.store, ACTIVITY_WINDOW_MS, now),
      this.#alertCounts(),
    ]);
    const reg = new Map(registered.map((r) => [r.name, r]));
    const disc = new Map<string, DiscoveredService>(discovered.map((d) => [d.name, d]));
    const names = [...new Set([...reg.keys(), ...disc.keys()])].sort();
    const engine = this.deps.engine?.();
    // Two services at a time (three queries each): the engine's concurrency limit is shared
    // with dashboards and alerting, and a long list must not crowd them out.
    return mapLimit(names, 2, async (n) => {
        const r = reg.get(n);
        const d = disc.get(n);
        const lastSeen = recent.get(n) ?? d?.lastSeen ?? null;
        const signals =
          engine && d ? await goldenSignals(engine, { service: n, label: d.label, metrics: await this.metrics(n, d.series) }, now) : { requestRate: null, errorRatio: null, p99: null };
        const a = alerts.get(n) ?? NO_ALERTS;
        const { status, reason } = healthStatus({ ...signals, alerts: a }, d ? lastSeen : null, now, r?.slo);
        const { updatedAt: _u, ...def } = r ?? { name: n, updatedAt: 0 };
        return {
          ...def,
          name: n,
          registered: !!r,
          discovered: !!d,
          label: d?.label ?? null,
          series: d?.series ?? 0,
          lastSeen: d ? lastSeen : null,
          health: { ...signals, alerts: a, status, reason },
        } satisfies ServiceSummary;
    });
  }

  /** Active alerts counted by the service (or job) label they carry. */
  async #alertCounts(): Promise<Map<string, AlertCounts>> {
    const out = new Map<string, AlertCounts>();
    if (!this.deps.alerts) return out;
    let alerts: ActiveAlert[];
    try {
      alerts = await this.deps.alerts();
    } catch {
      return out;
    }
    for (const al of alerts) {
      const svc = al.labels.service ?? al.labels.job;
      if (!svc) continue;
      const c = out.get(svc) ?? { ...NO_ALERTS };
      if (al.state === 'firing') {
        c.firing++;
        if (al.labels.severity === 'critical' || al.labels.severity === 'page') c.critical++;
      } else if (al.state === 'pending') c.pending++;
      out.set(svc, c);
    }
    return out;
  }
}

