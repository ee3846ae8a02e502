import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, startTestServer, type TestServer } from '../test/helpers.js';

/**
 * The golden path end to end: a fresh Metronome, the example app (client/example/app.ts, started
 * as `tsx client/example/app.ts` is) pushing through @metronome/client, traffic on its routes.
 * Within 60 s the service must be registered with its package.json's owner, show a request rate,
 * get the HTTP, runtime and probe (its health link) sections of its generated dashboard, and
 * have proposed alerts. The
 * app pushes every 500 ms (METRONOME_PUSH_INTERVAL_MS) so the test waits for data, not for a
 * 10 s production interval.
 */

const SERVICE = 'shop-golden';
let srv: TestServer;
let app: ChildProcess;
let appUrl: string;
let output = '';
let traffic: { stop: boolean; sent: number; statuses: Map<number, number> };
let trafficDone: Promise<void>;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  srv = await startTestServer();
  const port = await freePort();
  appUrl = `http://127.0.0.1:${port}`;
  app = spawn(join(process.cwd(), 'node_modules/.bin/tsx'), ['client/example/app.ts'], {
    env: { ...process.env, METRONOME_URL: srv.url, SERVICE_NAME: SERVICE, PORT: String(port), METRONOME_PUSH_INTERVAL_MS: '500', EXAMPLE_SEED: '7' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const listening = new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      output += b.toString();
      if (output.includes('listening on')) resolve();
    };
    app.stdout!.on('data', onData);
    app.stderr!.on('data', onData);
    app.once('exit', (code) => reject(new Error(`example app exited with ${code}: ${output}`)));
  });
  await listening;
  traffic = { stop: false, sent: 0, statuses: new Map() };
  trafficDone = (async () => {
    const routes: [string, string][] = [
      ['GET', '/api/items'],
      ['GET', '/api/items/1'],
      ['GET', '/api/items/99'],
      ['POST', '/api/orders'],
      ['POST', '/api/orders'],
      ['GET', '/api/search'],
    ];
    for (let i = 0; !traffic.stop; i++) {
      const [method, path] = routes[i % routes.length];
      const res = await fetch(appUrl + path, { method }).catch(() => null);
      if (res) {
        await res.arrayBuffer();
        traffic.statuses.set(res.status, (traffic.statuses.get(res.status) ?? 0) + 1);
        traffic.sent++;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
}, 60_000);

afterAll(async () => {
  if (traffic) traffic.stop = true;
  await trafficDone;
  if (app && app.exitCode === null) {
    const exited = new Promise((r) => app.once('exit', r));
    app.kill('SIGTERM');
    await exited;
  }
  await srv?.destroy();
});

describe('the example app on the golden path', () => {
  it('shows up with a request rate, HTTP and runtime panels and proposed alerts within 60 s', async () => {
    const started = Date.now();
    const deadline = started + 60_000;
    let last = '';
    let done = false;
    let svc: any, dash: any, alerts: any;
    while (!done && Date.now() < deadline) {
      const s = await getJson(`${srv.url}/api/v1/services/${SERVICE}`);
      svc = s.body?.data;
      if (s.status === 200 && svc.discovered && (svc.health.requestRate ?? 0) > 0) {
        dash = (await getJson(`${srv.url}/api/v1/services/${SERVICE}/dashboard`)).body.data;
        alerts = (await getJson(`${srv.url}/api/v1/services/${SERVICE}/alerts/proposed`)).body.data;
        const ids = new Set(dash.rows.flatMap((r: any) => r.panels.map((p: any) => p.id)));
        // probe-success: the app registered its health link, which Metronome probes.
        done = ['traffic-rate', 'traffic-errors', 'traffic-latency', 'runtime-cpu', 'runtime-memory', 'runtime-gc', 'runtime-eventloop', 'probe-success'].every((id) => ids.has(id));
        last = `panels: ${[...ids].join(', ')}`;
      } else last = `service: ${s.status} ${JSON.stringify(svc?.health ?? s.body)}`;
      if (!done) await new Promise((r) => setTimeout(r, 250));
    }
    expect(done, `not complete within 60 s (${last}); app output: ${output}`).toBe(true);
    const seconds = (Date.now() - started) / 1000;
    expect(seconds).toBeLessThan(60);

    // Registered from client/example/package.json, with the health link the app passed.
    expect(svc).toMatchObject({
      registered: true,
      label: 'service',
      owner: { team: 'shop', contact: '#shop-oncall' },
      description: 'Example shop API instrumented with @metronome/client',
      links: { repository: 'https://github.com/example/shop', runbook: 'https://runbooks.example.com/shop', health: `${appUrl}/healthz` },
    });
    expect(svc.health.requestRate).toBeGreaterThan(0);

    const rows = Object.fromEntries(dash.rows.map((r: any) => [r.title, r]));
    expect(rows['HTTP server'].panels.find((p: any) => p.id === 'traffic-rate').title).toBe('Request rate by route');
    expect(rows['HTTP server'].panels.find((p: any) => p.id === 'traffic-status').title).toBe('Requests by code');
    expect(rows['Runtime and process']).toBeDefined();
    // The route label is the template, not the path: /api/items/:id, never /api/items/1.
    const routes = await getJson(`${srv.url}/api/v1/label/route/values?match[]=http_requests_total{service="${SERVICE}"}`);
    expect(routes.body.data).toContain('/api/items/:id');
    expect(routes.body.data).not.toContain('/api/items/1');

    const names = alerts.map((a: any) => a.alert).sort();
    expect(names).toEqual(['ShopGoldenHighErrorRatio', 'ShopGoldenHighLatency', 'ShopGoldenNoData', 'ShopGoldenProbeErrorBudgetBurn', 'ShopGoldenProbeFailing']);
    expect(alerts.find((a: any) => a.alert === 'ShopGoldenHighErrorRatio').annotations.runbook_url).toBe('https://runbooks.example.com/shop');
    expect(traffic.sent).toBeGreaterThan(0);
  }, 90_000);
});
