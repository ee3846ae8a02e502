/**
 * Metronome against a real Prometheus on the same dashboard (bench/dashboard.ts): the same
 * seeded data set (336 series, 6 h at 15 s) goes into Prometheus through promtool's OpenMetrics
 * backfill and into a Metronome server through remote write; then every panel query runs as a
 * range query (5 h 30 m at 60 s) over each one's HTTP API, alternating between the two, after a
 * warm-up pass. Each query's answer is checked against Prometheus' (same series, same steps,
 * values within 1e-6 relative), so a fast wrong answer cannot win.
 *
 *   npm run bench:query-prom
 *   npm run bench:query-prom -- --runs 5 --only histogram
 *   npm run bench:query-prom -- --cpu-prof .bench-data/prof   # the server writes a .cpuprofile on exit
 *
 * Needs Debian's prometheus package (prometheus and promtool on PATH; .ci/test-deps.sh installs
 * it). Every process it starts is stopped by its pid; the whole run is bounded by --max-minutes.
 * Prints a table, the median and p90 of the per-query ratios (Metronome / Prometheus, medians of
 * --runs runs each), the load average, and one JSON line prefixed "RESULT ".
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../server/paths.js';
import { generate, openMetrics, QUERIES, type DashSeries } from './dashboard.js';
import { freePort, listeningUrl, stopChild } from './proc.js';
import { encodeWriteRequest, remoteWriteRequest } from './wire.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    only: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'max-minutes': { type: 'string', default: '30' },
    'keep-dir': { type: 'boolean', default: false },
    /** Keep both servers up this long after loading (to poke at them by hand), then stop. */
    'hold-seconds': { type: 'string', default: '0' },
  },
});

const HOUR = 3_600_000;
const STEP_MS = 60_000;
const REQUEST_TIMEOUT_MS = 60_000;

const children: ChildProcess[] = [];

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}


/** SIGTERM each child we started (by its pid), SIGKILL after 10 s; resolves when all exited. */
async function stopChildren(): Promise<void> {
  await Promise.all(children.map(stopChild));
}

async function startPrometheus(dir: string, series: DashSeries[]): Promise<string> {
  const file = join(dir, 'data.om');
  writeFileSync(file, openMetrics(series));
  const tsdb = join(dir, 'tsdb');
  mkdirSync(tsdb);
  const imp = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', file, tsdb], { encoding: 'utf8', timeout: 300_000 });
  if (imp.status !== 0) throw new Error(`promtool failed (is Debian's prometheus package installed?): ${imp.error ?? imp.stderr}`);
  rmSync(file);
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\n');
  const port = await freePort();
  const child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${tsdb}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=3650d',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${err}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return url;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`prometheus not ready in 60 s: ${err}`);
}

