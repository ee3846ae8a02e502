/**
 * The alert state machine of one alerting rule, as Prometheus' rules/alerting.go runs it:
 * inactive -> pending -> firing -> inactive (resolved), one alert per label set of the result,
 * `for` (hold) and `keep_firing_for`, resolved alerts kept 15 minutes so their resolution is
 * delivered. Pure: no clock, no I/O; the evaluator feeds it results and persists what changes.
 *
 * Metronome adds explicit outcomes for an empty result and for a failed query (rules.ts):
 * `nodata` / `error` create one synthetic alert (alertname DatasourceNoData / DatasourceError,
 * as Grafana names them) that honours `for` like any other.
 */
import type { InstantSample } from '../promql/types.js';
import { fingerprint, type Labels } from './labels.js';
import type { AlertingRule } from './rules.js';
import { TemplateError, compileTemplate, type CompiledTemplate } from './template.js';

type AlertState = 'inactive' | 'pending' | 'firing';

/** How long a resolved alert is kept (and re-sent as resolved): Prometheus' resolvedRetention. */
export const RESOLVED_RETENTION_MS = 15 * 60_000;

export interface Alert {
  fingerprint: string;
  labels: Labels;
  annotations: Labels;
  state: AlertState;
  value: number;
  /** When the alert became pending (ms). */
  activeAt: number;
  firedAt: number;
  resolvedAt: number;
  /** Set while firing only because of keep_firing_for. */
  keepFiringSince: number;
  /** A synthetic alert standing for an empty result or a failed query. */
  reason?: 'nodata' | 'error';
}

export interface Transition {
  fingerprint: string;
  labels: Labels;
  annotations: Labels;
  from: string;
  /** pending, firing (or nodata/error for synthetic alerts), resolved (from firing), inactive (from pending). */
  to: string;
  value: number;
  ts: number;
}

export type RuleResult = { ok: true; samples: InstantSample[] } | { ok: false; error: string };

export interface EvalContext {
  externalLabels?: Labels;
  externalURL?: string;
  /** Prometheus group limit: more active alerts than this is an error; 0 = none. */
  limit?: number;
}

export interface EvalOutcome {
  transitions: Transition[];
  /** Alerts whose stored state changed (to persist). */
  changed: Alert[];
  /** Fingerprints dropped from memory (to delete from storage). */
  dropped: string[];
  /** The rule's error this evaluation, if any (query failure, duplicate label sets, limit). */
  error?: string;
  /** The result was empty (for the rule's NoData state). */
  noData: boolean;
}

/** The displayed state of an alert: synthetic alerts show their reason once firing. */
export function displayState(a: Alert): string {
  return a.state === 'firing' && a.reason ? a.reason : a.state;
}

/** Compiled templates of a rule, cached per rule object. */
const compiled = new WeakMap<AlertingRule, { labels: [string, CompiledTemplate][]; annotations: [string, CompiledTemplate][] }>();

function templatesOf(rule: AlertingRule) {
  let c = compiled.get(rule);
  if (!c) {
    const comp = (m: Labels) => Object.entries(m).map(([k, v]) => [k, compileTemplate(v)] as [string, CompiledTemplate]);
    c = { labels: comp(rule.labels), annotations: comp(rule.annotations) };
    compiled.set(rule, c);
  }
  return c;
}

function expand(t: CompiledTemplate, labels: Labels, value: number, ctx: EvalContext): string {
  try {
    return t.expand({ labels, value, externalLabels: ctx.externalLabels, externalURL: ctx.externalURL });
  } catch (e) {
    // Prometheus puts the error text in place of the value rather than dropping the alert.
    if (e instanceof TemplateError || e instanceof Error) return `<error expanding template: ${e.message}>`;
    throw e;
  }
}

/** Labels and annotations of the alert a sample produces. */
function alertFromSample(rule: AlertingRule, s: InstantSample, ts: number, ctx: EvalContext): Alert {
  const t = templatesOf(rule);
  const labels: Labels = { ...s.labels };
  delete labels.__name__;
  for (const [k, tpl] of t.labels) {
    const v = expand(tpl, s.labels, s.v, ctx);
    if (v === '') delete labels[k];
    else labels[k] = v;
  }
  labels.alertname = rule.name;
  const annotations: Labels = {};
  for (const [k, tpl] of t.annotations) annotations[k] = expand(tpl, s.labels, s.v, ctx);
  return blank(labels, annotations, s.v, ts);
}

