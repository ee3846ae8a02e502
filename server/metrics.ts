import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Metronome's own metrics, served at /metrics in Prometheus text format. One registry per app
 * (tests start several apps in one process). Modules add their metrics here.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'metronome_' });
  const m = {
    registry,
    pointsAccepted: new Counter({
      name: 'metronome_points_accepted_total',
      help: 'Points committed to storage, by protocol.',
      labelNames: ['protocol'],
      registers: [registry],
    }),
    pointsRejected: new Counter({
      name: 'metronome_points_rejected_total',
      help: 'Points rejected, by reason (error code).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    pointsDropped: new Counter({
      name: 'metronome_points_dropped_total',
      help: 'Samples a protocol maps to nothing by design (staleness markers, NaN/Inf, OTLP delta or exponential histograms), by protocol and reason.',
      labelNames: ['protocol', 'reason'],
      registers: [registry],
    }),
    writeRequests: new Counter({
      name: 'metronome_write_requests_total',
      help: 'Write requests, by protocol and outcome (ok or the error code).',
      labelNames: ['protocol', 'outcome'],
      registers: [registry],
    }),
    flushes: new Counter({
      name: 'metronome_flushes_total',
      help: 'Batcher flushes, by outcome.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    flushSeconds: new Histogram({
      name: 'metronome_flush_duration_seconds',
      help: 'Time to commit one flush, retries included.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    flushPoints: new Histogram({
      name: 'metronome_flush_points',
      help: 'Points per flush.',
      buckets: [100, 1000, 10_000, 50_000, 100_000, 200_000, 500_000, 1_000_000],
      registers: [registry],
    }),
    bufferedPoints: new Gauge({
      name: 'metronome_buffered_points',
      help: 'Points accepted and not yet committed.',
      registers: [registry],
    }),
    writesArriving: new Gauge({
      name: 'metronome_write_requests_arriving',
      help: 'Write requests being received or decoded; with WRITE_ACK=commit a flush waits for them (at most FLUSH_MS).',
      registers: [registry],
    }),
    readsWaitingForWrites: new Gauge({
      name: 'metronome_reads_waiting_for_writes',
      help: 'Reads waiting for writes answered from the write-ahead log to reach ClickHouse (WRITE_ACK=wal).',
      registers: [registry],
    }),
    walReplayedPoints: new Counter({
      name: 'metronome_wal_replayed_points_total',
      help: 'Points the write-ahead log replayed into ClickHouse at start (answered by a process that stopped before committing them).',
      registers: [registry],
    }),
    seriesCreated: new Counter({
      name: 'metronome_series_created_total',
      help: 'Series recorded for the first time by this process.',
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'metronome_http_requests_total',
      help: 'HTTP requests by route and status code.',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    httpSeconds: new Histogram({
      name: 'metronome_http_request_duration_seconds',
      help: 'HTTP request latency by route.',
      labelNames: ['route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    ruleEvaluations: new Counter({
      name: 'metronome_rule_evaluations_total',
      help: 'Rule evaluations, by rule group.',
      labelNames: ['rule_group'],
      registers: [registry],
    }),
    ruleEvaluationFailures: new Counter({
      name: 'metronome_rule_evaluation_failures_total',
      help: 'Rule evaluations that failed (query error, duplicate labels, limit), by rule group.',
      labelNames: ['rule_group'],
      registers: [registry],
    }),
    ruleGroupSeconds: new Histogram({
      name: 'metronome_rule_group_duration_seconds',
      help: 'Time to evaluate all rules of a group once.',
      labelNames: ['rule_group'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    ruleGroupMissed: new Counter({
      name: 'metronome_rule_group_iterations_missed_total',
      help: 'Group evaluations skipped because the previous one ran past the interval.',
      labelNames: ['rule_group'],
      registers: [registry],
    }),
    alertsActive: new Gauge({
      name: 'metronome_alerts',
      help: 'Alerts by state (pending, firing).',
      labelNames: ['state'],
      registers: [registry],
    }),
    notifications: new Counter({
      name: 'metronome_notifications_total',
      help: 'Notifications sent, by integration and outcome (ok, failed after retries).',
      labelNames: ['integration', 'outcome'],
      registers: [registry],
    }),
    notificationsDropped: new Counter({
      name: 'metronome_notifications_dropped_total',
      help: 'Notifications dropped because their integration was not keeping up (queue_full) or they waited past their flush (deadline).',
      labelNames: ['integration', 'reason'],
      registers: [registry],
    }),
    alertmanagerAlertsSent: new Counter({
      name: 'metronome_alertmanager_alerts_sent_total',
      help: "Alerts of Metronome's rules sent to ALERTMANAGER_URLS (Prometheus' prometheus_notifications_sent_total).",
      labelNames: ['alertmanager'],
      registers: [registry],
    }),
    alertmanagerErrors: new Counter({
      name: 'metronome_alertmanager_errors_total',
      help: 'Failed requests to ALERTMANAGER_URLS.',
      labelNames: ['alertmanager'],
      registers: [registry],
    }),
    alertmanagerAlertsDropped: new Counter({
      name: 'metronome_alertmanager_alerts_dropped_total',
      help: 'Alerts not delivered to ALERTMANAGER_URLS (failed request or full queue); the next evaluation sends them again.',
      labelNames: ['alertmanager'],
      registers: [registry],
    }),
    notificationSeconds: new Histogram({
      name: 'metronome_notification_latency_seconds',
      help: 'Time to deliver a notification, retries included.',
      labelNames: ['integration'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'metronome_auth_failures_total',
      help: 'Requests refused by access control, by reason (missing, invalid, forbidden, service).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'metronome_rate_limited_total',
      help: 'Requests refused with 429 by the per-token rate limits, by kind (requests, points).',
      labelNames: ['kind'],
      registers: [registry],
    }),
    seriesLimited: new Counter({
      name: 'metronome_series_limited_total',
      help: 'Write requests refused by a new-series limit, by limit (service, key).',
      labelNames: ['limit'],
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
