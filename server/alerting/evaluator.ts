/**
 * The rule evaluator: every rule group runs on its own schedule, at timestamps aligned to its
 * interval and offset by a hash of its key (Prometheus' jitter, so groups spread over the
 * interval instead of firing together). A group's rules run concurrently except where one reads
 * a series an earlier recording rule of the group writes; each query has a timeout, so a slow
 * rule delays neither other groups nor independent rules. Results are written back through the
 * write path (recording rules, ALERTS, ALERTS_FOR_STATE), transitions go to the history table,
 * changed alerts to the state table, and firing/resolved alerts to the notifier.
 */
import { Semaphore } from '../concurrency.js';
import type { Logger } from 'pino';
import type { WriteBatch } from '../../ingest/types.js';
import type { InstantSample, QueryEngine } from '../promql/types.js';
import type { Clock, TimerHandle } from './clock.js';
import { fingerprint, type Labels } from './labels.js';
import type { Notifier } from './notifier.js';
import type { AlertingStore, HistoryRow, SavedAlert } from './persistence.js';
import { selectedMetrics } from './promql-check.js';
import type { NotifierAlert } from './receivers.js';
import type { AlertingRule, RecordingRule, Rule, RuleGroup } from './rules.js';
import { restoreAlerts, RuleAlerts, type Alert, type RestoreOptions, type RuleResult, type Transition } from './state.js';

/** Prometheus' --rules.alert.resend-delay: a firing alert is handed to the notifier again this often. */
const RESEND_DELAY_MS = 60_000;
/** Active alerts are re-saved this often, so `for` restoration knows when evaluation stopped. */
const SNAPSHOT_EVERY_MS = 60_000;

/** What rule evaluation writes through (the Writer: samples of recording rules and ALERTS, and where series ended). */
export interface RuleWriter {
  write(batch: WriteBatch, protocol: string, issues: undefined, extras: object, now: number): Promise<unknown>;
  endSeries(marks: { key: string; tags: Labels; ts: number }[], now: number): Promise<unknown>;
}

/** The /metrics hooks the evaluator reports to. */
export interface EvaluatorMetrics {
  evaluation(group: string, seconds: number, failures: number, rules: number): void;
  missed(group: string, n: number): void;
  alerts(counts: Record<string, number>): void;
}

export interface EvaluatorOptions {
  engine: QueryEngine;
  writer: RuleWriter;
  store: AlertingStore;
  notifier: Notifier;
  clock: Clock;
  log: Logger;
  externalURL: string;
  externalLabels?: Labels;
  restore: RestoreOptions;
  /** Longest a single rule query may take (capped by the group interval, at least 1 s). */
  queryTimeoutMs: number;
  metrics?: EvaluatorMetrics;
  /**
   * Rule queries in flight at once, across all groups (Prometheus' rules.max-concurrent-evals).
   * The engine reserves as many slots for priority 'rule' (ALERT_MAX_CONCURRENT_QUERIES), so a
   * rule query that gets past this queue finds a slot dashboards cannot hold; waiting here does
   * not count toward the rule's timeout.
   */
  maxConcurrentQueries?: number;
}


export interface RuleStatus {
  health: 'unknown' | 'ok' | 'err';
  lastError: string;
  lastEvaluation: number;
  evaluationMs: number;
  /** The result was empty at the last evaluation (NoData). */
  noData: boolean;
}

interface GroupRunner {
  group: RuleGroup;
  offsetMs: number;
  timer: TimerHandle | null;
  running: Promise<void> | null;
  lastEvaluation: number;
  evaluationMs: number;
  nextAt: number;
  lastSnapshot: number;
  /** Series written at the previous evaluation, for staleness marks when they vanish. */
  prevSeries: Map<string, { key: string; tags: Labels }>;
}

/** A stable offset in [0, interval) from the group key: Prometheus' group evaluation jitter. */
export function groupOffset(key: string, intervalMs: number): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) % intervalMs;
}

/** The latest evaluation timestamp at or before `now` on the group's grid. */
export function evalSlot(now: number, intervalMs: number, offsetMs: number): number {
  return Math.floor((now - offsetMs) / intervalMs) * intervalMs + offsetMs;
}

