import { describe, expect, it } from 'vitest';
import { heapSelect } from './aggregate.js';
import type { StepSeries } from './matrix.js';

/** One-step series named by `i`, in the given (input) order. */
const series = (values: Record<string, number>): StepSeries[] =>
  Object.entries(values).map(([i, v]) => ({ labels: { i }, v: Float64Array.of(v), has: Uint8Array.of(1) }));
const names = (s: StepSeries[]) => s.map((x) => x.labels.i).sort();

describe('topk and bottomk selection', () => {
  it('keeps the series Prometheus keeps among equal values, not the first in input order', () => {
    // Prometheus' heap holds a and b (root a); c evicts the root, and b then sifts up to the
    // root: {b, c} stay. A stable sort by value would keep {a, c}.
    expect(names(heapSelect(series({ a: 1, b: 1, c: 2 }), 2, 0, true))).toEqual(['b', 'c']);
    expect(names(heapSelect(series({ a: 2, b: 2, c: 1 }), 2, 0, false))).toEqual(['b', 'c']);
  });

  it('never replaces a kept series by an equal value', () => {
    expect(names(heapSelect(series({ a: 5, b: 5, c: 5, d: 5 }), 2, 0, true))).toEqual(['a', 'b']);
    expect(names(heapSelect(series({ a: 5, b: 5, c: 5, d: 5 }), 1, 0, false))).toEqual(['a']);
  });

  it('ranks NaN below every number for both', () => {
    expect(names(heapSelect(series({ a: NaN, b: -Infinity, c: NaN }), 1, 0, true))).toEqual(['b']);
    expect(names(heapSelect(series({ a: NaN, b: Infinity, c: NaN }), 1, 0, false))).toEqual(['b']);
    expect(names(heapSelect(series({ a: NaN, b: 3 }), 3, 0, true))).toEqual(['a', 'b']);
  });

  it('selects the k largest or smallest values', () => {
    const v = { a: 4, b: 9, c: 1, d: 7, e: 3, f: 8 };
    expect(names(heapSelect(series(v), 3, 0, true))).toEqual(['b', 'd', 'f']);
    expect(names(heapSelect(series(v), 3, 0, false))).toEqual(['a', 'c', 'e']);
  });
});
