import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { ensureLeaseTable, Lease } from '../server/cluster/lease.js';
import { EmbeddedStore } from '../server/store/embedded.js';
import { testKeeperConfig } from './cluster-keeper.js';
import { tempDir } from './helpers.js';

const TTL = 15_000;
const RENEW = 5_000;

/** Three nodes' leases on one KeeperMap table (chdb's test keeper), each node on its own clock. */
describe('leader lease (KeeperMap, strict mode)', () => {
  const dir = tempDir('metronome-cluster-lease-');
  let store: EmbeddedStore;
  beforeAll(async () => {
    store = new EmbeddedStore(join(dir, 'db'), undefined, [`--config-file=${testKeeperConfig(dir)}`]);
    await ensureLeaseTable(store, '/metronome/test/lease');
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const t0 = Date.UTC(2026, 0, 1);
  function nodes(name: string) {
    const events: string[] = [];
    const list = ['a', 'b', 'c'].map((node) => {
      const clock = new ManualClock(t0);
      const lease = new Lease({
        store,
        name,
        node,
        ttlMs: TTL,
        renewMs: RENEW,
        clock,
        onChange: (held, token) => void events.push(`${node}:${held ? 'held' : 'lost'}:${token}`),
      });
      return { node, clock, lease };
    });
    return { list, events };
  }

  it('of three nodes starting at once exactly one holds, with token 1, and keeps it while renewing', async () => {
    const { list } = nodes('race');
    const won = await Promise.all(list.map((n) => n.lease.start()));
    expect(won.filter(Boolean)).toHaveLength(1);
    const leader = list[won.indexOf(true)];
    expect(leader.lease.token).toBe(1);
    for (let i = 0; i < 6; i++) {
      for (const n of list) await n.clock.advance(RENEW);
      expect(list.map((n) => n.lease.held)).toEqual(list.map((n) => n === leader));
    }
    expect((await leader.lease.read())!.token).toBe(1);
    for (const n of list) await n.lease.stop();
  });

  it('moves to another node within 2 x TTL when the holder stops renewing (frozen, not closed); the old holder then loses it', async () => {
    const { list, events } = nodes('failover');
    await list[0].lease.start();
    for (const n of list.slice(1)) await n.lease.start();
    expect(list.map((n) => n.lease.held)).toEqual([true, false, false]);
    // a's clock stops: its timers never fire, it never renews. b and c go on.
    let after = 0;
    while (!list.slice(1).some((n) => n.lease.held)) {
      for (const n of list.slice(1)) await n.clock.advance(1000);
      after += 1000;
      expect(after).toBeLessThanOrEqual(2 * TTL);
    }
    expect(after).toBeGreaterThanOrEqual(TTL - RENEW);
    const next = list.slice(1).filter((n) => n.lease.held);
    expect(next).toHaveLength(1);
    expect(next[0].lease.token).toBe(2);
    // a wakes up: on its own clock its term has passed; its renewal finds token 2 and fails.
    await list[0].clock.advance(after);
    expect(list[0].lease.held).toBe(false);
    expect(events).toContain('a:lost:1');
    expect((await next[0].lease.read())!.holder).toBe(next[0].node);
    for (const n of list) await n.lease.stop();
  });

  it('a holder that stops releases at once: the next node takes over on its next tick', async () => {
    const { list } = nodes('release');
    await list[0].lease.start();
    await list[1].lease.start();
    await list[0].lease.stop();
    expect(list[0].lease.held).toBe(false);
    await list[1].clock.advance(RENEW);
    expect(list[1].lease.held).toBe(true);
    expect(list[1].lease.token).toBe(2);
    await list[1].lease.stop();
  });
});
