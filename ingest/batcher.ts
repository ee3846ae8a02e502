import { randomBytes } from 'node:crypto';

/**
 * Group commit: items from concurrent requests are merged into one flush, which happens when
 * `maxPoints` are waiting or the oldest has waited `flushMs`, whichever comes first, or (when
 * `eager`) as soon as no writer announced with `expect` is still on its way, or when a caller
 * `hurry`s it. Each `add`
 * resolves when the flush holding its item has been committed by the sink, and rejects if that
 * flush fails after its retries. The batcher knows nothing of what the sink writes to.
 *
 * A flush is retried with the same token, so a sink that deduplicates on it (ClickHouse
 * insert_deduplication_token) stores each point once even when a commit succeeded but its
 * acknowledgement was lost.
 */

export interface BatcherOptions {
  maxPoints: number;
  flushMs: number;
  /** Points accepted but not yet committed; above this `add` throws BackpressureError. */
  maxBuffered: number;
  /**
   * Retries of a failed flush before its writers are failed. Infinity: a flush is retried until
   * it commits (the writer's write-ahead log mode, where writers were answered already).
   */
  retries: number;
  /** First retry delay; doubles on each retry, up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /**
   * Flush waiting items as soon as every writer announced with `expect` has added or given up,
   * instead of waiting out `flushMs`: nothing else is coming to join them. (Writers that do not
   * announce themselves then flush at once.)
   */
  eager?: boolean;
  /** Time for flushMs, retry backoff and flush durations; tests pass a manual clock. Default: Node timers, performance.now. */
  clock?: BatcherClock;
}

/**
 * The batcher's view of time: the shape of server/alerting/clock.ts's Clock (which ingest may
 * not import), so tests drive flushMs and retries with its ManualClock instead of sleeping.
 */
interface BatcherClock {
  now(): number;
  setTimeout(fn: () => unknown, ms: number): object;
  clearTimeout(handle: object): void;
}

const nodeClock: BatcherClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export type Sink<T> = (items: T[], token: string, points: number) => Promise<void>;

export interface FlushStats {
  points: number;
  items: number;
  ms: number;
  attempts: number;
  error?: unknown;
}

export class BackpressureError extends Error {
  override name = 'BackpressureError';
  constructor(readonly buffered: number, readonly limit: number) {
    super(`write buffer full: ${buffered} points buffered, limit ${limit}`);
  }
}

export class ClosedError extends Error {
  override name = 'ClosedError';
  constructor() {
    super('the batcher is closed');
  }
}

interface Pending<T> {
  items: T[];
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
  points: number;
}

export class Batcher<T> {
  readonly #opts: Required<BatcherOptions>;
  readonly #sink: Sink<T>;
  readonly #prefix = randomBytes(6).toString('hex');
  #seq = 0;
  #pending: Pending<T> = Batcher.#empty();
  #inFlight = 0;
  #flushing: Promise<void> | null = null;
  #timer: object | null = null;
  #closed = false;
  #abandoned = false;
  #retrying = false;
  /** A caller asked for what is waiting now (`hurry`): flush it without waiting for a full batch or the timer. */
  #urgent = false;
  /** Writers announced with `expect` that have not added yet. */
  #expected = 0;
  /** Called after every flush, for metrics and logs. */
  onFlush: ((stats: FlushStats) => void) | null = null;

  constructor(sink: Sink<T>, opts: BatcherOptions) {
    this.#sink = sink;
    this.#opts = { retryDelayMs: 100, maxRetryDelayMs: 5000, eager: false, clock: nodeClock, ...opts };
  }

