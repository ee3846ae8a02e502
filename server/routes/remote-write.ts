import type { FastifyInstance } from 'fastify';
import snappy from 'snappy';
import { RemoteWriteDecoder, snappyDeclaredLength } from '../../ingest/decode-remote-write.js';
import { ProtoError } from '../../ingest/protobuf.js';
import { drainSliced } from '../../ingest/slices.js';
import { IssueList } from '../../ingest/validate.js';
import { MetronomeError } from '../errors.js';
import { rejectOtherContentTypes } from './body.js';
import { commitWrite, counted, decodeLimits, fromDecodeLimit, type ProtocolShared } from './protocol-common.js';

const PROTOCOL = 'prom-remote-write';

/**
 * POST /api/v1/write: Prometheus remote write 1.0 (snappy block-compressed protobuf
 * WriteRequest). Statuses follow the remote-write spec: 204 stored; 400 for data that must not
 * be retried (the reason in the body); 429 and 503 (with Retry-After) only when a retry can
 * succeed. Remote write 2.0 requests get 415, on which Prometheus falls back to 1.0.
 */
export async function remoteWriteRoutes(app: FastifyInstance, { shared }: { shared: ProtocolShared }): Promise<void> {
  const { ctx } = shared;
  const decoder = new RemoteWriteDecoder();
  const limits = decodeLimits(ctx.config);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-protobuf', { parseAs: 'buffer' }, (req, body, done) => {
    const proto = /proto=([^;\s]+)/.exec(String(req.headers['content-type']))?.[1];
    if (proto !== undefined && proto !== 'prometheus.WriteRequest') {
      done(
        new MetronomeError('MTR_WRITE_CONTENT_TYPE', [
          `application/x-protobuf;proto=${proto} (remote write 2.0)`,
          'remote write 1.0 (protobuf_message: prometheus.WriteRequest)',
        ]),
        undefined,
      );
      return;
    }
    done(null, body);
  });
  rejectOtherContentTypes(app, 'application/x-protobuf (a snappy-compressed prometheus.WriteRequest)');

  app.post('/api/v1/write', async (req, reply) =>
    counted(ctx, PROTOCOL, async () => {
      const body = req.body;
      if (!Buffer.isBuffer(body) || body.length === 0) throw new MetronomeError('MTR_WRITE_BODY', ['empty body']);
      const raw = await uncompress(body, String(req.headers['content-encoding'] ?? 'snappy'), ctx.config.BODY_LIMIT_BYTES);
      let decoded;
      try {
        decoded = await drainSliced(decoder.steps(raw, limits));
      } catch (e) {
        if (e instanceof ProtoError) throw new MetronomeError('MTR_WRITE_BODY', [`protobuf WriteRequest: ${e.message}`]);
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
      if (staleMarks.length) ctx.metrics.pointsDropped.inc({ protocol: PROTOCOL, reason: 'stale_marker' }, staleMarks.length);
      const issues = new IssueList(ctx.writer.limits.maxIssues);
      await commitWrite(shared, PROTOCOL, batch, issues, {
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
      return reply.status(204).send();
    }),
  );
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
