/**
 * A service dashboard's data and queries, shared by bench/query-vs-prometheus.ts and
 * bench/query-profile.ts: 336 series scraped every 15 s (HTTP counters with restarts, a latency
 * histogram, process and node metrics, gauges, one target with a 12-minute gap), generated from
 * a seed, and 62 panel queries of the kinds a service dashboard asks for.
 *
 * Sample times sit 1-14 s past the 15 s scrape grid (per target), never on the query's minute
 * grid: Prometheus 2.x closes range windows on the left, Prometheus 3 and Metronome leave them
 * open, and the two agree only when no sample sits on a window boundary
 * (shared/notes/promql-on-clickhouse.md). For the same reason no window reaches before the
 * data's start by more than a scrape: there Prometheus 2.42 limits rate's extrapolation at the
 * counter's zero point before its 1.1-interval test, Prometheus 3 after it
 * (prometheus/prometheus#13725), and increase(x[1h]) over the first hour differs by ~0.3 %.
 */

export interface DashSeries {
  key: string;
  tags: Record<string, string>;
  timestamps: number[];
  values: number[];
}

export const SCRAPE_MS = 15_000;

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
export function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JOBS = ['api', 'checkout', 'search'];
const INSTANCES = ['i0', 'i1', 'i2', 'i3'];
const NODES = ['n0', 'n1', 'n2', 'n3'];
const LES = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'];

/**
 * The data set over [start, end): every target's samples at start + offset + k * 15 s. Each
 * service instance restarts about twice in 6 h (all its counters reset to 0); instance i3 of
 * `search` is down for 12 minutes (longer than the 5 m lookback).
 */
