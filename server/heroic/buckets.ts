/**
 * Heroic's buckets (heroic-component BucketStrategy), stated once for the SQL and the TypeScript
 * stages. For a range (start, end], sampling size S and extent E:
 *
 * - end strategy (Heroic's default, feature com.spotify.heroic.end_bucket_stategy): floor((end -
 *   start) / S) buckets named T = start + S, start + 2S, ...; bucket T holds the points with
 *   T - E < t <= T. Named by its end, left-open, as Prometheus' range windows.
 * - start strategy: floor((end - start) / S) buckets named T = start, start + S, ...; bucket T
 *   holds T <= t < T + E.
 *
 * A point lands in every bucket whose window holds it (E > S: several, E < S: points between
 * windows land in none). Only points in the query range (start, end] are read, as Heroic's
 * backends fetch only the range: with E > S the first buckets see only the range's part.
 */
import { raw, sql, param, type Sql } from '../store/index.js';

export type BucketStrategy = 'end' | 'start';

export interface Buckets {
  strategy: BucketStrategy;
  start: number;
  size: number;
  extent: number;
  count: number;
}

/** The timestamp that names bucket i. */
export function bucketTime(b: Buckets, i: number): number {
  return b.start + b.size * (b.strategy === 'end' ? i + 1 : i);
}

/** The buckets [lo, hi) that hold a point at t. */
export function bucketSpan(b: Buckets, t: number): [number, number] {
  const adj = t - b.start;
  let lo: number;
  let hi: number;
  if (b.strategy === 'end') {
    lo = Math.ceil(adj / b.size) - 1;
    hi = Math.ceil((adj + b.extent) / b.size) - 1;
  } else {
    lo = Math.floor((adj - b.extent) / b.size) + 1;
    hi = Math.floor(adj / b.size) + 1;
  }
  return [Math.max(0, lo), Math.min(b.count, hi)];
}

/**
 * With extent = size every point lands in at most one bucket: its index in SQL over `points.ts`
 * (out of [0, count) when it lands in none). Spares an array per row: the common case.
 */
export function bucketIndexSql(b: Buckets): Sql {
  const adj = sql`(toUnixTimestamp64Milli(ts) - ${param('Int64', b.start)})`;
  const S = param('Int64', b.size);
  return b.strategy === 'end' ? sql`(toInt64(ceil(${adj} / ${S})) - 1)` : sql`toInt64(floor(${adj} / ${S}))`;
}

/** The same span in SQL over `points.ts`, as an array of bucket indices (for ARRAY JOIN). */
export function bucketSpanSql(b: Buckets): Sql {
  const adj = sql`(toUnixTimestamp64Milli(ts) - ${param('Int64', b.start)})`;
  const S = param('Int64', b.size);
  const E = param('Int64', b.extent);
  const count = param('Int64', b.count);
  const [lo, hi] =
    b.strategy === 'end'
      ? [sql`toInt64(ceil(${adj} / ${S})) - 1`, sql`toInt64(ceil((${adj} + ${E}) / ${S})) - 1`]
      : [sql`toInt64(floor((${adj} - ${E}) / ${S})) + 1`, sql`toInt64(floor(${adj} / ${S})) + 1`];
  const l = sql`greatest(toInt64(0), ${lo})`;
  const h = sql`least(${count}, ${hi})`;
  return sql`range(toUInt64(${l}), toUInt64(greatest(${l}, ${h})))${raw('')}`;
}
