import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { MetronomeError } from '../errors.js';
import { addAnnotation, annotationInputSchema, listAnnotations, type Annotation } from '../dashboards/annotations.js';
import { fromServiceDashboard, serviceDashboardId } from '../dashboards/from-service.js';
import { exportGrafana } from '../dashboards/grafana-export.js';
import { importGrafana, isGrafanaDashboard } from '../dashboards/grafana-import.js';
import { deleteStored, getStored, listStored, matches, newDashboardId, putStored } from '../dashboards/library.js';
import { DASHBOARD_ID, dashboardDocSchema, type DashboardDoc, type StoredDashboard } from '../dashboards/model.js';
import { Provisioner, type DirWatcher } from '../dashboards/provision.js';
import { issuesOf } from '../services/model.js';
import { timeParam } from './params.js';

/**
 * The dashboard library: /api/v1/dashboards (stored, provisioned from DASHBOARDS_DIR, and the
 * services' generated ones as `service:<name>`), Grafana import and export, and
 * /api/v1/annotations. Precedence for one id: a file, then a stored copy, then a service's.
 */

export interface DashboardRouteOptions {
  ctx: AppContext;
  /** Tests inject a watcher to trigger reloads without waiting on the file system. */
  watch?: DirWatcher;
}

type Summary = Pick<StoredDashboard, 'id' | 'title' | 'folder' | 'tags' | 'source' | 'updatedAt'>;

const summary = (d: StoredDashboard): Summary => ({ id: d.id, title: d.title, folder: d.folder, tags: d.tags, source: d.source, ...(d.updatedAt ? { updatedAt: d.updatedAt } : {}) });

function invalid(err: import('zod').ZodError): MetronomeError {
  const issues = issuesOf(err);
  return new MetronomeError('MTR_DASHBOARD_INVALID', [issues.map((i) => `${i.path}: ${i.message}`).slice(0, 5).join('; ')], { details: { issues } });
}

