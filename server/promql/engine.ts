/**
 * The query engine as the rest of Metronome uses it (types.ts' QueryEngine): parse, evaluate
 * over the grid, and shape the result; with the limits that protect the server (timeout,
 * concurrency, series per selector, points per series).
 */
import { MetronomeError } from '../errors.js';
import type { Store } from '../store/index.js';
import { typeName, typeOf, type Expr } from './ast.js';
import { Evaluator } from './eval.js';
import { compareLabels, gridTime, type EvalValue, type Grid } from './matrix.js';
import { parseExpr } from './parse.js';
import { StoreSource } from './source.js';
import type { GridPlan } from './sql.js';
import { ExecError, type Labels, type QueryEngine, type QueryOptions, type QueryValue, type RangeSeries } from './types.js';

export interface EngineLimits {
  /** QUERY_TIMEOUT_MS: a query running longer is cancelled (its ClickHouse query too). */
  timeoutMs: number;
  /** MAX_SERIES: most series one selector may read. */
  maxSeries: number;
  /** MAX_POINTS_PER_SERIES: most steps of a range query (Prometheus: 11,000). */
  maxPoints: number;
  /** MAX_CONCURRENT_QUERIES: queries evaluated at once; more wait up to queueMs, then 503. */
  maxConcurrent: number;
  queueMs: number;
  /** Instant-vector lookback (Prometheus' default: 5 minutes). */
  lookbackMs: number;
  /** RETENTION_DAYS of raw points: older ranges are read from rollups. */
  rawRetentionMs: number;
  /** MAX_QUERY_SAMPLES: most step values and raw samples one query may hold in memory. */
  maxSamples: number;
}

export const DEFAULT_LIMITS: EngineLimits = {
  timeoutMs: 30_000,
  maxSeries: 20_000,
  maxPoints: 11_000,
  maxConcurrent: 8,
  queueMs: 2_000,
  lookbackMs: 300_000,
  rawRetentionMs: 15 * 86_400_000,
  maxSamples: 20_000_000,
};

function isClickHouseError(e: unknown): boolean {
  return e instanceof Error && (/Code: \d+/.test(e.message) || typeof (e as { type?: unknown }).type === 'string');
}

/** A counting semaphore whose waiters give up after a while. */
class Gate {
  #active = 0;
  readonly #waiting: { resolve: () => void; timer: NodeJS.Timeout }[] = [];

  constructor(
    readonly max: number,
    readonly waitMs: number,
  ) {}

  async enter(): Promise<void> {
    if (this.#active < this.max) {
      this.#active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const entry = {
        resolve,
        timer: setTimeout(() => {
          this.#waiting.splice(this.#waiting.indexOf(entry), 1);
          reject(new MetronomeError('MTR_QUERY_OVERLOADED', [this.max, this.waitMs]));
        }, this.waitMs),
      };
      this.#waiting.push(entry);
    });
  }

  leave(): void {
    const next = this.#waiting.shift();
    if (next) {
      clearTimeout(next.timer);
      next.resolve(); // the slot passes straight to the waiter
    } else this.#active--;
  }
}

export class Engine implements QueryEngine {
  readonly limits: EngineLimits;
  readonly #gate: Gate;
  /** Observes every leaf's plan (resolution, SQL form): for tests and the bench. */
  onPlan?: (plan: GridPlan) => void;

  constructor(
    readonly store: Store,
    limits: Partial<EngineLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.#gate = new Gate(this.limits.maxConcurrent, this.limits.queueMs);
  }

  /** Parse and type-check without evaluating (rule validation, editors). Throws PromQLError. */
  parse(expr: string): Expr {
    return parseExpr(expr);
  }

