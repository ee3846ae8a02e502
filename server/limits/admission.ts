import type { NewSeries, WriteBatch } from '../../ingest/types.js';
import type { Access } from '../auth/access.js';
import { currentPrincipal } from '../auth/context.js';
import type { Config } from '../config.js';
import { isMetronomeError, MetronomeError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { CardinalityTracker } from './cardinality.js';
import { checkSeriesScope } from './scope.js';

/** The writer's admission check (Writer.admit): runs after validation, before anything is buffered. */
export type Admission = (batch: WriteBatch, fresh: readonly NewSeries[]) => void | Promise<void>;

/**
 * What a valid batch must still pass before it is accepted, in order:
 * 1. a token limited to services writes only series of those services, by both their service and
 *    job labels (403; scope.ts),
 * 2. the token's point rate (429 + Retry-After),
 * 3. the new-series limits per service and per metric name (400 naming the limit and offender).
 * Writes made outside a request (alerting, the demo) skip 1 and 2. Synchronous unless series new
 * to this process must be looked up, so the usual write pays nothing extra.
 */
export function createAdmission(config: Config, access: Access, cardinality: CardinalityTracker, metrics: Metrics): Admission {
  return (batch, fresh) => {
    const p = currentPrincipal();
    let charged = 0;
    let key = '';
    if (p) {
      // Every service the series' `service` and `job` labels name must be the token's (scope.ts).
      if (p.services) checkSeriesScope(p, access, batch.series, 'series');
      const rate = p.pointsPerSecond ?? config.RATE_LIMIT_POINTS;
      if (rate > 0) {
        key = `points:${p.name}`;
        const wait = access.limiter.take(key, rate, batch.points);
        if (wait > 0) {
          metrics.rateLimited.inc({ kind: 'points' });
          metrics.pointsRejected.inc({ reason: 'MTR_RATE_LIMIT_POINTS' }, batch.points);
          throw new MetronomeError('MTR_RATE_LIMIT_POINTS', [JSON.stringify(p.name), rate, wait], { headers: { 'retry-after': String(wait) } });
        }
        charged = batch.points;
      }
    }
    if (!cardinality.enabled || fresh.length === 0) return;
    return cardinality.admit(fresh).catch((e: unknown) => {
      if (charged) access.limiter.refund(key, charged);
      if (isMetronomeError(e)) {
        metrics.seriesLimited.inc({ limit: e.code === 'MTR_LIMIT_SERIES_PER_SERVICE' ? 'service' : 'key' });
        metrics.pointsRejected.inc({ reason: e.code }, batch.points);
        throw e;
      }
      // The series lookup failed: storage trouble, retryable like a failed commit.
      throw new MetronomeError('MTR_WRITE_STORE_FAILED', [], { cause: e, headers: { 'retry-after': '1' } });
    });
  };
}
