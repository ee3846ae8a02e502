import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../server/paths.js';
import { postJson, startTestServer, type TestServer } from './helpers.js';
import { ensureWebBuilt } from './web-build.js';

/**
 * Library dashboards in a real headless Chromium against a real server with demo data:
 * variables (URL and queries), every panel kind, annotations, the hover tooltip, semantic
 * colours and Grafana import. Screenshots go to test-output/.
 */

declare const document: any;

const OUT = join(ROOT, 'test-output');
let srv: TestServer;
let browser: Browser;
let page: Page;

const DASH = {
  id: 'e2e',
  title: 'Checkout (e2e)',
  folder: 'Tests',
  tags: ['e2e'],
  variables: [
    { type: 'query', name: 'route', label: 'Route', query: 'label_values(http_requests_total{service="checkout"}, route)', multi: true, includeAll: true },
    { type: 'custom', name: 'code', options: ['200', '500'], includeAll: true, multi: true },
    { type: 'interval', name: 'win', options: ['5m', '10m'] },
    { type: 'text', name: 'note', current: ['hello'] },
  ],
  annotations: { alerts: true, deploys: true, manual: true, service: 'checkout' },
  panels: [
    { kind: 'row', title: 'Traffic', gridPos: { x: 0, y: 0, w: 24, h: 1 } },
    { kind: 'timeseries', title: 'Requests by code', queries: [{ expr: 'sum by (code) (rate(http_requests_total{service="checkout",route=~"$route",code=~"$code"}[$win]))', legend: '{{code}}' }], options: { unit: 'reqps' }, gridPos: { x: 0, y: 1, w: 12, h: 8 } },
    { kind: 'heatmap', title: 'Latency', queries: [{ expr: 'sum by (le) (rate(http_request_duration_seconds_bucket{service="checkout",route=~"$route"}[$win]))' }], options: { unit: 's' }, gridPos: { x: 12, y: 1, w: 12, h: 8 } },
    { kind: 'stat', title: 'Total rate', queries: [{ expr: 'sum(rate(http_requests_total{service="checkout"}[5m]))' }], options: { unit: 'reqps', thresholds: [{ value: null, color: 'green' }, { value: 1e9, color: 'red' }] }, gridPos: { x: 0, y: 9, w: 6, h: 5 } },
    { kind: 'gauge', title: 'Error %', queries: [{ expr: '100 * sum(rate(http_requests_total{service="checkout",code="500"}[5m])) / sum(rate(http_requests_total{service="checkout"}[5m]))' }], options: { unit: 'percent', max: 100 }, gridPos: { x: 6, y: 9, w: 6, h: 5 } },
    { kind: 'bargauge', title: 'By route', queries: [{ expr: 'sum by (route) (rate(http_requests_total{service="checkout"}[5m]))', legend: '{{route}}' }], options: { unit: 'reqps' }, gridPos: { x: 12, y: 9, w: 6, h: 5 } },
    { kind: 'table', title: 'Instances', queries: [{ expr: 'sum by (instance) (rate(http_requests_total{service="checkout"}[5m]))' }], options: { unit: 'reqps' }, gridPos: { x: 18, y: 9, w: 6, h: 5 } },
    { kind: 'row', title: 'Docs', gridPos: { x: 0, y: 14, w: 24, h: 1 } },
    { kind: 'text', title: 'Notes', options: { mode: 'markdown', content: '# Runbook\nCheck **payments** first.\n- one\n- two\n<script>window.__pwned = 1</script>' }, gridPos: { x: 0, y: 15, w: 24, h: 4 } },
  ],
};

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  await ensureWebBuilt();
  srv = await startTestServer({ DEMO: '1', DEMO_BACKFILL_HOURS: '1' });
  await srv.demo!.ready;
  const r = await postJson(`${srv.url}/api/v1/dashboards`, DASH);
  if (r.status !== 201) throw new Error(`creating the dashboard: ${r.status} ${JSON.stringify(r.body)}`);
  const a = await postJson(`${srv.url}/api/v1/annotations`, { time: Date.now() - 20 * 60_000, text: 'deploy 2.0 by CI', tags: ['deploy'], service: 'checkout' });
  if (a.status !== 201) throw new Error(`posting the annotation: ${a.status}`);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.setDefaultTimeout(30_000);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await srv?.destroy();
});

