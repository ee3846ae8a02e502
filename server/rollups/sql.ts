/**
 * The SQL of the rollup life cycle: what the job writes and what readers may take.
 *
 * The unit of work is an hour, w = its end in hours since the epoch, holding the samples of
 * (w - 1 h, w] (the same naming as buckets, so a 1 m or 1 h bucket lies in exactly one hour).
 * The job writes an hour's rollup_1m and rollup_1h rows under a fresh `gen` and then records
 * (w, gen) in rollup_windows; readers take rollup rows only of hours recorded there (with that
 * gen) and not marked in rollup_dirty since, and raw points for every other hour.
 */
import type { DoneHours, RollupHours } from '../store/rollup-hours.js';
import { join, param, raw, sql, type Sql } from '../store/sql.js';

export const HOUR_MS = 3_600_000;

/**
 * Raw points with each (series, ts) once: ReplacingMergeTree's FINAL, which ClickHouse 26
 * applies only to part ranges that intersect, so merged data reads at plain cost
 * (bench/dedup-reads.ts: merged 34 ms vs plain 75; 10 unmerged parts 145 vs 39; LIMIT 1 BY and
 * GROUP BY 4-18x plain, merged or not). Among copies of a sample it takes the newest written,
 * as merges do, so every read path and the job agree.
 */
export const POINTS = raw('points FINAL');

/** The hour (its end, in hours) a DateTime64 column's time falls in, as SQL. */
function hourOf(column: string): Sql {
  return raw(`toUInt32(intDiv(toUnixTimestamp64Milli(${column}) + ${HOUR_MS - 1}, ${HOUR_MS}))`);
}

/** The hour a unix-ms time falls in: (w - 1 h, w]. */
export function hourOfMs(ms: number): number {
  return Math.ceil(ms / HOUR_MS);
}

/**
 * Hours readers take from rollups: (w, gen), the newest record of each hour, unless a dirty
 * mark came after it. Small tables (one row per hour), read whole.
 */
function doneHoursSql(): Sql {
  // One pass over both tables, no join: a join's fixed cost was most of a small read's.
  return sql`SELECT w, argMax(gen, version) AS g FROM (
      SELECT w, gen, version, toUInt64(0) AS m, toUInt8(1) AS rec FROM rollup_windows
      UNION ALL
      SELECT w, toUInt64(0) AS gen, toUInt64(0) AS version, at AS m, toUInt8(0) AS rec FROM rollup_dirty
    ) GROUP BY w HAVING max(rec) = 1 AND max(m) <= max(version)`;
}

/**
 * A rollup table as the query engine reads it, restricted by `where` (on series_id and ts, within
 * (from, to]): the rows of done hours, plus every raw point of the other hours as a bucket of one
 * named by its own time (with windows aligned to buckets, a point counts in the same windows as
 * its bucket). Columns: series_id, ts, cnt, sum, min, max, first, last, drops.
 *
 * With `hours` (the done hours of the range, known in process: store/rollup-hours.ts) the done
 * hours and their gens are parameters and raw points are read only in the time ranges of the
 * other hours. Without, both come from rollup_windows and rollup_dirty in the statement.
 */
export function rollupSource(res: '1m' | '1h', where: Sql, from: number, to: number, hours?: DoneHours | null): Sql {
  const table = raw(res === '1m' ? 'rollup_1m' : 'rollup_1h');
  const rawRows = (filter: Sql) => sql`SELECT series_id, ts, toUInt64(1) AS cnt, value AS sum, value AS min, value AS max, (ts, value) AS first, (ts, value) AS last,
      initializeAggregation('deltaSumTimestampState', -value, toUnixTimestamp64Milli(ts)) AS drops
    FROM ${POINTS} WHERE ${where} AND ${filter}`;
  if (!hours) {
    const done = doneHoursSql();
    return sql`(SELECT series_id, ts, cnt, sum, min, max, first, last, drops FROM ${table}
      WHERE ${where} AND (${hourOf('ts')}, gen) IN (${done})
    UNION ALL
    ${rawRows(sql`${hourOf('ts')} NOT IN (SELECT w FROM (${done}))`)})`;
  }
  const parts: Sql[] = [];
  if (hours.w.length > 0) {
    // transform: a hash lookup per row; hours not done map to a gen no row has.
    parts.push(sql`SELECT series_id, ts, cnt, sum, min, max, first, last, drops FROM ${table}
      WHERE ${where} AND gen = transform(${hourOf('ts')}, ${param('Array(UInt32)', hours.w)}, ${param('Array(UInt64)', hours.gen)}, toUInt64(18446744073709551615))`);
  }
  // The open hours of [lo, hi] as time ranges (consecutive hours merged).
  const ranges: Sql[] = [];
  let k = 0;
  for (let h = hours.lo; h <= hours.hi; ) {
    while (k < hours.w.length && hours.w[k] < h) k++;
    if (k < hours.w.length && hours.w[k] === h) {
      h++;
      continue;
    }
    const start = h;
    while (h <= hours.hi && !(k < hours.w.length && hours.w[k] === h)) h++;
    ranges.push(sql`(ts > ${ms((start - 1) * HOUR_MS)} AND ts <= ${ms((h - 1) * HOUR_MS)})`);
  }
  if (ranges.length > 0) parts.push(rawRows(sql`(${join(ranges, ' OR ')})`));
  if (parts.length === 0) parts.push(rawRows(raw('0')));
  return sql`(${join(parts, '\nUNION ALL\n')})`;
}

