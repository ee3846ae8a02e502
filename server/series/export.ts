import type { Matcher } from '../promql/selector.js';
import { POINTS } from '../rollups/sql.js';
import { param, sql, type Store } from '../store/index.js';
import { findSeries, labelsOf } from './lookup.js';

/** Series per query while exporting: bounds memory for large exports. */
const CHUNK = 500;

/**
 * Raw points of the matching series as JSON lines, one series per line, each (series, ts) once
 * however often a client sent it:
 *   {"metric": {...}, "values": [...], "timestamps": [...]}   (timestamps in unix ms)
 */
export async function* exportSeries(
  store: Store,
  selectors: readonly Matcher[][],
  range: { start?: number; end?: number },
): AsyncGenerator<string> {
  const series = await findSeries(store, selectors, range);
  const start = range.start ?? 0;
  const end = range.end ?? 8_000_000_000_000;
  for (let i = 0; i < series.length; i += CHUNK) {
    const chunk = series.slice(i, i + CHUNK);
    const byId = new Map(chunk.map((s) => [s.series_id, s]));
    const rows = await store.query<{ series_id: string; ts: string[]; v: number[] }>(sql`
      SELECT series_id, groupArray(toUnixTimestamp64Milli(ts)) AS ts, groupArray(value) AS v
      FROM (
        SELECT series_id, ts, value FROM ${POINTS}
        WHERE series_id IN ${param('Array(UInt64)', chunk.map((s) => BigInt(s.series_id)))}
          AND ts >= fromUnixTimestamp64Milli(${param('Int64', Math.floor(start))}, 'UTC')
          AND ts <= fromUnixTimestamp64Milli(${param('Int64', Math.ceil(end))}, 'UTC')
        ORDER BY series_id, ts
      )
      GROUP BY series_id`);
    for (const r of rows) {
      const s = byId.get(r.series_id);
      if (!s) continue;
      yield JSON.stringify({ metric: labelsOf(s), values: r.v, timestamps: r.ts.map(Number) }) + '\n';
    }
  }
}