  async instant(expr: string, timeMs: number, opts: QueryOptions = {}): Promise<QueryValue> {
    const ast = parseExpr(expr);
    const t = Math.round(timeMs);
    const v = await this.#run(ast, { start: t, step: 1, n: 1 }, t, t, opts);
    switch (v.type) {
      case 'scalar':
        return { type: 'scalar', t, v: v.v[0] };
      case 'string':
        return { type: 'string', t, v: v.s };
      case 'matrix':
        return { type: 'matrix', series: v.series.map((s) => ({ labels: s.labels, t: s.t, v: s.v })).sort((a, b) => compareLabels(a.labels, b.labels)) };
      case 'vector':
        return { type: 'vector', samples: v.series.filter((s) => s.has[0]).map((s) => ({ labels: s.labels, t, v: s.v[0] })) };
    }
  }

  async range(expr: string, startMs: number, endMs: number, stepMs: number, opts: QueryOptions = {}): Promise<QueryValue> {
    const ast = parseExpr(expr);
    const type = typeOf(ast);
    if (type !== 'scalar' && type !== 'vector') {
      throw new MetronomeError('MTR_QUERY_BAD_PARAM', ['query', `invalid expression type "${typeName(type)}" for range query, must be Scalar or instant Vector`]);
    }
    const start = Math.round(startMs);
    const end = Math.round(endMs);
    const step = Math.round(stepMs);
    if (end < start) throw new MetronomeError('MTR_QUERY_BAD_PARAM', ['end', 'end timestamp must not be before start time']);
    if (!(step > 0)) throw new MetronomeError('MTR_QUERY_BAD_PARAM', ['step', 'zero or negative query resolution step widths are not accepted. Try a positive integer']);
    const n = Math.floor((end - start) / step) + 1;
    if (n > this.limits.maxPoints) throw new MetronomeError('MTR_QUERY_TOO_MANY_POINTS', [this.limits.maxPoints, n]);
    const g: Grid = { start, step, n };
    const v = await this.#run(ast, g, start, end, opts);
    const series: RangeSeries[] = [];
    if (v.type === 'scalar') series.push({ labels: {}, t: Array.from({ length: n }, (_, i) => gridTime(g, i)), v: Array.from(v.v) });
    else if (v.type === 'vector') {
      for (const s of v.series) {
        const t: number[] = [];
        const vals: number[] = [];
        for (let i = 0; i < n; i++) {
          if (!s.has[i]) continue;
          t.push(gridTime(g, i));
          vals.push(s.v[i]);
        }
        if (t.length) series.push({ labels: s.labels, t, v: vals });
      }
      series.sort((a, b) => compareLabels(a.labels, b.labels));
    }
    return { type: 'matrix', series };
  }

  async #run(ast: Expr, g: Grid, queryStart: number, queryEnd: number, opts: QueryOptions): Promise<EvalValue> {
    await this.#gate.enter();
    const timeoutMs = Math.min(this.limits.timeoutMs, opts.timeoutMs ?? Infinity);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    try {
      const ev = new Evaluator({
        source: new StoreSource(this.store, {
          signal,
          maxSeries: this.limits.maxSeries,
          maxSamples: this.limits.maxSamples,
          raw: opts.raw ?? false,
          rawRetentionStart: Date.now() - this.limits.rawRetentionMs,
          onPlan: this.onPlan,
        }),
        queryStart,
        queryEnd,
        lookback: this.limits.lookbackMs,
        defaultSubqueryStep: 60_000,
        maxSubquerySteps: this.limits.maxPoints * 100,
        checkAbort: () => {
          if (signal.aborted) throw signal.reason;
        },
      });
      return await ev.eval(ast, g);
    } catch (e) {
      if (timeout.aborted) throw new MetronomeError('MTR_QUERY_TIMEOUT', [timeoutMs], { cause: e });
      if (e instanceof MetronomeError) throw e;
      if (opts.signal?.aborted || !isClickHouseError(e)) throw e;
      // ClickHouse rejected what it was sent (e.g. a regex RE2 cannot compile).
      // The first sentence only: ClickHouse appends the whole query it was given.
      const msg = (e as Error).message.split('\n')[0].replace(/:? In scope [\s\S]*$/, '').slice(0, 300);
      throw new ExecError(`query execution failed: ${msg}`);
    } finally {
      this.#gate.leave();
    }
  }
}
