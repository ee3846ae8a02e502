import { parse as parseQs } from 'node:querystring';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MetronomeError } from '../errors.js';
import { ParamError, parseTime } from '../time.js';

/** Accept application/x-www-form-urlencoded bodies (Prometheus API clients POST forms). */
export function acceptForms(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, parseQs(body as string));
  });
}

/** All values of a parameter from the query string and a form body, e.g. match[]. */
export function paramList(req: FastifyRequest, name: string): string[] {
  const out: string[] = [];
  for (const src of [req.query, req.body]) {
    if (!src || typeof src !== 'object') continue;
    const v = (src as Record<string, unknown>)[name];
    if (Array.isArray(v)) out.push(...v.map(String));
    else if (v !== undefined) out.push(String(v));
  }
  return out;
}

/** The last value of a parameter, or undefined. */
export function paramValue(req: FastifyRequest, name: string): string | undefined {
  const all = paramList(req, name);
  return all.length ? all[all.length - 1] : undefined;
}

/**
 * A time parameter (unix seconds or RFC 3339) in unix ms; undefined when absent or empty, as
 * Prometheus reads an empty start or end. A bad one is a 400 worded as /api/v1/query words it:
 * invalid parameter "start": cannot parse "x" to a valid timestamp (unix seconds or RFC 3339).
 */
export function timeParam(req: FastifyRequest, name: string): number | undefined {
  const v = paramValue(req, name);
  if (v === undefined || v === '') return undefined;
  try {
    return parseTime(v, name);
  } catch (e) {
    if (e instanceof ParamError) throw new MetronomeError('MTR_READ_BAD_PARAM', [e.param, e.reason]);
    throw e;
  }
}
