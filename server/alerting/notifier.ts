/**
 * The in-process Alertmanager: alerts from the evaluator are routed through the route tree into
 * aggregation groups (group_by), flushed after group_wait, then every group_interval; a flush
 * drops inhibited and silenced alerts, asks the notification log whether anything changed (or
 * repeat_interval passed), and sends to each integration of the receiver concurrently, retrying
 * with exponential backoff until the next flush is due. What was delivered is recorded in the
 * notification log (ClickHouse), so a restart neither repeats nor loses a notification.
 * Semantics follow Alertmanager's dispatch, inhibit and notify packages.
 */
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { sleep, type Clock, type TimerHandle } from './clock.js';
import { fingerprint, matchesAll, type Labels } from './labels.js';
import { matchRoutes, type InhibitRule, type NotifyConfig, type Route } from './notify-config.js';
import type { AlertingStore, NflogEntry } from './persistence.js';
import { anyContains } from './time-intervals.js';
import type { Integration, Notification, NotifierAlert } from './receivers.js';
import { SendQueue, type DropReason } from './send-queue.js';
import type { Silences } from './silences.js';

export interface NotifierOptions {
  clock: Clock;
  /**
   * Cluster mode: asked before every send; false means this node no longer holds the leader
   * lease (its fencing token is stale), and the notification is left to the leader.
   */
  fence?: () => Promise<boolean>;
  log: Logger;
  store: AlertingStore;
  silences: Silences;
  externalURL: string;
  /** First retry delay after a failed send; doubles up to maxRetryMs. */
  retryInitialMs?: number;
  maxRetryMs?: number;
  /** Alerts of Metronome's own rules as they are pushed (forwarded to ALERTMANAGER_URLS). */
  onRuleAlerts?: (alerts: readonly NotifierAlert[]) => void;
  /** Sends in flight to one integration at once (also its most sockets). */
  sendConcurrency?: number;
  /** Notifications waiting for one integration before new ones are dropped. */
  sendQueueCapacity?: number;
  /** Called when a notification is dropped because its integration's queue is full or it waited past its flush (for /metrics). */
  onDrop?: (e: { receiver: string; integration: string; reason: DropReason }) => void;
  /** Called after every send attempt sequence (for /metrics). */
  onSend?: (e: { receiver: string; integration: string; ok: boolean; attempts: number; seconds: number }) => void;
}

interface AggrGroup {
  id: string;
  key: string;
  route: Route;
  labels: Labels;
  alerts: Map<string, NotifierAlert>;
  timer: TimerHandle | null;
  nextAt: number;
  hasFlushed: boolean;
  flushing: Promise<void> | null;
}

/** Notification log entries are forgotten after this (Alertmanager's --data.retention default). */
const NFLOG_RETENTION_MS = 120 * 3_600_000;
/** Alertmanager's floor for a flush's deadline. */
const MIN_FLUSH_TIMEOUT_MS = 10_000;

/** Alertmanager's LabelSet.String(): {a="1", b="2"}. */
function labelSetString(l: Labels): string {
  return `{${Object.keys(l)
    .map((k) => `${k}=${JSON.stringify(l[k])}`)
    .sort()
    .join(', ')}}`;
}

function groupLabelsOf(route: Route, labels: Labels): Labels {
  if (route.groupBy === null) return { ...labels };
  const out: Labels = {};
  for (const n of route.groupBy) if (labels[n] !== undefined) out[n] = labels[n];
  return out;
}

