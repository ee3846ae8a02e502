import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapLimit } from '../server/concurrency.js';
import { getJson, heroic, postJson, startTestServer, type TestServer } from './helpers.js';

// One real server with an hour of demo traffic behind every test here.
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ DEMO: '1', DEMO_BACKFILL_HOURS: '1' });
  await srv.demo!.ready;
}, 120_000);
afterAll(async () => {
  await srv?.destroy();
});

async function send(method: string, path: string, body?: unknown) {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const DEMO = ['auth', 'checkout', 'frontend', 'inventory-worker', 'payments'];

describe('GET /api/v1/services', () => {
  it('lists the demo services with owners, the label naming them and their health', async () => {
    const r = await getJson(`${srv.url}/api/v1/services`);
    expect(r.status).toBe(200);
    const byName = Object.fromEntries(r.body.data.map((s: any) => [s.name, s]));
    expect(Object.keys(byName).sort()).toEqual(DEMO);
    expect(byName.checkout).toMatchObject({ registered: true, discovered: true, label: 'service', owner: { team: 'payments-and-orders' }, tier: 'critical', slo: { objective: 0.995 } });
    expect(byName.auth.label).toBe('job');
    for (const name of ['frontend', 'checkout', 'payments', 'auth']) {
      const h = byName[name].health;
      expect(h.requestRate, name).toBeGreaterThan(1);
      expect(h.errorRatio, name).toBeGreaterThanOrEqual(0);
      expect(h.errorRatio, name).toBeLessThan(0.5);
      expect(h.p99, name).toBeGreaterThan(0.001);
      expect(h.p99, name).toBeLessThan(10);
    }
    expect(byName['inventory-worker'].health.requestRate).toBeNull();
    expect(Date.now() - byName.frontend.lastSeen).toBeLessThan(60_000);
    expect(['ok', 'warning', 'critical']).toContain(byName.frontend.health.status);
  });
});

describe('service registration', () => {
  it('rejects an invalid definition with every problem and its field', async () => {
    const r = await send('POST', '/api/v1/services', { name: 'bad name!', tier: 'gold', slo: { objective: 99.9 }, links: { runbook: 'not a url' }, extra: 1 });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('MTR_SERVICE_INVALID');
    const paths = r.body.error.issues.map((i: any) => i.path).sort();
    expect(paths).toEqual(expect.arrayContaining(['name', 'tier', 'slo.objective', 'links.runbook']));
    expect(r.body.error.issues.some((i: any) => i.path === '(body)' && /extra/.test(i.message))).toBe(true);
  });

  it('requires a latency threshold for a latency SLO', async () => {
    const r = await send('POST', '/api/v1/services', { name: 'x', slo: { objective: 0.99, indicator: 'latency' } });
    expect(r.status).toBe(400);
    expect(r.body.error.issues.map((i: any) => i.path)).toEqual(['slo.latencyThreshold']);
  });

  it('registers, updates and unregisters a service that sends nothing yet', async () => {
    const def = { name: 'billing', owner: { team: 'finance', contact: '#finance' }, description: 'Invoices', tier: 'high', links: { runbook: 'https://runbooks.example.com/billing' } };
    const created = await send('POST', '/api/v1/services', def);
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({ ...def, registered: true, discovered: false, series: 0, lastSeen: null, health: { status: 'unknown' } });
    const updated = await send('POST', '/api/v1/services', { ...def, tier: 'critical' });
    expect(updated.status).toBe(200);
    expect((await getJson(`${srv.url}/api/v1/services/billing`)).body.data.tier).toBe('critical');
    const list = await getJson(`${srv.url}/api/v1/services`);
    expect(list.body.data.map((s: any) => s.name)).toContain('billing');
    expect((await send('DELETE', '/api/v1/services/billing')).status).toBe(204);
    const gone = await getJson(`${srv.url}/api/v1/services/billing`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('MTR_SERVICE_NOT_FOUND');
    expect((await send('DELETE', '/api/v1/services/billing')).status).toBe(404);
  });

  it('discovers a service from the service tag of its first series', async () => {
    const now = Date.now();
    const w = await postJson(`${srv.url}/write`, heroic('ledger_entries_total', { service: 'ledger', instance: 'l-1' }, [[now - 1000, 5]]));
    expect(w.status).toBe(200);
    const r = await getJson(`${srv.url}/api/v1/services/ledger`);
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ name: 'ledger', registered: false, discovered: true, label: 'service', series: 1 });
    expect(r.body.data.owner).toBeUndefined();
  });
});

