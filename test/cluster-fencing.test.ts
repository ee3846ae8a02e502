import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertingStore, type SavedAlert } from '../server/alerting/persistence.js';
import { FencedError, fencedStore, fencedVersion } from '../server/cluster/leadership.js';
import { sql } from '../server/store/index.js';
import { startTestServer, type TestServer } from './helpers.js';

/**
 * Fencing of the leader-only tables (issue 12): a leader that checked the lease, paused, and
 * wrote after the next leader did must lose, whatever the clocks say. Two fenced views of one
 * real embedded store stand for the old leader (term 1) and the new one (term 2); their `check`
 * passes (the race the lease check cannot close) and the clocks are injected, the stale one's
 * ahead.
 */
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.destroy();
});

const alert = (state: SavedAlert['state'], value: number): SavedAlert => ({
  ruleId: 'r1',
  groupKey: '{}:{alertname="Fenced"}',
  fingerprint: 'f1',
  labels: { alertname: 'Fenced' },
  annotations: {},
  state,
  value,
  activeAt: 1_000,
  firedAt: state === 'firing' ? 2_000 : 0,
  resolvedAt: state === 'inactive' ? 3_000 : 0,
  keepFiringSince: 0,
  evaluatedAt: 3_000,
});

describe('fenced versions', () => {
  it('orders by term before time, above every single-node version', () => {
    expect(fencedVersion(2, 0)).toBeGreaterThan(fencedVersion(1, 4_000_000_000_000));
    expect(fencedVersion(1, 1)).toBeGreaterThan(fencedVersion(1, 0));
    // A single-node version is microseconds since the epoch: the year 2100 is still below.
    expect(fencedVersion(1, 0)).toBeGreaterThan(BigInt(Date.UTC(2100, 0, 1) * 1000));
    expect(fencedVersion(2 ** 21 - 1, 2 ** 42 - 1)).toBeLessThan(2n ** 64n);
    expect(() => fencedVersion(0, 0)).toThrow(RangeError);
    expect(() => fencedVersion(2 ** 21, 0)).toThrow(RangeError);
  });

  it("keeps the new leader's alert state and notification log over a stale leader's later writes", async () => {
    const now = 1_800_000_000_000;
    const stale = new AlertingStore(fencedStore(srv.ctx.store, async () => true, () => 1, () => now + 60_000));
    const leader = new AlertingStore(fencedStore(srv.ctx.store, async () => true, () => 2, () => now));
    await leader.saveAlerts([alert('inactive', 0)]);
    await leader.putNflog({ receiver: 'pager', groupKey: 'g', firing: [], resolved: ['f1'], sentAt: now });
    // The old leader resumes, its clock a minute ahead, and writes what it had decided.
    await stale.saveAlerts([alert('firing', 1)]);
    await stale.putNflog({ receiver: 'pager', groupKey: 'g', firing: ['f1'], resolved: [], sentAt: now + 60_000 });
    const reader = new AlertingStore(srv.ctx.store);
    const [a] = await reader.loadAlerts();
    expect(a.state).toBe('inactive');
    const [n] = await reader.loadNflog();
    expect(n.resolved).toEqual(['f1']);
    // Merged by ClickHouse too (ReplacingMergeTree keeps the highest version).
    await srv.ctx.store.command(sql`OPTIMIZE TABLE alert_state FINAL`);
    expect((await reader.loadAlerts())[0].state).toBe('inactive');
  });

  it('refuses a leader-only write when the lease check fails, and lets other tables through', async () => {
    const follower = fencedStore(srv.ctx.store, async () => false, () => 3);
    await expect(new AlertingStore(follower).saveAlerts([alert('firing', 1)])).rejects.toBeInstanceOf(FencedError);
    await expect(new AlertingStore(follower).putObject('rule', 'other', { a: 1 })).resolves.toBeUndefined();
  });
});
