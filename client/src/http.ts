import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter, Histogram, Registry } from './metrics.js';

/**
 * HTTP server request metrics under the Prometheus names Metronome's generator keys on:
 * `http_requests_total{route, method, code}` and `http_request_duration_seconds{route, method}`
 * (a histogram). `route` is the route template (`/users/:id`), never the raw path: a path per
 * user id would be a series per user. Requests no route matched count as `route="unmatched"`.
 */

export interface HttpMetrics {
  requests: Counter;
  duration: Histogram;
  /** Record one finished request. */
  record(route: string, method: string, status: number, seconds: number): void;
}

export function httpMetrics(reg: Registry, buckets?: readonly number[]): HttpMetrics {
  const requests = reg.counter({ name: 'http_requests_total', help: 'HTTP requests served, by route template, method and status code.' }, ['route', 'method', 'code']);
  const duration = reg.histogram(
    { name: 'http_request_duration_seconds', help: 'HTTP request latency from the first byte read to the last byte written, in seconds.', unit: 'seconds' },
    ['route', 'method'],
    buckets,
  );
  return {
    requests,
    duration,
    record(route, method, status, seconds) {
      const m = normaliseMethod(method);
      requests.inc([route, m, String(status)]);
      duration.observe([route, m], seconds);
    },
  };
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE']);
/** Any method a client invents counts as OTHER (it is a label value a client controls). */
function normaliseMethod(m: string): string {
  const u = m.toUpperCase();
  return METHODS.has(u) ? u : 'OTHER';
}

// ---- fastify ----

/** The parts of fastify the plugin uses (typed structurally: the client does not depend on fastify). */
interface FastifyLike {
  addHook(name: 'onResponse', fn: (req: FastifyRequestLike, reply: FastifyReplyLike, done: () => void) => void): unknown;
}
interface FastifyRequestLike {
  method: string;
  routeOptions?: { url?: string };
}
interface FastifyReplyLike {
  statusCode: number;
  /** Milliseconds since the request was received (fastify 4+). */
  elapsedTime: number;
}

/**
 * A fastify plugin: `app.register(client.fastify)`. Marked to skip fastify's encapsulation (what
 * the fastify-plugin package does), so it sees every route of the app.
 */
export function fastifyPlugin(m: HttpMetrics) {
  const plugin = async (app: FastifyLike) => {
    app.addHook('onResponse', (req, reply, done) => {
      m.record(req.routeOptions?.url ?? 'unmatched', req.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  };
  (plugin as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
  (plugin as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')] = '@metronome/client';
  return plugin;
}

// ---- node:http and express-style middleware ----

export interface MiddlewareOptions {
  /**
   * The route template of a request. Default: express' matched route (`req.baseUrl` +
   * `req.route.path`), else `unmatched`. With plain node:http, pass one (a small table of your
   * routes); never return the raw URL.
   */
  route?: (req: IncomingMessage) => string | undefined;
}

type ExpressReq = IncomingMessage & { baseUrl?: string; route?: { path?: unknown } };

function expressRoute(req: ExpressReq): string | undefined {
  const p = req.route?.path;
  if (typeof p !== 'string') return undefined;
  return (req.baseUrl ?? '') + p;
}

/**
 * `(req, res, next?)` middleware for express, connect or a node:http handler: times the request
 * and records it when the response finishes (or the connection closes first).
 */
export function middleware(m: HttpMetrics, opts: MiddlewareOptions = {}) {
  return (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void => {
    const start = process.hrtime.bigint();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      let route: string | undefined;
      try {
        route = opts.route ? opts.route(req) : expressRoute(req as ExpressReq);
      } catch {
        route = undefined;
      }
      m.record(route || 'unmatched', req.method ?? 'OTHER', res.statusCode, Number(process.hrtime.bigint() - start) / 1e9);
    };
    res.once('finish', finish);
    res.once('close', finish);
    next?.();
  };
}
