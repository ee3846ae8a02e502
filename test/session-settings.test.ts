import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inlineSettings } from '../server/store/embedded.js';
import { raw, sql } from '../server/store/index.js';
import { postJson, startTestServer, type TestServer } from './helpers.js';
import { baseTime, loadSeries, promGet } from './promql-helpers.js';

/**
 * Settings given for one statement stay with that statement. chdb's connection adapter turns a
 * query's `clickhouse_settings` into `SET` statements on its session, where they would stay in
 * force for every later statement on the embedded store (the rollup job's optimize_on_insert = 0,
 * a Heroic query's limits, the lease's keeper_map_strict_mode); the embedded store writes them
 * into the statement as a SETTINGS clause instead.
 */
const B = baseTime(6);
const HOUR = 3_600_000;
let srv: TestServer;

/** What a later statement sees, through both of the store's paths (its client and its read session). */
async function seen(): Promise<{ client: Record<string, string>; reads: Record<string, string> }> {
  const q = sql`SELECT ${raw(WATCHED.map((n) => `toString(getSetting('${n}')) AS ${n}`).join(', '))}`;
  const [client] = await srv.ctx.store.query<Record<string, string>>(q);
  const [reads] = await srv.ctx.store.query<Record<string, string>>(q, { binary: true });
  return { client, reads };
}

const WATCHED = ['optimize_on_insert', 'max_insert_threads', 'max_execution_time', 'max_memory_usage', 'max_result_bytes', 'max_rows_to_read', 'mutations_sync'];
let defaults: Awaited<ReturnType<typeof seen>>;

beforeAll(async () => {
  srv = await startTestServer({ HEAD_BYTES: '0', QUERY_CACHE_BYTES: '0' });
  defaults = await seen();
  await loadSeries(srv.ctx.store, [
    { labels: { __name__: 'cpu.usage', host: 'a' }, samples: Array.from({ length: 360 }, (_, i): [number, number] => [B + (i + 1) * 10_000, i % 17]) },
  ]);
});
afterAll(async () => {
  await srv?.destroy();
});

describe('per-statement settings on the embedded store', () => {
  it('are written into the statement: before VALUES in an INSERT ... VALUES, else at the end', () => {
    const s = { keeper_map_strict_mode: 1, optimize_on_insert: false };
    expect(inlineSettings('INSERT INTO t (a, b) VALUES ({p0:String}, 1)', s)).toBe('INSERT INTO t (a, b) SETTINGS keeper_map_strict_mode = 1, optimize_on_insert = 0 VALUES ({p0:String}, 1)');
    expect(inlineSettings('INSERT INTO t (a) SELECT a FROM u;\n', { max_insert_threads: 2 })).toBe('INSERT INTO t (a) SELECT a FROM u\nSETTINGS max_insert_threads = 2');
    expect(inlineSettings('SELECT 1', undefined)).toBe('SELECT 1');
    expect(() => inlineSettings('SELECT 1', { 'x; DROP': 1 })).toThrow(/invalid setting/);
  });

  it('a statement given settings sees them', async () => {
    const [r] = await srv.ctx.store.query<{ v: string }>(sql`SELECT toString(getSetting('max_insert_threads')) AS v`, { settings: { max_insert_threads: 3 } });
    expect(r.v).toBe('3');
    expect(defaults.client.max_insert_threads).not.toBe('3');
  });

  it('statements after the rollup job see the default optimize_on_insert and max_insert_threads', async () => {
    const run = await srv.rollups.runOnce();
    expect(run.hours.length).toBeGreaterThan(0);
    expect(await seen()).toEqual(defaults);
  });

  it('statements after a Heroic query and a PromQL query with limits see the defaults', async () => {
    const h = await postJson(`${srv.url}/query/metrics`, {
      range: { type: 'absolute', start: B, end: B + HOUR },
      filter: ['key', 'cpu.usage'],
      aggregation: { type: 'quantile', q: 0.5, sampling: { unit: 'seconds', value: 60 } },
    });
    expect(h.status, JSON.stringify(h.body)).toBe(200);
    expect(h.body.result).toHaveLength(1);
    const p = await promGet(srv.url, '/api/v1/query_range', { query: 'sum_over_time({__name__="cpu.usage"}[5m])', start: (B + HOUR / 2) / 1000, end: (B + HOUR) / 1000, step: 60 });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(await seen()).toEqual(defaults);
  });

  it('a command given settings leaves them off the session', async () => {
    await srv.ctx.store.command(sql`INSERT INTO rollup_dirty (w, at) VALUES (1, 1)`, { settings: { max_insert_threads: 5, optimize_on_insert: 0 } });
    await srv.ctx.store.command(sql`INSERT INTO rollup_dirty (w, at) SELECT 2, getSetting('max_insert_threads')`, { settings: { max_insert_threads: 5 } });
    // The statements saw their settings: the second stored the value it was given.
    const rows = await srv.ctx.store.query<{ w: number; at: string }>(sql`SELECT w, at FROM rollup_dirty FINAL WHERE w IN (1, 2) ORDER BY w`);
    expect(rows.map((r) => [Number(r.w), Number(r.at)])).toEqual([[1, 1], [2, 5]]);
    await srv.ctx.store.command(sql`ALTER TABLE rollup_dirty DELETE WHERE w IN (1, 2)`, { settings: { mutations_sync: 2 } });
    const [n] = await srv.ctx.store.query<{ n: string }>(sql`SELECT count() AS n FROM rollup_dirty WHERE w IN (1, 2)`);
    expect(Number(n.n)).toBe(0);
    expect(await seen()).toEqual(defaults);
  });
});
