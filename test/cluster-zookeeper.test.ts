import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { startServerProcess, stopServerProcess, type ServerProcess } from './server-process.js';
import { startZooKeeper, type ZooKeeper } from './zookeeper.js';

const TTL = 3000;
const RENEW = 1000;

interface LeaseEvent {
  node: string;
  held: boolean;
  token: number;
  /** When the test read the line (one clock for every process: this machine's). */
  at: number;
}

/**
 * The leader lease across separate processes: three real Metronome servers (`server/main.ts`,
 * each its own chdb data directory) whose ClickHouse <zookeeper> is one real ZooKeeper
 * (Debian's), contending for the KeeperMap lease; the holder is SIGKILLed (no release, no
 * shutdown hook) twice. Who holds is read from each server's own log ("lease acquired").
 */
describe('leader lease on a real ZooKeeper, separate processes', () => {
  const dir = tempDir('metronome-cluster-zk-');
  let zk: ZooKeeper;
  const nodes = new Map<string, ServerProcess>();
  const events: LeaseEvent[] = [];
  /** Each node's count of live nodes (the heartbeat table), as it changes. */
  const lives: { node: string; live: number; at: number }[] = [];
  let wake: (() => void) | null = null;

  function watch(node: string, p: ServerProcess) {
    let buf = '';
    const take = (d: Buffer) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.includes('"live":')) {
          const rec = JSON.parse(line) as { live: number };
          lives.push({ node, live: rec.live, at: Date.now() });
          wake?.();
          continue;
        }
        if (!line.includes('"lease":"leader"')) continue;
        const rec = JSON.parse(line) as { held?: boolean; token?: number; msg: string };
        if (rec.msg !== 'lease acquired' && rec.msg !== 'lease lost') continue;
        events.push({ node, held: rec.held === true, token: Number(rec.token), at: Date.now() });
        wake?.();
      }
    };
    // The lines written before startServerProcess resolved, then the rest as they come.
    take(Buffer.from(p.output()));
    p.child.stdout!.on('data', take);
  }

  async function start(node: string) {
    const p = await startServerProcess({
      DATA_DIR: join(dir, node),
      NODE_ID: node,
      LEADER_ELECTION: 'keeper',
      CHDB_CONFIG_FILE: zk.clickhouseConfig(node),
      LEASE_TTL: `${TTL}ms`,
      LEASE_RENEW: `${RENEW}ms`,
      ROLLUP_INTERVAL: '0',
    }, 120_000);
    nodes.set(node, p);
    watch(node, p);
    return p;
  }

  /** The first event after index `from` that `pred` accepts, waiting up to `ms`. */
  function next(from: number, pred: (e: LeaseEvent) => boolean, ms: number): Promise<LeaseEvent> {
    return waitFor(() => events.slice(from).find(pred), ms);
  }

  /** Wait until every one of `who` has last reported `live` live nodes. */
  function allSee(who: string[], live: number, ms: number): Promise<true> {
    const last = (node: string) => lives.filter((l) => l.node === node).at(-1)?.live;
    return waitFor(() => who.every((n) => last(n) === live) || undefined, ms);
  }

  async function waitFor<T>(probe: () => T | undefined, ms: number): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = probe();
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`not seen in ${ms} ms; lease events: ${JSON.stringify(events)}; live counts: ${JSON.stringify(lives)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
    }
  }

  const acquired = () => events.filter((e) => e.held);

  beforeAll(async () => {
    zk = await startZooKeeper(dir);
    await Promise.all(['n1', 'n2', 'n3'].map(start));
  }, 180_000);

  afterAll(async () => {
    for (const p of nodes.values()) await stopServerProcess(p, 'SIGKILL');
    await zk?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one of three holds with token 1; after SIGKILL another takes over within 2 x TTL with a higher token; no term is reused', async () => {
    const first = await next(0, (e) => e.held, 30_000);
    expect(first.token).toBe(1);
    // The heartbeat table in the same ZooKeeper: every node counts three (rate limits split by 3).
    await allSee(['n1', 'n2', 'n3'], 3, 2 * TTL);
    // Two more TTLs: the holder keeps renewing, nobody else acquires.
    const quiet = events.length;
    await new Promise((r) => setTimeout(r, 2 * TTL));
    expect(events.slice(quiet)).toEqual([]);
    expect(acquired()).toHaveLength(1);

    // SIGKILL: no release, no shutdown; the row in ZooKeeper stays until its term passes.
    const killedAt = Date.now();
    await stopServerProcess(nodes.get(first.node)!, 'SIGKILL');
    const second = await next(0, (e) => e.held && e.node !== first.node, 2 * TTL + 2000);
    const took = second.at - killedAt;
    expect(took).toBeLessThanOrEqual(2 * TTL);
    // It waited for the killed holder's term to run out (renewed at most RENEW, plus a tick, before the kill).
    expect(took).toBeGreaterThanOrEqual(TTL - 2 * RENEW);
    expect(second.token).toBe(2);
    // The killed node's heartbeat ages out of the survivors' count within LEASE_TTL + LEASE_RENEW.
    const survivors = ['n1', 'n2', 'n3'].filter((n) => n !== first.node);
    await allSee(survivors, 2, 2 * TTL);
    const dropped = lives.filter((l) => survivors.includes(l.node) && l.live === 2 && l.at > killedAt);
    expect(dropped).toHaveLength(2);
    for (const l of dropped) expect(l.at - killedAt).toBeLessThanOrEqual(TTL + RENEW + 1000);

    // The killed node comes back under the same name and data directory: it follows, and its old term is not revived.
    const back = events.length;
    await start(first.node);
    await allSee(['n1', 'n2', 'n3'], 3, 2 * TTL);
    await new Promise((r) => setTimeout(r, 2 * TTL));
    expect(events.slice(back).filter((e) => e.held)).toEqual([]);

    // Kill the second holder too: the next term is 3, whoever takes it.
    const killedAgain = Date.now();
    await stopServerProcess(nodes.get(second.node)!, 'SIGKILL');
    const third = await next(0, (e) => e.held && e.token > 2, 2 * TTL + 2000);
    expect(third.at - killedAgain).toBeLessThanOrEqual(2 * TTL);
    expect(third.node).not.toBe(second.node);
    // Every term once, rising: 1, 2, 3, each held by one node.
    expect(acquired().map((e) => e.token)).toEqual([1, 2, 3]);
  }, 120_000);
});
