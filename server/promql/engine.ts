/**
 * The query engine as the rest of Metronome uses it (types.ts' QueryEngine): parse, evaluate
 * over the grid, and shape the result; with the limits that protect the server: a deadline and
 * a memory budget per query (budget.ts), memory shared by all queries, concurrency slots with a
 * short queue, and slots reserved for rule evaluation.
 */
import { MetronomeError } from '../errors.js';
import type { Store } from '../store/index.js';
import { typeOf, typeName, type Expr } from './ast.js';
import { COST, MemoryPool, QueryBudget, labelsBytes } from './budget.js';
import { Evaluator } from './eval.js';
import { formatAnswer } from './format.js';
import { Annotations } from './annotations.js';
import { gridTime, sortByLabelOrder, type EvalValue, type Grid } from './matrix.js';
import { ALL_FEATURES, parseExpr, type PromQLFeature } from './parse.js';
import { resolveQueryContext } from './durations.js';
import { cacheable, type ResultCache } from './result-cache.js';
import { Semaphore } from '../concurrency.js';
import { clickHouseCode } from '../store-health.js';
import { StoreSource } from './source.js';
import type { GridPlan } from './sql.js';
import {
  ExecError,
  type InstantSample,
  type QueryEngine,
  type QueryOptions,
  type QueryPriority,
  type QuerySpec,
  type QueryValue,
  type RangeSeries,
} from './types.js';

export interface EngineLimits {
  /** QUERY_TIMEOUT_MS: a query running longer is cancelled (its ClickHouse query too). */
  timeoutMs: number;
  /** MAX_SERIES: most series one selector may read. */
  maxSeries: number;
  /** MAX_POINTS_PER_SERIES: most steps of a range query (Prometheus: 11,000). */
  maxPoints: number;
  /** MAX_CONCURRENT_QUERIES: API queries evaluated at once; more wait up to queueMs, then 503. */
  maxConcurrent: number;
  queueMs: number;
  /**
   * ALERT_MAX_CONCURRENT_QUERIES: slots for rule queries (priority 'rule'), on top of
   * maxConcurrent and never used by API queries; a rule query waits for one up to its timeout.
   */
  ruleConcurrent: number;
  /** Instant-vector lookback (Prometheus' default: 5 minutes). */
  lookbackMs: number;
  /** RETENTION_DAYS of raw points: older ranges are read from rollups. */
  rawRetentionMs: number;
  /** MAX_QUERY_SAMPLES: most step values and raw samples one query may hold at once. */
  maxSamples: number;
  /** MAX_QUERY_BYTES: most bytes one query may hold at once (estimated, budget.ts). */
  maxBytes: number;
  /** MAX_RESULT_BYTES: largest JSON answer. */
  maxResultBytes: number;
  /** QUERY_MEMORY_BYTES: most bytes all running queries may hold together. */
  memoryBytes: number;
  /** MAX_QUERY_LABEL_BYTES: longest label value label_replace or label_join may make. */
  maxLabelBytes: number;
  /** PROMQL_EXPERIMENTAL: the experimental syntax queries may use. */
  features: ReadonlySet<PromQLFeature>;
}

const DEFAULT_LIMITS: EngineLimits = {
  timeoutMs: 30_000,
  maxSeries: 20_000,
  maxPoints: 11_000,
  maxConcurrent: 8,
  queueMs: 2_000,
  ruleConcurrent: 2,
  lookbackMs: 300_000,
  rawRetentionMs: 15 * 86_400_000,
  maxSamples: 20_000_000,
  maxBytes: 1024 ** 3,
  maxResultBytes: 64 * 1024 ** 2,
  memoryBytes: 2 * 1024 ** 3,
  maxLabelBytes: 64 * 1024,
  features: ALL_FEATURES,
};

/** ClickHouse error codes that mean the query asked for too much. */
const CH_TIMEOUT = new Set([159]); // TIMEOUT_EXCEEDED
const CH_TOO_BIG = new Set([241, 396]); // MEMORY_LIMIT_EXCEEDED, TOO_MANY_ROWS_OR_BYTES

/** Query slots whose waiters give up after a while with 503 naming the limit's config key. */
export function querySlots(max: number, key: string): Semaphore {
  return new Semaphore(max, { timedOut: (waitMs) => new MetronomeError('MTR_QUERY_OVERLOADED', [key, max, waitMs]) });
}

/**
 * Rows decoded into JS take up to this many times their size in ClickHouse: a raw sample is 16
 * bytes there and about 75 as a [t, v] pair of a parsed row (`node --expose-gc`, 1 M samples;
 * RowBinary rows take the same shapes as JSONEachRow ones).
 */
const DECODED_PER_CH_BYTE = 5;

