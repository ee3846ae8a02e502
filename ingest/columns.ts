import { seriesIdInto } from './series-id.js';
import type { PointColumns, WriteBatch } from './types.js';

/** The columns of one request plus the ids of its series, computed once per series. */
export interface PreparedBatch {
  columns: PointColumns;
  /** Per series of the batch, the [hi, lo] words of its id at [2s, 2s+1]. */
  ids: Uint32Array;
}

/** Columnar points of a validated batch: one pass, no per-point allocation; ids from the series' memo when it has one. */
export function toColumns(batch: WriteBatch): PreparedBatch {
  const n = batch.points;
  const seriesId = new BigInt64Array(n);
  // Write the 64-bit ids as two 32-bit words (little-endian: low word first) to avoid BigInts.
  const words = new Int32Array(seriesId.buffer);
  const ts = new Float64Array(n);
  const value = new Float64Array(n);
  const ids = new Uint32Array(batch.series.length * 2);
  let o = 0;
  for (let s = 0; s < batch.series.length; s++) {
    const { key, tags, timestamps, values, memo } = batch.series[s];
    let hi: number;
    let lo: number;
    if (memo?.idSet) {
      hi = ids[2 * s] = memo.hi;
      lo = ids[2 * s + 1] = memo.lo;
    } else {
      seriesIdInto(key, tags, ids, 2 * s);
      hi = ids[2 * s];
      lo = ids[2 * s + 1];
      if (memo) {
        memo.hi = hi;
        memo.lo = lo;
        memo.idSet = true;
      }
    }
    const m = timestamps.length;
    for (let p = 0; p < m; p++, o++) {
      words[2 * o] = lo;
      words[2 * o + 1] = hi;
      ts[o] = timestamps[p];
      value[o] = values[p];
    }
  }
  return { columns: { length: o, seriesId, ts, value }, ids };
}

/** One set of columns from many (the group commit). */
export function concatColumns(parts: readonly PointColumns[]): PointColumns {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out: PointColumns = {
    length: n,
    seriesId: new BigInt64Array(n),
    ts: new Float64Array(n),
    value: new Float64Array(n),
  };
  let o = 0;
  for (const p of parts) {
    out.seriesId.set(p.seriesId.subarray(0, p.length), o);
    out.ts.set(p.ts.subarray(0, p.length), o);
    out.value.set(p.value.subarray(0, p.length), o);
    o += p.length;
  }
  return out;
}