const shot = (name: string) => page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });

describe('a library dashboard', () => {
  it('draws every panel kind', async () => {
    await page.goto(`${srv.url}/dashboards/e2e`);
    await page.waitForSelector('[data-kind="timeseries"] canvas');
    await page.waitForFunction(() => Number(document.querySelector('[data-heatmap-buckets]')?.getAttribute('data-heatmap-buckets')) > 3);
    await page.waitForFunction(() => /req\/s/.test(document.querySelector('[data-kind="stat"] [data-stat-value]')?.textContent ?? ''));
    expect(await page.getAttribute('[data-kind="stat"] [data-stat-value]', 'style')).toMatch(/color: green/);
    await page.waitForSelector('[data-kind="gauge"] svg[data-gauge-fraction]');
    const frac = Number(await page.getAttribute('[data-kind="gauge"] svg', 'data-gauge-fraction'));
    expect(frac).toBeGreaterThanOrEqual(0);
    expect(frac).toBeLessThan(0.5);
    await page.waitForSelector('[data-kind="bargauge"] [data-bar]');
    expect(await page.$$eval('[data-kind="bargauge"] [data-bar]', (b) => b.length)).toBeGreaterThanOrEqual(2);
    await page.waitForSelector('[data-kind="table"] tbody tr');
    expect(await page.$$eval('[data-kind="table"] th', (th) => th.map((x) => x.textContent))).toEqual(['instance', 'Value']);
    expect(await page.textContent('[data-kind="text"] .dash-text h3')).toBe('Runbook');
    expect(await page.textContent('[data-kind="text"] strong')).toBe('payments');
    // Text is never HTML: the script tag shows as text and does not run.
    expect(await page.evaluate(() => (globalThis as any).__pwned)).toBeUndefined();
    expect(await page.textContent('[data-kind="text"]')).toContain('<script>');
    await shot('dashboard-kinds');
  });

  it('colours 5xx red and 2xx green whatever their order', async () => {
    const colours = await page.$$eval('[data-kind="timeseries"] .legend button', (bs) => Object.fromEntries(bs.map((b) => [b.querySelector('.lbl')!.textContent, (b.querySelector('.sw') as any).style.background])));
    expect(colours['500']).toBe('rgb(239, 68, 68)');
    expect(colours['200']).toBe('rgb(16, 185, 129)');
  });

  it('shows the time and the values in a tooltip on hover', async () => {
    const box = (await page.$('[data-kind="timeseries"] .u-over'))!;
    const b = (await box.boundingBox())!;
    await page.mouse.move(b.x + b.width * 0.6, b.y + b.height / 2);
    await page.waitForSelector('[data-kind="timeseries"] .chart-tooltip', { state: 'visible' });
    const tip = await page.textContent('[data-kind="timeseries"] .chart-tooltip');
    expect(tip).toMatch(/\d{2}:\d{2}/);
    expect(tip).toMatch(/500/);
    expect(tip).toMatch(/req\/s/);
    await page.mouse.move(0, 0);
  });

  it('marks posted annotations on the charts', async () => {
    await page.waitForSelector('[data-kind="timeseries"] [data-annotation="manual"]', { state: 'attached' });
    const title = await page.getAttribute('[data-kind="timeseries"] [data-annotation="manual"]', 'title');
    expect(title).toContain('deploy 2.0 by CI');
  });

  it('takes variable values from the picker into the URL and the queries', async () => {
    const routes = await page.$$eval('#var-route option', (os) => os.map((o) => (o as any).value));
    expect(routes[0]).toBe('$__all');
    expect(routes.length).toBeGreaterThan(2);
    const chosen = routes[1];
    const seen: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/v1/query_range')) seen.push(new URL(r.url()).searchParams.get('query') ?? '');
    });
    await page.selectOption('#var-route', [chosen]);
    await page.waitForFunction((v) => new URL(document.location.href).searchParams.getAll('var-route').includes(v), chosen);
    await page.waitForFunction(() => !document.querySelector('[data-kind="timeseries"][aria-busy="true"]'));
    await expect.poll(() => seen.some((q) => q.includes(`route=~"${chosen.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`) && q.includes('[5m]'))).toBe(true);
    // A reload keeps the choice: the URL is the view.
    await page.reload();
    await page.waitForSelector('#var-route option >> nth=2', { state: 'attached' });
    expect(await page.$eval('#var-route', (s: any) => [...s.selectedOptions].map((o: any) => o.value))).toEqual([chosen]);
    // The interval variable changes the range of the rate.
    seen.length = 0;
    await page.selectOption('#var-win', '10m');
    await expect.poll(() => seen.some((q) => q.includes('[10m]'))).toBe(true);
    await shot('dashboard-variables');
  });

  it('collapses a row, hiding its panels and moving the next row up', async () => {
    const textTop = () => page.$eval('[data-kind="text"]', (e: any) => e.getBoundingClientRect().top);
    const before = await textTop();
    await page.click('.dash-row button >> nth=0');
    await page.waitForSelector('[data-kind="timeseries"]', { state: 'detached' });
    expect(await page.$('[data-kind="gauge"]')).toBeNull();
    expect(await textTop()).toBeLessThan(before - 300);
    expect(await page.getAttribute('.dash-row button >> nth=0', 'aria-expanded')).toBe('false');
    await page.click('.dash-row button >> nth=0');
    await page.waitForSelector('[data-kind="timeseries"]');
  });
});