export function generate(seed: number, start: number, end: number): DashSeries[] {
  const r = rng(seed);
  const out: DashSeries[] = [];
  const target = () => {
    const offset = 1000 + Math.floor(r() * 13) * 1000 + Math.floor(r() * 1000);
    const t: number[] = [];
    for (let x = start + offset; x < end; x += SCRAPE_MS) t.push(x);
    return t;
  };
  const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
  for (const job of JOBS) {
    for (const instance of INSTANCES) {
      let ts = target();
      if (job === 'search' && instance === 'i3') ts = ts.filter((t) => t < start + 2 * 3_600_000 || t > start + 2 * 3_600_000 + 12 * 60_000);
      const n = ts.length;
      const restart = ts.map(() => r() < 2 / 1440);
      const load = 0.5 + r();
      // Requests: per method and code, a counter that restarts with the process.
      const cells: { tags: Record<string, string>; perScrape: number }[] = [];
      for (const method of ['GET', 'POST']) {
        for (const code of ['200', '404', '500']) {
          const share = (method === 'GET' ? 0.7 : 0.3) * (code === '200' ? 0.93 : code === '404' ? 0.05 : 0.02);
          cells.push({ tags: { job, instance, method, code }, perScrape: 300 * load * share });
        }
      }
      for (const c of cells) {
        let v = 0;
        const values = ts.map((_, i) => {
          if (restart[i]) v = 0;
          v += Math.floor(c.perScrape * (0.5 + r()));
          return v;
        });
        out.push({ key: 'http_requests_total', tags: c.tags, timestamps: ts, values });
      }
      // Latency histogram: cumulative buckets, _sum and _count.
      const buckets = LES.map(() => 0);
      let sum = 0;
      const bucketValues = LES.map(() => new Array<number>(n));
      const sumValues = new Array<number>(n);
      const countValues = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        if (restart[i]) {
          buckets.fill(0);
          sum = 0;
        }
        const obs = Math.floor(30 * load * (0.5 + r()));
        for (let k = 0; k < obs; k++) {
          const x = 0.004 * Math.exp(r() * 6.5); // about 4 ms to 2.6 s, log-uniform
          sum += x;
          LES.forEach((le, j) => {
            if (le === '+Inf' || x <= Number(le)) buckets[j]++;
          });
        }
        LES.forEach((_, j) => (bucketValues[j][i] = buckets[j]));
        sumValues[i] = round(sum, 4);
        countValues[i] = buckets[LES.length - 1];
      }
      LES.forEach((le, j) => out.push({ key: 'http_request_duration_seconds_bucket', tags: { job, instance, le }, timestamps: ts, values: bucketValues[j] }));
      out.push({ key: 'http_request_duration_seconds_sum', tags: { job, instance }, timestamps: ts, values: sumValues });
      out.push({ key: 'http_request_duration_seconds_count', tags: { job, instance }, timestamps: ts, values: countValues });
      // Process metrics.
      let cpu = 0;
      let mem = 2e8 * load;
      let gor = 100;
      const cpuV: number[] = [];
      const memV: number[] = [];
      const gorV: number[] = [];
      for (let i = 0; i < n; i++) {
        if (restart[i]) {
          cpu = 0;
          mem = 1.5e8;
        }
        cpu = round(cpu + 15 * 0.3 * load * (0.5 + r()));
        mem = Math.round(Math.max(5e7, mem + (r() - 0.45) * 2e6));
        gor = Math.max(10, gor + Math.round((r() - 0.5) * 10));
        cpuV.push(cpu);
        memV.push(mem);
        gorV.push(gor);
      }
      out.push({ key: 'process_cpu_seconds_total', tags: { job, instance }, timestamps: ts, values: cpuV });
      out.push({ key: 'process_resident_memory_bytes', tags: { job, instance }, timestamps: ts, values: memV });
      out.push({ key: 'go_goroutines', tags: { job, instance }, timestamps: ts, values: gorV });
      out.push({ key: 'up', tags: { job, instance }, timestamps: ts, values: ts.map(() => 1) });
      for (const queue of ['q0', 'q1']) {
        let d = 20;
        out.push({ key: 'queue_depth', tags: { job, instance, queue }, timestamps: ts, values: ts.map(() => (d = Math.max(0, Math.min(100, d + Math.round((r() - 0.5) * 8))))) });
      }
    }
  }
  for (const instance of NODES) {
    const ts = target();
    const total = 16e9;
    for (const cpu of ['0', '1']) {
      for (const mode of ['idle', 'user', 'system', 'iowait']) {
        const share = mode === 'idle' ? 0.6 : mode === 'user' ? 0.25 : mode === 'system' ? 0.1 : 0.05;
        let v = 1e5 * r();
        out.push({ key: 'node_cpu_seconds_total', tags: { instance, cpu, mode }, timestamps: ts, values: ts.map(() => (v = round(v + 15 * share * (0.6 + 0.8 * r())))) });
      }
    }
    let avail = total * 0.5;
    out.push({ key: 'node_memory_MemAvailable_bytes', tags: { instance }, timestamps: ts, values: ts.map(() => (avail = Math.round(Math.max(1e9, Math.min(total, avail + (r() - 0.5) * 5e7))))) });
    out.push({ key: 'node_memory_MemTotal_bytes', tags: { instance }, timestamps: ts, values: ts.map(() => total) });
    for (const device of ['eth0', 'eth1']) {
      let v = 1e10 * r();
      out.push({ key: 'node_network_receive_bytes_total', tags: { instance, device }, timestamps: ts, values: ts.map(() => (v += Math.floor(15 * 2e6 * r()))) });
    }
  }
  return out;
}

/** The data set as OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`. */
export function openMetrics(series: readonly DashSeries[]): string {
  const byName = new Map<string, DashSeries[]>();
  for (const s of series) byName.set(s.key, [...(byName.get(s.key) ?? []), s]);
  const lines: string[] = [];
  for (const [name, list] of byName) {
    // Types do not change PromQL's answers; gauge avoids OpenMetrics' counter naming rules.
    lines.push(`# TYPE ${name} gauge`);
    for (const s of list) {
      const labels = Object.entries(s.tags)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
      for (let i = 0; i < s.timestamps.length; i++) lines.push(`${name}{${labels}} ${s.values[i]} ${s.timestamps[i] / 1000}`);
    }
  }
  lines.push('# EOF');
  return lines.join('\n') + '\n';
}

const LAT = 'http_request_duration_seconds';

