import { randomBytes } from 'node:crypto';
import { param, sql, type Store } from '../store/index.js';
import { chTime } from '../store/store.js';
import { dashboardDocSchema, type DashboardDoc, type StoredDashboard } from './model.js';

/**
 * The stored dashboards (table dashboard_library): one JSON document per id, newest version wins.
 * Dashboards are few (hundreds), so listing reads every current document and filters in process.
 */

let lastVersion = 0;
function nextVersion(): number {
  lastVersion = Math.max(Date.now(), lastVersion + 1);
  return lastVersion;
}

/** A short random id for a dashboard posted without one (as Grafana's uid). */
export function newDashboardId(): string {
  return randomBytes(6).toString('base64url').replace(/^[^a-zA-Z0-9]/, 'd');
}

export async function listStored(store: Store): Promise<StoredDashboard[]> {
  const rows = await store.query<{ id: string; doc: string; updated: string; del: number }>(
    sql`SELECT id, argMax(doc, updated_at) AS doc, toUnixTimestamp64Milli(max(updated_at)) AS updated, argMax(deleted, updated_at) AS del
        FROM dashboard_library GROUP BY id ORDER BY id`,
  );
  const out: StoredDashboard[] = [];
  for (const r of rows) {
    if (Number(r.del) === 1) continue;
    const d = parseDoc(r.doc);
    if (d) out.push({ ...d, id: r.id, source: 'library', updatedAt: Number(r.updated) });
  }
  return out;
}

export async function getStored(store: Store, id: string): Promise<StoredDashboard | null> {
  const rows = await store.query<{ doc: string; updated: string; del: number }>(
    sql`SELECT argMax(doc, updated_at) AS doc, toUnixTimestamp64Milli(max(updated_at)) AS updated, argMax(deleted, updated_at) AS del
        FROM dashboard_library WHERE id = ${param('String', id)} GROUP BY id`,
  );
  const r = rows[0];
  if (!r || Number(r.del) === 1) return null;
  const d = parseDoc(r.doc);
  return d ? { ...d, id, source: 'library', updatedAt: Number(r.updated) } : null;
}

export async function putStored(store: Store, id: string, doc: DashboardDoc): Promise<number> {
  const v = nextVersion();
  await store.insertRows('dashboard_library', [
    { id, folder: doc.folder, title: doc.title, tags: doc.tags, doc: JSON.stringify({ ...doc, id }), updated_at: chTime(v), deleted: 0 },
  ]);
  return v;
}

export async function deleteStored(store: Store, id: string): Promise<boolean> {
  if (!(await getStored(store, id))) return false;
  await store.insertRows('dashboard_library', [{ id, folder: '', title: '', tags: [], doc: '', updated_at: chTime(nextVersion()), deleted: 1 }]);
  return true;
}

function parseDoc(text: string): DashboardDoc | null {
  try {
    const r = dashboardDocSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** Filter for GET /api/v1/dashboards: words of `search` in title/folder/tags, every tag, the folder. */
export function matches(d: StoredDashboard, f: { search?: string; tags?: string[]; folder?: string }): boolean {
  if (f.folder !== undefined && d.folder !== f.folder) return false;
  if (f.tags?.length && !f.tags.every((t) => d.tags.includes(t))) return false;
  if (f.search) {
    const hay = `${d.title} ${d.folder} ${d.tags.join(' ')} ${d.id}`.toLowerCase();
    if (!f.search.toLowerCase().split(/\s+/).filter(Boolean).every((w) => hay.includes(w))) return false;
  }
  return true;
}
