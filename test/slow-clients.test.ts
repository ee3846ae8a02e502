import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './alerting-helpers.js';
import { startTestServer, type TestServer } from './helpers.js';

/**
 * Slow-loris and oversized uploads, with raw sockets: clients that trickle their headers or
 * body, sit idle, or send more than BODY_LIMIT_BYTES are cut off by the configured timeouts
 * and limits, and the server keeps answering everyone else meanwhile. The waits here are real:
 * the deadlines are Node's own socket timers, which no injected clock drives, so the bounds on
 * how long a connection lived are what is tested. The test waits for what it can observe (a
 * connection closing, an answer arriving, the slow clients' writes), never a fixed time.
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

/** Writes made by trickle() so far, over all connections. */
let trickled = 0;

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
    trickled++;
  }, everyMs);
  void c.closed.then(() => clearInterval(timer));
}

/** Resolves once the server has sent a whole response head, or the connection closed, or `ms` passed (the caller checks what arrived). */
function answered(c: Conn, ms = 3000): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      c.socket.off('data', check);
      resolve();
    };
    const check = () => {
      if (c.received().includes('\r\n\r\n')) done();
    };
    const timer = setTimeout(done, ms);
    c.socket.on('data', check);
    void c.closed.then(done);
    check();
  });
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

  it('closes a connection that never sends anything, within the headers or idle timeout', async () => {
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
    await answered(c);
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
      await answered(c);
      expect(c.received(), path).toMatch(/^HTTP\/1\.1 413/);
      expect(sent, path).toBeLessThan(2_000_000);
      c.socket.destroy();
    }
  });

  it('keeps serving other clients while 200 slow clients hold connections', async () => {
    const slow = await Promise.all(Array.from({ length: 200 }, () => open()));
    // Half trickle their headers, half a JSON body (with its content type: without one they were
    // refused at once, in ~50 ms, and held nothing).
    for (const [i, c] of slow.entries()) {
      c.socket.write(i % 2 ? 'POST /write HTTP/1.1\r\nHost: localhost\r\nX-Slow: ' : 'POST /write HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 50000\r\n\r\n[');
      trickle(c, i % 2 ? 'a' : ' ', 200);
    }
    let holding = slow.length;
    for (const c of slow) void c.closed.then(() => holding--);
    const latencies: number[] = [];
    /** Slow connections still open at each probe. */
    const held: number[] = [];
    for (let i = 0; i < 10; i++) {
      held.push(holding);
      const t = Date.now();
      const r = await fetch(`${srv.url}/api/v1/labels`);
      expect(r.status).toBe(200);
      await r.text();
      latencies.push(Date.now() - t);
      // The next probe once the slow clients have written an eighth of a round more (or all were
      // cut off), so the probes are spread among their writes.
      const mark = trickled;
      await until(() => trickled >= mark + slow.length / 8 || holding === 0, 5000, 'the slow clients to write again');
    }
    // Every probe was answered while slow clients still held connections.
    expect(Math.min(...held)).toBeGreaterThan(0);
    expect(Math.max(...latencies)).toBeLessThan(1000);
    const all = await Promise.all(slow.map((c) => c.closed));
    expect(Math.max(...all)).toBeLessThan(REQUEST_MS + CHECK_MS + 2000);
  });
});
