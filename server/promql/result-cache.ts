/**
 * An incremental cache of range-query results, for dashboards that refresh the same panels:
 * a refresh recomputes only the steps it has not seen settle, and reads the rest from memory.
 *
 * Why it is exact: a range query's steps are independent (each step t is the expression
 * evaluated at t over samples at or before t; subquery steps are aligned to absolute multiples
 * of their step), so a step's answer changes only when a sample at or before t is written.
 * Steps are cached only once they are older than the freshness horizon (`now - freshnessMs`),
 * and a write that reaches behind the horizon (a late write: a backfill, a replay) truncates
 * every cached answer to the steps before its oldest sample. Expressions that look ahead of
 * their step (`@`, a negative offset) are never cached.
 *
 * Entries are keyed by expression, step, the step's phase (start mod step) and options, hold
 * the steps from the newest request's start, and are evicted least recently used beyond
 * maxBytes. Per process: in a cluster, each node invalidates on its own writes only.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PointColumns } from '../../ingest/types.js';
import type { Store } from '../store/index.js';
import { chTimeMs } from '../store/store.js';
import type { Expr } from './ast.js';
import { labelOrderKey } from './matrix.js';
import type { Labels, QueryValue, RangeSeries } from './types.js';

export interface ResultCacheOptions {
  /** Most bytes held (an estimate: 16 per step value plus the labels); 0 turns the cache off. */
  maxBytes: number;
  /** Steps newer than now minus this are recomputed on every request. */
  freshnessMs: number;
  now?: () => number;
}

interface CachedSeries {
  labels: Labels;
  t: Float64Array;
  v: Float64Array;
}

interface Entry {
  /** First and last cached step (inclusive), on the grid of `step`. */
  from: number;
  to: number;
  step: number;
  series: CachedSeries[];
  bytes: number;
}

/**
 * How long copying steps may hold the event loop: `tick` counts work and says when to `pause`
 * (a query's QueryBudget; without one, a fixed chunk of steps between pauses).
 */
export interface Pacer {
  tick(units: number): boolean;
  pause(): Promise<void>;
}

/** Steps copied between pauses when no query budget paces the cache. */
const CHUNK = 1 << 16;
function unpaced(): Pacer {
  let work = 0;
  return {
    tick(units) {
      work += units;
      if (work < CHUNK) return false;
      work = 0;
      return true;
    },
    pause: () => new Promise<void>((resolve) => setImmediate(resolve)),
  };
}

/**
 * An entry's largest share of the cache: one answer of 2,000 series at 3,600 steps (115 MB) is
 * not a dashboard panel to keep, and copying it would cost more than recomputing.
 */
const ENTRY_SHARE = 8;

export interface CacheStats {
  hits: number;
  misses: number;
  /** Steps answered from memory and steps computed, over all requests. */
  stepsCached: number;
  stepsComputed: number;
  entries: number;
  bytes: number;
  invalidations: number;
}

/** Whether every step of the expression depends only on samples at or before it. */
export function cacheable(e: Expr): boolean {
  switch (e.kind) {
    case 'vector':
      return e.at === null && e.offset >= 0;
    case 'matrix':
      return cacheable(e.vector);
    case 'subquery':
      return e.at === null && e.offset >= 0 && cacheable(e.expr);
    case 'call':
      return e.args.every(cacheable);
    case 'aggregate':
      return cacheable(e.expr) && (e.param === null || cacheable(e.param));
    case 'binary':
      return cacheable(e.lhs) && cacheable(e.rhs);
    case 'unary':
    case 'paren':
      return cacheable(e.expr);
    case 'number':
    case 'string':
      return true;
  }
}

/** How many invalidations are remembered for computations still running. */
const INVALIDATION_LOG = 1024;

export class ResultCache {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  #bytes = 0;
  #seq = 0;
  /** Recent late writes, oldest first: computations that started before one must honour it. */
  readonly #log: { seq: number; ts: number }[] = [];
  readonly stats: CacheStats = { hits: 0, misses: 0, stepsCached: 0, stepsComputed: 0, entries: 0, bytes: 0, invalidations: 0 };

  constructor(readonly opts: ResultCacheOptions) {
    this.#now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.opts.maxBytes > 0;
  }

