/**
 * Query benchmark: 1,000 series x 7 days at 10 s (60 M points, loaded through the store, not
 * timed), then a dashboard-like query set over 1 h, 24 h and 7 d, each with rollups allowed
 * and with raw=true (the baseline in the same run). Times the engine end to end: parse, SQL,
 * evaluation, and the Prometheus JSON of the answer.
 *
 *   npm run bench:query                      # reuses .bench-data/query if it was loaded before
 *   npm run bench:query -- --fresh           # reload the data set
 *   npm run bench:query -- --runs 15 --only "sum by"
 *
 * Prints a table and one JSON line (prefixed "RESULT ") with every number.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { seriesId } from '../ingest/series-id.js';
import type { NewSeries } from '../ingest/types.js';
import { ROOT } from '../server/paths.js';
import { Engine } from '../server/promql/engine.js';
import { formatResult } from '../server/promql/format.js';
import { rollUpClosedHours } from '../server/rollups/job.js';
import { EmbeddedStore } from '../server/store/embedded.js';
import { migrate } from '../server/store/migrate.js';
import { sql } from '../server/store/sql.js';

const { values: args } = parseArgs({
  options: {
    fresh: { type: 'boolean', default: false },
    runs: { type: 'string', default: '5' },
    days: { type: 'string', default: '7' },
    only: { type: 'string' },
    dir: { type: 'string', default: join(ROOT, '.bench-data/query') },
  },
});

const INTERVAL = 10_000;
const HOUR = 3_600_000;
const DAYS = Number(args.days);

interface SeriesDef {
  key: string;
  tags: Record<string, string>;
  kind: 'counter' | 'gauge' | 'bucket';
  /** For buckets: the share of observations at or below this bound. */
  share?: number;
}

/** 1,000 series: 200 request counters, 500 latency buckets, 300 CPU gauges. */
function seriesSet(): SeriesDef[] {
  const out: SeriesDef[] = [];
  for (let s = 0; s < 10; s++) {
    for (let i = 0; i < 10; i++) {
      for (const code of ['200', '500']) out.push({ key: 'http_requests_total', tags: { service: `svc${s}`, instance: `i${i}`, code }, kind: 'counter' });
      for (let c = 0; c < 3; c++) out.push({ key: 'cpu_usage', tags: { service: `svc${s}`, instance: `i${i}`, cpu: String(c) }, kind: 'gauge' });
    }
    const les = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'];
    for (let i = 0; i < 5; i++) {
      les.forEach((le, j) =>
        out.push({ key: 'request_duration_seconds_bucket', tags: { service: `svc${s}`, instance: `i${i}`, le }, kind: 'bucket', share: j === les.length - 1 ? 1 : (j + 1) / les.length }),
      );
    }
  }
  return out;
}