/**
 * The store as one query's leaves see it. Every leaf runs with the query's time
 * (max_execution_time) and with a result no larger than the memory the query may still take
 * once decoded (max_result_bytes: what is left of MAX_QUERY_BYTES and of QUERY_MEMORY_BYTES,
 * over DECODED_PER_CH_BYTE). The decoded rows are short-lived and not charged, so this is what
 * bounds them. A result over that limit is refused by ClickHouse (TOO_MANY_ROWS_OR_BYTES) and
 * answered with the limit that was the tighter one. Rule queries' reads carry their priority to
 * the store, which runs them before waiting API reads where it reads one at a time.
 */
function leafStore(store: Store, budget: QueryBudget, pool: MemoryPool, priority: QueryPriority): Store {
  const seconds = Math.max(1, Math.ceil(budget.limits.timeoutMs / 1000));
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'query') {
        return async (q: Parameters<Store['query']>[0], opts: Parameters<Store['query']>[1] = {}) => {
          const own = budget.limits.maxBytes - budget.bytes;
          const shared = pool.maxBytes - pool.held;
          const settings = {
            max_execution_time: seconds,
            max_result_bytes: Math.max(1, Math.floor(Math.min(own, shared) / DECODED_PER_CH_BYTE)),
            max_memory_usage: budget.limits.maxBytes,
          };
          try {
            return await target.query(q, { ...opts, priority, pace: budget, settings: { ...opts.settings, ...settings } });
          } catch (e) {
            if (clickHouseCode(e) !== 396) throw e;
            throw shared < own
              ? new MetronomeError('MTR_QUERY_MEMORY_FULL', [pool.maxBytes], { cause: e })
              : new MetronomeError('MTR_QUERY_TOO_MANY_BYTES', [budget.limits.maxBytes], { cause: e });
          }
        };
      }
      // Private fields need the real object as `this`.
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

export class Engine implements QueryEngine {
  readonly limits: EngineLimits;
  readonly #gates: Record<QueryPriority, Semaphore>;
  readonly #memory: MemoryPool;
  /** Observes every leaf's plan (resolution, SQL form): for tests and the bench. */
  onPlan?: (plan: GridPlan) => void;
  /** Range results of API queries, reused across refreshes (QUERY_CACHE_BYTES; none: no cache). */
  cache?: ResultCache;
  /** Observes every finished query's budget (peak samples and bytes): for tests and the bench. */
  onBudget?: (budget: QueryBudget) => void;
  /**
   * Awaited before every query: the writer's `settled` (server/writer.ts), so a write answered
   * from the write-ahead log is read by every query that follows it.
   */
  beforeRead?: () => Promise<void>;

