import type { Columns } from './columns.js';

/**
 * Stack the visible series: each becomes the running sum of itself and the visible series
 * before it. A gap adds nothing to the sum but stays a gap in its own series. Hidden series are
 * passed through unchanged (they are not drawn).
 */
export function stackColumns(data: Columns, visible: readonly boolean[]): Columns {
  const [xs, ...ys] = data;
  const acc = new Array<number>(xs.length).fill(0);
  const out: (number | null)[][] = ys.map((col, s) => {
    if (visible[s] === false) return col;
    const res = new Array<number | null>(col.length);
    for (let i = 0; i < col.length; i++) {
      const v = col[i];
      if (v === null) res[i] = null;
      else {
        acc[i] += v;
        res[i] = acc[i];
      }
    }
    return res;
  });
  return [xs, ...out];
}
