/**
 * What is known about series, for Heroic's metadata and suggest endpoints: keys, tags, series,
 * counts, and prefix suggestions ranked by how many series carry them. Every answer says
 * whether a limit cut it (`limited`) and which limit (`limit`).
 */
import { param, raw, sql, type Sql, type Store } from '../store/index.js';
import { filterSql } from './heroic-filter.js';
import { LAST_SEEN_MARGIN_MS } from './lookup.js';

export interface CatalogQuery {
  filter?: unknown;
  range?: { start: number; end: number };
  /** Most items to return (already clamped by the caller). */
  limit: number;
}

/** The limit that cut a result: the caller's own, or the server's maximum. */
export interface LimitNote {
  name: 'limit' | 'MAX_METADATA_RESULTS';
  value: number;
}


/** One row per series (the table may hold unmerged duplicates), filtered. */
function seriesSet(q: Omit<CatalogQuery, 'limit'>): Sql {
  const filter = q.filter === undefined ? raw('1') : filterSql(q.filter);
  const having: Sql[] = [raw('1')];
  if (q.range) {
    having.push(sql`ls >= fromUnixTimestamp64Milli(${param('Int64', Math.floor(q.range.start - LAST_SEEN_MARGIN_MS))}, 'UTC')`);
    having.push(sql`fs <= fromUnixTimestamp64Milli(${param('Int64', Math.ceil(q.range.end))}, 'UTC')`);
  }
  // A series' key and tags are the same on all its rows, so the filter applies before merging.
  return sql`(SELECT key, series_id, t AS tags FROM (SELECT key, series_id, any(tags) AS t, min(first_seen) AS fs, max(last_seen) AS ls
    FROM series WHERE ${filter} GROUP BY key, series_id HAVING ${joinAnd(having)}))`;
}

function joinAnd(parts: Sql[]): Sql {
  return parts.reduce((a, b) => sql`${a} AND ${b}`);
}

function limitOf<T>(rows: T[], limit: number): { items: T[]; limited: boolean } {
  return { items: rows.slice(0, limit), limited: rows.length > limit };
}

const n = (limit: number) => param('UInt64', BigInt(limit + 1));

/** Distinct metric keys, with the number of series examined. */
export async function findKeys(store: Store, q: CatalogQuery) {
  const rows = await store.query<{ key: string; n: string }>(
    sql`SELECT key, count() AS n FROM ${seriesSet(q)} GROUP BY key ORDER BY key LIMIT ${n(q.limit)}`,
  );
  const { items, limited } = limitOf(rows, q.limit);
  return { keys: items.map((r) => r.key), size: items.reduce((s, r) => s + Number(r.n), 0), limited };
}

/** Tag names with their values (at most `limit` values per tag), and the series count. */
export async function findTags(store: Store, q: CatalogQuery) {
  const rows = await store.query<{ k: string; vals: string[]; nvals: string }>(
    sql`SELECT kv.1 AS k, arraySort(groupUniqArray(${n(q.limit)})(kv.2)) AS vals, uniqExact(kv.2) AS nvals
        FROM ${seriesSet(q)} ARRAY JOIN CAST(tags, 'Array(Tuple(String, String))') AS kv
        GROUP BY k ORDER BY k LIMIT ${n(q.limit)}`,
  );
  const size = await store.query<{ n: string }>(sql`SELECT count() AS n FROM ${seriesSet(q)}`);
  const { items, limited } = limitOf(rows, q.limit);
  const tags: Record<string, string[]> = {};
  let valuesLimited = false;
  for (const r of items) {
    tags[r.k] = r.vals.slice(0, q.limit);
    if (Number(r.nvals) > q.limit) valuesLimited = true;
  }
  return { tags, size: Number(size[0]?.n ?? 0), limited: limited || valuesLimited };
}

/** Series (key and tags), in key order. */
export async function findSeries(store: Store, q: CatalogQuery) {
  const rows = await store.query<{ key: string; tags: Record<string, string> }>(
    sql`SELECT key, tags FROM ${seriesSet(q)} ORDER BY key, series_id LIMIT ${n(q.limit)}`,
  );
  const { items, limited } = limitOf(rows, q.limit);
  return { series: items.map((r) => ({ key: r.key, tags: r.tags })), limited };
}

/** How many series match, counting at most `limit`. */
export async function countSeries(store: Store, q: CatalogQuery) {
  const rows = await store.query<{ n: string }>(sql`SELECT count() AS n FROM (SELECT 1 FROM ${seriesSet(q)} LIMIT ${n(q.limit)})`);
  const count = Number(rows[0]?.n ?? 0);
  return { count: Math.min(count, q.limit), limited: count > q.limit };
}

/** Keys starting with `prefix` (case-insensitive), most series first. Score: the series count. */
export async function suggestKeys(store: Store, q: CatalogQuery & { prefix?: string }) {
  const where = q.prefix ? sql`WHERE startsWith(lower(key), lower(${param('String', q.prefix)}))` : raw('');
  const rows = await store.query<{ key: string; n: string }>(
    sql`SELECT key, count() AS n FROM ${seriesSet(q)} ${where} GROUP BY key ORDER BY n DESC, key LIMIT ${n(q.limit)}`,
  );
  const { items, limited } = limitOf(rows, q.limit);
  return { suggestions: items.map((r) => ({ score: Number(r.n), key: r.key })), limited };
}

