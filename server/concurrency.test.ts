import { describe, expect, it } from 'vitest';
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
    const s = new Semaphore(1, (ms) => new Error(`overloaded after ${ms}`));
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
