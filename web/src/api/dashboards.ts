import type { Variable } from '../dashboards/variables.js';
import { getJSON, sendJSON } from './client.js';

/** The dashboard library API (server/dashboards/model.ts is the reference for these types). */

export type PanelKind = 'timeseries' | 'stat' | 'gauge' | 'bargauge' | 'table' | 'heatmap' | 'row' | 'text';

export interface DashPanel {
  id?: string;
  kind: PanelKind;
  title: string;
  description?: string;
  queries: { expr: string; legend?: string; refId?: string; hide?: boolean }[];
  options: Record<string, any>;
  gridPos: { x: number; y: number; w: number; h: number };
}

export interface LibraryDashboard {
  id: string;
  title: string;
  folder: string;
  tags: string[];
  description?: string;
  variables: Variable[];
  panels: DashPanel[];
  annotations: { alerts: boolean; deploys: boolean; manual: boolean; service?: string };
  time?: { from: string; to: string };
  source: 'library' | 'file' | 'generated';
  updatedAt?: number;
}

export type DashboardSummary = Pick<LibraryDashboard, 'id' | 'title' | 'folder' | 'tags' | 'source' | 'updatedAt'>;

export interface Annotation {
  id: string;
  kind: 'manual' | 'alert' | 'deploy';
  time: number;
  timeEnd?: number;
  text: string;
  tags: string[];
  state?: string;
}

export interface ImportNote {
  path: string;
  title?: string;
  message: string;
}

export async function listDashboards(q: { search?: string; tag?: string; folder?: string }, signal?: AbortSignal) {
  return (await getJSON<{ data: DashboardSummary[]; provisioningErrors?: { file: string }[] }>('/api/v1/dashboards', q, signal));
}

export async function getLibraryDashboard(id: string, signal?: AbortSignal): Promise<LibraryDashboard> {
  return (await getJSON<{ data: LibraryDashboard }>(`/api/v1/dashboards/${encodeURIComponent(id)}`, {}, signal)).data;
}

export async function importDashboard(grafana: unknown, folder?: string): Promise<{ id: string; title: string; report: ImportNote[] }> {
  return sendJSON('POST', `/api/v1/dashboards/import${folder ? `?folder=${encodeURIComponent(folder)}` : ''}`, grafana);
}

export async function listAnnotations(q: { start: number; end: number; service?: string; dashboard?: string; kinds?: string }, signal?: AbortSignal): Promise<Annotation[]> {
  return (await getJSON<{ data: Annotation[] }>('/api/v1/annotations', q, signal)).data;
}

/** Drop a stored dashboard (for `service:<name>`, the edited copy: the generated one comes back). */
export async function deleteLibraryDashboard(id: string): Promise<void> {
  await sendJSON('DELETE', `/api/v1/dashboards/${encodeURIComponent(id)}`);
}
