import { describe, expect, it } from 'vitest';
import { bucketsToHeatmap } from './heatmap.js';

describe('bucketsToHeatmap', () => {
  it('turns cumulative buckets into per-bucket counts, in le order, with gaps kept', () => {
    const h = bucketsToHeatmap([
      { metric: { le: '+Inf' }, values: [[10, '10'], [20, '12']] },
      { metric: { le: '0.1' }, values: [[10, '4'], [20, '6']] },
      { metric: { le: '0.5' }, values: [[10, '9']] },
      { metric: { le: '0.5' }, values: [[20, '11']] },
      { metric: { le: 'abc' }, values: [[10, '1']] },
    ]);
    expect(h.bounds).toEqual([0.1, 0.5, Infinity]);
    expect(h.times).toEqual([10, 20]);
    expect(h.counts).toEqual([
      [4, 6],
      [5, 5],
      [1, 1],
    ]);
    expect(h.max).toBe(6);
  });

  it('never draws a negative count when buckets are momentarily out of order', () => {
    const h = bucketsToHeatmap([
      { metric: { le: '1' }, values: [[10, '5']] },
      { metric: { le: '2' }, values: [[10, '4']] },
    ]);
    expect(h.counts).toEqual([[5], [0]]);
  });
});
