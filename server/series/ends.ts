import type { StaleMark } from '../../ingest/decode-remote-write.js';
import { seriesId } from '../../ingest/series-id.js';
import { chTime, type Store } from '../store/store.js';

/**
 * Record where series ended (staleness markers) in series_ends. Markers are rare (a target or
 * series disappearing), so they are written directly rather than through the batcher.
 */
export async function recordSeriesEnds(store: Store, marks: readonly StaleMark[]): Promise<number> {
  if (marks.length === 0) return 0;
  const rows = marks.map((m) => ({ series_id: seriesId(m.key, m.tags), ts: chTime(m.ts) }));
  await store.insertRows('series_ends', rows);
  return rows.length;
}
