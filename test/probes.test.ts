import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { startTestServer, tempDir, type TestServer } from './helpers.js';

/**
 * Black-box probes against a real server whose probe timers run on a ManualClock: each
 * `advance` runs the probes that fall due (real connections to local targets) and waits for
 * their results to be committed, so "within two intervals" is counted in intervals, not seconds.
 */

const ADMIN = 'admin-token-0123456789';
const READ = 'read-token-0123456789ab';
const clock = new ManualClock(Date.now());
let srv: TestServer;

function api(method: string, path: string, body?: unknown, token = ADMIN) {
  return fetch(`${srv.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: r.status === 204 ? null : await r.json() }));
}

/** The newest value of a series at the clock's time. */
async function value(selector: string): Promise<number | null> {
  const qs = new URLSearchParams({ query: selector, time: String(clock.now() / 1000) });
  const r = await api('GET', `/api/v1/query?${qs}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const res = r.body.data.result;
  return res.length ? Number(res[0].value[1]) : null;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

beforeAll(async () => {
  srv = await startTestServer({ AUTH_TOKENS: `ops:${ADMIN}:admin,viewer:${READ}:read`, PROBE_MIN_INTERVAL: '1s' }, { probeClock: clock });
});
afterAll(async () => {
  await srv?.destroy();
});

describe('probes', () => {
  it('reads 1 while its target is up and 0 within two intervals after it stops (http and tcp)', async () => {
    const target = createServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' }).end('ok: all good');
    });
    const port = await listen(target);
    const http = await api('POST', '/api/v1/probes', {
      service: 'web',
      kind: 'http',
      target: `http://127.0.0.1:${port}/healthz`,
      interval: '10s',
      expect: { bodyContains: 'all good' },
    });
    expect(http.status, JSON.stringify(http.body)).toBe(201);
    expect(http.body.data).toMatchObject({ name: 'web-http', source: 'api', interval: '10s' });
    expect((await api('POST', '/api/v1/probes', { service: 'web', kind: 'tcp', target: `127.0.0.1:${port}`, interval: '10s' })).status).toBe(201);

    await clock.advance(0); // first runs are due at once
    expect(await value('probe_success{probe="web-http"}')).toBe(1);
    expect(await value('probe_success{probe="web-tcp"}')).toBe(1);
    expect(await value('probe_http_status_code{probe="web-http"}')).toBe(200);
    const d = await value('probe_duration_seconds{probe="web-http",service="web",kind="http"}');
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(10);

    await clock.advance(10_000);
    expect(await value('probe_success{probe="web-http"}')).toBe(1);

    await close(target);
    await clock.advance(10_000);
    await clock.advance(10_000);
    expect(await value('probe_success{probe="web-http"}')).toBe(0);
    expect(await value('probe_success{probe="web-tcp"}')).toBe(0);
    expect(await value('probe_http_status_code{probe="web-http"}')).toBe(0);
    const got = await api('GET', '/api/v1/probes/web-tcp');
    expect(got.body.data.last).toMatchObject({ success: false, error: expect.stringMatching(/ECONNREFUSED/) });

    expect((await api('DELETE', '/api/v1/probes/web-tcp')).status).toBe(204);
    expect((await api('GET', '/api/v1/probes/web-tcp')).status).toBe(404);
  });

  it('fails on an unexpected status or body, and resolves names (dns)', async () => {
    const target = createServer((_req, res) => res.writeHead(503).end('down'));
    const port = await listen(target);
    try {
      expect((await api('POST', '/api/v1/probes', { name: 'bad-status', service: 'web', kind: 'http', target: `http://127.0.0.1:${port}/`, interval: '10s' })).status).toBe(201);
      expect((await api('POST', '/api/v1/probes', { name: 'want-503', service: 'web', kind: 'http', target: `http://127.0.0.1:${port}/`, interval: '10s', expect: { status: [503] } })).status).toBe(201);
      expect((await api('POST', '/api/v1/probes', { name: 'lh', service: 'web', kind: 'dns', target: 'localhost', interval: '10s' })).status).toBe(201);
      await clock.advance(0);
      expect(await value('probe_success{probe="bad-status"}')).toBe(0);
      expect(await value('probe_http_status_code{probe="bad-status"}')).toBe(503);
      expect(await value('probe_success{probe="want-503"}')).toBe(1);
      expect(await value('probe_success{probe="lh"}')).toBe(1);
    } finally {
      for (const n of ['bad-status', 'want-503', 'lh']) await api('DELETE', `/api/v1/probes/${n}`);
      await close(target);
    }
  });

  it('reports the certificate expiry of https and tls targets, and an untrusted certificate as a failure', async () => {
    const dir = tempDir('metronome-probe-tls-');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '30', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const cert = readFileSync(join(dir, 'cert.pem'));
    const notAfter = execFileSync('openssl', ['x509', '-enddate', '-noout', '-in', join(dir, 'cert.pem')]).toString().trim().replace('notAfter=', '');
    const target = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (_req, res) => res.end('ok')) as unknown as Server;
    const port = await listen(target);
    try {
      expect((await api('POST', '/api/v1/probes', { name: 'https-selfsigned', service: 'web', kind: 'http', target: `https://127.0.0.1:${port}/`, interval: '10s' })).status).toBe(201);
      expect((await api('POST', '/api/v1/probes', { name: 'tls-insecure', service: 'web', kind: 'tls', target: `127.0.0.1:${port}`, interval: '10s', expect: { insecureSkipVerify: true } })).status).toBe(201);
      await clock.advance(0);
      const expiry = Date.parse(notAfter) / 1000;
      expect(await value('probe_ssl_earliest_cert_expiry{probe="https-selfsigned"}')).toBe(expiry);
      expect(await value('probe_ssl_earliest_cert_expiry{probe="tls-insecure"}')).toBe(expiry);
      expect(await value('probe_success{probe="https-selfsigned"}')).toBe(0); // self-signed: not trusted
      expect(await value('probe_success{probe="tls-insecure"}')).toBe(1);
    } finally {
      for (const n of ['https-selfsigned', 'tls-insecure']) await api('DELETE', `/api/v1/probes/${n}`);
      await close(target);
    }
  });

  it("probes a registered service's health link by default, until the link goes", async () => {
    const target = createServer((_req, res) => res.end('ok'));
    const port = await listen(target);
    try {
      const health = `http://127.0.0.1:${port}/healthz`;
      expect((await api('POST', '/api/v1/services', { name: 'linked', links: { health } })).status).toBe(201);
      const p = await api('GET', '/api/v1/probes/linked-health');
      expect(p.body.data).toMatchObject({ service: 'linked', kind: 'http', target: health, source: 'health-link', interval: '30s' });
      await clock.advance(0);
      expect(await value('probe_success{service="linked"}')).toBe(1);
      const del = await api('DELETE', '/api/v1/probes/linked-health');
      expect(del.status).toBe(409);
      expect(del.body.error.code).toBe('MTR_PROBE_DERIVED');
      expect((await api('POST', '/api/v1/services', { name: 'linked' })).status).toBe(200);
      expect((await api('GET', '/api/v1/probes/linked-health')).status).toBe(404);
    } finally {
      await close(target);
    }
  });

  it("puts probe panels on the service's dashboard, and its proposed probe alerts and SLO are accepted by alerting", async () => {
    const dash = await api('GET', '/api/v1/services/web/dashboard');
    expect(dash.status).toBe(200);
    const probes = dash.body.data.rows.find((r: { title: string }) => r.title === 'Probes');
    expect(probes.panels.map((p: { id: string }) => p.id)).toEqual(['probe-availability', 'probe-success', 'probe-duration', 'probe-http-status', 'probe-cert-expiry']);
    const enabled = await api('POST', '/api/v1/services/web/alerts/enable', { alerts: ['WebProbeFailing', 'WebCertificateExpiresSoon', 'WebProbeErrorBudgetBurn'] });
    expect(enabled.status, JSON.stringify(enabled.body)).toBe(200);
    expect(enabled.body.data.created.sort()).toEqual(['WebCertificateExpiresSoon', 'WebProbeErrorBudgetBurn', 'WebProbeFailing']);
    const slo = await api('GET', '/api/v1/alerting/slos');
    expect(slo.body.data.map((x: { name: string }) => x.name)).toContain('web-probe-availability');
  });

  it('refuses bad probes with every problem and its field', async () => {
    const cases: [unknown, string[]][] = [
      [{ service: 'web', kind: 'http', target: 'file:///etc/passwd' }, ['target']],
      [{ service: 'web', kind: 'http', target: 'gopher://x:70/' }, ['target']],
      [{ service: 'web', kind: 'http', target: 'http://user:secret@a.example/' }, ['target']],
      [{ service: 'web', kind: 'tcp', target: 'db.internal' }, ['target']],
      [{ service: 'web', kind: 'tcp', target: 'db.internal:70000' }, ['target']],
      [{ service: 'web', kind: 'http', target: 'http://169.254.169.254/latest/meta-data/' }, ['target']],
      [{ service: 'web', kind: 'dns', target: '10.0.0.1' }, ['target']],
      [{ service: 'web', kind: 'http', target: 'http://a.example/', interval: '100ms' }, ['interval']],
      [{ service: 'bad name', kind: 'icmp', target: 'x', extra: 1 }, ['(body)', 'kind', 'service']],
    ];
    for (const [body, paths] of cases) {
      const r = await api('POST', '/api/v1/probes', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('MTR_PROBE_INVALID');
      expect(r.body.error.issues.map((i: { path: string }) => i.path).sort(), JSON.stringify(body)).toEqual(paths);
    }
  });

  it('is admin scope only, reads included', async () => {
    expect((await api('GET', '/api/v1/probes', undefined, READ)).status).toBe(403);
    expect((await api('POST', '/api/v1/probes', { service: 'web', kind: 'dns', target: 'localhost' }, READ)).status).toBe(403);
    expect((await api('GET', '/api/v1/probes')).status).toBe(200);
  });
});
