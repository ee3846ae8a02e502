import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import { MetronomeError } from '../errors.js';
import type { CardinalityTracker } from '../limits/cardinality.js';
import { paramValue } from './params.js';

/**
 * GET /api/v1/status/cardinality?limit=N: series per service and per metric name (active in the
 * last 24 hours, and created today against MAX_SERIES_PER_SERVICE / MAX_SERIES_PER_KEY), the top
 * N of each (default 10, at most 1000) ordered by series created today.
 */
export async function limitsRoutes(app: FastifyInstance, { ctx, tracker }: { ctx: AppContext; tracker: CardinalityTracker }): Promise<void> {
  app.get('/api/v1/status/cardinality', { config: { promErrors: true } }, async (req) => {
    const raw = paramValue(req, 'limit');
    const top = raw === undefined || raw === '' ? 10 : Number(raw);
    if (!Number.isInteger(top) || top < 1 || top > 1000) {
      throw new MetronomeError('MTR_READ_BAD_PARAM', ['limit', `${JSON.stringify(raw)} must be an integer from 1 to 1000`]);
    }
    const r = await tracker.report(top);
    return {
      status: 'success',
      data: {
        day: r.day,
        limits: { MAX_SERIES_PER_SERVICE: ctx.config.MAX_SERIES_PER_SERVICE, MAX_SERIES_PER_KEY: ctx.config.MAX_SERIES_PER_KEY },
        services: r.services,
        keys: r.keys,
      },
    };
  });
}
