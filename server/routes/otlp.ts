import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { decodeOtlpSteps, OtlpDecodeError, otlpResponse, otlpStatus, parseOtlpJson, parseOtlpProtobufSteps } from '../../ingest/decode-otlp.js';
import { drainSliced } from '../../ingest/slices.js';
import { IssueList } from '../../ingest/validate.js';
import { toMetronomeError } from './errors.js';
import type { AppContext } from '../context.js';
import { MetronomeError } from '../errors.js';
import { acceptCompressedBodies, addStreamedParser, rejectOtherContentTypes } from './body.js';
import { commitWrite, counted, decodeLimits, fromDecodeLimit } from './protocol-common.js';

const PROTOCOL = 'otlp';

/** gRPC status codes for the google.rpc.Status body, by HTTP status (OTLP/HTTP spec). */
function grpcCode(status: number): number {
  if (status === 429) return 8; // RESOURCE_EXHAUSTED
  if (status === 503 || status === 502 || status === 504) return 14; // UNAVAILABLE
  if (status >= 500) return 13; // INTERNAL
  return 3; // INVALID_ARGUMENT
}

function isJson(req: FastifyRequest): boolean {
  return String(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json');
}

/**
 * POST /v1/metrics: OTLP/HTTP metrics, binary protobuf or JSON, optionally gzip. Answers per the
 * OTLP/HTTP spec: 200 with an ExportMetricsServiceResponse in the request's encoding (with
 * partial_success when some points were not stored, and why); 4xx/5xx with a google.rpc.Status;
 * 429 and 503 are the retryable ones and carry Retry-After.
 */
export async function otlpRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  const limits = decodeLimits(ctx.config);
  app.removeAllContentTypeParsers();
  acceptCompressedBodies(app);
  addStreamedParser(app, ['application/x-protobuf', 'application/json'], 'buffer', ctx.config.BODY_LIMIT_BYTES);
  rejectOtherContentTypes(app, 'application/x-protobuf or application/json (OTLP/HTTP)');

  app.setErrorHandler((err: FastifyError | MetronomeError, req, reply) => {
    const e = toMetronomeError(err, ctx);
    if (e.status >= 500) req.log.error({ err }, e.message);
    if (e.headers) reply.headers(e.headers);
    const json = isJson(req);
    const issues = (e.details?.issues ?? []) as { message?: string }[];
    const detail = issues.length ? ': ' + issues.slice(0, 10).map((i) => i.message).join('; ') : '';
    return reply
      .status(e.status)
      .type(json ? 'application/json' : 'application/x-protobuf')
      .send(otlpStatus(json, grpcCode(e.status), `${e.code}: ${e.message}${detail}`));
  });

  app.post('/v1/metrics', async (req, reply) => {
    const json = isJson(req);
    const out = await counted(ctx, PROTOCOL, async () => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let parsed;
      try {
        parsed = json ? parseOtlpJson(body.toString('utf8'), limits) : await drainSliced(parseOtlpProtobufSteps(body, limits));
      } catch (e) {
        if (e instanceof OtlpDecodeError) throw new MetronomeError('MTR_WRITE_BODY', [e.message]);
        throw fromDecodeLimit(e);
      }
      const issues = new IssueList(ctx.writer.limits.maxIssues);
      let decoded;
      try {
        decoded = await drainSliced(decodeOtlpSteps(parsed, Date.now(), issues, limits));
      } catch (e) {
        throw fromDecodeLimit(e);
      }
      const { batch, origins, metadata, staleMarks, rejected, rejectedReasons } = decoded;
      if (staleMarks.length) ctx.metrics.pointsDropped.inc({ protocol: PROTOCOL, reason: 'no_recorded_value' }, staleMarks.length);
      if (rejected) ctx.metrics.pointsDropped.inc({ protocol: PROTOCOL, reason: 'unsupported' }, rejected);
      await commitWrite(ctx, PROTOCOL, batch, issues, {
        metadata,
        staleMarks,
        onInvalid: (list) => {
          for (const issue of list) {
            if (typeof issue.series !== 'number' || origins[issue.series] === undefined) continue;
            issue.message = `${origins[issue.series]}: ${String(issue.message)}`;
            issue.field = `${origins[issue.series]}${issue.field ? ` (${String(issue.field)})` : ''}`;
            delete issue.series;
            delete issue.point;
          }
        },
      });
      return otlpResponse(json, rejected, rejectedReasons.join('; '));
    });
    return reply
      .status(200)
      .type(json ? 'application/json' : 'application/x-protobuf')
      .send(typeof out === 'string' ? out : Buffer.from(out.buffer, out.byteOffset, out.byteLength));
  });
}
