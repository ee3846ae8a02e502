import type { Logger } from 'pino';
import type { SeriesSamples } from '../../ingest/types.js';
import { systemClock, type Clock, type TimerHandle } from '../alerting/clock.js';
import { chTime } from '../store/store.js';
import { param, sql, type Store } from '../store/index.js';
import type { Writer } from '../writer.js';
import type { ServiceDef } from '../services/model.js';
import { runProbe, type ProbeResult } from './kinds.js';
import { checkTarget, probeSchema, type CheckedProbe, type Probe, type ProbePolicy, type ProbeSpec } from './model.js';

/**
 * Runs the probes: the ones created through the API (table `probes`) and one per registered
 * service with a `health` link. Each probe has its own timer on the injected clock; a run writes
 * probe_success, probe_duration_seconds, probe_http_status_code (http) and
 * probe_ssl_earliest_cert_expiry (https, tls) through the writer, labelled with the service,
 * probe name, kind and target, at the clock's time. A run never overlaps the previous one of the
 * same probe; a write that fails is logged and the next run goes ahead.
 */

export interface SchedulerDeps {
  store: Store;
  writer: Pick<Writer, 'write'>;
  log: Logger;
  policy: ProbePolicy;
  clock?: Clock;
  /** Registered services (for their health links). */
  services: () => Promise<ServiceDef[]>;
}

interface Entry {
  probe: Probe;
  /** The target, interval and timeout, parsed once when the probe is (re)loaded. */
  checked: CheckedProbe;
  timer: TimerHandle | null;
  running: Promise<void> | null;
  last: (ProbeResult & { at: number }) | null;
  /** JSON of the spec, to see whether a reload changed it. */
  key: string;
}

/** Probe of a service's health link. */
function healthProbe(svc: ServiceDef): ProbeSpec | null {
  const link = svc.links?.health;
  if (!link) return null;
  return { name: `${svc.name}-health`, service: svc.name, kind: 'http', target: link, interval: '30s', expect: {} };
}

let lastVersion = 0;
function nextVersion(): number {
  lastVersion = Math.max(Date.now(), lastVersion + 1);
  return lastVersion;
}

export async function storedProbes(store: Store, name?: string): Promise<ProbeSpec[]> {
  const where = name === undefined ? sql`1` : sql`name = ${param('String', name)}`;
  const rows = await store.query<{ name: string; doc: string }>(
    sql`SELECT name, argMax(doc, updated_at) AS doc, argMax(deleted, updated_at) AS del
        FROM probes WHERE ${where} GROUP BY name HAVING del = 0 ORDER BY name`,
  );
  const out: ProbeSpec[] = [];
  for (const r of rows) {
    let json: unknown;
    try {
      json = JSON.parse(r.doc);
    } catch {
      continue;
    }
    const parsed = probeSchema.safeParse(json);
    if (parsed.success) out.push({ ...parsed.data, name: r.name });
  }
  return out;
}

export async function putProbe(store: Store, spec: ProbeSpec): Promise<void> {
  await store.insertRows('probes', [{ name: spec.name, doc: JSON.stringify(spec), updated_at: chTime(nextVersion()), deleted: 0 }]);
}

export async function deleteProbe(store: Store, name: string): Promise<boolean> {
  if ((await storedProbes(store, name)).length === 0) return false;
  await store.insertRows('probes', [{ name, doc: '', updated_at: chTime(nextVersion()), deleted: 1 }]);
  return true;
}

/** Reload from the store this often, to follow registry changes made elsewhere. */
const RELOAD_MS = 60_000;

export class ProbeScheduler {
  readonly #d: SchedulerDeps;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();
  #reloadTimer: TimerHandle | null = null;
  #reloading: Promise<void> | null = null;
  #stopped = false;
  /**
   * Whether runs happen. In cluster mode only the leader's scheduler is active (server/cluster);
   * the others keep their schedule and list, so the API answers the same on every node.
   */
  active = true;

  constructor(deps: SchedulerDeps) {
    this.#d = deps;
    this.#clock = deps.clock ?? systemClock;
  }

  /** Load the probes and keep reloading every minute. */
  async start(): Promise<void> {
    await this.reload();
    const again = () => {
      if (this.#stopped) return;
      this.#reloadTimer = this.#clock.setTimeout(async () => {
        await this.reload().catch((e) => this.#d.log.warn({ err: e }, 'probes: reload failed'));
        again();
      }, RELOAD_MS);
    };
    again();
  }

