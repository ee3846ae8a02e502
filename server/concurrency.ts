/**
 * The one concurrency limiter: a counting semaphore, first come first served, whose waiters may
 * give up after a while or when their signal aborts, and whose line of waiters may be bounded.
 * The query engine's slots per priority, Heroic's query slots, rule evaluation's query queue,
 * the alert notifier's send queues (`alerting/send-queue.ts`) and `mapLimit` are all this.
 */

/**
 * What a semaphore times its waits with: Node's timers unless given. Alerting's Clock has this
 * shape, so a ManualClock drives the wait deadlines of the send queues and their tests.
 */
interface Timers {
  setTimeout(fn: () => unknown, ms: number): object;
  clearTimeout(handle: object): void;
}

const nodeTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class Semaphore {
  #active = 0;
  readonly #waiting: { grant: () => void }[] = [];
  /** Waiters allowed at once; the next one is refused at once with `full`. */
  readonly maxWaiting: number;
  readonly #timedOut: (waitMs: number) => Error;
  readonly #full: () => Error;
  readonly #timers: Timers;

  constructor(
    readonly max: number,
    opts: {
      /** The error a waiter gets when `waitMs` passes without a slot. */
      timedOut?: (waitMs: number) => Error;
      /** At most this many wait (default: no bound); one more is refused with `full`. */
      maxWaiting?: number;
      /** The error a caller gets when all slots are taken and `maxWaiting` are waiting. */
      full?: () => Error;
      /** The timers of the wait deadlines (default: Node's; a ManualClock in tests). */
      timers?: Timers;
    } = {},
  ) {
    if (!(max >= 1)) throw new RangeError(`a semaphore needs at least one slot, not ${max}`);
    this.maxWaiting = opts.maxWaiting ?? Infinity;
    if (!(this.maxWaiting >= 0)) throw new RangeError(`a semaphore's waiters are counted from 0, not ${opts.maxWaiting}`);
    this.#timedOut = opts.timedOut ?? ((ms) => new Error(`no free slot of ${max} within ${ms} ms`));
    this.#full = opts.full ?? (() => new Error(`all ${max} slots are taken and ${this.maxWaiting} wait for one`));
    this.#timers = opts.timers ?? nodeTimers;
  }

  /** Slots taken. */
  get active(): number {
    return this.#active;
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Take a slot, waiting at most `waitMs` (then `timedOut`) or until `signal` aborts (its
   * reason). A signal already aborted takes no slot, even a free one; a caller that finds
   * `maxWaiting` waiting is refused with `full` without waiting.
   */
  async acquire(waitMs = Infinity, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#active < this.max) {
      this.#active++;
      return;
    }
    if (this.#waiting.length >= this.maxWaiting) throw this.#full();
    await new Promise<void>((resolve, reject) => {
      const timer = Number.isFinite(waitMs) ? this.#timers.setTimeout(() => give(this.#timedOut(waitMs)), Math.max(0, waitMs)) : undefined;
      const onAbort = () => give(signal!.reason);
      const done = () => {
        if (timer) this.#timers.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const entry = {
        grant: () => {
          done();
          resolve();
        },
      };
      const give = (e: unknown) => {
        done();
        const i = this.#waiting.indexOf(entry);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(e);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(entry);
    });
  }

  /** Give a slot back: it passes straight to the longest waiter, if any. */
  release(): void {
    const next = this.#waiting.shift();
    if (next) next.grant();
    else this.#active--;
  }

  /** `fn` within a slot. */
  async run<T>(fn: () => Promise<T>, waitMs?: number, signal?: AbortSignal): Promise<T> {
    await this.acquire(waitMs, signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}

/** Map with at most `limit` calls in flight; results keep the input order. */
export function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const slots = new Semaphore(Math.max(1, limit));
  return Promise.all(items.map((item) => slots.run(() => fn(item))));
}
