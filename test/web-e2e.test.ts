import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../server/paths.js';
import { getJson, startTestServer, type TestServer } from './helpers.js';
import { ensureWebBuilt } from './web-build.js';

/**
 * The web UI in a real headless Chromium against a real server with demo data. Screenshots of
 * every page go to test-output/ (look at them: they are how a user sees the UI).
 */

// Code inside page.evaluate runs in the browser; the test project has no DOM types.
declare const document: any, location: any, window: any;
type HTMLCanvasElement = any;
type HTMLElement = any;

const OUT = join(ROOT, 'test-output');
let srv: TestServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  await ensureWebBuilt();
  srv = await startTestServer({ DEMO: '1', DEMO_BACKFILL_HOURS: '2' });
  await srv.demo!.ready;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.setDefaultTimeout(30_000);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await srv?.destroy();
});

const shot = (name: string, fullPage = false) => page.screenshot({ path: join(OUT, `${name}.png`), fullPage });

/** Wait until every visible panel of the dashboard has drawn its data. */
async function waitRendered() {
  await page.waitForSelector('[data-dashboard][data-rendered="true"]', { timeout: 60_000 });
}

/** Pixels of a chart's canvas in a series colour: proof that lines (not just axes) were drawn. */
async function seriesPixels(panelId: string, rgb: [number, number, number]): Promise<number> {
  return page.evaluate(
    ({ panelId, rgb }) => {
      const c: HTMLCanvasElement = document.querySelector(`[data-panel="${panelId}"] canvas`);
      if (!c) return -1;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 200 && Math.abs(d[i] - rgb[0]) < 40 && Math.abs(d[i + 1] - rgb[1]) < 40 && Math.abs(d[i + 2] - rgb[2]) < 40) n++;
      }
      return n;
    },
    { panelId, rgb },
  );
}

const FIRST_SERIES: [number, number, number] = [0x3b, 0x82, 0xf6];

describe('services page', () => {
  it('lists every service with its owner and health', async () => {
    await page.goto(srv.url);
    await page.waitForSelector('tr[data-service="payments"]');
    const names = await page.$$eval('tr[data-service]', (rows) => rows.map((r) => r.getAttribute('data-service')));
    expect(names.sort()).toEqual(['auth', 'checkout', 'frontend', 'inventory-worker', 'payments']);
    const checkout = await page.textContent('tr[data-service="checkout"]');
    expect(checkout).toContain('payments-and-orders');
    expect(checkout).toMatch(/req\/s/);
    expect(await page.$$eval('tr[data-service] .badge', (b) => b.length)).toBeGreaterThanOrEqual(5);
    await shot('services');
  });

  it('filters by the search box and keeps the query in the URL', async () => {
    await page.fill('#svc-search', 'payments-and');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-service]').length === 2);
    expect(new URL(page.url()).searchParams.get('q')).toBe('payments-and');
    await page.fill('#svc-search', '');
  });

  it("shows each service's golden-path score, linking to its scorecard page", async () => {
    await page.goto(srv.url);
    const cell = 'tr[data-service="checkout"] [data-col="score"] a';
    await page.waitForSelector(cell);
    const api = await getJson(`${srv.url}/api/v1/services/checkout/scorecard`);
    expect(Number(await page.textContent(cell))).toBe(api.body.data.score);
    await page.click(cell);
    await page.waitForSelector('tr[data-check="probe"]');
    expect(new URL(page.url()).pathname).toBe('/services/checkout/scorecard');
    expect(await page.$$eval('tr[data-check]', (rows) => rows.length)).toBe(api.body.data.checks.length);
    expect(await page.getAttribute('tr[data-check="probe"]', 'data-ok')).toBe('false');
    expect(await page.textContent('tr[data-check="probe"]')).toContain('Register a health link');
    expect(await page.getAttribute('[data-score]', 'data-score')).toBe(String(api.body.data.score));
    await shot('scorecard');
  });
});

