import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_DIR } from '../server/paths.js';
import { EmbeddedStore } from '../server/store/embedded.js';
import { sql } from '../server/store/index.js';
import { migrate, planStatements, readMigrations } from '../server/store/migrate.js';
import pino from 'pino';
import { loadConfig } from '../server/config.js';
import { migrateAsConfigured } from '../server/start.js';
import { tempDir } from './helpers.js';

/**
 * Migrations in cluster mode: several nodes on one store (three stores on one chdb engine, as
 * three nodes share one server) migrate together and each migration is applied once; a migration
 * that rewrites a rollup view never leaves inserts without one.
 */
describe('migrations once', () => {
  const dir = tempDir('metronome-cluster-migrate-');
  const nodes: EmbeddedStore[] = [];
  beforeAll(() => {
    for (let i = 0; i < 3; i++) nodes.push(new EmbeddedStore(dir));
  });
  afterAll(async () => {
    for (const n of nodes) await n.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('three nodes migrating at once record one row per migration, and one of them applies each', async () => {
    const all = readMigrations().map((m) => m.version);
    const applied = await Promise.all(nodes.map((n) => migrate(n)));
    expect(applied.flat().sort((a, b) => a - b)).toEqual(all);
    const rows = await nodes[1].query<{ version: number; n: string }>(
      sql`SELECT version, count() AS n FROM schema_migrations GROUP BY version ORDER BY version`,
    );
    expect(rows.map((r) => [Number(r.version), Number(r.n)])).toEqual(all.map((v) => [v, 1]));
    expect(await Promise.all(nodes.map((n) => migrate(n)))).toEqual([[], [], []]);
  });
});

describe('MIGRATE=off', () => {
  it('refuses to serve a schema older than the build, naming the command that migrates', async () => {
    const data = tempDir('metronome-cluster-off-');
    const store = new EmbeddedStore(data);
    const config = loadConfig({ DATA_DIR: data, MIGRATE: 'off' });
    try {
      await expect(migrateAsConfigured(config, store, pino({ level: 'silent' }))).rejects.toThrow(/MIGRATE=off and the schema is at version 0, this build needs \d+: run `npx tsx server\/main.ts migrate`/);
      expect(await migrateAsConfigured({ ...config, MIGRATE: 'auto' }, store, pino({ level: 'silent' }))).toEqual(readMigrations().map((m) => m.version));
      expect(await migrateAsConfigured(config, store, pino({ level: 'silent' }))).toEqual([]);
    } finally {
      await store.close();
      rmSync(data, { recursive: true, force: true });
    }
  });
});

describe('a view rewritten by a migration', () => {
  const stmts = readMigrations().find((m) => m.name === 'rollup_views_cheaper')!.statements;

  it('is swapped with MODIFY QUERY when it exists, created as written when it does not', () => {
    const swapped = planStatements(stmts, new Set(['rollup_1m_mv', 'rollup_1h_mv']));
    expect(swapped).toHaveLength(2);
    expect(swapped[0]).toMatch(/^ALTER TABLE rollup_1m_mv MODIFY QUERY SELECT/);
    expect(swapped[1]).toMatch(/^ALTER TABLE rollup_1h_mv MODIFY QUERY SELECT/);
    expect(swapped.join('\n')).not.toMatch(/DROP VIEW/);
    expect(planStatements(stmts, new Set())).toEqual(stmts);
  });

  it('keeps counting every point into the rollups while it is applied under concurrent inserts', async () => {
    const data = tempDir('metronome-cluster-view-');
    const schema = join(data, 'schema');
    mkdirSync(schema);
    // Up to 005: the views of 002 are live; then 006 (and 007, which leaves them alone) is applied
    // while points keep arriving. 008 drops the views for the rollup job (server/rollups): past it
    // the rollups are not made on insert at all.
    for (const f of readdirSync(SCHEMA_DIR)) if (/^00[1-5]_/.test(f)) copyFileSync(join(SCHEMA_DIR, f), join(schema, f));
    const viewsDir = join(data, 'schema-views');
    mkdirSync(viewsDir);
    for (const f of readdirSync(SCHEMA_DIR)) if (/^00[1-7]_/.test(f)) copyFileSync(join(SCHEMA_DIR, f), join(viewsDir, f));
    const store = new EmbeddedStore(join(data, 'db'));
    try {
      expect(await migrate(store, schema)).toEqual([1, 2, 3, 4, 5]);
      let stop = false;
      let sent = 0;
      const t0 = Date.UTC(2026, 0, 1);
      const writer = (async () => {
        for (let b = 0; !stop || b < 3; b++) {
          const n = 500;
          const cols = {
            length: n,
            seriesId: new BigInt64Array(n).fill(BigInt(b % 7) + 1n),
            ts: Float64Array.from({ length: n }, (_, i) => t0 + (b * n + i) * 10),
            value: Float64Array.from({ length: n }, (_, i) => i),
          };
          await store.insertPoints(cols, `view-swap-${b}`);
          sent += n;
        }
      })();
      const applied = await migrate(store, viewsDir);
      stop = true;
      await writer;
      expect(applied[0]).toBe(6);
      const [p] = await store.query<{ n: string }>(sql`SELECT count() AS n FROM points`);
      const [r1] = await store.query<{ n: string }>(sql`SELECT sum(cnt) AS n FROM rollup_1m`);
      const [r1h] = await store.query<{ n: string }>(sql`SELECT sum(cnt) AS n FROM rollup_1h`);
      expect(Number(p.n)).toBe(sent);
      expect(Number(r1.n)).toBe(sent);
      expect(Number(r1h.n)).toBe(sent);
      // The views run 006's queries now.
      const [v] = await store.query<{ q: string }>(sql`SELECT as_select AS q FROM system.tables WHERE database = currentDatabase() AND name = 'rollup_1m_mv'`);
      expect(v.q).toMatch(/argMin/);
    } finally {
      await store.close();
      rmSync(data, { recursive: true, force: true });
    }
  });
});
