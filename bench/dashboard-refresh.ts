/**
 * Refresh of a service dashboard, as the UI does it: every panel of the generated "frontend"
 * dashboard (the demo's live data, pushed every 10 s) queried over the last hour on the UI's
 * grid, all panels at once (6 at a time, a browser's connections per host), every few seconds.
 * Two fresh servers in one run, the range-result cache off (QUERY_CACHE_BYTES=0) and on: the
 * time of each whole refresh, p50 and p99, and their ratio.
 *
 *   npm run bench:dashboard-refresh
 *   npm run bench:dashboard-refresh -- --refreshes 40 --interval 5 --panels 12
 *
 * Prints a table and one JSON line (prefixed "RESULT ").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../server/paths.js';
import { chooseStep, expandVariables, queryGrid } from '../web/src/chart/range.js';
import { listeningUrl } from './proc.js';

const { values: args } = parseArgs({
  options: {
    refreshes: { type: 'string', default: '30' },
    interval: { type: 'string', default: '4' },
    panels: { type: 'string', default: '12' },
    range: { type: 'string', default: '3600' },
    service: { type: 'string', default: 'frontend' },
  },
});
const REFRESHES = Number(args.refreshes);
const INTERVAL_MS = Number(args.interval) * 1000;
const PANELS = Number(args.panels);
const RANGE_MS = Number(args.range) * 1000;
const CONNECTIONS = 6;

interface PanelQuery {
  expr: string;
}
interface Panel {
  title: string;
  kind: 'timeseries' | 'stat';
  queries: PanelQuery[];
}

async function startServer(cacheBytes: string): Promise<{ url: string; child: ChildProcess; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-bench-refresh-'));
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      DEMO: '1',
      DEMO_BACKFILL_HOURS: String(Math.min(24, RANGE_MS / 3_600_000 + 0.5)),
      LOG_LEVEL: 'info', // the "listening on" line is info
      QUERY_CACHE_BYTES: cacheBytes,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let errors = '';
  child.stderr!.on('data', (d) => (errors += d));
  const url = await listeningUrl(child, 90_000, () => errors).catch((e: unknown) => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  child.stdout!.resume(); // the log is not read past the listening line
  return { url, child, dir };
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Wait until the demo's backfill is queryable and the service's health has a request rate. */
async function ready(url: string, service: string): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const list = await getJson<{ data: { name: string; health: { requestRate: number | null } }[] }>(`${url}/api/v1/services`).catch(() => null);
    if (list?.data.find((s) => s.name === service)?.health.requestRate) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`service ${service} had no request rate within 180 s`);
}

/** One refresh: every query of every panel, CONNECTIONS at a time. Returns its wall time (ms). */
async function refresh(url: string, panels: Panel[]): Promise<number> {
  const now = Date.now();
  const step = chooseStep(now - RANGE_MS, now);
  const grid = queryGrid({ start: now - RANGE_MS, end: now }, step);
  const vars = { step, rangeSec: RANGE_MS / 1000 };
  const requests: string[] = [];
  for (const p of panels) {
    for (const q of p.queries) {
      const expr = expandVariables(q.expr, vars);
      requests.push(
        p.kind === 'stat'
          ? `${url}/api/v1/query?${new URLSearchParams({ query: expr, time: String(grid.end) })}`
          : `${url}/api/v1/query_range?${new URLSearchParams({ query: expr, start: String(grid.start), end: String(grid.end), step: String(step) })}`,
      );
    }
  }
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const r = requests[next++];
      const res = await fetch(r);
      const body = await res.text();
      if (!res.ok) throw new Error(`${r}: ${res.status} ${body.slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  return performance.now() - t0;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

async function run(label: string, cacheBytes: string): Promise<{ label: string; p50: number; p99: number; max: number; queries: number; panels: number; load: number[] }> {
  const srv = await startServer(cacheBytes);
  try {
    await ready(srv.url, args.service!);
    const dash = await getJson<{ data: { rows: { collapsed?: boolean; panels: Panel[] }[] } }>(`${srv.url}/api/v1/services/${args.service}/dashboard`);
    const panels = dash.data.rows.filter((r) => !r.collapsed).flatMap((r) => r.panels).slice(0, PANELS);
    const queries = panels.reduce((n, p) => n + p.queries.length, 0);
    const times: number[] = [];
    await refresh(srv.url, panels); // warm-up: the first paint, not a refresh
    for (let i = 0; i < REFRESHES; i++) {
      const started = Date.now();
      times.push(await refresh(srv.url, panels));
      const wait = INTERVAL_MS - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    return { label, p50: pct(times, 50), p99: pct(times, 99), max: Math.max(...times), queries, panels: panels.length, load: loadavg() };
  } finally {
    srv.child.kill('SIGTERM');
    await new Promise((r) => srv.child.once('exit', r));
    rmSync(srv.dir, { recursive: true, force: true });
  }
}

const off = await run('cache off', '0');
const on = await run('cache on', String(256 * 1024 * 1024));
const f = (x: number) => x.toFixed(0).padStart(7);
console.log(`\n${on.panels} panels, ${on.queries} queries per refresh, last ${RANGE_MS / 60_000} min, ${REFRESHES} refreshes every ${INTERVAL_MS / 1000} s\n`);
console.log('                p50 ms  p99 ms  max ms   load');
for (const r of [off, on]) console.log(`${r.label.padEnd(14)}${f(r.p50)} ${f(r.p99)} ${f(r.max)}   ${r.load.map((x) => x.toFixed(1)).join(' ')}`);
console.log(`cache on / off: p50 ${(on.p50 / off.p50).toFixed(2)}x, p99 ${(on.p99 / off.p99).toFixed(2)}x`);
console.log(`RESULT ${JSON.stringify({ off, on, refreshes: REFRESHES, intervalMs: INTERVAL_MS, rangeMs: RANGE_MS })}`);