describe('service dashboard', () => {
  it('draws every panel with data: series in the canvases and values in the legends', async () => {
    await page.goto(`${srv.url}/services/checkout`);
    await waitRendered();
    const panels = await page.$$eval('[data-panel]', (ps) => ps.map((p) => p.getAttribute('data-panel')));
    expect(panels).toEqual(expect.arrayContaining(['slo-budget', 'traffic-rate', 'traffic-errors', 'traffic-latency', 'runtime-cpu']));
    for (const id of ['traffic-rate', 'traffic-latency', 'runtime-cpu']) {
      expect(await seriesPixels(id, FIRST_SERIES), id).toBeGreaterThan(200);
    }
    const legend = await page.$$eval('[data-panel="traffic-latency"] [data-legend-value]', (v) => v.map((x) => x.textContent));
    expect(legend).toHaveLength(3);
    for (const v of legend) expect(v).toMatch(/\d+(\.\d+)? (ms|s|µs)$/);
    const budget = await page.textContent('[data-panel="slo-budget"] [data-stat-value]');
    expect(budget).toMatch(/^-?\d+(\.\d+)?%$/);
    await shot('service-checkout', true);
  });

  it('refetches every panel when the time range changes, and puts the range in the URL', async () => {
    const ranges: number[] = [];
    const onReq = (r: { url(): string }) => {
      const u = new URL(r.url());
      if (u.pathname === '/api/v1/query_range') ranges.push(Number(u.searchParams.get('end')) - Number(u.searchParams.get('start')));
    };
    page.on('request', onReq);
    await page.click('[data-testid="range-button"]');
    await page.click('.popover button:has-text("Last 3 hours")');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('from') === 'now-3h');
    await waitRendered();
    page.off('request', onReq);
    const timeseries = await page.$$eval('[data-panel]', (ps) => ps.filter((p) => p.querySelector('.chart-box')).length);
    expect(ranges.filter((r) => r > 3 * 3600 - 600).length).toBeGreaterThanOrEqual(timeseries);
  });

  it('toggles series from the legend and zooms by dragging across a chart', async () => {
    const first = page.locator('[data-panel="traffic-rate"] .legend button').first();
    await first.click();
    expect(await first.getAttribute('aria-pressed')).toBe('false');
    await first.click();
    expect(await first.getAttribute('aria-pressed')).toBe('true');

    await page.locator('[data-panel="traffic-latency"]').scrollIntoViewIfNeeded();
    const over = await page.locator('[data-panel="traffic-latency"] .u-over').boundingBox();
    expect(over).not.toBeNull();
    await page.mouse.move(over!.x + over!.width * 0.5, over!.y + over!.height / 2);
    await page.mouse.down();
    await page.mouse.move(over!.x + over!.width * 0.8, over!.y + over!.height / 2, { steps: 8 });
    await page.mouse.up();
    await page.waitForFunction(() => /^\d{13}$/.test(new URL(location.href).searchParams.get('from') ?? ''));
    const q = new URL(page.url()).searchParams;
    const span = Number(q.get('to')) - Number(q.get('from'));
    expect(span).toBeGreaterThan(10 * 60_000);
    expect(span).toBeLessThan(1.5 * 3600_000);
    await waitRendered();
    await shot('service-checkout-zoomed');
  });

  it('switches to the dark theme and still draws the traffic series', async () => {
    await page.goto(`${srv.url}/services/payments`);
    await page.click('button[aria-label="Switch to dark theme"]');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await waitRendered();
    expect(await seriesPixels('traffic-rate', FIRST_SERIES)).toBeGreaterThan(100);
    await shot('service-payments-dark', true);
    await page.click('button[aria-label="Switch to light theme"]');
  });
});

describe('explore page', () => {
  it('completes a metric name, runs the query and shows a graph', async () => {
    await page.goto(`${srv.url}/explore`);
    await page.waitForSelector('.editor-box textarea');
    await page.click('#promql');
    await page.keyboard.type('http_requests_to');
    await page.waitForSelector('.completions li:has-text("http_requests_total")');
    await page.keyboard.press('Enter');
    expect(await page.inputValue('#promql')).toBe('http_requests_total');
    await page.keyboard.type('{');
    await page.waitForSelector('.completions li:has-text("route")');
    await page.keyboard.press('Escape');
    await page.fill('#promql', 'sum by (service) (rate(http_requests_total[5m]))');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-explore-graph] canvas');
    await page.waitForFunction(() => document.querySelectorAll('[data-explore-graph] .legend button').length === 2);
    expect(new URL(page.url()).searchParams.get('expr')).toBe('sum by (service) (rate(http_requests_total[5m]))');
    expect(await page.$$eval('[data-explore-graph] [data-legend-value]', (v) => v.every((x) => x.textContent !== '—'))).toBe(true);
    await shot('explore-graph');
  });

  it('shows a parse error at its position', async () => {
    await page.fill('#promql', 'sum(rate(http_requests_total[5m]) by');
    await page.keyboard.press('Enter');
    const err = await page.waitForSelector('[data-query-error]');
    expect(await err.textContent()).toMatch(/position \d+/);
    expect(await page.textContent('[data-query-error] .error-pos')).toContain('^');
    await shot('explore-error');
  });

  it('shows the instant result as a table', async () => {
    await page.fill('#promql', 'count by (service) (up or http_requests_total)');
    await page.keyboard.press('Enter');
    await page.click('nav.tabs a:has-text("Table")');
    await page.waitForSelector('.result-table tbody tr');
    expect(await page.$$eval('.result-table tbody tr', (r) => r.length)).toBe(2);
  });
});

