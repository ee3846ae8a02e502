import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, tempDir, type TestServer } from './helpers.js';
import { ensureWebBuilt } from './web-build.js';

/**
 * The on-call forms in a real headless Chromium against a real server, fed bad input: each
 * refusal shows as sentences that name the field as the form labels it (issue 13, "human
 * wording for validation errors"), never zod's wording ("Too small: expected string …") or a
 * JSON dump. Covers the rule form, the silence form, the test notification and a change made
 * without the admin scope.
 */

const READ = 'errs-read-0123456789abcdef';
const ADMIN = 'errs-admin-0123456789abcdef';
let srv: TestServer;
let browser: Browser;
let admin: BrowserContext;
let page: Page;

/** A port nothing listens on: a receiver there refuses connections. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const ZOD_WORDING = /Too small|Too big|Invalid input|Invalid option|expected string|received undefined|[{}]"(code|path)"/;

beforeAll(async () => {
  await ensureWebBuilt();
  const dir = tempDir('metronome-web-errors-');
  const notify = join(dir, 'alertmanager.yml');
  writeFileSync(notify, `route: { receiver: oncall }\nreceivers:\n  - name: oncall\n    webhook_configs: [{ url: 'http://127.0.0.1:${await closedPort()}/hook' }]\n`);
  srv = await startTestServer({ NOTIFY_CONFIG: notify, AUTH_TOKENS: `viewer:${READ}:read,ops:${ADMIN}:admin` });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  admin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await admin.addInitScript((t: string) => localStorage.setItem('metronome.adminToken', t), ADMIN);
  page = await admin.newPage();
  page.setDefaultTimeout(30_000);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await srv?.destroy();
});

const text = (sel: string) => page.locator(sel).allInnerTexts().then((t) => t.join('\n'));

describe('refusals in the on-call forms', () => {
  it('shows rule field errors as sentences next to the fields', async () => {
    await page.goto(`${srv.url}/alerts/rules/new`);
    await page.waitForSelector('.editor-box textarea');
    await page.fill('#rule-alert', '');
    await page.fill('#rule-expr', 'up == 0');
    await page.fill('#rule-for', '5 minutes');
    await page.click('button:has-text("Create rule")');
    await page.waitForSelector('[data-field-issue]');
    const fields = await text('[data-field-issue]');
    expect(fields).toContain('Pending for (before firing): invalid duration "5 minutes": use a Prometheus duration like 30s, 5m, 1h30m.');
    expect(fields).toContain('Alert name must not be empty.');
    expect(await text('[data-refusal]')).toBe('The rule was not saved: 2 fields need a change (shown next to each).');
    expect(await text('form')).not.toMatch(ZOD_WORDING);
    expect(page.url()).toContain('/alerts/rules/new');

    // Fixed those; now a label name and a summary template the server refuses.
    await page.fill('#rule-alert', 'DiskFull');
    await page.fill('#rule-for', '5m');
    await page.click('button:has-text("Add label")');
    await page.fill('input[aria-label="Label 1 name"]', 'team-name');
    await page.fill('input[aria-label="Label 1 value"]', 'storage');
    await page.fill('#rule-summary', '{{ $labels.instance ');
    await page.click('button:has-text("Create rule")');
    await page.waitForSelector('.error-box[role="alert"]:has-text("Label")');
    expect(await text('.error-box[role="alert"]')).toMatch(/^Label "team-name": invalid label name "team-name": must match/m);
    expect(await text('[data-field-issue]')).toMatch(/^Summary: .+\.$/);
    expect(await text('form')).not.toMatch(ZOD_WORDING);
  });

  it('shows silence refusals naming the field and the matcher', async () => {
    await page.goto(`${srv.url}/alerts/silences`);
    const form = page.locator('form[aria-label="New silence"]');
    await form.locator('input >> nth=0').fill('alertname="DiskFull"');
    await form.locator('input >> nth=2').fill('');
    await form.locator('input >> nth=3').fill('disk swap');
    await page.click('button:has-text("Create silence")');
    await form.locator('.error-box').waitFor();
    expect(await form.locator('.error-box').innerText()).toBe('"created by" must not be empty.');

    await form.locator('input >> nth=0').fill('alertname="DiskFull", instance=~"(("');
    await form.locator('input >> nth=1').fill('2 hours');
    await form.locator('input >> nth=2').fill('alice');
    await page.click('button:has-text("Create silence")');
    await page.waitForFunction(() => document.querySelector('form[aria-label="New silence"] .error-box')?.textContent?.includes('Matcher 2'));
    const lines = (await form.locator('.error-box').innerText()).split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Matcher 2: invalid regular expression "\(\(" for instance at position 10: .+\.$/);
    expect(lines[1]).toBe('Duration: invalid duration "2 hours": use a Prometheus duration like 30m, 2h or 1d12h.');
    expect(lines.join('\n')).not.toMatch(ZOD_WORDING);
  });

  it('says why a test notification was not delivered, and that a removed receiver is gone', async () => {
    await page.goto(`${srv.url}/alerts/notifications`);
    const row = page.locator('tr[data-receiver="oncall"]');
    await row.locator('button:has-text("Send test notification")').click();
    await row.locator('[role="status"]:has-text("not delivered")').waitFor();
    expect(await row.locator('[role="status"]').innerText()).toMatch(/^webhook: not delivered — webhook http:\/\/127\.0\.0\.1:\d+\/…: could not connect: the connection was refused/);

    // Someone removes the receiver while the page is open.
    const res = await fetch(`${srv.url}/api/v1/alerting/notifications/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/yaml', authorization: `Bearer ${ADMIN}` },
      body: 'route: { receiver: other }\nreceivers:\n  - name: other\n',
    });
    expect(res.status).toBe(200);
    await row.locator('button:has-text("Send test notification")').click();
    await row.locator('[role="status"]:has-text("Nothing was sent")').waitFor();
    expect(await row.locator('[role="status"]').innerText()).toBe('Nothing was sent. No receiver named oncall in the notification config.');
  });

  it('says a change needs the admin scope when only a read token is given', async () => {
    const ctx = await browser.newContext();
    await ctx.addInitScript((t: string) => localStorage.setItem('metronome.token', t), READ);
    const p = await ctx.newPage();
    p.on('dialog', (d) => void d.dismiss());
    await p.goto(`${srv.url}/alerts/silences`);
    const form = p.locator('form[aria-label="New silence"]');
    await form.locator('input >> nth=0').fill('alertname="DiskFull"');
    await form.locator('input >> nth=2').fill('bob');
    await form.locator('input >> nth=3').fill('maintenance');
    await p.click('button:has-text("Create silence")');
    await form.locator('.error-box').waitFor();
    expect(await form.locator('.error-box').innerText()).toBe('Not allowed: this change needs an API token with the admin scope.');
    await ctx.close();
  });
});

declare const document: any, localStorage: any;
