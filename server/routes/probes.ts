import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { invalid, MetronomeError } from '../errors.js';
import { parseProbe, probePolicy } from '../probes/model.js';
import { deleteProbe, ProbeScheduler, putProbe, storedProbes } from '../probes/scheduler.js';
import { registeredServices } from '../services/registry.js';

/**
 * Black-box probes: POST/GET /api/v1/probes, GET/DELETE /api/v1/probes/<name> (admin scope,
 * server/auth/scopes.ts). The plugin owns the scheduler: started when the app is ready, stopped
 * (runs in flight finished) when it closes, before the writer closes.
 */
export async function probeRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  const policy = probePolicy(ctx.config);
  const scheduler = new ProbeScheduler({
    store: ctx.store,
    writer: ctx.writer,
    log: ctx.log,
    policy,
    ...(ctx.probeClock ? { clock: ctx.probeClock } : {}),
    services: () => registeredServices(ctx.store),
  });
  ctx.probes = scheduler;
  // Cluster mode: idle until this node holds the leader lease (server/cluster/leadership.ts).
  scheduler.active = ctx.config.LEADER_ELECTION !== 'keeper';
  app.addHook('onReady', async () => {
    await scheduler.start().catch((err) => ctx.log.error({ err }, 'probes: could not load the probes; they start with the next reload'));
  });
  app.addHook('onClose', async () => scheduler.stop());

  const nameParam = (req: FastifyRequest) => (req.params as { name: string }).name;

  app.get('/api/v1/probes', async () => ({ data: scheduler.list() }));

  app.post('/api/v1/probes', async (req, reply) => {
    const parsed = parseProbe(req.body, policy);
    if ('issues' in parsed) {
      throw invalid('MTR_PROBE_INVALID', parsed.issues);
    }
    const existed = (await storedProbes(ctx.store, parsed.spec.name)).length > 0;
    await putProbe(ctx.store, parsed.spec);
    await scheduler.reload();
    return reply.status(existed ? 200 : 201).send({ data: scheduler.get(parsed.spec.name) ?? { ...parsed.spec, source: 'api', last: null } });
  });

  app.get('/api/v1/probes/:name', async (req) => {
    const p = scheduler.get(nameParam(req));
    if (!p) throw new MetronomeError('MTR_PROBE_NOT_FOUND', [nameParam(req)]);
    return { data: p };
  });

  app.delete('/api/v1/probes/:name', async (req, reply) => {
    const name = nameParam(req);
    if (!(await deleteProbe(ctx.store, name))) {
      const p = scheduler.get(name);
      if (p?.source === 'health-link') throw new MetronomeError('MTR_PROBE_DERIVED', [name, p.service]);
      throw new MetronomeError('MTR_PROBE_NOT_FOUND', [name]);
    }
    await scheduler.reload();
    return reply.status(204).send();
  });
}
