import { describe, expect, it } from 'vitest';
import { BackpressureError, Batcher, ClosedError } from './batcher.js';

const opts = { maxPoints: 100, flushMs: 20, maxBuffered: 1000, retries: 2, retryDelayMs: 1 };

describe('Batcher', () => {
  it('merges items from concurrent adds into one flush', async () => {
    const flushes: number[][] = [];
    const b = new Batcher<number>(async (items) => void flushes.push(items), opts);
    await Promise.all([b.add(1, 10), b.add(2, 10), b.add(3, 10)]);
    expect(flushes).toEqual([[1, 2, 3]]);
  });

  it('flushes as soon as maxPoints are waiting, without waiting for the timer', async () => {
    const flushes: number[][] = [];
    const b = new Batcher<number>(async (items) => void flushes.push(items), { ...opts, flushMs: 60_000 });
    await b.add(1, 100);
    expect(flushes).toEqual([[1]]);
  });

  it('flushes after flushMs when fewer than maxPoints are waiting', async () => {
    const flushes: number[][] = [];
    const b = new Batcher<number>(async (items) => void flushes.push(items), { ...opts, flushMs: 30 });
    const t0 = performance.now();
    await b.add(1, 1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    expect(flushes).toEqual([[1]]);
  });

  it('when eager, flushes once every announced writer has added or given up, without the timer', async () => {
    const flushes: number[][] = [];
    const b = new Batcher<number>(async (items) => void flushes.push(items), { ...opts, flushMs: 60_000, eager: true });
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

  it('when eager, still waits at most flushMs for a writer that never comes', async () => {
    const flushes: number[][] = [];
    const b = new Batcher<number>(async (items) => void flushes.push(items), { ...opts, flushMs: 30, eager: true });
    b.expect();
    const t0 = performance.now();
    await b.add(1, 1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    expect(flushes).toEqual([[1]]);
  });

  it('retries a failed flush with the same token, then resolves', async () => {
    const tokens: string[] = [];
    const b = new Batcher<number>(async (_items, token) => {
      tokens.push(token);
      if (tokens.length < 3) throw new Error('transient');
    }, opts);
    await b.add(1, 1);
    expect(tokens).toHaveLength(3);
    expect(new Set(tokens).size).toBe(1);
  });

  it('rejects every writer of a flush that keeps failing', async () => {
    const b = new Batcher<number>(async () => {
      throw new Error('store down');
    }, opts);
    const results = await Promise.allSettled([b.add(1, 1), b.add(2, 1)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('refuses items beyond maxBuffered with BackpressureError and accepts again once flushed', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new Batcher<number>(() => gate, { ...opts, maxPoints: 10_000, maxBuffered: 100, flushMs: 1 });
    const first = b.add(1, 80);
    expect(b.buffered).toBe(80);
    expect(() => b.add(2, 30)).toThrow(BackpressureError);
    release();
    await first;
    expect(b.buffered).toBe(0);
    await b.add(3, 30);
  });

  it('uses distinct tokens for distinct flushes', async () => {
    const tokens: string[] = [];
    const b = new Batcher<number>(async (_i, t) => void tokens.push(t), { ...opts, maxPoints: 1 });
    await b.add(1, 1);
    await b.add(2, 1);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).not.toBe(tokens[1]);
  });

  it('commits what was accepted on close and refuses new items after', async () => {
    const flushed: number[] = [];
    const b = new Batcher<number>(async (items) => void flushed.push(...items), { ...opts, flushMs: 60_000 });
    const p = b.add(7, 1);
    await b.close();
    await p;
    expect(flushed).toEqual([7]);
    expect(() => b.add(8, 1)).toThrow(ClosedError);
  });
});
