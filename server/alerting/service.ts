/**
 * Alerting as one service: rule sources (API, rule files, SLOs), the evaluator, the notifier
 * and silences, wired to the store, the write path and the query engine. The HTTP routes call
 * this; start.ts creates it, starts it after the server listens and stops it before the writer
 * closes (the last evaluation's output still goes through the write path).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { invalid, MetronomeError, type Issue } from '../errors.js';
import type { QueryEngine } from '../promql/types.js';
import type { Store } from '../store/index.js';
import { applyRetention } from '../store/migrate.js';
import { systemClock, type Clock } from './clock.js';
import { Evaluator, type EvaluatorMetrics, type RuleWriter } from './evaluator.js';
import { maskSecrets, restoreSecrets } from './config-secrets.js';
import { DEFAULT_NOTIFY_CONFIG, NotifyConfigError, parseNotifyConfig, type NotifyConfig, type Route } from './notify-config.js';
import { fingerprint, formatMatcher } from './labels.js';
import { loadTemplateFiles } from './notify-templates.js';
import { AlertForwarder } from './forwarder.js';
import { Notifier } from './notifier.js';
import { parsePostedAlerts } from './posted-alerts.js';
import { AlertingStore, type HistoryRow } from './persistence.js';
import { engineCheck, type PromqlCheck } from './promql-check.js';
import { expandRuleFiles, loadRuleFiles } from './rule-files.js';
import { apiToRule, validateApiRule, type ApiRuleSpec, type RuleGroup } from './rules.js';
import { Silences } from './silences.js';
import { sloRuleGroup, validateSlo, type SloSpec } from './slo.js';
import { promAlerts } from './views.js';

export interface AlertingSettings {
  ruleFiles?: string;
  notifyConfigPath?: string;
  evalIntervalMs: number;
  externalURL: string;
  forGracePeriodMs: number;
  outageToleranceMs: number;
  historyDays: number;
  queryTimeoutMs: number;
  /** Shortest group interval accepted. */
  minIntervalMs?: number;
  /** Rule queries in flight at once across groups. */
  maxConcurrentQueries?: number;
  /** Alertmanagers that also get Metronome's own alerts (base URLs). */
  alertmanagerURLs?: string[];
}

export interface AlertingDeps {
  settings: AlertingSettings;
  store: Store;
  writer: RuleWriter;
  engine: QueryEngine;
  log: Logger;
  clock?: Clock;
  check?: PromqlCheck;
  /** Cluster mode: the leader's fencing check before each notification (server/cluster). */
  fence?: () => Promise<boolean>;
  metrics?: EvaluatorMetrics & {
    notification?: (e: { receiver: string; integration: string; ok: boolean; attempts: number; seconds: number }) => void;
    notificationDropped?: (e: { receiver: string; integration: string; reason: string }) => void;
    forwarded?: (e: { alertmanager: string; sent: number; failed: number; dropped: number }) => void;
  };
}

interface StoredRule {
  spec: Record<string, unknown>;
  createdAt: number;
}

export interface NotifyConfigView {
  source: 'file' | 'api' | 'default';
  path?: string;
  yaml: string;
  warnings: Issue[];
  updatedAt?: string;
}

export class Alerting {
  readonly clock: Clock;
  readonly db: AlertingStore;
  readonly silences: Silences;
  readonly notifier: Notifier;
  readonly evaluator: Evaluator;
  readonly check: PromqlCheck;
  readonly forwarder: AlertForwarder | null;
  readonly startedAt = Date.now();
  #fileGroups: RuleGroup[] = [];
  #apiRules = new Map<string, StoredRule & { parsed: ApiRuleSpec }>();
  #slos = new Map<string, { spec: SloSpec; raw: unknown; createdAt: number }>();
  #notify: NotifyConfigView = { source: 'default', yaml: DEFAULT_NOTIFY_CONFIG, warnings: [] };
  /** Serialises changes to the rule set. */
  #lock: Promise<unknown> = Promise.resolve();
  #started = false;

