import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, tempDir, type TestServer } from './helpers.js';
import { loadSeries, promGet, type TestSeries } from './promql-helpers.js';

/**
 * A real Prometheus (Debian's 2.42, installed by .ci/test-deps.sh) as the reference: the same
 * generated data is loaded into both (Prometheus through promtool's OpenMetrics import), and
 * every query's range answer must agree step by step. Sample times sit 7 s past the 15 s grid
 * so that no sample falls on a window boundary, where Prometheus 2 (closed windows) and 3
 * (left-open, which Metronome follows) differ. Subquery ranges are not multiples of their
 * step for the same reason.
 */
let srv: TestServer;
let prom: ChildProcess | undefined;
let promUrl = '';
let promDir = '';

const HOUR = 3_600_000;
const START = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR;
const END = START + 3 * HOUR;

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(): TestSeries[] {
  const r = rng(42);
  const out: TestSeries[] = [];
  const times = (every: number, from = START, to = END) => {
    const t: number[] = [];
    for (let x = from + 7000; x < to; x += every) t.push(x);
    return t;
  };
  for (const job of ['api', 'web']) {
    for (const instance of ['a', 'b', 'c']) {
      // Counters with occasional resets.
      let v = Math.floor(r() * 1000);
      out.push({
        labels: { __name__: 'http_requests_total', job, instance, code: instance === 'c' ? '500' : '200' },
        samples: times(15_000).map((t) => {
          if (r() < 0.004) v = 0;
          else v += Math.floor(r() * 20);
          return [t, v];
        }),
      });
      // Gauges.
      out.push({ labels: { __name__: 'temperature', job, instance }, samples: times(30_000).map((t) => [t, Math.round((20 + r() * 10) * 100) / 100]) });
      // A gauge of few distinct values: many ties.
      out.push({ labels: { __name__: 'level', job, instance }, samples: times(30_000).map((t) => [t, Math.floor(r() * 3)]) });
    }
  }
  // A series with a long gap (longer than the lookback).
  out.push({ labels: { __name__: 'flaky', job: 'api' }, samples: times(15_000).filter((t) => t < START + HOUR || t > START + HOUR + 20 * 60_000).map((t) => [t, r() * 5]) });
  // A classic histogram (cumulative buckets).
  const bounds = ['0.05', '0.1', '0.25', '0.5', '1', '+Inf'];
  const counts = bounds.map(() => 0);
  const bucketSamples: [number, number][][] = bounds.map(() => []);
  for (const t of times(15_000)) {
    const n = Math.floor(r() * 30);
    for (let i = 0; i < n; i++) {
      const x = r() ** 2;
      bounds.forEach((b, j) => {
        if (b === '+Inf' || x <= Number(b)) counts[j]++;
      });
    }
    bounds.forEach((_, j) => bucketSamples[j].push([t, counts[j]]));
  }
  bounds.forEach((le, j) => out.push({ labels: { __name__: 'latency_seconds_bucket', job: 'api', le }, samples: bucketSamples[j] }));
  // A histogram whose median falls exactly on a bucket's count: half the observations at or
  // under 0.1, the other half in (0.5, 1], none between.
  const split = ['0.1', '0.25', '0.5', '1', '+Inf'];
  let half = 0;
  const splitSamples: [number, number][][] = split.map(() => []);
  for (const t of times(15_000)) {
    half += 1 + Math.floor(r() * 10);
    split.forEach((le, j) => splitSamples[j].push([t, le === '1' || le === '+Inf' ? 2 * half : half]));
  }
  split.forEach((le, j) => out.push({ labels: { __name__: 'split_seconds_bucket', job: 'api', le }, samples: splitSamples[j] }));
  return out;
}

function openMetrics(series: TestSeries[]): string {
  const lines: string[] = [];
  const byName = new Map<string, TestSeries[]>();
  for (const s of series) {
    const n = s.labels.__name__;
    byName.set(n, [...(byName.get(n) ?? []), s]);
  }
  for (const [name, list] of byName) {
    lines.push(`# TYPE ${name} gauge`);
    for (const s of list) {
      const labels = Object.entries(s.labels)
        .filter(([k]) => k !== '__name__')
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
      for (const [t, v] of s.samples) lines.push(`${name}{${labels}} ${v} ${t / 1000}`);
    }
  }
  lines.push('# EOF');
  return lines.join('\n') + '\n';
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  const series = generate();
  srv = await startTestServer();
  await loadSeries(srv.ctx.store, series);

  promDir = tempDir('metronome-prom-');
  const file = join(promDir, 'data.om');
  writeFileSync(file, openMetrics(series));
  mkdirSync(join(promDir, 'tsdb'));
  const imp = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', file, join(promDir, 'tsdb')], { encoding: 'utf8' });
  if (imp.status !== 0) throw new Error(`promtool failed (is Debian's prometheus package installed?): ${imp.error ?? imp.stderr}`);
  writeFileSync(join(promDir, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\n');
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prom = spawn(
    'prometheus',
    [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--storage.tsdb.retention.time=30d'],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${promUrl}/-/ready`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    await new Promise((res) => setTimeout(res, 200));
  }
}, 120_000);

afterAll(async () => {
  prom?.kill('SIGTERM');
  await srv?.destroy();
  if (promDir) rmSync(promDir, { recursive: true, force: true });
});

type Matrix = { metric: Record<string, string>; values: [number, string][] }[];

function canonical(m: Matrix): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const s of m) {
    const key = JSON.stringify(Object.entries(s.metric).sort());
    const pts = new Map<number, number>();
    for (const [t, v] of s.values) pts.set(t, v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v));
    out.set(key, pts);
  }
  return out;
}

