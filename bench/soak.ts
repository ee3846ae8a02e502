/**
 * Soak: mixed load on a real server (a child process on a fresh data directory) for a while,
 * watching for errors, latency creep and memory growth.
 *
 *   npm run bench:soak                          # 10 minutes
 *   npm run bench:soak -- --duration 180        # 3 minutes
 *   npm run bench:soak -- --rate 50000          # skip the probe, ingest 50k points/s
 *
 * 1. Probe: ingest as fast as the server takes it (older timestamps) to measure its maximum.
 * 2. Soak at half of it (or --rate), live (timestamps = now), while dashboard clients run
 *    query_range panels (a service's dashboard) over the last 15 minutes and the server evaluates alerting and
 *    recording rules every 10 s, notifying a local webhook.
 * Every --sample seconds: ingest and query throughput and p99, errors, the server's RSS and CPU.
 * Prints a table and one JSON line (prefixed "RESULT ").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../server/paths.js';
import { CPU_FIELDS, hosts, rng } from './data.js';
import { CLK_TCK, listeningUrl, procStat } from './proc.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '600' },
    rate: { type: 'string' },
    probe: { type: 'string', default: '15' },
    hosts: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '4' },
    dashboards: { type: 'string', default: '2' },
    sample: { type: 'string', default: '10' },
  },
});

const DURATION_S = Number(args.duration);
const HOSTS = hosts(Number(args.hosts));
const SERIES = HOSTS.length * CPU_FIELDS.length;
const BATCH = Number(args.batch);
const CONNECTIONS = Number(args.connections);
const SAMPLE_S = Number(args.sample);

// ---------- the server ----------

interface Server {
  url: string;
  child: ChildProcess;
  dir: string;
  /** Warnings and errors the server logged, by message (pino JSON lines, level >= 40). */
  problems: Map<string, number>;
}

async function startServer(webhook: string): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-soak-'));
  writeFileSync(
    join(dir, 'soak.rules.yml'),
    `groups:
  - name: soak
    interval: 10s
    rules:
      - record: service:cpu_usage_user:avg
        expr: avg by (service) (cpu_usage_user)
      - record: region:cpu_usage_system:max
        expr: max by (region) (cpu_usage_system)
      - alert: HostCpuSaturated
        expr: cpu_usage_user > 99
        for: 30s
        labels: { severity: ticket }
      - alert: ServiceCpuHigh
        expr: service:cpu_usage_user:avg > 50
        labels: { severity: page }
        annotations: { summary: "{{ $labels.service }} averages {{ $value }}% user CPU" }
      - alert: RegionIowait
        expr: max by (region) (max_over_time(cpu_usage_iowait[1m])) > 90
`,
  );
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    `route: { receiver: hook, group_by: [alertname, service], group_wait: 10s, group_interval: 30s, repeat_interval: 4h }
receivers: [{ name: hook, webhook_configs: [{ url: '${webhook}' }] }]
`,
  );
  // node --import tsx: one process, so its pid is the server's (the tsx launcher would fork).
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      DEMO: '0',
      LOG_LEVEL: 'info',
      RULE_FILES: join(dir, 'soak.rules.yml'),
      NOTIFY_CONFIG: join(dir, 'alertmanager.yml'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let errors = '';
  child.stderr!.on('data', (d) => (errors += d));
  const url = await listeningUrl(child, 90_000, () => errors);
  const problems = new Map<string, number>();
  let rest = '';
  child.stdout!.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.includes('"level":4') && !line.includes('"level":5') && !line.includes('"level":6')) continue;
      try {
        const j = JSON.parse(line) as { msg?: string; err?: { message?: string }; error?: string };
        const key = `${j.msg ?? ''}${j.err?.message ? `: ${j.err.message}` : j.error ? `: ${j.error}` : ''}`.slice(0, 160);
        problems.set(key, (problems.get(key) ?? 0) + 1);
      } catch {
        /* not a log line */
      }
    }
  });
  return { url, child, dir, problems };
}

// ---------- measurements ----------

class Stats {
  lat: number[] = [];
  ok = 0;
  errors = 0;
  points = 0;
  statuses = new Map<string, number>();
  add(ms: number, ok: boolean, status: string, points = 0): void {
    this.lat.push(ms);
    if (ok) {
      this.ok++;
      this.points += points;
    } else {
      this.errors++;
      this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    }
  }
  drain(): Stats {
    const s = Object.assign(new Stats(), this);
    this.lat = [];
    this.ok = this.errors = this.points = 0;
    this.statuses = new Map();
    return s;
  }
}

function pct(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10;
}

// ---------- ingest ----------

const rand = rng(42);
const lastValue = new Float64Array(SERIES).map(() => rand() * 100);

