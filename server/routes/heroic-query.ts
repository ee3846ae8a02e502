import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { MetronomeError } from '../errors.js';
import { RequestProblem } from '../heroic/aggregation.js';
import { querySlots } from '../promql/engine.js';
import { clickHouseCode } from '../store-health.js';
import { parseQuery, runQuery, type RunLimits } from '../heroic/query.js';
import { FilterError, normalizeFilter } from '../series/heroic-filter.js';

/**
 * Heroic's query API (server/heroic): POST /query/metrics, POST /query/batch, GET /status (the
 * Grafana data source's "Save & test") and /parser/parse-filter. Errors in Heroic's shape.
 */
export async function heroicQueryRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  const heroic = { config: { heroicErrors: true } };
  // Reads see every write answered before them (a write answered from the log: server/writer.ts).
  app.addHook('preHandler', async () => ctx.writer.settled());
  const limits: RunLimits = {
    maxSeries: ctx.config.MAX_SERIES,
    maxBuckets: ctx.config.MAX_POINTS_PER_SERIES,
    maxSamples: ctx.config.MAX_QUERY_SAMPLES,
    timeoutMs: ctx.config.QUERY_TIMEOUT_MS,
    maxBytes: ctx.config.MAX_QUERY_BYTES,
  };
  // Slots of their own, as many as the PromQL engine's API slots: a burst of Heroic dashboards
  // waits QUERY_QUEUE_MS and then gets 503 instead of piling up reads.
  const gate = querySlots(ctx.config.MAX_CONCURRENT_QUERIES, 'MAX_CONCURRENT_QUERIES');
  const run = async (body: unknown, field: string, now: number, signal: AbortSignal, batchRange?: unknown) => {
    const q = checked(() => parseQuery(body, field, now, batchRange), limits);
    await gate.acquire(ctx.config.QUERY_QUEUE_MS, signal);
    try {
      return await checked(() => runQuery(ctx.store, q, limits, now, field, signal), limits);
    } finally {
      gate.release();
    }
  };

  app.post('/query/metrics', heroic, async (req) => {
    const now = Date.now();
    return withDeadline(req, limits.timeoutMs, (signal) => run(req.body, '', now, signal));
  });

  app.post('/query/batch', heroic, async (req) => {
    const body = req.body as Record<string, unknown> | null;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('body', 'expected {"queries": {"name": {...}}}');
    const queries = body.queries;
    if (!queries || typeof queries !== 'object' || Array.isArray(queries)) throw bad('queries', 'expected an object of named queries');
    const now = Date.now();
    // Check every query before running any, so a bad one costs nothing.
    const entries = Object.entries(queries as Record<string, unknown>);
    for (const [name, q] of entries) checked(() => parseQuery(q, `queries.${name}`, now, body.range), limits);
    const results: Record<string, unknown> = {};
    // One after another: they share the store's read path, and order keeps answers deterministic.
    await withDeadline(req, limits.timeoutMs, async (signal) => {
      for (const [name, q] of entries) results[name] = await run(q, `queries.${name}`, now, signal, body.range);
    });
    return { results };
  });

  app.get('/status', heroic, async () => {
    const ok = await ctx.store.ping().catch(() => false);
    const up = ok ? 1 : 0;
    return {
      service: { name: 'Metronome', version: process.env.npm_package_version ?? '0.1.0', id: 'metronome' },
      ok: ok && !ctx.state.shuttingDown,
      consumers: { ok: true, available: 0, ready: 0, errors: 0, consumingThreads: 0, totalThreads: 0 },
      backends: { ok, available: 1, ready: up },
      metadataBackend: { ok, available: 1, ready: up },
      cluster: { ok, onlineNodes: up, offlineNodes: 1 - up },
    };
  });

  const parseFilter = (text: unknown) => {
    if (typeof text !== 'string' || text.trim() === '') throw bad('filter', 'expected an HQL filter, e.g. $key = "cpu" and host = a');
    try {
      return normalizeFilter(text);
    } catch (e) {
      if (e instanceof FilterError) throw bad(e.path, e.reason);
      throw e;
    }
  };
  app.get('/parser/parse-filter', heroic, async (req) => parseFilter((req.query as Record<string, unknown>).filter));
  app.post('/parser/parse-filter', heroic, async (req) => parseFilter(typeof req.body === 'string' ? req.body : (req.body as Record<string, unknown> | null)?.filter));
}

function bad(field: string, message: string): MetronomeError {
  return new MetronomeError('MTR_HEROIC_BAD_REQUEST', [field, message], { details: { field } });
}

/** Run, turning request problems (bad fields) into 400s that name the field. */
function checked<T>(f: () => T, limits: RunLimits): T {
  try {
    const r = f();
    if (r instanceof Promise) return r.catch((e: unknown) => Promise.reject(translate(e, limits))) as T;
    return r;
  } catch (e) {
    throw translate(e, limits);
  }
}

function translate(e: unknown, limits: RunLimits): unknown {
  if (e instanceof RequestProblem) return bad(e.field, e.message);
  if (e instanceof FilterError) return bad(e.path, e.reason);
  // ClickHouse refusing a read that asked too much, as the PromQL engine answers it.
  const code = e instanceof MetronomeError ? null : clickHouseCode(e);
  if (code === 159) return new MetronomeError('MTR_QUERY_TIMEOUT', [limits.timeoutMs], { cause: e });
  if (code === 241 || code === 396) return new MetronomeError('MTR_QUERY_TOO_MANY_BYTES', [limits.maxBytes], { cause: e });
  if (code === 158) return new MetronomeError('MTR_QUERY_TOO_MANY_SAMPLES', [limits.maxSamples], { cause: e });
  return e;
}

/** Aborts the store reads at the query timeout or when the client's socket closes. */
async function withDeadline<T>(req: FastifyRequest, timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const socket = req.raw.socket;
  const onClose = () => ac.abort(new Error('client disconnected'));
  const timer = setTimeout(() => ac.abort(new MetronomeError('MTR_QUERY_TIMEOUT', [timeoutMs])), timeoutMs);
  socket.once('close', onClose);
  try {
    return await work(ac.signal);
  } catch (e) {
    if (ac.signal.aborted && ac.signal.reason instanceof MetronomeError) throw ac.signal.reason;
    throw e;
  } finally {
    clearTimeout(timer);
    socket.off('close', onClose);
  }
}
