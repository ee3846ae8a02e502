/**
 * Raw reads that count each (series, timestamp) once: the ways to deduplicate `points`
 * (a ReplacingMergeTree) at read time, side by side with the plain read that does not.
 * Three states: 10 parts of consecutive time (live ingest before merges), every third block
 * then re-sent (duplicates, as after client retries), and merged to one part (no duplicates:
 * what dedup costs when nothing needs it).
 *
 *   npx tsx bench/dedup-reads.ts [-- --series 2000 --points 1000 --runs 5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { PointColumns } from '../ingest/types.js';
import { EmbeddedStore } from '../server/store/embedded.js';
import { migrate } from '../server/store/migrate.js';
import { raw, sql, type Sql } from '../server/store/sql.js';

const { values: args } = parseArgs({
  options: { series: { type: 'string', default: '2000' }, points: { type: 'string', default: '1000' }, runs: { type: 'string', default: '5' } },
});

const WHERE = 'ts > fromUnixTimestamp64Milli(0) AND series_id % 2 = 0';
/** The same question (per series: count, sum) over each way of reading the points. */
const CANDIDATES: Record<string, string> = {
  plain: `SELECT series_id, count() AS n, sum(value) AS s FROM points WHERE ${WHERE} GROUP BY series_id`,
  final: `SELECT series_id, count() AS n, sum(value) AS s FROM points FINAL WHERE ${WHERE} GROUP BY series_id`,
  group_by_any: `SELECT series_id, count() AS n, sum(v) AS s FROM (SELECT series_id, ts, any(value) AS v FROM points WHERE ${WHERE} GROUP BY series_id, ts) GROUP BY series_id`,
  limit_1_by: `SELECT series_id, count() AS n, sum(value) AS s FROM (SELECT series_id, ts, value FROM points WHERE ${WHERE} LIMIT 1 BY series_id, ts) GROUP BY series_id`,
  final_split: `SELECT series_id, count() AS n, sum(value) AS s FROM points FINAL WHERE ${WHERE} GROUP BY series_id SETTINGS do_not_merge_across_partitions_select_final = 1`,
};

function block(series: number, points: number, from: number, seed: number): PointColumns {
  const n = series * points;
  const out: PointColumns = { length: n, seriesId: new BigInt64Array(n), ts: new Float64Array(n), value: new Float64Array(n) };
  let i = 0;
  for (let s = 0; s < series; s++) {
    for (let p = 0; p < points; p++, i++) {
      out.seriesId[i] = BigInt(s + 1);
      out.ts[i] = from + p * 10_000;
      out.value[i] = ((s * 31 + p * 7 + seed) % 1000) / 10;
    }
  }
  return out;
}

async function time(store: EmbeddedStore, q: Sql, runs: number): Promise<{ ms: number; n: number }> {
  let best = Infinity;
  let n = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const rows = await store.query<{ n: string }>(q, { binary: true });
    best = Math.min(best, performance.now() - t0);
    n = rows.reduce((a, x) => a + Number(x.n), 0);
  }
  return { ms: best, n };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-dedup-'));
  const store = new EmbeddedStore(dir);
  try {
    await migrate(store);
    const series = Number(args.series);
    const points = Number(args.points);
    const runs = Number(args.runs);
    const blocks = 10;
    const per = Math.ceil(points / blocks);
    const t0 = Date.UTC(2026, 0, 1);
    // No background merges while measuring: each state is what its name says.
    await store.command(sql`SYSTEM STOP MERGES points`);
    for (let b = 0; b < blocks; b++) await store.insertPoints(block(series, per, t0 + b * per * 10_000, b), `blk-${b}`);
    const result: Record<string, Record<string, { ms: number; n: number }>> = {};
    for (const state of ['unmerged', 'duplicates', 'merged']) {
      // Every third block re-sent as a new request (new token): what a client retry does.
      if (state === 'duplicates') for (let b = 0; b < blocks; b += 3) await store.insertPoints(block(series, per, t0 + b * per * 10_000, b), `again-${b}`);
      if (state === 'merged') {
        await store.command(sql`SYSTEM START MERGES points`);
        await store.command(sql`OPTIMIZE TABLE points FINAL`);
      }
      result[state] = {};
      for (const [name, q] of Object.entries(CANDIDATES)) result[state][name] = await time(store, raw(q), runs);
    }
    console.log(`${(series * per * blocks).toLocaleString()} points, ${series} series; best of ${runs}; half the series read\n`);
    console.log('read             10 parts ms   +3 re-sent ms (rows)   merged ms');
    for (const name of Object.keys(CANDIDATES)) {
      const [u, d, m] = [result.unmerged[name], result.duplicates[name], result.merged[name]];
      console.log(`${name.padEnd(16)} ${u.ms.toFixed(1).padStart(11)} ${d.ms.toFixed(1).padStart(13)} (${d.n}) ${m.ms.toFixed(1).padStart(10)}`);
    }
    console.log('RESULT ' + JSON.stringify(result));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
