import type { FastifyInstance } from 'fastify';
import snappy from 'snappy';
import { RemoteWriteDecoder, snappyDeclaredLength, type RemoteWriteResult } from '../../ingest/decode-remote-write.js';
import { RemoteWriteV2Decoder } from '../../ingest/decode-remote-write-v2.js';
import { ProtoError } from '../../ingest/protobuf.js';
import { drainSliced } from '../../ingest/slices.js';
import { IssueList } from '../../ingest/validate.js';
import type { AppContext } from '../context.js';
import { MetronomeError } from '../errors.js';
import { addStreamedParser, rejectOtherContentTypes } from './body.js';
import { commitWrite, counted, decodeLimits, fromDecodeLimit } from './protocol-common.js';

const PROTOCOL = 'prom-remote-write';
const PROTOCOL_V2 = 'prom-remote-write-2';
const V1_MESSAGE = 'prometheus.WriteRequest';
const V2_MESSAGE = 'io.prometheus.write.v2.Request';

/** Remote write 2.0's response headers: what was written, so a sender can tell a 2.0 receiver. */
const WRITTEN = {
  samples: 'x-prometheus-remote-write-samples-written',
  histograms: 'x-prometheus-remote-write-histograms-written',
  exemplars: 'x-prometheus-remote-write-exemplars-written',
} as const;

/** The `proto=` parameter of a remote-write Content-Type (1.0's message when absent). */
function protoOf(contentType: unknown): string {
  return /proto=([^;\s]+)/.exec(String(contentType))?.[1] ?? V1_MESSAGE;
}

/**
 * POST /api/v1/write: Prometheus remote write 1.0 (snappy block-compressed protobuf
 * prometheus.WriteRequest) and 2.0 (`Content-Type: application/x-protobuf;proto=
 * io.prometheus.write.v2.Request`, decode-remote-write-v2.ts). Statuses follow the
 * remote-write specs: 204 stored; 400 for data that must not be retried (the reason in the
 * body); 415 for another message type; 429 and 503 (with Retry-After) only when a retry can
 * succeed. 2.0 answers carry the X-Prometheus-Remote-Write-*-Written headers on every answer
 * the handler gives (0 unless stored: a request is all or nothing), without which Prometheus 3
 * takes a 2xx as a 1.0 receiver that dropped the data.
 */
export async function remoteWriteRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  const decoder = new RemoteWriteDecoder();
  const decoderV2 = new RemoteWriteV2Decoder();
  const limits = decodeLimits(ctx.config);
  app.removeAllContentTypeParsers();
  addStreamedParser(app, 'application/x-protobuf', 'buffer', ctx.config.BODY_LIMIT_BYTES, (req) => {
    const proto = protoOf(req.headers['content-type']);
    if (proto === V1_MESSAGE || proto === V2_MESSAGE) return undefined;
    return new MetronomeError('MTR_WRITE_CONTENT_TYPE', [
      `application/x-protobuf;proto=${proto}`,
      `remote write 1.0 (proto=${V1_MESSAGE}) or 2.0 (proto=${V2_MESSAGE})`,
    ]);
  });
  rejectOtherContentTypes(app, `application/x-protobuf (a snappy-compressed ${V1_MESSAGE} or ${V2_MESSAGE})`);

  app.post('/api/v1/write', async (req, reply) => {
    const v2 = protoOf(req.headers['content-type']) === V2_MESSAGE;
    // Set before anything can fail, so that error answers carry them too (fastify keeps them).
    if (v2) reply.header(WRITTEN.samples, '0').header(WRITTEN.histograms, '0').header(WRITTEN.exemplars, '0');
    return counted(ctx, v2 ? PROTOCOL_V2 : PROTOCOL, async () => {
      const protocol = v2 ? PROTOCOL_V2 : PROTOCOL;
      const body = req.body;
      if (!Buffer.isBuffer(body) || body.length === 0) throw new MetronomeError('MTR_WRITE_BODY', ['empty body']);
      const raw = await uncompress(body, String(req.headers['content-encoding'] ?? 'snappy'), ctx.config.BODY_LIMIT_BYTES);
      let decoded: RemoteWriteResult;
      try {
        decoded = await drainSliced<RemoteWriteResult>(v2 ? decoderV2.steps(raw, limits) : decoder.steps(raw, limits));
      } catch (e) {
        if (e instanceof ProtoError) throw new MetronomeError('MTR_WRITE_BODY', [`protobuf ${v2 ? V2_MESSAGE : 'WriteRequest'}: ${e.message}`]);
        throw fromDecodeLimit(e);
      }
      const { batch, metadata, staleMarks, unsupported } = decoded;
      if (unsupported.histograms > 0 || unsupported.exemplars > 0) {
        const what = [
          unsupported.histograms ? `${unsupported.histograms} native histogram sample(s)` : '',
          unsupported.exemplars ? `${unsupported.exemplars} exemplar(s)` : '',
        ]
          .filter(Boolean)
          .join(' and ');
        throw new MetronomeError('MTR_WRITE_UNSUPPORTED', [
          `the request has ${what} (first in metric "${unsupported.firstMetric}"), which Metronome does not store; ` +
            'nothing was stored. Set send_native_histograms: false and send_exemplars: false under remote_write ' +
            '(or drop them with write_relabel_configs).',
        ]);
      }
      if (staleMarks.length) ctx.metrics.pointsDropped.inc({ protocol, reason: 'stale_marker' }, staleMarks.length);
      const issues = new IssueList(ctx.writer.limits.maxIssues);
      await commitWrite(ctx, protocol, batch, issues, {
        metadata,
        staleMarks,
        onInvalid: (list) => {
          // Name the series: Prometheus logs the body, and a batch index means nothing there.
          for (const issue of list) {
            const s = typeof issue.series === 'number' ? batch.series[issue.series] : undefined;
            if (s) issue.labels = { __name__: s.key, ...s.tags };
          }
        },
      });
      // Staleness markers count as written: they are samples, recorded as the series' end.
      if (v2) reply.header(WRITTEN.samples, String(batch.points + staleMarks.length));
      return reply.status(204).send();
    });
  });
}

/**
 * Undo the body's Content-Encoding: snappy (the spec's), or identity from lenient senders.
 * Not a body.ts stream decoder: snappy's block format needs the whole body at once, and its
 * header declares the decoded size, which is checked before any memory is allocated for it.
 */
async function uncompress(body: Buffer, encoding: string, limit: number): Promise<Buffer> {
  const enc = encoding.toLowerCase().trim();
  if (enc === 'identity' || enc === '') return body;
  if (enc !== 'snappy') throw new MetronomeError('MTR_WRITE_PROTOCOL_ENCODING', [enc, 'remote write', 'snappy']);
  let declared: number;
  try {
    declared = snappyDeclaredLength(body);
  } catch {
    throw new MetronomeError('MTR_WRITE_BODY', ['snappy: invalid block header']);
  }
  // Checked before decompressing, so a small body cannot claim gigabytes of memory.
  if (declared > limit) throw new MetronomeError('MTR_WRITE_TOO_LARGE', [limit]);
  try {
    // The async form runs on libuv's thread pool, off the event loop.
    return (await snappy.uncompress(body)) as Buffer;
  } catch (e) {
    throw new MetronomeError('MTR_WRITE_BODY', [`snappy: ${(e as Error).message}`]);
  }
}
