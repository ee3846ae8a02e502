import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { loadConfig } from '../server/config.js';
import { startMetronome, type Running } from '../server/start.js';
import { param, sql } from '../server/store/index.js';
import { testKeeperConfig } from './cluster-keeper.js';
import { heroic, postJson, tempDir } from './helpers.js';

/**
 * Global limits with three nodes in one process on one embedded store (KeeperMap lease and
 * table of live nodes on chdb's test keeper), each on its own ManualClock. The new-series limit
 * per service is 10; the nodes read everyone's counts from the series table every
 * CONFIG_POLL_INTERVAL (5 s). The token `metered` may write 30 points/s, split across live nodes.
 */
const LIMIT = 10;
const POLL = 5000;
const RATE = 30;
const RENEW = 5000;
const TTL = 15_000;
const CARD = 'card-0123456789abcdef';
const METERED = 'metered-0123456789abcdef';

interface Node {
  name: string;
  clock: ManualClock;
  running: Running;
}

const dir = tempDir('metronome-cluster-limits-');
const nodes: Node[] = [];
// Series count for the UTC day of their first point: the clocks start a minute back and move
// about 75 s, kept inside one day whatever the hour the test runs.
const DAY = 86_400_000;
const day0 = Math.floor(Date.now() / DAY) * DAY;
const t0 = Math.min(Math.max(Date.now() - 60_000, day0 + 1000), day0 + DAY - 120_000);

beforeAll(async () => {
  const keeper = testKeeperConfig(dir);
  const tokens = join(dir, 'tokens.json');
  writeFileSync(
    tokens,
    JSON.stringify([
      { name: 'card', token: CARD, scopes: ['write'] },
      { name: 'metered', token: METERED, scopes: ['write'], points_per_second: RATE },
    ]),
  );
  for (const name of ['a', 'b', 'c']) {
    const clock = new ManualClock(t0);
    const config = loadConfig({
      PORT: '0',
      LOG_LEVEL: 'silent',
      DEMO: '0',
      ROLLUP_INTERVAL: '0',
      DATA_DIR: join(dir, 'data'),
      CHDB_CONFIG_FILE: keeper,
      LEADER_ELECTION: 'keeper',
      NODE_ID: name,
      CONFIG_POLL_INTERVAL: `${POLL}ms`,
      MAX_SERIES_PER_SERVICE: String(LIMIT),
      MAX_SERIES_PER_KEY: '0',
      AUTH_TOKENS_FILE: tokens,
      RATE_LIMIT_BURST_SECONDS: '1',
      LEASE_TTL: `${TTL}ms`,
      LEASE_RENEW: `${RENEW}ms`,
    });
    nodes.push({ name, clock, running: await startMetronome(config, pino({ level: 'silent' }), { alertingClock: clock, clusterClock: clock }) });
  }
});
afterAll(async () => {
  for (const n of nodes) await n.running.close();
  rmSync(dir, { recursive: true, force: true });
});

const [a, b, c] = [0, 1, 2].map((i) => () => nodes[i]);
let seq = 0;
/** `n` series of `service` that no node has seen, written through `node`. */
function writeNew(node: Node, service: string, n: number) {
  const ts = node.clock.now();
  return postJson(
    `${node.running.url}/write`,
    Array.from({ length: n }, () => heroic('cl.limits', { service, i: String(seq++) }, [[ts, 1]])),
    { authorization: `Bearer ${CARD}` },
  );
}
async function advance(ms: number) {
  for (const n of nodes) await n.clock.advance(ms);
}
async function stored(service: string): Promise<number> {
  const [r] = await nodes[0].running.ctx.store.query<{ n: string }>(
    sql`SELECT uniqExact(series_id) AS n FROM series WHERE service = ${param('String', service)}`,
  );
  return Number(r.n);
}