  /** Every probe with its last result, sorted by name. */
  list(): (Probe & { last: Entry['last'] })[] {
    return [...this.#entries.values()].map((e) => ({ ...e.probe, last: e.last })).sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): (Probe & { last: Entry['last'] }) | null {
    const e = this.#entries.get(name);
    return e ? { ...e.probe, last: e.last } : null;
  }

  /** Read the probes again (after an API change); starts new ones, stops removed ones, restarts changed ones. */
  reload(): Promise<void> {
    // One reload at a time; a call during one waits for it and then runs its own.
    const prev = this.#reloading ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => this.#reload());
    this.#reloading = next.finally(() => {
      if (this.#reloading === next) this.#reloading = null;
    });
    return next;
  }

  async #reload(): Promise<void> {
    if (this.#stopped) return;
    const [stored, services] = await Promise.all([storedProbes(this.#d.store), this.#d.services()]);
    const wanted = new Map<string, Probe>();
    for (const svc of services) {
      const p = healthProbe(svc);
      if (p) wanted.set(p.name, { ...p, source: 'health-link' });
    }
    // A probe created through the API with the same name wins over the derived one.
    for (const p of stored) wanted.set(p.name, { ...p, source: 'api' });
    for (const [name, e] of this.#entries) {
      const w = wanted.get(name);
      if (!w || JSON.stringify(w) !== e.key) this.#remove(name);
    }
    for (const [name, probe] of wanted) {
      if (this.#entries.has(name)) continue;
      const checked = checkTarget(probe, this.#d.policy);
      if ('issues' in checked) {
        this.#d.log.warn({ probe: name, issues: checked.issues }, 'probes: skipped a probe the target policy refuses');
        continue;
      }
      const e: Entry = { probe, checked, timer: null, running: null, last: null, key: JSON.stringify(probe) };
      this.#entries.set(name, e);
      // First run right away: a new probe shows a value without waiting an interval.
      e.timer = this.#clock.setTimeout(() => this.#tick(e), 0);
    }
  }

  #remove(name: string): void {
    const e = this.#entries.get(name);
    if (!e) return;
    if (e.timer) this.#clock.clearTimeout(e.timer);
    e.timer = null;
    this.#entries.delete(name);
  }

  async #tick(e: Entry): Promise<void> {
    e.timer = null;
    if (this.#stopped || this.#entries.get(e.probe.name) !== e) return;
    // Schedule the next run first, so the cadence does not drift by the run's duration.
    e.timer = this.#clock.setTimeout(() => this.#tick(e), e.checked.intervalMs);
    if (e.running) return; // the previous run is still going (a slow target): skip this one
    if (!this.active) return; // cluster mode, not the leader: the leader probes
    e.running = this.#run(e).finally(() => (e.running = null));
    await e.running;
  }

  async #run(e: Entry): Promise<void> {
    const at = this.#clock.now();
    const r = await runProbe({ spec: e.probe, target: e.checked.target, policy: this.#d.policy }, e.checked.timeoutMs);
    e.last = { ...r, at };
    if (!r.success) this.#d.log.debug({ probe: e.probe.name, error: r.error }, 'probe failed');
    try {
      await this.#d.writer.write(resultBatch(e.probe, r, at), 'probes');
    } catch (err) {
      this.#d.log.warn({ err, probe: e.probe.name }, 'probes: writing a result failed');
    }
  }

  /** Stop every timer and wait for runs in flight (their results still go through the writer). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#reloadTimer) this.#clock.clearTimeout(this.#reloadTimer);
    const running: Promise<void>[] = [];
    for (const e of this.#entries.values()) {
      if (e.timer) this.#clock.clearTimeout(e.timer);
      if (e.running) running.push(e.running);
    }
    await Promise.allSettled(running);
  }
}

/** A probe result as series (the labels Prometheus' blackbox exporter setups carry, plus the service). */
function resultBatch(p: ProbeSpec, r: ProbeResult, at: number): { series: SeriesSamples[]; points: number } {
  const tags = { service: p.service, probe: p.name, kind: p.kind, target: p.target };
  const one = (key: string, v: number): SeriesSamples => ({ key, tags, timestamps: [at], values: [v] });
  const series = [one('probe_success', r.success ? 1 : 0), one('probe_duration_seconds', r.duration)];
  if (p.kind === 'http') series.push(one('probe_http_status_code', r.httpStatus ?? 0));
  if (r.certExpiry !== undefined) series.push(one('probe_ssl_earliest_cert_expiry', r.certExpiry));
  return { series, points: series.length };
}