/** The done hours of the range (from, to] a read covers, known in process; null when not. */
export function doneHoursOf(store: { rollupHours?: RollupHours }, from: number, to: number): DoneHours | null {
  return store.rollupHours?.between(hourOfMs(from + 1), hourOfMs(to)) ?? null;
}

function ms(v: number): Sql {
  return sql`fromUnixTimestamp64Milli(${param('Int64', Math.round(v))}, 'UTC')`;
}

/** The job's 1-minute buckets of hour w from deduplicated raw points, written under gen. */
export function rollup1mSql(w: number, gen: number): Sql {
  return sql`INSERT INTO rollup_1m (series_id, ts, cnt, sum, min, max, first, last, drops, gen)
    SELECT series_id, bucket, count(), sum(value), min(value), max(value),
      (min(t), argMin(value, t)), (max(t), argMax(value, t)),
      deltaSumTimestampState(-value, toUnixTimestamp64Milli(t)), ${param('UInt64', gen)}
    FROM (
      SELECT series_id, ts AS t, value,
        fromUnixTimestamp64Milli(intDiv(toUnixTimestamp64Milli(ts) + 59999, 60000) * 60000, 'UTC') AS bucket
      FROM ${POINTS} WHERE ts > ${ms((w - 1) * HOUR_MS)} AND ts <= ${ms(w * HOUR_MS)}
    )
    GROUP BY series_id, bucket`;
}

/** The job's 1-hour bucket of hour w, from the 1-minute rows it wrote under gen. */
export function rollup1hSql(w: number, gen: number): Sql {
  return sql`INSERT INTO rollup_1h (series_id, ts, cnt, sum, min, max, first, last, drops, gen)
    SELECT series_id, ${ms(w * HOUR_MS)}, sum(cnt), sum(sum), min(min), max(max),
      (min(first.1), argMin(first.2, first.1)), (max(last.1), argMax(last.2, last.1)),
      deltaSumTimestampMergeState(drops), ${param('UInt64', gen)}
    FROM rollup_1m WHERE ts > ${ms((w - 1) * HOUR_MS)} AND ts <= ${ms(w * HOUR_MS)} AND gen = ${param('UInt64', gen)}
    GROUP BY series_id`;
}

/**
 * What the job has to do, per hour recorded or marked: its newest version v, its newest dirty
 * mark m (0 when none), the gen g it is read at, and rec = 1 when it was ever recorded (v is 0 for the hours migration
 * 008 kept from the views, and for hours never recorded).
 */
export function ledgerSql(): Sql {
  return sql`SELECT w, max(v) AS v, max(m) AS m, max(rec) AS rec, max(g) AS g FROM (
      SELECT w, max(version) AS v, toUInt64(0) AS m, toUInt8(1) AS rec, argMax(gen, version) AS g FROM rollup_windows GROUP BY w
      UNION ALL
      SELECT w, toUInt64(0) AS v, max(at) AS m, toUInt8(0) AS rec, toUInt64(0) AS g FROM rollup_dirty GROUP BY w
    ) GROUP BY w`;
}

/** The gen hour w is read at. */
export function genOfSql(w: number): Sql {
  return sql`SELECT argMax(gen, version) AS g FROM rollup_windows WHERE w = ${param('UInt32', w)}`;
}

/** The hour of the oldest raw point (where a job starts on a database it never ran on), or null. */
export function oldestHourSql(): Sql {
  return sql`SELECT ${hourOf('min(ts)')} AS w, count() AS n FROM points`;
}
