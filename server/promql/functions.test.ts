import { describe, expect, it } from 'vitest';
import { formatValue } from './format.js';
import { FUNCTIONS } from './function-table.js';
import { bucketQuantile, quantile, type Window } from './functions.js';

/** A window over samples [t seconds, v] ending at `end` seconds with a `range` in seconds. */
function win(samples: [number, number][], end: number, range: number): Window {
  return {
    t: samples.map(([t]) => t * 1000),
    v: samples.map(([, v]) => v),
    lo: 0,
    hi: samples.length,
    rangeStart: (end - range) * 1000,
    rangeEnd: end * 1000,
    evalT: end * 1000,
  };
}

describe('range functions (the TypeScript path for subqueries)', () => {
  it('rate extrapolates to both window edges when samples are close to them', () => {
    // 100..140 over 40 s, 5 s to each edge (< 1.1 x 10 s spacing) -> 40 * 50/40 over 50 s.
    const w = win([[5, 100], [15, 110], [25, 120], [35, 130], [45, 140]], 50, 50);
    expect(FUNCTIONS.rate.range(w, NaN, 0)).toBeCloseTo(1, 12);
    // A counter starting at 0 is not extrapolated below zero: 40 + 0 + 5 s.
    const fromZero = win([[5, 0], [15, 10], [25, 20], [35, 30], [45, 40]], 50, 50);
    expect(FUNCTIONS.increase.range(fromZero, NaN, 0)).toBeCloseTo(45, 12);
  });

  it('rate extrapolates half a spacing when the series starts or stops far from an edge', () => {
    // Samples 100..130 at 20..50 s in a 100 s window: start 20 s away (> 11 s) -> 5 s.
    const w = win([[20, 100], [30, 110], [40, 120], [50, 130]], 100, 100);
    // increase 30 over 30 s; extrapolated to 30 + 5 + 5 = 40 s.
    expect(FUNCTIONS.increase.range(w, NaN, 0)).toBeCloseTo(40, 12);
  });

  it('treats a decrease as a counter reset', () => {
    const w = win([[10, 5], [20, 8], [30, 2], [40, 6]], 40, 30);
    // 6 - 5 + 8 = 9 over 30 s; first sample exactly at... 30 s window (10, 40]: start 0 s away.
    expect(FUNCTIONS.increase.range(w, NaN, 0)).toBeCloseTo(9, 12);
    expect(FUNCTIONS.resets.range(w, NaN, 0)).toBe(1);
  });

  it('irate uses the last two samples and handles a reset', () => {
    expect(FUNCTIONS.irate.range(win([[10, 5], [20, 8], [30, 2]], 30, 30), NaN, 0)).toBeCloseTo(0.2, 12);
    expect(FUNCTIONS.idelta.range(win([[10, 5], [20, 8], [30, 2]], 30, 30), NaN, 0)).toBe(-6);
  });

  it('needs two samples for rate, delta, deriv', () => {
    const one = win([[10, 5]], 30, 30);
    expect(FUNCTIONS.rate.range(one, NaN, 0)).toBeUndefined();
    expect(FUNCTIONS.delta.range(one, NaN, 0)).toBeUndefined();
    expect(FUNCTIONS.deriv.range(one, NaN, 0)).toBeUndefined();
    expect(FUNCTIONS.count_over_time.range(one, NaN, 0)).toBe(1);
  });

  it('deriv and predict_linear fit a least-squares line', () => {
    const w = win([[0, 1], [10, 3], [20, 5]], 20, 30);
    expect(FUNCTIONS.deriv.range(w, NaN, 0)).toBeCloseTo(0.2, 12);
    // y = 1 + 0.2 x; at 20 + 10 s: 7.
    expect(FUNCTIONS.predict_linear.range(w, 10, 0)).toBeCloseTo(7, 12);
  });

  it('computes *_over_time with Prometheus NaN rules', () => {
    const w = win([[1, NaN], [2, 3], [3, 1]], 3, 3);
    expect(FUNCTIONS.max_over_time.range(w, NaN, 0)).toBe(3);
    expect(FUNCTIONS.min_over_time.range(w, NaN, 0)).toBe(1);
    expect(FUNCTIONS.sum_over_time.range(w, NaN, 0)).toBeNaN();
    expect(FUNCTIONS.changes.range(w, NaN, 0)).toBe(2);
  });
});

describe('quantile', () => {
  it('interpolates between ranks and clamps phi outside [0, 1]', () => {
    expect(quantile(0.5, [1, 2, 3, 4])).toBe(2.5);
    expect(quantile(0, [3, 1])).toBe(1);
    expect(quantile(1.5, [1])).toBe(Infinity);
    expect(quantile(-1, [1])).toBe(-Infinity);
    expect(quantile(0.5, [])).toBeNaN();
  });
});

describe('bucketQuantile', () => {
  const b = (pairs: [number, number][]) => pairs.map(([upper, count]) => ({ upper, count }));

  it('interpolates linearly inside the bucket', () => {
    expect(bucketQuantile(0.5, b([[1, 10], [2, 20], [Infinity, 20]]))).toBe(1);
    expect(bucketQuantile(0.75, b([[1, 10], [2, 20], [Infinity, 20]]))).toBe(1.5);
  });

  it('fixes non-monotonic counts and merges duplicate bounds', () => {
    // Counts 10, 8, 15, 20 are read as 10, 10, 15, 20: rank 12 is 2/5 into (2, 3].
    expect(bucketQuantile(0.6, b([[1, 10], [2, 8], [3, 15], [Infinity, 20]]))).toBeCloseTo(2.4, 12);
    expect(bucketQuantile(0.5, b([[1, 5], [1, 5], [Infinity, 20]]))).toBe(1);
  });

  it('reads bucket counts that differ only by float noise as equal', () => {
    // Exactly 1/6 in both lower buckets is 0.1; the same data with rates off by an ulp either
    // way (one bucket's count just below the rank, the next just above) must not land in (0.1, 0.5].
    const sixth = 1 / 6;
    const below = sixth - 2 ** -55;
    const above = sixth + 2 ** -55;
    expect(below).not.toBe(sixth);
    expect(bucketQuantile(0.5, b([[0.1, sixth], [0.5, sixth], [1, 2 * sixth], [Infinity, 2 * sixth]]))).toBe(0.1);
    expect(bucketQuantile(0.5, b([[0.1, below], [0.5, above], [1, 2 * sixth], [Infinity, 2 * sixth]]))).toBeCloseTo(0.1, 12);
    // A real difference still counts.
    expect(bucketQuantile(0.5, b([[0.1, sixth * 0.999], [0.5, sixth], [1, 2 * sixth], [Infinity, 2 * sixth]]))).toBeGreaterThan(0.1);
  });

  it('gives NaN without observations or without a +Inf bucket', () => {
    expect(bucketQuantile(0.5, b([[1, 0], [Infinity, 0]]))).toBeNaN();
    expect(bucketQuantile(0.5, b([[1, 3]]))).toBeNaN();
  });
});

describe('formatValue', () => {
  it('prints floats as Go does with the shortest digits and no exponent', () => {
    expect(formatValue(1.5)).toBe('1.5');
    expect(formatValue(1e21)).toBe('1000000000000000000000');
    expect(formatValue(1.5e-7)).toBe('0.00000015');
    expect(formatValue(-2.5e-10)).toBe('-0.00000000025');
    expect(formatValue(NaN)).toBe('NaN');
    expect(formatValue(-Infinity)).toBe('-Inf');
  });
});
