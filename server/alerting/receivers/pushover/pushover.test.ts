import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { allResolved, configsOf, endpoint, integrationsOf, sampleNotification, signal, templated } from '../testing.js';
import { pushoverIntegration, type PushoverConfig } from './index.js';

// Pushover Message API (pushover.net/api): form fields and their limits; an emergency-priority
// message needs retry (at least 30 s) and expire (at most 10800 s).
const int = (lo: number, hi: number) => z.string().regex(/^-?\d+$/).transform(Number).pipe(z.number().int().min(lo).max(hi));
const message = z
  .strictObject({
    token: z.string().min(1),
    user: z.string().min(1),
    message: z.string().min(1).max(1024),
    title: z.string().max(250),
    url: z.string().max(512),
    url_title: z.string().max(100),
    priority: int(-2, 2),
    retry: int(30, 10800),
    expire: int(1, 10800),
    device: z.string(),
    sound: z.string(),
    html: z.literal('1').optional(),
    monospace: z.literal('1').optional(),
    ttl: int(1, 2 ** 31).optional(),
  })
  .refine((m) => m.priority !== 2 || (m.retry >= 30 && m.expire <= 10800), 'emergency priority needs retry and expire');

let ep: Awaited<ReturnType<typeof endpoint>>;
beforeAll(async () => {
  ep = await endpoint((c) =>
    c.text.includes('user=busy') ? { status: 429, headers: { 'retry-after': '60' }, body: '{"status":0,"errors":["application is over its monthly limit"]}' } : c.text.includes('user=bad') ? { status: 400, body: '{"user":"invalid","errors":["user identifier is invalid"],"status":0}' } : { status: 200, body: '{"status":1,"request":"r"}' },
  );
});
afterAll(() => ep.close());

const integration = (yaml: string) => pushoverIntegration(configsOf(yaml)[0] as PushoverConfig, `${ep.url}/1/messages.json`);

describe('pushover', () => {
  it('sends an emergency message while firing and a normal one when resolved, as a form with the token in the body', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pushover-'));
    writeFileSync(join(dir, 'token'), 'azGDORePK8gMaC0QOYAMyEEuzJnyUi\n');
    const p = integration(`    pushover_configs: [{ user_key: uQiRzpo4DXghDmr9QzzfQu27cmVRsG, token_file: ${join(dir, 'token')}, sound: siren, ttl: 1h }]`);
    expect(await p.send(sampleNotification(), signal())).toEqual({ ok: true, retry: false });
    const got = ep.got.at(-1)!;
    expect(got.path).toBe('/1/messages.json');
    expect(got.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const m = message.parse(Object.fromEntries(new URLSearchParams(got.text)));
    expect(m).toMatchObject({ token: 'azGDORePK8gMaC0QOYAMyEEuzJnyUi', user: 'uQiRzpo4DXghDmr9QzzfQu27cmVRsG', title: '[FIRING:2] HighLatency (api page)', priority: 2, retry: 60, expire: 3600, sound: 'siren', ttl: 3600 });
    expect(m.url).toBe('http://metronome:8080/#/alerts?receiver=team-api');
    expect(m.message).toContain('Alerts Firing:\nLabels:');
    await p.send(allResolved(), signal());
    expect(message.parse(Object.fromEntries(new URLSearchParams(ep.got.at(-1)!.text))).priority).toBe(0);
  });

  it('cuts the message to 1024 characters and escapes the default for html', async () => {
    const p = integration(`    pushover_configs: [{ user_key: u, token: t, html: true, message: '{{ range .Alerts }}{{ .Labels.instance }} <b>x</b> ${'y'.repeat(400)} {{ end }}' }]`);
    await p.send(templated(), signal());
    const m = message.parse(Object.fromEntries(new URLSearchParams(ep.got.at(-1)!.text)));
    expect(m.html).toBe('1');
    expect([...m.message]).toHaveLength(1024);
    const plain = integration(`    pushover_configs: [{ user_key: u, token: t, html: true }]`);
    const n = sampleNotification();
    n.alerts[0].alert.annotations.summary = 'p99 > 2s <b>';
    await plain.send(n, signal());
    expect(new URLSearchParams(ep.got.at(-1)!.text).get('message')).toContain('summary = p99 &gt; 2s &lt;b&gt;');
  });

  it('retries a 429 after Retry-After, gives up on a 400, and is configured from the registry', async () => {
    expect(await integration(`    pushover_configs: [{ user_key: busy, token: t }]`).send(sampleNotification(), signal())).toMatchObject({ ok: false, retry: true, retryAfterMs: 60_000 });
    const bad = await integration(`    pushover_configs: [{ user_key: bad, token: t }]`).send(sampleNotification(), signal());
    expect(bad).toMatchObject({ ok: false, retry: false, error: expect.stringContaining('user identifier is invalid') });
    const [reg] = integrationsOf(`    pushover_configs: [{ user_key: u, token: t }]`);
    expect(reg).toMatchObject({ kind: 'pushover', sendResolved: true });
  });

  it('refuses html with monospace and a missing token', () => {
    expect(() => integrationsOf(`    pushover_configs: [{ user_key: u, token: t, html: true, monospace: true }]`)).toThrow(/monospace: give at most one of html and monospace/);
    expect(() => integrationsOf(`    pushover_configs: [{ user_key: u }]`)).toThrow(/pushover_configs\[0\]\.token: give exactly one of token and token_file/);
  });
});
