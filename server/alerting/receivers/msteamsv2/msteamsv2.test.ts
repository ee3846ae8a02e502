import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { allResolved, endpoint, integrationsOf, sampleNotification, signal } from '../testing.js';

// A Teams workflow webhook takes a message with Adaptive Card attachments (adaptivecards.io, schema 1.2).
const textBlock = z.object({ type: z.literal('TextBlock'), text: z.string(), wrap: z.boolean().optional(), weight: z.enum(['Default', 'Lighter', 'Bolder']).optional(), size: z.enum(['Default', 'Small', 'Medium', 'Large', 'ExtraLarge']).optional(), color: z.enum(['Default', 'Dark', 'Light', 'Accent', 'Good', 'Warning', 'Attention']).optional(), style: z.string().optional() });
const card = z.strictObject({
  $schema: z.literal('http://adaptivecards.io/schemas/adaptive-card.json'),
  type: z.literal('AdaptiveCard'),
  version: z.string().regex(/^1\.[0-6]$/),
  body: z.array(textBlock).min(1),
  actions: z.array(z.strictObject({ type: z.literal('Action.OpenUrl'), title: z.string(), url: z.url() })).optional(),
  msteams: z.object({ width: z.literal('full') }).optional(),
});
const message = z.strictObject({ type: z.literal('message'), attachments: z.array(z.strictObject({ contentType: z.literal('application/vnd.microsoft.card.adaptive'), contentUrl: z.string().nullable().optional(), content: card })).length(1) });

let ep: Awaited<ReturnType<typeof endpoint>>;
beforeAll(async () => {
  ep = await endpoint(() => ({ status: 202 }));
});
afterAll(() => ep.close());

describe('msteamsv2 (workflows)', () => {
  it('posts an Adaptive Card with the subject, the alert list and a link', async () => {
    const [t] = integrationsOf(`    msteamsv2_configs: [{ webhook_url: '${ep.url}/workflows/abc' }]`);
    expect(await t.send(sampleNotification(), signal())).toEqual({ ok: true, retry: false });
    const m = message.parse(ep.got.at(-1)!.json);
    const body = m.attachments[0].content.body;
    expect(body[0]).toMatchObject({ text: '[FIRING:2] HighLatency (api page)', color: 'Attention' });
    expect(body[1].text).toContain('# Alerts Firing:');
    expect(body[1].text).toContain(' - instance = web-2:9100');
    expect(m.attachments[0].content.actions![0].url).toBe('http://metronome:8080/#/alerts?receiver=team-api');
    await t.send(allResolved(), signal());
    expect(message.parse(ep.got.at(-1)!.json).attachments[0].content.body[0]).toMatchObject({ text: '[RESOLVED] HighLatency (api page)', color: 'Good' });
  });
});
