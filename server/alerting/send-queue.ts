/**
 * A bounded queue in front of one receiver integration: at most `concurrency` sends in flight
 * (so at most that many sockets to it) and at most `capacity` waiting; a send that finds the
 * queue full, or whose deadline passes while it waits, is dropped and counted instead of piling
 * up. Issue 13 measured a receiver that never answers with 2,000 alert groups: without a bound,
 * 1–1.5 GB RSS, 3,253 open sockets and 13,231 requests in 60 s.
 *
 * The slots and the waiting are the one Semaphore's, timed on the alerting clock; this layer
 * only turns its refusals into drop reasons, since a dropped send is an outcome here, not an error.
 */
import { Semaphore } from '../concurrency.js';
import type { Clock } from './clock.js';

export type DropReason = 'queue_full' | 'deadline';

/** A refusal of the semaphore, carrying the reason the send is dropped for. */
class Dropped extends Error {
  constructor(readonly reason: DropReason) {
    super(`send dropped: ${reason}`);
  }
}

export class SendQueue {
  readonly #slots: Semaphore;

  constructor(clock: Clock, concurrency: number, capacity: number) {
    this.#slots = new Semaphore(concurrency, {
      maxWaiting: capacity,
      timers: clock,
      full: () => new Dropped('queue_full'),
      timedOut: () => new Dropped('deadline'),
    });
  }

  /** Sends in flight. */
  get running(): number {
    return this.#slots.active;
  }
  /** Sends waiting for a slot. */
  get queued(): number {
    return this.#slots.waiting;
  }

  /**
   * Run `fn` when a slot is free. Resolves to its result, or to a drop reason when the queue was
   * full or `waitMs` passed first. An aborted `signal` (the notifier stopping) counts as the
   * deadline: a send still waiting then, or arriving after, is dropped.
   */
  async run<T>(fn: () => Promise<T>, waitMs: number, signal?: AbortSignal): Promise<{ ok: true; value: T } | { ok: false; reason: DropReason }> {
    try {
      await this.#slots.acquire(waitMs, signal);
    } catch (e) {
      return { ok: false, reason: e instanceof Dropped ? e.reason : 'deadline' };
    }
    try {
      return { ok: true, value: await fn() };
    } finally {
      this.#slots.release();
    }
  }
}
