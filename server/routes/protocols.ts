import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import { applyRetention } from '../store/migrate.js';
import { influxRoutes } from './influx.js';
import { otlpRoutes } from './otlp.js';
import { announceWrites } from './protocol-common.js';
import { remoteWriteRoutes } from './remote-write.js';

/**
 * The write protocols real clients speak: Prometheus remote write (POST /api/v1/write), Influx
 * line protocol (POST /influx/write, /influx/api/v2/write) and OTLP/HTTP (POST /v1/metrics).
 * Each plugin decodes its format and ends in ctx.writer.write, so every protocol shares the
 * Heroic path's validation, batching and all-or-nothing acknowledgement.
 */
export async function protocolRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  await applyRetention(ctx.store, 'series_ends', 'ts', ctx.config.RETENTION_DAYS);
  announceWrites(app, ctx.writer);
  await app.register(remoteWriteRoutes, { ctx });
  await app.register(influxRoutes, { ctx });
  await app.register(otlpRoutes, { ctx });
}
