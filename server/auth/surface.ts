/**
 * The HTTP surface a browser can reach, closed the way Prometheus' and Grafana's are:
 * - **Host allow-list.** In open mode (no tokens, loopback only) a web page elsewhere can make
 *   the browser talk to Metronome through DNS rebinding, under a name it controls. Requests
 *   must name a loopback host, or one of `ALLOWED_HOSTS`; with tokens the list applies only
 *   when it is set.
 * - **No state change from another site.** A browser sends `Origin` (and `Sec-Fetch-Site`) on a
 *   cross-site POST, PUT or DELETE, and may send a "simple" one (`text/plain`, a form) without
 *   asking first: such a request is refused whatever its content type. Clients that are not
 *   browsers send neither header.
 * - **Refusals close the connection**, so a client trickling a body after its 401, 403, 413 or
 *   429 does not hold a socket until the request timeout.
 * The connection cap (`MAX_CONNECTIONS`) is set on the server in app.ts; the UI's
 * Content-Security-Policy in routes/web.ts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { MetronomeError } from '../errors.js';
import { isLoopback } from './access.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const PROBES = new Set(['/healthz', '/readyz']);
/** Statuses answered before a request's body is wanted. */
const REFUSALS = new Set([401, 403, 413, 421, 429]);

/** The host name of a Host header or URL authority, without port or brackets, lower case. */
function hostName(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) return a.slice(1, a.indexOf(']') < 0 ? undefined : a.indexOf(']'));
  const colon = a.lastIndexOf(':');
  return colon >= 0 && a.indexOf(':') === colon ? a.slice(0, colon) : a;
}

/** ALLOWED_HOSTS as names (lower case); `*` allows any. */
function allowedHosts(config: Config): string[] {
  return config.ALLOWED_HOSTS.split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
}

/** Whether a request naming `host` may be served (open: access control is off). */
function hostAllowed(host: string | undefined, allowed: readonly string[], open: boolean): boolean {
  if (allowed.includes('*')) return true;
  if (!open && allowed.length === 0) return true;
  if (host === undefined) return false;
  const name = hostName(host);
  return isLoopback(name) || allowed.includes(name);
}

/** Why a state-changing request comes from another site, or null when it does not. */
function crossSite(req: Pick<FastifyRequest, 'method' | 'headers'>): string | null {
  if (SAFE_METHODS.has(req.method)) return null;
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return `Sec-Fetch-Site: ${site}`;
  const origin = req.headers.origin;
  if (origin === undefined || origin === 'null') return origin === 'null' ? 'Origin: null' : null;
  let originHost: string;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    return `Origin: ${origin.slice(0, 100)}`;
  }
  const host = String(req.headers.host ?? '').toLowerCase();
  return originHost === host ? null : `Origin: ${origin.slice(0, 100)}`;
}

export function installSurface(app: FastifyInstance, config: Config, open: boolean): void {
  const allowed = allowedHosts(config);
  app.addHook('onRequest', (req, _reply, done) => {
    // In-process calls (app.inject) come from this process; health probes name whatever address
    // the prober used, and answer nothing worth rebinding for.
    if ('_lightMyRequest' in req.raw || PROBES.has(req.url)) return done();
    if (!hostAllowed(req.headers.host, allowed, open)) {
      return done(new MetronomeError('MTR_HOST_NOT_ALLOWED', [JSON.stringify(String(req.headers.host ?? '').slice(0, 100))]));
    }
    const why = crossSite(req);
    if (why) return done(new MetronomeError('MTR_CROSS_SITE', [req.method, req.url.split('?')[0], why]));
    done();
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    if (REFUSALS.has(reply.statusCode)) reply.header('connection', 'close');
    return payload;
  });
}