  /**
   * The range query [start, end] at `step`, from cached steps where they have settled and from
   * `compute(from, end)` for the rest. `key` names the expression and every option that changes
   * its answer. `compute` returns a matrix (the engine's range answer) for steps from..end.
   */
  async range(
    key: string,
    start: number,
    end: number,
    step: number,
    compute: (from: number, end: number) => Promise<QueryValue>,
    pace: Pacer = unpaced(),
  ): Promise<QueryValue> {
    if (!this.enabled) return compute(start, end);
    const id = `${step}:${mod(start, step)}:${key}`;
    const e = this.#entries.get(id);
    const usable = e !== undefined && e.from <= start && e.to >= start - step;
    const from = usable ? Math.max(start, e.to + step) : start;
    const seq = this.#seq;
    const fresh: QueryValue = from <= end ? await compute(from, end) : { type: 'matrix', series: [] };
    if (fresh.type !== 'matrix') return fresh;
    const cachedTo = usable ? Math.min(end, from - step) : start - step;
    const steps = (a: number, b: number) => (b < a ? 0 : Math.floor((b - a) / step) + 1);
    this.stats.stepsCached += steps(start, cachedTo);
    this.stats.stepsComputed += steps(from, end);
    if (usable) this.stats.hits++;
    else this.stats.misses++;
    const merged = usable && cachedTo >= start ? await merge(e.series, start, cachedTo, fresh.series, pace) : fresh.series;
    await this.#store(id, seq, start, end, step, merged, pace);
    // Annotations come from the steps just computed (cached steps keep none).
    return { type: 'matrix', series: merged, warnings: fresh.warnings, infos: fresh.infos };
  }