describe('rough edges', () => {
  it('takes a relative time such as now-90m in the custom range and keeps it relative', async () => {
    await page.goto(`${srv.url}/dashboards/e2e`);
    await page.click('[data-testid="range-button"]');
    await page.fill('.popover input[name="from"]', 'now-90m');
    await page.fill('.popover input[name="to"]', 'now');
    await page.click('.popover button[type="submit"]');
    await page.waitForFunction(() => new URL(document.location.href).searchParams.get('from') === 'now-90m');
    expect(new URL(page.url()).searchParams.get('to')).toBeNull();
    // A bad time is refused with a message naming the accepted forms.
    await page.click('[data-testid="range-button"]');
    expect(await page.inputValue('.popover input[name="from"]')).toBe('now-90m');
    await page.fill('.popover input[name="from"]', 'yesterday');
    await page.click('.popover button[type="submit"]');
    expect(await page.textContent('.popover [role="alert"]')).toMatch(/now-90m/);
    await page.keyboard.press('Escape');
  });
});

describe('layout at phone and desktop widths', () => {
  /** Elements wider than the viewport, for a readable failure. */
  const overflowing = () =>
    page.evaluate(() => {
      const w = document.documentElement.clientWidth;
      const out: string[] = [];
      for (const e of document.querySelectorAll('body *')) {
        const r = e.getBoundingClientRect();
        if (r.right > w + 1 && r.width > 0) out.push(`${e.tagName.toLowerCase()}.${e.className} ${Math.round(r.right)}`);
      }
      return { scroll: document.documentElement.scrollWidth, width: w, out: out.slice(0, 5) };
    });

  it.each([
    [390, '/status'],
    [390, '/dashboards/e2e'],
    [390, '/services/checkout'],
    [1440, '/status'],
  ])('at %i px, %s does not scroll sideways and the header fits', async (width, path) => {
    await page.setViewportSize({ width, height: 900 });
    await page.goto(`${srv.url}${path}`);
    await page.waitForSelector(path === '/status' ? '.stats-grid' : path.startsWith('/services') ? '[data-kind="heatmap"] canvas' : '[data-kind="text"]');
    const o = await overflowing();
    expect(o.scroll, JSON.stringify(o.out)).toBeLessThanOrEqual(o.width);
    const header = await page.$eval('.topbar', (h: any) => ({ scroll: h.scrollWidth, client: h.clientWidth }));
    expect(header.scroll).toBeLessThanOrEqual(header.client);
    await page.screenshot({ path: join(OUT, `layout-${width}${path.replace(/\//g, '-')}.png`) });
    await page.setViewportSize({ width: 1440, height: 1000 });
  });
});

