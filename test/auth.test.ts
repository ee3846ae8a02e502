import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWriteRequest, lineProtocol, otlpJson, otlpResourceMetrics, promLabels } from '../bench/wire.js';
import { ManualClock } from '../server/alerting/clock.js';
import { loadConfig } from '../server/config.js';
import { startMetronome, type Running } from '../server/start.js';
import { heroic, tempDir } from './helpers.js';
import { ENTRY, startServerProcess, stopServerProcess, TSX } from './server-process.js';

/**
 * Access control through a real server: tokens from a file and from the environment, every
 * credential form real clients send, scopes per route, service-limited write tokens, per-token
 * rate limits, failures counted and logged without the token, and the start-up refusals. The
 * rate limits run on a manual clock: the test moves time to where Retry-After points.
 */

const T = {
  writer: 'w-0123456789abcdef-writer',
  checkout: 'c-0123456789abcdef-checkout',
  reader: 'r-0123456789abcdef-reader',
  admin: 'a-0123456789abcdef-admin',
  influx: 'i-0123456789abcdef-influx',
  slow: 's-0123456789abcdef-slow',
  trickle: 't-0123456789abcdef-trickle',
};
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let srv: Running;
let base: string;
let dataDir: string;
let tokenFile: string;
const dirs: string[] = [];
const logLines: string[] = [];
const rateClock = new ManualClock(Date.now());

beforeAll(async () => {
  dataDir = tempDir();
  const file = (tokenFile = join(dataDir, '..', `tokens-${process.pid}.yml`));
  writeFileSync(
    file,
    `# API tokens: the admin one given as its sha256 only
- { name: writer, token: ${T.writer}, scopes: [write] }
- { name: checkout-agent, token: ${T.checkout}, scopes: [write], services: [checkout] }
- { name: grafana, token: ${T.reader}, scopes: [read] }
- { name: ops, sha256: ${sha(T.admin)}, scopes: [admin] }
- { name: slow, token: ${T.slow}, scopes: [read, write], requests_per_second: 1 }
- { name: trickle, token: ${T.trickle}, scopes: [write], points_per_second: 10 }
`,
  );
  const config = loadConfig({
    PORT: '0',
    DEMO: '0',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    AUTH_TOKENS_FILE: file,
    AUTH_TOKENS: `influx:${T.influx}:write`,
    RATE_LIMIT_BURST_SECONDS: '2',
  });
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  srv = await startMetronome(config, pino({ level: 'info' }, sink), { rateLimitClock: rateClock });
  base = srv.url;
});
afterAll(async () => {
  await srv?.close();
  for (const d of [dataDir, tokenFile, ...dirs]) rmSync(d, { recursive: true, force: true });
});

