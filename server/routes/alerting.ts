import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { MetronomeError } from '../errors.js';
import type { Alerting } from '../alerting/service.js';
import { promAlerts, promRules, promValue, ruleView, type RulesFilter } from '../alerting/views.js';
import { paramList, paramValue, timeParam } from './params.js';

/**
 * Alerting over HTTP: rule management (/api/v1/alerting/rules), SLOs, history, notification
 * config and groups, silences, and the Prometheus-compatible GET /api/v1/rules and /api/v1/alerts.
 */
export async function alertingRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  const prom = { config: { promErrors: true } };
  const svc = (): Alerting => {
    const a = ctx.alerting;
    if (!a) throw new MetronomeError('MTR_ALERTING_UNAVAILABLE');
    return a;
  };

  // The notification config is YAML; a JSON body {"yaml": "..."} works too.
  for (const type of ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/plain']) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (_req, body, done) => done(null, body));
  }

  // ---- Prometheus API ----

  app.get('/api/v1/rules', prom, async (req) => {
    const type = paramValue(req, 'type');
    if (type !== undefined && type !== 'alert' && type !== 'record') throw new MetronomeError('MTR_READ_BAD_PARAM', ['type', 'must be "alert" or "record"']);
    const f: RulesFilter = {
      type,
      ruleNames: paramList(req, 'rule_name[]'),
      groupNames: paramList(req, 'rule_group[]'),
      files: paramList(req, 'file[]'),
      excludeAlerts: paramValue(req, 'exclude_alerts') === 'true',
    };
    const a = svc();
    return { status: 'success', data: promRules(a.evaluator, f, a.notifier) };
  });

  app.get('/api/v1/alerts', prom, async () => {
    const a = svc();
    return { status: 'success', data: promAlerts(a.evaluator, a.notifier) };
  });

  // ---- Rule management ----

  const view = (a: Alerting, id: string) => {
    const r = a.rule(id);
    return ruleView(r.rule, r.group, a.evaluator, r.stored ? { spec: r.stored.spec, createdAt: new Date(r.stored.createdAt).toISOString() } : {});
  };

  app.get('/api/v1/alerting/rules', async () => {
    const a = svc();
    return { status: 'success', data: a.rules().map((r) => ruleView(r.rule, r.group, a.evaluator, r.stored ? { spec: r.stored.spec } : {})) };
  });

  app.get('/api/v1/alerting/rules/:id', async (req) => {
    const a = svc();
    return { status: 'success', data: view(a, idParam(req)) };
  });

  app.post('/api/v1/alerting/rules', async (req, reply) => {
    const a = svc();
    const id = await a.createRule(req.body ?? {});
    return reply.status(201).send({ status: 'success', data: view(a, id) });
  });

  app.put('/api/v1/alerting/rules/:id', async (req) => {
    const a = svc();
    const id = idParam(req);
    await a.updateRule(id, req.body ?? {});
    return { status: 'success', data: view(a, id) };
  });

  app.delete('/api/v1/alerting/rules/:id', async (req, reply) => {
    const a = svc();
    await a.deleteRule(idParam(req));
    return reply.status(204).send();
  });

  // ---- SLOs ----

  const sloView = (a: Alerting, id: string) => {
    const s = a.slos().find((x) => x.id === id);
    if (!s) throw new MetronomeError('MTR_SLO_NOT_FOUND', [id]);
    return { id, ...s.spec, rules: s.group.rules.map((r) => ruleView(r, s.group, a.evaluator)) };
  };

  app.get('/api/v1/alerting/slos', async () => {
    const a = svc();
    return { status: 'success', data: a.slos().map((s) => sloView(a, s.id)) };
  });
  app.get('/api/v1/alerting/slos/:id', async (req) => ({ status: 'success', data: sloView(svc(), idParam(req)) }));
  app.post('/api/v1/alerting/slos', async (req, reply) => {
    const a = svc();
    const id = await a.putSlo(undefined, req.body ?? {});
    return reply.status(201).send({ status: 'success', data: sloView(a, id) });
  });
  app.put('/api/v1/alerting/slos/:id', async (req) => {
    const a = svc();
    const id = idParam(req);
    await a.putSlo(id, req.body ?? {});
    return { status: 'success', data: sloView(a, id) };
  });
  app.delete('/api/v1/alerting/slos/:id', async (req, reply) => {
    await svc().deleteSlo(idParam(req));
    return reply.status(204).send();
  });

  // ---- History ----

  app.get('/api/v1/alerting/history', async (req) => {
    const a = svc();
    const limitS = paramValue(req, 'limit') ?? '1000';
    const limit = Number(limitS);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new MetronomeError('MTR_READ_BAD_PARAM', ['limit', 'must be an integer from 1 to 100000']);
    const rows = await a.db.queryHistory({
      start: timeParam(req, 'start'),
      end: timeParam(req, 'end'),
      alertname: paramValue(req, 'alertname'),
      ruleId: paramValue(req, 'rule_id'),
      fingerprint: paramValue(req, 'fingerprint'),
      state: paramValue(req, 'state'),
      limit,
    });
    return {
      status: 'success',
      data: rows.map((r) => ({
        time: new Date(r.ts).toISOString(),
        ruleId: r.ruleId,
        rule: r.ruleName,
        group: r.groupKey,
        fingerprint: r.fingerprint,
        labels: r.labels,
        annotations: r.annotations,
        from: r.from,
        to: r.to,
        value: promValue(r.value),
      })),
    };
  });

  // ---- Notifications ----

  app.get('/api/v1/alerting/notifications/config', async () => ({ status: 'success', data: svc().notifyConfig() }));

  app.put('/api/v1/alerting/notifications/config', async (req) => {
    const body = req.body;
    const yaml = typeof body === 'string' ? body : body && typeof body === 'object' && typeof (body as { yaml?: unknown }).yaml === 'string' ? (body as { yaml: string }).yaml : undefined;
    if (yaml === undefined) throw new MetronomeError('MTR_NOTIFY_CONFIG_INVALID', ['send the YAML as the body (Content-Type: application/yaml) or as {"yaml": "..."}'], { details: { issues: [] } });
    const data = await svc().putNotifyConfig(yaml);
    return { status: 'success', data };
  });

  app.get('/api/v1/alerting/notifications/routes', async () => ({ status: 'success', data: svc().notificationRoutes() }));

  app.post('/api/v1/alerting/notifications/test', async (req) => {
    const receiver = (req.body as { receiver?: unknown } | null)?.receiver;
    if (typeof receiver !== 'string' || !receiver) throw new MetronomeError('MTR_READ_BAD_PARAM', ['receiver', 'give {"receiver": "<name>"}']);
    return { status: 'success', data: await svc().testReceiver(receiver) };
  });

  app.get('/api/v1/alerting/notifications/groups', async () => ({ status: 'success', data: svc().notifier.groups() }));

  // ---- Silences ----

  app.get('/api/v1/silences', async () => {
    const s = svc().silences;
    return { status: 'success', data: s.list().map((x) => s.view(x)) };
  });

  app.get('/api/v1/silences/:id', async (req) => {
    const s = svc().silences;
    const x = s.get(idParam(req));
    if (!x) throw new MetronomeError('MTR_SILENCE_NOT_FOUND', [idParam(req)]);
    return { status: 'success', data: s.view(x) };
  });

  app.post('/api/v1/silences', async (req, reply) => {
    const s = svc().silences;
    const body = (req.body ?? {}) as { id?: unknown };
    const id = await s.upsert(req.body ?? {});
    return reply.status(body.id ? 200 : 201).send({ status: 'success', data: { silenceID: id } });
  });

  app.delete('/api/v1/silences/:id', async (req) => {
    await svc().silences.expire(idParam(req));
    return { status: 'success' };
  });
}

function idParam(req: FastifyRequest): string {
  return (req.params as { id: string }).id;
}
