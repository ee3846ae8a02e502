import pino, { type Logger } from 'pino';
import type { AppContext } from './context.js';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { createMetrics } from './metrics.js';
import { registerHeadMetrics } from './store/head.js';
import { openHead, openStore, type Store } from './store/index.js';
import { applyRetention, migrate, processLock, readMigrations, schemaVersion, type MigrationLock } from './store/migrate.js';
import { ConfigError } from './config.js';
import { join, resolve } from 'node:path';
import { Writer } from './writer.js';
import { Wal } from '../ingest/wal.js';
import { createAlerting } from './alerting/wiring.js';
import { systemClock, type Clock } from './alerting/clock.js';
import { ensureLeaseTable, Lease } from './cluster/lease.js';
import { setTopology } from './store/topology.js';
import type { Alerting } from './alerting/service.js';
import { defaultNodeId, prepareLeadership, type Leadership } from './cluster/leadership.js';
import { registerCacheMetrics, ResultCache, watchWrites } from './promql/result-cache.js';
import { Engine } from './promql/engine.js';
import { shouldRunDemo, startDemo, type DemoHandle } from './demo/run.js';
import { Access } from './auth/access.js';
import { createAdmission } from './limits/admission.js';
import { CardinalityTracker } from './limits/cardinality.js';
import { StoreHealth, trackStore } from './store-health.js';
import { RollupJob, RollupLedger } from './rollups/job.js';

export interface Running {
  ctx: AppContext;
  url: string;
  /**
   * Stop accepting, flush what was accepted, close the store. Idempotent. With the write-ahead
   * log, writes ClickHouse has not taken within `writeGraceMs` (10 s) stay in the log for the
   * next start.
   */
  close(opts?: { writeGraceMs?: number }): Promise<void>;
  /** The demo traffic generator, when it runs (DEMO). */
  readonly demo?: DemoHandle;
  /** Cluster mode (LEADER_ELECTION=keeper): the lease and what this node does as leader. */
  leadership?: Leadership;
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
  /** Drive the leader lease and the followers' refresh (cluster mode; tests). Default: alertingClock, else wall-clock time. */
  clusterClock?: Clock;
  /** Drive the per-token rate limits (their buckets and Retry-After) with this clock (tests). */
  rateLimitClock?: Clock;
  /** Drive the demo's backfill end and live pushes with this clock (tests). */
  demoClock?: Clock;
}