describe('dashboards', () => {
  it('generates a dashboard whose every query runs on the real engine and returns data', async () => {
    const end = Math.floor(Date.now() / 1000);
    for (const name of DEMO) {
      const d = await getJson(`${srv.url}/api/v1/services/${name}/dashboard`);
      expect(d.status).toBe(200);
      expect(d.body.data.source).toBe('generated');
      const queries = d.body.data.rows.flatMap((r: any) => r.panels.flatMap((p: any) => p.queries.map((q: any) => ({ id: p.id, kind: p.kind, expr: q.expr as string }))));
      expect(queries.length).toBeGreaterThan(8);
      // Six at a time, as a browser sends them (six connections per host).
      const results = await mapLimit(queries, 6, async (q: { id: string; kind: string; expr: string }) => {
          const qs = new URLSearchParams({ query: q.expr.replaceAll('$__rate_interval', '60s'), start: String(end - 1800), end: String(end), step: '30' });
          const r = await getJson(`${srv.url}/api/v1/query_range?${qs}`);
          return { ...q, status: r.status, series: r.body?.data?.result?.length ?? 0, error: r.body?.error };
      });
      const failed = results.filter((r) => r.status !== 200 || r.series === 0);
      expect(failed, `${name}: ${JSON.stringify(failed.slice(0, 3))}`).toEqual([]);
    }
  });

  it('builds each kind of section for the demo services', async () => {
    const rows = async (name: string) => (await getJson(`${srv.url}/api/v1/services/${name}/dashboard`)).body.data.rows.map((r: any) => r.title);
    expect(await rows('checkout')).toEqual(expect.arrayContaining(['SLO: 99.5% of requests without a server error over 30d', 'HTTP server', 'Runtime and process', 'db metrics', 'checkout metrics']));
    expect(await rows('auth')).toEqual(expect.arrayContaining(['RPC server', 'Runtime and process', 'auth metrics']));
    expect(await rows('inventory-worker')).toEqual(expect.arrayContaining(['jobs metrics', 'queue metrics', 'inventory metrics']));
  });

  it('saves an edited copy that takes precedence, notes new families, and resets to the generated one', async () => {
    const bad = await send('PUT', '/api/v1/services/frontend/dashboard', { title: 'x', rows: [{ title: 'r', panels: [{ id: 'p', title: 'P', queries: [], unit: 'parsecs' }] }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('MTR_DASHBOARD_INVALID');
    expect(bad.body.error.issues.map((i: any) => i.path).sort()).toEqual(['rows.0.panels.0.queries', 'rows.0.panels.0.unit']);

    const generated = (await getJson(`${srv.url}/api/v1/services/frontend/dashboard`)).body.data;
    const edited = { ...generated, title: 'Frontend (edited)', families: generated.families.filter((f: string) => f !== 'frontend_sessions_active'), rows: generated.rows.slice(0, 1) };
    const saved = await send('PUT', '/api/v1/services/frontend/dashboard', edited);
    expect(saved.status).toBe(200);
    const got = (await getJson(`${srv.url}/api/v1/services/frontend/dashboard`)).body.data;
    expect(got).toMatchObject({ source: 'saved', title: 'Frontend (edited)', newFamilies: ['frontend_sessions_active'] });
    expect(got.rows).toHaveLength(1);
    const asGenerated = (await getJson(`${srv.url}/api/v1/services/frontend/dashboard?generated=1`)).body.data;
    expect(asGenerated.source).toBe('generated');

    const reset = await send('DELETE', '/api/v1/services/frontend/dashboard');
    expect(reset.status).toBe(200);
    expect(reset.body.reset).toBe(true);
    const after = (await getJson(`${srv.url}/api/v1/services/frontend/dashboard`)).body.data;
    expect(after.source).toBe('generated');
    expect(after.rows.length).toBe(generated.rows.length);
  });

  it('builds a working dashboard for a Heroic service with dotted keys', async () => {
    const now = Date.now();
    const pts: [number, number][] = [[now - 60_000, 0.4], [now - 30_000, 0.5], [now - 1000, 0.6]];
    await postJson(`${srv.url}/write`, [heroic('cpu.usage', { host: 'a', service: 'api' }, pts), heroic('requests.count_total', { host: 'a', service: 'api' }, pts)]);
    const d = (await getJson(`${srv.url}/api/v1/services/api/dashboard`)).body.data;
    const exprs: string[] = d.rows.flatMap((r: any) => r.panels.flatMap((p: any) => p.queries.map((q: any) => q.expr)));
    // host identifies where a series comes from: the service view sums over it.
    // Dotted names are quoted inside the braces (Prometheus 3 syntax).
    expect(exprs).toEqual(['sum ({"cpu.usage",service="api"})', 'sum (rate({"requests.count_total",service="api"}[$__rate_interval]))']);
    for (const e of exprs) {
      const qs = new URLSearchParams({ query: e.replaceAll('$__rate_interval', '60s'), start: String(Math.floor(now / 1000) - 300), end: String(Math.floor(now / 1000)), step: '15' });
      const r = await getJson(`${srv.url}/api/v1/query_range?${qs}`);
      expect(r.status, e).toBe(200);
      expect(r.body.data.result.length, e).toBe(1);
    }
  });

  it('answers 404 for an unknown service', async () => {
    const r = await getJson(`${srv.url}/api/v1/services/nope/dashboard`);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('MTR_SERVICE_NOT_FOUND');
  });
});

describe('proposed alerts', () => {
  it('lists the demo services\' proposals as enabled (the demo enables them)', async () => {
    const r = await getJson(`${srv.url}/api/v1/services/checkout/alerts/proposed`);
    expect(r.status).toBe(200);
    const names = r.body.data.map((x: any) => [x.alert, x.enabled]);
    expect(names).toEqual([
      ['CheckoutHighErrorRatio', true],
      ['CheckoutHighLatency', true],
      ['CheckoutErrorBudgetBurn', true],
      ['CheckoutNoData', true],
    ]);
  });

  it('enables a new service\'s proposals with one call, through the alerting API, once', async () => {
    const now = Date.now();
    const pts: [number, number][] = [[now - 20_000, 1], [now - 10_000, 2]];
    await postJson(`${srv.url}/write`, [
      heroic('http_requests_total', { service: 'search', code: '200', route: '/q' }, pts),
      heroic('http_request_duration_seconds_bucket', { service: 'search', route: '/q', le: '0.1' }, pts),
      heroic('http_request_duration_seconds_bucket', { service: 'search', route: '/q', le: '+Inf' }, pts),
      heroic('http_request_duration_seconds_count', { service: 'search', route: '/q' }, pts),
    ]);
    const proposed = (await getJson(`${srv.url}/api/v1/services/search/alerts/proposed`)).body.data;
    expect(proposed.map((x: any) => [x.alert, x.enabled])).toEqual([
      ['SearchHighErrorRatio', false],
      ['SearchHighLatency', false],
      ['SearchNoData', false],
    ]);
    const unknown = await send('POST', '/api/v1/services/search/alerts/enable', { alerts: ['Nope'] });
    expect(unknown.status).toBe(400);
    const first = await send('POST', '/api/v1/services/search/alerts/enable', {});
    expect(first.status).toBe(200);
    expect(first.body.data).toEqual({ created: ['SearchHighErrorRatio', 'SearchHighLatency', 'SearchNoData'], alreadyEnabled: [] });
    const rules = (await getJson(`${srv.url}/api/v1/alerting/rules`)).body.data.filter((r: any) => r.group === 'service:search');
    expect(rules.map((r: any) => [r.alert, r.labels.service, r.labels.severity]).sort()).toEqual([
      ['SearchHighErrorRatio', 'search', 'warning'],
      ['SearchHighLatency', 'search', 'warning'],
      ['SearchNoData', 'search', 'warning'],
    ]);
    const again = await send('POST', '/api/v1/services/search/alerts/enable', {});
    expect(again.body.data).toEqual({ created: [], alreadyEnabled: ['SearchHighErrorRatio', 'SearchHighLatency', 'SearchNoData'] });
  });
});

describe('GET /api/v1/status', () => {
  it('reports series, storage, ingest and build', async () => {
    const r = await getJson(`${srv.url}/api/v1/status`);
    expect(r.status).toBe(200);
    const s = r.body.data;
    expect(s.series.count).toBeGreaterThan(500);
    expect(s.series.services).toBeGreaterThanOrEqual(5);
    expect(s.storage.bytes).toBeGreaterThan(10_000);
    expect(s.storage.tables.map((t: any) => t.table)).toContain('points');
    expect(s.ingest.pointsAccepted).toBeGreaterThan(100_000);
    expect(s.build).toMatchObject({ version: '0.1.0', store: 'embedded' });
    expect(s.queries.count).toBeGreaterThan(0);
    expect(s.queries.p99Sec).toBeGreaterThan(0);
  });
});