  constructor(
    readonly store: Store,
    limits: Partial<EngineLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.#gates = {
      api: querySlots(this.limits.maxConcurrent, 'MAX_CONCURRENT_QUERIES'),
      rule: querySlots(this.limits.ruleConcurrent, 'ALERT_MAX_CONCURRENT_QUERIES'),
    };
    this.#memory = new MemoryPool(this.limits.memoryBytes);
  }

  /** Queries running now, by priority (tests and /metrics). */
  running(): Record<QueryPriority, number> {
    return { api: this.#gates.api.active, rule: this.#gates.rule.active };
  }

  /** Bytes all running queries hold now (QUERY_MEMORY_BYTES' pool). */
  get memoryHeld(): number {
    return this.#memory.held;
  }

  /** Parse and type-check without evaluating (rule validation, editors). Throws PromQLError. */
  parse(expr: string): Expr {
    return parseExpr(expr, this.limits.features);
  }

  async instant(expr: string, timeMs: number, opts: QueryOptions = {}): Promise<QueryValue> {
    const q = this.#prepare({ kind: 'instant', expr, time: timeMs });
    return this.#run(opts, (budget) => this.#evaluate(q, opts, budget));
  }

  async range(expr: string, startMs: number, endMs: number, stepMs: number, opts: QueryOptions = {}): Promise<QueryValue> {
    const q = this.#prepare({ kind: 'range', expr, start: startMs, end: endMs, step: stepMs });
    return this.#run(opts, (budget) => this.#cached(expr, q, opts, budget));
  }

  async answer(spec: QuerySpec, opts: QueryOptions = {}): Promise<Buffer> {
    const q = this.#prepare(spec);
    return this.#run(opts, async (budget) => formatAnswer(await this.#cached(spec.expr, q, opts, budget), budget));
  }

  /**
   * A range query through the result cache when one is set (server/promql/result-cache.ts): API
   * queries only (rules are instant and must see every write), expressions that never look
   * past their step. Only the steps the cache has not settled are evaluated, in this budget.
   */
  #cached(expr: string, q: Prepared, opts: QueryOptions, budget: QueryBudget): Promise<QueryValue> {
    const cache = this.cache;
    if (!cache?.enabled || q.kind !== 'range' || q.contextual || (opts.priority ?? 'api') !== 'api' || !cacheable(q.ast)) return this.#evaluate(q, opts, budget);
    const step = q.g.step;
    return cache.range(`${opts.raw ? 'raw' : 'any'}|${expr}`, q.start, q.end, step, (from, to) =>
      this.#evaluate({ ...q, g: { start: from, step, n: Math.floor((to - from) / step) + 1 }, start: from, end: to }, opts, budget), budget,
    );
  }

  /** Parse and check the parameters: bad input is refused before it takes a slot. */
  #prepare(spec: QuerySpec): Prepared {
    const parsed = parseExpr(spec.expr, this.limits.features);
    // step(), range(), start(), end() and durations made of them take this query's values.
    const { expr: ast, contextual } =
      spec.kind === 'instant'
        ? resolveQueryContext(parsed, { start: spec.time, end: spec.time, step: 0 })
        : resolveQueryContext(parsed, { start: spec.start, end: spec.end, step: spec.step });
    // A time or duration the store cannot hold exactly is bad input, whether or not the query
    // reaches the store (series lookups may be answered in process).
    const times = spec.kind === 'instant' ? [spec.time] : [spec.start, spec.end];
    for (const t of [...times, ...astDurations(ast)]) {
      if (!Number.isSafeInteger(Math.round(t))) throw new MetronomeError('MTR_VALUE_OUT_OF_RANGE', [String(t / 1000)]);
    }
    if (spec.kind === 'instant') {
      const t = Math.round(spec.time);
      return { kind: 'instant', expr: spec.expr, ast, g: { start: t, step: 1, n: 1 }, start: t, end: t, contextual };
    }
    const type = typeOf(ast);
    if (type !== 'scalar' && type !== 'vector') {
      throw new MetronomeError('MTR_QUERY_BAD_PARAM', ['query', `invalid expression type "${typeName(type)}" for range query, must be Scalar or instant Vector`]);
    }
    const start = Math.round(spec.start);
    const end = Math.round(spec.end);
    const step = Math.round(spec.step);
    if (end < start) throw new MetronomeError('MTR_QUERY_BAD_PARAM', ['end', 'end timestamp must not be before start time']);
    if (!(step > 0)) throw new MetronomeError('MTR_QUERY_BAD_PARAM', ['step', 'zero or negative query resolution step widths are not accepted. Try a positive integer']);
    const n = Math.floor((end - start) / step) + 1;
    if (n > this.limits.maxPoints) throw new MetronomeError('MTR_QUERY_TOO_MANY_POINTS', [this.limits.maxPoints, n]);
    return { kind: 'range', expr: spec.expr, ast, g: { start, step, n }, start, end, contextual };
  }

  /** Take a slot of the query's priority, run `work` within a fresh budget, and name what stopped it. */
  async #run<T>(opts: QueryOptions, work: (budget: QueryBudget) => Promise<T>): Promise<T> {
    const priority = opts.priority ?? 'api';
    const timeoutMs = Math.min(this.limits.timeoutMs, opts.timeoutMs ?? Infinity);
    if (this.beforeRead) await this.beforeRead();
    const gate = this.#gates[priority];
    // A rule query waits for its reserved slot as long as it may run; an API query QUERY_QUEUE_MS.
    await gate.acquire(priority === 'rule' ? timeoutMs : this.limits.queueMs, opts.signal);
    const { maxSamples, maxBytes, maxResultBytes } = this.limits;
    const budget = new QueryBudget({ maxSamples, maxBytes, maxResultBytes, timeoutMs }, this.#memory, opts.signal);
    try {
      return await Promise.race([work(budget), budget.failed]);
    } catch (e) {
      throw this.#explain(e, budget, opts);
    } finally {
      budget.end();
      gate.release();
      this.onBudget?.(budget);
    }
  }

  #explain(e: unknown, budget: QueryBudget, opts: QueryOptions): unknown {
    if (budget.timedOut) return budget.timeoutError();
    if (e instanceof MetronomeError) return e;
    // V8 refused a string or array that large: the query wanted more memory than a budget allows.
    if (e instanceof RangeError && /length|allocation/i.test(e.message)) return new MetronomeError('MTR_QUERY_TOO_MANY_BYTES', [this.limits.maxBytes], { cause: e });
    if (opts.signal?.aborted) return e;
    const code = clickHouseCode(e);
    if (code === null) return e;
    if (CH_TIMEOUT.has(code)) return budget.timeoutError();
    if (CH_TOO_BIG.has(code)) return new MetronomeError('MTR_QUERY_TOO_MANY_BYTES', [this.limits.maxBytes], { cause: e });
    // ClickHouse rejected what it was sent (e.g. a regex RE2 cannot compile).
    // The first sentence only: ClickHouse appends the whole query it was given.
    const msg = (e as Error).message.split('\n')[0].replace(/:? In scope [\s\S]*$/, '').slice(0, 300);
    return new ExecError(`query execution failed: ${msg}`);
  }

  async #evaluate(q: Prepared, opts: QueryOptions, budget: QueryBudget): Promise<QueryValue> {
    const notes = new Annotations(q.expr);
    const ev = new Evaluator({
      source: new StoreSource(leafStore(this.store, budget, this.#memory, opts.priority ?? 'api'), {
        signal: budget.signal,
        maxSeries: this.limits.maxSeries,
        maxSamples: this.limits.maxSamples,
        raw: opts.raw ?? false,
        rawRetentionStart: Date.now() - this.limits.rawRetentionMs,
        onPlan: this.onPlan,
        meter: budget,
      }),
      queryStart: q.start,
      queryEnd: q.end,
      lookback: this.limits.lookbackMs,
      defaultSubqueryStep: 60_000,
      maxSubquerySteps: this.limits.maxPoints * 100,
      maxLabelBytes: this.limits.maxLabelBytes,
      budget,
      notes,
      range: q.kind === 'range',
    });
    const v = await ev.eval(q.ast, q.g);
    const value = q.kind === 'instant' ? await instantValue(v, q.g.start, budget) : await rangeValue(v, q.g, budget);
    if (notes.warnings.size) value.warnings = [...notes.warnings];
    if (notes.infos.size) value.infos = [...notes.infos];
    return value;
  }
}

