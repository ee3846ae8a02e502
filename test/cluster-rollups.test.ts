import { rmSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { loadConfig } from '../server/config.js';
import type { Engine } from '../server/promql/engine.js';
import type { GridPlan } from '../server/promql/sql.js';
import { startMetronome, type Running } from '../server/start.js';
import { compile, param, sql, type Store } from '../server/store/index.js';
import type { EmbeddedStore } from '../server/store/embedded.js';
import { testKeeperConfig } from './cluster-keeper.js';
import { push, series } from './alerting-helpers.js';
import { tempDir } from './helpers.js';
import { promGet } from './promql-helpers.js';

/**
 * The rollup job in cluster mode: three nodes in one process on one embedded store, a KeeperMap
 * lease on chdb's test keeper. Each node has two ManualClocks: `clock` drives the lease, the
 * followers' refresh (CONFIG_POLL_INTERVAL, 5 s) and alerting; `rclock` drives the rollup job's
 * schedule (ROLLUP_INTERVAL, 1 m) and its notion of closed hours. Each node's store is wrapped
 * to count the rollup statements it sends, and one can be held between the 1 m and the 1 h insert.
 */
const HOUR = 3_600_000;
const TTL = 15_000;
const POLL = 5000;
/** An hour boundary an hour in the past (the writer takes no point from the future); the data fills the five hours before it. */
const H0 = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
const T = H0 + 10 * 60_000;
const W0 = H0 / HOUR; // the newest closed hour (its end, in hours)

interface Node {
  name: string;
  clock: ManualClock;
  rclock: ManualClock;
  running: Running;
  /** Rollup statements this node sent: INSERTs into rollup_1m and records in rollup_windows. */
  rollups: { inserts: number; records: number };
  plans: GridPlan[];
  /** Statements held: the node's INSERTs into rollup_1h, its points, its dirty marks. */
  holds: Partial<Record<Held, Hold>>;
}
type Held = 'rollup_1h' | 'points' | 'rollup_dirty';
/** A held statement calls `reached`, then waits for `until`. */
interface Hold {
  reached: () => void;
  until: Promise<void>;
  release: () => void;
}
/** Hold the node's statements of a kind from now: `reached` when one arrives, until `release`. */
function hold(n: Node, what: Held): { reached: Promise<void>; release: () => void } {
  let release!: () => void;
  let arrive!: () => void;
  const until = new Promise<void>((r) => (release = r));
  const reached = new Promise<void>((r) => (arrive = r));
  const h: Hold = {
    reached: arrive,
    until,
    release: () => {
      if (n.holds[what] === h) n.holds[what] = undefined;
      release();
    },
  };
  n.holds[what] = h;
  return { reached, release: h.release };
}
async function held(n: Node, what: Held): Promise<void> {
  const h = n.holds[what];
  if (!h) return;
  h.reached();
  await h.until;
}

const dir = tempDir('metronome-cluster-rollups-');
const nodes: Node[] = [];

/** The real store, counting the rollup job's statements (and holding one when asked). */
function counting(node: Pick<Node, 'rollups' | 'holds'>) {
  return (store: Store): Store =>
    new Proxy(store, {
      get(target, prop) {
        if (prop === 'command') {
          return async (q: Parameters<Store['command']>[0], opts?: Parameters<Store['command']>[1]) => {
            const text = compile(q).sql;
            if (/INSERT INTO rollup_1m\b/.test(text)) node.rollups.inserts++;
            if (/INSERT INTO rollup_1h\b/.test(text)) await held(node as Node, 'rollup_1h');
            return target.command(q, opts);
          };
        }
        if (prop === 'insertRows') {
          return async (table: string, rows: readonly Record<string, unknown>[]) => {
            if (table === 'rollup_windows') node.rollups.records++;
            if (table === 'rollup_dirty') await held(node as Node, 'rollup_dirty');
            return target.insertRows(table, rows);
          };
        }
        if (prop === 'insertPoints') {
          return async (...args: Parameters<Store['insertPoints']>) => {
            await held(node as Node, 'points');
            return target.insertPoints(...args);
          };
        }
        const v = Reflect.get(target, prop);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
}

beforeAll(async () => {
  const keeper = testKeeperConfig(dir);
  for (const name of ['a', 'b', 'c']) {
    const node = { name, clock: new ManualClock(T), rclock: new ManualClock(T), rollups: { inserts: 0, records: 0 }, plans: [], holds: {} } as unknown as Node;
    const config = loadConfig({
      PORT: '0',
      LOG_LEVEL: 'silent',
      DEMO: '0',
      DATA_DIR: join(dir, 'data'),
      CHDB_CONFIG_FILE: keeper,
      LEADER_ELECTION: 'keeper',
      NODE_ID: name,
      LEASE_TTL: `${TTL}ms`,
      LEASE_RENEW: '5s',
      CONFIG_POLL_INTERVAL: `${POLL}ms`,
      ROLLUP_INTERVAL: '1m',
      ROLLUP_LATE_ALLOWANCE: '5m',
      QUERY_CACHE_BYTES: '0',
    });
    node.running = await startMetronome(config, pino({ level: 'silent' }), {
      alertingClock: node.clock,
      clusterClock: node.clock,
      probeClock: node.clock,
      rollupClock: node.rclock,
      wrapStore: counting(node),
    });
    (node.running.ctx.engine as Engine).onPlan = (p) => node.plans.push(p);
    nodes.push(node);
  }
});
// A test that failed while holding a statement lets it go, so the next ones and close() can run.
afterEach(() => {
  for (const n of nodes) for (const h of Object.values(n.holds)) h?.release();
});
afterAll(async () => {
  for (const n of nodes) await n.running.close();
  rmSync(dir, { recursive: true, force: true });
});

const [a, b, c] = [0, 1, 2].map((i) => () => nodes[i]);
const leaders = () => nodes.filter((n) => n.running.leadership!.isLeader());
/** Move the given nodes' cluster clocks forward together, a second at a time. */
async function advance(list: Node[], ms: number): Promise<void> {
  for (let done = 0; done < ms; done += 1000) for (const n of list) await n.clock.advance(1000);
}
/** The hours rollup_windows holds as done, with their gens (the persisted record). */
async function recorded(): Promise<Map<number, number>> {
  const rows = await a().running.ctx.store.query<{ w: number; g: string }>(
    sql`SELECT w, argMax(gen, version) AS g FROM rollup_windows GROUP BY w ORDER BY w`,
  );
  return new Map(rows.map((r) => [Number(r.w), Number(r.g)]));
}
/** The done hours (and gens) a node's readers take, W0 - 5 .. W0. */
function known(n: Node): [number, number][] {
  const h = (n.running.ctx.store as EmbeddedStore).rollupHours.between(W0 - 5, W0);
  return h ? h.w.map((w, i) => [w, h.gen[i]]) : [];
}
const counts = () => nodes.map((n) => n.rollups.inserts);

const QUERY = 'sum_over_time(cr_load[1h])';
type Matrix = { metric: Record<string, string>; values: [number, string][] }[];
/** The node's answer over the five closed hours at a 1 h step, with rollups allowed or not; and the resolutions its leaves read. */
async function answer(n: Node, raw: boolean): Promise<{ result: Matrix; resolutions: string[] }> {
  n.plans.length = 0;
  const r = await promGet(n.running.url, '/api/v1/query_range', { query: QUERY, start: (H0 - 4 * HOUR) / 1000, end: H0 / 1000, step: 3600, raw: String(raw) });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return { result: r.body.data.result, resolutions: n.plans.map((p) => p.resolution ?? 'raw') };
}
/**
 * The node's answer, planned on hourly rollups (rollup rows of the hours it knows done, raw points
 * of the others: rollups/sql.ts), equals its answer from raw points alone.
 */
async function expectRawAnswer(n: Node): Promise<Matrix> {
  const viaRollups = await answer(n, false);
  const viaRaw = await answer(n, true);
  expect(viaRaw.resolutions.every((r) => r === 'raw')).toBe(true);
  expect(viaRollups.resolutions).toEqual(['1h']);
  expect(viaRollups.result).toHaveLength(1);
  expect(viaRollups.result[0].values).toHaveLength(5);
  expect(viaRollups.result).toEqual(viaRaw.result);
  return viaRollups.result;
}

describe('the rollup job in a cluster', () => {
  it('runs on the leader only; a follower takes an hour from rollups once the leader recorded it', async () => {
    await advance(nodes, 1000);
    expect(leaders().map((n) => n.name)).toEqual(['a']);
    // Five hours of 10 s samples, written through a follower.
    await push(b().running.url, 'cr_load', { host: 'x' }, series(H0 - 5 * HOUR + 10_000, H0 - 60_000, 10_000, (t) => (t / 10_000) % 7));
    // Nothing recorded yet: the follower reads every hour from raw points.
    expect(known(b())).toEqual([]);
    const before = await expectRawAnswer(b());
    // Written after the hours closed, so each carries a dirty mark from b: the leader leaves them
    // for ROLLUP_LATE_ALLOWANCE (b's flush might still be landing), then rolls them up. The
    // followers' rollup clocks move first: only the leader's job runs.
    for (const n of [c(), b(), a()]) await n.rclock.advance(60_000);
    expect(counts()).toEqual([0, 0, 0]);
    for (const n of [c(), b(), a()]) await n.rclock.advance(5 * 60_000);
    expect(counts()).toEqual([5, 0, 0]);
    expect(nodes.map((n) => n.rollups.records)).toEqual([5, 0, 0]);
    const done = await recorded();
    expect([...done.keys()]).toEqual([W0 - 4, W0 - 3, W0 - 2, W0 - 1, W0]);
    // The followers learn them within one poll interval, from rollup_windows, and read rollups.
    expect(known(b())).toEqual([]);
    await advance(nodes, POLL);
    for (const n of [b(), c()]) expect(known(n)).toEqual([...done]);
    expect(await expectRawAnswer(b())).toEqual(before);
    // More rollup runs change nothing: no hour is left to do.
    for (const n of [c(), b(), a()]) await n.rclock.advance(120_000);
    expect(counts()).toEqual([5, 0, 0]);
  });

  it('a follower never reads an hour the leader is recomputing at its new gen before it is recorded', async () => {
    const [, old] = [...(await recorded())].find(([w]) => w === W0 - 2)!;
    // A late sample into a done hour, through the other follower: it marks the hour dirty.
    await push(c().running.url, 'cr_load', { host: 'x' }, [[H0 - 2.5 * HOUR + 1234, 1000]]);
    expect(known(c()).map(([w]) => w)).not.toContain(W0 - 2); // its writer took it out at once
    await advance(nodes, POLL);
    // b learnt of the mark: the hour reads raw there, and the answer holds the late sample.
    expect(known(b()).map(([w]) => w)).toEqual([W0 - 4, W0 - 3, W0 - 1, W0]);
    const late = await expectRawAnswer(b());
    // The leader recomputes it; held after its 1 m rows are written, before the 1 h rows and the record.
    const h = hold(a(), 'rollup_1h');
    const run = a().rclock.advance(6 * 60_000); // past the allowance after c's mark
    await h.reached;
    await advance([b(), c()], POLL);
    // Half-written: the new gen's 1 m rows are there, its 1 h rows and its record not; followers read raw.
    expect(await newRows(W0 - 2, old)).toEqual({ m: true, h: false });
    expect((await recorded()).get(W0 - 2)).toBe(old);
    expect(known(b()).map(([w]) => w)).toEqual([W0 - 4, W0 - 3, W0 - 1, W0]);
    expect(await expectRawAnswer(b())).toEqual(late);
    h.release();
    await run;
    // The rollup clocks agree again (marks and versions are times on them).
    for (const n of [b(), c()]) await n.rclock.advanceTo(a().rclock.now());
    await advance(nodes, POLL);
    const now = await recorded();
    expect(now.get(W0 - 2)).toBeGreaterThan(old);
    for (const n of [b(), c()]) expect(known(n)).toEqual([...now]);
    expect(counts()).toEqual([6, 0, 0]);
    expect(await expectRawAnswer(b())).toEqual(late);
    // A second late sample into that hour through the same follower marks it again: the leader
    // took the first mark, which a follower cannot know (without this mark the rollups would miss it).
    await push(c().running.url, 'cr_load', { host: 'x' }, [[H0 - 2.5 * HOUR + 5678, 500]]);
    for (const n of nodes) await n.rclock.advance(6 * 60_000);
    await advance(nodes, POLL);
    expect(counts()).toEqual([7, 0, 0]);
    expect((await recorded()).get(W0 - 2)).toBeGreaterThan(now.get(W0 - 2)!);
    expect(known(b())).toEqual([...(await recorded())]);
    expect(await expectRawAnswer(b())).not.toEqual(late);
  });

  it('the leader leaves a dirty hour alone while the flush that marked it may still be landing on another node', async () => {
    const w = W0 - 3;
    const before = (await recorded()).get(w)!;
    const runs = counts()[0];
    // c marks the hour, and its points are held on their way.
    const h = hold(c(), 'points');
    const pushed = push(c().running.url, 'cr_load', { host: 'x' }, [[H0 - 3.5 * HOUR + 4321, 2000]]);
    await h.reached;
    // Two minutes of the leader's runs: the mark is younger than the allowance, the hour waits.
    for (const n of nodes) await n.rclock.advance(2 * 60_000);
    const during = { runs: counts()[0], version: (await recorded()).get(w) };
    h.release();
    await pushed;
    for (const n of nodes) await n.rclock.advance(4 * 60_000);
    await advance(nodes, POLL);
    expect(known(b())).toEqual([...(await recorded())]);
    // Recomputed from c's points too (recomputed at once, while they were held, it missed them for good).
    await expectRawAnswer(b());
    expect(during).toEqual({ runs, version: before });
    expect(counts()[0]).toBe(runs + 1);
  });

  it('a mark still on its way when the leader recomputes is above the version recorded', async () => {
    const w = W0; // (H0 - 1 h, H0]
    // A late sample through b, landed; its mark becomes old enough for the leader.
    await push(b().running.url, 'cr_load', { host: 'x' }, [[H0 - 0.5 * HOUR + 1111, 3000]]);
    for (const n of nodes) await n.rclock.advance(4 * 60_000);
    // A second one through c while the leader's next runs recompute the hour: c's mark is held, so
    // the leader reads neither the mark nor (maybe) the sample.
    const runs = counts()[0];
    const h = hold(c(), 'rollup_dirty');
    const pushed = push(c().running.url, 'cr_load', { host: 'x' }, [[H0 - 0.5 * HOUR + 2222, 4000]]);
    await h.reached;
    for (const n of nodes) await n.rclock.advance(2 * 60_000);
    expect(counts()[0]).toBe(runs + 1);
    h.release();
    await pushed;
    // c's mark is newer than the version the leader recorded: the hour is dirty again.
    await advance(nodes, POLL);
    expect(known(b()).map(([x]) => x)).not.toContain(w);
    await expectRawAnswer(b());
    for (const n of nodes) await n.rclock.advance(6 * 60_000);
    expect(counts()[0]).toBe(runs + 2);
    await advance(nodes, POLL);
    expect(known(b())).toEqual([...(await recorded())]);
    await expectRawAnswer(b());
  });

  it('after a failover the new leader runs the job, from the persisted state; the old one stops', async () => {
    const [, ...rest] = nodes;
    let waited = 0;
    while (!rest.some((n) => n.running.leadership!.isLeader())) {
      await advance(rest, 1000);
      waited += 1000;
      expect(waited).toBeLessThanOrEqual(2 * TTL);
    }
    const next = leaders().filter((n) => n !== a())[0];
    const other = rest.find((n) => n !== next)!;
    // The hour after W0 closes on the rollup clocks of the nodes still running.
    await push(next.running.url, 'cr_load', { host: 'x' }, series(H0 + 10_000, H0 + HOUR, 10_000, () => 1));
    for (const n of rest) await n.rclock.advance(HOUR);
    expect(next.rollups.inserts).toBe(1);
    expect(other.rollups.inserts).toBe(0);
    expect([...(await recorded()).keys()]).toContain(W0 + 1);
    // The frozen old leader wakes up, finds it lost the lease, and its job stops.
    await advance([a()], rest[0].clock.now() - a().clock.now());
    expect(a().running.leadership!.isLeader()).toBe(false);
    const before = counts();
    for (const n of nodes) await n.rclock.advance(HOUR);
    const after = counts();
    expect(after[0]).toBe(before[0]);
    expect(after[nodes.indexOf(other)]).toBe(0);
    expect(after[nodes.indexOf(next)]).toBe(before[nodes.indexOf(next)] + 1);
  });
});

/** Whether rollup_1m and rollup_1h hold rows of hour w under a gen above `gen`. */
async function newRows(w: number, gen: number): Promise<{ m: boolean; h: boolean }> {
  const where = sql`gen > ${param('UInt64', gen)} AND ts > fromUnixTimestamp64Milli(${param('Int64', (w - 1) * HOUR)}) AND ts <= fromUnixTimestamp64Milli(${param('Int64', w * HOUR)})`;
  const [r] = await a().running.ctx.store.query<{ m: string; h: string }>(
    sql`SELECT (SELECT count() FROM rollup_1m WHERE ${where}) AS m, (SELECT count() FROM rollup_1h WHERE ${where}) AS h`,
  );
  return { m: Number(r.m) > 0, h: Number(r.h) > 0 };
}