/** Tag key/value pairs whose key and value start with the given prefixes, most series first. */
export async function suggestTags(store: Store, q: CatalogQuery & { key?: string; value?: string }) {
  const conds: Sql[] = [raw('1')];
  if (q.key) conds.push(sql`startsWith(lower(kv.1), lower(${param('String', q.key)}))`);
  if (q.value) conds.push(sql`startsWith(lower(kv.2), lower(${param('String', q.value)}))`);
  const rows = await store.query<{ k: string; v: string; n: string }>(
    sql`SELECT kv.1 AS k, kv.2 AS v, count() AS n
        FROM ${seriesSet(q)} ARRAY JOIN CAST(tags, 'Array(Tuple(String, String))') AS kv
        WHERE ${joinAnd(conds)} GROUP BY k, v ORDER BY n DESC, k, v LIMIT ${n(q.limit)}`,
  );
  const { items, limited } = limitOf(rows, q.limit);
  return { suggestions: items.map((r) => ({ score: Number(r.n), key: r.k, value: r.v })), limited };
}

/** Values of one tag (optionally starting with a prefix), most series first. */
export async function suggestTagValues(store: Store, q: CatalogQuery & { key: string; value?: string }) {
  const col = q.key === 'key' ? raw('key') : sql`tags[${param('String', q.key)}]`;
  const prefix = q.value ? sql` AND startsWith(lower(v), lower(${param('String', q.value)}))` : raw('');
  const rows = await store.query<{ v: string; n: string }>(
    sql`SELECT ${col} AS v, count() AS n FROM ${seriesSet(q)} WHERE v != ''${prefix} GROUP BY v ORDER BY n DESC, v LIMIT ${n(q.limit)}`,
  );
  const { items, limited } = limitOf(rows, q.limit);
  return { values: items.map((r) => r.v), limited };
}

/** The series a Heroic query reads (id as a string, key, tags), at most `limit`, in id order. */
export async function matchingSeries(store: Store, q: CatalogQuery, opts: { signal?: AbortSignal } = {}) {
  return store.query<{ id: string; key: string; tags: Record<string, string> }>(
    sql`SELECT toString(series_id) AS id, key, tags FROM ${seriesSet(q)} ORDER BY series_id LIMIT ${param('UInt64', BigInt(q.limit))}`,
    { signal: opts.signal },
  );
}

/** Tag names with how many series carry them (Heroic's tagkey-count), most series first. */
export async function countTagKeys(store: Store, q: CatalogQuery) {
  const rows = await store.query<{ k: string; n: string }>(
    sql`SELECT kv.1 AS k, count() AS n FROM ${seriesSet(q)} ARRAY JOIN CAST(tags, 'Array(Tuple(String, String))') AS kv
        GROUP BY k ORDER BY n DESC, k LIMIT ${n(q.limit)}`,
  );
  const { items, limited } = limitOf(rows, q.limit);
  return { suggestions: items.map((r) => ({ key: r.k, count: Number(r.n) })), limited };
}

/** For each tag (or those not excluded), its most common values (Heroic's tag-values-suggest). */
export async function suggestTagValuesGrouped(store: Store, q: CatalogQuery & { exclude: string[]; groupLimit: number }) {
  const exclude = q.exclude.length ? sql`WHERE NOT has(${param('Array(String)', q.exclude)}, kv.1)` : raw('');
  const rows = await store.query<{ k: string; vals: string[]; nvals: string }>(
    sql`SELECT k, arrayMap(x -> x.2, arraySort(x -> (-x.1, x.2), groupArray((n, v)))) AS vals, count() AS nvals FROM (
          SELECT kv.1 AS k, kv.2 AS v, count() AS n FROM ${seriesSet(q)} ARRAY JOIN CAST(tags, 'Array(Tuple(String, String))') AS kv ${exclude}
          GROUP BY k, v)
        GROUP BY k ORDER BY k LIMIT ${n(q.limit)}`,
  );
  const { items, limited } = limitOf(rows, q.limit);
  return {
    suggestions: items.map((r) => ({ key: r.k, values: r.vals.slice(0, q.groupLimit), limited: Number(r.nvals) > q.groupLimit })),
    limited,
  };
}

/** Delete the matching series' rows and points (Heroic's DELETE /metadata/series); returns how many series. */
export async function deleteSeries(store: Store, q: Omit<CatalogQuery, 'limit'>) {
  const ids = await store.query<{ id: string }>(sql`SELECT toString(series_id) AS id FROM ${seriesSet(q)}`);
  if (ids.length === 0) return { deleted: 0 };
  const list = param('Array(UInt64)', ids.map((r) => BigInt(r.id)));
  // Points first: a series row left behind only shows an empty series, a point left behind
  // would come back if the series were written again.
  await store.command(sql`DELETE FROM points WHERE series_id IN ${list}`);
  // The rollups the job made of them too: a done hour is read from its rollups, not from points.
  await store.command(sql`DELETE FROM rollup_1m WHERE series_id IN ${list}`);
  await store.command(sql`DELETE FROM rollup_1h WHERE series_id IN ${list}`);
  await store.command(sql`DELETE FROM series WHERE series_id IN ${list}`);
  return { deleted: ids.length };
}
