import { rmSync } from 'node:fs';
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
 * Global limits with three nodes in one process on one embedded store (KeeperMap lease on
 * chdb's test keeper), each on its own ManualClock. The new-series limit per service is 10; the
 * nodes read everyone's counts from the series table every CONFIG_POLL_INTERVAL (5 s).
 */
const LIMIT = 10;
const POLL = 5000;

interface Node {
  name: string;
  clock: ManualClock;
  running: Running;
}

const dir = tempDir('metronome-cluster-limits-');
const nodes: Node[] = [];
// Inside today (UTC) on every clock: series count for the day of their first point.
const t0 = Date.now() - 60_000;

beforeAll(async () => {
  const keeper = testKeeperConfig(dir);
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
