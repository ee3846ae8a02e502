/**
 * What the HTTP API returns: GET /api/v1/rules and GET /api/v1/alerts in Prometheus' shapes
 * (Grafana and other Prometheus clients read them), plus Metronome's rule management view.
 * Metronome-specific fields (id, source, noDataState, silencedBy...) are additions; every field
 * Prometheus sends is present with its type.
 */
import type { Evaluator, RuleStatus } from './evaluator.js';
import type { Labels } from './labels.js';
import type { Notifier } from './notifier.js';
import { formatDuration, type Rule, type RuleGroup } from './rules.js';
import { displayState, type Alert } from './state.js';

/** strconv.FormatFloat(v, 'e', -1, 64): how Prometheus prints an alert's value. */
export function promValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
}

const iso = (ms: number) => new Date(ms).toISOString();
const ZERO = '0001-01-01T00:00:00Z';

export interface PromAlert {
  labels: Labels;
  annotations: Labels;
  state: string;
  activeAt: string;
  keepFiringSince?: string;
  value: string;
  silencedBy?: string[];
  inhibitedBy?: string[];
}

function promAlert(a: Alert, notifier?: Notifier, externalLabels: Labels = {}): PromAlert {
  const out: PromAlert = { labels: a.labels, annotations: a.annotations, state: displayState(a), activeAt: iso(a.activeAt), value: promValue(a.value) };
  if (a.keepFiringSince) out.keepFiringSince = iso(a.keepFiringSince);
  if (notifier && a.state === 'firing') {
    const m = notifier.mutedBy({ ...externalLabels, ...a.labels });
    out.silencedBy = m.silencedBy;
    out.inhibitedBy = m.inhibitedBy;
  }
  return out;
}

/** The rule's state: the most severe of its alerts; nodata/error when only synthetic ones fire. */
function ruleState(alerts: Alert[], status?: RuleStatus): string {
  const active = alerts.filter((a) => a.state !== 'inactive');
  const firing = active.filter((a) => a.state === 'firing');
  if (firing.some((a) => !a.reason)) return 'firing';
  if (firing.some((a) => a.reason === 'error')) return 'error';
  if (firing.some((a) => a.reason === 'nodata')) return 'nodata';
  if (active.length) return 'pending';
  if (status?.noData && alerts.length === 0) return 'inactive';
  return 'inactive';
}

export interface RulesFilter {
  type?: 'alert' | 'record';
  ruleNames?: string[];
  groupNames?: string[];
  files?: string[];
  excludeAlerts?: boolean;
}

function promRule(rule: Rule, ev: Evaluator, notifier: Notifier | undefined, f: RulesFilter, externalLabels: Labels) {
  const st = ev.ruleStatus(rule.id);
  const common = {
    id: rule.id,
    name: rule.name,
    query: rule.expr,
    labels: rule.labels,
    health: st?.health ?? 'unknown',
    lastError: st?.lastError || undefined,
    evaluationTime: (st?.evaluationMs ?? 0) / 1000,
    lastEvaluation: st?.lastEvaluation ? iso(st.lastEvaluation) : ZERO,
  };
  if (rule.kind === 'record') return { ...common, type: 'recording' as const };
  const alerts = ev.ruleAlerts(rule.id);
  const active = alerts.filter((a) => a.state !== 'inactive');
  return {
    ...common,
    state: ruleState(alerts, st),
    duration: rule.forMs / 1000,
    keepFiringFor: rule.keepFiringForMs / 1000,
    annotations: rule.annotations,
    alerts: f.excludeAlerts ? undefined : active.map((a) => promAlert(a, notifier, externalLabels)),
    noDataState: rule.noData,
    errorState: rule.onError,
    type: 'alerting' as const,
  };
}

/** GET /api/v1/rules data. */
export function promRules(ev: Evaluator, f: RulesFilter = {}, notifier?: Notifier, externalLabels: Labels = {}) {
  const groups = ev
    .groups()
    .filter(({ group }) => (!f.groupNames?.length || f.groupNames.includes(group.name)) && (!f.files?.length || f.files.includes(group.file)))
    .map(({ group, lastEvaluation, evaluationMs }) => {
      const rules = group.rules
        .filter((r) => (!f.type || r.kind === f.type) && (!f.ruleNames?.length || f.ruleNames.includes(r.name)))
        .map((r) => promRule(r, ev, notifier, f, externalLabels));
      return {
        name: group.name,
        file: group.file,
        source: group.source,
        rules,
        interval: group.intervalMs / 1000,
        limit: group.limit,
        evaluationTime: evaluationMs / 1000,
        lastEvaluation: lastEvaluation ? iso(lastEvaluation) : ZERO,
      };
    })
    // Prometheus omits groups left empty by a rule filter.
    .filter((g) => g.rules.length > 0 || (!f.type && !f.ruleNames?.length));
  return { groups };
}

/** GET /api/v1/alerts data: every pending and firing alert. */
export function promAlerts(ev: Evaluator, notifier?: Notifier, externalLabels: Labels = {}) {
  const alerts: PromAlert[] = [];
  for (const { group } of ev.groups()) {
    for (const r of group.rules) {
      if (r.kind !== 'alert') continue;
      for (const a of ev.ruleAlerts(r.id)) if (a.state !== 'inactive') alerts.push(promAlert(a, notifier, externalLabels));
    }
  }
  return { alerts };
}

/** A rule in the management API (/api/v1/alerting/rules). */
export function ruleView(rule: Rule, group: RuleGroup, ev: Evaluator, extra: Record<string, unknown> = {}) {
  const st = ev.ruleStatus(rule.id);
  const base = {
    id: rule.id,
    source: group.source,
    group: group.name,
    file: group.file,
    interval: formatDuration(group.intervalMs),
    expr: rule.expr,
    labels: rule.labels,
    health: st?.health ?? 'unknown',
    lastError: st?.lastError ?? '',
    lastEvaluation: st?.lastEvaluation ? iso(st.lastEvaluation) : null,
    ...extra,
  };
  if (rule.kind === 'record') return { ...base, type: 'recording', record: rule.name };
  const alerts = ev.ruleAlerts(rule.id);
  return {
    ...base,
    type: 'alerting',
    alert: rule.name,
    for: formatDuration(rule.forMs),
    keep_firing_for: formatDuration(rule.keepFiringForMs),
    annotations: rule.annotations,
    no_data_state: rule.noData,
    error_state: rule.onError,
    state: ruleState(alerts, st),
    alerts: alerts.filter((a) => a.state !== 'inactive').map((a) => promAlert(a)),
  };
}