describe('explore when nothing matches', () => {
  it('says no series match instead of drawing empty axes, and the table says why it is empty', async () => {
    await page.goto(`${srv.url}/explore?expr=${encodeURIComponent('no_such_metric_xyz')}`);
    await page.waitForSelector('[data-explore-empty]');
    expect(await page.textContent('[data-explore-empty]')).toMatch(/No series match this query/);
    expect(await page.$('[data-explore-graph]')).toBeNull();
    // Series that ended more than 5 minutes before the end of the range: on the graph, not in the table.
    const t = Date.now() - 30 * 60_000;
    await postJson(`${srv.url}/write`, [{ series: { key: 'ended_metric', tags: { service: 'x' } }, data: { type: 'points', data: [[t - 60_000, 1], [t, 2]] } }]);
    await page.goto(`${srv.url}/explore?expr=ended_metric`);
    await page.waitForSelector('[data-explore-graph] canvas');
    await page.goto(`${srv.url}/explore?expr=ended_metric&tab=table`);
    await page.waitForSelector('[data-explore-empty]');
    expect(await page.textContent('[data-explore-empty]')).toMatch(/the end of the range.*Graph tab/);
  });
});

describe('the dashboards list and Grafana import', () => {
  it('lists dashboards by folder, including the services', async () => {
    await page.goto(`${srv.url}/dashboards`);
    await page.waitForSelector('section[aria-label="Folder Tests"]');
    expect(await page.textContent('section[aria-label="Folder Tests"]')).toContain('Checkout (e2e)');
    expect(await page.textContent('section[aria-label="Folder Services"]')).toContain('checkout');
    await page.fill('input[aria-label="Search dashboards"]', 'e2e');
    await page.waitForFunction(() => !document.querySelector('section[aria-label="Folder Services"]'));
  });

  it('imports a Grafana dashboard, shows what did not convert, and opens it', async () => {
    const json = readFileSync(join(ROOT, 'test/data/grafana/kubernetes-mixin-apiserver.json'), 'utf8');
    await page.goto(`${srv.url}/dashboards`);
    await page.click('text=Import Grafana…');
    await page.fill('.dash-import textarea', json);
    await page.fill('.dash-import input[type="text"]', 'Kubernetes');
    await page.click('.dash-import button[type="submit"]');
    await page.waitForSelector('.dash-import-result');
    const result = await page.textContent('.dash-import-result');
    expect(result).toMatch(/item\(s\) not converted/);
    expect(await page.$$eval('.dash-report li', (l) => l.length)).toBeGreaterThan(0);
    await shot('dashboard-import');
    await page.click('.dash-import-result a');
    await page.waitForSelector('[data-kind="text"]');
    expect(await page.$$eval('[data-kind="stat"]', (s) => s.length)).toBe(3);
    expect(await page.$('#var-cluster')).not.toBeNull();
    await shot('dashboard-imported');
  });
});

/** Legend names of every timeseries panel on the page, by panel title. */
async function legends(): Promise<Record<string, string[]>> {
  return page.$$eval('[data-kind="timeseries"]', (ps) =>
    Object.fromEntries(ps.map((p: any) => [p.querySelector('h3')?.textContent ?? '', [...p.querySelectorAll('.legend .lbl')].map((l: any) => l.textContent as string)])),
  );
}