/** `n` points: one per series in turn, series i's k-th point at `at(k)`. */
function body(cursor: { s: number; round: number }, n: number, at: (round: number) => number): { text: string; points: number } {
  const bySeries = new Map<number, [number, number][]>();
  for (let p = 0; p < n; p++) {
    const s = cursor.s;
    const v = Math.min(100, Math.max(0, lastValue[s] + (rand() - 0.5) * 2));
    lastValue[s] = v;
    let pts = bySeries.get(s);
    if (!pts) bySeries.set(s, (pts = []));
    pts.push([at(cursor.round), Math.round(v * 100) / 100]);
    if (++cursor.s === SERIES) {
      cursor.s = 0;
      cursor.round++;
    }
  }
  const out = [];
  for (const [s, data] of bySeries) {
    const h = HOSTS[Math.floor(s / CPU_FIELDS.length)];
    out.push({ series: { key: `cpu_${CPU_FIELDS[s % CPU_FIELDS.length]}`, tags: h.tags }, data: { type: 'points', data } });
  }
  return { text: JSON.stringify(out), points: n };
}

async function post(url: string, text: string): Promise<{ status: number; ms: number }> {
  const t = performance.now();
  try {
    const res = await fetch(`${url}/write`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - t };
  } catch {
    return { status: 0, ms: performance.now() - t };
  }
}

/**
 * As fast as the server takes it, for `seconds`, with timestamps from an hour ago on. Every
 * series is written once first (its first write records it and checks the new-series limits:
 * a one-off cost the steady state does not pay), and the bodies are made before the clock
 * starts, so the client's JSON work does not count against the server on shared cores.
 */
async function probe(url: string, seconds: number): Promise<number> {
  const start = Date.now() - 3_600_000;
  const cursor = { s: 0, round: 0 };
  // Each series one point per virtual second: an hour holds 3,600 rounds.
  const at = (round: number) => start + round * 1000;
  for (let n = 0; n < SERIES; n += BATCH) await post(url, body(cursor, Math.min(BATCH, SERIES - n), at).text);
  const ready = Array.from({ length: Math.max(CONNECTIONS * 8, Math.ceil((SERIES * 10) / BATCH)) }, () => body(cursor, BATCH, at));
  const end = Date.now() + seconds * 1000;
  let points = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < end) {
        // Past the prepared bodies, repeat them: re-sent points are stored once.
        const b = ready[next++ % ready.length];
        const r = await post(url, b.text);
        if (r.status === 200) points += b.points;
      }
    }),
  );
  return points / seconds;
}

// ---------- dashboards ----------

/** A service's dashboard (one of the 20 services, 50 hosts each) plus two global panels. */
const panels = (svc: string) => [
  `avg by (hostname) (cpu_usage_user{service="${svc}"})`,
  `max by (region) (cpu_usage_system{service="${svc}"})`,
  `topk(5, avg_over_time(cpu_usage_iowait{service="${svc}"}[1m]))`,
  `quantile(0.9, cpu_usage_idle{service="${svc}"})`,
  `sum(rate(cpu_usage_softirq{service="${svc}"}[1m]))`,
  `count(cpu_usage_steal{service="${svc}"} > 50)`,
  'service:cpu_usage_user:avg',
  'ALERTS',
];

/**
 * A browser showing a dashboard: six queries at a time (a browser's connections per host), a
 * 503 from the engine's queue retried up to three times with backoff as the UI does
 * (web/src/api/prom.ts), refreshed every 2-5 s. Latency is per panel, retries included.
 */
async function dashboard(url: string, stats: Stats, until: () => boolean, retried: { n: number }): Promise<void> {
  const one = async (q: string, end: number) => {
    const t = performance.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(`${url}/api/v1/query_range?${new URLSearchParams({ query: q, start: String(end - 900), end: String(end), step: '15' })}`);
        const j = (await res.json()) as { status: string; code?: string };
        if (res.status === 503 && j.code !== 'MTR_QUERY_TIMEOUT' && attempt < 3) {
          retried.n++;
          await new Promise((r) => setTimeout(r, 300 * 2 ** attempt + Math.random() * 200));
          continue;
        }
        stats.add(performance.now() - t, res.status === 200 && j.status === 'success', String(j.code ?? res.status));
      } catch {
        stats.add(performance.now() - t, false, 'network');
      }
      return;
    }
  };
  while (!until()) {
    const end = Date.now() / 1000;
    const queue = panels(`svc_${Math.floor(Math.random() * 20)}`);
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let q = queue.shift(); q !== undefined; q = queue.shift()) await one(q, end);
      }),
    );
    await new Promise((r) => setTimeout(r, 2000 + Math.random() * 3000));
  }
}

// ---------- main ----------

