import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { allResolved, endpoint, integrationsOf, sampleNotification, signal, templated } from '../testing.js';

// Discord "Execute Webhook" (discord.com/developers/docs/resources/webhook#execute-webhook) and
// its embed limits (resources/message#embed-object-embed-limits).
const embed = z.strictObject({ title: z.string().max(256), description: z.string().max(4096), color: z.number().int().min(0).max(0xffffff) });
const executeWebhook = z.strictObject({
  content: z.string().max(2000),
  username: z.string().min(1).max(80).optional(),
  avatar_url: z.string().url().optional(),
  tts: z.boolean().optional(),
  embeds: z.array(embed).max(10),
});

let ep: Awaited<ReturnType<typeof endpoint>>;
beforeAll(async () => {
  ep = await endpoint((c) =>
    c.path.includes('busy')
      ? { status: 429, headers: { 'retry-after': '2' }, body: '{"message":"You are being rate limited.","retry_after":1.5,"global":false}' }
      : c.path.includes('gone')
        ? { status: 404, body: '{"message":"Unknown Webhook","code":10015}' }
        : { status: 204 },
  );
});
afterAll(() => ep.close());

describe('discord', () => {
  it('posts one embed with the subject and the alert list, red while firing and green when resolved', async () => {
    const [d] = integrationsOf(`    discord_configs: [{ webhook_url: '${ep.url}/api/webhooks/1/tok', username: Metronome, avatar_url: 'https://example.invalid/a.png' }]`);
    const n = sampleNotification();
    expect(await d.send(n, signal())).toEqual({ ok: true, retry: false });
    const got = ep.got.at(-1)!;
    expect(got.path).toBe('/api/webhooks/1/tok');
    const m = executeWebhook.parse(got.json);
    expect(m).toMatchObject({ content: '', username: 'Metronome', avatar_url: 'https://example.invalid/a.png' });
    expect(m.embeds[0]).toMatchObject({ title: '[FIRING:2] HighLatency (api page)', color: 0x992d22 });
    expect(m.embeds[0].description).toContain('Alerts Firing:\nLabels:\n - alertname = HighLatency');
    expect(m.embeds[0].description).toContain('Alerts Resolved:');
    await d.send(allResolved(n), signal());
    expect(executeWebhook.parse(ep.got.at(-1)!.json).embeds[0]).toMatchObject({ title: '[RESOLVED] HighLatency (api page)', color: 0x2ecc71 });
    expect(d.sendResolved).toBe(true);
  });

  it("cuts fields to Discord's limits and expands templates", async () => {
    const [d] = integrationsOf(`    discord_configs: [{ webhook_url: '${ep.url}/api/webhooks/2/tok', title: '{{ .CommonLabels.job }} ${'x'.repeat(300)}', content: '<@&123> {{ .Status }}' }]`);
    await d.send(templated(), signal());
    const m = executeWebhook.parse(ep.got.at(-1)!.json);
    expect([...m.embeds[0].title]).toHaveLength(256);
    expect(m.embeds[0].title.startsWith('api xxx')).toBe(true);
    expect(m.embeds[0].title.endsWith('…')).toBe(true);
    expect(m.content).toBe('<@&123> firing');
  });

  it('reads webhook_url_file at send, retries a 429 after Retry-After and keeps the token out of errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'discord-'));
    writeFileSync(join(dir, 'url'), `${ep.url}/api/webhooks/3/busy-secret\n`);
    const [d] = integrationsOf(`    discord_configs: [{ webhook_url_file: ${join(dir, 'url')} }]`);
    const r = await d.send(sampleNotification(), signal());
    expect(ep.got.at(-1)!.path).toBe('/api/webhooks/3/busy-secret');
    expect(r).toMatchObject({ ok: false, retry: true, retryAfterMs: 2000 });
    expect(r.error).not.toContain('busy-secret');
    const [gone] = integrationsOf(`    discord_configs: [{ webhook_url: '${ep.url}/api/webhooks/4/gone' }]`);
    expect(await gone.send(sampleNotification(), signal())).toMatchObject({ ok: false, retry: false, error: expect.stringContaining('answered 404') });
  });

  it('needs exactly one of webhook_url and webhook_url_file', () => {
    expect(() => integrationsOf(`    discord_configs: [{ title: x }]`)).toThrow(/discord_configs\[0\]\.webhook_url: give exactly one of webhook_url and webhook_url_file/);
  });
});
