import { DecodeBudget, NO_DECODE_LIMITS, type DecodeLimits } from './decode-limits.js';
import type { WriteIssueCode } from './issues.js';
import { IssueList } from './validate.js';
import type { SeriesSamples, WriteBatch } from './types.js';

/**
 * Heroic's write body, already parsed (JSON.parse or msgpack): one object or an array of
 *   {"series": {"key": "cpu.usage", "tags": {"host": "a"}}, "data": {"type": "points", "data": [[ts, v], ...]}}
 *
 * The envelope is checked by hand rather than with zod: this runs once per series on the
 * ingest hot path (5,000 series per sparse body), where a schema walk per object costs more
 * than the rest of the request. Per-point rules live in validate.ts.
 *
 * The body is already parsed (JSON.parse, msgpack), so `limits` are checked before this
 * function copies anything: the item count before the series array, each item's point count
 * and tag count before its arrays. msgpack int64/uint64 numbers arrive as BigInt: converted
 * exactly when within +-2^53, an issue otherwise.
 */
export function decodeHeroic(body: unknown, issues: IssueList, limits: DecodeLimits = NO_DECODE_LIMITS): WriteBatch {
  const items = Array.isArray(body) ? body : [body];
  const budget = new DecodeBudget(limits);
  budget.addSeries(items.length, `[${items.length - 1}]`);
  const series: SeriesSamples[] = new Array(items.length);
  let points = 0;
  for (let s = 0; s < items.length; s++) {
    const item = items[s] as { series?: unknown; data?: unknown } | null;
    const empty: SeriesSamples = { key: '', tags: {}, timestamps: [], values: [], memo: undefined };
    series[s] = empty;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      issues.add({ code: 'MTR_WRITE_SHAPE', series: s, message: 'each item must be an object with "series" and "data"' });
      continue;
    }
    const meta = item.series as { key?: unknown; tags?: unknown } | undefined;
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
      issues.add({ code: 'MTR_WRITE_SHAPE', series: s, field: 'series', message: '"series" must be an object with "key" and "tags"' });
      continue;
    }
    const tags = meta.tags ?? {};
    if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) {
      issues.add({ code: 'MTR_WRITE_SHAPE', series: s, field: 'series.tags', message: '"tags" must be an object of strings' });
      continue;
    }
    const data = item.data as { type?: unknown; data?: unknown } | undefined;
    if (typeof data !== 'object' || data === null || !Array.isArray(data.data)) {
      issues.add({ code: 'MTR_WRITE_SHAPE', series: s, field: 'data', message: '"data" must be {"type": "points", "data": [[timestamp, value], ...]}' });
      continue;
    }
    if (data.type !== undefined && data.type !== 'points') {
      issues.add({
        code: 'MTR_WRITE_SHAPE',
        series: s,
        field: 'data.type',
        message: `data type ${JSON.stringify(data.type)} is not supported; only "points"`,
      });
      continue;
    }
    const pairs = data.data as unknown[];
    const n = pairs.length;
    budget.addSamples(n, `[${s}].data.data`);
    let tagCount = 1;
    for (const _ in tags) if (++tagCount > limits.maxLabels) budget.labels(tagCount, `[${s}].series.tags`);
    const timestamps = new Array<number>(n);
    const values = new Array<number>(n);
    for (let p = 0; p < n; p++) {
      const pair = pairs[p];
      if (!Array.isArray(pair) || pair.length !== 2) {
        issues.add({ code: 'MTR_WRITE_SHAPE', series: s, point: p, field: 'data', message: 'a point must be [timestamp, value]' });
        timestamps[p] = 0;
        values[p] = 0;
        continue;
      }
      const t: unknown = pair[0];
      const v: unknown = pair[1];
      if (typeof t === 'bigint' || typeof v === 'bigint') {
        const exact = (x: bigint, field: string, code: WriteIssueCode) => {
          if (x >= -MAX_EXACT && x <= MAX_EXACT) return Number(x);
          issues.add({ code, series: s, point: p, field, message: `${field} ${x} is a 64-bit integer beyond +-2^53, which a double cannot hold exactly` });
          // A placeholder validation accepts, so the point's one issue is this one (the request is refused anyway).
          return field === 'timestamp' ? Date.now() : 0;
        };
        timestamps[p] = typeof t === 'bigint' ? exact(t, 'timestamp', 'MTR_WRITE_TIMESTAMP_RANGE') : (t as number);
        values[p] = typeof v === 'bigint' ? exact(v, 'value', 'MTR_WRITE_VALUE_TYPE') : (v as number);
        continue;
      }
      timestamps[p] = t as number;
      values[p] = v as number;
    }
    series[s] = { key: meta.key as string, tags: tags as Record<string, string>, timestamps, values, memo: undefined };
    points += n;
  }
  return { series, points };
}

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);
