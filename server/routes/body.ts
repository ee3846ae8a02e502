import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { Transform, type Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
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

/** What a streamed body becomes: the bytes, or the text decoded as UTF-8. */
export type BodyAs = 'buffer' | 'text';

/** The most a body's buffer starts with, whatever its Content-Length says. */
const FIRST_BUFFER = 1024 * 1024;

/**
 * Parse `types` by collecting the body while it arrives, instead of fastify's `parseAs`, which
 * keeps the chunks and joins them at the end: for a 15 MB body that join (a copy) and the one
 * UTF-8 decode of the whole ran in one turn of the event loop, 100-120 ms of it. Here each chunk
 * is copied into a buffer sized from Content-Length up to 1 MiB (grown by doubling past that,
 * and without one, as for compressed bodies) or decoded to text as it comes, so the work is
 * spread over the chunks' turns. The same checks as fastify's: BODY_LIMIT_BYTES on the decoded and the received size
 * (413), Content-Length against what came (400).
 */
export function addStreamedParser(
  app: FastifyInstance,
  types: string | string[],
  as: BodyAs,
  limit: number,
  /** A refusal decided from the headers, before any of the body is read. */
  refuse: (req: FastifyRequest) => MetronomeError | undefined = () => undefined,
): void {
  app.addContentTypeParser(types, (req: FastifyRequest, payload: IncomingMessage) => {
    const refusal = refuse(req);
    return refusal ? Promise.reject(refusal) : readBody(req, payload, as, limit);
  });
}

function readBody(req: FastifyRequest, payload: Readable, as: BodyAs, limit: number): Promise<Buffer | string> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
  const source = payload as Readable & { receivedEncodedLength?: number };
  return new Promise((resolve, reject) => {
    let received = 0;
    const text = as === 'text' ? new StringDecoder('utf8') : null;
    const parts: string[] = [];
    // A declared length is a claim, not bytes: reserve at most FIRST_BUFFER for it, so idle
    // connections that announce 32 MB hold nothing like it.
    let buf = Buffer.allocUnsafe(text ? 0 : Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, FIRST_BUFFER) : 64 * 1024);
    const stop = () => {
      source.removeListener('data', onData);
      source.removeListener('end', onEnd);
      source.removeListener('error', onEnd);
    };
    function onData(chunk: Buffer | string) {
      const c = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const at = received;
      received += c.length;
      if (received > limit || (source.receivedEncodedLength ?? 0) > limit) {
        stop();
        reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
        return;
      }
      if (text) {
        const s = text.write(c);
        if (s.length > 0) parts.push(s);
        return;
      }
      if (received > buf.length) {
        const grown = Buffer.allocUnsafe(Math.min(limit, Math.max(received, buf.length * 2)));
        buf.copy(grown, 0, 0, at);
        buf = grown;
      }
      c.copy(buf, at);
    }
    function onEnd(err?: Error & { statusCode?: number }) {
      stop();
      if (err) {
        if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
        reject(err);
        return;
      }
      if (!Number.isNaN(declared) && (source.receivedEncodedLength || received) !== declared) {
        reject(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
        return;
      }
      if (!text) {
        resolve(buf.subarray(0, received));
        return;
      }
      const rest = text.end();
      if (rest.length > 0) parts.push(rest);
      resolve(parts.length === 1 ? parts[0] : parts.join(''));
    }
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', onEnd);
    source.resume();
  });
}
