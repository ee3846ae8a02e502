import { describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config.js';
import { ensureLeaseTable } from '../server/cluster/lease.js';
import { compile, type Store } from '../server/store/index.js';
import { applyRetention, planStatements, readMigrations } from '../server/store/migrate.js';
import { setTopology, SHARDED_TABLES, topologyStatements } from '../server/store/topology.js';

/**
 * The DDL each CLICKHOUSE_TOPOLOGY applies, as text: chdb runs neither ReplicatedMergeTree (no
 * interserver port) nor Distributed tables nor ON CLUSTER, so the statements are checked here
 * and run only on a real cluster (docker-compose.cluster.yml).
 */
const all = readMigrations().flatMap((m) => m.statements);
const createdTables = all.flatMap((s) => /^CREATE TABLE IF NOT EXISTS (\w+)/.exec(s)?.[1] ?? []);

describe('CLICKHOUSE_TOPOLOGY DDL', () => {
  it('single: the schema files unchanged', () => {
    expect(topologyStatements(all, { topology: 'single' })).toEqual(all);
  });

  it('replicated: every table a Replicated engine under one path, every statement ON CLUSTER', () => {
    const out = topologyStatements(all, { topology: 'replicated', cluster: 'metronome' });
    expect(out).toHaveLength(all.length);
    const creates = out.filter((s) => s.startsWith('CREATE TABLE'));
    expect(creates).toHaveLength(createdTables.length);
    for (const s of creates) {
      const name = /^CREATE TABLE IF NOT EXISTS (\w+) ON CLUSTER metronome\b/.exec(s)?.[1];
      expect(name, s.slice(0, 80)).toBeDefined();
      expect(s).toMatch(new RegExp(`ENGINE = Replicated\\w*MergeTree\\('/clickhouse/tables/all/\\{database\\}/${name}', '\\{replica\\}'`));
      expect(s).not.toMatch(/ENGINE = (Replacing|Aggregating)?MergeTree/);
    }
    // Engine arguments are kept after the path and replica.
    expect(out.find((s) => s.includes('IF NOT EXISTS alert_state'))).toMatch(/ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/all\/\{database\}\/alert_state', '\{replica\}', version\)/);
    expect(out.find((s) => s.includes('IF NOT EXISTS services'))).toMatch(/ReplicatedReplacingMergeTree\([^)]*, updated_at, deleted\)/);
    for (const s of out.filter((x) => /^(DROP|CREATE MATERIALIZED|ALTER)/.test(x))) expect(s).toMatch(/ ON CLUSTER metronome\b/);
  });

  it('sharded: series-sized tables local + Distributed by series_id, views on the local tables, small tables on every server', () => {
    const out = topologyStatements(all, { topology: 'sharded', cluster: 'metronome' });
    for (const t of SHARDED_TABLES) {
      expect(createdTables).toContain(t);
      expect(out.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS ${t}_local `))).toMatch(
        new RegExp(`ON CLUSTER metronome[\\s\\S]*ENGINE = Replicated\\w*MergeTree\\('/clickhouse/tables/\\{shard\\}/\\{database\\}/${t}', '\\{replica\\}'`),
      );
      expect(out).toContain(`CREATE TABLE IF NOT EXISTS ${t} ON CLUSTER metronome AS ${t}_local ENGINE = Distributed(metronome, currentDatabase(), ${t}_local, series_id)`);
    }
    for (const t of createdTables.filter((x) => !SHARDED_TABLES.has(x))) {
      expect(out.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS ${t} `))).toMatch(/'\/clickhouse\/tables\/all\/\{database\}\//);
      expect(out.some((s) => s.includes(`${t}_local`))).toBe(false);
    }
    const views = out.filter((s) => s.startsWith('CREATE MATERIALIZED VIEW'));
    expect(views.length).toBeGreaterThan(0);
    for (const v of views) {
      expect(v).toMatch(/ ON CLUSTER metronome TO rollup_1[mh]_local AS/);
      expect(v).not.toMatch(/FROM (points|rollup_1m)\b(?!_local)/);
    }
    expect(out).toContain('DROP VIEW IF EXISTS rollup_1m_mv ON CLUSTER metronome');
    // 006 applied to an existing cluster: the atomic swap reads the local table too.
    const swap = topologyStatements(planStatements(readMigrations().find((m) => m.version === 6)!.statements, new Set(['rollup_1m_mv', 'rollup_1h_mv'])), { topology: 'sharded', cluster: 'metronome' });
    expect(swap[0]).toMatch(/^ALTER TABLE rollup_1m_mv ON CLUSTER metronome MODIFY QUERY SELECT[\s\S]*FROM points_local\n/);
    expect(swap[1]).toMatch(/FROM rollup_1m_local\n/);
  });

  it('DDL outside the migrations follows the process topology: retention on the local table, ON CLUSTER', async () => {
    const seen: string[] = [];
    // A store that records the DDL it is given and answers the engine lookup.
    const store = {
      kind: 'remote',
      async query() {
        return [{ engine_full: 'ReplicatedReplacingMergeTree(...)' }];
      },
      async command(q: { __sql?: true }) {
        seen.push(compile(q as never).sql);
      },
    } as unknown as Store;
    setTopology({ topology: 'sharded', cluster: 'metronome' });
    try {
      expect(await applyRetention(store, 'points', 'ts', 7)).toBe(true);
      expect(await applyRetention(store, 'alert_history', 'ts', 90)).toBe(true);
      await ensureLeaseTable(store, '/metronome/metronome/lease');
    } finally {
      setTopology({ topology: 'single' });
    }
    expect(seen).toEqual([
      'ALTER TABLE points_local ON CLUSTER metronome MODIFY TTL toDateTime(ts) + INTERVAL 7 DAY',
      'ALTER TABLE alert_history ON CLUSTER metronome MODIFY TTL toDateTime(ts) + INTERVAL 90 DAY',
      "CREATE TABLE IF NOT EXISTS metronome_lease ON CLUSTER metronome (name String, holder String, token UInt64, expires Int64)\n    ENGINE = KeeperMap('/metronome/metronome/lease') PRIMARY KEY name",
    ]);
  });

  it('refuses a clustered topology without a cluster name', () => {
    expect(() => topologyStatements(all, { topology: 'sharded' })).toThrow(/CLICKHOUSE_CLUSTER/);
    expect(() => loadConfig({ CLICKHOUSE_TOPOLOGY: 'ring' })).toThrow(/CLICKHOUSE_TOPOLOGY/);
  });
});
