import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import { readMigrations, schemaVersion } from '../store/migrate.js';

/** Liveness, readiness and the server's own metrics. */
export async function healthRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  const latest = Math.max(0, ...readMigrations().map((m) => m.version));

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const checks: Record<string, string> = {};
    let ready = !ctx.state.shuttingDown;
    if (ctx.state.shuttingDown) checks.server = 'shutting down';
    if (await ctx.store.ping()) {
      checks.store = 'ok';
      const v = await schemaVersion(ctx.store).catch((e: Error) => e);
      if (v instanceof Error) {
        checks.store = `failing: ${String((v.cause as Error | undefined)?.message ?? v.message).split('\n')[0].slice(0, 200)}`;
        ready = false;
      } else {
        checks.schema = v >= latest ? `ok (version ${v})` : `behind (version ${v}, want ${latest})`;
        if (v < latest) ready = false;
      }
    } else {
      checks.store = 'unreachable';
      ready = false;
    }
    // Inserts failing recently (server/store-health.ts): writes get 503 until storage is back.
    const failing = ctx.storeHealth?.problem();
    if (failing) {
      checks.writes = `failing: ${failing}`;
      ready = false;
    }
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });

  app.get('/metrics', async (_req, reply) => {
    ctx.metrics.bufferedPoints.set(ctx.writer.buffered);
    reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}