const now = Date.now();
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function req(method: string, path: string, headers: Record<string, string> = {}, body?: string | Uint8Array) {
  const res = await fetch(`${base}${path}`, { method, headers, body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json, headers: res.headers };
}
const writeBody = (key: string, tags: Record<string, string> = {}) => JSON.stringify(heroic(key, tags, [[now - 1000, 1]]));
const postWrite = (headers: Record<string, string>, key = 'auth.metric', tags: Record<string, string> = {}) =>
  req('POST', '/write', { 'content-type': 'application/json', ...headers }, writeBody(key, tags));

describe('access control', () => {
  it('leaves liveness, readiness, the Influx ping and the UI files open', async () => {
    expect((await req('GET', '/healthz')).status).toBe(200);
    expect((await req('GET', '/readyz')).status).toBe(200);
    expect((await req('GET', '/influx/ping')).status).toBe(204);
    expect((await req('GET', '/')).status).toBe(200);
  });

  it('answers 401 without a token and with a wrong one, 403 without the scope, 200 with it', async () => {
    const none = await postWrite({});
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('MTR_AUTH_REQUIRED');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await postWrite(bearer('not-a-token-at-all'));
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('MTR_AUTH_INVALID');
    const readOnly = await postWrite(bearer(T.reader));
    expect(readOnly.status).toBe(403);
    expect(readOnly.body.error).toMatchObject({ code: 'MTR_AUTH_FORBIDDEN', token: 'grafana', scope: 'write' });
    expect((await postWrite(bearer(T.writer))).status).toBe(200);
    // A write token cannot read.
    const q = await req('GET', '/api/v1/query?query=up', bearer(T.writer));
    expect(q.status).toBe(403);
    expect(q.body).toMatchObject({ status: 'error', code: 'MTR_AUTH_FORBIDDEN' });
  });

  it('accepts the forms Prometheus, Influx and OTLP clients send', async () => {
    // Prometheus remote_write basic_auth: the password is the token.
    const rw = encodeWriteRequest({ timeseries: [{ labels: promLabels('auth_rw', { job: 'node' }), samples: [{ value: 1, timestamp: now - 1000 }] }] });
    const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });
    const rwHeaders = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' };
    expect((await req('POST', '/api/v1/write', { ...rwHeaders, ...basic('prometheus', T.writer) }, rw)).status).toBe(204);
    expect((await req('POST', '/api/v1/write', { ...rwHeaders, ...basic('prometheus', 'wrong-password') }, rw)).status).toBe(401);
    // Influx 2.x: Authorization: Token.
    const lp = lineProtocol([{ key: 'auth_influx', tags: { host: 'a' }, timestamps: [now - 1000], values: [2] }]);
    expect((await req('POST', '/influx/api/v2/write?bucket=b&org=o&precision=ns', { authorization: `Token ${T.influx}` }, lp)).status).toBe(204);
    // Influx 1.x: u and p query parameters.
    expect((await req('POST', `/influx/write?db=x&u=telegraf&p=${T.influx}`, {}, lp)).status).toBe(204);
    expect((await req('POST', `/influx/write?db=x&u=telegraf&p=nope`, {}, lp)).status).toBe(401);
    // OTLP/HTTP with a bearer token; its errors keep the OTLP shape (google.rpc.Status).
    const otlp = otlpJson(otlpResourceMetrics([{ key: 'auth_otlp', tags: {}, timestamps: [now - 1000], values: [3] }]));
    expect((await req('POST', '/v1/metrics', { 'content-type': 'application/json', ...bearer(T.writer) }, otlp)).status).toBe(200);
    const denied = await req('POST', '/v1/metrics', { 'content-type': 'application/json' }, otlp);
    expect(denied.status).toBe(401);
    expect(denied.body).toMatchObject({ code: 3, message: expect.stringContaining('MTR_AUTH_REQUIRED') });
    // Everything written above is readable with the read token.
    const r = await req('GET', '/api/v1/series?match[]={__name__=~"auth_.*"}', bearer(T.reader));
    expect(r.status).toBe(200);
    expect(r.body.data.map((s: { __name__: string }) => s.__name__).sort()).toEqual(['auth_influx', 'auth_otlp', 'auth_rw']);
  });

  it('lets read tokens read and only admin tokens change rules, silences and services', async () => {
    const silence = JSON.stringify({ matchers: ['alertname="X"'], duration: '1h', createdBy: 't', comment: 'c' });
    const json = { 'content-type': 'application/json' };
    expect((await req('GET', '/api/v1/silences', bearer(T.reader))).status).toBe(200);
    const denied = await req('POST', '/api/v1/silences', { ...json, ...bearer(T.reader) }, silence);
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 'MTR_AUTH_FORBIDDEN', scope: 'admin' });
    expect((await req('POST', '/api/v1/silences', { ...json, ...bearer(T.admin) }, silence)).status).toBe(201);
    // admin implies read.
    expect((await req('GET', '/api/v1/silences', bearer(T.admin))).body.data).toHaveLength(1);
    const rule = JSON.stringify({ alert: 'AuthTest', expr: 'vector(1) > 2', group: 'auth' });
    expect((await req('POST', '/api/v1/alerting/rules', { ...json, ...bearer(T.reader) }, rule)).status).toBe(403);
    expect((await req('POST', '/api/v1/alerting/rules', { ...json, ...bearer(T.admin) }, rule)).status).toBe(201);
    const svc = JSON.stringify({ name: 'checkout' });
    expect((await req('POST', '/api/v1/services', { ...json, ...bearer(T.writer) }, svc)).status).toBe(403);
    expect((await req('POST', '/api/v1/services', { ...json, ...bearer(T.admin) }, svc)).status).toBe(201);
    expect((await req('DELETE', '/api/v1/services/checkout', bearer(T.reader))).status).toBe(403);
    // A route that calls the alerting API in process acts as its caller: read may look...
    const proposed = await req('GET', '/api/v1/services/checkout/alerts/proposed', bearer(T.reader));
    expect(proposed.status).toBe(200);
    // ...and only admin may enable.
    expect((await req('POST', '/api/v1/services/checkout/alerts/enable', { ...json, ...bearer(T.reader) }, '{}')).status).toBe(403);
    // A method no route has needs admin, not nothing.
    expect((await req('PATCH', '/api/v1/query', bearer(T.reader))).status).toBe(403);
  });

  it('limits a service-scoped write token to its services', async () => {
    expect((await postWrite(bearer(T.checkout), 'svc.metric', { service: 'checkout' })).status).toBe(200);
    const other = await postWrite(bearer(T.checkout), 'svc.metric', { service: 'payments' });
    expect(other.status).toBe(403);
    expect(other.body.error).toMatchObject({ code: 'MTR_AUTH_SERVICE_FORBIDDEN', service: 'payments', series: 0 });
    // The job label names the service for Prometheus clients; a series with neither is refused.
    const rw = (job: string) => encodeWriteRequest({ timeseries: [{ labels: promLabels('svc_rw', { job }), samples: [{ value: 1, timestamp: now - 1000 }] }] });
    const h = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', ...bearer(T.checkout) };
    expect((await req('POST', '/api/v1/write', h, rw('checkout'))).status).toBe(204);
    expect((await req('POST', '/api/v1/write', h, rw('node'))).status).toBe(403);
    expect((await postWrite(bearer(T.checkout), 'svc.metric', {})).status).toBe(403);
  });

  it('rate-limits requests and points per token with 429, and lets the client back in when Retry-After says', async () => {
    // slow: 1 request/s, burst 2 s -> the bucket holds 2; requests pass while it is not in debt
    // (the third takes it to -1), the fourth waits.
    const codes: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const r = await req('GET', '/api/v1/labels', bearer(T.slow));
      codes.push(r.status);
      if (r.status === 429) {
        retryAfter = r.headers.get('retry-after');
        expect(r.body).toMatchObject({ status: 'error', code: 'MTR_RATE_LIMIT_REQUESTS' });
      }
    }
    expect(codes).toEqual([200, 200, 200, 429]);
    expect(retryAfter).toBe('1');
    // Other tokens are not affected.
    expect((await req('GET', '/api/v1/labels', bearer(T.reader))).status).toBe(200);

    // trickle: 10 points/s, burst 20: a 30-point request passes (bucket full), the next waits ~1 s.
    const pts = (n: number, off: number) => JSON.stringify(heroic('trickle.metric', {}, Array.from({ length: n }, (_, i) => [now - 100_000 + off + i, i] as [number, number])));
    const jh = { 'content-type': 'application/json', ...bearer(T.trickle) };
    expect((await req('POST', '/write', jh, pts(30, 0))).status).toBe(200);
    const limited = await req('POST', '/write', jh, pts(5, 100));
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('MTR_RATE_LIMIT_POINTS');
    // 10 points in debt at 10/s: back in 1 s, not a millisecond earlier.
    expect(limited.headers.get('retry-after')).toBe('1');
    await rateClock.advance(999);
    expect((await req('POST', '/write', jh, pts(5, 100))).status).toBe(429);
    await rateClock.advance(1);
    expect((await req('POST', '/write', jh, pts(5, 100))).status).toBe(200);
  });

  it('counts refusals on /metrics by reason (which needs read) and logs them without the token', async () => {
    expect((await req('GET', '/metrics')).status).toBe(401);
    const m = await req('GET', '/metrics', bearer(T.reader));
    expect(m.status).toBe(200);
    const count = (reason: string) => Number(new RegExp(`metronome_auth_failures_total\\{reason="${reason}"\\} (\\d+)`).exec(m.body)?.[1] ?? 0);
    expect(count('missing')).toBeGreaterThanOrEqual(3);
    expect(count('invalid')).toBeGreaterThanOrEqual(3);
    expect(count('forbidden')).toBeGreaterThanOrEqual(5);
    expect(count('service')).toBeGreaterThanOrEqual(3);
    expect(m.body).toMatch(/metronome_rate_limited_total\{kind="requests"\} [1-9]/);
    const denied = logLines.filter((l) => l.includes('access denied'));
    expect(denied.length).toBeGreaterThan(5);
    expect(denied.some((l) => l.includes('"token":"grafana"'))).toBe(true);
    for (const secret of [...Object.values(T), 'not-a-token-at-all', 'wrong-password']) {
      expect(logLines.filter((l) => l.includes(secret))).toEqual([]);
    }
  });
});