async function startMetronome(dir: string, profDir: string | undefined): Promise<{ url: string; pid: number }> {
  const nodeArgs = ['--import', 'tsx'];
  if (profDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${resolve(profDir)}`);
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'server/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, DEMO: '0', LOG_LEVEL: 'info', QUERY_CACHE_BYTES: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  const url = await listeningUrl(child, 120_000, () => err);
  child.stdout!.resume();
  return { url, pid: child.pid! };
}

/** Remote write 1.0, as Prometheus sends it, a few series per request. */
async function remoteWrite(url: string, series: DashSeries[]): Promise<void> {
  const per = 24;
  for (let i = 0; i < series.length; i += per) {
    const body = encodeWriteRequest(remoteWriteRequest(series.slice(i, i + per), false));
    const res = await fetch(`${url}/api/v1/write`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
      body: new Uint8Array(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (res.status !== 204) throw new Error(`remote write answered ${res.status}: ${await res.text()}`);
  }
}

type Matrix = { metric: Record<string, string>; values: [number, string][] }[];

/** One query_range call: wall time to the last byte of the body, and the parsed answer. */
async function queryRange(base: string, query: string, start: number, end: number): Promise<{ ms: number; body: string }> {
  const qs = new URLSearchParams({ query, start: String(start / 1000), end: String(end / 1000), step: String(STEP_MS / 1000) });
  const t0 = performance.now();
  const res = await fetch(`${base}/api/v1/query_range?${qs}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const body = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${base}: ${query}: ${res.status} ${body.slice(0, 300)}`);
  return { ms, body };
}

function num(s: string): number {
  return s === '+Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s);
}

/** How Metronome's answer differs from Prometheus' ('' when it agrees). */
function disagreement(ours: Matrix, theirs: Matrix): { problem: string; points: number; series: number } {
  const index = (m: Matrix) => new Map(m.map((s) => [JSON.stringify(Object.entries(s.metric).sort()), s.values]));
  const a = index(ours);
  const b = index(theirs);
  let points = 0;
  if (a.size !== b.size) return { problem: `${a.size} series, Prometheus ${b.size}`, points, series: b.size };
  for (const [k, vb] of b) {
    const va = a.get(k);
    if (!va) return { problem: `missing series ${k}`, points, series: b.size };
    if (va.length !== vb.length) return { problem: `${k}: ${va.length} steps, Prometheus ${vb.length}`, points, series: b.size };
    for (let i = 0; i < vb.length; i++) {
      if (va[i][0] !== vb[i][0]) return { problem: `${k}: step ${va[i][0]} vs ${vb[i][0]}`, points, series: b.size };
      const x = num(va[i][1]);
      const y = num(vb[i][1]);
      const same = Number.isNaN(x) || Number.isNaN(y) ? Number.isNaN(x) && Number.isNaN(y) : x === y || Math.abs(x - y) <= 1e-6 * Math.max(1e-9, Math.abs(x), Math.abs(y));
      if (!same) return { problem: `${k} at ${vb[i][0]}: ${va[i][1]} vs Prometheus ${vb[i][1]}`, points, series: b.size };
      points++;
    }
  }
  if (points === 0) return { problem: 'Prometheus returned no points', points, series: b.size };
  return { problem: '', points, series: b.size };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile. */
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(p * s.length) - 1)];
}

async function main(): Promise<void> {
  const runs = Number(args.runs);
  const seed = Number(args.seed);
  const end = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
  const dataStart = end - 6 * HOUR;
  const qStart = end - 5.5 * HOUR;
  const queries = QUERIES.filter((q) => !args.only || q.includes(args.only));
  const dir = mkdtempSync(join(tmpdir(), 'metronome-vs-prom-'));
  const load0 = loadavg();
  try {
    const series = generate(seed, dataStart, end);
    const samples = series.reduce((n, s) => n + s.timestamps.length, 0);
    console.log(`data: ${series.length} series, ${samples} samples, ${new Date(dataStart).toISOString()} .. ${new Date(end).toISOString()} (seed ${seed})`);
    mkdirSync(join(dir, 'prom'));
    let t0 = performance.now();
    const promUrl = await startPrometheus(join(dir, 'prom'), series);
    console.log(`prometheus ${promUrl} ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (promtool backfill)`);
    t0 = performance.now();
    const metronome = await startMetronome(join(dir, 'metronome'), args['cpu-prof']);
    await remoteWrite(metronome.url, series);
    console.log(`metronome ${metronome.url} (pid ${metronome.pid}) loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s (remote write)`);
    // Let the inserts' background merges settle, as Prometheus' blocks are already compacted.
    await new Promise((r) => setTimeout(r, 5_000));
    const hold = Number(args['hold-seconds']);
    if (hold > 0) {
      console.log(`holding both servers for ${hold} s: PROM=${promUrl} METRONOME=${metronome.url} START=${qStart / 1000} END=${end / 1000}`);
      await new Promise((r) => setTimeout(r, hold * 1000));
    }

    // Warm-up pass, which is also the answer check.
    const check = new Map<string, { problem: string; points: number; series: number }>();
    for (const q of queries) {
      const [p, m] = [await queryRange(promUrl, q, qStart, end), await queryRange(metronome.url, q, qStart, end)];
      const d = disagreement(JSON.parse(m.body).data.result, JSON.parse(p.body).data.result);
      check.set(q, d);
      if (d.problem) console.log(`DISAGREES ${q}: ${d.problem}`);
    }
    const times = new Map(queries.map((q) => [q, { prom: [] as number[], metronome: [] as number[] }]));
    for (let r = 0; r < runs; r++) {
      for (const [i, q] of queries.entries()) {
        const tq = times.get(q)!;
        // Alternate which system goes first, so neither always follows the other's cache misses.
        const order = (r + i) % 2 === 0 ? ['prom', 'metronome'] : ['metronome', 'prom'];
        for (const who of order) {
          const { ms } = await queryRange(who === 'prom' ? promUrl : metronome.url, q, qStart, end);
          (who === 'prom' ? tq.prom : tq.metronome).push(ms);
        }
      }
    }
    const rows = queries.map((q) => {
      const t = times.get(q)!;
      const prom = median(t.prom);
      const ours = median(t.metronome);
      const c = check.get(q)!;
      return { query: q, promMs: +prom.toFixed(2), metronomeMs: +ours.toFixed(2), ratio: +(ours / prom).toFixed(3), series: c.series, points: c.points, agrees: c.problem === '' };
    });
    console.log(`\n${'prom ms'.padStart(8)} ${'ours ms'.padStart(8)} ${'ratio'.padStart(6)} ${'series'.padStart(6)}  ok  query`);
    for (const r of rows) {
      console.log(`${r.promMs.toFixed(1).padStart(8)} ${r.metronomeMs.toFixed(1).padStart(8)} ${r.ratio.toFixed(2).padStart(6)} ${String(r.series).padStart(6)}  ${r.agrees ? 'ok' : 'NO'}  ${r.query}`);
    }
    const ratios = rows.map((r) => r.ratio);
    const summary = {
      medianRatio: +median(ratios).toFixed(3),
      p90Ratio: +percentile(ratios, 0.9).toFixed(3),
      geomeanRatio: +Math.exp(ratios.reduce((s, x) => s + Math.log(x), 0) / ratios.length).toFixed(3),
      totalPromMs: +rows.reduce((s, r) => s + r.promMs, 0).toFixed(1),
      totalMetronomeMs: +rows.reduce((s, r) => s + r.metronomeMs, 0).toFixed(1),
      disagreements: rows.filter((r) => !r.agrees).length,
    };
    const load1 = loadavg();
    console.log(
      `\n${queries.length} queries, ${runs} runs each: ratio median ${summary.medianRatio}, p90 ${summary.p90Ratio}, geomean ${summary.geomeanRatio}; ` +
        `sum of medians ${summary.totalMetronomeMs} ms vs ${summary.totalPromMs} ms; ${summary.disagreements} disagreements`,
    );
    console.log(`load average ${load0} -> ${load1}; ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
    console.log(
      `RESULT ${JSON.stringify({ bench: 'query-vs-prometheus', seed, series: series.length, samples, stepSeconds: STEP_MS / 1000, rangeHours: 5.5, runs, loadavg: [load0, load1], ...summary, rows })}`,
    );
  } finally {
    await stopChildren();
    if (args['keep-dir']) console.log(`data kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

const deadline = setTimeout(
  () => {
    console.error(`bench: stopped after --max-minutes ${args['max-minutes']}`);
    void stopChildren().finally(() => process.exit(1));
  },
  Number(args['max-minutes']) * 60_000,
);
deadline.unref();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stopChildren().finally(() => process.exit(130)));

main().then(
  () => process.exit(0),
  async (e) => {
    console.error(e);
    await stopChildren();
    process.exit(1);
  },
);
