import pino, { type Logger } from 'pino';
import { buildApp, type AppContext } from './app.js';
import type { Config } from './config.js';
import { createMetrics } from './metrics.js';
import { registerHeadMetrics } from './store/head.js';
import { openHead, openStore, type Store } from './store/index.js';
import { applyRetention, migrate } from './store/migrate.js';
import { Writer } from './writer.js';
import { createAlerting } from './alerting/wiring.js';
import type { Clock } from './alerting/clock.js';
import { registerCacheMetrics, ResultCache, watchWrites } from './promql/result-cache.js';
import { Engine } from './promql/engine.js';
import { shouldRunDemo, startDemo, type DemoHandle } from './demo/run.js';
import { Access } from './auth/access.js';
import { StoreHealth, trackStore } from './store-health.js';
import { RollupJob, RollupLedger } from './rollups/job.js';
import { systemClock } from './alerting/clock.js';

export interface Running {
  ctx: AppContext;
  url: string;
  /** Stop accepting, flush what was accepted, close the store. Idempotent. */
  close(): Promise<void>;
  /** The demo traffic generator, when it runs (DEMO). */
  demo?: DemoHandle;
  /** The rollup job (tests call runOnce with the rollup clock moved on). */
  rollups: RollupJob;
}

export interface StartOptions {
  /** Wrap the real store (tests inject failures or delays around it; never a fake). */
  wrapStore?: (store: Store) => Store;
  /** Drive alerting's timers (rule schedules, group_wait, retries) with this clock (tests). */
  alertingClock?: Clock;
  /** Drive the probe scheduler's timers with this clock (tests). */
  probeClock?: Clock;
  /** Drive the rollup job's schedule and its notion of closed hours with this clock (tests). */
  rollupClock?: Clock;
}

/** Open the store, migrate it, and serve. Used by main.ts and by tests. */
export async function startMetronome(
  config: Config,
  log: Logger = pino({ level: config.LOG_LEVEL }),
  opts: StartOptions = {},
): Promise<Running> {
  // Tokens first: a bad token file or an exposed address without tokens stops here (ConfigError).
  const access = Access.fromConfig(config);
  if (!access.enforced && config.AUTH === 'off') log.warn({ host: config.HOST }, 'AUTH=off: every API is open to anyone who can reach this address');
  const opened = await openStore(config);
  // Outermost: readiness sees failures of the real store and of any wrapper around it.
  const storeHealth = new StoreHealth();
  const wrapped = opts.wrapStore ? opts.wrapStore(opened) : opened;
  // Range results reused across dashboard refreshes; every committed write older than the
  // cache's horizon invalidates what it reaches.
  const cache = new ResultCache({ maxBytes: config.QUERY_CACHE_BYTES, freshnessMs: config.QUERY_CACHE_FRESHNESS_MS });
  const store = trackStore(cache.enabled ? watchWrites(wrapped, (ts) => cache.written(ts)) : wrapped, storeHealth);
  const applied = await migrate(store);
  if (applied.length) log.info({ applied }, 'schema migrations applied');
  await applyRetention(store, 'points', 'ts', config.RETENTION_DAYS);
  await applyRetention(store, 'rollup_1m', 'ts', config.ROLLUP_1M_DAYS);
  await applyRetention(store, 'rollup_1h', 'ts', config.ROLLUP_1H_DAYS);
  await openHead(opened);
  const engine = new Engine(store, {
    timeoutMs: config.QUERY_TIMEOUT_MS,
    maxSeries: config.MAX_SERIES,
    maxPoints: config.MAX_POINTS_PER_SERIES,
    maxConcurrent: config.MAX_CONCURRENT_QUERIES,
    queueMs: config.QUERY_QUEUE_MS,
    lookbackMs: config.LOOKBACK_DELTA_MS,
    rawRetentionMs: config.RETENTION_DAYS * 86_400_000,
    maxSamples: config.MAX_QUERY_SAMPLES,
    maxBytes: config.MAX_QUERY_BYTES,
    maxResultBytes: config.MAX_RESULT_BYTES,
    memoryBytes: config.QUERY_MEMORY_BYTES,
    maxLabelBytes: config.MAX_QUERY_LABEL_BYTES,
    ruleConcurrent: config.ALERT_MAX_CONCURRENT_QUERIES,
    features: new Set(config.PROMQL_EXPERIMENTAL),
  });
  engine.cache = cache;
  const metrics = createMetrics();
  registerCacheMetrics(metrics.registry, cache);
  if (opened.head) registerHeadMetrics(metrics.registry, opened.head);
  const writer = new Writer(store, config, metrics, log);
  const ledger = new RollupLedger(opts.rollupClock ?? systemClock, config.ROLLUP_LATE_ALLOWANCE, store.rollupHours);
  writer.rollups = ledger;
  const rollups = new RollupJob(store, ledger, {
    intervalMs: config.ROLLUP_INTERVAL,
    rawRetentionMs: config.RETENTION_DAYS * 86_400_000,
    log: log.child({ component: 'rollups' }),
  });
  const ctx: AppContext = { config, store, writer, metrics, log, engine, state: { shuttingDown: false, startedAt: Date.now() }, access, storeHealth, probeClock: opts.probeClock };
  // Alerting loads its rule files and notification config now: a bad one stops the start.
  ctx.alerting = await createAlerting(ctx, opts.alertingClock).catch(async (e) => {
    await writer.close();
    await store.close();
    throw e;
  });
  const app = await buildApp(ctx);
  await app.listen({ port: config.PORT, host: config.HOST, listenTextResolver: (address) => `Metronome (${store.kind} store) listening on ${address}` });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  const url = `http://${host}:${port}`;
  ctx.alerting.start(url);
  rollups.start();
  const demo = (await shouldRunDemo(config.DEMO, store))
    ? startDemo(ctx, { intervalMs: config.DEMO_INTERVAL_SECONDS * 1000, backfillMs: config.DEMO_BACKFILL_HOURS * 3_600_000 })
    : undefined;
  if (demo) log.info('demo traffic generator started (DEMO=0 turns it off)');

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      ctx.state.shuttingDown = true;
      await demo?.stop(); // its last push goes through the writer, before the writer closes
      await app.close(); // stops accepting, waits for in-flight requests
      await ctx.alerting?.stop(); // its last evaluation's output goes through the writer
      await writer.close(); // commits everything accepted
      await rollups.stop();
      await store.close();
    })());
  return { ctx, url, close, demo, rollups };
}
