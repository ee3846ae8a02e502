/**
 * The migrations' DDL for a ClickHouse cluster (CLICKHOUSE_TOPOLOGY). The schema/ files are
 * written for one server; this rewrites each statement as it is applied:
 *
 * - single: unchanged.
 * - replicated: every statement ON CLUSTER, every *MergeTree a Replicated*MergeTree under one
 *   Keeper path per table (all servers hold all data). ON CLUSTER rather than a Replicated
 *   database: the operator's database stays an ordinary one (no database engine to create or
 *   migrate), and the DDL a node runs is visible in these statements.
 * - sharded: the tables that grow with series (points, series, rollups, series ends) become
 *   `<name>_local` replicated tables with a per-shard path, and a Distributed table under the
 *   old name shards by `series_id`, so a series' points, rollups, end and label row share one
 *   shard. Materialized views read and write the local tables: rollups aggregate on the shard
 *   that holds the points. Small tables (alerting, services, dashboards, probes, metadata) are
 *   replicated on every server, as in `replicated`.
 */
export type Topology = 'single' | 'replicated' | 'sharded';

export interface TopologyOptions {
  topology: Topology;
  /** remote_servers cluster name (required unless single). */
  cluster?: string;
}

let current: TopologyOptions = { topology: 'single' };
/**
 * The process's topology (start.ts sets it from the config before migrating): DDL issued
 * outside the migrations (retention, the lease table, schema_migrations) follows it too.
 */
export function setTopology(o: TopologyOptions): void {
  if (o.topology !== 'single') topologyStatements([], o); // validates the cluster name
  current = { ...o };
}
export function currentTopology(): TopologyOptions {
  return current;
}

/** The table DDL for `table` reaches under the current topology (`<t>_local` when sharded). */
export function storageTable(table: string): string {
  return current.topology === 'sharded' && SHARDED_TABLES.has(table) ? `${table}_local` : table;
}

/** Tables sharded by series_id under `sharded`. */
export const SHARDED_TABLES = new Set(['points', 'series', 'rollup_1m', 'rollup_1h', 'series_ends']);

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function topologyStatements(statements: readonly string[], o: TopologyOptions): string[] {
  if (o.topology === 'single') return [...statements];
  const cluster = o.cluster ?? '';
  if (!IDENT.test(cluster)) throw new Error(`CLICKHOUSE_CLUSTER must name the cluster for CLICKHOUSE_TOPOLOGY=${o.topology}`);
  const sharded = o.topology === 'sharded';
  const local = (name: string) => (sharded && SHARDED_TABLES.has(name) ? `${name}_local` : name);
  const on = `ON CLUSTER ${cluster}`;
  const out: string[] = [];
  for (const stmt of statements) {
    let m: RegExpExecArray | null;
    if ((m = /^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)([\s\S]*)$/i.exec(stmt))) {
      const name = m[1];
      const shardedTable = sharded && SHARDED_TABLES.has(name);
      const path = shardedTable ? `/clickhouse/tables/{shard}/{database}/${name}` : `/clickhouse/tables/all/{database}/${name}`;
      const body = m[2].replace(/ENGINE\s*=\s*(Replacing|Aggregating|Summing|Collapsing)?MergeTree(\s*\(([^)]*)\))?/i, (_all, kind = '', _p, args) => {
        const rest = args && args.trim() ? `, ${args.trim()}` : '';
        return `ENGINE = Replicated${kind}MergeTree('${path}', '{replica}'${rest})`;
      });
      out.push(`CREATE TABLE IF NOT EXISTS ${local(name)} ${on}${body}`);
      if (shardedTable) {
        out.push(`CREATE TABLE IF NOT EXISTS ${name} ${on} AS ${name}_local ENGINE = Distributed(${cluster}, currentDatabase(), ${name}_local, series_id)`);
      }
    } else if ((m = /^CREATE\s+MATERIALIZED\s+VIEW\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\s+TO\s+([A-Za-z_][A-Za-z0-9_]*)\s+AS\s+([\s\S]*)$/i.exec(stmt))) {
      out.push(`CREATE MATERIALIZED VIEW IF NOT EXISTS ${m[1]} ${on} TO ${local(m[2])} AS\n${fromLocal(m[3], local)}`);
    } else if ((m = /^ALTER\s+TABLE\s+([A-Za-z_][A-Za-z0-9_]*)\s+MODIFY\s+QUERY\s+([\s\S]*)$/i.exec(stmt))) {
      out.push(`ALTER TABLE ${m[1]} ${on} MODIFY QUERY ${fromLocal(m[2], local)}`);
    } else if ((m = /^(DROP\s+(?:VIEW|TABLE)\s+IF\s+EXISTS|ALTER\s+TABLE)\s+([A-Za-z_][A-Za-z0-9_]*)([\s\S]*)$/i.exec(stmt))) {
      out.push(`${m[1]} ${local(m[2])} ${on}${m[3]}`);
    } else out.push(stmt);
  }
  return out;
}

/** `FROM <sharded table>` inside a view's query reads the local table. */
function fromLocal(query: string, local: (n: string) => string): string {
  return query.replace(/\bFROM\s+([A-Za-z_][A-Za-z0-9_]*)\b/gi, (all, t: string) => (local(t) === t ? all : `FROM ${local(t)}`));
}
