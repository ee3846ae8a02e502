import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { allResolved, endpoint, integrationsOf, sampleNotification, signal } from '../testing.js';

// Opsgenie Alert API v2, "Create alert" (docs.opsgenie.com/docs/alert-api).
const createAlert = z.strictObject({
  message: z.string().min(1).max(130),
  alias: z.string().max(512),
  description: z.string().max(15000),
  responders: z.array(z.strictObject({ id: z.string().optional(), name: z.string().optional(), username: z.string().optional(), type: z.enum(['team', 'user', 'escalation', 'schedule']) })).optional(),
  visibleTo: z.array(z.unknown()).optional(),
  actions: z.array(z.string()).optional(),
  tags: z.array(z.string()).optional(),
  details: z.record(z.string(), z.string()),
  entity: z.string().optional(),
  source: z.string().max(100),
  priority: z.enum(['P1', 'P2', 'P3', 'P4', 'P5']).optional(),
  user: z.string().optional(),
  note: z.string().optional(),
});

let ep: Awaited<ReturnType<typeof endpoint>>;
beforeAll(async () => {
  ep = await endpoint(() => ({ status: 202, body: '{"result":"Request will be processed","requestId":"r"}' }));
});
afterAll(() => ep.close());

describe('opsgenie', () => {
  it('creates an alert aliased to the group and closes it by alias', async () => {
    const [og] = integrationsOf(`    opsgenie_configs: [{ priority: P2, tags: 'api,latency', responders: [{ name: sre, type: team }] }]`, `  opsgenie_api_key: key-1\n  opsgenie_api_url: ${ep.url}/`);
    const n = sampleNotification();
    expect(await og.send(n, signal())).toEqual({ ok: true, retry: false });
    const got = ep.got.at(-1)!;
    expect(got.path).toBe('/v2/alerts');
    expect(got.headers.authorization).toBe('GenieKey key-1');
    const a = createAlert.parse(got.json);
    const alias = createHash('sha256').update(n.groupKey).digest('hex');
    expect(a).toMatchObject({ message: '[FIRING:2] HighLatency (api page)', alias, priority: 'P2', tags: ['api', 'latency'], responders: [{ name: 'sre', type: 'team' }] });
    expect(a.description).toContain('Alerts Firing:\nLabels:\n - alertname = HighLatency');
    await og.send(allResolved(n), signal());
    expect(ep.got.at(-1)!.path).toBe(`/v2/alerts/${alias}/close?identifierType=alias`);
    expect(ep.got.at(-1)!.json).toEqual({ source: 'Metronome' });
  });

  it('refuses a bad priority', () => {
    expect(() => integrationsOf(`    opsgenie_configs: [{ api_key: k, priority: urgent }]`)).toThrow(/priority: must be P1/);
  });
});
