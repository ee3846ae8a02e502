/**
 * A bounded queue in front of one receiver integration: at most `concurrency` sends in flight
 * (so at most that many sockets to it) and at most `capacity` waiting; a send that finds the
 * queue full, or whose deadline passes while it waits, is dropped and counted instead of piling
 * up. Issue 13 measured a receiver that never answers with 2,000 alert groups: without a bound,
 * 1–1.5 GB RSS, 3,253 open sockets and 13,231 requests in 60 s.
 */
import type { Clock, TimerHandle } from './clock.js';

export type DropReason = 'queue_full' | 'deadline';

export class SendQueue {
  #running = 0;
  readonly #waiting: { start: () => void; timer: TimerHandle | null }[] = [];

  constructor(
    readonly clock: Clock,
    readonly concurrency: number,
    readonly capacity: number,
  ) {}

  get running(): number {
    return this.#running;
  }
  get queued(): number {
    return this.#waiting.length;
  }

  /**
   * Run `fn` when a slot is free. Resolves to its result, or to a drop reason when the queue was
   * full or `waitMs` passed first.
   */
  async run<T>(fn: () => Promise<T>, waitMs: number, signal?: AbortSignal): Promise<{ ok: true; value: T } | { ok: false; reason: DropReason }> {
    if (this.#running >= this.concurrency) {
      if (this.#waiting.length >= this.capacity || signal?.aborted) return { ok: false, reason: 'queue_full' };
      const started = await new Promise<boolean>((resolve) => {
        const w = {
          start: () => {
            signal?.removeEventListener('abort', give);
            resolve(true);
          },
          timer: null as TimerHandle | null,
        };
        const give = () => {
          const i = this.#waiting.indexOf(w);
          if (i >= 0) this.#waiting.splice(i, 1);
          if (w.timer) this.clock.clearTimeout(w.timer);
          signal?.removeEventListener('abort', give);
          resolve(false);
        };
        w.timer = this.clock.setTimeout(give, Math.max(0, waitMs));
        signal?.addEventListener('abort', give);
        this.#waiting.push(w);
      });
      if (!started) return { ok: false, reason: 'deadline' };
    } else this.#running++;
    try {
      return { ok: true, value: await fn() };
    } finally {
      const next = this.#waiting.shift();
      if (next) {
        // The slot passes to the next waiter.
        if (next.timer) this.clock.clearTimeout(next.timer);
        next.start();
      } else this.#running--;
    }
  }
}
