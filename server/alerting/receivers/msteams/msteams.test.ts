import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { endpoint, integrationsOf, sampleNotification, signal } from '../testing.js';

// Office 365 connector MessageCard (learn.microsoft.com, "Legacy actionable message card reference").
const card = z.strictObject({ '@context': z.literal('http://schema.org/extensions'), type: z.literal('MessageCard'), title: z.string(), summary: z.string().min(1), text: z.string(), themeColor: z.string().regex(/^[0-9A-F]{6}$/) });

let ep: Awaited<ReturnType<typeof endpoint>>;
beforeAll(async () => {
  ep = await endpoint(() => ({ status: 200, body: '1' }));
});
afterAll(() => ep.close());

describe('msteams (connector)', () => {
  it('posts a MessageCard', async () => {
    const [t] = integrationsOf(`    msteams_configs: [{ webhook_url: '${ep.url}/webhookb2/x' }]`);
    expect(await t.send(sampleNotification(), signal())).toEqual({ ok: true, retry: false });
    expect(card.parse(ep.got.at(-1)!.json)).toMatchObject({ title: '[FIRING:2] HighLatency (api page)', themeColor: '8C1A1A' });
  });
});
