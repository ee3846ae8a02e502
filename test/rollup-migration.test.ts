import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seriesId } from '../ingest/series-id.js';
import { SCHEMA_DIR } from '../server/paths.js';
import { HOUR_MS } from '../server/rollups/sql.js';
import { EmbeddedStore } from '../server/store/embedded.js';
import { migrate } from '../server/store/migrate.js';
import { param, sql } from '../server/store/index.js';
import { startTestServer, tempDir, type TestServer } from './helpers.js';
import { promGet } from './promql-helpers.js';

/**
 * Upgrading a database whose rollups the views of 002/006 made: every hour stays readable at
 * rollup resolution across migration 008, an hour whose raw points are gone keeps its old
 * rollups, and an hour that still has raw points is read from them, deduplicated, until the job
 * has recomputed it.
 */
const dataDir = tempDir('metronome-rollup-migration-');
let srv: TestServer | undefined;
afterAll(async () => {
  await srv?.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

const NOW = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
// Hour A: 30 h ago, its raw points expired before the upgrade. Hours B: 5 h to 3 h ago, sent twice.
const A0 = NOW - 30 * HOUR_MS;
const B0 = NOW - 5 * HOUR_MS;
const B2 = B0 + 2 * HOUR_MS;
const KEY = 'upgraded';
const ID = seriesId(KEY, { service: 'up' });

function columns(from: number, to: number) {
  const ts: number[] = [];
  for (let t = from + 5000; t <= to; t += 15_000) ts.push(t);
  return {
    length: ts.length,
    seriesId: BigInt64Array.from(ts, () => BigInt.asIntN(64, BigInt(ID))),
    ts: Float64Array.from(ts),
    value: Float64Array.from(ts, (_, i) => i % 5),
  };
}

async function counts(start: number, end: number, raw: boolean): Promise<number[]> {
  const r = await promGet(srv!.url, '/api/v1/query_range', { query: `count_over_time(${KEY}[1h])`, start: start / 1000, end: end / 1000, step: 3600, raw: String(raw) });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return (r.body.data.result[0]?.values ?? []).map((v: [number, string]) => Number(v[1]));
}

describe('migration 008 on a database the rollup views filled', () => {
  it('keeps every hour readable at rollup resolution, and deduplicated once the job has run', async () => {
    const old = mkdtempSync(join(tmpdir(), 'metronome-schema-006-'));
    for (const f of readdirSync(SCHEMA_DIR)) if (/^00[1-6]_/.test(f)) copyFileSync(join(SCHEMA_DIR, f), join(old, f));
    const store = new EmbeddedStore(dataDir);
    try {
      expect(await migrate(store, old)).toEqual([1, 2, 3, 4, 5, 6]);
      await store.insertSeries([{ seriesId: ID, key: KEY, tags: { service: 'up' }, service: 'up', firstSeen: A0, lastSeen: B2 }]);
      await store.insertPoints(columns(A0, A0 + HOUR_MS), 'a');
      await store.insertPoints(columns(B0, B2), 'b');
      await store.insertPoints(columns(B0, B2), 'b-again'); // a client's re-send: the views count it twice
      await store.command(sql`ALTER TABLE points DELETE WHERE ts <= ${param('DateTime64(3)', new Date(A0 + HOUR_MS).toISOString().slice(0, 23).replace('T', ' '))} SETTINGS mutations_sync = 2`);
      const [r] = await store.query<{ n: string }>(sql`SELECT sum(cnt) AS n FROM rollup_1h WHERE ts > fromUnixTimestamp64Milli(${param('Int64', B0)}, 'UTC')`);
      expect(Number(r.n)).toBe(2 * 480); // what the views made of the re-send
    } finally {
      await store.close();
      rmSync(old, { recursive: true, force: true });
    }

    srv = await startTestServer({ DATA_DIR: dataDir, ROLLUP_INTERVAL: '0', QUERY_CACHE_BYTES: '0' });
    // Hour A: raw points gone, the views' rollups still answer.
    expect(await counts(A0 + HOUR_MS, A0 + HOUR_MS, true)).toEqual([]);
    expect(await counts(A0 + HOUR_MS, A0 + HOUR_MS, false)).toEqual([240]);
    // Hours B: marked dirty by the migration, read from deduplicated raw points.
    expect(await counts(B0 + HOUR_MS, B2, false)).toEqual([240, 240]);
    expect(await counts(B0 + HOUR_MS, B2, true)).toEqual([240, 240]);

    const run = await srv.rollups.runOnce();
    expect(run.hours).toEqual(expect.arrayContaining([B0 / HOUR_MS + 1, B2 / HOUR_MS]));
    expect(run.hours).not.toContain(A0 / HOUR_MS + 1);
    const gens = await srv.ctx.store.query<{ w: number; g: string }>(sql`SELECT w, argMax(gen, version) AS g FROM rollup_windows GROUP BY w ORDER BY w`);
    const genOf = new Map(gens.map((x) => [Number(x.w), Number(x.g)]));
    expect(genOf.get(A0 / HOUR_MS + 1)).toBe(0); // kept as the views made it
    expect(genOf.get(B2 / HOUR_MS)).toBeGreaterThan(0); // recomputed
    expect(await counts(A0 + HOUR_MS, A0 + HOUR_MS, false)).toEqual([240]);
    expect(await counts(B0 + HOUR_MS, B2, false)).toEqual([240, 240]);
    // The recomputed rows are what rollup reads take: 480 samples in the two hours, not 960.
    const [r] = await srv.ctx.store.query<{ n: string }>(
      sql`SELECT sum(cnt) AS n FROM rollup_1h WHERE ts > fromUnixTimestamp64Milli(${param('Int64', B0)}, 'UTC') AND gen > 0`,
    );
    expect(Number(r.n)).toBe(480);
  }, 120_000);
});
