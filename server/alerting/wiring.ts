import type { AppContext } from '../context.js';
import type { Clock } from './clock.js';
import { Alerting, type AlertingSettings } from './service.js';

/** Alerting's settings from the configuration. */
function alertingSettings(config: AppContext['config'], fallbackURL = ''): AlertingSettings {
  return {
    ruleFiles: config.RULE_FILES,
    notifyConfigPath: config.NOTIFY_CONFIG,
    evalIntervalMs: config.ALERT_EVAL_INTERVAL,
    externalURL: config.EXTERNAL_URL ?? fallbackURL,
    forGracePeriodMs: config.ALERT_FOR_GRACE_PERIOD,
    outageToleranceMs: config.ALERT_OUTAGE_TOLERANCE,
    historyDays: config.ALERT_HISTORY_DAYS,
    queryTimeoutMs: config.QUERY_TIMEOUT_MS,
    minIntervalMs: 1000,
    maxConcurrentQueries: config.ALERT_MAX_CONCURRENT_QUERIES,
    alertmanagerURLs: config.ALERTMANAGER_URLS,
  };
}

/**
 * Create alerting for a running Metronome: rules are evaluated by ctx.engine and written back
 * through ctx.writer; evaluation and notification metrics go to ctx.metrics. Not started yet:
 * call start(url) once the server listens.
 */
export async function createAlerting(ctx: AppContext, clock?: Clock, fence?: { store: AppContext['store']; check: () => Promise<boolean> }): Promise<Alerting> {
  const m = ctx.metrics;
  return Alerting.create({
    settings: alertingSettings(ctx.config),
    store: fence?.store ?? ctx.store,
    fence: fence?.check,
    writer: ctx.writer,
    engine: ctx.engine,
    log: ctx.log.child({ module: 'alerting' }),
    clock,
    metrics: {
      evaluation(group, seconds, failures) {
        m.ruleEvaluations.inc({ rule_group: group });
        if (failures) m.ruleEvaluationFailures.inc({ rule_group: group }, failures);
        m.ruleGroupSeconds.observe({ rule_group: group }, seconds);
      },
      missed(group, n) {
        m.ruleGroupMissed.inc({ rule_group: group }, n);
      },
      alerts(counts) {
        for (const [state, n] of Object.entries(counts)) m.alertsActive.set({ state }, n);
      },
      notification(e) {
        m.notifications.inc({ integration: e.integration, outcome: e.ok ? 'ok' : 'failed' });
        if (e.ok) m.notificationSeconds.observe({ integration: e.integration }, e.seconds);
      },
      forwarded(e) {
        if (e.sent) m.alertmanagerAlertsSent.inc({ alertmanager: e.alertmanager }, e.sent);
        if (e.failed) m.alertmanagerErrors.inc({ alertmanager: e.alertmanager }, e.failed);
        if (e.dropped) m.alertmanagerAlertsDropped.inc({ alertmanager: e.alertmanager }, e.dropped);
      },
      notificationDropped(e) {
        m.notificationsDropped.inc({ integration: e.integration, reason: e.reason });
      },
    },
  });
}