/** Prometheus' generator link: the expression in the query UI. */
function generatorURL(externalURL: string, expr: string): string {
  return `${externalURL.replace(/\/$/, '')}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=1`;
}

export class Evaluator {
  readonly #runners = new Map<string, GroupRunner>();
  readonly #alerts = new Map<string, RuleAlerts>();
  readonly #status = new Map<string, RuleStatus>();
  /** rule id + fingerprint -> when the alert was last handed to the notifier. */
  readonly #lastSent = new Map<string, number>();
  #saved = new Map<string, SavedAlert[]>();
  #started = false;
  #stopped = false;
  readonly #slots: Semaphore;
  /** Aborts in-flight rule queries at shutdown. */
  readonly #abort = new AbortController();

  constructor(readonly opts: EvaluatorOptions) {
    this.#slots = new Semaphore(Math.max(1, opts.maxConcurrentQueries ?? 4));
  }

  /** Load saved alert state; call before start(). */
  async load(): Promise<void> {
    const all = await this.opts.store.loadAlerts();
    this.#saved = new Map();
    for (const a of all) {
      const list = this.#saved.get(a.ruleId) ?? [];
      list.push(a);
      this.#saved.set(a.ruleId, list);
    }
  }

  /** Replace the rule groups (start-up, API change, reload). Alerts of rules kept by id survive. */
  async setGroups(groups: RuleGroup[]): Promise<void> {
    const now = this.opts.clock.now();
    // Alert state is kept for rules that are still alerting rules under the same id.
    const keepIds = new Set(groups.flatMap((g) => g.rules.filter((r) => r.kind === 'alert').map((r) => r.id)));
    // Rules that are gone: their alerts resolve, and receivers hear about it.
    const removed: { st: RuleAlerts; group: string }[] = [];
    for (const [id, st] of this.#alerts) {
      if (keepIds.has(id)) continue;
      let groupKey = '';
      for (const r of this.#runners.values()) if (r.group.rules.some((x) => x.id === id)) groupKey = r.group.key;
      removed.push({ st, group: groupKey });
      this.#alerts.delete(id);
      this.#status.delete(id);
    }
    for (const { st, group } of removed) await this.#retire(st, group, now);

    const keys = new Set(groups.map((g) => g.key));
    for (const [key, r] of this.#runners) {
      if (keys.has(key)) continue;
      if (r.timer) this.opts.clock.clearTimeout(r.timer);
      this.#runners.delete(key);
    }
    for (const g of groups) {
      for (const rule of g.rules) {
        if (rule.kind !== 'alert') continue;
        const st = this.#alerts.get(rule.id);
        if (st) st.rule = rule;
        else {
          const fresh = new RuleAlerts(rule);
          const saved = this.#saved.get(rule.id);
          if (saved) {
            for (const a of saved) restoreAlerts(fresh, [a], a.evaluatedAt, now, this.opts.restore);
            this.#saved.delete(rule.id);
          }
          this.#alerts.set(rule.id, fresh);
        }
        if (!this.#status.has(rule.id)) this.#status.set(rule.id, { health: 'unknown', lastError: '', lastEvaluation: 0, evaluationMs: 0, noData: false });
      }
      for (const rule of g.rules) if (rule.kind === 'record' && !this.#status.has(rule.id)) this.#status.set(rule.id, { health: 'unknown', lastError: '', lastEvaluation: 0, evaluationMs: 0, noData: false });
      const r = this.#runners.get(g.key);
      if (r) {
        const reschedule = r.group.intervalMs !== g.intervalMs;
        r.group = g;
        if (reschedule) {
          r.offsetMs = groupOffset(g.key, g.intervalMs);
          if (this.#started) this.#schedule(r);
        }
      } else {
        const runner: GroupRunner = {
          group: g,
          offsetMs: groupOffset(g.key, g.intervalMs),
          timer: null,
          running: null,
          lastEvaluation: 0,
          evaluationMs: 0,
          nextAt: 0,
          lastSnapshot: now,
          prevSeries: new Map(),
        };
        this.#runners.set(g.key, runner);
        if (this.#started) this.#schedule(runner);
      }
    }
    // Saved alerts of rules that no longer exist (removed while the server was down).
    if (this.#saved.size) {
      const orphans = [...this.#saved.values()].flat();
      this.#saved.clear();
      await this.#retireSaved(orphans, now);
    }
  }

  /** Begin the schedules. */
  start(): void {
    this.#started = true;
    for (const r of this.#runners.values()) this.#schedule(r);
  }

  #schedule(r: GroupRunner): void {
    if (r.timer) this.opts.clock.clearTimeout(r.timer);
    if (this.#stopped) return;
    const now = this.opts.clock.now();
    const iv = r.group.intervalMs;
    let next = evalSlot(now, iv, r.offsetMs) + iv;
    if (r.lastEvaluation && next <= r.lastEvaluation) next = r.lastEvaluation + iv;
    r.nextAt = next;
    r.timer = this.opts.clock.setTimeout(() => this.#tick(r), next - now);
  }

  async #tick(r: GroupRunner): Promise<void> {
    r.timer = null;
    if (this.#stopped || this.#runners.get(r.group.key) !== r) return;
    const ts = r.nextAt;
    const run = this.evaluateGroup(r.group.key, ts);
    r.running = run;
    try {
      await run;
    } catch (err) {
      this.opts.log.error({ err, group: r.group.name }, 'rule group evaluation failed');
    } finally {
      r.running = null;
    }
    // The group was removed or replaced while it ran.
    if (this.#stopped || this.#runners.get(r.group.key) !== r) return;
    const now = this.opts.clock.now();
    const missed = Math.floor((now - ts) / r.group.intervalMs) - 1;
    if (missed > 0) {
      this.opts.metrics?.missed(r.group.name, missed);
      this.opts.log.warn({ group: r.group.name, missed }, 'rule group evaluation took longer than its interval; iterations skipped');
    }
    this.#schedule(r);
  }

  /** Evaluate one group at `ts` (the scheduler's tick; also usable directly). */
  async evaluateGroup(key: string, ts: number): Promise<void> {
    const r = this.#runners.get(key);
    if (!r) throw new Error(`no rule group ${key}`);
    const g = r.group;
    const started = performance.now();
    const queryTs = ts - g.queryOffsetMs;
    const timeoutMs = Math.max(1000, Math.min(this.opts.queryTimeoutMs, Math.max(g.intervalMs, 10_000)));
    const samples: WriteBatch['series'] = [];
    const transitions: HistoryRow[] = [];
    const changed: SavedAlert[] = [];
    const dropped: { ruleId: string; fingerprint: string; groupKey: string; evaluatedAt: number }[] = [];
    const toNotify: NotifierAlert[] = [];
    let failures = 0;

    const done = new Map<number, Promise<void>>();
    const written = new Set<string>();
    g.rules.forEach((rule, i) => {
      const deps = this.#dependencies(g.rules, i).map((j) => done.get(j)!);
      const p = Promise.all(deps).then(async () => {
        const t0 = performance.now();
        const result = await this.#query(rule.expr, queryTs, timeoutMs);
        const st = this.#status.get(rule.id);
        const ar = rule.kind === 'alert' ? this.#alerts.get(rule.id) : undefined;
        // Shutting down (queries aborted), or the rule was removed meanwhile: the result is dropped.
        if (this.#stopped || !st || (rule.kind === 'alert' && !ar)) return;
        let error = result.ok ? undefined : result.error;
        const rows: WriteBatch['series'] = [];
        if (rule.kind === 'record') {
          if (result.ok) error = this.#record(rule, result.samples, queryTs, g.limit, rows, written);
          st.noData = result.ok && result.samples.length === 0;
        } else if (ar) {
          const out = ar.eval(ts, result, { externalLabels: this.opts.externalLabels, externalURL: this.opts.externalURL, limit: g.limit });
          error = out.error;
          st.noData = out.noData;
          for (const t of out.transitions) transitions.push({ ...t, ruleId: rule.id, ruleName: rule.name, groupKey: g.key });
          for (const a of out.changed) changed.push({ ...a, ruleId: rule.id, groupKey: g.key, evaluatedAt: ts });
          for (const fp of out.dropped) {
            dropped.push({ ruleId: rule.id, fingerprint: fp, groupKey: g.key, evaluatedAt: ts });
            this.#lastSent.delete(`${rule.id}\u0000${fp}`);
          }
          this.#alertSeries(ar, ts, rows, written);
          toNotify.push(...this.#needsSending(rule, ar, ts, g.intervalMs, out.transitions));
        }
        // Written before dependent rules run, as Prometheus commits each rule's output.
        samples.push(...rows);
        await this.#safe('write rule results', () => this.#writeSamples(rows, ts));
        st.health = error ? 'err' : 'ok';
        st.lastError = error ?? '';
        st.lastEvaluation = ts;
        st.evaluationMs = performance.now() - t0;
        if (error) failures++;
      });
      done.set(i, p);
    });
    await Promise.all(done.values());

    if (toNotify.length) this.opts.notifier.push(toNotify);
    // A periodic snapshot keeps evaluated_at fresh for `for` restoration after a crash.
    if (ts - r.lastSnapshot >= SNAPSHOT_EVERY_MS) {
      r.lastSnapshot = ts;
      const seen = new Set(changed.map((c) => `${c.ruleId}\u0000${c.fingerprint}`));
      for (const rule of g.rules) {
        const ar = rule.kind === 'alert' ? this.#alerts.get(rule.id) : undefined;
        for (const a of ar?.list() ?? []) if (!seen.has(`${rule.id}\u0000${a.fingerprint}`)) changed.push({ ...a, ruleId: rule.id, groupKey: g.key, evaluatedAt: ts });
      }
    }
    await Promise.all([
      this.#safe('mark vanished series stale', () => this.#stale(r, samples, queryTs)),
      this.#safe('save alert state', () => this.opts.store.saveAlerts(changed, dropped)),
      this.#safe('append alert history', () => this.opts.store.appendHistory(transitions)),
    ]);
    r.lastEvaluation = ts;
    r.evaluationMs = performance.now() - started;
    this.opts.metrics?.evaluation(g.name, r.evaluationMs / 1000, failures, g.rules.length);
    this.#reportAlertCounts();
  }

  /** Indexes of earlier recording rules of the group whose output rule i reads. */
  #dependencies(rules: Rule[], i: number): number[] {
    const reads = selectedMetrics(rules[i].expr);
    const out: number[] = [];
    for (let j = 0; j < i; j++) {
      const r = rules[j];
      if (r.kind === 'record' && (reads === null || reads.has(r.name))) out.push(j);
      // ALERTS is written by alerting rules: a rule reading it waits for them.
      if (r.kind === 'alert' && (reads === null || reads.has('ALERTS') || reads.has('ALERTS_FOR_STATE'))) out.push(j);
    }
    return out;
  }

  async #query(expr: string, ts: number, timeoutMs: number): Promise<RuleResult> {
    await this.#slots.acquire();
    try {
      return await this.#queryNow(expr, ts, timeoutMs);
    } finally {
      this.#slots.release();
    }
  }

  async #queryNow(expr: string, ts: number, timeoutMs: number): Promise<RuleResult> {
    const ctl = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const stopping = this.#abort.signal;
    let onStop = () => {};
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ctl.abort(new Error(`rule query timed out after ${timeoutMs} ms`));
        reject(new Error(`rule query timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      onStop = () => reject(stopping.reason);
      stopping.addEventListener('abort', onStop, { once: true });
    });
    try {
      const signal = AbortSignal.any([ctl.signal, this.#abort.signal]);
      // 'rule': the engine's slots reserved for rules, which dashboards cannot take.
      const v = await Promise.race([this.opts.engine.instant(expr, ts, { signal, timeoutMs, priority: 'rule' }), guard]);
      switch (v.type) {
        case 'vector':
          return { ok: true, samples: v.samples };
        case 'scalar':
          return { ok: true, samples: [{ labels: {}, t: v.t, v: v.v }] };
        default:
          return { ok: false, error: `rule result is a ${v.type}, not an instant vector or scalar` };
      }
    } catch (e) {
      return { ok: false, error: (e as Error).message || String(e) };
    } finally {
      clearTimeout(timer);
      stopping.removeEventListener('abort', onStop);
    }
  }

  /** Recording rule output as series to write; returns an error message if the result is unusable. */
  #record(rule: RecordingRule, result: InstantSample[], ts: number, limit: number, out: WriteBatch['series'], written: Set<string>): string | undefined {
    const seen = new Set<string>();
    const rows: WriteBatch['series'] = [];
    for (const s of result) {
      const tags: Labels = { ...s.labels, ...rule.labels };
      delete tags.__name__;
      for (const k of Object.keys(tags)) if (tags[k] === '') delete tags[k];
      const fp = fingerprint(tags);
      if (seen.has(fp)) return 'vector contains metrics with the same labelset after applying rule labels';
      seen.add(fp);
      // NaN and ±Inf are written as Prometheus writes them (the store holds them).
      rows.push({ key: rule.name, tags, timestamps: [ts], values: [s.v] });
    }
    if (limit > 0 && seen.size > limit) return `exceeded limit of ${limit} with ${seen.size} series`;
    for (const row of rows) {
      written.add(`${row.key}\u0000${fingerprint(row.tags)}`);
      out.push(row);
    }
    return undefined;
  }

  /** ALERTS{alertstate} = 1 and ALERTS_FOR_STATE = active-since seconds, for pending and firing alerts. */
  #alertSeries(ar: RuleAlerts, ts: number, out: WriteBatch['series'], written: Set<string>): void {
    for (const a of ar.list()) {
      if (a.state === 'inactive') continue;
      const alerts = { ...a.labels, alertstate: a.state };
      out.push({ key: 'ALERTS', tags: alerts, timestamps: [ts], values: [1] });
      out.push({ key: 'ALERTS_FOR_STATE', tags: a.labels, timestamps: [ts], values: [Math.floor(a.activeAt / 1000)] });
      written.add(`ALERTS\u0000${fingerprint(alerts)}`);
      written.add(`ALERTS_FOR_STATE\u0000${a.fingerprint}`);
    }
  }

  /** Prometheus' sendAlerts/needsSending: firing and resolved alerts, on change or every resend delay. */
  #needsSending(rule: AlertingRule, ar: RuleAlerts, ts: number, intervalMs: number, transitions: Transition[]): NotifierAlert[] {
    const out: NotifierAlert[] = [];
    const moved = new Set(transitions.map((t) => t.fingerprint));
    for (const a of ar.toNotify()) {
      const k = `${rule.id}\u0000${a.fingerprint}`;
      const last = this.#lastSent.get(k) ?? 0;
      if (!moved.has(a.fingerprint) && !(a.resolvedAt > last && a.state === 'inactive') && last + RESEND_DELAY_MS > ts) continue;
      this.#lastSent.set(k, ts);
      out.push(this.#toNotifier(rule, a, ts, intervalMs));
    }
    return out;
  }

  #toNotifier(rule: AlertingRule, a: Alert, ts: number, intervalMs: number): NotifierAlert {
    return {
      fingerprint: a.fingerprint,
      labels: { ...(this.opts.externalLabels ?? {}), ...a.labels },
      annotations: a.annotations,
      startsAt: a.firedAt || a.activeAt,
      // Firing alerts expire unless re-sent (Prometheus' ValidUntil); resolved ones end when they resolved.
      endsAt: a.state === 'inactive' ? a.resolvedAt : ts + 4 * Math.max(intervalMs, RESEND_DELAY_MS),
      generatorURL: generatorURL(this.opts.externalURL, rule.expr),
      updatedAt: ts,
    };
  }

  async #writeSamples(series: WriteBatch['series'], now: number): Promise<void> {
    if (series.length === 0) return;
    await this.opts.writer.write({ series, points: series.length }, 'rules', undefined, {}, now);
  }

  /** Series written last time and not now get a staleness mark, as Prometheus writes for rule output. */
  async #stale(r: GroupRunner, series: WriteBatch['series'], ts: number): Promise<void> {
    const now = new Map<string, { key: string; tags: Labels }>();
    for (const s of series) now.set(`${s.key}\u0000${fingerprint(s.tags)}`, { key: s.key, tags: s.tags });
    const gone = [...r.prevSeries].filter(([k]) => !now.has(k)).map(([, v]) => ({ ...v, ts }));
    r.prevSeries = now;
    if (gone.length) await this.opts.writer.endSeries(gone, ts);
  }

  async #safe(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.opts.log.error({ err }, `alerting: could not ${what}`);
    }
  }

  /** Resolve the alerts of a rule that was removed, telling receivers. */
  async #retire(st: RuleAlerts, groupKey: string, now: number): Promise<void> {
    const tr = st.resolveAll(now);
    const notify = st.list().filter((a) => a.firedAt !== 0).map((a) => this.#toNotifier(st.rule, a, now, 0));
    if (notify.length) this.opts.notifier.push(notify);
    await this.#safe('record removed rule', async () => {
      await this.opts.store.appendHistory(tr.map((t) => ({ ...t, ruleId: st.rule.id, ruleName: st.rule.name, groupKey })));
      await this.opts.store.saveAlerts([], st.list().map((a) => ({ ruleId: st.rule.id, fingerprint: a.fingerprint, groupKey, evaluatedAt: now })));
    });
  }

  async #retireSaved(saved: SavedAlert[], now: number): Promise<void> {
    const notify: NotifierAlert[] = [];
    const history: HistoryRow[] = [];
    for (const a of saved) {
      if (a.state === 'firing' || (a.state === 'inactive' && a.firedAt !== 0 && now - a.resolvedAt < 15 * 60_000)) {
        notify.push({
          fingerprint: a.fingerprint,
          labels: { ...(this.opts.externalLabels ?? {}), ...a.labels },
          annotations: a.annotations,
          startsAt: a.firedAt || a.activeAt,
          endsAt: a.state === 'firing' ? now : a.resolvedAt,
          generatorURL: '',
          updatedAt: now,
        });
      }
      if (a.state !== 'inactive') history.push({ ...a, from: a.state, to: a.state === 'firing' ? 'resolved' : 'inactive', ts: now, ruleName: a.labels.alertname ?? '' });
    }
    if (notify.length) this.opts.notifier.push(notify);
    await this.#safe('retire alerts of removed rules', async () => {
      await this.opts.store.appendHistory(history);
      await this.opts.store.saveAlerts([], saved.map((a) => ({ ruleId: a.ruleId, fingerprint: a.fingerprint, groupKey: a.groupKey, evaluatedAt: now })));
    });
  }

  #reportAlertCounts(): void {
    if (!this.opts.metrics) return;
    const counts: Record<string, number> = { pending: 0, firing: 0 };
    for (const st of this.#alerts.values()) for (const a of st.list()) if (a.state !== 'inactive') counts[a.state]++;
    this.opts.metrics.alerts(counts);
  }

  /** Stop scheduling, wait for running evaluations, save every alert (with its last evaluation time). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const r of this.#runners.values()) if (r.timer) this.opts.clock.clearTimeout(r.timer);
    this.#abort.abort(new Error('alerting is stopping'));
    await Promise.allSettled([...this.#runners.values()].map((r) => r.running));
    const rows: SavedAlert[] = [];
    for (const r of this.#runners.values()) {
      if (!r.lastEvaluation) continue;
      for (const rule of r.group.rules) {
        const ar = rule.kind === 'alert' ? this.#alerts.get(rule.id) : undefined;
        for (const a of ar?.list() ?? []) rows.push({ ...a, ruleId: rule.id, groupKey: r.group.key, evaluatedAt: r.lastEvaluation });
      }
    }
    await this.#safe('save alert state at shutdown', () => this.opts.store.saveAlerts(rows));
  }

  // ---- views for the API ----

  groups(): { group: RuleGroup; lastEvaluation: number; evaluationMs: number; nextAt: number; offsetMs: number }[] {
    return [...this.#runners.values()].map((r) => ({ group: r.group, lastEvaluation: r.lastEvaluation, evaluationMs: r.evaluationMs, nextAt: r.nextAt, offsetMs: r.offsetMs }));
  }

  ruleStatus(id: string): RuleStatus | undefined {
    return this.#status.get(id);
  }

  ruleAlerts(id: string): Alert[] {
    return this.#alerts.get(id)?.list() ?? [];
  }
}
