import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { loadConfig } from '../server/config.js';
import { startMetronome, type Running } from '../server/start.js';
import { param, sql } from '../server/store/index.js';
import { readMigrations } from '../server/store/migrate.js';
import { testKeeperConfig } from './cluster-keeper.js';
import { push, series, startReceiver, testEpoch, until } from './alerting-helpers.js';
import { tempDir } from './helpers.js';

/**
 * Three Metronome nodes in one process on one embedded store (chdb shares one engine per
 * process), electing a leader through a KeeperMap lease on chdb's in-process test keeper. Each
 * node runs on its own ManualClock: a node whose clock stands still is frozen (it neither
 * renews nor evaluates) without being closed.
 */
const T = testEpoch(1);
const TTL = 15_000;
const RULES = `groups:
  - name: cluster
    interval: 10s
    rules:
      - alert: First
        expr: cl_first > 0
      - alert: Second
        expr: cl_second > 0
      - alert: Third
        expr: cl_third > 0
      - record: cl:first:sum
        expr: sum(cl_first)
`;

interface Node {
  name: string;
  clock: ManualClock;
  running: Running;
}

let hook: Awaited<ReturnType<typeof startReceiver>>;
const dir = tempDir('metronome-cluster-');
const nodes: Node[] = [];

beforeAll(async () => {
  hook = await startReceiver();
  writeFileSync(join(dir, 'cluster.rules.yml'), RULES);
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    `route:
  receiver: hook
  group_by: [alertname]
  group_wait: 5s
  group_interval: 1m
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs: [{ url: '${hook.url}/hook' }]
`,
  );
  const keeper = testKeeperConfig(dir);
  for (const name of ['a', 'b', 'c']) {
    const clock = new ManualClock(T);
    const config = loadConfig({
      PORT: '0',
      LOG_LEVEL: 'silent',
      DEMO: '0',
      DATA_DIR: join(dir, 'data'),
      CHDB_CONFIG_FILE: keeper,
      LEADER_ELECTION: 'keeper',
      NODE_ID: name,
      LEASE_TTL: '15s',
      LEASE_RENEW: '5s',
      RULE_FILES: join(dir, '*.rules.yml'),
      NOTIFY_CONFIG: join(dir, 'alertmanager.yml'),
      PROBE_MIN_INTERVAL: '1s',
    });
    nodes.push({ name, clock, running: await startMetronome(config, pino({ level: 'silent' }), { alertingClock: clock, clusterClock: clock, probeClock: clock }) });
  }
});
afterAll(async () => {
  for (const n of nodes) await n.running.close();
  await hook?.close();
  rmSync(dir, { recursive: true, force: true });
});

const leaders = () => nodes.filter((n) => n.running.leadership!.isLeader());
const sent = (alertname: string) => hook.bodies('/hook').filter((b) => b.groupLabels.alertname === alertname && b.status === 'firing');
async function settle(list: Node[]): Promise<void> {
  for (const n of list) await n.running.ctx.alerting!.notifier.settled();
}
/** Move the given nodes' clocks forward together, a second at a time. */
async function advance(list: Node[], ms: number): Promise<void> {
  for (let done = 0; done < ms; done += 1000) for (const n of list) await n.clock.advance(1000);
  await settle(list);
}
async function firingHistory(alertname: string): Promise<number> {
  const [r] = await nodes[0].running.ctx.store.query<{ n: string }>(
    sql`SELECT count() AS n FROM alert_history WHERE labels['alertname'] = ${param('String', alertname)} AND to_state = 'firing'`,
  );
  return Number(r.n);
}