  private constructor(readonly deps: AlertingDeps) {
    this.clock = deps.clock ?? systemClock;
    this.check = deps.check ?? engineCheck;
    this.db = new AlertingStore(deps.store);
    this.silences = new Silences(this.db, this.clock);
    const urls = deps.settings.alertmanagerURLs ?? [];
    const forwarder = urls.length ? new AlertForwarder({ urls, log: deps.log.child({ component: 'forwarder' }), onResult: deps.metrics?.forwarded }) : null;
    this.forwarder = forwarder;
    this.notifier = new Notifier({
      fence: deps.fence,
      onRuleAlerts: forwarder ? (alerts) => forwarder.send(alerts) : undefined,
      clock: this.clock,
      log: deps.log.child({ component: 'notifier' }),
      store: this.db,
      silences: this.silences,
      externalURL: deps.settings.externalURL,
      onSend: deps.metrics?.notification,
      onDrop: deps.metrics?.notificationDropped,
    });
    this.evaluator = new Evaluator({
      engine: deps.engine,
      writer: deps.writer,
      store: this.db,
      notifier: this.notifier,
      clock: this.clock,
      log: deps.log.child({ component: 'rules' }),
      externalURL: deps.settings.externalURL,
      restore: { forGracePeriodMs: deps.settings.forGracePeriodMs, outageToleranceMs: deps.settings.outageToleranceMs },
      queryTimeoutMs: deps.settings.queryTimeoutMs,
      metrics: deps.metrics,
      maxConcurrentQueries: deps.settings.maxConcurrentQueries,
    });
  }

