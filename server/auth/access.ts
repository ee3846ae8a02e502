import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config.js';
import { MetronomeError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { RateLimiter } from '../limits/rate.js';
import { currentPrincipal, runAs } from './context.js';
import { presentedToken } from './credentials.js';
import { scopeFor } from './scopes.js';
import { loadTokens, SCOPES, type Principal, type TokenSet } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request (set by the access-control hook). */
    principal?: Principal;
  }
}

/** Everyone, when access control is off (loopback demo, or AUTH=off). */
const ANONYMOUS: Principal = Object.freeze({ name: 'anonymous', scopes: new Set(SCOPES), services: null });
/** In-process calls (app.inject) made outside any request. */
const INTERNAL: Principal = Object.freeze({ name: 'internal', scopes: new Set(SCOPES), services: null });

export type FailureReason = 'missing' | 'invalid' | 'forbidden' | 'service';

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

/**
 * Access control: the tokens, the per-token request rate, failure accounting. Built from the
 * config at start (before the store opens, so a bad token file or an unsafe exposure stops the
 * start with one line).
 */
export class Access {
  readonly enforced: boolean;
  readonly limiter: RateLimiter;
  #metrics?: Metrics;
  #log?: Logger;
  #logBudget = { at: 0, left: 0, suppressed: 0 };

  /** `now` drives the rate limits' buckets (tests pass a manual clock's). */
  constructor(
    readonly config: Config,
    readonly tokens: TokenSet,
    now: () => number = Date.now,
  ) {
    if (config.AUTH === 'off') this.enforced = false;
    else if (config.AUTH === 'on' && tokens.size === 0) {
      throw new ConfigError('AUTH=on but no tokens are configured; set AUTH_TOKENS or AUTH_TOKENS_FILE');
    } else if (tokens.size > 0) this.enforced = true;
    else if (isLoopback(config.HOST)) this.enforced = false;
    else {
      throw new ConfigError(
        `refusing to listen on HOST=${config.HOST} without access control: set AUTH_TOKENS or AUTH_TOKENS_FILE, or AUTH=off to serve it open`,
      );
    }
    this.limiter = new RateLimiter(config.RATE_LIMIT_BURST_SECONDS, now);
  }

  /** `now`: the rate limiters' clock (tests inject one). */
  static fromConfig(config: Config, now?: () => number): Access {
    return new Access(config, loadTokens(config), now);
  }

  /** Attach metrics and log (they exist only once the store is open). */
  attach(metrics: Metrics, log: Logger): void {
    this.#metrics = metrics;
    this.#log = log;
  }

  /** Count and log a refused request, without the token (at most 20 log lines a second). */
  fail(reason: FailureReason, req: { method: string; url: string; ip?: string }, extra: Record<string, unknown> = {}): void {
    this.#metrics?.authFailures.inc({ reason });
    const now = Date.now();
    const b = this.#logBudget;
    if (now - b.at >= 1000) {
      if (b.suppressed) this.#log?.warn({ suppressed: b.suppressed }, 'access denied (more lines suppressed)');
      b.at = now;
      b.left = 20;
      b.suppressed = 0;
    }
    if (b.left-- > 0) this.#log?.warn({ reason, method: req.method, path: req.url.split('?')[0], ip: req.ip, ...extra }, 'access denied');
    else b.suppressed++;
  }

  /** Who sent `req` (throws 401/403/429). */
  authorize(req: FastifyRequest): Principal {
    const need = scopeFor(req.method, req.routeOptions.url);
    // In-process calls (a route calling another through app.inject) act as their caller.
    if ('_lightMyRequest' in req.raw && req.headers.authorization === undefined) {
      const caller = currentPrincipal() ?? INTERNAL;
      if (need !== 'open' && !caller.scopes.has(need)) {
        this.fail('forbidden', req, { token: caller.name, need });
        throw new MetronomeError('MTR_AUTH_FORBIDDEN', [JSON.stringify(caller.name), need, req.method, req.url.split('?')[0]]);
      }
      return caller;
    }
    if (need === 'open') return ANONYMOUS;
    let p: Principal;
    if (!this.enforced) p = ANONYMOUS;
    else {
      // Influx 1.x clients can put the token only in the URL (?u=&p=); nothing else may.
      const presented = presentedToken(req.headers, req.url, req.routeOptions.url?.startsWith('/influx/') ?? false);
      const path = req.url.split('?')[0];
      if (presented.kind === 'none') {
        this.fail('missing', req);
        throw new MetronomeError('MTR_AUTH_REQUIRED', [req.method, path], { headers: { 'www-authenticate': 'Bearer realm="metronome"' } });
      }
      const found = presented.kind === 'token' ? this.tokens.verify(presented.token) : null;
      if (!found) {
        this.fail('invalid', req, { via: presented.kind === 'token' ? presented.via : presented.scheme });
        throw new MetronomeError('MTR_AUTH_INVALID', [], { headers: { 'www-authenticate': 'Bearer realm="metronome", error="invalid_token"' } });
      }
      if (!found.scopes.has(need)) {
        this.fail('forbidden', req, { token: found.name, need });
        throw new MetronomeError('MTR_AUTH_FORBIDDEN', [JSON.stringify(found.name), need, req.method, path], {
          details: { token: found.name, scope: need, scopes: [...found.scopes] },
        });
      }
      p = found;
    }
    const rate = p.requestsPerSecond ?? this.config.RATE_LIMIT_REQUESTS;
    const wait = this.limiter.take(`req:${p.name}`, rate, 1);
    if (wait > 0) {
      this.#metrics?.rateLimited.inc({ kind: 'requests' });
      throw new MetronomeError('MTR_RATE_LIMIT_REQUESTS', [JSON.stringify(p.name), rate, wait], { headers: { 'retry-after': String(wait) } });
    }
    return p;
  }
}

/**
 * Check every request's token against the scope its route needs (server/auth/scopes.ts), and
 * make the principal visible to the code the handler calls (the writer's admission check).
 */
export function installAccessControl(app: FastifyInstance, access: Access): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', (req, _reply, done) => {
    try {
      req.principal = access.authorize(req);
      done();
    } catch (e) {
      done(e as Error);
    }
  });
  // Entered last thing before the handler (after the body is read), so the whole handler runs in it.
  app.addHook('preHandler', (req, _reply, done) => {
    if (req.principal) runAs(req.principal, done);
    else done();
  });
}
