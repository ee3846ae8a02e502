import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { allResolved, endpoint, integrationsOf, sampleNotification, signal } from '../testing.js';

// PagerDuty Events API v2 (developer.pagerduty.com/api-reference, "Send Event").
const event = z.strictObject({
  routing_key: z.string().min(1),
  event_action: z.enum(['trigger', 'acknowledge', 'resolve']),
  dedup_key: z.string().max(255),
  payload: z.strictObject({
    summary: z.string().min(1).max(1024),
    source: z.string().min(1),
    severity: z.enum(['critical', 'error', 'warning', 'info']),
    timestamp: z.string().optional(),
    component: z.string().optional(),
    group: z.string().optional(),
    class: z.string().optional(),
    custom_details: z.record(z.string(), z.unknown()).optional(),
  }),
  images: z.array(z.strictObject({ src: z.string(), href: z.string().optional(), alt: z.string().optional() })).optional(),
  links: z.array(z.strictObject({ href: z.string(), text: z.string().optional() })).optional(),
  client: z.string().optional(),
  client_url: z.string().optional(),
});

let ep: Awaited<ReturnType<typeof endpoint>>;
beforeAll(async () => {
  ep = await endpoint((c, n) =>
    c.json?.routing_key === 'busy' && n % 2 === 0 ? { status: 429, headers: { 'retry-after': '7' }, body: '{"status":"throttle"}' } : c.json?.routing_key === 'bad' ? { status: 400, body: '{"status":"invalid event"}' } : { status: 202, body: '{"status":"success","dedup_key":"x"}' },
  );
});
afterAll(() => ep.close());

describe('pagerduty', () => {
  it('triggers one incident per group (dedup_key) and resolves it', async () => {
    const [pd] = integrationsOf(`    pagerduty_configs: [{ routing_key: rk-123, severity: critical, links: [{ href: 'http://runbooks', text: runbook }] }]`, `  pagerduty_url: ${ep.url}/v2/enqueue`);
    const n = sampleNotification();
    expect(await pd.send(n, signal())).toEqual({ ok: true, retry: false });
    const trig = event.parse(ep.got.at(-1)!.json);
    expect(ep.got.at(-1)!.path).toBe('/v2/enqueue');
    expect(trig).toMatchObject({ routing_key: 'rk-123', event_action: 'trigger', dedup_key: createHash('sha256').update(n.groupKey).digest('hex'), client: 'Metronome', client_url: 'http://metronome:8080/#/alerts?receiver=team-api' });
    expect(trig.payload).toMatchObject({ summary: '[FIRING:2] HighLatency (api page)', source: 'Metronome', severity: 'critical' });
    expect(trig.payload.custom_details).toMatchObject({ num_firing: '2', num_resolved: '1' });
    expect(String(trig.payload.custom_details!.firing)).toContain(' - instance = web-1:9100\n');
    await pd.send(allResolved(n), signal());
    const res = event.parse(ep.got.at(-1)!.json);
    expect(res).toMatchObject({ event_action: 'resolve', dedup_key: trig.dedup_key });
    expect(pd.sendResolved).toBe(true);
  });

  it('retries a 429 after its Retry-After and gives up on a 400', async () => {
    const [busy] = integrationsOf(`    pagerduty_configs: [{ routing_key: busy, url: '${ep.url}/v2/enqueue' }]`);
    const r = await busy.send(sampleNotification(), signal());
    expect(r).toMatchObject({ ok: false, retry: true, retryAfterMs: 7000 });
    const [bad] = integrationsOf(`    pagerduty_configs: [{ routing_key: bad, url: '${ep.url}/v2/enqueue' }]`);
    expect(await bad.send(sampleNotification(), signal())).toMatchObject({ ok: false, retry: false, error: expect.stringContaining('400') });
  });

  it('sends v1 events for a service_key', async () => {
    const [pd] = integrationsOf(`    pagerduty_configs: [{ service_key: sk-1, url: '${ep.url}/generic' }]`);
    await pd.send(sampleNotification(), signal());
    expect(ep.got.at(-1)!.json).toMatchObject({ service_key: 'sk-1', event_type: 'trigger', description: '[FIRING:2] HighLatency (api page)', client: 'Metronome' });
  });

  it('needs exactly one key', () => {
    expect(() => integrationsOf(`    pagerduty_configs: [{ severity: critical }]`)).toThrow(/pagerduty_configs\[0\]\.routing_key: give exactly one/);
  });
});
