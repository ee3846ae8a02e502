import { describe, expect, it } from 'vitest';
import { anchoredCount, checkModifier, extendedRate, extendWindow, smoothedValue } from './extended.js';

const span = (t: number[], v: number[]) => ({ t, v, lo: 0, hi: t.length });

describe('anchored and smoothed windows', () => {
  const counter = span([0, 15_000, 30_000, 45_000, 60_000], [1, 2, 3, 4, 5]);

  it('anchored increase runs from the last sample at or before the window to the last inside it', () => {
    // An anchored window's samples end at its end (the evaluator bounds them).
    const upTo50s = { ...counter, hi: 4 };
    expect(extendedRate(upTo50s, -10_000, 50_000, 60, false, true, false)).toBe(3);
    expect(extendedRate(upTo50s, 15_000, 50_000, 60, false, true, false)).toBe(2);
  });

  it('smoothed increase interpolates the window edge between the samples around it', () => {
    expect(extendedRate(counter, -10_000, 50_000, 60, true, true, false)).toBeCloseTo(4 + 1 / 3 - 1, 12);
    expect(extendedRate(counter, -10_000, 50_000, 60, true, true, true)).toBeCloseTo((3 + 1 / 3) / 60, 12);
  });

  it('counts a counter drop at a smoothed edge from zero', () => {
    expect(extendedRate(span([0, 10_000, 20_000], [10, 2, 4]), 5_000, 15_000, 10, true, true, false)).toBe(2);
    // As a gauge (delta) the same edge is a plain interpolation: 6 -> 3.
    expect(extendedRate(span([0, 10_000, 20_000], [10, 2, 4]), 5_000, 15_000, 10, true, false, false)).toBe(-3);
  });

  it('gives nothing when no sample lies inside the window', () => {
    expect(extendedRate(counter, 60_000, 70_000, 10, false, true, false)).toBeUndefined();
    expect(anchoredCount(counter, 60_000, false)).toBeUndefined();
  });

  it('anchored changes and resets start from the anchor sample', () => {
    const s = span([0, 10_000, 20_000, 30_000], [1, 1, 2, 0]);
    expect(anchoredCount(s, 10_000, false)).toBe(2);
    expect(anchoredCount(s, 10_000, true)).toBe(1);
    expect(anchoredCount(s, 5_000, false)).toBe(2);
  });

  it('a bare smoothed range selector returns the interpolated edges around the window samples', () => {
    expect(extendWindow(counter, 10_000, 50_000, true)).toEqual({ t: [10_000, 15_000, 30_000, 45_000, 50_000], v: [1 + 10 / 15, 2, 3, 4, 4 + 1 / 3] });
  });

  it('a smoothed instant vector interpolates, takes an exact sample, or carries the last one forward', () => {
    const s = span([0, 10_000], [0, 10]);
    expect(smoothedValue(s, 2_500)).toBe(2.5);
    expect(smoothedValue(s, 10_000)).toBe(10);
    expect(smoothedValue(s, 15_000)).toBe(10);
    expect(smoothedValue(s, -1)).toBeUndefined();
  });

  it('refuses a function the modifier does not support, listing those it does', () => {
    expect(() => checkModifier('sum_over_time', 'anchored')).toThrow('anchored modifier can only be used with: changes, delta, increase, rate, resets - not with sum_over_time');
    expect(() => checkModifier('changes', 'smoothed')).toThrow('smoothed modifier can only be used with: delta, increase, rate - not with changes');
    expect(() => checkModifier('rate', 'smoothed')).not.toThrow();
  });
});
