import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app.js';
import { Access } from '../auth/access.js';
import { limitsRoutes } from '../routes/limits.js';
import { createAdmission } from './admission.js';
import { CardinalityTracker } from './cardinality.js';

/**
 * Wire the write path's limits into a built app: the new-series tracker, the writer's admission
 * check (token services, point rate, cardinality) and the cardinality API.
 */
export async function installLimits(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const access = (ctx.access ??= Access.fromConfig(ctx.config));
  const tracker = (ctx.cardinality ??= new CardinalityTracker(ctx.store, {
    perService: ctx.config.MAX_SERIES_PER_SERVICE,
    perKey: ctx.config.MAX_SERIES_PER_KEY,
  }));
  ctx.writer.admit = createAdmission(ctx.config, access, tracker, ctx.metrics);
  await app.register(limitsRoutes, { ctx, tracker });
}