export async function dashboardRoutes(app: FastifyInstance, opts: DashboardRouteOptions): Promise<void> {
  const { ctx } = opts;
  const dir = ctx.config.DASHBOARDS_DIR;
  const files = dir ? new Provisioner(dir, { watch: opts.watch, onError: (e) => ctx.log.warn({ file: e.file, issues: e.issues }, 'provisioned dashboard skipped') }) : null;
  if (files) {
    await files.start();
    app.addHook('onClose', async () => files.close());
  }

  const idParam = (req: FastifyRequest): string => {
    const { id } = req.params as { id: string };
    if (!DASHBOARD_ID.test(id)) throw new MetronomeError('MTR_DASHBOARD_NOT_FOUND', [id]);
    return id;
  };

  /** Service dashboards through the services API (in process), so this module needs no directory. */
  const serviceNames = async (): Promise<string[]> => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/services' });
    if (res.statusCode !== 200) return [];
    return ((res.json() as { data?: { name: string }[] }).data ?? []).map((s) => s.name);
  };
  const serviceDashboard = async (id: string): Promise<StoredDashboard | null> => {
    if (!id.startsWith('service:')) return null;
    const name = id.slice('service:'.length);
    const res = await app.inject({ method: 'GET', url: `/api/v1/services/${encodeURIComponent(name)}/dashboard` });
    if (res.statusCode !== 200) return null;
    return { ...fromServiceDashboard((res.json() as { data: Parameters<typeof fromServiceDashboard>[0] }).data), id, source: 'generated' };
  };

  const find = async (id: string): Promise<StoredDashboard | null> => files?.get(id) ?? (await getStored(ctx.store, id)) ?? (await serviceDashboard(id));

  const mustFind = async (id: string) => {
    const d = await find(id);
    if (!d) throw new MetronomeError('MTR_DASHBOARD_NOT_FOUND', [id]);
    return d;
  };

  const all = async (): Promise<StoredDashboard[]> => {
    const byId = new Map<string, StoredDashboard>();
    for (const name of await serviceNames()) {
      const id = serviceDashboardId(name);
      byId.set(id, { id, title: name, folder: 'Services', tags: ['service', name], variables: [], panels: [], annotations: { alerts: true, deploys: true, manual: true, service: name }, source: 'generated' });
    }
    for (const d of await listStored(ctx.store)) byId.set(d.id, d);
    for (const d of files?.list() ?? []) byId.set(d.id, d);
    return [...byId.values()].sort((a, b) => a.folder.localeCompare(b.folder) || a.title.localeCompare(b.title));
  };

  const parseDoc = (body: unknown): DashboardDoc => {
    const parsed = dashboardDocSchema.safeParse(body ?? {});
    if (!parsed.success) throw invalid(parsed.error);
    return parsed.data;
  };

  const writable = (id: string) => {
    const f = files?.get(id);
    if (f) throw new MetronomeError('MTR_DASHBOARD_READ_ONLY', [id, f.file ?? 'DASHBOARDS_DIR']);
  };

  app.get('/api/v1/dashboards', async (req) => {
    const q = req.query as { search?: string; tag?: string | string[]; folder?: string };
    const tags = q.tag === undefined ? [] : Array.isArray(q.tag) ? q.tag : [q.tag];
    const list = (await all()).filter((d) => matches(d, { search: q.search, tags, folder: q.folder }));
    return { data: list.map(summary), ...(files?.errors.length ? { provisioningErrors: files.errors } : {}) };
  });

  app.get('/api/v1/dashboards/folders', async () => {
    const counts = new Map<string, number>();
    for (const d of await all()) counts.set(d.folder, (counts.get(d.folder) ?? 0) + 1);
    return { data: [...counts].map(([name, dashboards]) => ({ name, dashboards })).sort((a, b) => a.name.localeCompare(b.name)) };
  });

  app.get('/api/v1/dashboards/tags', async () => {
    const counts = new Map<string, number>();
    for (const d of await all()) for (const t of d.tags) counts.set(t, (counts.get(t) ?? 0) + 1);
    return { data: [...counts].map(([name, dashboards]) => ({ name, dashboards })).sort((a, b) => a.name.localeCompare(b.name)) };
  });

  app.post('/api/v1/dashboards', async (req, reply) => {
    const doc = parseDoc(req.body);
    const id = doc.id ?? newDashboardId();
    if (await find(id)) throw new MetronomeError('MTR_DASHBOARD_EXISTS', [id]);
    const updatedAt = await putStored(ctx.store, id, doc);
    return reply.status(201).send({ data: { ...doc, id, source: 'library', updatedAt } });
  });

  app.get('/api/v1/dashboards/:id', async (req) => ({ data: await mustFind(idParam(req)) }));

  app.put('/api/v1/dashboards/:id', async (req, reply) => {
    const id = idParam(req);
    writable(id);
    const body = typeof req.body === 'object' && req.body !== null ? (req.body as Record<string, unknown>) : {};
    if (body.id !== undefined && body.id !== id) throw new MetronomeError('MTR_DASHBOARD_INVALID', [`id: ${String(body.id)} does not match the URL's ${id}`], { details: { issues: [{ path: 'id', message: `must be ${id} (the id in the URL) or left out` }] } });
    const doc = parseDoc({ ...body, id });
    const existed = (await getStored(ctx.store, id)) !== null;
    const updatedAt = await putStored(ctx.store, id, doc);
    return reply.status(existed ? 200 : 201).send({ data: { ...doc, id, source: 'library', updatedAt } });
  });

  app.delete('/api/v1/dashboards/:id', async (req, reply) => {
    const id = idParam(req);
    writable(id);
    // A service dashboard's saved copy goes; the generated one is served again.
    if (!(await deleteStored(ctx.store, id))) throw new MetronomeError('MTR_DASHBOARD_NOT_FOUND', [id]);
    return reply.status(204).send();
  });

  app.get('/api/v1/dashboards/:id/export', async (req) => {
    const id = idParam(req);
    const format = (req.query as { format?: string }).format ?? 'grafana';
    if (format !== 'grafana' && format !== 'metronome') throw new MetronomeError('MTR_READ_BAD_PARAM', ['format', 'must be grafana or metronome']);
    const d = await mustFind(id);
    const { source: _s, updatedAt: _u, file: _f, ...doc } = d;
    return format === 'grafana' ? exportGrafana(doc) : doc;
  });

  app.post('/api/v1/dashboards/import', async (req, reply) => {
    const q = req.query as { folder?: string; overwrite?: string };
    const body = req.body;
    if (!isGrafanaDashboard(body)) {
      throw new MetronomeError('MTR_DASHBOARD_IMPORT', ['the body is not a Grafana dashboard (expected an object with panels, rows or templating, or {dashboard: {...}})']);
    }
    const { dashboard, report } = importGrafana(body);
    const doc = parseDoc({ ...dashboard, ...(q.folder ? { folder: q.folder } : {}) });
    const id = doc.id ?? newDashboardId();
    const overwrite = q.overwrite === '1' || q.overwrite === 'true';
    writable(id);
    if (!overwrite && (await find(id))) throw new MetronomeError('MTR_DASHBOARD_EXISTS', [id]);
    await putStored(ctx.store, id, { ...doc, id });
    return reply.status(201).send({ id, title: doc.title, panels: doc.panels.length, variables: doc.variables.length, report });
  });

  // ---- Annotations ----

  app.get('/api/v1/annotations', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const end = epochParam(req, 'end') ?? Date.now();
    const start = epochParam(req, 'start') ?? end - 6 * 3_600_000;
    if (start > end) throw new MetronomeError('MTR_READ_BAD_PARAM', ['start', 'must not be after end']);
    const kinds = new Set((q.kinds ?? 'manual,alert,deploy').split(',').map((s) => s.trim())) as Set<Annotation['kind']>;
    for (const k of kinds) if (!['manual', 'alert', 'deploy'].includes(k)) throw new MetronomeError('MTR_READ_BAD_PARAM', ['kinds', `unknown kind ${k}; use manual, alert, deploy`]);
    const limit = q.limit === undefined ? 1000 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new MetronomeError('MTR_READ_BAD_PARAM', ['limit', 'must be an integer from 1 to 10000']);
    return { data: await listAnnotations(ctx.store, { start, end, service: q.service || undefined, dashboard: q.dashboard || undefined, kinds, limit }) };
  });

  app.post('/api/v1/annotations', async (req, reply) => {
    const parsed = annotationInputSchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issues = issuesOf(parsed.error);
      throw new MetronomeError('MTR_ANNOTATION_INVALID', [issues.map((i) => `${i.path}: ${i.message}`).join('; ')], { details: { issues } });
    }
    return reply.status(201).send({ data: await addAnnotation(ctx.store, parsed.data) });
  });
}

/** A time parameter as timeParam reads it, within what the annotations table holds (1970 to 2286). */
function epochParam(req: FastifyRequest, name: string): number | undefined {
  const ms = timeParam(req, name);
  if (ms !== undefined && !(ms >= 0 && ms <= 10_000_000_000_000)) throw new MetronomeError('MTR_READ_BAD_PARAM', [name, 'must be a time from 1970 to 2286']);
  return ms;
}
