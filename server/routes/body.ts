import { Transform, type Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MetronomeError } from '../errors.js';

/**
 * Request-body helpers shared by every write protocol: Content-Encoding (gzip, deflate) is
 * undone before parsing, and fastify's body limit then applies to the decoded size, so a
 * small compressed bomb cannot grow past BODY_LIMIT_BYTES.
 */
export function acceptCompressedBodies(app: FastifyInstance, extra: Record<string, () => Transform> = {}): void {
  const decoders: Record<string, () => Transform> = { gzip: createGunzip, deflate: createInflate, ...extra };
  app.addHook('preParsing', async (req: FastifyRequest, _reply, payload: Readable) => {
    const enc = String(req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
    if (enc === 'identity' || enc === '') return payload;
    const make = decoders[enc];
    if (!make) throw new MetronomeError('MTR_WRITE_ENCODING', [enc]);
    let encoded = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        encoded += chunk.length;
        cb(null, chunk);
      },
    });
    const decoded = payload.pipe(counter).pipe(make());
    payload.on('error', (e) => decoded.destroy(e));
    // fastify compares this with Content-Length instead of the decoded size.
    Object.defineProperty(decoded, 'receivedEncodedLength', { get: () => encoded });
    decoded.on('error', () => {});
    return decoded;
  });
}

/** Reject content types a route does not speak with 415 naming what it does speak. */
export function rejectOtherContentTypes(app: FastifyInstance, accepted: string): void {
  app.addContentTypeParser('*', (req, _payload, done) => {
    done(new MetronomeError('MTR_WRITE_CONTENT_TYPE', [String(req.headers['content-type'] ?? 'none'), accepted]), undefined);
  });
}