async function scrape(url: string): Promise<Record<string, number>> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  const sum = (re: RegExp) => [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  return {
    ruleEvaluations: sum(/^metronome_rule_evaluations_total\{[^}]*\} (\S+)/gm),
    ruleFailures: sum(/^metronome_rule_evaluation_failures_total\{[^}]*\} (\S+)/gm),
    ruleMissed: sum(/^metronome_rule_group_iterations_missed_total\{[^}]*\} (\S+)/gm),
    ruleSeconds: sum(/^metronome_rule_group_duration_seconds_sum\{[^}]*\} (\S+)/gm),
    ruleCount: sum(/^metronome_rule_group_duration_seconds_count\{[^}]*\} (\S+)/gm),
    pointsAccepted: sum(/^metronome_points_accepted_total\{[^}]*\} (\S+)/gm),
  };
}

async function main(): Promise<void> {
  let notifications = 0;
  const hook = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      notifications++;
      res.end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const server = await startServer(`http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`);
  const pid = server.child.pid!;
  const clk = CLK_TCK;
  try {
    console.error(`server pid ${pid} at ${server.url}; ${SERIES.toLocaleString()} series`);
    let rate = args.rate ? Number(args.rate) : 0;
    let max = 0;
    if (!rate) {
      max = await probe(server.url, Number(args.probe));
      rate = Math.round(max / 2);
      console.error(`probe: ${Math.round(max).toLocaleString()} points/s at most; soaking at ${rate.toLocaleString()} points/s`);
    }

    const loadAtStart = loadavg()[0];
    const ingest = new Stats();
    const queries = new Stats();
    const t0 = Date.now();
    const endAt = t0 + DURATION_S * 1000;
    const done = () => Date.now() >= endAt;
    // Live: each series gets a point every SERIES / rate seconds, stamped with the time it is sent.
    const cursor = { s: 0, round: 0 };
    let sent = 0;
    let behind = 0;
    let inFlight = 0;
    const live = (async () => {
      const flights = new Set<Promise<void>>();
      while (!done()) {
        const due = Math.floor(((Date.now() - t0) / 1000) * rate) - sent;
        if (due >= BATCH || (due > 0 && inFlight === 0)) {
          if (inFlight >= CONNECTIONS * 2) {
            behind++;
            await Promise.race(flights);
            continue;
          }
          const n = Math.min(due, BATCH);
          const now = Date.now();
          const b = body(cursor, n, () => now);
          sent += n;
          inFlight++;
          const f = post(server.url, b.text).then((r) => {
            inFlight--;
            ingest.add(r.ms, r.status === 200, String(r.status), b.points);
          });
          flights.add(f);
          void f.finally(() => flights.delete(f));
        } else await new Promise((r) => setTimeout(r, 20));
      }
      await Promise.all(flights);
    })();
    const retried = { n: 0 };
    const dashboards = Array.from({ length: Number(args.dashboards) }, () => dashboard(server.url, queries, done, retried));

    interface Sample {
      t: number;
      ingestPps: number;
      ingestP99: number;
      queryRps: number;
      queryP99: number;
      errors: number;
      rssMiB: number;
      cpuPct: number;
    }
    const samples: Sample[] = [];
    const allIngest: number[] = [];
    const allQuery: number[] = [];
    const errorsByStatus = new Map<string, number>();
    let totalPoints = 0;
    let totalQueries = 0;
    let totalErrors = 0;
    let prev = procStat(pid);
    let prevAt = Date.now();
    console.log('   t s   ingest pts/s  ingest p99 ms  queries/s  query p99 ms  errors  RSS MiB  CPU %');
    while (!done()) {
      await new Promise((r) => setTimeout(r, Math.min(SAMPLE_S * 1000, Math.max(0, endAt - Date.now()))));
      const now = Date.now();
      const secs = (now - prevAt) / 1000;
      const i = ingest.drain();
      const q = queries.drain();
      const st = procStat(pid);
      const cpuPct = st && prev ? Math.round((((st.cpuTicks - prev.cpuTicks) / clk) * 100) / secs) : 0;
      prev = st;
      prevAt = now;
      const s: Sample = {
        t: Math.round((now - t0) / 1000),
        ingestPps: Math.round(i.points / secs),
        ingestP99: pct(i.lat, 99),
        queryRps: Math.round((q.ok / secs) * 10) / 10,
        queryP99: pct(q.lat, 99),
        errors: i.errors + q.errors,
        rssMiB: Math.round((st?.rssKiB ?? 0) / 1024),
        cpuPct,
      };
      samples.push(s);
      allIngest.push(...i.lat);
      allQuery.push(...q.lat);
      totalPoints += i.points;
      totalQueries += q.ok;
      totalErrors += s.errors;
      for (const [k, v] of [...i.statuses, ...q.statuses]) errorsByStatus.set(k, (errorsByStatus.get(k) ?? 0) + v);
      console.log(
        [
          String(s.t).padStart(6),
          s.ingestPps.toLocaleString().padStart(14),
          String(s.ingestP99).padStart(14),
          String(s.queryRps).padStart(10),
          String(s.queryP99).padStart(13),
          String(s.errors).padStart(7),
          String(s.rssMiB).padStart(8),
          String(s.cpuPct).padStart(6),
        ].join(' '),
      );
    }
    await live;
    await Promise.all(dashboards);
    const m = await scrape(server.url);
    // Why rule evaluations failed, if any did (the last error of each rule).
    const ruleErrors = await fetch(`${server.url}/api/v1/rules`)
      .then((r) => r.json() as Promise<{ data: { groups: { rules: { name: string; lastError?: string }[] }[] } }>)
      .then((j) => j.data.groups.flatMap((g) => g.rules).filter((r) => r.lastError).map((r) => `${r.name}: ${r.lastError}`))
      .catch((e: Error) => [`could not read /api/v1/rules: ${e.message}`]);

    // Warm once a third of the run (at least 60 s) has passed: RSS after that should be flat.
    const warmFrom = Math.max(60, DURATION_S / 3);
    const warm = samples.filter((s) => s.t >= warmFrom);
    const slope = warm.length >= 3 ? regression(warm.map((s) => [s.t / 60, s.rssMiB])) : null;
    const summary = {
      // Other work on the machine shares its cores: the 1-minute load average says how much.
      machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAvgStart: loadAtStart, loadAvgEnd: loadavg()[0] },
      durationS: DURATION_S,
      series: SERIES,
      probeMaxPointsPerSec: Math.round(max) || null,
      targetPointsPerSec: rate,
      ingest: { pointsPerSec: Math.round(totalPoints / DURATION_S), p50ms: pct(allIngest, 50), p99ms: pct(allIngest, 99), generatorBehind: behind },
      queries: { perSec: Math.round((totalQueries / DURATION_S) * 10) / 10, p50ms: pct(allQuery, 50), p99ms: pct(allQuery, 99), retriedOverloaded: retried.n },
      errors: { total: totalErrors, byStatus: Object.fromEntries(errorsByStatus) },
      rules: {
        evaluations: m.ruleEvaluations,
        failures: m.ruleFailures,
        missedIterations: m.ruleMissed,
        meanGroupMs: m.ruleCount ? Math.round((m.ruleSeconds / m.ruleCount) * 1000 * 10) / 10 : null,
        notificationsReceived: notifications,
        lastErrors: ruleErrors,
      },
      serverLog: Object.fromEntries([...server.problems].sort((a, b) => b[1] - a[1]).slice(0, 8)),
      rssMiB: {
        start: samples[0]?.rssMiB,
        warm: warm[0]?.rssMiB,
        end: samples[samples.length - 1]?.rssMiB,
        max: Math.max(...samples.map((s) => s.rssMiB)),
        slopeAfterWarmMiBPerMin: slope === null ? null : Math.round(slope * 10) / 10,
      },
      samples,
    };
    console.log(
      `\nmachine: ${summary.machine.cpus} cores, load average ${loadAtStart.toFixed(1)} at the start, ${summary.machine.loadAvgEnd.toFixed(1)} at the end` +
        `\ningest ${summary.ingest.pointsPerSec.toLocaleString()} points/s (target ${rate.toLocaleString()}), p50 ${summary.ingest.p50ms} ms, p99 ${summary.ingest.p99ms} ms` +
        `\nqueries ${summary.queries.perSec}/s, p50 ${summary.queries.p50ms} ms, p99 ${summary.queries.p99ms} ms (${retried.n} retries after 503 overloaded)` +
        `\nerrors ${totalErrors} ${JSON.stringify(summary.errors.byStatus)}` +
        `\nrules: ${m.ruleEvaluations} evaluations, ${m.ruleFailures} failed, ${m.ruleMissed} iterations missed, mean group ${summary.rules.meanGroupMs} ms; ${notifications} notifications${ruleErrors.length ? `; last errors: ${ruleErrors.join('; ')}` : ''}` +
        `\nRSS MiB: start ${summary.rssMiB.start}, warm (t>=${Math.round(warmFrom)} s) ${summary.rssMiB.warm}, end ${summary.rssMiB.end}, max ${summary.rssMiB.max}, slope after warm ${summary.rssMiB.slopeAfterWarmMiBPerMin} MiB/min`,
    );
    if (server.problems.size) console.log(`server warnings/errors: ${JSON.stringify(summary.serverLog)}`);
    console.log('RESULT ' + JSON.stringify(summary));
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    rmSync(server.dir, { recursive: true, force: true });
    hook.close();
  }
}

/** Least-squares slope of y over x. */
function regression(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den ? num / den : 0;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
