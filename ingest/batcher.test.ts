import { describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { BackpressureError, Batcher, ClosedError, type BatcherOptions, type FlushStats } from './batcher.js';

/**
 * Time is a ManualClock (the batcher takes a clock): the flushMs timer and the retry backoff fire
 * only when the test moves time, so every "not yet" and "now" below is exact.
 */
const opts = { maxPoints: 100, flushMs: 20, maxBuffered: 1000, retries: 2, retryDelayMs: 1 };

function batcher<T>(sink: (items: T[], token: string) => Promise<void>, o: Partial<BatcherOptions> = {}) {
  const clock = new ManualClock(0);
  return { b: new Batcher<T>(sink, { ...opts, ...o, clock }), clock };
}

/** Let pending promise callbacks run: the sink's result and the retry timer it sets up. */
const settle = () => new Promise((r) => setImmediate(r));

describe('Batcher', () => {
  it('merges items from concurrent adds into one flush at flushMs', async () => {
    const flushes: number[][] = [];
    const { b, clock } = batcher<number>(async (items) => void flushes.push(items));
    const all = Promise.all([b.add(1, 10), b.add(2, 10), b.add(3, 10)]);
    await settle();
    expect(flushes).toEqual([]);
    await clock.advance(opts.flushMs);
    await all;
    expect(flushes).toEqual([[1, 2, 3]]);
  });

  it('flushes as soon as maxPoints are waiting, without waiting for the timer', async () => {
    const flushes: number[][] = [];
    const { b, clock } = batcher<number>(async (items) => void flushes.push(items), { flushMs: 60_000 });
    await b.add(1, 100);
    expect(flushes).toEqual([[1]]);
    expect(clock.pending()).toEqual([]);
  });

  it('flushes at flushMs, not a millisecond earlier, when fewer than maxPoints are waiting', async () => {
    const flushes: number[][] = [];
    const { b, clock } = batcher<number>(async (items) => void flushes.push(items), { flushMs: 30 });
    const added = b.add(1, 1);
    await clock.advance(29);
    await settle();
    expect(flushes).toEqual([]);
    await clock.advance(1);
    await added;
    expect(flushes).toEqual([[1]]);
  });

  it('when eager, flushes once every announced writer has added or given up, without the timer', async () => {
    const flushes: number[][] = [];
    const { b } = batcher<number>(async (items) => void flushes.push(items), { flushMs: 60_000, eager: true });
    const [a, c, gaveUp] = [b.expect(), b.expect(), b.expect()];
    const first = b.add(1, 1);
    a();
    await Promise.resolve();
    expect(flushes).toEqual([]);
    const second = b.add(2, 1);
    c();
    c(); // a second call must not count twice
    await Promise.resolve();
    expect(flushes).toEqual([]);
    gaveUp();
    await Promise.all([first, second]);
    expect(flushes).toEqual([[1, 2]]);
    // Nobody announced: at once.
    await b.add(3, 1);
    expect(flushes).toEqual([[1, 2], [3]]);
  });

  it('when eager, waits at most flushMs for a writer that never comes', async () => {
    const flushes: number[][] = [];
    const { b, clock } = batcher<number>(async (items) => void flushes.push(items), { flushMs: 30, eager: true });
    b.expect();
    const added = b.add(1, 1);
    await clock.advance(29);
    await settle();
    expect(flushes).toEqual([]);
    await clock.advance(1);
    await added;
    expect(flushes).toEqual([[1]]);
  });

  it('hurry flushes what is waiting at once, and after the running flush what arrived during it', async () => {
    const flushes: number[][] = [];
    let release: () => void = () => {};
    const { b, clock } = batcher<number>(
      async (items) => {
        flushes.push(items);
        if (items[0] === 1) await new Promise<void>((r) => (release = r));
      },
      { flushMs: 60_000 },
    );
    const first = b.add(1, 1);
    await settle();
    expect(flushes).toEqual([]);
    b.hurry();
    expect(flushes).toEqual([[1]]);
    // Arrives while [1] is being committed; hurried, it goes as soon as that commit ends,
    // not at flushMs.
    const second = b.add(2, 1);
    b.hurry();
    await settle();
    expect(flushes).toEqual([[1]]);
    release();
    await Promise.all([first, second]);
    expect(flushes).toEqual([[1], [2]]);
    expect(clock.now()).toBe(0);
    // Nothing waiting: hurry does nothing, and the next item waits for its timer again.
    b.hurry();
    const third = b.add(3, 1);
    await settle();
    expect(flushes).toHaveLength(2);
    await clock.advance(60_000);
    await third;
    expect(flushes).toEqual([[1], [2], [3]]);
  });

  it('retries a failed flush with the same token after a doubling delay, then resolves', async () => {
    const tokens: string[] = [];
    const { b, clock } = batcher<number>(
      async (_items, token) => {
        tokens.push(token);
        if (tokens.length < 3) throw new Error('transient');
      },
      { retryDelayMs: 100 },
    );
    const added = b.add(1, 1);
    await clock.advance(opts.flushMs);
    await settle();
    expect(tokens).toHaveLength(1);
    // First retry after retryDelayMs, the second after twice that.
    await clock.advance(99);
    expect(tokens).toHaveLength(1);
    await clock.advance(1);
    await settle();
    expect(tokens).toHaveLength(2);
    await clock.advance(199);
    expect(tokens).toHaveLength(2);
    await clock.advance(1);
    await added;
    expect(tokens).toHaveLength(3);
    expect(new Set(tokens).size).toBe(1);
  });

  it('rejects every writer of a flush that keeps failing, after its retries', async () => {
    let attempts = 0;
    const { b, clock } = batcher<number>(async () => {
      attempts++;
      throw new Error('store down');
    });
    const results = Promise.allSettled([b.add(1, 1), b.add(2, 1)]);
    for (const ms of [opts.flushMs, 1, 2]) {
      await clock.advance(ms);
      await settle();
    }
    expect((await results).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(attempts).toBe(1 + opts.retries);
  });

  it('reports each flush with its points, items, attempts and duration on the clock', async () => {
    const stats: FlushStats[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { b, clock } = batcher<number>(() => gate, { maxPoints: 5 });
    b.onFlush = (s) => stats.push(s);
    const added = b.add(1, 5);
    await clock.advance(42); // the sink takes 42 ms
    release();
    await added;
    expect(stats).toEqual([{ points: 5, items: 1, ms: 42, attempts: 1, error: undefined }]);
  });

  it('refuses items beyond maxBuffered with BackpressureError and accepts again once flushed', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { b, clock } = batcher<number>(() => gate, { maxPoints: 10_000, maxBuffered: 100, flushMs: 1 });
    const first = b.add(1, 80);
    expect(b.buffered).toBe(80);
    await clock.advance(1);
    // In the flush now, still counted.
    expect(b.buffered).toBe(80);
    expect(() => b.add(2, 30)).toThrow(BackpressureError);
    release();
    await first;
    expect(b.buffered).toBe(0);
    await settle(); // the flush has ended
    const third = b.add(3, 30);
    await clock.advance(1);
    await third;
  });

  it('uses distinct tokens for distinct flushes', async () => {
    const tokens: string[] = [];
    const { b } = batcher<number>(async (_i, t) => void tokens.push(t), { maxPoints: 1 });
    await b.add(1, 1);
    await b.add(2, 1);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).not.toBe(tokens[1]);
  });

  it('commits what was accepted on close, without waiting for the timer, and refuses new items after', async () => {
    const flushed: number[] = [];
    const { b, clock } = batcher<number>(async (items) => void flushed.push(...items), { flushMs: 60_000 });
    const p = b.add(7, 1);
    await b.close();
    await p;
    expect(flushed).toEqual([7]);
    expect(clock.pending()).toEqual([]);
    expect(() => b.add(8, 1)).toThrow(ClosedError);
  });
});