function agree(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

async function compare(query: string, step = 60): Promise<void> {
  const params = { query, start: (START + 30 * 60_000) / 1000, end: END / 1000, step };
  const [ours, theirs] = await Promise.all([promGet(srv.url, '/api/v1/query_range', params), promGet(promUrl, '/api/v1/query_range', params)]);
  expect(theirs.status, `Prometheus: ${JSON.stringify(theirs.body)}`).toBe(200);
  expect(ours.status, `Metronome: ${JSON.stringify(ours.body)}`).toBe(200);
  const a = canonical(ours.body.data.result);
  const b = canonical(theirs.body.data.result);
  expect([...a.keys()].sort(), `${query}: series`).toEqual([...b.keys()].sort());
  let points = 0;
  for (const [k, pb] of b) {
    const pa = a.get(k)!;
    expect([...pa.keys()], `${query} ${k}: steps`).toEqual([...pb.keys()]);
    for (const [t, vb] of pb) {
      const va = pa.get(t)!;
      if (!agree(va, vb)) expect.fail(`${query} ${k} at ${t}: Metronome ${va}, Prometheus ${vb}`);
      points++;
    }
  }
  expect(points, `${query}: Prometheus returned no points; the comparison would be empty`).toBeGreaterThan(0);
}

const QUERIES = [
  'http_requests_total',
  'rate(http_requests_total[5m])',
  'rate(http_requests_total[1m])',
  'irate(http_requests_total[5m])',
  'increase(http_requests_total[10m])',
  'resets(http_requests_total[30m])',
  'changes(temperature[10m])',
  'delta(temperature[5m])',
  'idelta(temperature[5m])',
  'deriv(temperature[10m])',
  'predict_linear(temperature[10m], 600)',
  'avg_over_time(temperature[5m])',
  'sum_over_time(temperature[5m])',
  'min_over_time(temperature[7m])',
  'max_over_time(temperature[7m])',
  'count_over_time(flaky[5m])',
  'last_over_time(flaky[5m])',
  'stddev_over_time(temperature[10m])',
  'stdvar_over_time(temperature[10m])',
  'quantile_over_time(0.9, temperature[10m])',
  'present_over_time(flaky[2m])',
  'absent_over_time(flaky[2m])',
  'absent(flaky)',
  'flaky',
  'sum by (job) (rate(http_requests_total[5m]))',
  'sum without (instance) (rate(http_requests_total[5m]))',
  'avg by (job) (temperature)',
  'max(temperature)',
  'min by (instance) (temperature)',
  'count(temperature > 25)',
  'stddev by (job) (temperature)',
  'quantile(0.75, temperature)',
  'topk(2, temperature)',
  'bottomk(1, rate(http_requests_total[5m]))',
  // Ties: Prometheus' heap decides which equal values stay. (Over a selector only: Prometheus
  // hands computed series on in Go map order, so its ties there are not reproducible.)
  'topk(2, level)',
  'bottomk without (instance) (2, level)',
  'topk by (job) (1, level)',
  'bottomk(3, level)',
  'histogram_quantile(0.5, rate(split_seconds_bucket[5m]))',
  'histogram_quantile(0.5, sum by (le) (rate(split_seconds_bucket[5m])))',
  'count_values("t", round(temperature))',
  'group by (job) (temperature)',
  'histogram_quantile(0.9, sum by (le) (rate(latency_seconds_bucket[5m])))',
  'histogram_quantile(0.5, rate(latency_seconds_bucket[10m]))',
  'sum(rate(http_requests_total{code="500"}[5m])) / sum(rate(http_requests_total[5m]))',
  'rate(http_requests_total[5m]) / on(job, instance) group_left temperature',
  'temperature - on(job) group_left avg by (job) (temperature)',
  'temperature > bool 25',
  'temperature > 25 and on(instance) temperature < 28',
  'temperature unless on(instance) temperature{instance="a"}',
  'temperature{job="api"} or temperature{instance="b"}',
  'http_requests_total offset 10m',
  'rate(http_requests_total[5m] offset 7m)',
  'max_over_time(rate(http_requests_total[5m])[10m30s:1m])',
  'avg_over_time(temperature[10m15s:30s])',
  'label_replace(temperature, "host", "h-$1", "instance", "(.*)")',
  'label_join(temperature, "id", "/", "job", "instance")',
  'abs(deriv(temperature[5m])) * 100',
  'clamp(temperature, 22, 28)',
  'round(temperature, 0.5)',
  'ln(temperature) + sqrt(temperature) - exp(-temperature)',
  'timestamp(temperature)',
  'time() - timestamp(flaky)',
  'scalar(sum(temperature)) * 2',
  'vector(1) + on() group_left sum(temperature) * 0',
  '-temperature ^ 2 % 7',
  'hour(timestamp(temperature))',
];

describe('agreement with Prometheus on generated data', () => {
  for (const q of QUERIES) {
    it(`agrees on ${q}`, async () => {
      await compare(q);
    });
  }

  it('agrees on a 10m rate summed by job at a 600 s step', async () => {
    await compare('sum by (job) (rate(http_requests_total[10m]))', 600);
  });
});
