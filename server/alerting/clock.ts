/**
 * Time as alerting sees it. Every timer in the evaluator and the notifier goes through a Clock,
 * so tests drive `for`, group_wait and retry backoff with a ManualClock instead of sleeping.
 */
export interface Clock {
  /** Unix milliseconds. */
  now(): number;
  /** Run `fn` after `ms`; returns a handle for clearTimeout. */
  setTimeout(fn: () => unknown, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Opaque: whatever the clock's setTimeout returned. */
export type TimerHandle = object;

/** Wall-clock time and Node timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(() => void fn(), Math.max(0, ms));
    // Alerting timers never keep the process alive on their own.
    t.unref?.();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** Sleep on a clock; rejects with the signal's reason when aborted. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const h = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clock.clearTimeout(h);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface ManualTimer {
  id: number;
  due: number;
  fn: () => unknown;
}

/**
 * A clock that moves only when told to. `advance` fires due timers in time order and awaits
 * each callback's promise, so an evaluation scheduled at t has finished before time passes t.
 * Work a callback starts without returning it (e.g. a notification send) keeps running; tests
 * wait for its effect.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  constructor(start: number) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => unknown, ms: number): TimerHandle {
    const t = { id: ++this.#seq, due: this.#now + Math.max(0, ms), fn };
    this.#timers.push(t);
    return { id: t.id };
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as { id?: number }).id;
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  /** Due times of the scheduled timers, earliest first. */
  pending(): number[] {
    return this.#timers.map((t) => t.due).sort((a, b) => a - b);
  }

  /** Move time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.#now + ms);
  }

  /** Move time forward to `target` (never backward). */
  async advanceTo(target: number): Promise<void> {
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.#timers) if (t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.id < next.id))) next = t;
      if (!next) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      if (next.due > this.#now) this.#now = next.due;
      await next.fn();
    }
    if (target > this.#now) this.#now = target;
  }
}
