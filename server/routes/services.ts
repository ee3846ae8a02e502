import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { invalid, MetronomeError } from '../errors.js';
import type { QueryEngine } from '../promql/types.js';
import { proposeAlerts, type ProposedRule } from '../services/alerts.js';
import { resetDashboard, saveDashboard, serveDashboard } from '../services/dashboards.js';
import { mapLimit } from '../concurrency.js';
import { ServiceDirectory, type ActiveAlert, type ServiceSummary } from '../services/directory.js';
import { cardinalityOf, scorecard, type Scorecard } from '../services/scorecard.js';
import { dashboardSchema, issuesOf, SERVICE_NAME, serviceSchema } from '../services/model.js';
import { deleteService, putService, registeredServices } from '../services/registry.js';
import { serverStatus, StatusSampler } from '../services/status.js';

/**
 * The services API: the registry (explicit and discovered services with their health), each
 * service's dashboard (generated, or a saved edited copy), and its proposed alert rules; plus
 * the server status the status page shows.
 */

/** Hooks into other modules that may not run in every build: the engine and alerting. */
export interface ServicesRouteOptions {
  ctx: AppContext;
  /** Active alerts, from the alerting module. */
  alerts?: () => Promise<ActiveAlert[]>;
}

function engineOf(ctx: AppContext): QueryEngine | undefined {
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
    const metrics = svc.discovered ? await dir.metrics(name, svc.series) : [];
    return { svc, input: { service: name, label: svc.label ?? 'service', metrics, slo: svc.slo } };
  };

  app.get('/api/v1/services', async () => ({ data: await dir.list() }));

  // The status page's numbers: ingest rate, series, storage, query latency, build.
  const sampler = new StatusSampler(ctx);
  app.addHook('onClose', async () => sampler.stop());
  app.get('/api/v1/status', async () => ({ data: await serverStatus(ctx, sampler) }));

  app.post('/api/v1/services', async (req, reply) => {
    const parsed = serviceSchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issues = issuesOf(parsed.error);
      throw invalid('MTR_SERVICE_INVALID', issues);
    }
    const existed = (await registeredServices(ctx.store, parsed.data.name)).length > 0;
    await putService(ctx.store, parsed.data);
    dir.invalidate();
    await ctx.probes?.reload().catch((err) => req.log.warn({ err }, 'probes: reload after a registration failed')); // its health link is probed
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
    await ctx.probes?.reload().catch((err) => req.log.warn({ err }, 'probes: reload after a registration failed'));
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

  // The golden-path scorecard (server/services/scorecard.ts): one service, or every service (the UI's column).
  // Takes the service as listed (health already computed), so scoring every service costs no health queries.
  const scoreOf = async (svc: ServiceSummary, e: Existing | null): Promise<Scorecard> => {
    const name = svc.name;
    const metrics = svc.discovered ? await dir.metrics(name, svc.series) : [];
    const proposed = proposeAlerts({ service: name, label: svc.label ?? 'service', metrics, def: svc });
    return scorecard({
      service: name,
      def: svc,
      metrics,
      probes: ctx.probes ? ctx.probes.list().filter((p) => p.service === name).length : 0,
      alerts: e ? { proposed: proposed.map((r) => r.alert), enabled: proposed.filter((r) => isEnabled(e, r)).map((r) => r.alert) } : null,
      cardinality: svc.discovered ? await cardinalityOf(ctx.store, name) : { topMetric: null, topLabel: null },
    });
  };

  app.get('/api/v1/services/:name/scorecard', async (req) => {
    const name = nameParam(req);
    const [svc, e] = await Promise.all([dir.get(name), existing(app).catch(() => null)]);
    if (!svc) throw new MetronomeError('MTR_SERVICE_NOT_FOUND', [name]);
    return { data: await scoreOf(svc, e) };
  });

  app.get('/api/v1/scorecards', async () => {
    const [list, e] = await Promise.all([dir.list(), existing(app).catch(() => null)]);
    return { data: await mapLimit(list, 2, (s) => scoreOf(s, e)) };
  });

  app.post('/api/v1/services/:name/alerts/enable', async (req) => {
    const name = nameParam(req);
    // The proposals follow the service's series: those of writes already answered included
    // (GETs wait for them through the app-wide hook; this POST reads the same).
    await ctx.writer.settled();
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
// Rules and SLOs are created with POST /api/v1/alerting/rules and /slos, in process (fastify
// inject): the services module needs no knowledge of how alerting stores or evaluates them.

interface Existing {
  rules: { alert?: string; group?: string }[];
  slos: string[];
}

/** Rules and SLO names alerting has now; null when alerting does not run in this server. */
async function existing(app: FastifyInstance): Promise<Existing | null> {
  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url });
    if (res.statusCode === 404 || res.statusCode === 503) return null;
    if (res.statusCode !== 200) throw new MetronomeError('MTR_SERVICE_ALERTING', [`GET ${url} answered ${res.statusCode}`]);
    return (res.json() as { data?: unknown }).data;
  };
  const [rules, slos] = await Promise.all([get('/api/v1/alerting/rules'), get('/api/v1/alerting/slos')]);
  if (!Array.isArray(rules)) return null;
  return {
    rules: rules as Existing['rules'],
    slos: Array.isArray(slos) ? (slos as { name?: string }[]).map((x) => String(x.name)) : [],
  };
}

function isEnabled(e: Existing, r: ProposedRule): boolean {
  if (r.slo) return e.slos.includes(r.slo.name);
  return e.rules.some((x) => x.alert === r.alert && x.group === r.group);
}

async function markEnabled(app: FastifyInstance, rules: ProposedRule[]): Promise<(ProposedRule & { enabled: boolean })[]> {
  const e = await existing(app).catch(() => null);
  return rules.map((r) => ({ ...r, enabled: !!e && isEnabled(e, r) }));
}

async function enableRules(app: FastifyInstance, rules: ProposedRule[]) {
  const e = await existing(app);
  if (e === null) throw new MetronomeError('MTR_SERVICE_ALERTING', ['alerting does not run in this server']);
  const created: string[] = [];
  const already: string[] = [];
  for (const r of rules) {
    if (isEnabled(e, r)) {
      already.push(r.alert);
      continue;
    }
    const { slo, ...rule } = r;
    const res = slo
      ? await app.inject({ method: 'POST', url: '/api/v1/alerting/slos', payload: slo })
      : await app.inject({ method: 'POST', url: '/api/v1/alerting/rules', payload: rule });
    if (res.statusCode >= 300) {
      throw new MetronomeError('MTR_SERVICE_ALERTING', [`creating ${r.alert} answered ${res.statusCode}: ${res.body.slice(0, 500)}`]);
    }
    created.push(r.alert);
  }
  return { created, alreadyEnabled: already };
}