  /**
   * Samples at or after `ts` were just committed: if that is behind the freshness horizon,
   * cached steps at or after `ts` may be wrong; drop them.
   */
  written(ts: number): void {
    if (!this.enabled || ts >= this.#now() - this.opts.freshnessMs) return;
    this.stats.invalidations++;
    this.#log.push({ seq: ++this.#seq, ts });
    if (this.#log.length > INVALIDATION_LOG) this.#log.shift();
    for (const [id, e] of this.#entries) {
      if (e.to < ts) continue;
      this.#bytes -= e.bytes;
      if (e.from >= ts) {
        this.#entries.delete(id);
        continue;
      }
      // Steps past `to` stay in the arrays until the entry is next stored: every read stops at
      // `to`, and the write path does not copy.
      e.to = e.from + Math.floor((ts - 1 - e.from) / e.step) * e.step;
      this.#bytes += e.bytes;
    }
    this.#sync();
  }

  /** Keep the settled steps of an answer (those before the horizon and any late write since `seq`). */
  async #store(id: string, seq: number, start: number, end: number, step: number, series: RangeSeries[], pace: Pacer): Promise<void> {
    const old = this.#entries.get(id);
    if (old) {
      this.#bytes -= old.bytes;
      this.#entries.delete(id);
    }
    let to = this.#settled(seq, start, end, step);
    // Sized before copying: an answer too large to keep costs nothing more.
    const bytes = to < start ? 0 : sizeOf(series, start, to) + id.length * 2;
    if (to < start || bytes > this.opts.maxBytes / ENTRY_SHARE) {
      this.#sync();
      return;
    }
    const kept = await slice(series, start, to, pace);
    // While copying, a late write may have landed, or another request stored the same id (the
    // later wins).
    to = Math.min(to, this.#settled(seq, start, end, step));
    const raced = this.#entries.get(id);
    if (raced) {
      this.#bytes -= raced.bytes;
      this.#entries.delete(id);
    }
    if (to < start) {
      this.#sync();
      return;
    }
    this.#entries.set(id, { from: start, to, step, series: kept, bytes });
    this.#bytes += bytes;
    // Least recently used first: Map keeps insertion order.
    for (const [k, e] of this.#entries) {
      if (this.#bytes <= this.opts.maxBytes) break;
      this.#entries.delete(k);
      this.#bytes -= e.bytes;
    }
    this.#sync();
  }

  /**
   * The last step of [start, end] an answer computed from invalidation `seq` on may keep: before
   * the freshness horizon and before any late write since (all of it when the log lost track).
   */
  #settled(seq: number, start: number, end: number, step: number): number {
    let limit = Math.min(end, this.#now() - this.opts.freshnessMs);
    if (seq !== this.#seq) {
      if (this.#log.length === 0 || this.#log[0].seq > seq + 1) limit = -Infinity;
      for (const w of this.#log) if (w.seq > seq) limit = Math.min(limit, w.ts - 1);
    }
    return limit < start ? start - step : start + Math.floor((limit - start) / step) * step;
  }

  #sync(): void {
    this.stats.entries = this.#entries.size;
    this.stats.bytes = this.#bytes;
  }
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/** The steps of each series within [from, to], dropping series left empty; pausing as `pace` says. */
async function slice(series: readonly RangeSeries[], from: number, to: number, pace: Pacer): Promise<CachedSeries[]> {
  const out: CachedSeries[] = [];
  for (const s of series) {
    const a = lowerBound(s.t, from);
    const b = lowerBound(s.t, to + 1);
    if (b <= a) continue;
    const t = new Float64Array(b - a);
    const v = new Float64Array(b - a);
    for (let i = a; i < b; i++) {
      t[i - a] = s.t[i];
      v[i - a] = s.v[i];
    }
    out.push({ labels: s.labels, t, v });
    if (pace.tick(b - a)) await pace.pause();
  }
  return out;
}

function lowerBound(t: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The cached steps within [from, to] followed by the computed ones, per label set, in the
 * engine's answer order; pausing as `pace` says.
 */
async function merge(cached: readonly CachedSeries[], from: number, to: number, computed: readonly RangeSeries[], pace: Pacer): Promise<RangeSeries[]> {
  const byKey = new Map<string, RangeSeries>();
  for (const s of cached) {
    const a = lowerBound(s.t, from);
    const b = lowerBound(s.t, to + 1);
    if (b <= a) continue;
    const t = new Array<number>(b - a);
    const v = new Array<number>(b - a);
    for (let i = a; i < b; i++) {
      t[i - a] = s.t[i];
      v[i - a] = s.v[i];
    }
    byKey.set(labelOrderKey(s.labels), { labels: s.labels, t, v });
    if (pace.tick(b - a)) await pace.pause();
  }
  for (const s of computed) {
    const k = labelOrderKey(s.labels);
    const have = byKey.get(k);
    if (!have) byKey.set(k, { labels: s.labels, t: s.t.slice(), v: s.v.slice() });
    else {
      for (let i = 0; i < s.t.length; i++) {
        have.t.push(s.t[i]);
        have.v.push(s.v[i]);
      }
    }
    if (pace.tick(s.t.length)) await pace.pause();
  }
  return [...byKey.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1]);
}

/** Estimated bytes of the steps within [from, to] (16 per step value plus the labels). */
function sizeOf(series: readonly (RangeSeries | CachedSeries)[], from = -Infinity, to = Infinity): number {
  let n = 0;
  for (const s of series) {
    const steps = lowerBound(s.t, to + 1) - lowerBound(s.t, from);
    if (steps <= 0) continue;
    n += 64 + steps * 16;
    for (const k in s.labels) n += (k.length + s.labels[k].length) * 2 + 32;
  }
  return n;
}

/**
 * The store, telling `written` the oldest sample time of every insert that changes query answers
 * (points, and series ends: staleness markers), once it is committed. Every writer goes through
 * the store: the write path, alerting's own series, tests loading data directly.
 */
export function watchWrites(store: Store, written: (oldest: number) => void): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'insertPoints') {
        return async (points: PointColumns, token: string) => {
          await target.insertPoints(points, token);
          let oldest = Infinity;
          for (let i = 0; i < points.length; i++) if (points.ts[i] < oldest) oldest = points.ts[i];
          if (oldest !== Infinity) written(oldest);
        };
      }
      if (prop === 'insertRows') {
        return async (table: string, rows: readonly Record<string, unknown>[]) => {
          await target.insertRows(table, rows);
          if (table !== 'series_ends') return;
          let oldest = Infinity;
          for (const r of rows) oldest = Math.min(oldest, chTimeMs(String(r.ts)));
          if (Number.isFinite(oldest)) written(oldest);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** The cache's counters on /metrics: requests by result, steps by source, its size. */
export function registerCacheMetrics(registry: Registry, cache: ResultCache): void {
  const stats = cache.stats;
  new Counter({
    name: 'metronome_query_cache_requests_total',
    help: 'Range queries through the result cache: hit (some steps reused) or miss.',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ result: 'hit' }, stats.hits);
      this.inc({ result: 'miss' }, stats.misses);
    },
  });
  new Counter({
    name: 'metronome_query_cache_steps_total',
    help: 'Range-query steps answered from the result cache (cached) or evaluated (computed).',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ source: 'cached' }, stats.stepsCached);
      this.inc({ source: 'computed' }, stats.stepsComputed);
    },
  });
  new Counter({
    name: 'metronome_query_cache_invalidations_total',
    help: 'Writes older than QUERY_CACHE_FRESHNESS_MS that truncated cached results.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats.invalidations);
    },
  });
  new Gauge({
    name: 'metronome_query_cache_bytes',
    help: 'Estimated bytes held by the result cache (QUERY_CACHE_BYTES caps it).',
    registers: [registry],
    collect() {
      this.set(stats.bytes);
    },
  });
}
