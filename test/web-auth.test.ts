import { chromium, type Browser, type Dialog, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';
import { ensureWebBuilt } from './web-build.js';

/**
 * The web UI against a server with access control, in a real headless Chromium: it asks once
 * for a read token and then works with it (services, a dashboard), and asks for an admin token
 * only when the user makes a change (a silence), which then succeeds. The status page shows the
 * top new-series offenders (GET /api/v1/status/cardinality).
 */

const READ = 'ui-read-0123456789abcdef';
const ADMIN = 'ui-admin-0123456789abcdef';
let srv: TestServer;
let browser: Browser;
let page: Page;
const prompts: string[] = [];

beforeAll(async () => {
  await ensureWebBuilt();
  srv = await startTestServer({ DEMO: '1', DEMO_BACKFILL_HOURS: '1', AUTH_TOKENS: `viewer:${READ}:read,ops:${ADMIN}:admin` });
  await srv.demo!.ready;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(30_000);
  page.on('dialog', (d: Dialog) => {
    prompts.push(d.message());
    void d.accept(/admin/.test(d.message()) ? ADMIN : READ);
  });
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await srv?.destroy();
});

describe('the web UI with access control', () => {
  it('asks once for a token and shows services and a dashboard with a read token', async () => {
    await page.goto(srv.url);
    await page.waitForSelector('tr[data-service="payments"]');
    expect(prompts).toHaveLength(1);
    expect(prompts[0]).toMatch(/read scope/);
    await page.goto(`${srv.url}/services/checkout`);
    await page.waitForSelector('[data-dashboard][data-rendered="true"]', { timeout: 60_000 });
    expect(prompts).toHaveLength(1);
    // The token is the read one: the server saw no admin token yet.
    expect(await page.evaluate(() => [localStorage.getItem('metronome.token'), localStorage.getItem('metronome.adminToken')])).toEqual([READ, null]);
  });

  it('asks for an admin token only when making a change, and the change succeeds', async () => {
    await page.goto(`${srv.url}/alerts/silences`);
    await page.waitForSelector('form[aria-label="New silence"]');
    expect(prompts).toHaveLength(1);
    const form = page.locator('form[aria-label="New silence"]');
    await form.locator('input').nth(0).fill('alertname="UiAuthTest"');
    await form.locator('input').nth(2).fill('web-auth-test');
    await form.locator('input').nth(3).fill('created through the UI');
    await form.locator('button[type="submit"]').click();
    await page.waitForSelector('form[aria-label="New silence"] .notice');
    expect(await page.textContent('form[aria-label="New silence"] .notice')).toMatch(/Silence .* created/);
    expect(prompts).toHaveLength(2);
    expect(prompts[1]).toMatch(/admin scope/);
    const silences = await fetch(`${srv.url}/api/v1/silences`, { headers: { authorization: `Bearer ${READ}` } }).then((r) => r.json() as Promise<any>);
    expect(silences.data.map((s: { comment: string }) => s.comment)).toContain('created through the UI');
    // A second change uses the stored admin token without asking again.
    await form.locator('input').nth(0).fill('alertname="UiAuthTest2"');
    await form.locator('input').nth(3).fill('second one');
    await form.locator('button[type="submit"]').click();
    await page.waitForFunction(() => document.querySelector('form[aria-label="New silence"] .notice')?.textContent?.includes('created') && document.body.textContent?.includes('second one'));
    expect(prompts).toHaveLength(2);
  });

  it('shows the top new-series offenders on the status page', async () => {
    await page.goto(`${srv.url}/status`);
    await page.waitForSelector('[data-cardinality="MAX_SERIES_PER_SERVICE"] tbody tr');
    const rows = await page.$$eval('[data-cardinality="MAX_SERIES_PER_SERVICE"] tbody tr', (trs) => trs.map((tr: any) => [...tr.querySelectorAll('td')].map((td: any) => td.textContent)));
    const names = rows.map((r) => r[0]);
    expect(names).toEqual(expect.arrayContaining(['checkout', 'payments']));
    // The demo's series were all created today: each row's count is positive, against the default limit.
    for (const r of rows) {
      expect(Number(r[1].replace(/\D/g, '')), r.join(' ')).toBeGreaterThan(0);
      expect(r[2]).toMatch(/% of 100000$/);
    }
    expect(await page.$$eval('[data-cardinality="MAX_SERIES_PER_KEY"] tbody tr', (trs) => trs.length)).toBeGreaterThan(0);
    expect(prompts).toHaveLength(2);
  });
});

// Code inside page.evaluate runs in the browser; the test project has no DOM types.
declare const document: any, localStorage: any;
