import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../app.js';
import { MetronomeError } from '../errors.js';
import type { QueryEngine } from '../promql/types.js';
import { proposeAlerts, type ProposedRule } from '../services/alerts.js';
import { resetDashboard, saveDashboard, serveDashboard } from '../services/dashboards.js';
import { ServiceDirectory, type ActiveAlert } from '../services/directory.js';
import { dashboardSchema, issuesOf, SERVICE_NAME, serviceSchema } from '../services/model.js';
import { deleteService, putService, registeredServices } from '../services/registry.js';

/**
 * The services API: the registry (explicit and discovered services with their health), each
 * service's dashboard (generated, or a saved edited copy), and its proposed alert rules.
 */

/** Hooks into other modules that may not run in every build: the engine and alerting. */
export interface ServicesRouteOptions {
  ctx: AppContext;
  /** Active alerts, from the alerting module. */
  alerts?: () => Promise<ActiveAlert[]>;
}

export function engineOf(ctx: AppContext): QueryEngine | undefined {
  return (ctx as AppContext & { engine?: QueryEngine }).engine;
}

export async function servicesRoutes(app: FastifyInstance, opts: ServicesRouteOptions): Promise<void> {
  const { ctx } = opts;
  const dir = new ServiceDirectory({ store: ctx.store, engine: () => engineOf(ctx), alerts: opts.alerts });

  const nameParam = (req: FastifyRequest): string => {
    const { name } = req.params as { name: string };
    if (!SERVICE_NAME.test(name)) throw new MetronomeError('MTR_SERVICE_NOT_FOUND', [name]);
    return name;
  };

  /** The service and what the generator needs about it; 404 when it is unknown. */
  const inputs = async (name: string) => {
    const svc = await dir.get(name);
    if (!svc) throw new MetronomeError('MTR_SERVICE_NOT_FOUND', [name]);
    const metrics = svc.discovered ? await dir.metrics(name) : [];
    return { svc, input: { service: name, label: svc.label ?? 'service', metrics, slo: svc.slo } };
  };

  app.get('/api/v1/services', async () => ({ data: await dir.list() }));

  app.post('/api/v1/services', async (req, reply) => {
    const parsed = serviceSchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issues = issuesOf(parsed.error);
      throw new MetronomeError('MTR_SERVICE_INVALID', [issues.map((i) => `${i.path}: ${i.message}`).join('; ')], { details: { issues } });
    }
    const existed = (await registeredServices(ctx.store, parsed.data.name)).length > 0;
    await putService(ctx.store, parsed.data);
    dir.invalidate();
    const svc = await dir.get(parsed.data.name);
    return reply.status(existed ? 200 : 201).send({ data: svc });
  });

  app.get('/api/v1/services/:name', async (req) => {
    const name = nameParam(req);
    const svc = await dir.get(name);
    if (!svc) throw new MetronomeError('MTR_SERVICE_NOT_FOUND', [name]);
    return { data: svc };
  });

  app.delete('/api/v1/services/:name', async (req, reply) => {
    const name = nameParam(req);
    if (!(await deleteService(ctx.store, name))) throw new MetronomeError('MTR_SERVICE_NOT_FOUND', [name]);
    dir.invalidate();
    return reply.status(204).send();
  });

  app.get('/api/v1/services/:name/dashboard', async (req) => {
    const name = nameParam(req);
    const { input } = await inputs(name);
    const generated = (req.query as { generated?: string }).generated;
    return { data: await serveDashboard(ctx.store, input, { generatedOnly: generated === '1' || generated === 'true' }) };
  });

  app.put('/api/v1/services/:name/dashboard', async (req) => {
    const name = nameParam(req);
    await inputs(name);
    const parsed = dashboardSchema.safeParse({ service: name, ...(typeof req.body === 'object' && req.body ? req.body : {}) });
    if (!parsed.success) {
      const issues = issuesOf(parsed.error);
      throw new MetronomeError('MTR_DASHBOARD_INVALID', [issues.map((i) => `${i.path}: ${i.message}`).slice(0, 5).join('; ')], { details: { issues } });
    }
    const updatedAt = await saveDashboard(ctx.store, name, { ...parsed.data, service: name });
    return { data: { ...parsed.data, service: name, source: 'saved', updatedAt } };
  });

  app.delete('/api/v1/services/:name/dashboard', async (req) => {
    const name = nameParam(req);
    const { input } = await inputs(name);
    const had = await resetDashboard(ctx.store, name);
    return { data: await serveDashboard(ctx.store, input, { generatedOnly: true }), reset: had };
  });

  app.get('/api/v1/services/:name/alerts/proposed', async (req) => {
    const name = nameParam(req);
    const { svc, input } = await inputs(name);
    const rules = proposeAlerts({ ...input, def: svc });
    return { data: await markEnabled(app, rules) };
  });

  app.post('/api/v1/services/:name/alerts/enable', async (req) => {
    const name = nameParam(req);
    const { svc, input } = await inputs(name);
    const body = (req.body ?? {}) as { alerts?: unknown };
    const wanted = body.alerts;
    if (wanted !== undefined && (!Array.isArray(wanted) || !wanted.every((x) => typeof x === 'string'))) {
      throw new MetronomeError('MTR_SERVICE_INVALID', ['alerts: must be a list of proposed alert names']);
    }
    let rules = proposeAlerts({ ...input, def: svc });
    if (wanted) {
      const unknown = (wanted as string[]).filter((w) => !rules.some((r) => r.alert === w));
      if (unknown.length) throw new MetronomeError('MTR_SERVICE_INVALID', [`alerts: not proposed for ${name}: ${unknown.join(', ')}`]);
      rules = rules.filter((r) => (wanted as string[]).includes(r.alert));
    }
    const result = await enableRules(app, rules);
    dir.invalidate();
    return { data: result };
  });
}