/** Query text in a legend: a function call, a range, a matcher. */
const QUERY_TEXT = /\w\(|\[\d+[smhd]\]|=~|\$\w/;

/** Wait until no timeseries panel is loading and at least one draws a legend. */
async function legendsDrawn() {
  await page.waitForFunction(() => document.querySelector('[data-kind="timeseries"] .legend') && !document.querySelector('[data-kind="timeseries"][aria-busy="true"]'));
}

describe('legends name series by their labels', () => {
  it('on the generated service dashboard', async () => {
    await page.goto(`${srv.url}/services/checkout`);
    await page.waitForSelector('[data-dashboard][data-rendered="true"]', { timeout: 60_000 });
    const all = await legends();
    expect(Object.keys(all).length).toBeGreaterThan(6);
    for (const [title, names] of Object.entries(all)) for (const n of names) expect(n, title).not.toMatch(QUERY_TEXT);
    expect(all['Request rate by route']).toEqual(expect.arrayContaining(['/api/checkout']));
    expect(all['Latency p50 / p90 / p99']).toEqual(['p50', 'p90', 'p99']);
  });

  it("on an imported Grafana dashboard, with its legendFormat and without one", async () => {
    const grafana = {
      title: 'Legends (Grafana)',
      panels: [
        {
          type: 'timeseries',
          title: 'By route',
          datasource: { type: 'prometheus', uid: 'prom' },
          gridPos: { x: 0, y: 0, w: 12, h: 8 },
          targets: [{ refId: 'A', expr: 'sum by (route) (rate(http_requests_total{service="checkout"}[5m]))', legendFormat: '{{route}}' }],
        },
        {
          type: 'timeseries',
          title: 'Totals',
          datasource: { type: 'prometheus', uid: 'prom' },
          gridPos: { x: 12, y: 0, w: 12, h: 8 },
          targets: [
            { refId: 'A', expr: 'sum(rate(http_requests_total{service="checkout"}[5m]))' },
            { refId: 'B', expr: 'sum by (instance) (rate(http_requests_total{service="checkout"}[5m]))', legendFormat: '__auto' },
          ],
        },
        {
          type: 'stat',
          title: 'Per instance',
          datasource: { type: 'prometheus', uid: 'prom' },
          gridPos: { x: 0, y: 8, w: 12, h: 5 },
          targets: [{ refId: 'A', expr: 'sum by (instance) (rate(http_requests_total{service="checkout"}[5m]))' }],
        },
      ],
    };
    const r = await postJson(`${srv.url}/api/v1/dashboards/import`, grafana);
    expect(r.status).toBe(201);
    await page.goto(`${srv.url}/dashboards/${r.body.id}`);
    await legendsDrawn();
    const all = await legends();
    expect(all['By route']).toEqual(expect.arrayContaining(['/api/checkout', '/api/orders/:id']));
    expect(all['By route'].every((n) => n.startsWith('/'))).toBe(true);
    expect(all.Totals).toEqual(['http_requests_total', '{instance="checkout-1"}', '{instance="checkout-2"}']);
    await page.waitForSelector('[data-kind="stat"] .dash-stat .subtle');
    expect(await page.$$eval('[data-kind="stat"] .dash-stat .subtle', (l) => l.map((x: any) => x.textContent))).toEqual(['{instance="checkout-1"}', '{instance="checkout-2"}']);
  });

  it('on a user dashboard and in Explore', async () => {
    await page.goto(`${srv.url}/dashboards/e2e`);
    await legendsDrawn();
    const all = await legends();
    expect(all['Requests by code']).toEqual(expect.arrayContaining(['200', '500']));
    await page.goto(`${srv.url}/explore?expr=${encodeURIComponent('sum(rate(http_requests_total{service="checkout"}[5m]))')}`);
    await page.waitForSelector('[data-explore-graph] .legend .lbl');
    expect(await page.$$eval('[data-explore-graph] .legend .lbl', (l) => l.map((x: any) => x.textContent))).toEqual(['http_requests_total']);
    await page.goto(`${srv.url}/explore?expr=${encodeURIComponent('sum by (code) (rate(http_requests_total{service="checkout"}[5m]))')}`);
    await page.waitForSelector('[data-explore-graph] .legend .lbl');
    const names = await page.$$eval('[data-explore-graph] .legend .lbl', (l) => l.map((x: any) => x.textContent as string));
    expect(names).toEqual(expect.arrayContaining(['{code="200"}', '{code="500"}']));
  });
});

describe('the service page is the dashboard model', () => {
  it('filters by instance and route, and draws latency heatmaps beside the quantile lines', async () => {
    await page.goto(`${srv.url}/services/checkout`);
    await page.waitForSelector('[data-dashboard][data-rendered="true"]', { timeout: 60_000 });
    expect(await page.$$eval('#var-instance option', (os) => os.map((o: any) => o.value))).toEqual(['$__all', 'checkout-1', 'checkout-2']);
    expect((await page.$$eval('#var-route option', (os) => os.length)) > 2).toBe(true);
    await page.waitForFunction(() => Number(document.querySelector('[data-panel="traffic-latency-heatmap"] [data-heatmap-buckets]')?.getAttribute('data-heatmap-buckets')) > 3);
    const lines = (await page.locator('[data-panel="traffic-latency"]').boundingBox())!;
    const heat = (await page.locator('[data-panel="traffic-latency-heatmap"]').boundingBox())!;
    expect(Math.abs(heat.y - lines.y)).toBeLessThan(2);
    expect(heat.x).toBeGreaterThan(lines.x + lines.width - 2);
    const seen: string[] = [];
    const onReq = (r: { url(): string }) => {
      if (r.url().includes('/api/v1/query_range')) seen.push(new URL(r.url()).searchParams.get('query') ?? '');
    };
    page.on('request', onReq);
    await page.selectOption('#var-instance', ['checkout-2']);
    await page.waitForFunction(() => new URL(document.location.href).searchParams.getAll('var-instance').includes('checkout-2'));
    await expect.poll(() => seen.some((q) => q.includes('instance=~"checkout-2"') && q.includes('service="checkout"'))).toBe(true);
    page.off('request', onReq);
    const cpu = () => page.$$eval('[data-panel="runtime-cpu"] .legend .lbl', (l) => l.map((x: any) => x.textContent));
    await expect.poll(cpu, { timeout: 15_000 }).toEqual(['checkout-2']);
    await shot('service-checkout-instance');
  });
});

describe('the panel editor', () => {
  it('adds a panel with its kind, query, title, unit and legend, previews it, saves, and the API has it', async () => {
    const created = await postJson(`${srv.url}/api/v1/dashboards`, { id: 'editor-e2e', title: 'Editor (e2e)', folder: 'Tests', panels: [] });
    expect(created.status).toBe(201);
    await page.goto(`${srv.url}/dashboards/editor-e2e`);
    await page.click('button:has-text("Add panel")');
    await page.waitForSelector('dialog.panel-editor[open]');
    await page.selectOption('#pe-kind', 'timeseries');
    await page.fill('#pe-title', 'Checkout by code');
    await page.waitForSelector('dialog.panel-editor .editor-box textarea');
    await page.fill('#pe-query-0', 'sum by (code) (rate(http_requests_total{service="checkout"}[5m]))');
    await page.fill('#pe-legend-0', 'HTTP {{code}}');
    await page.selectOption('#pe-unit', 'reqps');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-panel-preview] .legend .lbl')].some((l: any) => l.textContent === 'HTTP 500'));
    expect(await page.textContent('[data-panel-preview] h3')).toBe('Checkout by code');
    expect(await page.textContent('[data-panel-preview] [data-legend-value]')).toMatch(/req\/s$/);
    await shot('panel-editor');
    await page.click('dialog.panel-editor button:has-text("Save dashboard")');
    await page.waitForSelector('dialog.panel-editor', { state: 'detached' });
    await page.waitForSelector('.dash-grid [data-kind="timeseries"] .legend');
    const api = await (await fetch(`${srv.url}/api/v1/dashboards/editor-e2e`)).json();
    expect(api.data.panels).toHaveLength(1);
    expect(api.data.panels[0]).toMatchObject({
      kind: 'timeseries',
      title: 'Checkout by code',
      queries: [{ expr: 'sum by (code) (rate(http_requests_total{service="checkout"}[5m]))', legend: 'HTTP {{code}}', refId: 'A' }],
      options: { unit: 'reqps' },
    });

    // It persists, and an edit changes its kind.
    await page.reload();
    await page.click('button[aria-label="Edit Checkout by code"]');
    await page.waitForSelector('dialog.panel-editor[open]');
    expect(await page.inputValue('#pe-title')).toBe('Checkout by code');
    await page.selectOption('#pe-kind', 'bargauge');
    await page.waitForSelector('[data-panel-preview] [data-bar]');
    await page.click('dialog.panel-editor button:has-text("Save dashboard")');
    await page.waitForSelector('.dash-grid [data-kind="bargauge"] [data-bar]');
    const after = await (await fetch(`${srv.url}/api/v1/dashboards/editor-e2e`)).json();
    expect(after.data.panels[0].kind).toBe('bargauge');
    expect(after.data.panels[0].options).toEqual({ unit: 'reqps' });
  });

  it('shows the API refusing a panel in the editor, naming the field', async () => {
    await page.goto(`${srv.url}/dashboards/editor-e2e`);
    await page.click('button:has-text("Add panel")');
    await page.waitForSelector('dialog.panel-editor[open]');
    await page.fill('#pe-title', 'x'.repeat(600));
    await page.waitForSelector('dialog.panel-editor .editor-box textarea');
    await page.fill('#pe-query-0', 'up');
    await page.click('dialog.panel-editor button:has-text("Save dashboard")');
    expect(await page.textContent('dialog.panel-editor [role="alert"]')).toMatch(/panels\.1\.title/);
    await page.click('dialog.panel-editor button:has-text("Cancel")');
    const api = await (await fetch(`${srv.url}/api/v1/dashboards/editor-e2e`)).json();
    expect(api.data.panels).toHaveLength(1);
  });
});