describe('global new-series limit across three nodes', () => {
  it('counts the series another node created once the poll interval has passed', async () => {
    expect((await writeNew(a(), 'g1', 6)).status).toBe(200);
    await advance(POLL);
    // b has read a's 6 from the series table: 6 more would make 12.
    const over = await writeNew(b(), 'g1', 6);
    expect(over.status).toBe(400);
    expect(over.body.error).toMatchObject({ code: 'MTR_LIMIT_SERIES_PER_SERVICE', service: 'g1', max: LIMIT, today: 6, requested: 6 });
    expect((await writeNew(b(), 'g1', 4)).status).toBe(200);
    await advance(POLL);
    for (const n of [a(), b(), c()]) {
      const r = await writeNew(n, 'g1', 1);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'MTR_LIMIT_SERIES_PER_SERVICE', today: LIMIT });
    }
    expect(await stored('g1')).toBe(LIMIT);
  });

  it('within one poll interval the three together exceed the limit by at most 2 x (limit - count at the last resync), then by nothing', async () => {
    await advance(POLL);
    // Every node has just read 0 for g2 and none sees the others until the next resync.
    const first = await Promise.all(nodes.map((n) => writeNew(n, 'g2', LIMIT)));
    expect(first.map((r) => r.status)).toEqual([200, 200, 200]);
    // Each node still holds its own count: none admits an 11th on its own view.
    for (const n of nodes) expect((await writeNew(n, 'g2', 1)).status).toBe(400);
    const total = await stored('g2');
    // The bound: LIMIT + (N - 1) x (LIMIT - 0).
    expect(total).toBeLessThanOrEqual(LIMIT + 2 * LIMIT);
    await advance(POLL);
    for (const n of nodes) {
      const r = await writeNew(n, 'g2', 1);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ today: total });
    }
    expect(await stored('g2')).toBe(total);
  });

  it('keeps counting series it admitted that have not reached the series table when it resyncs', async () => {
    const tracker = a().running.ctx.cardinality;
    const now = a().clock.now();
    // Admitted (counted) but never written, as a write still on its way to the store.
    const inflight = Array.from({ length: 7 }, (_, i) => ({
      seriesId: String(9_000_000_000 + i),
      key: 'cl.inflight',
      tags: { service: 'g3' },
      service: 'g3',
      firstSeen: now,
      lastSeen: now,
    }));
    await tracker.admit(inflight, now);
    await advance(POLL);
    // The series table holds none of them; after the resync a still counts 7 of 10.
    const r = await writeNew(a(), 'g3', 4);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'MTR_LIMIT_SERIES_PER_SERVICE', today: 7, requested: 4 });
    expect((await writeNew(a(), 'g3', 3)).status).toBe(200);
    await advance(POLL);
    // The 3 written are read from the table now, the 7 still kept on top: 10.
    expect((await writeNew(a(), 'g3', 1)).body.error).toMatchObject({ today: LIMIT });
  });
});

describe('per-token rate limit split across live nodes', () => {
  /** 5 points of one series through `node` as the metered token. */
  const send5 = (node: Node) =>
    postJson(`${node.running.url}/write`, heroic('cl.rate', { service: 'r' }, Array.from({ length: 5 }, (_, i) => [node.clock.now() - i, 1] as [number, number])), {
      authorization: `Bearer ${METERED}`,
    });
  /** Requests of 5 points through `node` until one is refused; the points accepted. */
  async function drain(node: Node): Promise<number> {
    let points = 0;
    for (;;) {
      const r = await send5(node);
      if (r.status !== 200) {
        expect(r.status).toBe(429);
        expect(r.body.error.code).toBe('MTR_RATE_LIMIT_POINTS');
        return points;
      }
      points += 5;
    }
  }

  it('each of three live nodes allows a third of the rate: together 30 points/s over 10 s, not 90', async () => {
    await advance(RENEW); // every node has beaten since all three started
    expect(nodes.map((n) => n.running.ctx.access.limiter.nodes)).toEqual([3, 3, 3]);
    // Full buckets, then 10 s in 1 s steps, every node drained at each step.
    let total = 0;
    for (const n of nodes) total += await drain(n);
    for (let s = 0; s < 10; s++) {
      await advance(1000);
      for (const n of nodes) total += await drain(n);
    }
    // Long run: RATE x 10 s; on top, the nodes' bursts (3 x RATE / 3 x 1 s) and one request per
    // node past its empty bucket (the limiter lets a request through while not in debt, and the
    // debt carries over, so that overshoot does not add up over the steps). Measured: 345.
    const W = 10;
    expect(total).toBeGreaterThanOrEqual(RATE * W);
    expect(total).toBeLessThanOrEqual(RATE * W + RATE * 1 + 3 * 5);
    // Unsplit, each node would take 30/s: 3 x 335 = 1005 (measured with the split turned off).
    expect(total).toBeLessThan(3 * RATE * W);
  });

  it('a node that stops leaves the table at once; a frozen one after LEASE_TTL; the rest take larger shares', async () => {
    const [na, nb, nc] = nodes;
    await nc.running.close(); // deletes its row
    await advance(RENEW); // a and b beat: 2 live
    expect([na, nb].map((n) => n.running.ctx.access.limiter.nodes)).toEqual([2, 2]);
    // b freezes (its clock stops: no more beats); a's view of b's row ages past LEASE_TTL.
    for (let t = 0; t < TTL + RENEW; t += RENEW) await na.clock.advance(RENEW);
    expect(na.running.ctx.access.limiter.nodes).toBe(1);
    // Alone, a allows the whole rate: a full bucket of 30 (+ one request) at a standing clock.
    await na.clock.advance(2000);
    expect(await drain(na)).toBe(RATE + 5);
  });
});
