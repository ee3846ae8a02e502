import { describe, expect, it } from 'vitest';
import { bucketSpan, bucketTime, type Buckets } from './buckets.js';
import { cadenceFromRange, shiftedRange } from './query.js';

const SEED = Number(process.env.HEROIC_TEST_SEED ?? 7);
function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
}

/** Which buckets hold t, by the definition: end (T - E, T], start [T, T + E). */
function brute(b: Buckets, t: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < b.count; i++) {
    const T = bucketTime(b, i);
    if (b.strategy === 'end' ? T - b.extent < t && t <= T : T <= t && t < T + b.extent) out.push(i);
  }
  return out;
}

describe('bucket spans', () => {
  it(`agree with the bucket definition for random sizes, extents and times (seed ${SEED})`, () => {
    const r = rng(SEED);
    let hits = 0;
    for (let n = 0; n < 3000; n++) {
      const size = 1 + r(50);
      const b: Buckets = { strategy: n % 2 ? 'end' : 'start', start: 1000 + r(100), size, extent: 1 + r(4 * size), count: 1 + r(20) };
      const t = b.start - 5 * size + r(30 * size);
      const [lo, hi] = bucketSpan(b, t);
      const want = brute(b, t);
      const got = hi > lo ? Array.from({ length: hi - lo }, (_, i) => lo + i) : [];
      expect(got, JSON.stringify({ b, t })).toEqual(want);
      hits += want.length;
    }
    expect(hits).toBeGreaterThan(1000);
  });

  it('names end buckets by their end and start buckets by their start', () => {
    const b: Buckets = { strategy: 'end', start: 0, size: 60, extent: 60, count: 3 };
    expect([0, 1, 2].map((i) => bucketTime(b, i))).toEqual([60, 120, 180]);
    expect(bucketSpan(b, 60)).toEqual([0, 1]);
    expect(bucketSpan(b, 0)).toEqual([0, 0]);
    const s: Buckets = { ...b, strategy: 'start' };
    expect([0, 1, 2].map((i) => bucketTime(s, i))).toEqual([0, 60, 120]);
    expect(bucketSpan(s, 60)).toEqual([1, 2]);
  });
});

describe('range preparation (CoreQueryManager)', () => {
  it('picks the largest interval factor below range / 240', () => {
    expect(cadenceFromRange(3_600_000)).toBe(10_000); // 15 s nominal
    expect(cadenceFromRange(86_400_000)).toBe(300_000); // 6 min nominal
    expect(cadenceFromRange(7 * 86_400_000)).toBe(1_800_000); // 42 min nominal
    expect(cadenceFromRange(100)).toBe(1); // below every factor
  });

  it('rounds to the cadence and moves a range ending near now back by whole cadences', () => {
    const now = 9_965_000; // 5 s after a minute: the rounded end is within the 10 s tolerance
    expect(shiftedRange({ start: 6_400_123, end: now }, 60_000, now, 'range')).toEqual({ start: 6_300_000, end: 9_900_000 });
    const past = shiftedRange({ start: 1_000_123, end: 2_000_456 }, 60_000, now, 'range');
    expect(past).toEqual({ start: 960_000, end: 1_980_000 });
    expect(() => shiftedRange({ start: now + 1, end: now + 2 }, 60_000, now, 'range')).toThrow(/after now/);
  });
});