async function load(store: EmbeddedStore, end: number): Promise<void> {
  const defs = seriesSet();
  const start = end - DAYS * 24 * HOUR;
  const ids = defs.map((d) => seriesId(d.key, d.tags));
  const rows: NewSeries[] = defs.map((d, i) => ({ seriesId: ids[i], key: d.key, tags: d.tags, service: d.tags.service, firstSeen: start, lastSeen: end }));
  await store.insertSeries(rows);
  const state = defs.map((d, i) => ({ v: d.kind === 'gauge' ? 50 : 0, phase: (i * 7919) % INTERVAL }));
  let seed = 1;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const perHour = HOUR / INTERVAL;
  const t0 = Date.now();
  for (let h = start; h < end; h += HOUR) {
    const n = defs.length * perHour;
    const cols = { length: n, seriesId: new BigInt64Array(n), ts: new Float64Array(n), value: new Float64Array(n) };
    let k = 0;
    // Per hour of data, one insert (360,000 points): the way a busy write path batches.
    for (let i = 0; i < defs.length; i++) {
      const d = defs[i];
      const st = state[i];
      const id = BigInt.asIntN(64, BigInt(ids[i]));
      const rate = 5 + (i % 17);
      for (let j = 0; j < perHour; j++) {
        const t = h + j * INTERVAL + st.phase;
        if (d.kind === 'gauge') st.v = Math.min(100, Math.max(0, st.v + (rand() - 0.5) * 4));
        else if (d.kind === 'counter') st.v += Math.floor(rand() * rate * 2);
        else st.v += Math.floor(rand() * rate * 2 * d.share!);
        cols.seriesId[k] = id;
        cols.ts[k] = t;
        cols.value[k] = st.v;
        k++;
      }
    }
    await store.insertPoints(cols, `bench-query-${h}`);
    const done = (h - start + HOUR) / (end - start);
    if (Math.round(done * 168) % 24 === 0) process.stdout.write(`  loaded ${(done * 100).toFixed(0)}% (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
  await store.command(sql`OPTIMIZE TABLE series FINAL`);
}

/** $w is the range window, as Grafana's $__rate_interval sets it: at least 5 m, at least the step. */
const QUERIES = [
  'sum by (service) (rate(http_requests_total[$w]))',
  'sum(rate(http_requests_total{code="500"}[$w])) / sum(rate(http_requests_total[$w]))',
  'histogram_quantile(0.99, sum by (le, service) (rate(request_duration_seconds_bucket[$w])))',
  'avg by (service) (avg_over_time(cpu_usage[$w]))',
  'max by (service) (max_over_time(cpu_usage[$w]))',
  'sum by (service) (cpu_usage)',
];

/** Ranges as a dashboard asks for them: a few hundred to 1,500 points per series. */
const RANGES = [
  { name: '1h', ms: HOUR, step: 15_000, window: '5m', runs: 1 },
  { name: '24h', ms: 24 * HOUR, step: 60_000, window: '5m', runs: 1 },
  { name: '7d', ms: 7 * 24 * HOUR, step: 600_000, window: '10m', runs: 0.5 },
  { name: '7d/1h', ms: 7 * 24 * HOUR, step: HOUR, window: '1h', runs: 0.5 },
];

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

async function main(): Promise<void> {
  const dir = args.dir!;
  const marker = join(dir, 'bench-query.json');
  if (args.fresh && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  const reuse = existsSync(marker);
  const store = new EmbeddedStore(dir);
  await migrate(store);
  let end: number;
  if (reuse) {
    end = JSON.parse(readFileSync(marker, 'utf8')).end;
    console.log(`reusing the data set in ${dir} (loaded for ${new Date(end).toISOString()}; --fresh reloads)`);
  } else {
    end = Math.floor(Date.now() / HOUR) * HOUR;
    console.log(`loading 1,000 series x ${DAYS} d at 10 s into ${dir} ...`);
    const t0 = Date.now();
    await load(store, end);
    writeFileSync(marker, JSON.stringify({ end }));
    console.log(`loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  // Rollups are made by the job since migration 007 (a reused data set may predate it).
  const rolled = await rollUpClosedHours(store);
  if (rolled.hours.length) console.log(`rolled up ${rolled.hours.length} hours`);
  const engine = new Engine(store, { maxConcurrent: 1 });
  const runs = Number(args.runs);
  const rows: { query: string; range: string; mode: string; p50: number; p99: number; series: number }[] = [];
  for (const template of QUERIES.filter((q) => !args.only || q.includes(args.only))) {
    for (const r of RANGES) {
      const query = template.replaceAll('$w', r.window);
      for (const raw of [false, true]) {
        const times: number[] = [];
        let series = 0;
        const resolutions = new Set<string>();
        engine.onPlan = (p) => resolutions.add(p.resolution ?? 'raw');
        // The long ranges are slow on raw points: fewer runs keep the bench to a few minutes.
        const n = Math.max(2, Math.round(runs * r.runs));
        for (let i = 0; i < n + 1; i++) {
          const t0 = performance.now();
          const v = await engine.range(query, end - r.ms, end, r.step, { raw });
          JSON.stringify(formatResult(v));
          const ms = performance.now() - t0;
          if (i > 0) times.push(ms); // the first run warms caches
          if (v.type === 'matrix') series = v.series.length;
        }
        const read = [...resolutions].join('+');
        const row = { query, range: r.name, mode: raw ? 'raw' : 'rollups', read, p50: pct(times, 0.5), p99: pct(times, 0.99), series };
        rows.push(row);
        console.log(
          `${row.range.padEnd(5)} ${row.mode.padEnd(8)} read ${read.padEnd(6)} p50 ${row.p50.toFixed(1).padStart(7)} ms  p99 ${row.p99.toFixed(1).padStart(7)} ms  ${String(series).padStart(3)} series  ${query}`,
        );
      }
    }
  }
  await store.close();
  console.log(`\nmachine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${runs} runs per cell`);
  console.log(`RESULT ${JSON.stringify({ bench: 'query', series: 1000, days: DAYS, intervalSeconds: INTERVAL / 1000, runs, rows })}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
