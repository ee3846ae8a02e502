import { describe, expect, it } from 'vitest';
import { ManualClock } from './alerting/clock.js';
import { mapLimit, Semaphore } from './concurrency.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('Semaphore', () => {
  it('lets max holders in and the waiters through in arrival order', async () => {
    const s = new Semaphore(2);
    const order: number[] = [];
    await s.acquire();
    await s.acquire();
    const waiters = [1, 2, 3].map((i) => s.acquire().then(() => order.push(i)));
    await tick();
    expect(order).toEqual([]);
    s.release();
    await tick();
    expect(order).toEqual([1]);
    s.release();
    s.release();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
    expect(s.active).toBe(2);
  });

  it('gives up after waitMs with its error, and on abort with the reason, keeping the slot count right', async () => {
    const s = new Semaphore(1, { timedOut: (ms) => new Error(`overloaded after ${ms}`) });
    await s.acquire();
    await expect(s.acquire(5)).rejects.toThrow('overloaded after 5');
    const ac = new AbortController();
    const aborted = s.acquire(60_000, ac.signal);
    ac.abort(new Error('client went away'));
    await expect(aborted).rejects.toThrow('client went away');
    s.release();
    expect(s.active).toBe(0);
    await s.acquire(0);
    expect(s.active).toBe(1);
  });

  it('refuses no slots at all', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
    expect(() => new Semaphore(1, { maxWaiting: -1 })).toThrow(RangeError);
  });

  it('refuses a caller at once with its error when maxWaiting callers already wait', async () => {
    const clock = new ManualClock(0);
    const s = new Semaphore(1, { maxWaiting: 2, timers: clock, full: () => new Error('line is full') });
    await s.acquire();
    const order: number[] = [];
    const first = s.acquire(1000).then(() => order.push(1));
    const second = s.acquire(1000).then(() => order.push(2));
    await expect(s.acquire(1000)).rejects.toThrow('line is full');
    // The refused caller set no timer: only the two waiters' deadlines are pending.
    expect(clock.pending()).toEqual([1000, 1000]);
    expect(s.waiting).toBe(2);
    s.release();
    await first;
    expect(order).toEqual([1]);
    // A place in line is free again.
    const third = s.acquire(1000).then(() => order.push(3));
    expect(s.waiting).toBe(2);
    s.release();
    s.release();
    await Promise.all([second, third]);
    expect(order).toEqual([1, 2, 3]);
    expect({ active: s.active, waiting: s.waiting, timers: clock.pending() }).toEqual({ active: 1, waiting: 0, timers: [] });
  });

  it('with maxWaiting 0, refuses whenever every slot is taken', async () => {
    const s = new Semaphore(2, { maxWaiting: 0 });
    await s.acquire();
    await s.acquire();
    await expect(s.acquire()).rejects.toThrow('all 2 slots are taken and 0 wait for one');
    s.release();
    await s.acquire();
    expect(s.active).toBe(2);
  });

  it('times its waits on the injected timers, not the wall clock', async () => {
    const clock = new ManualClock(10_000);
    const s = new Semaphore(1, { timers: clock, timedOut: (ms) => new Error(`no slot in ${ms} ms`) });
    await s.acquire();
    let outcome = 'waiting';
    const waiter = s.acquire(500).then(
      () => (outcome = 'granted'),
      (e: Error) => (outcome = e.message),
    );
    await clock.advance(499);
    await tick();
    expect(outcome).toBe('waiting');
    await clock.advance(1);
    await waiter;
    expect(outcome).toBe('no slot in 500 ms');
    expect({ active: s.active, waiting: s.waiting }).toEqual({ active: 1, waiting: 0 });
  });

  it("clears a waiter's timer when it gets a slot or its signal aborts", async () => {
    const clock = new ManualClock(0);
    const s = new Semaphore(1, { timers: clock });
    await s.acquire();
    const granted = s.acquire(500);
    expect(clock.pending()).toEqual([500]);
    s.release();
    await granted;
    expect(clock.pending()).toEqual([]);
    const ac = new AbortController();
    const aborted = s.acquire(800, ac.signal);
    expect(clock.pending()).toEqual([800]);
    ac.abort(new Error('stopped'));
    await expect(aborted).rejects.toThrow('stopped');
    expect({ timers: clock.pending(), waiting: s.waiting, active: s.active }).toEqual({ timers: [], waiting: 0, active: 1 });
  });
});

describe('mapLimit', () => {
  it('keeps at most limit calls in flight and the results in input order', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      most = Math.max(most, ++inFlight);
      for (let i = 0; i < n; i++) await tick();
      inFlight--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });
});