function blank(labels: Labels, annotations: Labels, value: number, ts: number, reason?: Alert['reason']): Alert {
  return { fingerprint: fingerprint(labels), labels, annotations, state: 'pending', value, activeAt: ts, firedAt: 0, resolvedAt: 0, keepFiringSince: 0, reason };
}

/** The synthetic alert for an empty result or a failed query. */
function synthetic(rule: AlertingRule, kind: 'alerting' | 'nodata' | 'error', ts: number, ctx: EvalContext, message?: string): Alert {
  const a = alertFromSample(rule, { labels: {}, t: ts, v: NaN }, ts, ctx);
  if (kind === 'alerting') return a;
  const labels = { ...a.labels, alertname: kind === 'nodata' ? 'DatasourceNoData' : 'DatasourceError', rulename: rule.name };
  const annotations = { ...a.annotations };
  if (message) annotations.Error = message;
  return blank(labels, annotations, NaN, ts, kind);
}

/**
 * The alerts of one rule. `eval` applies one evaluation result at time `ts` exactly as
 * Prometheus' AlertingRule.Eval does; the evaluator calls it once per group iteration.
 */
export class RuleAlerts {
  readonly active = new Map<string, Alert>();

  constructor(public rule: AlertingRule) {}

  /** Pending, firing and recently resolved alerts. */
  list(): Alert[] {
    return [...this.active.values()];
  }

  eval(ts: number, result: RuleResult, ctx: EvalContext = {}): EvalOutcome {
    const rule = this.rule;
    const out: EvalOutcome = { transitions: [], changed: [], dropped: [], noData: false };
    let present: Map<string, Alert>;
    let keepOthers = false;

    if (!result.ok) {
      out.error = result.error;
      switch (rule.onError) {
        case 'keep_last':
          return out;
        case 'ok':
          present = new Map();
          break;
        default: {
          // alerting / error: the synthetic alert runs its course; the rule's other alerts stay as they were.
          const a = synthetic(rule, rule.onError, ts, ctx, result.error);
          present = new Map([[a.fingerprint, a]]);
          keepOthers = true;
        }
      }
    } else if (result.samples.length === 0) {
      out.noData = true;
      if (rule.noData === 'keep_last') return out;
      present = new Map();
      if (rule.noData !== 'ok') {
        const a = synthetic(rule, rule.noData, ts, ctx);
        present.set(a.fingerprint, a);
      }
    } else {
      present = new Map();
      for (const s of result.samples) {
        const a = alertFromSample(rule, s, ts, ctx);
        if (present.has(a.fingerprint)) {
          out.error = 'vector contains metrics with the same labelset after applying alert labels';
          return out;
        }
        present.set(a.fingerprint, a);
      }
    }

    const changed = new Set<Alert>();
    const move = (a: Alert, to: AlertState | 'resolved', from = displayState(a), value = a.value) => {
      out.transitions.push({ fingerprint: a.fingerprint, labels: a.labels, annotations: a.annotations, from, to: to === 'firing' && a.reason ? a.reason : to, value, ts });
      changed.add(a);
    };

    for (const [fp, a] of present) {
      const cur = this.active.get(fp);
      if (cur && cur.state !== 'inactive') {
        if (cur.value !== a.value && !(Number.isNaN(cur.value) && Number.isNaN(a.value))) cur.value = a.value;
        cur.annotations = a.annotations;
        continue;
      }
      this.active.set(fp, a);
      move(a, 'pending', 'inactive');
    }

    let activeCount = 0;
    for (const [fp, a] of this.active) {
      if (!present.has(fp)) {
        if (keepOthers && a.state !== 'inactive') {
          activeCount++;
          continue;
        }
        let keepFiring = false;
        if (a.state === 'firing' && rule.keepFiringForMs > 0) {
          if (a.keepFiringSince === 0) {
            a.keepFiringSince = ts;
            changed.add(a);
          }
          if (ts - a.keepFiringSince < rule.keepFiringForMs) keepFiring = true;
        }
        // Resolved alerts are kept a while so their resolution reaches the receivers.
        if (a.state === 'pending' || (a.resolvedAt !== 0 && ts - a.resolvedAt > RESOLVED_RETENTION_MS)) {
          this.active.delete(fp);
          out.dropped.push(fp);
        }
        if (a.state !== 'inactive' && !keepFiring) {
          move(a, a.state === 'firing' ? 'resolved' : 'inactive');
          a.state = 'inactive';
          a.resolvedAt = ts;
        }
        if (!keepFiring) continue;
      } else if (a.keepFiringSince !== 0) {
        a.keepFiringSince = 0;
        changed.add(a);
      }
      activeCount++;
      if (a.state === 'pending' && ts - a.activeAt >= rule.forMs) {
        move(a, 'firing');
        a.state = 'firing';
        a.firedAt = ts;
      }
    }

    const limit = ctx.limit ?? 0;
    if (limit > 0 && activeCount > limit) {
      // Prometheus drops all alerts of a rule that exceeds its group's limit.
      for (const [fp, a] of this.active) {
        if (a.state !== 'inactive') move(a, 'inactive');
        out.dropped.push(fp);
      }
      this.active.clear();
      out.changed = [];
      out.error = `exceeded limit of ${limit} with ${activeCount} alerts`;
      return out;
    }
    // Only alerts still held are persisted; dropped ones are deleted.
    out.changed = [...changed].filter((a) => this.active.get(a.fingerprint) === a);
    return out;
  }

