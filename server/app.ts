import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { MetronomeError, isMetronomeError } from './errors.js';
import { healthRoutes } from './routes/health.js';
import { seriesRoutes } from './routes/series.js';
import { writeRoutes } from './routes/write.js';
import { alertingRoutes } from './routes/alerting.js';
import { alertmanagerRoutes } from './routes/alertmanager.js';
import { servicesRoutes } from './routes/services.js';
import { webRoutes } from './routes/web.js';
import { dashboardRoutes } from './routes/dashboards.js';
import { protocolRoutes } from './routes/protocols.js';
import { queryRoutes } from './routes/query.js';
import { heroicMetadataRoutes } from './routes/heroic-metadata.js';
import { heroicQueryRoutes } from './routes/heroic-query.js';
import { installAccessControl } from './auth/access.js';
import { installSurface } from './auth/surface.js';
import { probeRoutes } from './routes/probes.js';
import { limitsRoutes } from './routes/limits.js';
import { promErrorType, toMetronomeError } from './routes/errors.js';
import type { AppContext } from './context.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Answer errors in the Prometheus HTTP API's shape ({status, errorType, error}). */
    promErrors?: boolean;
    /** Answer errors in Heroic's shape ({type: "error", message, reason, status}) plus code and field. */
    heroicErrors?: boolean;
  }
}

/** Build the HTTP app: content parsers, error handling, and one plugin per API surface. */
export async function buildApp(ctx: AppContext): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    // One line per request would dominate the logs under ingest load; onResponse logs failures.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.config.BODY_LIMIT_BYTES,
    requestIdHeader: 'x-request-id',
    // GET /status is two things: Heroic's status API (JSON, routes/heroic-query.ts) and the UI's
    // Status page, which a browser navigating there asks for as HTML.
    rewriteUrl: (req) => {
      const url = req.url ?? '/';
      if (req.method === 'GET' && (url === '/status' || url.startsWith('/status?')) && /\btext\/html\b/.test(String(req.headers.accept ?? ''))) return '/index.html';
      return url;
    },
    // Errors fastify raises before routing (a malformed URL) still answer with a catalogue code.
    frameworkErrors: (err, _req, reply) => {
      const e = new MetronomeError('MTR_BAD_REQUEST', [err.message]);
      void (reply as FastifyReply).status(e.status).send({ error: e.toJSON() });
    },
    // Slow clients are cut off rather than holding sockets forever (slow-loris): headers and the
    // whole request each have a deadline, checked every second; idle sockets are closed.
    connectionTimeout: ctx.config.HTTP_IDLE_TIMEOUT_MS,
    requestTimeout: ctx.config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: ctx.config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    http: {
      headersTimeout: Math.min(ctx.config.HTTP_HEADERS_TIMEOUT_MS, ctx.config.HTTP_REQUEST_TIMEOUT_MS),
      connectionsCheckingInterval: 1000,
    },
  });

  app.server.maxConnections = ctx.config.MAX_CONNECTIONS;
  // Tokens and scopes for every route, then the write path's limits (server/auth, server/limits).
  ctx.access.attach(ctx.metrics, ctx.log);
  // First: which hosts and sites may talk to this server at all (server/auth/surface.ts).
  installSurface(app, ctx.config, !ctx.access.enforced);
  installAccessControl(app, ctx.access);

  // Reads see every write answered before them: one answered from the write-ahead log may not
  // be in ClickHouse yet (server/writer.ts). POST reads (PromQL, Heroic, series) wait in the
  // engine and their routes; health checks and /metrics answer at once.
  app.addHook('preHandler', async (req) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && req.url.startsWith('/api/')) await ctx.writer.settled();
  });

  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    ctx.metrics.httpRequests.inc({ route, status: String(reply.statusCode) });
    ctx.metrics.httpSeconds.observe({ route }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) req.log.warn({ route, status: reply.statusCode, ms: reply.elapsedTime }, 'request failed');
    else req.log.debug({ route, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
    done();
  });

  // While shutting down, close keep-alive connections after their response, or server.close()
  // would wait for idle clients until keepAliveTimeout.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (ctx.state.shuttingDown) reply.header('connection', 'close');
    return payload;
  });

  app.setErrorHandler((err: FastifyError | MetronomeError, req, reply) => {
    const e = toMetronomeError(err, ctx);
    if (e.status >= 500) req.log.error({ err }, e.message);
    if (e.headers) reply.headers(e.headers);
    if (req.routeOptions.config?.promErrors) {
      return reply.status(e.status).send({ status: 'error', errorType: promErrorType(e.status), error: e.message, code: e.code });
    }
    if (req.routeOptions.config?.heroicErrors) {
      return reply.status(e.status).send({ type: 'error', message: e.message, reason: reasonOf(e.status), status: e.status, ...e.toJSON() });
    }
    return reply.status(e.status).send({ error: e.toJSON() });
  });

  app.setNotFoundHandler((req, reply) => {
    const e = new MetronomeError('MTR_NOT_FOUND', [req.method, req.url.split('?')[0]]);
    reply.status(404).send({ error: e.toJSON() });
  });

  // After the error handler is set: plugins registered earlier would keep fastify's default one.
  await app.register(limitsRoutes, { ctx, tracker: ctx.cardinality });
  await app.register(healthRoutes, { ctx });
  await app.register(writeRoutes, { ctx });
  await app.register(protocolRoutes, { ctx });
  await app.register(seriesRoutes, { ctx });
  await app.register(queryRoutes, { ctx });
  await app.register(heroicMetadataRoutes, { ctx });
  await app.register(heroicQueryRoutes, { ctx });
  await app.register(alertingRoutes, { ctx });
  await app.register(alertmanagerRoutes, { ctx });
  await app.register(servicesRoutes, { ctx, alerts: async () => ctx.alerting?.activeAlerts() ?? [] });
  await app.register(probeRoutes, { ctx });
  await app.register(dashboardRoutes, { ctx });
  // Last: the UI answers GET for any path no API claimed (SPA fallback).
  await app.register(webRoutes, { ctx });
  return app;
}

/** The HTTP reason phrase Heroic's ErrorMessage carries. */
function reasonOf(status: number): string {
  const r: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 413: 'Request Entity Too Large', 422: 'Unprocessable Entity', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };
  return r[status] ?? 'Error';
}