/** Open the store, migrate it, and serve. Used by main.ts and by tests. */
export async function startMetronome(
  config: Config,
  log: Logger = pino({ level: config.LOG_LEVEL }),
  opts: StartOptions = {},
): Promise<Running> {
  // Tokens first: a bad token file or an exposed address without tokens stops here (ConfigError).
  const clustered = config.LEADER_ELECTION === 'keeper';
  const clusterClock = opts.clusterClock ?? opts.alertingClock ?? systemClock;
  // The rate limiters' clock: a test's, or in cluster mode the cluster clock (rate limits split
  // across live nodes, cluster/heartbeat.ts).
  const rateLimitClock = opts.rateLimitClock ?? (clustered ? clusterClock : undefined);
  const access = Access.fromConfig(config, rateLimitClock && (() => rateLimitClock.now()));
  if (!access.enforced && config.AUTH === 'off') log.warn({ host: config.HOST }, 'AUTH=off: every API is open to anyone who can reach this address');
  const opened = await openStore(config, log);
  // Outermost: readiness sees failures of the real store and of any wrapper around it.
  const storeHealth = new StoreHealth();
  const wrapped = opts.wrapStore ? opts.wrapStore(opened) : opened;
  // Range results reused across dashboard refreshes; every committed write older than the
  // cache's horizon invalidates what it reaches.
  const cache = new ResultCache({ maxBytes: config.QUERY_CACHE_BYTES, freshnessMs: config.QUERY_CACHE_FRESHNESS_MS });
  const store = trackStore(cache.enabled ? watchWrites(wrapped, (ts) => cache.written(ts)) : wrapped, storeHealth);
  await migrateAsConfigured(config, store, log);
  await applyRetention(store, 'points', 'ts', config.RETENTION_DAYS);
  await applyRetention(store, 'rollup_1m', 'ts', config.ROLLUP_1M_DAYS);
  await applyRetention(store, 'rollup_1h', 'ts', config.ROLLUP_1H_DAYS);
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
  // The write path's limits: token services, point rate and new series per service and metric.
  // Cluster mode: the counts are everyone's, read again from the series table every CONFIG_POLL_INTERVAL.
  const cardinality = new CardinalityTracker(store, { perService: config.MAX_SERIES_PER_SERVICE, perKey: config.MAX_SERIES_PER_KEY }, clustered
    ? { resyncMs: config.CONFIG_POLL_INTERVAL, now: () => clusterClock.now() }
    : {});
  const ledger = new RollupLedger(opts.rollupClock ?? systemClock, config.ROLLUP_LATE_ALLOWANCE, store.rollupHours);
  const wal = openWal(config, clustered);
  const writer = new Writer(store, config, metrics, log, { admit: createAdmission(config, access, cardinality, metrics), rollups: ledger, wal: wal?.wal });
  if (wal) {
    // Before the head opens: it then loads the replayed points like any stored before.
    const replayed = await writer.replay(wal.records).catch((e) => {
      wal.wal.close();
      return store.close().then(() => Promise.reject(e));
    });
    if (replayed.points > 0) log.info(replayed, 'write-ahead log replayed into ClickHouse');
    engine.beforeRead = () => writer.settled();
  }
  await openHead(opened);
  const rollups = new RollupJob(store, ledger, {
    intervalMs: config.ROLLUP_INTERVAL,
    rawRetentionMs: config.RETENTION_DAYS * 86_400_000,
    shared: clustered,
    log: log.child({ component: 'rollups' }),
  });
  // Cluster mode: the leader runs the job (onLeader); until this node leads it only reads what is done.
  if (clustered) await rollups.follow();
  const ctx: AppContext = { config, store, writer, metrics, log, engine, state: { shuttingDown: false, startedAt: Date.now() }, access, cardinality, storeHealth, probeClock: opts.probeClock };
  // Alerting loads its rule files and notification config now: a bad one stops the start.
  // In cluster mode the lease decides which node evaluates and notifies (server/cluster).
  const demoOpts = { intervalMs: config.DEMO_INTERVAL_SECONDS * 1000, backfillMs: config.DEMO_BACKFILL_HOURS * 3_600_000, clock: opts.demoClock };
  let demo: DemoHandle | undefined;
  const load = clustered
    ? prepareLeadership({
        ctx,
        clock: clusterClock,
        alertingClock: opts.alertingClock,
        onLeader: async () => {
          rollups.lead();
          if (ctx.probes) ctx.probes.active = true;
          if (!demo && (await shouldRunDemo(config.DEMO, store))) demo = startDemo(ctx, demoOpts);
        },
        onFollower: async () => {
          if (ctx.probes) ctx.probes.active = false;
          await demo?.stop();
          demo = undefined;
          await rollups.follow();
        },
        onFollowerPoll: () => rollups.refresh(),
      })
    : createAlerting(ctx, opts.alertingClock);
  const loaded = await load.catch(async (e) => {
    await writer.close();
    await store.close();
    throw e;
  });
  const leadership = clustered ? (loaded as Leadership) : undefined;
  if (leadership) ctx.cluster = { isLeader: () => leadership.isLeader(), leader: async () => (await leadership.lease.read())?.holder ?? 'unknown' };
  if (!clustered) ctx.alerting = loaded as Alerting;
  const app = await buildApp(ctx);
  await app.listen({ port: config.PORT, host: config.HOST, listenTextResolver: (address) => `Metronome (${store.kind} store) listening on ${address}` });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  const url = `http://${host}:${port}`;
  if (leadership) {
    // The done hours as the leader recorded them (until now readers asked the tables in each statement).
    await rollups.refresh().catch((err: unknown) => log.error({ err }, 'reading the rollup tables failed'));
    await leadership.begin(url);
  } else {
    rollups.start(); // one node is its own leader
    ctx.alerting!.start(url);
    demo = (await shouldRunDemo(config.DEMO, store)) ? startDemo(ctx, demoOpts) : undefined;
  }
  if (demo) log.info('demo traffic generator started (DEMO=0 turns it off)');

  let closing: Promise<void> | null = null;
  const close = (closeOpts: { writeGraceMs?: number } = {}) =>
    (closing ??= (async () => {
      ctx.state.shuttingDown = true;
      await demo?.stop(); // its last push goes through the writer, before the writer closes
      await app.close(); // stops accepting, waits for in-flight requests
      if (leadership) await leadership.stop(); // alerting stops, then the lease is given up
      else await ctx.alerting?.stop(); // its last evaluation's output goes through the writer
      await writer.close(closeOpts.writeGraceMs); // commits everything accepted
      await rollups.stop();
      await store.close();
    })());
  return { ctx, url, close, get demo() { return demo; }, leadership, rollups };
}

