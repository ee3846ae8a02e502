/**
 * What rollups cost on the way in, side by side in one run: the store's insert ceiling
 * (store.insertPoints, 200k-point batches of TSBS cpu-only data) with the rollup views of
 * migrations 002/006 (schema up to 006) and without them (every migration: rollups made by the
 * job, server/rollups/job.ts), then the job's own cost: rolling up the same points afterwards.
 * Rounds alternate between the two schemas so load on the shared machine hits both alike.
 *
 *   npx tsx bench/rollup-cost.ts [-- --points 4000000 --rounds 3]
 *
 * Prints a table and one JSON line (prefixed "RESULT ").
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { toColumns } from '../ingest/columns.js';
import type { PointColumns } from '../ingest/types.js';
import { SCHEMA_DIR } from '../server/paths.js';
import { rollUpClosedHours } from '../server/rollups/job.js';
import { EmbeddedStore } from '../server/store/embedded.js';
import { migrate } from '../server/store/migrate.js';
import { sql } from '../server/store/sql.js';
import { bodies, type Shape } from './data.js';

const { values: args } = parseArgs({
  options: { points: { type: 'string', default: '4000000' }, rounds: { type: 'string', default: '3' }, hosts: { type: 'string', default: '1000' } },
});

/** A schema directory holding the migrations up to `last`. */
function schemaUpTo(last: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-schema-'));
  for (const f of readdirSync(SCHEMA_DIR)) if (/^\d{3}_/.test(f) && Number(f.slice(0, 3)) <= last) copyFileSync(join(SCHEMA_DIR, f), join(dir, f));
  return dir;
}

async function insertRate(schema: string | undefined, prepared: PointColumns[], withJob: boolean): Promise<{ insert: number; job: number | null }> {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-rollup-cost-'));
  const store = new EmbeddedStore(dir);
  try {
    await migrate(store, schema);
    const n = prepared.reduce((a, p) => a + p.length, 0);
    const t0 = performance.now();
    for (let b = 0; b < prepared.length; b++) await store.insertPoints(prepared[b], `cost-${b}`);
    const insert = n / ((performance.now() - t0) / 1000);
    let job: number | null = null;
    if (withJob) {
      const t1 = performance.now();
      const run = await rollUpClosedHours(store, { lateMs: 0 });
      job = n / ((performance.now() - t1) / 1000);
      const [r] = await store.query<{ n: string }>(sql`SELECT sum(cnt) AS n FROM rollup_1h`);
      if (Number(r.n) !== n || run.hours.length === 0) throw new Error(`job rolled up ${r.n} of ${n} points`);
    }
    return { insert, job };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const total = Number(args.points);
  const shape: Shape = { name: 'dense', seriesPerBody: 50, pointsPerSeries: 100 };
  const perBatch = 200_000;
  const batches = Math.ceil(total / perBatch);
  const bodiesPerBatch = perBatch / (shape.seriesPerBody * shape.pointsPerSeries);
  // Ending an hour ago: every hour of the data has closed, so the job rolls all of it up.
  const all = bodies(shape, batches * bodiesPerBatch, Number(args.hosts), Date.now() - 3_600_000, 7);
  const prepared: PointColumns[] = [];
  for (let b = 0; b < batches; b++) {
    const series = all.slice(b * bodiesPerBatch, (b + 1) * bodiesPerBatch).flat();
    prepared.push(toColumns({ series, points: series.reduce((n, s) => n + s.timestamps.length, 0) }).columns);
  }
  const views = schemaUpTo(6);
  const out = { views: [] as number[], job: [] as number[], jobRollup: [] as number[] };
  try {
    for (let r = 0; r < Number(args.rounds); r++) {
      out.views.push((await insertRate(views, prepared, false)).insert);
      const j = await insertRate(undefined, prepared, true);
      out.job.push(j.insert);
      out.jobRollup.push(j.job!);
    }
  } finally {
    rmSync(views, { recursive: true, force: true });
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const f = (x: number) => Math.round(x).toLocaleString().padStart(11);
  console.log(`${(batches * perBatch).toLocaleString()} points in ${batches} inserts, ${args.rounds} rounds, median points/s\n`);
  console.log(`insert, rollup views (schema <= 006)   ${f(med(out.views))}`);
  console.log(`insert, no views (rollup job, 007)     ${f(med(out.job))}   ${(med(out.job) / med(out.views)).toFixed(2)}x`);
  console.log(`the job rolling the same points up    ${f(med(out.jobRollup))}`);
  console.log('RESULT ' + JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
