import { describe, expect, it } from 'vitest';
import { stackColumns } from './stack.js';

describe('stackColumns', () => {
  it('accumulates visible series and keeps gaps as gaps', () => {
    expect(stackColumns([[1, 2, 3], [1, 1, 1], [2, null, 2], [3, 3, 3]], [true, true, true])).toEqual([
      [1, 2, 3],
      [1, 1, 1],
      [3, null, 3],
      [6, 4, 6],
    ]);
  });

  it('leaves hidden series out of the sums', () => {
    expect(stackColumns([[1], [1], [10], [100]], [true, false, true])).toEqual([[1], [1], [10], [101]]);
  });
});