describe('alerts pages', () => {
  it('creates an alert rule in the form, with a preview, and the API has it', async () => {
    await page.goto(`${srv.url}/alerts/rules/new`);
    await page.fill('#rule-alert', 'FrontendTooManyRequests');
    await page.waitForSelector('.editor-box textarea');
    await page.fill('#rule-expr', 'sum(rate(http_requests_total{service="frontend"}[5m])) > 1');
    await page.fill('#rule-for', '1m');
    await page.fill('#rule-service', 'frontend');
    await page.fill('#rule-summary', 'Frontend gets {{ $value }} requests per second');
    await page.waitForSelector('[data-rule-preview] canvas');
    await page.waitForFunction(() => /1 would be active now/.test(document.querySelector('[data-rule-preview]')?.textContent ?? ''));
    await shot('alert-rule-new');
    await page.click('button:has-text("Create rule")');
    await page.waitForURL(/\/alerts\/rules$/);
    await page.waitForSelector('tr[data-rule="FrontendTooManyRequests"]');
    const rules = (await getJson(`${srv.url}/api/v1/alerting/rules`)).body.data;
    const created = rules.find((r: any) => r.alert === 'FrontendTooManyRequests');
    expect(created).toMatchObject({
      expr: 'sum(rate(http_requests_total{service="frontend"}[5m])) > 1',
      for: '1m',
      labels: { service: 'frontend', severity: 'warning' },
      annotations: { summary: 'Frontend gets {{ $value }} requests per second' },
      source: 'api',
    });
    await shot('alert-rules', true);
  });

  it('shows field errors from the API next to the form', async () => {
    await page.goto(`${srv.url}/alerts/rules/new`);
    await page.fill('#rule-alert', 'Broken');
    await page.waitForSelector('.editor-box textarea');
    await page.fill('#rule-expr', 'rate(http_requests_total[5m]');
    await page.click('button:has-text("Create rule")');
    await page.waitForSelector('.error-box[role="alert"]');
    expect(await page.textContent('form')).toMatch(/unexpected|parse error/i);
    expect(page.url()).toContain('/alerts/rules/new');
  });

  it('shows the demo alert firing within a couple of evaluation intervals', async () => {
    const deadline = Date.now() + 150_000;
    let firing = false;
    while (!firing && Date.now() < deadline) {
      const alerts = (await getJson(`${srv.url}/api/v1/alerts`)).body.data.alerts;
      firing = alerts.some((a: any) => a.labels.alertname === 'PaymentProviderDegraded' && a.state === 'firing');
      if (!firing) await new Promise((r) => setTimeout(r, 2000));
    }
    expect(firing).toBe(true);
    await page.goto(`${srv.url}/alerts`);
    await page.waitForSelector('tr[data-alert="PaymentProviderDegraded"] .badge.firing');
    await shot('alerts-firing');
    // The services page colours payments by its firing alert.
    await page.goto(srv.url);
    await page.waitForSelector('tr[data-service="payments"] .badge.firing');
  }, 180_000);

  it('shows the routing tree and sends a test notification', async () => {
    await page.goto(`${srv.url}/alerts/notifications`);
    await page.waitForSelector('ul[aria-label="Routing tree"] >> text=every alert');
    await page.click('tr[data-receiver="log"] button:has-text("Send test notification")');
    await page.waitForSelector('tr[data-receiver="log"] [role="status"]:has-text("log: delivered")');
    await shot('alerts-notifications');
  });

  it('creates a silence from a firing alert', async () => {
    await page.goto(`${srv.url}/alerts`);
    await page.click('tr[data-alert="PaymentProviderDegraded"] a:has-text("Silence")');
    await page.waitForSelector('form[aria-label="New silence"]');
    expect(await page.inputValue('form[aria-label="New silence"] input >> nth=0')).toContain('alertname="PaymentProviderDegraded"');
    // The preview names the alerts the silence would hold, matched by the server.
    await page.waitForSelector('[data-preview]:has-text("PaymentProviderDegraded")');
    expect(await page.textContent('[data-preview]')).toMatch(/^Silences \d+ alerts? firing now/);
    await page.fill('form[aria-label="New silence"] input >> nth=2', 'e2e');
    await page.fill('form[aria-label="New silence"] input >> nth=3', 'known flaky provider');
    await page.click('button:has-text("Create silence")');
    await page.waitForSelector('table[aria-label="Silences"] .badge.ok');
    const silences = (await getJson(`${srv.url}/api/v1/silences`)).body.data;
    expect(silences.some((s: any) => s.comment === 'known flaky provider' && s.status.state === 'active')).toBe(true);
    await shot('alerts-silences');
    // Silenced alerts are hidden on the firing page unless asked for.
    await page.goto(`${srv.url}/alerts`);
    await page.waitForSelector('text=silenced or inhibited hidden');
    expect(await page.$('tr[data-alert="PaymentProviderDegraded"]')).toBeNull();
    await page.check('text=Show silenced and inhibited');
    await page.waitForSelector('tr[data-alert="PaymentProviderDegraded"]');
    await page.goto(`${srv.url}/alerts/history`);
    await page.waitForSelector('table[aria-label="Alert history"] tbody tr');
    await shot('alerts-history');
  });
});

