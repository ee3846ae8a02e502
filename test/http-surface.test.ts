import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';

/**
 * The HTTP surface a browser can reach (server/auth/surface.ts): in open mode only loopback
 * Host names are served (DNS rebinding), a state change sent from another site is refused
 * whatever its content type, tokens ride in URLs only on Influx 1.x routes, the UI sends a
 * Content-Security-Policy, refusals close their connection, and connections are capped.
 */
let open: TestServer;
let guarded: TestServer;
const T = { admin: 'adm1n-t0ken-0123456789', writer: 'wr1te-t0ken-0123456789' };
const LINE = 'cpu,host=a value=1\n';


/** One raw HTTP/1.1 exchange: the status line, and whether the server closed the socket. */
function raw(url: string, head: string, body = ''): Promise<{ status: number; closed: boolean; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname);
    let text = '';
    s.on('data', (d) => (text += d.toString()));
    s.on('error', reject);
    s.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), closed: true, text }));
    s.write(head + body);
  });
}

// chdb opens one data directory per process at a time: one server, then the other.
describe('open mode', () => {
  beforeAll(async () => {
    open = await startTestServer({ ALLOWED_HOSTS: 'metronome.internal', MAX_CONNECTIONS: '8' });
  });
  afterAll(async () => {
    await open?.destroy();
  });

  it('serves loopback names and ALLOWED_HOSTS, refuses any other Host (DNS rebinding)', async () => {
    const port = new URL(open.url).port;
    const get = (host: string) => raw(open.url, `GET /api/v1/labels HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    expect((await get(`localhost:${port}`)).status).toBe(200);
    expect((await get(`127.0.0.1:${port}`)).status).toBe(200);
    expect((await get(`[::1]:${port}`)).status).toBe(200);
    expect((await get('metronome.internal')).status).toBe(200);
    const evil = await get(`rebind.attacker.example:${port}`);
    expect(evil.status).toBe(421);
    expect(evil.text).toContain('MTR_HOST_NOT_ALLOWED');
    expect(evil.text).toContain('ALLOWED_HOSTS');
  });

  it('refuses a simple cross-site POST, and takes the same request from a client that is not a browser', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${open.url}/influx/write?db=x`, { method: 'POST', headers: { 'content-type': 'text/plain', ...headers }, body: LINE });
    const fromPage = await post({ origin: 'http://attacker.example' });
    expect(fromPage.status).toBe(403);
    expect(await fromPage.text()).toContain('MTR_CROSS_SITE');
    expect((await post({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ origin: open.url })).status).toBe(204);
    expect((await post({})).status).toBe(204);
    // Reading is not a state change.
    expect((await fetch(`${open.url}/api/v1/labels`, { headers: { origin: 'http://attacker.example' } })).status).toBe(200);
  });

  it('sends the UI with a Content-Security-Policy that forbids framing', async () => {
    const res = await fetch(`${open.url}/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'self'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });

  it('closes connections past MAX_CONNECTIONS as they arrive', async () => {
    const { port } = new URL(open.url);
    const sockets: Socket[] = [];
    const closed: boolean[] = [];
    for (let i = 0; i < 12; i++) {
      const s = connect(Number(port), '127.0.0.1');
      const k = i;
      closed[k] = false;
      s.on('close', () => (closed[k] = true));
      s.on('error', () => undefined);
      sockets.push(s);
      await new Promise((r) => s.once('connect', r));
    }
    // The server drops the ones past 8 (this file's keep-alive connections count too) at once:
    // wait for 4 close events, bounded.
    const four = new Promise<void>((resolve) => {
      const check = () => closed.filter(Boolean).length >= 4 && resolve();
      for (const s of sockets) s.once('close', () => setImmediate(check));
    });
    await Promise.race([four, new Promise((r) => setTimeout(r, 5_000))]);
    expect(closed.filter(Boolean).length).toBeGreaterThanOrEqual(4);
    expect(closed.filter(Boolean).length).toBeLessThan(12);
    for (const s of sockets) s.destroy();
  });
});

describe('with tokens', () => {
  beforeAll(async () => {
    guarded = await startTestServer({ AUTH_TOKENS: `admin:${T.admin}:admin+read+write,telegraf:${T.writer}:write` });
  });
  afterAll(async () => {
    await guarded?.destroy();
  });

  it('takes a token in the URL on Influx 1.x routes only', async () => {
    const lp = { method: 'POST', headers: { 'content-type': 'text/plain' }, body: LINE };
    expect((await fetch(`${guarded.url}/influx/write?db=x&u=telegraf&p=${T.writer}`, lp)).status).toBe(204);
    const inUrl = await fetch(`${guarded.url}/api/v1/labels?p=${T.admin}`);
    expect(inUrl.status).toBe(401);
    expect((await fetch(`${guarded.url}/api/v1/labels`, { headers: { authorization: `Bearer ${T.admin}` } })).status).toBe(200);
  });

  it('closes the connection after a refusal instead of reading a trickled body', async () => {
    const started = Date.now();
    const r = await raw(guarded.url, `POST /api/v1/write HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000000\r\n\r\n`, 'x');
    expect(r.status).toBe(401);
    expect(r.text.toLowerCase()).toContain('connection: close');
    expect(r.closed).toBe(true);
    // Well before HTTP_REQUEST_TIMEOUT_MS (120 s): the server did not wait for the body.
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
