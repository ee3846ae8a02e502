import type { Logger } from 'pino';
import type { Alerting } from './alerting/service.js';
import type { Clock } from './alerting/clock.js';
import type { Access } from './auth/access.js';
import type { Config } from './config.js';
import type { CardinalityTracker } from './limits/cardinality.js';
import type { Metrics } from './metrics.js';
import type { ProbeScheduler } from './probes/scheduler.js';
import type { QueryEngine } from './promql/types.js';
import type { StoreHealth } from './store-health.js';
import type { Store } from './store/index.js';
import type { Writer } from './writer.js';

/** What every route plugin gets: the parts of a running Metronome. */
export interface AppContext {
  config: Config;
  store: Store;
  writer: Writer;
  metrics: Metrics;
  log: Logger;
  /** The PromQL engine (server/promql/engine.ts): the query API, alerting and dashboards use it. */
  engine: QueryEngine;
  /** Alerting (rules, notifications, silences), created by start.ts. */
  alerting?: Alerting;
  /** Set while shutting down: readiness fails, writes get 503. */
  state: { shuttingDown: boolean; startedAt: number };
  /** Access control (server/auth), built from the config by start.ts. */
  access: Access;
  /** New-series limits per service and metric name (server/limits), built by start.ts. */
  cardinality: CardinalityTracker;
  /** Recent insert failures (server/store-health.ts), for /readyz. */
  storeHealth?: StoreHealth;
  /** Drives the probe scheduler's timers (tests pass a ManualClock); default wall-clock time. */
  probeClock?: Clock;
  /** The probe scheduler (server/probes), set by the probes routes; reloaded when services change. */
  probes?: ProbeScheduler;
  /** Cluster mode (LEADER_ELECTION=keeper): whether this node leads, and who does (server/cluster). */
  cluster?: { isLeader(): boolean; leader(): Promise<string> };
}