describe('the panel editor on a service page', () => {
  it('saves an edited copy of the service dashboard, and Reset brings the generated one back', async () => {
    await page.goto(`${srv.url}/services/payments`);
    await page.waitForSelector('[data-dashboard][data-rendered="true"]', { timeout: 60_000 });
    const generated = await page.$$eval('.dash-grid [data-kind]', (ps) => ps.length);
    await page.click('button:has-text("Add panel")');
    await page.waitForSelector('dialog.panel-editor .editor-box textarea');
    await page.selectOption('#pe-kind', 'stat');
    await page.fill('#pe-title', 'Payments series');
    await page.fill('#pe-query-0', 'count({service="payments"})');
    await page.selectOption('#pe-unit', 'percent');
    await page.waitForFunction(() => /^\d+(\.\d+)?%$/.test(document.querySelector('[data-panel-preview] [data-stat-value]')?.textContent ?? ''));
    await page.click('dialog.panel-editor button:has-text("Save dashboard")');
    await page.waitForSelector('.notice:has-text("edited copy")');
    await page.waitForSelector('.dash-grid [aria-label="Payments series"] [data-stat-value]');
    expect(await page.$$eval('.dash-grid [data-kind]', (ps) => ps.length)).toBe(generated + 1);
    const saved = await (await fetch(`${srv.url}/api/v1/dashboards/service:payments`)).json();
    expect(saved.data.source).toBe('library');
    expect(saved.data.panels.at(-1)).toMatchObject({ kind: 'stat', title: 'Payments series', queries: [{ expr: 'count({service="payments"})' }], options: { unit: 'percent' } });
    // The variables came along with the copy.
    expect(saved.data.variables.map((v: { name: string }) => v.name)).toEqual(['instance', 'route']);
    await page.click('.notice button:has-text("Reset to generated")');
    await page.waitForSelector('[aria-label="Payments series"]', { state: 'detached' });
    const back = await (await fetch(`${srv.url}/api/v1/dashboards/service:payments`)).json();
    expect(back.data.source).toBe('generated');
  });
});