// ---- Through the alerting API ----
// Rules are created with POST /api/v1/alerting/rules, in process (fastify inject): the services
// module needs no knowledge of how alerting stores or evaluates rules.

interface ExistingRule {
  id?: string;
  alert?: string;
  name?: string;
  group?: string;
}

async function listRules(app: FastifyInstance): Promise<ExistingRule[] | null> {
  const res = await app.inject({ method: 'GET', url: '/api/v1/alerting/rules' });
  if (res.statusCode === 404) return null;
  if (res.statusCode !== 200) throw new MetronomeError('MTR_SERVICE_ALERTING', [`listing rules answered ${res.statusCode}`]);
  const body = res.json() as { data?: unknown };
  const data = body.data as ExistingRule[] | { rules?: ExistingRule[] } | undefined;
  return Array.isArray(data) ? data : (data?.rules ?? []);
}

function sameRule(e: ExistingRule, r: ProposedRule): boolean {
  return (e.alert ?? e.name) === r.alert && (e.group === undefined || e.group === r.group);
}

async function markEnabled(app: FastifyInstance, rules: ProposedRule[]): Promise<(ProposedRule & { enabled: boolean })[]> {
  const existing = await listRules(app).catch(() => null);
  return rules.map((r) => ({ ...r, enabled: !!existing?.some((e) => sameRule(e, r)) }));
}

async function enableRules(app: FastifyInstance, rules: ProposedRule[]) {
  const existing = await listRules(app);
  if (existing === null) throw new MetronomeError('MTR_SERVICE_ALERTING', ['the alerting API (/api/v1/alerting/rules) is not available in this build']);
  const created: string[] = [];
  const already: string[] = [];
  for (const r of rules) {
    if (existing.some((e) => sameRule(e, r))) {
      already.push(r.alert);
      continue;
    }
    const res = await app.inject({ method: 'POST', url: '/api/v1/alerting/rules', payload: r });
    if (res.statusCode >= 300) {
      throw new MetronomeError('MTR_SERVICE_ALERTING', [`creating ${r.alert} answered ${res.statusCode}: ${res.body.slice(0, 500)}`]);
    }
    created.push(r.alert);
  }
  return { created, alreadyEnabled: already };
}