  /** Alerts to hand to the notifier: firing ones and resolved ones still retained. */
  toNotify(): Alert[] {
    return this.list().filter((a) => a.state === 'firing' || (a.state === 'inactive' && a.resolvedAt !== 0 && a.firedAt !== 0));
  }

  /** Resolve every alert now (the rule was deleted or changed beyond recognition). */
  resolveAll(ts: number): Transition[] {
    const tr: Transition[] = [];
    for (const a of this.active.values()) {
      if (a.state === 'inactive') continue;
      tr.push({ fingerprint: a.fingerprint, labels: a.labels, annotations: a.annotations, from: displayState(a), to: a.state === 'firing' ? 'resolved' : 'inactive', value: a.value, ts });
      a.state = 'inactive';
      a.resolvedAt = ts;
    }
    return tr;
  }
}

export interface RestoreOptions {
  /** Prometheus --rules.alert.for-grace-period. */
  forGracePeriodMs: number;
  /** Prometheus --rules.alert.for-outage-tolerance. */
  outageToleranceMs: number;
}

/**
 * Bring back a rule's alerts after a restart, with Prometheus' `for` restoration: a pending
 * alert keeps its active-since time shifted by the downtime (the time it was not evaluated does
 * not count toward `for`), is given at least the grace period before it may fire, and is
 * forgotten when the server was down longer than the outage tolerance or the rule's `for` is
 * shorter than the grace period. Firing and recently resolved alerts come back as they were,
 * so a firing alert is not announced again and a resolution is still delivered.
 */
export function restoreAlerts(st: RuleAlerts, saved: readonly Alert[], downAt: number, now: number, opts: RestoreOptions): void {
  const rule = st.rule;
  const down = Math.max(0, now - downAt);
  for (const a0 of saved) {
    const a = { ...a0 };
    if (a.state === 'pending') {
      if (down > opts.outageToleranceMs || rule.forMs < opts.forGracePeriodMs) continue;
      const spent = downAt - a.activeAt;
      const remaining = rule.forMs - spent;
      if (remaining > 0) {
        if (remaining < opts.forGracePeriodMs) a.activeAt = now + opts.forGracePeriodMs - rule.forMs;
        else a.activeAt = a.activeAt + down;
      }
    } else if (a.state === 'inactive' && (a.resolvedAt === 0 || now - a.resolvedAt > RESOLVED_RETENTION_MS)) continue;
    st.active.set(a.fingerprint, a);
  }
}