  /**
   * Load everything (rule files, notification config, stored rules, SLOs, silences, alert state).
   * Throws RuleFileError / NotifyConfigError on a bad file: like Prometheus and Alertmanager,
   * the server does not start with a config it cannot honour.
   */
  static async create(deps: AlertingDeps): Promise<Alerting> {
    const a = new Alerting(deps);
    const s = deps.settings;
    a.#fileGroups = loadRuleFiles(s.ruleFiles, { check: a.check, defaultIntervalMs: s.evalIntervalMs, minIntervalMs: s.minIntervalMs });
    await applyRetention(deps.store, 'alert_history', 'ts', s.historyDays);
    await a.#loadNotifyConfig();
    await a.silences.load();
    await a.notifier.load();
    for (const o of await a.db.listObjects('rule')) {
      const stored = JSON.parse(o.body) as StoredRule;
      const v = validateApiRule(stored.spec, { check: a.check, minIntervalMs: s.minIntervalMs });
      if (!v.ok) {
        deps.log.error({ id: o.id, issues: v.issues }, 'a stored alerting rule no longer validates; it is not evaluated');
        continue;
      }
      a.#apiRules.set(o.id, { ...stored, parsed: v.spec });
    }
    for (const o of await a.db.listObjects('slo')) {
      const stored = JSON.parse(o.body) as { spec: unknown; createdAt: number };
      const v = validateSlo(stored.spec, a.check);
      if (v.ok) a.#slos.set(o.id, { spec: v.spec, raw: stored.spec, createdAt: stored.createdAt });
      else deps.log.error({ id: o.id, issues: v.issues }, 'a stored SLO no longer validates; its rules are not evaluated');
    }
    await a.evaluator.load();
    await a.evaluator.setGroups(a.#allGroups());
    const rules = a.#allGroups().reduce((n, g) => n + g.rules.length, 0);
    deps.log.info({ groups: a.#allGroups().length, rules, notify: a.#notify.source }, 'alerting loaded');
    return a;
  }

  /** Begin evaluating. `url` is the server's own, for links when EXTERNAL_URL is not set. */
  start(url?: string): void {
    if (url && !this.deps.settings.externalURL) {
      this.deps.settings.externalURL = url;
      this.notifier.opts.externalURL = url;
      this.evaluator.opts.externalURL = url;
    }
    if (this.#started) return;
    this.#started = true;
    this.evaluator.start();
  }

  async stop(): Promise<void> {
    await this.#lock.catch(() => undefined);
    await this.evaluator.stop();
    await this.notifier.stop();
    await this.forwarder?.stop();
  }

  /** Pending and firing alerts with their labels (the services directory counts them per service). */
  activeAlerts(): { labels: Record<string, string>; state: string }[] {
    return promAlerts(this.evaluator).alerts.map((a) => ({ labels: a.labels, state: a.state }));
  }

  // ---- notification config ----

  async #loadNotifyConfig(): Promise<void> {
    const path = this.deps.settings.notifyConfigPath;
    const stored = (await this.db.listObjects('notify_config')).find((o) => o.id === 'current');
    let fileText: string | undefined;
    let fileTime = 0;
    if (path) {
      try {
        fileText = readFileSync(path, 'utf8');
        fileTime = statSync(path).mtimeMs;
      } catch (e) {
        throw new NotifyConfigError([{ path: 'NOTIFY_CONFIG', message: `cannot read ${path}: ${(e as Error).message}` }], `NOTIFY_CONFIG (${path})`);
      }
    }
    // The newer of the file and the last API change wins: editing the file and restarting applies it.
    let view: NotifyConfigView;
    if (stored && (!fileText || stored.updatedAt > fileTime)) view = { source: 'api', yaml: stored.body, warnings: [], updatedAt: new Date(stored.updatedAt).toISOString() };
    else if (fileText !== undefined) view = { source: 'file', path, yaml: fileText, warnings: [], updatedAt: new Date(fileTime).toISOString() };
    else view = { source: 'default', yaml: DEFAULT_NOTIFY_CONFIG, warnings: [] };
    let parsed;
    try {
      parsed = parseNotifyConfig(view.yaml);
    } catch (e) {
      if (e instanceof NotifyConfigError && view.source === 'file') throw new NotifyConfigError(e.problems, `NOTIFY_CONFIG (${path})`);
      throw e;
    }
    const tp = await this.#loadTemplates(parsed.config, view.source === 'file' && path ? dirname(resolve(path)) : process.cwd());
    if (tp.errors.length) throw new NotifyConfigError(tp.errors, view.source === 'file' ? `NOTIFY_CONFIG (${path})` : 'notification config');
    view.warnings = [...parsed.warnings, ...tp.warnings];
    for (const w of view.warnings) this.deps.log.warn({ path: w.path, line: w.line }, `notification config: ${w.message}`);
    this.notifier.setConfig(parsed.config);
    this.#notify = view;
  }

  /**
   * Load the config's `templates:` files (relative paths from `baseDir`, as Alertmanager takes
   * them from the config file's directory). Read asynchronously, regular files only.
   */
  async #loadTemplates(config: NotifyConfig, baseDir: string): Promise<{ errors: Issue[]; warnings: Issue[] }> {
    const errors: Issue[] = [];
    const warnings: Issue[] = [];
    const files: string[] = [];
    config.templateFiles.forEach((pattern, i) => {
      const { files: found } = expandRuleFiles(pattern, baseDir);
      if (found.length === 0) warnings.push({ path: `templates[${i}]`, message: `no file matches ${JSON.stringify(pattern)}` });
      files.push(...found);
    });
    const { templates, problems } = await loadTemplateFiles([...new Set(files)]);
    for (const p of problems) errors.push({ path: 'templates', message: p.message });
    config.templates = templates;
    return { errors, warnings };
  }

  /** The config as readers see it: every credential shown as `<secret>`. */
  notifyConfig(): NotifyConfigView {
    return { ...this.#notify, yaml: maskSecrets(this.#notify.yaml) };
  }

  /** Replace the notification config (YAML text). Returns its warnings. */
  async putNotifyConfig(sent: string): Promise<NotifyConfigView> {
    // `<secret>` where a credential was keeps the stored one (the text a reader got back can be PUT as is).
    const { yaml, problems } = restoreSecrets(sent, this.#notify.yaml);
    if (problems.length) throw invalid('MTR_NOTIFY_CONFIG_INVALID', problems);
    let parsed;
    try {
      parsed = parseNotifyConfig(yaml);
    } catch (e) {
      if (e instanceof NotifyConfigError) throw invalid('MTR_NOTIFY_CONFIG_INVALID', e.problems);
      throw e;
    }
    const tp = await this.#loadTemplates(parsed.config, process.cwd());
    if (tp.errors.length) throw invalid('MTR_NOTIFY_CONFIG_INVALID', tp.errors);
    const warnings = [...parsed.warnings, ...tp.warnings];
    const now = Date.now();
    await this.db.putObject('notify_config', 'current', yaml, now);
    this.notifier.setConfig(parsed.config);
    for (const w of warnings) this.deps.log.warn({ path: w.path }, `notification config: ${w.message}`);
    this.#notify = { source: 'api', yaml, warnings, updatedAt: new Date(now).toISOString() };
    return this.notifyConfig();
  }

  /** The routing tree and the receivers with their integrations (for the UI; no credentials). */
  notificationRoutes() {
    const cfg = this.notifier.config;
    const route = (r: Route): unknown => ({
      receiver: r.receiver,
      matchers: r.matchers.map(formatMatcher),
      groupBy: r.groupBy ?? ['...'],
      groupWait: r.groupWaitMs / 1000,
      groupInterval: r.groupIntervalMs / 1000,
      repeatInterval: r.repeatIntervalMs / 1000,
      continue: r.continue,
      muteTimeIntervals: r.muteTimeIntervals,
      activeTimeIntervals: r.activeTimeIntervals,
      timeMuted: this.notifier.timeMuted(r),
      routes: r.routes.map(route),
    });
    return {
      route: route(cfg.route),
      receivers: [...cfg.receivers.values()].map((r) => ({ name: r.name, integrations: r.integrations.map((i) => ({ kind: i.kind, sendResolved: i.sendResolved })) })),
      timeIntervals: [...cfg.timeIntervals.keys()],
    };
  }

  /**
   * Send a test notification to every integration of a receiver, now, bypassing routing,
   * grouping, silences and the notification log. Answers each integration's outcome.
   */
  async testReceiver(name: string): Promise<{ integration: string; ok: boolean; error?: string }[]> {
    const r = this.notifier.config.receivers.get(name);
    if (!r) throw new MetronomeError('MTR_RECEIVER_NOT_FOUND', [name]);
    const now = this.clock.now();
    const labels = { alertname: 'TestAlert', receiver: name, instance: 'metronome' };
    const alert = { fingerprint: fingerprint(labels), labels, annotations: { summary: 'Test notification from Metronome', description: 'Sent from the notification settings to check that this receiver works.' }, startsAt: now, endsAt: now + 5 * 60_000, generatorURL: this.deps.settings.externalURL, updatedAt: now };
    const n = { receiver: name, groupKey: `{}/test:{receiver=${JSON.stringify(name)}}`, groupLabels: { alertname: 'TestAlert' }, alerts: [{ alert, status: 'firing' as const }], externalURL: this.deps.settings.externalURL, now, templates: this.notifier.config.templates };
    const signal = AbortSignal.timeout(30_000);
    return Promise.all(
      r.integrations.map(async (c) => {
        const res = await c.create({ log: this.deps.log.child({ component: 'notifier', test: true }) }).send(n, signal);
        return { integration: c.kind, ok: res.ok, ...(res.error ? { error: res.error } : {}) };
      }),
    );
  }

  // ---- alerts from other systems (POST /api/v2/alerts) ----

  /**
   * Take alerts as Alertmanager does: checked, then routed, inhibited, silenced and notified with
   * Metronome's own. Each one that starts firing or resolves is recorded in the alert history
   * (rule id `api`, rule name its alertname).
   */
  async receiveAlerts(body: unknown): Promise<number> {
    const now = this.clock.now();
    const { alerts, issues } = parsePostedAlerts(body, now, this.notifier.config.resolveTimeoutMs);
    if (issues.length) throw invalid('MTR_ALERTS_INVALID', issues);
    const history: HistoryRow[] = [];
    for (const a of alerts) {
      const old = this.notifier.alert(a.fingerprint);
      const was = old && !this.notifier.isResolved(old, now) ? 'firing' : 'inactive';
      const is = a.endsAt <= now ? 'resolved' : 'firing';
      if ((was === 'firing') === (is === 'firing')) continue;
      if (was === 'inactive' && is === 'resolved') continue;
      history.push({ fingerprint: a.fingerprint, labels: a.labels, annotations: a.annotations, from: was, to: is, value: NaN, ts: now, ruleId: 'api', ruleName: a.labels.alertname ?? '', groupKey: 'api/v2/alerts' });
    }
    this.notifier.push(alerts, 'api');
    if (history.length) {
      try {
        await this.db.appendHistory(history);
      } catch (err) {
        this.deps.log.error({ err }, 'could not record posted alerts in the history');
      }
    }
    return alerts.length;
  }

  // ---- rules ----

  #apiGroups(): RuleGroup[] {
    const byGroup = new Map<string, { id: string; r: StoredRule & { parsed: ApiRuleSpec } }[]>();
    for (const [id, r] of this.#apiRules) {
      const list = byGroup.get(r.parsed.group) ?? [];
      list.push({ id, r });
      byGroup.set(r.parsed.group, list);
    }
    const out: RuleGroup[] = [];
    for (const [name, list] of byGroup) {
      list.sort((a, b) => a.r.createdAt - b.r.createdAt || (a.id < b.id ? -1 : 1));
      const interval = list.find((x) => x.r.parsed.interval !== undefined)?.r.parsed.interval ?? this.deps.settings.evalIntervalMs;
      out.push({ key: `api/${name}`, name, file: 'api', source: 'api', intervalMs: interval, limit: 0, queryOffsetMs: 0, rules: list.map((x) => apiToRule(x.r.parsed, x.id)) });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  #sloGroups(): RuleGroup[] {
    return [...this.#slos].map(([id, s]) => sloRuleGroup(id, s.spec, this.deps.settings.evalIntervalMs));
  }

  #allGroups(): RuleGroup[] {
    return [...this.#fileGroups, ...this.#apiGroups(), ...this.#sloGroups()];
  }

  /** Every rule with the group it is in. */
  rules(): { rule: RuleGroup['rules'][number]; group: RuleGroup; stored?: StoredRule }[] {
    const out: { rule: RuleGroup['rules'][number]; group: RuleGroup; stored?: StoredRule }[] = [];
    for (const { group } of this.evaluator.groups()) for (const rule of group.rules) out.push({ rule, group, stored: this.#apiRules.get(rule.id) });
    return out;
  }

  rule(id: string) {
    const r = this.rules().find((x) => x.rule.id === id);
    if (!r) throw new MetronomeError('MTR_ALERT_RULE_NOT_FOUND', [id]);
    return r;
  }

  async #locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  #validateRule(body: unknown, selfId?: string): ApiRuleSpec {
    const v = validateApiRule(body, { check: this.check, minIntervalMs: this.deps.settings.minIntervalMs });
    if (!v.ok) throw invalid('MTR_ALERT_RULE_INVALID', v.issues);
    const spec = v.spec;
    if (spec.interval !== undefined) {
      for (const [id, r] of this.#apiRules) {
        if (id === selfId || r.parsed.group !== spec.group || r.parsed.interval === undefined || r.parsed.interval === spec.interval) continue;
        throw new MetronomeError('MTR_ALERT_GROUP_INTERVAL', [spec.group, r.parsed.interval / 1000, spec.interval / 1000]);
      }
    }
    return spec;
  }

  async createRule(body: unknown): Promise<string> {
    return this.#locked(async () => {
      const spec = this.#validateRule(body);
      const id = randomUUID();
      const stored: StoredRule = { spec: body as Record<string, unknown>, createdAt: Date.now() };
      await this.db.putObject('rule', id, stored);
      this.#apiRules.set(id, { ...stored, parsed: spec });
      await this.evaluator.setGroups(this.#allGroups());
      return id;
    });
  }

  async updateRule(id: string, body: unknown): Promise<void> {
    return this.#locked(async () => {
      const prev = this.#apiRules.get(id);
      if (!prev) this.#notEditable(id);
      const spec = this.#validateRule(body, id);
      const stored: StoredRule = { spec: body as Record<string, unknown>, createdAt: prev!.createdAt };
      await this.db.putObject('rule', id, stored);
      this.#apiRules.set(id, { ...stored, parsed: spec });
      await this.evaluator.setGroups(this.#allGroups());
    });
  }

  async deleteRule(id: string): Promise<void> {
    return this.#locked(async () => {
      if (!this.#apiRules.has(id)) this.#notEditable(id);
      await this.db.deleteObject('rule', id);
      this.#apiRules.delete(id);
      await this.evaluator.setGroups(this.#allGroups());
    });
  }

  #notEditable(id: string): never {
    const r = this.rules().find((x) => x.rule.id === id);
    if (r) throw new MetronomeError('MTR_ALERT_RULE_READ_ONLY', [id, r.group.source === 'file' ? `rule file ${r.group.file}` : 'an SLO']);
    throw new MetronomeError('MTR_ALERT_RULE_NOT_FOUND', [id]);
  }

  // ---- SLOs ----

  slos(): { id: string; spec: SloSpec; group: RuleGroup }[] {
    return [...this.#slos].map(([id, s]) => ({ id, spec: s.spec, group: sloRuleGroup(id, s.spec, this.deps.settings.evalIntervalMs) }));
  }

  async putSlo(id: string | undefined, body: unknown): Promise<string> {
    return this.#locked(async () => {
      const v = validateSlo(body, this.check);
      if (!v.ok) throw invalid('MTR_SLO_INVALID', v.issues);
      if (id !== undefined && !this.#slos.has(id)) throw new MetronomeError('MTR_SLO_NOT_FOUND', [id]);
      const sid = id ?? randomUUID();
      const createdAt = this.#slos.get(sid)?.createdAt ?? Date.now();
      await this.db.putObject('slo', sid, { spec: body, createdAt });
      this.#slos.set(sid, { spec: v.spec, raw: body, createdAt });
      await this.evaluator.setGroups(this.#allGroups());
      return sid;
    });
  }

  async deleteSlo(id: string): Promise<void> {
    return this.#locked(async () => {
      if (!this.#slos.has(id)) throw new MetronomeError('MTR_SLO_NOT_FOUND', [id]);
      await this.db.deleteObject('slo', id);
      this.#slos.delete(id);
      await this.evaluator.setGroups(this.#allGroups());
    });
  }
}
