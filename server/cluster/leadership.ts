import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../context.js';
import { ConfigError } from '../config.js';
import type { Clock, TimerHandle } from '../alerting/clock.js';
import { createAlerting } from '../alerting/wiring.js';
import { sql, type Store } from '../store/index.js';
import { ensureNodesTable, Heartbeat } from './heartbeat.js';
import { ensureLeaseTable, Lease } from './lease.js';

/** Alerting's tables only the leader writes: alert state, its history, the notification log. */
const FENCED = new Set(['alert_state', 'alert_history', 'notification_log']);

export class FencedError extends Error {
  override name = 'FencedError';
}

/** Bits of a fenced row version below the term: milliseconds until the year 2109. */
const TERM_SHIFT = 42n;
const FENCED_BASE = 1n << 63n;
/** Terms a fenced version can hold (2^21: a leader change a minute for four years). */
const MAX_TERM = 1 << 21;

/**
 * The row version of a leader-only table written in `term` (the lease's fencing token):
 * 2^63 + term * 2^42 + a millisecond counter. Every version of a later term is larger, so when
 * a stale leader (paused after it checked the lease, then resumed) writes alert state or the
 * notification log after the next leader did, ReplacingMergeTree and the readers' `ORDER BY
 * version DESC LIMIT 1 BY` keep the next leader's rows whatever the clocks say. All of them are
 * above the single-node versions (microseconds, under 2^52 until 2112), so a node that joins a
 * cluster supersedes what it wrote alone.
 */
export function fencedVersion(term: number, counterMs: number): bigint {
  if (!Number.isInteger(term) || term < 1 || term >= MAX_TERM) throw new RangeError(`fencing term ${term} is outside 1..${MAX_TERM - 1}`);
  return FENCED_BASE + (BigInt(term) << TERM_SHIFT) + BigInt(Math.trunc(counterMs));
}

/**
 * The store as alerting sees it in cluster mode: a write to a leader-only table first checks,
 * in Keeper, that this node still holds the lease under its token, and its rows carry versions
 * of that term (`fencedVersion`), so that a write which passed the check just before the lease
 * moved still loses to the next leader's. A node that lost the lease (or never held it: a
 * follower's alerting, loaded to answer the API) cannot write alert state, history or the
 * notification log; every other table is written as usual.
 */