/** Alertmanager's order within a notification: by job, then instance, then all labels. */
function compareAlerts(a: NotifierAlert, b: NotifierAlert): number {
  for (const k of ['job', 'instance']) {
    const x = a.labels[k];
    const y = b.labels[k];
    if (x !== undefined && y !== undefined && x !== y) return x < y ? -1 : 1;
    if (x === undefined && y !== undefined) return 1;
    if (x !== undefined && y === undefined) return -1;
  }
  const ka = labelSetString(a.labels);
  const kb = labelSetString(b.labels);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

const isSubset = (sub: Set<string>, sup: Set<string>) => [...sub].every((x) => sup.has(x));

export class Notifier {
  #config!: NotifyConfig;
  readonly #integrations = new Map<string, { integ: Integration; queue: SendQueue }[]>();
  readonly #retired = new Set<SendQueue>();
  readonly #alerts = new Map<string, NotifierAlert>();
  readonly #groups = new Map<string, AggrGroup>();
  readonly #nflog = new Map<string, NflogEntry>();
  /** Aborts retry backoffs at stop; in-flight sends get a grace period first. */
  readonly #sleepAbort = new AbortController();
  readonly #sendAbort = new AbortController();
  #busy = 0;
  #sleeping = 0;
  readonly #tasks = new Set<Promise<unknown>>();
  #stopped = false;

  constructor(readonly opts: NotifierOptions) {
    // Every queued, sleeping and in-flight send listens on these two (and removes its listener
    // when it settles): as many as the send queues hold, not a leak past Node's default of 10.
    setMaxListeners(0, this.#sleepAbort.signal, this.#sendAbort.signal);
  }

  get config(): NotifyConfig {
    return this.#config;
  }

  /** Load the notification log. */
  async load(): Promise<void> {
    const now = this.opts.clock.now();
    for (const e of await this.opts.store.loadNflog()) {
      if (now - e.sentAt < NFLOG_RETENTION_MS) this.#nflog.set(`${e.receiver}\u0000${e.groupKey}`, e);
    }
  }

  /** Apply a (new) config: groups are rebuilt from the held alerts, as Alertmanager does on reload. */
  setConfig(config: NotifyConfig): void {
    this.#config = config;
    // Sends of the old config still running or waiting are counted until they end.
    for (const list of this.#integrations.values()) for (const x of list) this.#retired.add(x.queue);
    this.#integrations.clear();
    const concurrency = this.opts.sendConcurrency ?? 4;
    const capacity = this.opts.sendQueueCapacity ?? 256;
    for (const r of config.receivers.values()) {
      this.#integrations.set(
        r.name,
        r.integrations.map((c) => ({ integ: c.create({ log: this.opts.log }), queue: new SendQueue(this.opts.clock, concurrency, capacity) })),
      );
    }
    for (const g of this.#groups.values()) if (g.timer) this.opts.clock.clearTimeout(g.timer);
    this.#groups.clear();
    for (const a of this.#alerts.values()) this.#route(a);
  }

  /**
   * Receive alerts (firing ones, and resolved ones with endsAt set) from the evaluator, or from
   * clients of POST /api/v2/alerts (`source: 'api'`). Only the evaluator's are forwarded to
   * ALERTMANAGER_URLS, as Prometheus forwards only its own.
   */
  push(alerts: readonly NotifierAlert[], source: 'rules' | 'api' = 'rules'): void {
    if (this.#stopped) return;
    if (source === 'rules') this.opts.onRuleAlerts?.(alerts);
    const now = this.opts.clock.now();
    for (const a of alerts) {
      const old = this.#alerts.get(a.fingerprint);
      const merged = { ...a };
      // An alert that keeps firing keeps its start (Alertmanager's Alert.Merge).
      if (old && !this.#resolved(old, now) && old.startsAt < a.startsAt) merged.startsAt = old.startsAt;
      this.#alerts.set(a.fingerprint, merged);
      this.#route(merged);
    }
    this.#gc(now);
  }

  #resolved(a: NotifierAlert, now: number): boolean {
    return a.endsAt !== 0 && a.endsAt <= now;
  }

  #gc(now: number): void {
    for (const [fp, a] of this.#alerts) {
      if (!this.#resolved(a, now) || now - a.endsAt < 30 * 60_000) continue;
      let held = false;
      for (const g of this.#groups.values()) if (g.alerts.has(fp)) held = true;
      if (!held) this.#alerts.delete(fp);
    }
  }

  #route(a: NotifierAlert): void {
    const now = this.opts.clock.now();
    for (const route of matchRoutes(this.#config.route, a.labels)) {
      const labels = groupLabelsOf(route, a.labels);
      const id = `${route.id}\u0000${fingerprint(labels)}`;
      let g = this.#groups.get(id);
      if (!g) {
        g = { id, key: `${route.key}:${labelSetString(labels)}`, route, labels, alerts: new Map(), timer: null, nextAt: 0, hasFlushed: false, flushing: null };
        this.#groups.set(id, g);
        this.#schedule(g, route.groupWaitMs);
      }
      g.alerts.set(a.fingerprint, a);
      // An alert that started long ago need not wait for group_wait.
      if (!g.hasFlushed && a.startsAt + route.groupWaitMs < now && g.nextAt > now) this.#schedule(g, 0);
    }
  }

  #schedule(g: AggrGroup, ms: number): void {
    if (g.timer) this.opts.clock.clearTimeout(g.timer);
    g.nextAt = this.opts.clock.now() + ms;
    g.timer = this.opts.clock.setTimeout(() => this.#onTimer(g), ms);
  }

  /** A group's timer: schedule the next flush, then flush in the background (a slow receiver delays only this group). */
  #onTimer(g: AggrGroup): void {
    g.timer = null;
    if (this.#stopped || this.#groups.get(g.id) !== g) return;
    const deadline = this.opts.clock.now() + Math.max(g.route.groupIntervalMs, MIN_FLUSH_TIMEOUT_MS);
    this.#schedule(g, g.route.groupIntervalMs);
    g.hasFlushed = true;
    // A flush still running (a slow or dead receiver) is not queued behind: the next tick
    // carries whatever changed, so a stuck receiver cannot pile up flushes.
    if (g.flushing) return;
    const run = this.#flush(g, deadline);
    g.flushing = run;
    this.#track(run.finally(() => {
      if (g.flushing === run) g.flushing = null;
    }));
  }

  #track<T>(p: Promise<T>): void {
    this.#busy++;
    const t = p.then(
      () => undefined,
      (err) => this.opts.log.error({ err }, 'notification flush failed'),
    ).finally(() => {
      this.#busy--;
      this.#tasks.delete(t);
    });
    this.#tasks.add(t);
  }

  async #flush(g: AggrGroup, deadline: number): Promise<void> {
    const now = this.opts.clock.now();
    if (g.alerts.size === 0) return this.#dropIfEmpty(g);
    const snapshot = [...g.alerts.values()].sort(compareAlerts);
    const resolvedAtFlush = snapshot.filter((a) => this.#resolved(a, now));
    // Time mute stages: outside its active intervals or inside its mute intervals, a route sends
    // nothing, and the resolved alerts of the flush are forgotten (Alertmanager's TimeMuteStage).
    const timeMuted = this.timeMuted(g.route, now);
    // Mute stage: inhibited and silenced alerts are not notified.
    const unmuted = timeMuted ? [] : snapshot.filter((a) => !this.mutedBy(a.labels, now).muted);
    let ok = true;
    if (unmuted.length) {
      const integrations = this.#integrations.get(g.route.receiver) ?? [];
      const results = await Promise.all(integrations.map((x, i) => this.#deliver(g, x.integ, x.queue, i, unmuted, now, deadline)));
      ok = results.every(Boolean);
    }
    if (ok) {
      // Resolved alerts were delivered; forget them unless they changed during the flush.
      for (const a of resolvedAtFlush) if (g.alerts.get(a.fingerprint) === a) g.alerts.delete(a.fingerprint);
    }
    this.#dropIfEmpty(g);
  }

  #dropIfEmpty(g: AggrGroup): void {
    if (g.alerts.size > 0 || this.#groups.get(g.id) !== g) return;
    if (g.timer) this.opts.clock.clearTimeout(g.timer);
    this.#groups.delete(g.id);
  }

  /** Dedup against the notification log, send with retries, record. Returns false if it could not deliver. */
  async #deliver(g: AggrGroup, integ: Integration, queue: SendQueue, idx: number, alerts: NotifierAlert[], now: number, deadline: number): Promise<boolean> {
    const receiverKey = `${g.route.receiver}/${integ.kind}/${idx}`;
    const logKey = `${receiverKey}\u0000${g.key}`;
    const firing = new Set<string>();
    const resolved = new Set<string>();
    for (const a of alerts) (this.#resolved(a, now) ? resolved : firing).add(a.fingerprint);
    const entry = this.#nflog.get(logKey);
    if (!this.#needsUpdate(entry, firing, resolved, integ.sendResolved, g.route.repeatIntervalMs, now)) return true;

    const toSend = integ.sendResolved ? alerts : alerts.filter((a) => firing.has(a.fingerprint));
    if (toSend.length) {
      if (this.opts.fence && !(await this.opts.fence())) {
        this.opts.log.warn({ receiver: receiverKey, groupKey: g.key }, 'not the leader any more: notification left to the leader');
        return false;
      }
      const n: Notification = {
        receiver: g.route.receiver,
        groupKey: g.key,
        groupLabels: g.labels,
        alerts: toSend.map((alert) => ({ alert, status: resolved.has(alert.fingerprint) ? 'resolved' : 'firing' })),
        externalURL: this.opts.externalURL,
        now,
        templates: this.#config.templates,
      };
      const r = await queue.run(() => this.#sendWithRetry(integ, n, receiverKey, deadline), deadline - this.opts.clock.now(), this.#sleepAbort.signal);
      if (!r.ok) {
        this.opts.log.warn({ receiver: receiverKey, groupKey: g.key, reason: r.reason, queued: queue.queued }, 'notification dropped: the receiver is not keeping up; the next flush will try again');
        this.opts.onDrop?.({ receiver: g.route.receiver, integration: integ.kind, reason: r.reason });
        return false;
      }
      if (!r.value) return false;
    }
    const e: NflogEntry = { receiver: receiverKey, groupKey: g.key, firing: [...firing].sort(), resolved: [...resolved].sort(), sentAt: now };
    this.#nflog.set(logKey, e);
    try {
      await this.opts.store.putNflog(e);
    } catch (err) {
      this.opts.log.error({ err, receiver: receiverKey, groupKey: g.key }, 'could not record a notification; it may be repeated after a restart');
    }
    return true;
  }

  /** Alertmanager's DedupStage.needsUpdate. */
  #needsUpdate(entry: NflogEntry | undefined, firing: Set<string>, resolved: Set<string>, sendResolved: boolean, repeatMs: number, now: number): boolean {
    if (!entry) return firing.size > 0;
    if (!isSubset(firing, new Set(entry.firing))) return true;
    // All resolved: notify so the log's firing set is cleared (receivers only hear of it with send_resolved).
    if (firing.size === 0) return entry.firing.length > 0;
    if (sendResolved && !isSubset(resolved, new Set(entry.resolved))) return true;
    // Strictly older, as Alertmanager compares: the repeat lands on the first flush after repeat_interval.
    return entry.sentAt < now - repeatMs;
  }

  async #sendWithRetry(integ: Integration, n: Notification, receiverKey: string, deadline: number): Promise<boolean> {
    const { clock, log } = this.opts;
    const initial = this.opts.retryInitialMs ?? 1000;
    const max = this.opts.maxRetryMs ?? 60_000;
    const started = performance.now();
    let attempt = 0;
    for (;;) {
      attempt++;
      const r = await integ.send(n, this.#sendAbort.signal);
      if (r.ok) {
        if (attempt > 1) log.info({ receiver: receiverKey, groupKey: n.groupKey, attempts: attempt }, 'notification delivered after retries');
        this.opts.onSend?.({ receiver: n.receiver, integration: integ.kind, ok: true, attempts: attempt, seconds: (performance.now() - started) / 1000 });
        return true;
      }
      // A receiver that says how long to wait (429/503 Retry-After) is waited for at least that long.
      const delay = Math.max(Math.min(max, initial * 2 ** (attempt - 1)), r.retryAfterMs ?? 0);
      const giveUp = !r.retry || this.#stopped || clock.now() + delay >= deadline;
      log.warn({ receiver: receiverKey, groupKey: n.groupKey, attempt, error: r.error, retry: !giveUp, retryAfterMs: r.retryAfterMs }, giveUp ? 'notification failed; the next flush will try again' : 'notification failed; retrying');
      if (giveUp) {
        this.opts.onSend?.({ receiver: n.receiver, integration: integ.kind, ok: false, attempts: attempt, seconds: (performance.now() - started) / 1000 });
        return false;
      }
      this.#sleeping++;
      try {
        await sleep(clock, delay, this.#sleepAbort.signal);
      } catch {
        return false;
      } finally {
        this.#sleeping--;
      }
    }
  }

  /** The time interval that mutes a route now (a mute interval active, or no active interval active), or null. */
  timeMuted(route: Route, now = this.opts.clock.now()): string | null {
    const ti = this.#config.timeIntervals;
    for (const name of route.muteTimeIntervals) if (anyContains(ti.get(name) ?? [], now)) return name;
    if (route.activeTimeIntervals.length && !route.activeTimeIntervals.some((name) => anyContains(ti.get(name) ?? [], now))) return route.activeTimeIntervals.join(',');
    return null;
  }

  /** Whether an alert with these labels is silenced or inhibited now, and by what. */
  mutedBy(labels: Labels, now = this.opts.clock.now()): { muted: boolean; silencedBy: string[]; inhibitedBy: string[] } {
    const silencedBy = this.opts.silences.mutedBy(labels, now);
    const inhibitedBy = this.#inhibitedBy(labels, now);
    return { muted: silencedBy.length > 0 || inhibitedBy.length > 0, silencedBy, inhibitedBy };
  }

  /** Alertmanager's Inhibitor.Mutes: a firing source alert with equal `equal` labels mutes the target. */
  #inhibitedBy(labels: Labels, now: number): string[] {
    const rules: InhibitRule[] = this.#config?.inhibitRules ?? [];
    for (const r of rules) {
      if (!matchesAll(r.target, labels)) continue;
      const twoSided = matchesAll(r.source, labels);
      for (const s of this.#alerts.values()) {
        if (this.#resolved(s, now) || !matchesAll(r.source, s.labels)) continue;
        if (twoSided && matchesAll(r.target, s.labels)) continue;
        if (r.equal.every((n) => (s.labels[n] ?? '') === (labels[n] ?? ''))) return [s.fingerprint];
      }
    }
    return [];
  }

  /** The held alert with this fingerprint. */
  alert(fp: string): NotifierAlert | undefined {
    return this.#alerts.get(fp);
  }

  /** Whether an alert is resolved at `now`. */
  isResolved(a: NotifierAlert, now = this.opts.clock.now()): boolean {
    return this.#resolved(a, now);
  }

  /** The receivers the route tree sends these labels to. */
  receiversFor(labels: Labels): string[] {
    return [...new Set(matchRoutes(this.#config.route, labels).map((r) => r.receiver))];
  }

  /** Every alert not yet resolved, with its receivers and why it is muted (Alertmanager's GET /api/v2/alerts). */
  activeAlerts(now = this.opts.clock.now()) {
    const out = [];
    for (const a of this.#alerts.values()) {
      if (this.#resolved(a, now)) continue;
      out.push({ alert: a, receivers: this.receiversFor(a.labels), ...this.mutedBy(a.labels, now) });
    }
    return out;
  }

  /** The aggregation groups with their route (for Alertmanager's GET /api/v2/alerts/groups). */
  groupsWithAlerts(): { labels: Labels; receiver: string; alerts: NotifierAlert[] }[] {
    return [...this.#groups.values()].map((g) => ({ labels: g.labels, receiver: g.route.receiver, alerts: [...g.alerts.values()] }));
  }

  /** The aggregation groups and their alerts (for the API). */
  groups(now = this.opts.clock.now()) {
    return [...this.#groups.values()].map((g) => ({
      groupKey: g.key,
      receiver: g.route.receiver,
      labels: g.labels,
      nextFlushAt: new Date(g.nextAt).toISOString(),
      alerts: [...g.alerts.values()].map((a) => ({ fingerprint: a.fingerprint, labels: a.labels, status: this.#resolved(a, now) ? 'resolved' : 'firing', ...this.mutedBy(a.labels, now) })),
    }));
  }

  /**
   * Resolves when no notification work is running except sends waiting out a retry backoff
   * (tests advance a manual clock past those).
   */
  async settled(timeoutMs = 15_000): Promise<void> {
    const start = Date.now();
    while (this.#busy > this.#sleeping + this.#queuedSends()) {
      if (Date.now() - start > timeoutMs) throw new Error(`notifier not settled after ${timeoutMs} ms (${this.#busy} busy, ${this.#sleeping} backing off)`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Sends waiting for a slot of their integration's queue (they wait on the clock too). */
  #queuedSends(): number {
    let n = 0;
    for (const list of this.#integrations.values()) for (const x of list) n += x.queue.queued;
    for (const q of this.#retired) {
      if (q.running === 0 && q.queued === 0) this.#retired.delete(q);
      n += q.queued;
    }
    return n;
  }

  /** Queue state per integration (for tests and the API). */
  queues(): { receiver: string; integration: string; index: number; running: number; queued: number }[] {
    const out = [];
    for (const [receiver, list] of this.#integrations) for (const [index, x] of list.entries()) out.push({ receiver, integration: x.integ.kind, index, running: x.queue.running, queued: x.queue.queued });
    return out;
  }

  /** Stop timers and retries; let in-flight sends finish for a grace period, then abort them. */
  async stop(graceMs = 5000): Promise<void> {
    this.#stopped = true;
    for (const g of this.#groups.values()) if (g.timer) this.opts.clock.clearTimeout(g.timer);
    this.#sleepAbort.abort(new Error('notifier stopped'));
    // A send that completes is recorded, so it is not repeated after the restart.
    const grace = setTimeout(() => this.#sendAbort.abort(new Error('notifier stopped')), graceMs);
    await Promise.allSettled([...this.#tasks]);
    clearTimeout(grace);
  }
}
