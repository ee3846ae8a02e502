import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_DIR } from '../paths.js';
import { ident, param, raw, sql } from './sql.js';
import type { Store } from './store.js';

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
 * Apply every migration not yet recorded in schema_migrations. Idempotent: a second run applies
 * nothing. Returns the versions applied.
 */
export async function migrate(store: Store, dir = SCHEMA_DIR): Promise<number[]> {
  await store.command(sql`
    CREATE TABLE IF NOT EXISTS schema_migrations
    (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
    ENGINE = MergeTree ORDER BY version`);
  const done = new Set(
    (await store.query<{ version: number }>(sql`SELECT version FROM schema_migrations`)).map((r) => Number(r.version)),
  );
  const applied: number[] = [];
  for (const m of readMigrations(dir)) {
    if (done.has(m.version)) continue;
    for (const stmt of m.statements) await store.command(raw(stmt));
    await store.insertRows('schema_migrations', [{ version: m.version, name: m.name }]);
    applied.push(m.version);
  }
  return applied;
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
    sql`SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = ${param('String', table)}`,
  );
  if (rows.length === 0) throw new Error(`table ${table} does not exist`);
  const want = `TTL toDateTime(${column}) + toIntervalDay(${days})`;
  if (rows[0].engine_full.includes(want)) return false;
  await store.command(
    sql`ALTER TABLE ${ident(table)} MODIFY TTL toDateTime(${ident(column)}) + INTERVAL ${raw(String(Math.trunc(days)))} DAY`,
  );
  return true;
}
