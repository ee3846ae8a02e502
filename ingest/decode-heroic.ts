import { ISSUE, IssueList } from './validate.js';
import type { SeriesSamples, WriteBatch } from './types.js';

/**
 * Heroic's write body, already parsed (JSON.parse or msgpack): one object or an array of
 *   {"series": {"key": "cpu.usage", "tags": {"host": "a"}}, "data": {"type": "points", "data": [[ts, v], ...]}}
 *
 * The envelope is checked by hand rather than with zod: this runs once per series on the
 * ingest hot path (5,000 series per sparse body), where a schema walk per object costs more
 * than the rest of the request. Per-point rules live in validate.ts.
 */
export function decodeHeroic(body: unknown, issues: IssueList): WriteBatch {
  const items = Array.isArray(body) ? body : [body];
  const series: SeriesSamples[] = new Array(items.length);
  let points = 0;
  for (let s = 0; s < items.length; s++) {
    const item = items[s] as { series?: unknown; data?: unknown } | null;
    const empty: SeriesSamples = { key: '', tags: {}, timestamps: [], values: [] };
    series[s] = empty;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      issues.add({ code: ISSUE.SHAPE, series: s, message: 'each item must be an object with "series" and "data"' });
      continue;
    }
    const meta = item.series as { key?: unknown; tags?: unknown } | undefined;
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
      issues.add({ code: ISSUE.SHAPE, series: s, field: 'series', message: '"series" must be an object with "key" and "tags"' });
      continue;
    }
    const tags = meta.tags ?? {};
    if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) {
      issues.add({ code: ISSUE.SHAPE, series: s, field: 'series.tags', message: '"tags" must be an object of strings' });
      continue;
    }
    const data = item.data as { type?: unknown; data?: unknown } | undefined;
    if (typeof data !== 'object' || data === null || !Array.isArray(data.data)) {
      issues.add({ code: ISSUE.SHAPE, series: s, field: 'data', message: '"data" must be {"type": "points", "data": [[timestamp, value], ...]}' });
      continue;
    }
    if (data.type !== undefined && data.type !== 'points') {
      issues.add({
        code: ISSUE.SHAPE,
        series: s,
        field: 'data.type',
        message: `data type ${JSON.stringify(data.type)} is not supported; only "points"`,
      });
      continue;
    }
    const pairs = data.data as unknown[];
    const n = pairs.length;
    const timestamps = new Array<number>(n);
    const values = new Array<number>(n);
    for (let p = 0; p < n; p++) {
      const pair = pairs[p];
      if (!Array.isArray(pair) || pair.length !== 2) {
        issues.add({ code: ISSUE.SHAPE, series: s, point: p, field: 'data', message: 'a point must be [timestamp, value]' });
        timestamps[p] = 0;
        values[p] = 0;
        continue;
      }
      timestamps[p] = pair[0];
      values[p] = pair[1];
    }
    series[s] = { key: meta.key as string, tags: tags as Record<string, string>, timestamps, values };
    points += n;
  }
  return { series, points };
}