interface Prepared {
  kind: 'instant' | 'range';
  /** The query text, for the positions annotations quote. */
  expr: string;
  ast: Expr;
  g: Grid;
  start: number;
  end: number;
  /** The query's own bounds are in it (start(), range(), ...): its steps are not cached. */
  contextual: boolean;
}

async function instantValue(v: EvalValue, t: number, budget: QueryBudget): Promise<QueryValue> {
  switch (v.type) {
    case 'scalar':
      return { type: 'scalar', t, v: v.v[0] };
    case 'string':
      return { type: 'string', t, v: v.s };
    case 'matrix':
      return { type: 'matrix', series: await sortByLabelOrder(v.series, budget) };
    case 'vector': {
      const samples: InstantSample[] = [];
      for (const s of v.series) {
        if (budget.tick(4)) await budget.pause();
        if (s.has[0]) samples.push({ labels: s.labels, t, v: s.v[0] });
      }
      return { type: 'vector', samples };
    }
  }
}

/** A range query's matrix: present steps only, series in label order. */
async function rangeValue(v: EvalValue, g: Grid, budget: QueryBudget): Promise<QueryValue> {
  const series: RangeSeries[] = [];
  if (v.type === 'scalar') {
    budget.hold(g.n, COST.series + COST.sample * g.n);
    series.push({ labels: {}, t: Array.from({ length: g.n }, (_, i) => gridTime(g, i)), v: Array.from(v.v) });
  } else if (v.type === 'vector') {
    for (const s of v.series) {
      if (budget.tick(g.n)) await budget.pause();
      const t: number[] = [];
      const vals: number[] = [];
      for (let i = 0; i < g.n; i++) {
        if (!s.has[i]) continue;
        t.push(gridTime(g, i));
        vals.push(s.v[i]);
      }
      budget.hold(t.length, COST.series + COST.sample * t.length + labelsBytes(s.labels));
      if (t.length) series.push({ labels: s.labels, t, v: vals });
    }
  }
  return { type: 'matrix', series: await sortByLabelOrder(series, budget) };
}

/** Every time and duration written in the expression (ms): @ times, offsets, ranges, subquery steps. */
function astDurations(e: Expr, out: number[] = []): number[] {
  switch (e.kind) {
    case 'vector':
      out.push(e.offset);
      if (e.at && typeof e.at === 'object') out.push(e.at.time);
      break;
    case 'matrix':
      out.push(e.range);
      astDurations(e.vector, out);
      break;
    case 'subquery':
      out.push(e.range, e.step, e.offset);
      if (e.at && typeof e.at === 'object') out.push(e.at.time);
      astDurations(e.expr, out);
      break;
    case 'call':
      for (const a of e.args) astDurations(a, out);
      break;
    case 'aggregate':
      astDurations(e.expr, out);
      if (e.param) astDurations(e.param, out);
      break;
    case 'binary':
      astDurations(e.lhs, out);
      astDurations(e.rhs, out);
      break;
    case 'unary':
    case 'paren':
      astDurations(e.expr, out);
      break;
  }
  return out;
}
