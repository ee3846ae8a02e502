/**
 * Heroic queries (POST /query/metrics: the first bucketed aggregation in ClickHouse, the rest in
 * TypeScript) against the PromQL query that answers the same, on one fresh server and the same
 * data: `series` gauges (3 roles) at 10 s over `hours`, written through POST /write. Each pair
 * runs alternately `runs` times; the table shows p50 ms of each and their ratio (Heroic / PromQL).
 *
 *   npm run bench:heroic
 *   npm run bench:heroic -- --series 500 --hours 12 --runs 15
 *
 * Prints a table and one JSON line (prefixed "RESULT ").
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../server/paths.js';
import { listeningUrl } from './proc.js';

const { values: args } = parseArgs({
  options: {
    series: { type: 'string', default: '200' },
    hours: { type: 'string', default: '6' },
    runs: { type: 'string', default: '9' },
  },
});
const SERIES = Number(args.series);
const HOURS = Number(args.hours);
const RUNS = Number(args.runs);
const STEP = 10_000;

const dir = mkdtempSync(join(tmpdir(), 'metronome-bench-heroic-'));
const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/main.ts')], {
  cwd: ROOT,
  env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'data'), DEMO: '0', LOG_LEVEL: 'info', QUERY_CACHE_BYTES: '0' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let errors = '';
child.stderr!.on('data', (d) => (errors += d));

async function post(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await run();
  return performance.now() - t;
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const url = await listeningUrl(child, 90_000, () => errors);
  child.stdout!.resume();
  const end = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
  const start = end - HOURS * 3_600_000;
  // Write in slices of 20 series: one request each, well under the body limit.
  for (let s0 = 0; s0 < SERIES; s0 += 20) {
    const body = [];
    for (let s = s0; s < Math.min(SERIES, s0 + 20); s++) {
      const data: [number, number][] = [];
      for (let t = start + STEP, i = 0; t <= end; t += STEP, i++) data.push([t, Math.round(50 + 40 * Math.sin(i / 30 + s) + (i % 7))]);
      body.push({ series: { key: 'bench.cpu', tags: { host: `h${s}`, role: `r${s % 3}` } }, data: { type: 'points', data } });
    }
    await post(`${url}/write`, body);
  }
  const range = { type: 'absolute', start, end };
  const sampling = { unit: 'minutes', value: 1 };
  const sel = '{__name__="bench.cpu"}';
  const cases: { name: string; heroic: unknown; promql: string }[] = [
    { name: 'group by role, average', heroic: { type: 'group', of: ['role'], each: { type: 'average', sampling } }, promql: `sum by (role) (sum_over_time(${sel}[1m])) / sum by (role) (count_over_time(${sel}[1m]))` },
    { name: 'each series, max', heroic: { type: 'group', of: null, each: { type: 'max', sampling } }, promql: `max_over_time(${sel}[1m])` },
    { name: 'all series, sum', heroic: { type: 'sum', sampling }, promql: `sum(sum_over_time(${sel}[1m]))` },
    { name: 'each series, stddev', heroic: { type: 'group', of: null, each: { type: 'stddev', sampling } }, promql: `stddev_over_time(${sel}[1m])` },
  ];
  const rows: { query: string; heroic_ms: number; promql_ms: number; ratio: number }[] = [];
  for (const c of cases) {
    const h: number[] = [];
    const p: number[] = [];
    const qs = new URLSearchParams({ query: c.promql, start: String((start + 60_000) / 1000), end: String(end / 1000), step: '60' });
    for (let i = 0; i < RUNS + 1; i++) {
      const th = await timed(() => post(`${url}/query/metrics`, { range, filter: ['key', 'bench.cpu'], aggregation: c.heroic }));
      const tp = await timed(async () => {
        const res = await fetch(`${url}/api/v1/query_range?${qs}`);
        if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
        await res.json();
      });
      if (i > 0) {
        // The first pair warms both paths (series cache, JIT).
        h.push(th);
        p.push(tp);
      }
    }
    rows.push({ query: c.name, heroic_ms: Math.round(p50(h) * 10) / 10, promql_ms: Math.round(p50(p) * 10) / 10, ratio: Math.round((p50(h) / p50(p)) * 100) / 100 });
  }
  console.log(`${SERIES} series x ${HOURS} h at 10 s (${(SERIES * HOURS * 360).toLocaleString()} points), 1 m buckets, p50 of ${RUNS} runs, load ${loadavg()[0].toFixed(1)}`);
  console.table(rows);
  console.log(`RESULT ${JSON.stringify({ series: SERIES, hours: HOURS, runs: RUNS, load: loadavg()[0], rows })}`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