describe('starting with access control', () => {
  const dir = () => {
    dirs.push(tempDir());
    return dirs[dirs.length - 1];
  };
  const run = (env: Record<string, string>) =>
    spawnSync(TSX, [ENTRY], { env: { ...process.env, PORT: '0', DEMO: '0', DATA_DIR: dir(), ...env }, encoding: 'utf8', timeout: 60_000 });

  it('refuses a non-loopback HOST without tokens, with one line', () => {
    const r = run({ HOST: '0.0.0.0' });
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^metronome: refusing to listen on HOST=0\.0\.0\.0 without access control: set AUTH_TOKENS or AUTH_TOKENS_FILE, or AUTH=off/);
  });

  it('refuses a bad token entry with one line naming it', () => {
    const r = run({ AUTH_TOKENS: 'ci:short:write' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^metronome: auth: AUTH_TOKENS entry 1 \("ci"\): token: must be at least 16 characters/)]);
    const scope = run({ AUTH_TOKENS: 'ci:0123456789abcdef0:delete' });
    expect(scope.stderr).toMatch(/AUTH_TOKENS entry 1 \("ci"\): scopes\.0/);
  });

  it('serves open on a non-loopback address when AUTH=off is explicit', async () => {
    const p = await startServerProcess({ DATA_DIR: dir(), HOST: '0.0.0.0', AUTH: 'off' });
    try {
      expect(p.output()).toContain('AUTH=off');
      const port = /listening on http:\/\/[^:]+:(\d+)/.exec(p.output())![1];
      expect((await fetch(`http://127.0.0.1:${port}/api/v1/labels`)).status).toBe(200);
    } finally {
      expect(await stopServerProcess(p)).toBe(0);
    }
  });
});
