/**
 * What one query may spend: memory it holds (samples and bytes), the size of its answer, and
 * time (a deadline). The evaluator charges every value it builds and gives back what its
 * children held once a node is done, so the count is what the query holds at that moment
 * (Prometheus' --query.max-samples counts the same way). Every loop that can grow counts its
 * work with `tick` and, every few milliseconds, yields to the event loop with `pause`, so
 * /healthz, /readyz and other queries answer while a heavy one runs, and the deadline is
 * noticed in TypeScript, not only by ClickHouse (issue 10: a nested label_replace exhausted the
 * heap, a triple-nested subquery ran 44 s past a 30 s timeout).
 */
import { MetronomeError } from '../errors.js';
import type { Labels } from './types.js';

/**
 * How loops report to the budget. `tick` is cheap (an add and a compare); about every 16k units
 * of work it reads the clock, throws past the deadline, and returns true when the caller should
 * `await pause()` (5 ms since the last yield). `hold` charges memory and throws over budget.
 */
export interface Meter {
  tick(units: number): boolean;
  pause(): Promise<void>;
  hold(samples: number, bytes: number): void;
}

/** For pure functions called outside a query (unit tests): counts nothing, never yields. */
export const UNMETERED: Meter = {
  tick: () => false,
  pause: () => Promise.resolve(),
  hold: () => {},
};

/**
 * Bytes, by measurement of V8 on Node 20 (`node --expose-gc`, 200k objects): a step series of
 * one step with a two-label set is 540 bytes of heap; a number[] element about 10 bytes. String
 * characters count 2 bytes: one for the label, one for the key it is matched by (labelsKey).
 */
export const COST = {
  series: 400,
  label: 32,
  char: 2,
  /** A step value: Float64 plus its presence byte. */
  step: 9,
  /** A raw sample (or subquery point): two number[] elements with growth slack. */
  sample: 20,
  /** A scalar step. */
  scalar: 8,
} as const;

export function labelsBytes(labels: Labels): number {
  let b = 0;
  for (const k in labels) b += COST.label + COST.char * (k.length + labels[k].length);
  return b;
}

/** A StepSeries' cost (matrix.ts; structural here, since matrix.ts builds on this module). */
export function stepSeriesBytes(s: { labels: Labels; v: ArrayLike<number> }): number {
  return COST.series + COST.step * s.v.length + labelsBytes(s.labels);
}

/** A SampleSeries' cost. */
export function sampleSeriesBytes(s: { labels: Labels; t: ArrayLike<number> }): number {
  return COST.series + COST.sample * s.t.length + labelsBytes(s.labels);
}

export interface BudgetLimits {
  /** MAX_QUERY_SAMPLES: step values and raw samples held at once. */
  maxSamples: number;
  /** MAX_QUERY_BYTES: estimated bytes held at once (values, series, labels, the answer being built). */
  maxBytes: number;
  /** MAX_RESULT_BYTES: size of the JSON answer. */
  maxResultBytes: number;
  /** QUERY_TIMEOUT_MS, or the request's tighter `timeout`. */
  timeoutMs: number;
}

/**
 * What all running queries hold together (QUERY_MEMORY_BYTES): per-query budgets alone would
 * let MAX_CONCURRENT_QUERIES + ALERT_MAX_CONCURRENT_QUERIES queries each take MAX_QUERY_BYTES,
 * more than Node's default heap (about 4 GB on a 24 GiB machine).
 */
export class MemoryPool {
  #held = 0;

  constructor(readonly maxBytes: number) {}

  get held(): number {
    return this.#held;
  }

  take(bytes: number): void {
    if (bytes > 0 && this.#held + bytes > this.maxBytes) throw new MetronomeError('MTR_QUERY_MEMORY_FULL', [this.maxBytes]);
    this.#held += bytes;
  }

  give(bytes: number): void {
    this.#held -= bytes;
  }
}

/** Work units between two reads of the clock: tens of microseconds of the loops that tick. */
export const CHECK_EVERY = 1 << 14;
/** Longest stretch of work between two yields to the event loop. */
export const YIELD_AFTER_MS = 5;

/** One query's budget. Create it when the query gets its slot; call `end()` when it is answered. */
export class QueryBudget implements Meter {
  /** Aborted at the deadline, over budget, or when the caller's signal aborts: cancels ClickHouse queries. */
  readonly signal: AbortSignal;
  samples = 0;
  bytes = 0;
  peakSamples = 0;
  peakBytes = 0;
  resultBytes = 0;
  /** Set when the deadline passed (the error to report is then MTR_QUERY_TIMEOUT, whatever surfaced). */
  timedOut = false;
  /**
   * Rejects when the budget fails (deadline, over budget, cancelled): the engine races the work
   * against it, so a query answers at its deadline even while it awaits a store that is slow to
   * honour the abort.
   */
  readonly failed: Promise<never>;
  #reject!: (e: unknown) => void;
  readonly #ac = new AbortController();
  readonly #deadline: number;
  readonly #timer: NodeJS.Timeout;
  readonly #outer?: AbortSignal;
  readonly #onOuterAbort = () => this.#record(this.#outer!.reason);
  readonly #now: () => number;
  #work = 0;
  #lastYield: number;
  #failure: unknown = null;
  #ended = false;