/** The write-ahead log under DATA_DIR when writes are answered from it (WRITE_ACK). */
function openWal(config: Config, clustered: boolean): ReturnType<typeof Wal.open> | undefined {
  const on = config.WRITE_ACK === 'wal' || (config.WRITE_ACK === 'auto' && !config.CLICKHOUSE_URL && !clustered);
  return on ? Wal.open(join(config.DATA_DIR, 'wal')) : undefined;
}

/** The lock nodes take before migrating: one per process and store (nodes on one embedded engine share a process). */
function migrationLock(config: Config, store?: Store): MigrationLock {
  const local = processLock(config.CLICKHOUSE_URL ? `remote:${config.CLICKHOUSE_URL}/${config.CLICKHOUSE_DATABASE}` : `embedded:${resolve(config.DATA_DIR)}`);
  if (config.LEADER_ELECTION !== 'keeper' || !store) return local;
  // Across processes (remote store): a 'migrate' lease in Keeper, held while migrating.
  return {
    async acquire() {
      const releaseLocal = await local.acquire();
      try {
        await ensureLeaseTable(store, `/metronome/${config.CLICKHOUSE_DATABASE}/lease`);
        const lease = new Lease({ store, name: 'migrate', node: config.NODE_ID ?? defaultNodeId(), ttlMs: config.LEASE_TTL, renewMs: config.LEASE_RENEW, clock: systemClock });
        // A plain, referenced timer: systemClock's are unref'd, and a process whose only work is
        // waiting for another node's migration would exit 0 before listening (found by
        // test/cluster-zookeeper.test.ts: two of three servers started together did).
        while (!(await lease.tick())) await new Promise((r) => setTimeout(r, config.LEASE_RENEW));
        await lease.start();
        return async () => {
          await lease.stop(true);
          await releaseLocal();
        };
      } catch (e) {
        await releaseLocal();
        throw e;
      }
    },
  };
}

/**
 * MIGRATE=auto|only: apply what is missing, under the migration lock. MIGRATE=off: apply nothing
 * (a one-shot `metronome migrate` does), and refuse to serve a schema older than this build's.
 */
export async function migrateAsConfigured(config: Config, store: Store, log: Logger): Promise<number[]> {
  setTopology({ topology: config.CLICKHOUSE_TOPOLOGY, cluster: config.CLICKHOUSE_CLUSTER });
  if (config.MIGRATE === 'off') {
    const want = Math.max(...readMigrations().map((m) => m.version));
    const have = await schemaVersion(store).catch(() => 0);
    if (have < want) throw new ConfigError(`MIGRATE=off and the schema is at version ${have}, this build needs ${want}: run \`npx tsx server/main.ts migrate\` (or MIGRATE=only) first`);
    return [];
  }
  const applied = await migrate(store, undefined, migrationLock(config, store));
  if (applied.length) log.info({ applied }, 'schema migrations applied');
  return applied;
}
