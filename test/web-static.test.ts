import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../server/context.js';
import { isMetronomeError } from '../server/errors.js';
import { webRoutes } from '../server/routes/web.js';
import { tempDir } from './helpers.js';

// The static file plugin on its own, over a temporary "dist" folder: no build needed.
let app: FastifyInstance;
let root: string;
const big = `console.log(${JSON.stringify('x'.repeat(5000))});`;

beforeAll(async () => {
  root = tempDir('metronome-web-');
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>Metronome</title><div id="app"></div>');
  writeFileSync(join(root, 'assets', 'index-abc123.js'), big);
  writeFileSync(join(root, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(root, '..', 'secret.txt'), 'not for the web');
  app = Fastify();
  app.setErrorHandler((err, _req, reply) => {
    if (isMetronomeError(err)) return reply.status(err.status).send({ error: err.toJSON() });
    return reply.status(500).send({ error: String(err) });
  });
  const ctx = { log: pino({ level: 'silent' }) } as unknown as AppContext;
  await app.register(webRoutes, { ctx, root });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(join(root, '..', 'secret.txt'), { force: true });
});

describe('web UI serving', () => {
  it('answers UI routes with index.html, revalidated on every load', async () => {
    for (const url of ['/', '/services/checkout', '/explore?expr=up', '/alerts/rules/new']) {
      const r = await app.inject({ url });
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toContain('text/html');
      expect(r.headers['cache-control']).toBe('no-cache');
      expect(r.body).toContain('<div id="app">');
    }
  });

  it('serves hashed assets for a year, gzipped when the client accepts it', async () => {
    const plain = await app.inject({ url: '/assets/index-abc123.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toContain('text/javascript');
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(big);
    const gz = await app.inject({ url: '/assets/index-abc123.js', headers: { 'accept-encoding': 'gzip, br' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.rawPayload.length).toBeLessThan(big.length / 10);
    expect(gunzipSync(gz.rawPayload).toString()).toBe(big);
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await app.inject({ url: '/favicon.svg' });
    expect(first.headers['content-type']).toBe('image/svg+xml');
    const again = await app.inject({ url: '/favicon.svg', headers: { 'if-none-match': String(first.headers.etag) } });
    expect(again.statusCode).toBe(304);
  });

  it('gives a JSON 404 for missing files and for API paths, never index.html', async () => {
    for (const url of ['/assets/missing.js', '/api/v1/nothing', '/write/x', '/metricsx.js']) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(404);
      expect(r.json().error.code).toBe('MTR_NOT_FOUND');
    }
  });

  it('does not serve files outside the dist folder', async () => {
    for (const url of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt']) {
      const r = await app.inject({ url });
      expect(r.body).not.toContain('not for the web');
      expect([400, 404]).toContain(r.statusCode);
    }
    // Malformed percent-encoding is refused before any file lookup.
    const bad = await app.inject({ url: '/%E0%A4%A' });
    expect(bad.statusCode).toBe(400);
  });
});