describe('status page and keyboard', () => {
  it('shows ingest, series, storage and build', async () => {
    await page.goto(`${srv.url}/status`);
    await page.waitForSelector('.stats-grid .big');
    const text = await page.textContent('main');
    expect(text).toMatch(/Series\s*\d{3,}/);
    expect(text).toContain('embedded ClickHouse');
    await shot('status');
  });

  it('navigates with the keyboard: skip link, "g e" to explore, "/" to the query box', async () => {
    await page.goto(srv.url);
    // The shell and the page's lazy modules settle first (a key pressed meanwhile went nowhere,
    // once in a run).
    await page.waitForLoadState('networkidle');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.evaluate(() => (document.activeElement as HTMLElement).blur());
    await page.keyboard.press('g');
    await page.keyboard.press('e');
    await page.waitForURL(/\/explore$/);
    await page.waitForSelector('#promql');
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('promql');
  });
});

describe('render budget', () => {
  it('draws a 12-panel dashboard with 50 series per panel and records the time', async () => {
    const sel = 'http_request_duration_seconds_bucket{service="frontend",instance="frontend-1",le=~"0.005|0.01|0.025|0.05|0.1|0.25|0.5|1|2.5|5"}';
    const panels = Array.from({ length: 12 }, (_, i) => ({ id: `p${i}`, title: `Panel ${i + 1}`, queries: [{ expr: `rate(${sel}[$__rate_interval])` }], unit: 'ops', width: 4 }));
    const reg = await fetch(`${srv.url}/api/v1/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'render-bench' }) });
    expect(reg.status).toBe(201);
    const put = await fetch(`${srv.url}/api/v1/services/render-bench/dashboard`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'render bench', rows: [{ title: 'Twelve panels', panels }] }),
    });
    expect(put.status).toBe(200);
    const runs: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(`${srv.url}/services/render-bench?from=now-1h&render=batch`);
      await waitRendered();
      runs.push(await page.evaluate(() => (window as unknown as { __metronomePerf: unknown }).__metronomePerf));
    }
    const perf = runs as { panels: number; series: number; renderMsTotal: number; lastDataToDrawnMs: number }[];
    for (const p of perf) {
      expect(p.panels).toBe(12);
      expect(p.series).toBe(600);
    }
    writeFileSync(join(OUT, 'render-bench.json'), JSON.stringify({ runs: perf, budgetMs: 500, note: 'lastDataToDrawnMs: all 12 panels\' data held until the last arrived, then drawn (wall clock); renderMsTotal: main-thread ms summed over panels (columns + uPlot build + first draw)' }, null, 2));
    await shot('render-bench', true);
  });
});
