import type { Matcher } from '../promql/selector.js';
import { join, param, raw, sql, type Sql, type Store } from '../store/index.js';

/**
 * Series selection: label matchers become a WHERE clause over the series table. Every value
 * is a bound parameter. A missing label reads as '' (Map default), which is Prometheus'
 * semantics for absent labels. Regexes are fully anchored, as in PromQL.
 */
function matcherSql(m: Matcher): Sql {
  const col = m.name === '__name__' ? raw('key') : sql`tags[${param('String', m.name)}]`;
  switch (m.op) {
    case '=':
      return sql`${col} = ${param('String', m.value)}`;
    case '!=':
      return sql`${col} != ${param('String', m.value)}`;
    case '=~':
      return sql`match(${col}, ${param('String', `^(?:${m.value})$`)})`;
    case '!~':
      return sql`NOT match(${col}, ${param('String', `^(?:${m.value})$`)})`;
  }
}

/**
 * The series index's contract with the writer (server/writer.ts): a series row's last_seen is
 * re-recorded, in data time, whenever a flush holds a sample more than this past the recorded
 * value (and first_seen whenever one comes before it). So a series' newest sample is at most
 * this much after its newest last_seen, and time filters pad the start of a range by exactly
 * this. Prometheus' lookback: one re-record per series per 5 minutes of data.
 */
export const LAST_SEEN_MARGIN_MS = 300_000;

/** WHERE body for a set of selectors (OR of ANDs), plus an optional time overlap. */
export function seriesWhere(selectors: readonly Matcher[][], range?: { start?: number; end?: number }): Sql {
  const ors = selectors.map((ms) => (ms.length ? sql`(${join(ms.map(matcherSql), ' AND ')})` : raw('1')));
  const parts: Sql[] = [ors.length ? sql`(${join(ors, ' OR ')})` : raw('1')];
  if (range?.start !== undefined) {
    parts.push(sql`last_seen >= fromUnixTimestamp64Milli(${param('Int64', Math.floor(range.start - LAST_SEEN_MARGIN_MS))}, 'UTC')`);
  }
  if (range?.end !== undefined) parts.push(sql`first_seen <= fromUnixTimestamp64Milli(${param('Int64', Math.ceil(range.end))}, 'UTC')`);
  return join(parts, ' AND ');
}

export interface SeriesRow {
  series_id: string;
  key: string;
  tags: Record<string, string>;
}

/** The labels of a series as Prometheus shows them: __name__ first, then the tags. */
export function labelsOf(row: { key: string; tags: Record<string, string> }): Record<string, string> {
  return { __name__: row.key, ...row.tags };
}

/** Series matching any of the selectors (seen in the range, when given). */
export async function findSeries(
  store: Store,
  selectors: readonly Matcher[][],
  opts: { start?: number; end?: number; limit?: number; signal?: AbortSignal } = {},
): Promise<SeriesRow[]> {
  const limit = opts.limit ? sql` LIMIT ${param('UInt64', opts.limit)}` : raw('');
  return store.query<SeriesRow>(
    sql`SELECT series_id, key, tags FROM series
        WHERE ${seriesWhere(selectors, opts)}
        ORDER BY key, series_id LIMIT 1 BY key, series_id${limit}`,
    { signal: opts.signal },
  );
}

/** Label names present on series matching the selectors (all series when none are given). */
export async function labelNames(
  store: Store,
  selectors: readonly Matcher[][],
  range?: { start?: number; end?: number },
  limit?: number,
): Promise<string[]> {
  const rows = await store.query<{ name: string }>(
    sql`SELECT DISTINCT arrayJoin(mapKeys(tags)) AS name FROM series WHERE ${seriesWhere(selectors, range)} ORDER BY name`,
  );
  const any = await store.query<{ n: string }>(sql`SELECT count() AS n FROM (SELECT 1 FROM series WHERE ${seriesWhere(selectors, range)} LIMIT 1)`);
  const names = rows.map((r) => r.name).filter((n) => n !== '__name__');
  // __name__ exists exactly when some series matches.
  const all = (Number(any[0]?.n ?? 0) > 0 ? ['__name__', ...names] : names).sort();
  return limit ? all.slice(0, limit + 1) : all;
}

/** Values of one label across series matching the selectors. */
export async function labelValues(
  store: Store,
  name: string,
  selectors: readonly Matcher[][],
  range?: { start?: number; end?: number },
  limit?: number,
): Promise<string[]> {
  const col = name === '__name__' ? raw('key') : sql`tags[${param('String', name)}]`;
  const cap = limit ? sql` LIMIT ${param('UInt64', BigInt(limit + 1))}` : raw('');
  const rows = await store.query<{ v: string }>(
    sql`SELECT DISTINCT ${col} AS v FROM series WHERE ${seriesWhere(selectors, range)} AND v != '' ORDER BY v${cap}`,
  );
  return rows.map((r) => r.v);
}
