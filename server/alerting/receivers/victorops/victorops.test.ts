import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { allResolved, endpoint, integrationsOf, sampleNotification, signal, templated } from '../testing.js';

// Splunk On-Call (VictorOps) REST endpoint integration: POST .../alert/<api key>/<routing key>
// with message_type one of its five values, entity_id naming the incident.
const alert = z
  .object({
    message_type: z.enum(['CRITICAL', 'WARNING', 'ACKNOWLEDGEMENT', 'INFO', 'RECOVERY']),
    entity_id: z.string().min(1),
    entity_display_name: z.string(),
    state_message: z.string().max(20480),
    monitoring_tool: z.string(),
  })
  .catchall(z.string());

let ep: Awaited<ReturnType<typeof endpoint>>;
beforeAll(async () => {
  ep = await endpoint((c) => (c.path.includes('/busy') ? { status: 429, headers: { 'retry-after': '9' }, body: '{"result":"failure"}' } : { status: 200, body: '{"result":"success","entity_id":"x"}' }));
});
afterAll(() => ep.close());

describe('victorops', () => {
  it('opens one incident per group and recovers it, with the global key and url', async () => {
    const [v] = integrationsOf(`    victorops_configs: [{ routing_key: '{{ .CommonLabels.job }}-team', message_type: WARNING, custom_fields: { runbook: '{{ .CommonAnnotations.runbook }}' } }]`, `  victorops_api_key: key-9\n  victorops_api_url: ${ep.url}/integrations/generic/20131114/alert/`);
    const n = templated();
    expect(await v.send(n, signal())).toEqual({ ok: true, retry: false });
    const got = ep.got.at(-1)!;
    expect(got.path).toBe('/integrations/generic/20131114/alert/key-9/api-team');
    const m = alert.parse(got.json);
    expect(m).toMatchObject({ message_type: 'WARNING', entity_id: createHash('sha256').update(n.groupKey).digest('hex'), entity_display_name: '[FIRING:2] HighLatency (api page)', monitoring_tool: 'Metronome', runbook: 'http://runbooks/latency' });
    expect(m.state_message).toContain('Alerts Firing:\nLabels:');
    await v.send(allResolved(n), signal());
    expect(alert.parse(ep.got.at(-1)!.json)).toMatchObject({ message_type: 'RECOVERY', entity_id: m.entity_id });
  });

  it('sends CRITICAL for a message_type VictorOps does not take while firing, and retries a 429', async () => {
    const [v] = integrationsOf(`    victorops_configs: [{ api_key: k, api_url: '${ep.url}/alert', routing_key: r, message_type: PAGE }]`);
    await v.send(sampleNotification(), signal());
    expect(ep.got.at(-1)!.path).toBe('/alert/k/r');
    expect(alert.parse(ep.got.at(-1)!.json).message_type).toBe('CRITICAL');
    const [busy] = integrationsOf(`    victorops_configs: [{ api_key: busy, api_url: '${ep.url}/alert/', routing_key: r }]`);
    expect(await busy.send(sampleNotification(), signal())).toMatchObject({ ok: false, retry: true, retryAfterMs: 9000 });
  });

  it('needs a routing key and an api key, and keeps reserved fields out of custom_fields', () => {
    expect(() => integrationsOf(`    victorops_configs: [{ api_key: k }]`)).toThrow(/victorops_configs\[0\]\.routing_key: is required/);
    expect(() => integrationsOf(`    victorops_configs: [{ routing_key: r }]`)).toThrow(/api_key: give exactly one of api_key and api_key_file/);
    expect(() => integrationsOf(`    victorops_configs: [{ api_key: k, routing_key: r, custom_fields: { entity_id: x } }]`)).toThrow(/custom_fields\.entity_id: "entity_id" is set by the message itself/);
  });
});
