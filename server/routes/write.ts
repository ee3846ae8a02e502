import type { FastifyInstance } from 'fastify';
import { unpack } from 'msgpackr';
import { decodeHeroic } from '../../ingest/decode-heroic.js';
import { IssueList } from '../../ingest/validate.js';
import type { AppContext } from '../app.js';
import { MetronomeError } from '../errors.js';
import { acceptCompressedBodies, rejectOtherContentTypes } from './body.js';

/** POST /write: Heroic's write API, JSON or msgpack bodies, optionally gzip-compressed. */
export async function writeRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  app.removeAllContentTypeParsers();
  acceptCompressedBodies(app);
  // JSON.parse straight from the buffer: fastify's default parser scans for __proto__, which we
  // do not need (bodies are never merged into objects) and which costs ~20% on large bodies.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, JSON.parse((body as Buffer).toString('utf8')));
    } catch (e) {
      done(new MetronomeError('MTR_WRITE_BODY', [(e as Error).message]), undefined);
    }
  });
  app.addContentTypeParser(['application/msgpack', 'application/x-msgpack', 'application/vnd.msgpack'], { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, unpack(body as Buffer));
    } catch (e) {
      done(new MetronomeError('MTR_WRITE_BODY', [`msgpack: ${(e as Error).message}`]), undefined);
    }
  });
  rejectOtherContentTypes(app, 'application/json or application/msgpack');

  app.post('/write', async (req, reply) => {
    const protocol = req.headers['content-type']?.includes('msgpack') ? 'heroic-msgpack' : 'heroic-json';
    if (req.body === undefined) throw new MetronomeError('MTR_WRITE_BODY', ['empty body']);
    const issues = new IssueList(ctx.writer.limits.maxIssues);
    const batch = decodeHeroic(req.body, issues);
    try {
      const r = await ctx.writer.write(batch, protocol, issues);
      ctx.metrics.writeRequests.inc({ protocol, outcome: 'ok' });
      return reply.send({ ok: true, series: r.series, points: r.points });
    } catch (e) {
      ctx.metrics.writeRequests.inc({ protocol, outcome: e instanceof MetronomeError ? e.code : 'error' });
      throw e;
    }
  });
}
