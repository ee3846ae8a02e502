import { systemClock, type Clock, type TimerHandle } from '../alerting/clock.js';
import type { AppContext } from '../context.js';
import { proposeAlerts } from '../services/alerts.js';
import { putService, registeredServices, serviceMetrics } from '../services/registry.js';
import { param, sql, type Store } from '../store/index.js';
import { DEMO_ALERT, DEMO_NAMES, DEMO_SERVICES } from './catalog.js';
import { DemoTraffic, stepTimes } from './traffic.js';

/**
 * The demo lifecycle: register the demo services, backfill recent history, then push live samples
 * every interval through the real write path (ctx.writer.write, protocol "demo"), until stopped.
 */

export interface DemoOptions {
  intervalMs: number;
  backfillMs: number;
  seed?: number;
  /** Runs after the backfill (the server wires alert rules through it once alerting is up). */
  afterBackfill?: () => Promise<void>;
  /** Time for the backfill's end and the live pushes' schedule (tests pass a ManualClock). Default: wall-clock time. */
  clock?: Clock;
}

export interface DemoHandle {
  /** Resolves when the backfill is committed (live pushes follow). */
  ready: Promise<void>;
  /** Stop pushing; resolves when the last write has finished. */
  stop(): Promise<void>;
}

/** Points per write during the backfill: well under the writer's buffer limit. */
const CHUNK_POINTS = 150_000;

/**
 * Whether to run the demo for the DEMO setting: '1' always, '0' never, 'auto' when the store
 * holds no series, or only the demo's own (a restarted demo keeps going; real data turns it off).
 * Series Metronome writes itself (alerts, SLO recordings) do not count as real data.
 */
export async function shouldRunDemo(setting: 'auto' | '1' | '0', store: Store): Promise<boolean> {
  if (setting !== 'auto') return setting === '1';
  const rows = await store.query<{ other: string; total: string }>(
    sql`SELECT countIf(service NOT IN ${param('Array(String)', DEMO_NAMES)}) AS other, count() AS total FROM series
        WHERE key NOT IN ('ALERTS', 'ALERTS_FOR_STATE') AND NOT startsWith(key, 'slo:')`,
  );
  return Number(rows[0]?.other ?? 0) === 0;
}

export function startDemo(ctx: AppContext, opts: DemoOptions): DemoHandle {
  const { intervalMs } = opts;
  const clock = opts.clock ?? systemClock;
  const traffic = new DemoTraffic(DEMO_SERVICES, opts.seed ?? 42, clock.now() - opts.backfillMs);
  let stopped = false;
  let timer: TimerHandle | undefined;
  let inflight: Promise<unknown> = Promise.resolve();
  let last = 0;

  const push = async (times: number[]) => {
    if (times.length === 0 || stopped) return;
    const batch = traffic.samples(times, intervalMs);
    await ctx.writer.write(batch, 'demo');
    last = times[times.length - 1];
  };

  const backfill = async () => {
    await registerDemoServices(ctx.store);
    const now = clock.now();
    const previous = await lastDemoSample(ctx.store, now - opts.backfillMs);
    const from = Math.max(now - opts.backfillMs, previous ?? -Infinity);
    const all = stepTimes(from, now, intervalMs);
    // Series per step, measured on one step, sizes the chunks.
    const perStep = Math.max(1, traffic.samples([from], intervalMs).points);
    const stepsPerChunk = Math.max(1, Math.floor(CHUNK_POINTS / perStep));
    for (let i = 0; i < all.length && !stopped; i += stepsPerChunk) await push(all.slice(i, i + stepsPerChunk));
    last = all.length ? all[all.length - 1] : Math.floor(now / intervalMs) * intervalMs;
    ctx.log.info({ points: all.length * perStep, hours: +((now - from) / 3_600_000).toFixed(2) }, 'demo: backfill written');
    if (!stopped) await enableDemoAlerts(ctx).catch((err) => ctx.log.warn({ err }, 'demo: could not enable its alert rules'));
    if (opts.afterBackfill && !stopped) await opts.afterBackfill();
  };

  /** Returns the push, so a ManualClock's advance has it committed before moving on. */
  const tick = () => {
    if (stopped) return;
    inflight = push(stepTimes(last, clock.now(), intervalMs))
      .catch((err) => {
        if (!stopped) ctx.log.warn({ err }, 'demo: live push failed; retrying next interval');
      })
      .finally(() => {
        if (!stopped) timer = clock.setTimeout(tick, intervalMs);
      });
    return inflight;
  };

  const ready = backfill().then(
    () => {
      if (!stopped) timer = clock.setTimeout(tick, intervalMs - (clock.now() % intervalMs) + 50);
    },
    (err) => {
      if (!stopped) ctx.log.error({ err }, 'demo: backfill failed; the demo is off');
    },
  );
  inflight = ready;

  return {
    ready,
    async stop() {
      stopped = true;
      if (timer) clock.clearTimeout(timer);
      await inflight.catch(() => {});
      await ready;
    },
  };
}

/**
 * Enable the proposed alerts of every demo service, plus the demo's own rule that fires within a
 * minute, so the alerts pages have something to show. Skips what exists (restarts keep rules).
 */
async function enableDemoAlerts(ctx: AppContext): Promise<void> {
  const alerting = ctx.alerting;
  if (!alerting) return;
  const has = (alert: string, group: string) => alerting.rules().some((r) => r.rule.name === alert && r.group.name === group);
  const slos = new Set(alerting.slos().map((x) => x.spec.name));
  let created = 0;
  // The proposals follow the series the backfill wrote: have them all in ClickHouse first (the
  // write-ahead log answered them while they gather for their insert).
  await ctx.writer.settled();
  for (const s of DEMO_SERVICES) {
    const metrics = await serviceMetrics(ctx.store, s.name);
    for (const p of proposeAlerts({ service: s.name, label: s.label, metrics, def: s.registry })) {
      const { slo, ...rule } = p;
      if (slo) {
        if (slos.has(slo.name)) continue;
        await alerting.putSlo(undefined, slo);
      } else {
        if (has(rule.alert, rule.group)) continue;
        await alerting.createRule(rule);
      }
      created++;
    }
  }
  if (!has(DEMO_ALERT.name, 'demo')) {
    await alerting.createRule({ alert: DEMO_ALERT.name, expr: DEMO_ALERT.expr, for: DEMO_ALERT.for, labels: DEMO_ALERT.labels, annotations: DEMO_ALERT.annotations, group: 'demo' });
    created++;
  }
  if (created) ctx.log.info({ rules: created }, 'demo: alert rules enabled');
}

/** Register the demo services that are not registered yet (so edits made by a user survive restarts). */
async function registerDemoServices(store: Store): Promise<void> {
  const have = new Set((await registeredServices(store)).map((s) => s.name));
  for (const s of DEMO_SERVICES) if (!have.has(s.name)) await putService(store, s.registry);
}

/** The newest demo sample written since `sinceMs`, so a restart continues instead of rewriting history. */
async function lastDemoSample(store: Store, sinceMs: number): Promise<number | null> {
  const rows = await store.query<{ last: string | null }>(
    sql`SELECT toUnixTimestamp64Milli(max(ts)) AS last FROM points
        WHERE ts >= fromUnixTimestamp64Milli(${param('Int64', Math.floor(sinceMs))}, 'UTC')
          AND series_id IN (SELECT series_id FROM series WHERE key = 'process_cpu_seconds_total' AND service IN ${param('Array(String)', DEMO_NAMES)})`,
  );
  const v = rows[0]?.last;
  return v === null || v === undefined || Number(v) <= sinceMs ? null : Number(v);
}
