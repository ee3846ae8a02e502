import { parse as parseQs } from 'node:querystring';
import type { FastifyInstance, FastifyRequest } from 'fastify';

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