export function fencedStore(store: Store, check: () => Promise<boolean>, term: () => number, now: () => number = Date.now): Store {
  let last = 0;
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'insertRows') {
        return async (table: string, rows: readonly Record<string, unknown>[]) => {
          if (!FENCED.has(table)) return target.insertRows(table, rows);
          const t = term();
          if (!(await check())) throw new FencedError(`not the leader: ${table} is written by the leader only`);
          const versioned = rows.map((r) => {
            if (!('version' in r)) return r;
            last = Math.max(now(), last + 1);
            return { ...r, version: fencedVersion(t, last).toString() };
          });
          return target.insertRows(table, versioned);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

export interface LeadershipOptions {
  ctx: AppContext;
  /** Drives the lease and the followers' refresh. */
  clock: Clock;
  /** Drives alerting (tests: a ManualClock; usually the same clock). */
  alertingClock?: Clock;
  /** Leader-only work besides alerting (demo, probes): started on gaining the lease, stopped on losing it. */
  onLeader?: () => Promise<void>;
  onFollower?: () => Promise<void>;
  /** A follower's refresh of other state the leader persists (the rollup job's done hours), every CONFIG_POLL_INTERVAL after alerting's. */
  onFollowerPoll?: () => Promise<void>;
}

export interface Leadership {
  readonly lease: Lease;
  /** This node's row in the table of live nodes; the count splits per-token rate limits. */
  readonly heartbeat: Heartbeat;
  /** Take part in the election, once the server listens at `url` (links in notifications when EXTERNAL_URL is not set). */
  begin(url: string): Promise<void>;
  isLeader(): boolean;
  /** Stop alerting and the leader's work, then give the lease up. */
  stop(): Promise<void>;
}

/** The default node name: host, pid and a random suffix (several nodes may share a process in tests). */
export function defaultNodeId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * Cluster mode (LEADER_ELECTION=keeper): hold the leader lease or follow.
 * - Gaining the lease: alerting is loaded afresh from the store (as after a restart: `for`
 *   restored, what was sent is not sent again) and started; then onLeader.
 * - Losing it: alerting stops (its last writes are fenced off), onFollower runs.
 * - As follower: every CONFIG_POLL_INTERVAL alerting is loaded again, unstarted, so the alert,
 *   rule and silence APIs answer from what the leader persisted; then onFollowerPoll.
 * - Every node, leader or not, beats every LEASE_RENEW in the table of live nodes; a row older
 *   than LEASE_TTL is a node gone. Each node's rate limiters allow a token rate / live nodes.
 */
export async function prepareLeadership(o: LeadershipOptions): Promise<Leadership> {
  const { ctx, clock } = o;
  const cfg = ctx.config;
  if (cfg.LEASE_RENEW * 2 > cfg.LEASE_TTL) throw new ConfigError(`LEASE_RENEW (${cfg.LEASE_RENEW / 1000}s) must be at most half of LEASE_TTL (${cfg.LEASE_TTL / 1000}s): a renewal may fail once without losing the lease`);
  await ensureLeaseTable(ctx.store, `/metronome/${cfg.CLICKHOUSE_DATABASE}/lease`);
  await ensureNodesTable(ctx.store, `/metronome/${cfg.CLICKHOUSE_DATABASE}/nodes`);
  const node = cfg.NODE_ID ?? defaultNodeId();
  const log = ctx.log.child({ module: 'cluster', node });
  const heartbeat = new Heartbeat({
    store: ctx.store,
    node,
    everyMs: cfg.LEASE_RENEW,
    liveMs: cfg.LEASE_TTL,
    clock,
    log,
    onLive: (n) => {
      if (n !== ctx.access.limiter.nodes) log.info({ live: n }, 'live nodes changed: each allows 1/%d of every token rate', n);
      ctx.access.limiter.nodes = n;
    },
  });
  let lease!: Lease;
  const check = async () => {
    if (!lease.held) return false;
    const row = await lease.read();
    return !!row && row.holder === node && row.token === lease.token;
  };
  const store = fencedStore(ctx.store, check, () => lease.token);
  const load = () => createAlerting(ctx, o.alertingClock, { store, check });
  let stopped = false;
  let url = '';
  // Transitions and refreshes one at a time.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = (fn: () => Promise<void>) => {
    const next = chain.then(fn).catch((err) => log.error({ err }, 'cluster transition failed'));
    chain = next;
    return next;
  };
  const swap = async (start: boolean) => {
    const fresh = await load();
    const old = ctx.alerting;
    ctx.alerting = fresh;
    await old?.stop();
    if (start) fresh.start(url);
  };
  lease = new Lease({
    store: ctx.store,
    name: 'leader',
    node,
    ttlMs: cfg.LEASE_TTL,
    renewMs: cfg.LEASE_RENEW,
    clock,
    log,
    onChange: (held) =>
      serial(async () => {
        if (stopped) return;
        if (held) {
          loadedFrom = await stamp().catch(() => '');
          await swap(true);
          await o.onLeader?.();
        } else {
          await ctx.alerting?.stop();
          await o.onFollower?.();
          await swap(false);
        }
      }),
  });
  let timer: TimerHandle | null = null;
  /** What the leader's alerting was loaded from: rules, SLOs, notification config and silences. */
  const stamp = async () => {
    const [r] = await ctx.store.query<{ o: string; s: string }>(
      sql`SELECT (SELECT max(version) FROM alerting_objects) AS o, (SELECT max(version) FROM silences) AS s`,
    );
    return `${r?.o}/${r?.s}`;
  };
  let loadedFrom = '';
  const poll = () => {
    timer = clock.setTimeout(async () => {
      if (stopped) return;
      if (!lease.held) {
        await serial(() => swap(false));
        await serial(async () => {
          if (!lease.held) await o.onFollowerPoll?.();
        });
      } else {
        // A change made through another node reaches the leader: alerting reloads, as on a restart.
        const now = await stamp().catch(() => loadedFrom);
        if (loadedFrom && now !== loadedFrom) {
          log.info('configuration changed on another node: reloading alerting');
          await serial(() => swap(true));
        }
        loadedFrom = now;
      }
      poll();
    }, cfg.CONFIG_POLL_INTERVAL);
  };
  // Loaded unstarted, so the API answers from the start; the first tick decides who evaluates.
  ctx.alerting = await load();
  return {
    lease,
    heartbeat,
    async begin(at) {
      url = at;
      await heartbeat.start();
      await lease.start();
      poll();
    },
    isLeader: () => lease.held,
    async stop() {
      stopped = true;
      if (timer) clock.clearTimeout(timer);
      await heartbeat.stop();
      await chain;
      await lease.stop(false);
      await ctx.alerting?.stop(); // while still holder: its last state is written
      if (lease.held) await o.onFollower?.();
      await lease.stop(true);
    },
  };
}
