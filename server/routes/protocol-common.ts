import { DecodeLimitError, type DecodeLimits } from '../../ingest/decode-limits.js';
import type { MetricMetadata, StaleMark } from '../../ingest/decode-remote-write.js';
import type { WriteBatch } from '../../ingest/types.js';
import type { IssueList } from '../../ingest/validate.js';
import type { AppContext } from '../context.js';
import type { Config } from '../config.js';
import { currentPrincipal } from '../auth/context.js';
import { MetronomeError, type ErrorCode } from '../errors.js';
import { checkSeriesScope, metadataInScope } from '../limits/scope.js';
import { asAnnouncedWrite, type Writer, type WriteResult } from '../writer.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const ANNOUNCED = Symbol('announced write');
type Announced = FastifyRequest & { [ANNOUNCED]?: () => void };

/**
 * Announce every POST of these routes to the writer when it arrives (Writer.expect), so a
 * group commit flushes as soon as no request is still being received or decoded; released when
 * the request adds its points, answers or is aborted, whichever comes first.
 */
export function announceWrites(app: FastifyInstance, writer: Writer): void {
  app.addHook('onRequest', (req, _reply, done) => {
    if (req.method === 'POST') (req as Announced)[ANNOUNCED] = writer.expect();
    done();
  });
  app.addHook('preHandler', (req, _reply, done) => {
    const release = (req as Announced)[ANNOUNCED];
    if (release) asAnnouncedWrite(release, done);
    else done();
  });
  const release = async (req: FastifyRequest) => (req as Announced)[ANNOUNCED]?.();
  app.addHook('onResponse', release);
  app.addHook('onRequestAbort', release);
}

export interface CommitExtras {
  metadata?: readonly MetricMetadata[];
  staleMarks?: readonly StaleMark[];
  /** Rewrite the issues of an MTR_WRITE_INVALID error (e.g. add line numbers) before it is sent. */
  onInvalid?: (issues: Record<string, unknown>[]) => void;
}

/**
 * Store a decoded request through the writer (points, then its staleness markers and metadata)
 * with the request token's scope applied to all of it: staleness markers like the series they
 * end (403 before anything is stored), metadata it may not set left out, logged and counted as
 * a `service` auth failure (server/limits/scope.ts).
 */
export async function commitWrite(ctx: AppContext, protocol: string, batch: WriteBatch, issues: IssueList, extras: CommitExtras = {}): Promise<WriteResult> {
  const principal = currentPrincipal();
  if (extras.staleMarks?.length) checkSeriesScope(principal, ctx.access, extras.staleMarks, 'staleness marker');
  let metadata: readonly MetricMetadata[] = [];
  if (extras.metadata?.length) {
    // The scope check reads which services the metric's series belong to: answered writes
    // still gathering for their insert must be in (the write-ahead log's group commit).
    if (principal?.services) await ctx.writer.settled();
    const { allowed, refused } = await metadataInScope(principal, ctx.store, extras.metadata, batch.series).catch((e: unknown) => {
      throw new MetronomeError('MTR_WRITE_STORE_FAILED', [], { cause: e, headers: { 'retry-after': '1' } });
    });
    for (const m of refused) ctx.access.fail('service', { method: 'POST', url: '(metadata)' }, { token: principal?.name, metric: m.metric });
    metadata = allowed;
  }
  try {
    return await ctx.writer.write(batch, protocol, issues, { staleMarks: extras.staleMarks, metadata });
  } catch (e) {
    if (e instanceof MetronomeError && e.code === 'MTR_WRITE_INVALID' && extras.onInvalid) {
      extras.onInvalid((e.details?.issues ?? []) as Record<string, unknown>[]);
    }
    throw e;
  }
}

/** Count a protocol request's outcome in metronome_write_requests_total. */
export async function counted<T>(ctx: AppContext, protocol: string, fn: () => Promise<T>): Promise<T> {
  try {
    const r = await fn();
    ctx.metrics.writeRequests.inc({ protocol, outcome: 'ok' });
    return r;
  } catch (e) {
    ctx.metrics.writeRequests.inc({ protocol, outcome: e instanceof MetronomeError ? e.code : 'error' });
    throw e;
  }
}

/** The decoders' per-request limits from the configuration. */
export function decodeLimits(config: Config): DecodeLimits {
  return Object.freeze({
    maxSeries: config.MAX_SERIES_PER_REQUEST,
    maxSamples: config.MAX_SAMPLES_PER_REQUEST,
    maxLabels: config.MAX_LABELS_PER_SERIES,
    maxBuckets: config.MAX_BUCKETS_PER_HISTOGRAM,
  });
}

const LIMIT_CODES: Record<DecodeLimitError['limit'], ErrorCode> = {
  maxSeries: 'MTR_WRITE_TOO_MANY_SERIES',
  maxSamples: 'MTR_WRITE_TOO_MANY_SAMPLES',
  maxLabels: 'MTR_WRITE_TOO_MANY_LABELS',
  maxBuckets: 'MTR_WRITE_TOO_MANY_BUCKETS',
};

/**
 * A decoder's limit refusal as its catalogue error (413 or 400), naming the limit and the field;
 * anything else unchanged. Counted in metronome_write_requests_total{outcome=<code>} by `counted`.
 */
export function fromDecodeLimit(e: unknown): unknown {
  if (!(e instanceof DecodeLimitError)) return e;
  const code = LIMIT_CODES[e.limit];
  return new MetronomeError(code, [e.max, e.field], { details: { limit: e.limit, max: e.max, field: e.field } });
}
