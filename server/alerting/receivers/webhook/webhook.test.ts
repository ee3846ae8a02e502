import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoint, integrationsOf, sampleNotification, signal } from '../testing.js';

let ep: Awaited<ReturnType<typeof endpoint>>;
beforeAll(async () => {
  ep = await endpoint();
});
afterAll(() => ep.close());

describe('webhook', () => {
  it('posts the version 4 body with max_alerts and credentials from files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metronome-webhook-'));
    writeFileSync(join(dir, 'url'), `${ep.url}/hook/from-file\n`);
    writeFileSync(join(dir, 'pw'), 'pa55\n');
    const [w] = integrationsOf(`    webhook_configs: [{ url_file: ${join(dir, 'url')}, max_alerts: 1, http_config: { basic_auth: { username: am, password_file: ${join(dir, 'pw')} } } }]`);
    expect(await w.send(sampleNotification(), signal())).toEqual({ ok: true, retry: false });
    const got = ep.got.at(-1)!;
    expect(got.path).toBe('/hook/from-file');
    expect(got.headers.authorization).toBe(`Basic ${Buffer.from('am:pa55').toString('base64')}`);
    expect(got.json).toMatchObject({ version: '4', status: 'firing', receiver: 'team-api', truncatedAlerts: 2, groupLabels: { alertname: 'HighLatency' } });
    expect(got.json.alerts).toHaveLength(1);
  });

  it('fails without retrying when its url_file cannot be read, naming no more than the path', async () => {
    const [w] = integrationsOf(`    webhook_configs: [{ url_file: /nonexistent/url }]`);
    const r = await w.send(sampleNotification(), signal());
    expect(r).toMatchObject({ ok: false, retry: false });
    expect(r.error).toMatch(/must be a readable regular file/);
  });

  it('needs one of url and url_file', () => {
    expect(() => integrationsOf(`    webhook_configs: [{ url: 'http://a/', url_file: /x }]`)).toThrow(/exactly one of url and url_file/);
  });
});