/** The dashboard's panels: what Grafana would send at a 60 s step ($__rate_interval = 5m). */
export const QUERIES: readonly string[] = [
  // Traffic
  'sum by (job) (rate(http_requests_total[5m]))',
  'sum by (job, code) (rate(http_requests_total[5m]))',
  'sum by (job, method) (rate(http_requests_total[5m]))',
  'sum by (instance) (rate(http_requests_total{job="api"}[5m]))',
  'sum without (instance, method) (rate(http_requests_total[5m]))',
  'sum(rate(http_requests_total[5m])) by (code)',
  'rate(http_requests_total[5m])',
  'rate(http_requests_total{job="api", code="200"}[5m])',
  'irate(http_requests_total{job="checkout"}[5m])',
  'sum by (job) (irate(http_requests_total[5m]))',
  'sum by (job) (increase(http_requests_total[30m]))',
  'sum(increase(http_requests_total{code="500"}[10m])) by (job)',
  'max by (job) (rate(http_requests_total[5m]))',
  'topk(5, sum by (job, instance) (rate(http_requests_total[5m])))',
  'bottomk(3, sum by (instance) (rate(http_requests_total[5m])))',
  'sum by (job) (rate(http_requests_total[5m])) > 50',
  'label_replace(sum by (job) (rate(http_requests_total[5m])), "service", "$1", "job", "(.*)")',
  'sum by (job) (rate(http_requests_total[5m])) / on (job) group_left count by (job) (up)',
  // Errors
  'sum by (job) (rate(http_requests_total{code="500"}[5m])) / sum by (job) (rate(http_requests_total[5m]))',
  'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
  'sum by (job, instance) (rate(http_requests_total{code=~"4..|5.."}[5m])) / sum by (job, instance) (rate(http_requests_total[5m]))',
  'sum by (job) (rate(http_requests_total{code!="200"}[5m]))',
  // Latency
  `histogram_quantile(0.99, sum by (le, job) (rate(${LAT}_bucket[5m])))`,
  `histogram_quantile(0.9, sum by (le, job) (rate(${LAT}_bucket[5m])))`,
  `histogram_quantile(0.5, sum by (le, job) (rate(${LAT}_bucket[5m])))`,
  `histogram_quantile(0.99, sum by (le) (rate(${LAT}_bucket{job="api"}[5m])))`,
  `histogram_quantile(0.99, sum by (le, instance) (rate(${LAT}_bucket{job="checkout"}[5m])))`,
  `histogram_quantile(0.95, sum by (le, job) (increase(${LAT}_bucket[10m])))`,
  `histogram_quantile(0.9, rate(${LAT}_bucket{job="search"}[5m]))`,
  `sum by (job) (rate(${LAT}_sum[5m])) / sum by (job) (rate(${LAT}_count[5m]))`,
  `sum by (job) (rate(${LAT}_count[5m]))`,
  `sum by (job) (rate(${LAT}_bucket{le="0.25"}[5m])) / sum by (job) (rate(${LAT}_count[5m]))`,
  `(sum by (job) (rate(${LAT}_bucket{le="0.1"}[5m])) + sum by (job) (rate(${LAT}_bucket{le="0.5"}[5m]))) / 2 / sum by (job) (rate(${LAT}_count[5m]))`,
  `${LAT}_bucket{job="api", instance="i0"}`,
  // Saturation and process
  'sum by (job) (rate(process_cpu_seconds_total[5m]))',
  'rate(process_cpu_seconds_total[1m])',
  'avg by (job) (rate(process_cpu_seconds_total[5m])) * 100',
  'resets(process_cpu_seconds_total[30m])',
  'process_resident_memory_bytes',
  'max by (job) (process_resident_memory_bytes)',
  'avg by (job) (process_resident_memory_bytes)',
  'avg_over_time(process_resident_memory_bytes[5m])',
  'deriv(process_resident_memory_bytes[15m])',
  'predict_linear(process_resident_memory_bytes[30m], 3600)',
  'sum by (job) (go_goroutines)',
  'max_over_time(go_goroutines[10m])',
  'sum by (job) (queue_depth)',
  'avg by (job) (avg_over_time(queue_depth[5m]))',
  'max by (job, queue) (max_over_time(queue_depth[5m]))',
  'min_over_time(queue_depth[10m])',
  'quantile_over_time(0.95, queue_depth[10m])',
  'stddev_over_time(queue_depth[10m])',
  'delta(queue_depth[10m])',
  'last_over_time(queue_depth[10m])',
  'clamp_max(avg_over_time(queue_depth[5m]), 80)',
  'queue_depth > 50',
  // Availability
  'sum(up)',
  'count by (job) (up == 1)',
  'avg_over_time(up[10m])',
  // Nodes
  'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))',
  '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))',
  'sum by (mode) (rate(node_cpu_seconds_total[5m]))',
  '100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)',
  'sum by (instance) (rate(node_network_receive_bytes_total[5m]))',
  'topk(3, rate(node_network_receive_bytes_total[5m]) * 8)',
];
