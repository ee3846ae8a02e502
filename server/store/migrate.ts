import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_DIR } from '../paths.js';
import { param, raw, sql } from './sql.js';
import type { Store } from './store.js';
import { currentTopology, storageTable, topologyStatements, type TopologyOptions } from './topology.js';

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

const FILE = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

/** The numbered SQL files of schema/, in order. */
export function readMigrations(dir = SCHEMA_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => FILE.test(f))
    .sort()
    .map((f) => {
      const [, v, name] = FILE.exec(f)!;
      const text = readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter((l) => !l.trimStart().startsWith('--'))
        .join('\n');
      const statements = text
        .split(/;\s*(?:\n|$)/)
        .map((s) => s.trim())
        .filter(Boolean);
      return { version: Number(v), name, statements };
    });
}

/**
 * Held around a migration run so that nodes starting together migrate one at a time: the first
 * applies, the others find every version recorded and apply nothing. `acquire` resolves when
 * the lock is held and returns its release.
 */
export interface MigrationLock {
  acquire(): Promise<() => Promise<void>>;
}

/**
 * Within one process: chdb binds a data directory to one process, so every node on an embedded
 * store shares this process and this lock. Keyed by whatever names the store (path or URL).
 */
const processLocks = new Map<string, Promise<void>>();
export function processLock(key: string): MigrationLock {
  return {
    async acquire() {
      const prev = processLocks.get(key) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((r) => (release = r));
      const tail = prev.then(() => mine);
      processLocks.set(key, tail);
      await prev;
      return async () => {
        release();
        if (processLocks.get(key) === tail) processLocks.delete(key);
      };
    },
  };
}

const DROP_VIEW = /^DROP\s+VIEW\s+IF\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)$/i;
const CREATE_MV = /^CREATE\s+MATERIALIZED\s+VIEW\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\s+TO\s+[A-Za-z_][A-Za-z0-9_]*\s+AS\s+([\s\S]+)$/i;

/**
 * A migration's statements as they are applied. A view dropped and created again under the same
 * name (006 rewrites the rollup views) would leave a moment in which inserts reach no view and
 * their rollups are lost for good; when the view exists, the pair is applied as one
 * `ALTER TABLE <view> MODIFY QUERY`, which swaps the query atomically. A view that does not exist
 * yet is created as written.
 */
export function planStatements(statements: string[], existing: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < statements.length; i++) {
    const drop = DROP_VIEW.exec(statements[i]);
    const create = drop && i + 1 < statements.length ? CREATE_MV.exec(statements[i + 1]) : null;
    if (drop && create && create[1] === drop[1] && existing.has(drop[1])) {
      out.push(`ALTER TABLE ${drop[1]} MODIFY QUERY ${create[2]}`);
      i++;
    } else out.push(statements[i]);
  }
  return out;
}

/**
 * Apply every migration not yet recorded in schema_migrations, under `lock`. Idempotent: a second
 * run applies nothing; with the lock, nodes running it together apply each migration once (one
 * row per version). Returns the versions applied by this call.
 */
export async function migrate(store: Store, dir = SCHEMA_DIR, lock?: MigrationLock, topology: TopologyOptions = currentTopology()): Promise<number[]> {
  const release = await (lock ?? processLock(storeKey(store))).acquire();
  try {
    const [create] = topologyStatements(
      [`CREATE TABLE IF NOT EXISTS schema_migrations
      (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
      ENGINE = MergeTree ORDER BY version`],
      topology,
    );
    await store.command(raw(create));
    const done = new Set(
      (await store.query<{ version: number }>(sql`SELECT version FROM schema_migrations`)).map((r) => Number(r.version)),
    );
    const applied: number[] = [];
    for (const m of readMigrations(dir)) {
      if (done.has(m.version)) continue;
      const views = new Set(
        (
          await store.query<{ name: string }>(
            sql`SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView'`,
          )
        ).map((r) => r.name),
      );
      for (const stmt of topologyStatements(planStatements(m.statements, views), topology)) await store.command(raw(stmt));
      await store.insertRows('schema_migrations', [{ version: m.version, name: m.name }]);
      applied.push(m.version);
    }
    return applied;
  } finally {
    await release();
  }
}

/** What names a store for the process lock: its data directory, or its server. */
function storeKey(store: Store): string {
  const s = store as unknown as { path?: string; url?: string };
  return `${store.kind}:${s.path ?? s.url ?? ''}`;
}

/** The highest migration version recorded, or 0. */
export async function schemaVersion(store: Store): Promise<number> {
  const rows = await store.query<{ v: number }>(sql`SELECT max(version) AS v FROM schema_migrations`);
  return Number(rows[0]?.v ?? 0);
}

/**
 * Set a table's TTL to `days` on `column` if it differs; retention is configuration, so it is
 * applied at start-up rather than written into a migration.
 */
export async function applyRetention(store: Store, table: string, column: string, days: number): Promise<boolean> {
  const rows = await store.query<{ engine_full: string }>(
    sql`SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = ${param('String', storageTable(table))}`,
  );
  if (rows.length === 0) throw new Error(`table ${table} does not exist`);
  const want = `TTL toDateTime(${column}) + toIntervalDay(${days})`;
  if (rows[0].engine_full.includes(want)) return false;
  // On a cluster: the storage table (`<t>_local` when sharded), ON CLUSTER.
  const [alter] = topologyStatements(
    [`ALTER TABLE ${plainIdent(table)} MODIFY TTL toDateTime(${plainIdent(column)}) + INTERVAL ${Math.trunc(days)} DAY`],
    currentTopology(),
  );
  await store.command(raw(alter));
  return true;
}

/** Our own table and column names, checked before they are written into DDL text. */
function plainIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a plain identifier: ${JSON.stringify(name)}`);
  return name;
}
