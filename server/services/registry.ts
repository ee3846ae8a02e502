import { param, raw, sql, type Store } from '../store/index.js';
import { chTime } from '../store/store.js';
import type { MetricInfo } from './families.js';
import { serviceSchema, type ServiceDef } from './model.js';

/**
 * The service registry: services registered explicitly (the `services` table, schema 005) and
 * services discovered from their series (the `service` tag, or Prometheus' `job` label, which the
 * write path copies into series.service).
 */

export interface DiscoveredService {
  name: string;
  /** The label naming the service on its series. */
  label: 'service' | 'job';
  series: number;
  /** Unix ms of the newest series activity the series table knows (refreshed about hourly). */
  lastSeen: number | null;
}

/**
 * Series Metronome writes itself carry the service label of the rule that made them (ALERTS,
 * ALERTS_FOR_STATE, SLO recordings): they neither make a service exist nor belong on its dashboard.
 */
const OWN_SERIES = raw(`key NOT IN ('ALERTS', 'ALERTS_FOR_STATE') AND NOT startsWith(key, 'slo:')`);

/** Versions must increase even for two writes in the same millisecond (ReplacingMergeTree keeps the max). */
let lastVersion = 0;
function nextVersion(): number {
  lastVersion = Math.max(Date.now(), lastVersion + 1);
  return lastVersion;
}

/** Register or replace a service definition. */
export async function putService(store: Store, def: ServiceDef): Promise<number> {
  const v = nextVersion();
  await store.insertRows('services', [{ name: def.name, doc: JSON.stringify(def), updated_at: chTime(v), deleted: 0 }]);
  return v;
}

/** Unregister (the service stays listed while its series are around). Returns false if it was not registered. */
export async function deleteService(store: Store, name: string): Promise<boolean> {
  const found = await registeredServices(store, name);
  if (found.length === 0) return false;
  await store.insertRows('services', [{ name, doc: '', updated_at: chTime(nextVersion()), deleted: 1 }]);
  return true;
}

/** Registered services (one, when `name` is given), newest version of each. */
export async function registeredServices(store: Store, name?: string): Promise<(ServiceDef & { updatedAt: number })[]> {
  const where = name === undefined ? sql`1` : sql`name = ${param('String', name)}`;
  const rows = await store.query<{ name: string; doc: string; updated: string }>(
    sql`SELECT name, argMax(doc, updated_at) AS doc, toUnixTimestamp64Milli(max(updated_at)) AS updated,
               argMax(deleted, updated_at) AS del
        FROM services WHERE ${where} GROUP BY name HAVING del = 0 ORDER BY name`,
  );
  const out: (ServiceDef & { updatedAt: number })[] = [];
  for (const r of rows) {
    const parsed = serviceSchema.safeParse(safeJson(r.doc));
    // A row written by an older version that no longer validates is skipped, not fatal.
    if (parsed.success) out.push({ ...parsed.data, updatedAt: Number(r.updated) });
  }
  return out;
}

/** Services that have series, with the label that names them and their series count. */
export async function discoverServices(store: Store, name?: string): Promise<DiscoveredService[]> {
  const where = name === undefined ? sql`service != '' AND ${OWN_SERIES}` : sql`service = ${param('String', name)} AND ${OWN_SERIES}`;
  const rows = await store.query<{ name: string; by_service: number; series: string; last: string | null }>(
    sql`SELECT service AS name, max(tags['service'] = service) AS by_service, uniqExact(series_id) AS series,
               toUnixTimestamp64Milli(max(last_seen)) AS last
        FROM series WHERE ${where} GROUP BY name ORDER BY name`,
  );
  return rows.map((r) => ({
    name: r.name,
    label: Number(r.by_service) ? 'service' : 'job',
    series: Number(r.series),
    lastSeen: r.last === null ? null : Number(r.last),
  }));
}

/**
 * Newest sample time per service over the last `windowMs`, from the points themselves (the
 * series table's last_seen trails the newest sample by up to LAST_SEEN_MARGIN_MS). Bounded by the window, so its cost is that
 * of scanning the recent points once.
 */
export async function recentActivity(store: Store, windowMs: number, now = Date.now()): Promise<Map<string, number>> {
  const rows = await store.query<{ name: string; last: string }>(
    sql`SELECT s.service AS name, toUnixTimestamp64Milli(max(p.ts)) AS last
        FROM points AS p
        INNER JOIN (SELECT DISTINCT series_id, service FROM series WHERE service != '' AND ${OWN_SERIES}) AS s ON p.series_id = s.series_id
        WHERE p.ts >= fromUnixTimestamp64Milli(${param('Int64', Math.floor(now - windowMs))}, 'UTC')
        GROUP BY name`,
  );
  return new Map(rows.map((r) => [r.name, Number(r.last)]));
}

/** The metric names a service sends, with the label names seen on each. */
export async function serviceMetrics(store: Store, name: string): Promise<MetricInfo[]> {
  const rows = await store.query<{ key: string; labels: string[] }>(
    sql`SELECT key, arraySort(groupUniqArrayArray(mapKeys(tags))) AS labels
        FROM series WHERE service = ${param('String', name)} AND ${OWN_SERIES} GROUP BY key ORDER BY key LIMIT 5000`,
  );
  return rows.map((r) => ({ name: r.key, labels: r.labels }));
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}
