/**
 * The one concurrency limiter: a counting semaphore, first come first served, whose waiters may
 * give up after a while or when their signal aborts. The query engine's slots per priority,
 * Heroic's query slots, rule evaluation's query queue and `mapLimit` are all this.
 */
export class Semaphore {
  #active = 0;
  readonly #waiting: { grant: () => void }[] = [];

  constructor(
    readonly max: number,
    /** The error a waiter gets when `waitMs` passes without a slot. */
    private readonly timedOut: (waitMs: number) => Error = (ms) => new Error(`no free slot of ${max} within ${ms} ms`),
  ) {
    if (!(max >= 1)) throw new RangeError(`a semaphore needs at least one slot, not ${max}`);
  }

  /** Slots taken. */
  get active(): number {
    return this.#active;
  }

  /** Take a slot, waiting at most `waitMs` (then `timedOut`) or until `signal` aborts (its reason). */
  async acquire(waitMs = Infinity, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#active < this.max) {
      this.#active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const timer = Number.isFinite(waitMs) ? setTimeout(() => give(this.timedOut(waitMs)), waitMs) : undefined;
      const onAbort = () => give(signal!.reason);
      const done = () => {
        clearTimeout(timer);
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