  static #empty<T>(): Pending<T> {
    return { items: [], waiters: [], points: 0 };
  }

  /** Whether the running flush's last attempt failed (it is waiting to retry). */
  get retrying(): boolean {
    return this.#retrying;
  }

  /** Points accepted and not yet committed (waiting plus in the running flush). */
  get buffered(): number {
    return this.#pending.points + this.#inFlight;
  }

  /**
   * Queue an item of `points` points. Throws at once (synchronously) when the buffer is full
   * or the batcher is closed; otherwise the promise settles when the item is committed.
   */
  add(item: T, points: number): Promise<void> {
    this.checkRoom(points);
    return new Promise<void>((resolve, reject) => {
      const p = this.#pending;
      p.items.push(item);
      p.waiters.push({ resolve, reject });
      p.points += points;
      this.#schedule();
    });
  }

  /** Throw what `add` would throw for an item of `points` points now (full, or closed). */
  checkRoom(points: number): void {
    if (this.#closed) throw new ClosedError();
    const buffered = this.buffered;
    if (buffered > 0 && buffered + points > this.#opts.maxBuffered) {
      throw new BackpressureError(buffered, this.#opts.maxBuffered);
    }
  }

  /**
   * A writer on its way (a request being received or decoded): an eager batcher waits for it,
   * at most `flushMs`, before flushing. Call the returned function when it has added or given
   * up; calling it again does nothing.
   */
  expect(): () => void {
    this.#expected++;
    let settled = false;
    return () => {
      if (settled) return;
      settled = true;
      this.#expected--;
      this.#schedule();
    };
  }

  /** Flush now if a full batch is waiting (or nobody else is coming), else make sure the timer runs. */
  #schedule(): void {
    const p = this.#pending;
    if (p.items.length === 0) return;
    if (this.#urgent || p.points >= this.#opts.maxPoints || (this.#opts.eager && this.#expected === 0)) this.#kick();
    else if (!this.#timer) {
      this.#timer = this.#opts.clock.setTimeout(() => {
        this.#timer = null;
        this.#kick();
      }, this.#opts.flushMs);
    }
  }

  #kick(): void {
    if (this.#flushing || this.#pending.items.length === 0) return;
    if (this.#timer) {
      this.#opts.clock.clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#flushing = this.#runFlushes().finally(() => {
      this.#flushing = null;
      // Items that arrived during the flush: flush at once if a full batch, else on their timer.
      this.#schedule();
    });
  }

  /** Flush until nothing is waiting; one flush at a time, so a slow store batches more per insert. */
  async #runFlushes(): Promise<void> {
    while (this.#pending.items.length > 0) {
      const batch = this.#pending;
      this.#pending = Batcher.#empty();
      this.#urgent = false;
      this.#inFlight = batch.points;
      const token = `${this.#prefix}-${++this.#seq}`;
      const started = this.#opts.clock.now();
      let attempts = 0;
      let error: unknown;
      for (;;) {
        attempts++;
        try {
          await this.#sink(batch.items, token, batch.points);
          error = undefined;
          this.#retrying = false;
          break;
        } catch (e) {
          error = e;
          this.#retrying = true;
          if (attempts > this.#opts.retries || this.#abandoned) break;
          const delay = Math.min(this.#opts.maxRetryDelayMs, this.#opts.retryDelayMs * 2 ** Math.min(attempts - 1, 30));
          await new Promise<void>((r) => this.#opts.clock.setTimeout(() => r(), delay));
        }
      }
      this.#inFlight = 0;
      this.#retrying = false;
      this.onFlush?.({ points: batch.points, items: batch.items.length, ms: this.#opts.clock.now() - started, attempts, error });
      for (const w of batch.waiters) error === undefined ? w.resolve() : w.reject(error);
      // Full batches that piled up during the flush go straight away (and with `eager`, any
      // batch nobody else is coming to join); the rest wait for the timer.
      if (!this.#urgent && this.#pending.points < this.#opts.maxPoints && !(this.#opts.eager && this.#expected === 0)) return;
    }
  }

  /**
   * Flush what is waiting as soon as the store is free (after the running flush, if any),
   * without waiting for a full batch or `flushMs`: someone needs it committed (a read).
   */
  hurry(): void {
    if (this.#pending.items.length === 0) return;
    this.#urgent = true;
    this.#kick();
  }

  /** Commit everything accepted so far. */
  async flush(): Promise<void> {
    this.#kick();
    while (this.#flushing) {
      await this.#flushing;
      this.#kick();
    }
  }


  /** Refuse new items, then commit everything accepted. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  /**
   * Stop retrying: the running flush and any still waiting fail after their current attempt
   * (for a shutdown that cannot wait for the sink; the writer's log keeps what they held).
   */
  abandon(): void {
    this.#closed = true;
    this.#abandoned = true;
  }
}