describe('three nodes, one store, one leader', () => {
  it('migrated once: one schema_migrations row per migration', async () => {
    const rows = await nodes[0].running.ctx.store.query<{ version: number; n: string }>(
      sql`SELECT version, count() AS n FROM schema_migrations GROUP BY version ORDER BY version`,
    );
    expect(rows.map((r) => [Number(r.version), Number(r.n)])).toEqual(readMigrations().map((m) => [m.version, 1]));
  });

  it('elects exactly one leader, and only it evaluates: one notification and one history transition per alert', async () => {
    expect(leaders().map((n) => n.name)).toEqual(['a']);
    expect(nodes[0].running.leadership!.lease.token).toBe(1);
    await push(nodes[1].running.url, 'cl_first', { job: 'x' }, series(T - 30_000, T + 600_000, 5_000, () => 1));
    await advance(nodes, 30_000);
    expect(sent('First')).toHaveLength(1);
    expect(await firingHistory('First')).toBe(1);
    // The recording rule is written once per evaluation, not once per node.
    // (Rollups are made by the rollup job from deduplicated points: test/exactly-once.test.ts.)
    const [rec] = await nodes[0].running.ctx.store.query<{ n: string; ts: string }>(
      sql`SELECT count() AS n, uniqExact(ts) AS ts
          FROM points WHERE series_id IN (SELECT series_id FROM series WHERE key = 'cl:first:sum')`,
    );
    expect(Number(rec.ts)).toBeGreaterThanOrEqual(3);
    expect(Number(rec.n)).toBe(Number(rec.ts));
    // Followers answer /api/v1/alerts from what the leader persisted.
    await advance(nodes, 6_000);
    for (const n of nodes) {
      const r = await fetch(`${n.running.url}/api/v1/alerts`).then((x) => x.json());
      expect(r.data.alerts.map((a: { labels: { alertname: string }; state: string }) => [a.labels.alertname, a.state]), n.name).toEqual([['First', 'firing']]);
    }
  });

  it('fails over within 2 x TTL when the leader freezes: nothing sent twice, nothing missed, the stale leader is fenced', async () => {
    const [a, ...rest] = nodes;
    let waited = 0;
    while (!rest.some((n) => n.running.leadership!.isLeader())) {
      await advance(rest, 1000);
      waited += 1000;
      expect(waited).toBeLessThanOrEqual(2 * TTL);
    }
    const next = rest.filter((n) => n.running.leadership!.isLeader());
    expect(next).toHaveLength(1);
    expect(next[0].running.leadership!.lease.token).toBe(2);
    // A new alert after the failover is announced once, by the new leader; the old one is not re-sent.
    await push(next[0].running.url, 'cl_second', { job: 'y' }, series(T, T + 600_000, 5_000, () => 1));
    await advance(rest, 30_000);
    expect(sent('Second')).toHaveLength(1);
    expect(sent('First')).toHaveLength(1);
    // The frozen leader wakes up at the others' time (a paused process resumes with real time):
    // its due evaluations and sends run before its renewal finds it lost the lease, and the
    // fencing check in Keeper refuses each of their writes and sends.
    expect(await firingHistory('Second')).toBe(1);
    await advance([a], rest[0].clock.now() - a.clock.now());
    expect(a.running.leadership!.isLeader()).toBe(false);
    expect(leaders()).toEqual(next);
    await advance(nodes, 30_000);
    expect(sent('First')).toHaveLength(1);
    expect(sent('Second')).toHaveLength(1);
    expect(await firingHistory('First')).toBe(1);
    expect(await firingHistory('Second')).toBe(1);
  });

  it('a follower refuses alerts posted to it (503, MTR_CLUSTER_NOT_LEADER, naming the leader); the leader accepts them', async () => {
    const leader = leaders()[0];
    const follower = nodes.find((n) => n !== leader)!;
    const post = (n: Node) =>
      fetch(`${n.running.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ labels: { alertname: 'Posted' } }]) });
    const r = await post(follower);
    expect(r.status).toBe(503);
    // The Alertmanager API's error shape: a JSON string, and the code in a header.
    expect(r.headers.get('x-metronome-error-code')).toBe('MTR_CLUSTER_NOT_LEADER');
    expect(await r.json()).toMatch(new RegExp(`^MTR_CLUSTER_NOT_LEADER: .*the leader is ${leader.name}\\)`));
    expect((await post(leader)).status).toBe(200);
  });

  it('a silence created on a follower holds on the leader within CONFIG_POLL_INTERVAL', async () => {
    const leader = leaders()[0];
    const follower = nodes.find((n) => n !== leader)!;
    const r = await fetch(`${follower.running.url}/api/v1/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ matchers: ['alertname="Third"'], duration: '2h', createdBy: 'test', comment: 'made on a follower' }),
    });
    expect(r.status).toBe(201);
    await advance(nodes, 5_000); // one poll interval (default 5 s)
    await push(follower.running.url, 'cl_third', { job: 'z' }, series(leader.clock.now() - 10_000, leader.clock.now() + 600_000, 5_000, () => 1));
    await advance(nodes, 60_000);
    expect(await firingHistory('Third')).toBe(1);
    expect(hook.bodies('/hook').filter((b) => b.groupLabels.alertname === 'Third')).toHaveLength(0);
    const alerts = await fetch(`${leader.running.url}/api/v1/alerts`).then((x) => x.json());
    expect(alerts.data.alerts.find((a: { labels: { alertname: string } }) => a.labels.alertname === 'Third')).toMatchObject({ state: 'firing' });
    // Control: the other alerts still went out once each, nothing more.
    expect(sent('First')).toHaveLength(1);
    expect(sent('Second')).toHaveLength(1);
  });

  it('only the leader probes: a probe created on a follower runs once per interval in the cluster', async () => {
    let connections = 0;
    const target = createNetServer((sock) => {
      connections++;
      sock.end();
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    try {
      const port = (target.address() as AddressInfo).port;
      const follower = nodes.find((n) => !n.running.leadership!.isLeader())!;
      const r = await fetch(`${follower.running.url}/api/v1/probes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'cl-tcp', service: 'web', kind: 'tcp', target: `127.0.0.1:${port}`, interval: '10s' }),
      });
      expect(r.status, await r.clone().text()).toBe(201);
      // Every node's scheduler reloads within a minute; then 6 intervals.
      await advance(nodes, 61_000);
      const before = connections;
      await advance(nodes, 60_000);
      await until(() => connections - before >= 6, 5_000, 'six probe connections');
      expect(connections - before).toBe(6);
    } finally {
      await new Promise<void>((resolve) => target.close(() => resolve()));
    }
  });
});
