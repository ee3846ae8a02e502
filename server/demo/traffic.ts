import type { SeriesSamples, WriteBatch } from '../../ingest/types.js';
import { DEMO_SERVICES, type DemoService, type RouteSpec } from './catalog.js';

/**
 * The demo's traffic model: cumulative counters and histograms that behave like real scrapes of
 * instrumented services. Traffic follows the time of day (peak mid-afternoon UTC), latency grows
 * with load, and some services have periodic error spikes. Deterministic for a seed, so tests can
 * rely on shapes (monotone counters, ordered buckets) without depending on chance.
 */

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const GC_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5];
const JOB_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60];
const SIGMA = 0.55;

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, error < 1.5e-7). */
function phi(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Share of log-normal observations (median m) at or below x. */
function lognormalCdf(x: number, median: number, sigma = SIGMA): number {
  return phi((Math.log(x) - Math.log(median)) / sigma);
}

/** Traffic multiplier over the day: ~0.25 at night, 1.0 at the 15:00 UTC peak. */
export function diurnal(ms: number): number {
  const hours = (ms / 3_600_000) % 24;
  return 0.625 + 0.375 * Math.cos(((hours - 15) / 24) * 2 * Math.PI);
}

/** The error share added by a service's spike schedule at time ms (0 outside spikes). */
export function spikeAt(s: DemoService, ms: number): number {
  if (!s.spike) return 0;
  const minute = Math.floor(ms / 60_000) - s.spike.offsetMin;
  const inCycle = ((minute % s.spike.everyMin) + s.spike.everyMin) % s.spike.everyMin;
  return inCycle < s.spike.forMin ? s.spike.ratio : 0;
}

interface Acc {
  key: string;
  tags: Record<string, string>;
  ts: number[];
  vs: number[];
}

export class DemoTraffic {
  readonly #rand: () => number;
  /** Cumulative counter values by series identity. */
  readonly #counters = new Map<string, number>();
  readonly #startedAt: number;
  #batch = new Map<string, Acc>();
  #points = 0;

  constructor(
    readonly services: readonly DemoService[] = DEMO_SERVICES,
    seed = 42,
    startedAt = Date.now(),
  ) {
    this.#rand = prng(seed);
    this.#startedAt = startedAt;
  }

  /** Samples for every timestamp in `times` (ms, ascending), `stepMs` apart, as one write batch. */
  samples(times: readonly number[], stepMs: number): WriteBatch {
    this.#batch = new Map();
    this.#points = 0;
    const dt = stepMs / 1000;
    for (const t of times) {
      for (const s of this.services) {
        for (let i = 1; i <= s.instances; i++) this.#service(s, `${s.name}-${i}`, t, dt);
      }
    }
    const series: SeriesSamples[] = [...this.#batch.values()].map((a) => ({ key: a.key, tags: a.tags, timestamps: a.ts, values: a.vs }));
    return { series, points: this.#points };
  }

  #emit(key: string, tags: Record<string, string>, t: number, v: number): void {
    const id = key + JSON.stringify(tags);
    let a = this.#batch.get(id);
    if (!a) {
      a = { key, tags, ts: [], vs: [] };
      this.#batch.set(id, a);
    }
    a.ts.push(t);
    a.vs.push(v);
    this.#points++;
  }

  /** Add to a counter and emit its new value. Counters start from an arbitrary positive offset, as a long-running process would. */
  #count(key: string, tags: Record<string, string>, t: number, inc: number, fromZero = false): void {
    const id = key + JSON.stringify(tags);
    const prev = this.#counters.get(id) ?? (fromZero ? 0 : Math.floor(this.#rand() * 1000));
    const next = prev + Math.max(0, inc);
    this.#counters.set(id, next);
    // Event counts are whole numbers, as a real client reports them; sums of seconds are not.
    const whole = !key.endsWith('_sum') && !key.endsWith('_seconds_total');
    this.#emit(key, tags, t, whole ? Math.floor(next) : Math.round(next * 1e6) / 1e6);
  }

  /** Observe n values of a log-normal distribution into a cumulative histogram. */
  #histogram(base: string, tags: Record<string, string>, t: number, n: number, median: number, buckets: readonly number[]): void {
    // From zero, so that the buckets stay cumulative in le and +Inf equals _count.
    for (const le of buckets) this.#count(`${base}_bucket`, { ...tags, le: String(le) }, t, n * lognormalCdf(le, median), true);
    this.#count(`${base}_bucket`, { ...tags, le: '+Inf' }, t, n, true);
    this.#count(`${base}_sum`, tags, t, n * median * Math.exp((SIGMA * SIGMA) / 2), true);
    this.#count(`${base}_count`, tags, t, n, true);
  }

  #noise(spread = 0.1): number {
    return 1 + (this.#rand() * 2 - 1) * spread;
  }

  #service(s: DemoService, instance: string, t: number, dt: number): void {
    const base: Record<string, string> = { [s.label]: s.name, instance };
    const load = diurnal(t) * this.#noise(0.08);
    const spike = spikeAt(s, t);
    const perInstance = (s.peakRps * load) / s.instances;
    for (const r of s.routes) {
      const n = perInstance * r.share * dt * this.#noise(0.1);
      const latency = r.median * (0.85 + 0.3 * load) * (spike ? 1.6 : 1);
      if (s.style === 'prom') this.#promRoute(base, r, t, n, latency, r.errors + spike);
      else if (s.style === 'otel') this.#otelRoute(base, r, t, n, latency, r.errors + spike);
      else if (s.style === 'grpc') this.#grpcRoute(base, r, t, n, latency, r.errors + spike);
    }
    this.#custom(s, base, t, dt, load);
    this.#runtime(s, base, t, dt, load);
  }

  #promRoute(base: Record<string, string>, r: RouteSpec, t: number, n: number, latency: number, errors: number): void {
    const tags = { ...base, method: r.method, route: r.route };
    const client = r.method === 'GET' ? '404' : '400';
    this.#count('http_requests_total', { ...tags, code: '200' }, t, n * (1 - errors - 0.012));
    this.#count('http_requests_total', { ...tags, code: client }, t, n * 0.012);
    this.#count('http_requests_total', { ...tags, code: '500' }, t, n * errors);
    this.#histogram('http_request_duration_seconds', tags, t, n, latency, HTTP_BUCKETS);
  }

  #otelRoute(base: Record<string, string>, r: RouteSpec, t: number, n: number, latency: number, errors: number): void {
    const tags = { ...base, http_request_method: r.method, http_route: r.route };
    this.#histogram('http_server_request_duration_seconds', { ...tags, http_response_status_code: '200' }, t, n * (1 - errors), latency, HTTP_BUCKETS);
    // Failed calls time out at the provider: slower than successful ones.
    this.#histogram('http_server_request_duration_seconds', { ...tags, http_response_status_code: '502' }, t, n * errors, latency * 3, HTTP_BUCKETS);
  }

  #grpcRoute(base: Record<string, string>, r: RouteSpec, t: number, n: number, latency: number, errors: number): void {
    const tags = { ...base, grpc_service: r.method, grpc_method: r.route, grpc_type: 'unary' };
    this.#count('grpc_server_started_total', tags, t, n);
    this.#count('grpc_server_handled_total', { ...tags, grpc_code: 'OK' }, t, n * (1 - errors - 0.01));
    this.#count('grpc_server_handled_total', { ...tags, grpc_code: 'Unauthenticated' }, t, n * 0.01);
    this.#count('grpc_server_handled_total', { ...tags, grpc_code: 'Unavailable' }, t, n * errors);
    this.#histogram('grpc_server_handling_seconds', tags, t, n, latency, HTTP_BUCKETS);
  }

  /** Each service's own metrics: what ends up in the generated "other metrics" sections. */
  #custom(s: DemoService, base: Record<string, string>, t: number, dt: number, load: number): void {
    const rps = (s.peakRps * load) / s.instances;
    switch (s.name) {
      case 'frontend':
        this.#emit('frontend_sessions_active', base, t, Math.round(rps * 14 * this.#noise(0.05)));
        this.#count('frontend_cache_requests_total', { ...base, result: 'hit' }, t, rps * dt * 0.86);
        this.#count('frontend_cache_requests_total', { ...base, result: 'miss' }, t, rps * dt * 0.14);
        break;
      case 'checkout': {
        const spike = spikeAt(s, t);
        this.#count('checkout_orders_total', { ...base, outcome: 'placed' }, t, rps * 0.4 * dt * (1 - spike));
        this.#count('checkout_orders_total', { ...base, outcome: 'failed' }, t, rps * 0.4 * dt * (0.002 + spike));
        const inUse = Math.min(20, Math.round(3 + 12 * load * this.#noise(0.2)));
        this.#emit('db_pool_connections', { ...base, state: 'in_use' }, t, inUse);
        this.#emit('db_pool_connections', { ...base, state: 'idle' }, t, 20 - inUse);
        this.#histogram('db_query_duration_seconds', { ...base, operation: 'select' }, t, rps * 3 * dt, 0.004 * (1 + load), HTTP_BUCKETS);
        this.#histogram('db_query_duration_seconds', { ...base, operation: 'insert' }, t, rps * 0.5 * dt, 0.012 * (1 + load), HTTP_BUCKETS);
        break;
      }
      case 'payments':
        // "acme" fails about 9% of calls all the time: the demo's alert fires on it.
        for (const [provider, share, err] of [['acme', 0.45, 0.09], ['globex', 0.55, 0.004]] as const) {
          const n = rps * 0.7 * share * dt;
          this.#count('payments_provider_requests_total', { ...base, provider, outcome: 'ok' }, t, n * (1 - err));
          this.#count('payments_provider_requests_total', { ...base, provider, outcome: 'error' }, t, n * err * this.#noise(0.3));
        }
        break;
      case 'auth':
        this.#count('auth_token_cache_requests_total', { ...base, result: 'hit' }, t, rps * 0.8 * dt * 0.97);
        this.#count('auth_token_cache_requests_total', { ...base, result: 'miss' }, t, rps * 0.8 * dt * 0.03);
        break;
      case 'inventory-worker':
        for (const [queue, rate, median] of [['stock-sync', 4, 0.8], ['reindex', 0.5, 6], ['price-update', 2, 0.3]] as const) {
          const jobs = rate * load * dt;
          this.#count('jobs_processed_total', { ...base, queue, outcome: 'ok' }, t, jobs * 0.99);
          this.#count('jobs_processed_total', { ...base, queue, outcome: 'failed' }, t, jobs * 0.01);
          this.#histogram('job_duration_seconds', { ...base, queue }, t, jobs, median, JOB_BUCKETS);
          this.#emit('queue_depth', { ...base, queue }, t, Math.max(0, Math.round(rate * 30 * load * this.#noise(0.5) - 10)));
        }
        this.#emit('inventory_sync_lag_seconds', base, t, 20 + 40 * load * this.#noise(0.3));
        break;
    }
  }

  #runtime(s: DemoService, base: Record<string, string>, t: number, dt: number, load: number): void {
    const uptime = (t - this.#startedAt) / 1000;
    // A GC sawtooth: heap grows for ~5 minutes, then drops.
    const saw = ((t / 1000) % 300) / 300;
    this.#count('process_cpu_seconds_total', base, t, dt * (0.04 + 0.35 * load) * this.#noise(0.15));
    this.#emit('process_open_fds', base, t, Math.round(40 + 30 * load));
    if (s.runtime === 'node') {
      const heap = 48e6 + 40e6 * saw * (0.5 + load);
      this.#emit('process_resident_memory_bytes', base, t, Math.round(90e6 + heap + uptime * 50));
      this.#emit('process_start_time_seconds', base, t, Math.floor(this.#startedAt / 1000));
      this.#emit('nodejs_heap_size_used_bytes', base, t, Math.round(heap));
      this.#emit('nodejs_heap_size_total_bytes', base, t, Math.round(heap * 1.35));
      this.#emit('nodejs_eventloop_lag_seconds', base, t, (0.0015 + 0.012 * load * load) * this.#noise(0.3));
      this.#histogram('nodejs_gc_duration_seconds', { ...base, kind: 'minor' }, t, dt * 1.5 * load, 0.002, GC_BUCKETS);
      this.#histogram('nodejs_gc_duration_seconds', { ...base, kind: 'major' }, t, dt * 0.05 * load, 0.03, GC_BUCKETS);
    } else if (s.runtime === 'go') {
      const heap = 22e6 + 30e6 * saw * (0.4 + load);
      this.#emit('process_resident_memory_bytes', base, t, Math.round(60e6 + heap));
      this.#emit('go_memstats_heap_alloc_bytes', base, t, Math.round(heap));
      this.#emit('go_goroutines', base, t, Math.round(40 + 160 * load * this.#noise(0.1)));
      this.#emit('go_threads', base, t, 14);
      const pause = 0.0002 + 0.0006 * load;
      for (const [q, f] of [['0', 0.3], ['0.25', 0.7], ['0.5', 1], ['0.75', 1.4], ['1', 3]] as const) {
        this.#emit('go_gc_duration_seconds', { ...base, quantile: q }, t, pause * f);
      }
      const gcs = dt * 0.4 * (0.5 + load);
      this.#count('go_gc_duration_seconds_sum', base, t, gcs * pause);
      this.#count('go_gc_duration_seconds_count', base, t, gcs);
    } else {
      const heap = 300e6 + 400e6 * saw * (0.5 + load);
      this.#emit('jvm_memory_used_bytes', { ...base, jvm_memory_type: 'heap' }, t, Math.round(heap));
      this.#emit('jvm_memory_used_bytes', { ...base, jvm_memory_type: 'non_heap' }, t, Math.round(120e6 + uptime * 100));
      this.#emit('process_resident_memory_bytes', base, t, Math.round(heap + 250e6));
      this.#emit('jvm_thread_count', base, t, Math.round(60 + 40 * load));
      this.#emit('jvm_cpu_recent_utilization_ratio', base, t, Math.min(1, (0.05 + 0.4 * load) * this.#noise(0.15)));
      this.#histogram('jvm_gc_duration_seconds', { ...base, jvm_gc_name: 'G1 Young Generation' }, t, dt * 0.3 * load, 0.015, GC_BUCKETS);
      this.#histogram('jvm_gc_duration_seconds', { ...base, jvm_gc_name: 'G1 Old Generation' }, t, dt * 0.005, 0.25, GC_BUCKETS);
    }
  }
}

/** Timestamps `stepMs` apart, aligned to multiples of the step, in (fromMs, toMs]. */
export function stepTimes(fromMs: number, toMs: number, stepMs: number): number[] {
  const out: number[] = [];
  for (let t = Math.floor(fromMs / stepMs) * stepMs + stepMs; t <= toMs; t += stepMs) out.push(t);
  return out;
}
