import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetronomeError } from '../errors.js';
import { acceptCompressedBodies, addStreamedParser } from './body.js';

/** A bare fastify with the streamed parsers, answering what it parsed. */
let app: FastifyInstance;
let port: number;
const LIMIT = 256 * 1024;

beforeAll(async () => {
  app = Fastify();
  acceptCompressedBodies(app);
  addStreamedParser(app, 'text/plain', 'text', LIMIT);
  addStreamedParser(app, 'application/x-large', 'buffer', 8 * LIMIT * 4);
  addStreamedParser(app, 'application/octet-stream', 'buffer', LIMIT, (req) =>
    req.headers['x-refuse'] ? new MetronomeError('MTR_WRITE_CONTENT_TYPE', ['application/octet-stream', 'anything else']) : undefined,
  );
  app.post('/echo', async (req) => {
    const b = req.body as Buffer | string;
    return { kind: typeof b === 'string' ? 'text' : 'buffer', length: b.length, text: typeof b === 'string' ? b : b.toString('latin1') };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await app?.close();
});

/** POST the chunks one write each (chunked unless a content-length is given). */
function post(chunks: Buffer[], headers: Record<string, string>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', path: '/echo', method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('bodies collected as they arrive', () => {
  it('joins a chunked body without Content-Length, growing the buffer, byte for byte', async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(4099, 65 + (i % 26)));
    const r = await post(chunks, { 'content-type': 'application/octet-stream' });
    expect(r.status).toBe(200);
    expect(r.body.kind).toBe('buffer');
    expect(r.body.text).toBe(Buffer.concat(chunks).toString('latin1'));
  });

  it('grows past the first 1 MiB of a declared length and keeps every byte', async () => {
    // 3 MiB declared: the buffer starts at 1 MiB (a declared length is not reserved whole) and doubles.
    const chunks = Array.from({ length: 48 }, (_, i) => Buffer.alloc(64 * 1024, 97 + (i % 26)));
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const r = await post(chunks, { 'content-type': 'application/x-large', 'content-length': String(total) });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(total);
    expect(r.body.text).toBe(Buffer.concat(chunks).toString('latin1'));
  });

  it('decodes text whose multi-byte characters are split across chunks', async () => {
    const whole = Buffer.from('µs=1 ' + 'é'.repeat(3000) + ' 🙂 end', 'utf8');
    // Cut every 7 bytes: most cuts fall inside a character.
    const chunks = Array.from({ length: Math.ceil(whole.length / 7) }, (_, i) => whole.subarray(i * 7, i * 7 + 7));
    const r = await post(chunks, { 'content-type': 'text/plain', 'content-length': String(whole.length) });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ kind: 'text', text: whole.toString('utf8') });
  });

  it('refuses a body past the limit with 413, declared or not', async () => {
    const declared = await post([Buffer.alloc(10)], { 'content-type': 'text/plain', 'content-length': String(LIMIT + 1) });
    expect(declared.status).toBe(413);
    const streamed = await post(Array.from({ length: 70 }, () => Buffer.alloc(4096, 66)), { 'content-type': 'application/octet-stream' });
    expect(streamed.status).toBe(413);
  });

  it('applies the limit to the decoded size of a gzip body', async () => {
    const ok = Buffer.alloc(100_000, 67);
    const r = await post([gzipSync(ok)], { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(100_000);
    const bomb = gzipSync(Buffer.alloc(LIMIT * 4));
    expect(bomb.length).toBeLessThan(LIMIT);
    expect((await post([bomb], { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' })).status).toBe(413);
  });

  it('refuses from the headers before reading the body', async () => {
    const r = await post([Buffer.alloc(100)], { 'content-type': 'application/octet-stream', 'x-refuse': '1' });
    expect(r.status).toBe(415);
  });
});
