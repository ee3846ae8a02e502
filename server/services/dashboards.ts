import { param, sql, type Store } from '../store/index.js';
import { chTime } from '../store/store.js';
import { groupFamilies, type MetricInfo } from './families.js';
import { generateDashboard } from './generator.js';
import { dashboardSchema, type Dashboard, type ServedDashboard, type Slo } from './model.js';

/**
 * A service's dashboard: the saved (edited) copy when there is one, else the one generated from
 * the metric families it sends now, so a new family shows up on the next load.
 */

let lastVersion = 0;
function nextVersion(): number {
  lastVersion = Math.max(Date.now(), lastVersion + 1);
  return lastVersion;
}

async function savedDashboard(store: Store, service: string): Promise<{ doc: Dashboard; updatedAt: number } | null> {
  const rows = await store.query<{ doc: string; updated: string; del: number }>(
    sql`SELECT argMax(doc, updated_at) AS doc, toUnixTimestamp64Milli(max(updated_at)) AS updated, argMax(deleted, updated_at) AS del
        FROM dashboards WHERE service = ${param('String', service)} GROUP BY service`,
  );
  const r = rows[0];
  if (!r || Number(r.del) === 1) return null;
  let json: unknown;
  try {
    json = JSON.parse(r.doc);
  } catch {
    return null;
  }
  const parsed = dashboardSchema.safeParse(json);
  return parsed.success ? { doc: parsed.data, updatedAt: Number(r.updated) } : null;
}

export async function saveDashboard(store: Store, service: string, doc: Dashboard): Promise<number> {
  const v = nextVersion();
  await store.insertRows('dashboards', [{ service, doc: JSON.stringify({ ...doc, service }), updated_at: chTime(v), deleted: 0 }]);
  return v;
}

/** Drop the saved copy; the generated dashboard is served again. Returns false when there was none. */
export async function resetDashboard(store: Store, service: string): Promise<boolean> {
  if (!(await savedDashboard(store, service))) return false;
  await store.insertRows('dashboards', [{ service, doc: '', updated_at: chTime(nextVersion()), deleted: 1 }]);
  return true;
}

/** The dashboard to serve: saved copy (noting families it does not cover) or a fresh generation. */
export async function serveDashboard(
  store: Store,
  input: { service: string; label: string; metrics: readonly MetricInfo[]; slo?: Slo },
  opts: { generatedOnly?: boolean } = {},
): Promise<ServedDashboard> {
  const saved = opts.generatedOnly ? null : await savedDashboard(store, input.service);
  if (saved) {
    const covered = new Set(saved.doc.families);
    const newFamilies = groupFamilies(input.metrics)
      .map((f) => f.name)
      .filter((f) => !covered.has(f));
    return { ...saved.doc, service: input.service, source: 'saved', updatedAt: saved.updatedAt, ...(newFamilies.length ? { newFamilies } : {}) };
  }
  return { ...generateDashboard(input), source: 'generated' };
}
