import type { FastifyInstance } from 'fastify';
import { unpack } from 'msgpackr';
import { decodeHeroic } from '../../ingest/decode-heroic.js';
import { HeroicJsonDecoder } from '../../ingest/decode-heroic-json.js';
import type { WriteBatch } from '../../ingest/types.js';
import { IssueList } from '../../ingest/validate.js';
import type { AppContext } from '../context.js';
import { MetronomeError } from '../errors.js';
import type { DecodeLimits } from '../../ingest/decode-limits.js';
import { acceptCompressedBodies, addStreamedParser, rejectOtherContentTypes } from './body.js';
import { announceWrites, commitWrite, counted, decodeLimits, fromDecodeLimit } from './protocol-common.js';

const MSGPACK = ['application/msgpack', 'application/x-msgpack', 'application/vnd.msgpack'];

/**
 * Bodies stay bytes until the handler. A plain JSON body is read from its bytes by `json`, which
 * parses only series objects it has not seen before (a hand-written parser of whole bodies was
 * measured 2-3x slower than JSON.parse + decodeHeroic and dropped; skipping the repeated series
 * objects is what pays). Anything else, and every body with an issue, goes through V8's
 * JSON.parse + decodeHeroic, so error answers come from one place. fastify's own JSON parser is
 * skipped: its __proto__ scan costs time and bodies are never merged into objects.
 */
function decodeBody(body: Buffer, msgpack: boolean, issues: IssueList, limits: DecodeLimits, json: HeroicJsonDecoder): WriteBatch {
  if (body.length === 0) throw new MetronomeError('MTR_WRITE_BODY', ['empty body']);
  if (!msgpack) {
    const plain = json.decode(body, limits);
    if (plain !== null) return plain;
  }
  let tree: unknown;
  try {
    tree = msgpack ? unpack(body) : JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new MetronomeError('MTR_WRITE_BODY', [`${msgpack ? 'msgpack' : 'JSON'}: ${(e as Error).message}`]);
  }
  try {
    return decodeHeroic(tree, issues, limits);
  } catch (e) {
    throw fromDecodeLimit(e);
  }
}

function heroicAnswer(query: unknown, header: string | string[] | undefined): boolean {
  const q = (query as Record<string, unknown> | undefined)?.format;
  return q === 'heroic' || header === 'heroic';
}

/** POST /write: Heroic's write API, JSON or msgpack bodies, optionally gzip-compressed. */
export async function writeRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  const limits = decodeLimits(ctx.config);
  const json = new HeroicJsonDecoder();
  app.removeAllContentTypeParsers();
  acceptCompressedBodies(app);
  announceWrites(app, ctx.writer);
  addStreamedParser(app, ['application/json', ...MSGPACK], 'buffer', ctx.config.BODY_LIMIT_BYTES);
  rejectOtherContentTypes(app, 'application/json or application/msgpack');

  app.post('/write', async (req, reply) => {
    const msgpack = req.headers['content-type']?.includes('msgpack') ?? false;
    const protocol = msgpack ? 'heroic-msgpack' : 'heroic-json';
    return counted(ctx, protocol, async () => {
      if (!Buffer.isBuffer(req.body)) throw new MetronomeError('MTR_WRITE_BODY', ['empty body']);
      const issues = new IssueList(ctx.writer.limits.maxIssues);
      const batch = decodeBody(req.body, msgpack, issues, limits, json);
      const started = performance.now();
      const r = await commitWrite(ctx, protocol, batch, issues);
      // Heroic's WriteMetric answer when asked for (?format=heroic or x-response-format: heroic):
      // its clients read errors and the per-write times (ms).
      if (heroicAnswer(req.query, req.headers['x-response-format'])) return reply.send({ errors: [], times: [Math.round(performance.now() - started)] });
      return reply.send({ ok: true, series: r.series, points: r.points });
    });
  });
}
