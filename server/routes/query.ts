import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { MetronomeError } from '../errors.js';
import { parseDuration, parseTime, ParamError } from '../time.js';
import { param, sql } from '../store/index.js';
import { acceptForms, paramValue } from './params.js';

/** The engine formats query answers itself (within the query's budget); they are sent as they are. */
const JSON_TYPE = 'application/json; charset=utf-8';

/** The Prometheus HTTP query API: /api/v1/query, /query_range, /metadata, /status/buildinfo. */
export async function queryRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  acceptForms(app);
  const prom = { config: { promErrors: true } };

  app.route({
    method: ['GET', 'POST'],
    url: '/api/v1/query',
    ...prom,
    handler: async (req, reply) => {
      const query = required(req, 'query');
      const t = paramValue(req, 'time');
      const time = t ? wrap(() => parseTime(t, 'time')) : Date.now();
      const body = await withDisconnect(req, (signal) => ctx.engine.answer({ kind: 'instant', expr: query, time }, { signal, ...options(req) }));
      return reply.type(JSON_TYPE).send(body);
    },
  });

  app.route({
    method: ['GET', 'POST'],
    url: '/api/v1/query_range',
    ...prom,
    handler: async (req, reply) => {
      const query = required(req, 'query');
      const start = wrap(() => parseTime(required(req, 'start'), 'start'));
      const end = wrap(() => parseTime(required(req, 'end'), 'end'));
      const step = wrap(() => parseDuration(required(req, 'step'), 'step'));
      const body = await withDisconnect(req, (signal) => ctx.engine.answer({ kind: 'range', expr: query, start, end, step }, { signal, ...options(req) }));
      return reply.type(JSON_TYPE).send(body);
    },
  });

  app.route({
    method: ['GET', 'POST'],
    url: '/api/v1/metadata',
    ...prom,
    handler: async (req) => {
      const metric = paramValue(req, 'metric');
      const limit = intParam(req, 'limit');
      const perMetric = intParam(req, 'limit_per_metric');
      const where = metric ? sql`WHERE metric = ${param('String', metric)}` : sql``;
      const rows = await ctx.store.query<{ metric: string; type: string; help: string; unit: string }>(
        sql`SELECT metric, argMax(type, updated_at) AS type, argMax(help, updated_at) AS help, argMax(unit, updated_at) AS unit
            FROM metric_metadata ${where} GROUP BY metric ORDER BY metric`,
      );
      const data: Record<string, { type: string; help: string; unit: string }[]> = {};
      for (const r of rows) {
        if (limit !== undefined && limit >= 0 && Object.keys(data).length >= limit) break;
        const list = (data[r.metric] ??= []);
        if (perMetric === undefined || perMetric < 0 || list.length < perMetric) list.push({ type: r.type, help: r.help, unit: r.unit });
      }
      return { status: 'success', data };
    },
  });

  // Metronome stores no exemplars; Grafana asks anyway.
  app.route({
    method: ['GET', 'POST'],
    url: '/api/v1/query_exemplars',
    ...prom,
    handler: async (req) => {
      required(req, 'query');
      return { status: 'success', data: [] };
    },
  });

  app.route({
    method: ['GET'],
    url: '/api/v1/status/buildinfo',
    ...prom,
    handler: async () => ({
      status: 'success',
      // Grafana reads the version to pick features; Metronome answers with Prometheus 3 semantics.
      data: { version: '3.0.0', revision: 'metronome', branch: 'main', buildUser: 'metronome', buildDate: '', goVersion: 'n/a', application: 'metronome' },
    }),
  });
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ParamError) throw new MetronomeError('MTR_QUERY_BAD_PARAM', [e.param, e.reason]);
    throw e;
  }
}

function required(req: FastifyRequest, name: string): string {
  const v = paramValue(req, name);
  if (v === undefined || v === '') {
    if (name === 'query') throw new MetronomeError('MTR_QUERY_PARSE', ['parse error: no expression found in input (parameter "query" is missing)']);
    throw new MetronomeError('MTR_QUERY_BAD_PARAM', [name, 'is required']);
  }
  return v;
}

function intParam(req: FastifyRequest, name: string): number | undefined {
  const v = paramValue(req, name);
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new MetronomeError('MTR_QUERY_BAD_PARAM', [name, `${JSON.stringify(v)} is not an integer`]);
  return n;
}

/** The optional `timeout` (a duration) and Metronome's `raw=true` (never read rollups). */
function options(req: FastifyRequest): { timeoutMs?: number; raw?: boolean } {
  const t = paramValue(req, 'timeout');
  const raw = paramValue(req, 'raw');
  if (raw !== undefined && !['true', 'false', '1', '0', ''].includes(raw)) {
    throw new MetronomeError('MTR_QUERY_BAD_PARAM', ['raw', 'must be true or false']);
  }
  return { timeoutMs: t ? wrap(() => parseDuration(t, 'timeout')) : undefined, raw: raw === 'true' || raw === '1' };
}

/** Run a query that is cancelled if the client goes away first. */
async function withDisconnect<T>(req: FastifyRequest, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const socket = req.raw.socket;
  const onClose = () => ac.abort(new Error('client disconnected'));
  socket.once('close', onClose);
  try {
    return await run(ac.signal);
  } catch (e) {
    // A dashboard cancelling a panel's query is not a server error (nor worth a stack in the log).
    if (ac.signal.aborted) throw new MetronomeError('MTR_CLIENT_CLOSED', [], { cause: e });
    throw e;
  } finally {
    socket.off('close', onClose);
  }
}
