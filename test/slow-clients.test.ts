import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';

/**
 * Slow-loris and oversized uploads, with raw sockets: clients that trickle their headers or
 * body, sit idle, or send more than BODY_LIMIT_BYTES are cut off by the configured timeouts
 * and limits, and the server keeps answering everyone else meanwhile.
 */

const HEADERS_MS = 1000;
const REQUEST_MS = 2000;
const IDLE_MS = 1500;
const KEEP_ALIVE_MS = 1000;
/** Node checks header and request deadlines once a second. */
const CHECK_MS = 1000;

let srv: TestServer;
let port = 0;
beforeAll(async () => {
  srv = await startTestServer({
    HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
    HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
    HTTP_IDLE_TIMEOUT_MS: String(IDLE_MS),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_MS),
    BODY_LIMIT_BYTES: '65536',
  });
  port = Number(new URL(srv.url).port);
});
afterAll(async () => {
  await srv?.destroy();
});

interface Conn {
  socket: Socket;
  /** Everything the server sent. */
  received: () => string;
  /** Resolves with ms since connect when the server closes the connection. */
  closed: Promise<number>;
}

function open(): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const t0 = Date.now();
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - t0)));
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('error', () => {}); // a reset while we still write is expected
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

/** Write `chunk` every `everyMs` until the socket closes. */
function trickle(c: Conn, chunk: string, everyMs: number): void {
  const timer = setInterval(() => {
    if (c.socket.destroyed || !c.socket.writable) return clearInterval(timer);
    c.socket.write(chunk);
  }, everyMs);
  void c.closed.then(() => clearInterval(timer));
}

describe('slow and oversized clients', () => {
  it('disconnects a client that trickles its headers, within HTTP_HEADERS_TIMEOUT_MS', async () => {
    const c = await open();
    c.socket.write('POST /write HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    trickle(c, 'a', 100);
    const ms = await c.closed;
    expect(ms).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(ms).toBeLessThan(HEADERS_MS + CHECK_MS + 1000);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('disconnects a client that trickles its body, within HTTP_REQUEST_TIMEOUT_MS', async () => {
    const c = await open();
    c.socket.write('POST /write HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n[');
    trickle(c, ' ', 100);
    const ms = await c.closed;
    expect(ms).toBeGreaterThanOrEqual(REQUEST_MS - 50);
    expect(ms).toBeLessThan(REQUEST_MS + CHECK_MS + 1000);
  });

  it('closes a connection that never sends anything', async () => {
    const c = await open();
    const ms = await c.closed;
    expect(ms).toBeLessThan(Math.max(HEADERS_MS, IDLE_MS) + CHECK_MS + 1000);
  });

  it('closes an idle keep-alive connection after HTTP_KEEP_ALIVE_TIMEOUT_MS', async () => {
    const c = await open();
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const ms = await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 200/);
    expect(ms).toBeGreaterThanOrEqual(KEEP_ALIVE_MS - 50);
    expect(ms).toBeLessThan(KEEP_ALIVE_MS + 1500);
  });

  it('answers 413 to a declared oversized upload before its body is sent', async () => {
    const c = await open();
    c.socket.write('POST /write HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n');
    const t0 = Date.now();
    while (!c.received().includes('\r\n\r\n') && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
    expect(c.received()).toMatch(/^HTTP\/1\.1 413/);
    expect(c.received()).toContain('MTR_WRITE_TOO_LARGE');
    c.socket.destroy();
  });

  it('cuts off a chunked upload once it passes BODY_LIMIT_BYTES, for every write protocol', async () => {
    for (const [path, type] of [
      ['/write', 'application/json'],
      ['/influx/write', 'text/plain'],
      ['/v1/metrics', 'application/json'],
      ['/api/v1/write', 'application/x-protobuf'],
    ]) {
      const c = await open();
      c.socket.write(`POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${type}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      const chunk = 'x'.repeat(16_384);
      let sent = 0;
      // Keep sending (up to 10 MB) until the server answers.
      while (!c.received().includes('\r\n\r\n') && sent < 10_000_000 && !c.socket.destroyed) {
        c.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
        sent += chunk.length;
        await new Promise((r) => setImmediate(r));
      }
      const t0 = Date.now();
      while (!c.received().includes('\r\n\r\n') && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
      expect(c.received(), path).toMatch(/^HTTP\/1\.1 413/);
      expect(sent, path).toBeLessThan(2_000_000);
      c.socket.destroy();
    }
  });

  it('keeps serving other clients while 200 slow clients hold connections', async () => {
    const slow = await Promise.all(Array.from({ length: 200 }, () => open()));
    for (const [i, c] of slow.entries()) {
      c.socket.write(i % 2 ? 'POST /write HTTP/1.1\r\nHost: localhost\r\nX-Slow: ' : 'POST /write HTTP/1.1\r\nHost: localhost\r\nContent-Length: 50000\r\n\r\n');
      trickle(c, 'a', 200);
    }
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = Date.now();
      const r = await fetch(`${srv.url}/api/v1/labels`);
      expect(r.status).toBe(200);
      await r.text();
      latencies.push(Date.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Math.max(...latencies)).toBeLessThan(1000);
    const all = await Promise.all(slow.map((c) => c.closed));
    expect(Math.max(...all)).toBeLessThan(REQUEST_MS + CHECK_MS + 2000);
  });
});
