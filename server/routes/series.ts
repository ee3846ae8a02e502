import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { MetronomeError } from '../errors.js';
import { parseSelector, SelectorError, type Matcher } from '../promql/selector.js';
import { findSeries, labelNames, labelsOf, labelValues } from '../series/lookup.js';
import { exportSeries } from '../series/export.js';
import { acceptForms, paramList, paramValue, timeParam } from './params.js';

function selectors(req: FastifyRequest, required: boolean): Matcher[][] {
  const list = paramList(req, 'match[]');
  if (required && list.length === 0) throw new MetronomeError('MTR_READ_BAD_PARAM', ['match[]', 'at least one match[] is required']);
  return list.map((s) => {
    try {
      return parseSelector(s);
    } catch (e) {
      if (e instanceof SelectorError) throw new MetronomeError('MTR_READ_BAD_PARAM', ['match[]', e.reason]);
      throw e;
    }
  });
}

function range(req: FastifyRequest): { start?: number; end?: number } {
  return { start: timeParam(req, 'start'), end: timeParam(req, 'end') };
}

/** Series metadata in the Prometheus HTTP API's shape, and the raw export. */
export async function seriesRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  acceptForms(app);
  // Reads see every write answered before them (a write answered from the log: server/writer.ts).
  app.addHook('preHandler', async () => ctx.writer.settled());
  const prom = { config: { promErrors: true } };

  app.route({
    method: ['GET', 'POST'],
    url: '/api/v1/series',
    ...prom,
    handler: async (req) => {
      const limit = limitParam(req);
      const rows = await findSeries(ctx.store, selectors(req, true), { ...range(req), limit: limit && limit + 1 });
      return limited(rows.map(labelsOf), limit);
    },
  });

  app.route({
    method: ['GET', 'POST'],
    url: '/api/v1/labels',
    ...prom,
    handler: async (req) => {
      const limit = limitParam(req);
      return limited(await labelNames(ctx.store, selectors(req, false), range(req), limit), limit);
    },
  });

  app.route({
    method: ['GET', 'POST'],
    url: '/api/v1/label/:name/values',
    ...prom,
    handler: async (req) => {
      const { name } = req.params as { name: string };
      if (name === '') throw new MetronomeError('MTR_READ_BAD_PARAM', ['name', 'a label name is required']);
      const limit = limitParam(req);
      return limited(await labelValues(ctx.store, name, selectors(req, false), range(req), limit), limit);
    },
  });

  app.route({
    method: ['GET', 'POST'],
    url: '/api/v1/export',
    ...prom,
    handler: async (req, reply) => {
      const sel = selectors(req, true);
      const r = range(req);
      reply.header('content-type', 'application/x-ndjson');
      return reply.send(Readable.from(exportSeries(ctx.store, sel, r)));
    },
  });
}

/** Prometheus' answer shape; a list cut by `limit` carries the warning Prometheus gives. */
function limited<T>(data: T[], limit: number | undefined) {
  if (limit === undefined || data.length <= limit) return { status: 'success', data };
  return { status: 'success', data: data.slice(0, limit), warnings: [`results truncated due to limit (limit=${limit})`] };
}

function limitParam(req: FastifyRequest): number | undefined {
  const v = paramValue(req, 'limit');
  if (v === undefined || v === '0') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new MetronomeError('MTR_READ_BAD_PARAM', ['limit', 'must be a non-negative integer']);
  return n;
}