  /** `now` (ms, monotonic) is injected by tests; the deadline timer is a backstop for awaits. */
  constructor(
    readonly limits: BudgetLimits,
    readonly pool: MemoryPool,
    outer?: AbortSignal,
    now: () => number = () => performance.now(),
  ) {
    this.#now = now;
    this.#lastYield = now();
    this.signal = this.#ac.signal;
    this.failed = new Promise<never>((_, reject) => (this.#reject = reject));
    this.failed.catch(() => {});
    this.#deadline = now() + limits.timeoutMs;
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.#record(this.timeoutError());
    }, limits.timeoutMs);
    this.#timer.unref();
    this.#outer = outer;
    if (outer?.aborted) this.#record(outer.reason);
    else outer?.addEventListener('abort', this.#onOuterAbort, { once: true });
  }

  /** The error a query past its deadline answers with. */
  timeoutError(): MetronomeError {
    return new MetronomeError('MTR_QUERY_TIMEOUT', [this.limits.timeoutMs]);
  }

  /** The first failure wins: it aborts ClickHouse queries and settles `failed`. */
  #record(e: unknown): unknown {
    if (this.#failure === null) {
      this.#failure = e;
      this.#ac.abort(e);
      this.#reject(e);
    }
    return this.#failure;
  }

  #fail(e: unknown): never {
    throw this.#record(e);
  }

  /** Throws if the query was cancelled, went over budget or past its deadline. */
  check(): void {
    if (this.#failure !== null) throw this.#failure;
    if (this.#now() >= this.#deadline) {
      this.timedOut = true;
      this.#fail(this.timeoutError());
    }
  }

  tick(units: number): boolean {
    if ((this.#work += units) < CHECK_EVERY) return false;
    this.#work = 0;
    this.check();
    return this.#now() - this.#lastYield >= YIELD_AFTER_MS;
  }

  /** Let the event loop run (I/O, timers, other queries), then check the budget again. */
  async pause(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#lastYield = this.#now();
    this.check();
  }

  hold(samples: number, bytes: number): void {
    if (this.#failure !== null) throw this.#failure;
    // The query's own limits first: a query over its budget is refused (422) whatever others hold.
    if (this.samples + samples > this.limits.maxSamples) this.#fail(new MetronomeError('MTR_QUERY_TOO_MANY_SAMPLES', [this.limits.maxSamples]));
    if (this.bytes + bytes > this.limits.maxBytes) this.#fail(new MetronomeError('MTR_QUERY_TOO_MANY_BYTES', [this.limits.maxBytes]));
    try {
      this.pool.take(bytes);
    } catch (e) {
      this.#fail(e);
    }
    this.samples += samples;
    this.bytes += bytes;
    if (this.samples > this.peakSamples) this.peakSamples = this.samples;
    if (this.bytes > this.peakBytes) this.peakBytes = this.bytes;
  }

  release(samples: number, bytes: number): void {
    // After end() the pool has everything back; a branch still unwinding must not give twice.
    if (this.#ended) return;
    this.samples -= samples;
    this.bytes -= bytes;
    this.pool.give(bytes);
  }

  /** Count bytes of the answer as they are written (they are held until it is sent). */
  answer(bytes: number): void {
    this.resultBytes += bytes;
    if (this.resultBytes > this.limits.maxResultBytes) this.#fail(new MetronomeError('MTR_QUERY_RESULT_TOO_LARGE', [this.limits.maxResultBytes]));
    this.hold(0, bytes);
  }

  /** The query is answered (or failed): give its memory back to the pool, stop the timer. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    this.#outer?.removeEventListener('abort', this.#onOuterAbort);
    this.pool.give(this.bytes);
    this.samples = 0;
    this.bytes = 0;
    if (this.#failure === null) this.#failure = new Error('query budget ended');
  }
}

/**
 * What one evaluation node holds: its children's results and what it builds. When the node is
 * done the frame is closed (all of it given back) and the node's result is charged to its
 * parent's frame, so the budget's count follows what is alive.
 */
export class Frame implements Meter {
  samples = 0;
  bytes = 0;

  constructor(readonly budget: QueryBudget) {}

  tick(units: number): boolean {
    return this.budget.tick(units);
  }

  pause(): Promise<void> {
    return this.budget.pause();
  }

  hold(samples: number, bytes: number): void {
    this.budget.hold(samples, bytes);
    this.samples += samples;
    this.bytes += bytes;
  }

  close(): void {
    this.budget.release(this.samples, this.bytes);
    this.samples = 0;
    this.bytes = 0;
  }
}
