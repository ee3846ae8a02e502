import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { MetronomeError } from '../errors.js';
import { WEB_DIST } from '../paths.js';

/**
 * The web UI: static files from web/dist (built by `npm run build:web`), with the SPA fallback
 * (any UI route gets index.html). Hashed assets are cached for a year; index.html is revalidated
 * so a new build is picked up. A handful of files, so they are served from memory with a gzip
 * copy made once per file version, without @fastify/static.
 */

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Paths that belong to the APIs: never answered with index.html. */
const API_PREFIXES = ['/api/', '/write', '/metrics', '/healthz', '/readyz', '/federate', '/v1/', '/opentelemetry'];

interface Cached {
  mtimeMs: number;
  size: number;
  body: Buffer;
  gzip: Buffer | null;
  etag: string;
}

export async function webRoutes(app: FastifyInstance, { ctx, root = WEB_DIST }: { ctx: AppContext; root?: string }): Promise<void> {
  const cache = new Map<string, Cached>();

  /** Read a file under root (cached while its mtime and size are unchanged); null if absent. */
  async function load(rel: string): Promise<Cached | null> {
    const file = normalize(join(root, rel));
    if (file !== root && !file.startsWith(root + sep)) return null; // ../ escapes
    let st;
    try {
      st = await stat(file);
    } catch {
      return null;
    }
    if (!st.isFile()) return null;
    const hit = cache.get(file);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit;
    const body = await readFile(file);
    const type = MIME[extname(file)] ?? '';
    const compressible = type.startsWith('text/') || type.startsWith('application/json') || type === 'image/svg+xml';
    const gzip = compressible && body.length > 1024 ? gzipSync(body, { level: 9 }) : null;
    const entry = { mtimeMs: st.mtimeMs, size: st.size, body, gzip, etag: `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"` };
    cache.set(file, entry);
    return entry;
  }

  function send(req: FastifyRequest, reply: FastifyReply, file: Cached, type: string, cacheControl: string) {
    if (type.startsWith('text/html')) reply.header('content-security-policy', contentSecurityPolicy(file.body)).header('x-frame-options', 'DENY');
    reply.header('content-type', type).header('cache-control', cacheControl).header('etag', file.etag).header('vary', 'accept-encoding');
    reply.header('x-content-type-options', 'nosniff');
    if (req.headers['if-none-match'] === file.etag) return reply.status(304).send();
    const gz = file.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    if (gz) reply.header('content-encoding', 'gzip');
    return reply.send(gz ? file.gzip : file.body);
  }

  const notBuilt = `<!doctype html><meta charset="utf-8"><title>Metronome</title>
<body style="font:16px system-ui;margin:3rem;max-width:40rem">
<h1>Metronome</h1><p>The web UI has not been built. Run <code>npm run build:web</code> (or <code>npm start</code>, which builds everything), then reload.</p>
<p>The APIs are up: <a href="/api/v1/services">/api/v1/services</a>, <a href="/metrics">/metrics</a>.</p></body>`;

  app.route({
    method: ['GET', 'HEAD'],
    url: '/*',
    handler: async (req, reply) => {
      let path: string;
      try {
        path = decodeURIComponent(req.url.split('?')[0]);
      } catch {
        throw new MetronomeError('MTR_READ_BAD_PARAM', ['path', 'malformed percent-encoding']);
      }
      if (API_PREFIXES.some((p) => path === p.replace(/\/$/, '') || path.startsWith(p))) {
        throw new MetronomeError('MTR_NOT_FOUND', [req.method, path]);
      }
      const ext = extname(path);
      if (ext && path !== '/index.html') {
        const file = await load(path);
        if (!file) throw new MetronomeError('MTR_NOT_FOUND', [req.method, path]);
        const immutable = path.startsWith('/assets/');
        return send(req, reply, file, MIME[ext] ?? 'application/octet-stream', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      }
      // A UI route (/, /services/x, /explore...): the app decides what to show.
      const index = await load('index.html');
      if (!index) {
        ctx.log.debug('web/dist/index.html is missing: serving the build hint');
        return reply
          .type('text/html; charset=utf-8')
          .header('cache-control', 'no-cache')
          .header('content-security-policy', contentSecurityPolicy(Buffer.from(notBuilt)))
          .header('x-frame-options', 'DENY')
          .send(notBuilt);
      }
      return send(req, reply, index, MIME['.html'], 'no-cache');
    },
  });
}

const policies = new WeakMap<Buffer, string>();

/**
 * The UI's Content-Security-Policy: scripts from this origin and the page's own inline script
 * (the theme switch before first paint, by its hash), no framing by any site, requests to this
 * origin only. Styles may be inline (charts and layout set style attributes).
 */
function contentSecurityPolicy(html: Buffer): string {
  let csp = policies.get(html);
  if (csp) return csp;
  const hashes = [...html.toString('utf8').matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`);
  csp = [
    "default-src 'self'",
    `script-src 'self'${hashes.map((h) => ' ' + h).join('')}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  policies.set(html, csp);
  return csp;
}
