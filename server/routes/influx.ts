import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { InfluxDecoder, precisionOf, V2_PRECISIONS } from '../../ingest/decode-influx.js';
import { drainSliced } from '../../ingest/slices.js';
import { IssueList } from '../../ingest/validate.js';
import { toMetronomeError } from './errors.js';
import type { AppContext } from '../context.js';
import { MetronomeError } from '../errors.js';
import { acceptCompressedBodies, addStreamedParser } from './body.js';
import { commitWrite, counted, decodeLimits, fromDecodeLimit } from './protocol-common.js';

const PROTOCOL = 'influx';

/**
 * InfluxDB line protocol: POST /influx/write (1.x: db, rp, precision=n|ns|u|us|ms|s|m|h) and
 * POST /influx/api/v2/write (2.x: bucket, org, precision=ns|us|ms|s). Clients point their
 * InfluxDB URL at http://host:port/influx. Metronome has one namespace: db, rp, bucket and org
 * are accepted and not stored. 204 on success; any invalid line rejects the whole request with
 * every problem's line number, and nothing is stored. GET/HEAD /influx/ping answers 204 for
 * clients that check the server first. Errors use InfluxDB's body shape (see the handler).
 */
export async function influxRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  const decoder = new InfluxDecoder();
  const limits = decodeLimits(ctx.config);
  app.removeAllContentTypeParsers();
  acceptCompressedBodies(app);
  // Clients send text/plain, nothing, or (curl --data-binary) a form type: the body is the same.
  addStreamedParser(app, '*', 'text', ctx.config.BODY_LIMIT_BYTES);

  // Errors in InfluxDB's shape, {"error": "..."}, which Telegraf and the 1.x clients read (an
  // unreadable body makes Telegraf retry a bad batch forever; "unable to parse" makes it drop
  // it), with Metronome's code and issues alongside.
  app.setErrorHandler((err: FastifyError | MetronomeError, req, reply) => {
    const e = toMetronomeError(err, ctx);
    if (e.status >= 500) req.log.error({ err }, e.message);
    if (e.headers) reply.headers(e.headers);
    const details = e.details ?? {};
    const issues = (details.issues ?? []) as { message?: string }[];
    const text =
      (e.code === 'MTR_WRITE_INVALID' ? 'unable to parse: ' : '') +
      e.message +
      (issues.length ? ': ' + issues.slice(0, 10).map((i) => i.message).join('; ') : '');
    return reply.status(e.status).header('x-influxdb-error', text.slice(0, 1000).replace(/[^\x20-\x7e]/g, '?')).send({
      error: text,
      code: e.code,
      message: e.message,
      ...details,
    });
  });

  const write = (v2: boolean) => async (req: FastifyRequest) => {
    const q = req.query as Record<string, string | string[] | undefined>;
    const name = last(q.precision);
    const precision = v2 && name !== undefined && !V2_PRECISIONS.includes(name) ? undefined : precisionOf(name);
    if (!precision) {
      throw new MetronomeError('MTR_WRITE_BAD_PARAM', [
        'precision',
        `${JSON.stringify(name)} is not one of ${v2 ? V2_PRECISIONS.join(', ') : 'n, ns, u, us, ms, s, m, h'}`,
      ]);
    }
    const body = req.body;
    const text = typeof body === 'string' ? body : '';
    const issues = new IssueList(ctx.writer.limits.maxIssues);
    const now = Date.now();
    let decoded;
    try {
      decoded = await drainSliced(decoder.steps(text, precision, now, issues, false, limits));
    } catch (e) {
      throw fromDecodeLimit(e);
    }
    const { batch, lineCount } = decoded;
    if (lineCount === 0) throw new MetronomeError('MTR_WRITE_BODY', ['no lines in the body (line protocol expected)']);
    try {
      await commitWrite(ctx, PROTOCOL, batch, issues);
    } catch (e) {
      if (!(e instanceof MetronomeError) || e.code !== 'MTR_WRITE_INVALID') throw e;
      // Validation issues point at (series, point) of the batch: say which line instead. The
      // line of each point is worked out only now, by decoding the same text again (in slices).
      const { lines } = await drainSliced(decoder.steps(text, precision, now, new IssueList(), true, limits));
      for (const issue of (e.details?.issues ?? []) as Record<string, unknown>[]) {
        if (issue.line !== undefined || typeof issue.series !== 'number') continue;
        const line = lines![issue.series]?.[typeof issue.point === 'number' ? issue.point : 0];
        if (line === undefined) continue;
        issue.line = line;
        issue.message = `line ${line}: ${String(issue.message)}`;
        delete issue.series;
        delete issue.point;
      }
      throw e;
    }
  };

  app.post('/influx/write', async (req, reply) => {
    await counted(ctx, PROTOCOL, () => write(false)(req));
    return reply.status(204).send();
  });
  app.post('/influx/api/v2/write', async (req, reply) => {
    await counted(ctx, PROTOCOL, () => write(true)(req));
    return reply.status(204).send();
  });
  app.route({
    method: ['GET', 'HEAD'],
    url: '/influx/ping',
    handler: async (_req, reply) => reply.status(204).header('x-influxdb-version', 'metronome').send(),
  });
}

function last(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[v.length - 1] : v;
}
