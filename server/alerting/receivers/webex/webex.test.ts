import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { endpoint, integrationsOf, signal, templated } from '../testing.js';
import { truncateBytes } from './index.js';

// Webex Messages API, "Create a Message" (developer.webex.com/docs/api/v1/messages/create-a-message):
// a room and Markdown of at most 7439 bytes.
const createMessage = z.strictObject({ roomId: z.string().min(1), markdown: z.string().refine((s) => Buffer.byteLength(s) <= 7439, 'over 7439 bytes') });

let ep: Awaited<ReturnType<typeof endpoint>>;
beforeAll(async () => {
  ep = await endpoint((c, i) => (i === 1 ? { status: 429, headers: { 'retry-after': '5' }, body: '{"message":"Too Many Requests"}' } : { status: 200, body: `{"id":"m${i}","roomId":"${c.json?.roomId}"}` }));
});
afterAll(() => ep.close());

describe('webex', () => {
  it("posts the annotations and the alert list as Markdown to the room with the bot's token, and honours 429", async () => {
    const [w] = integrationsOf(`    webex_configs: [{ room_id: 'Y2lzY29zcGFyazovL3VzL1JPT00v{{ .CommonLabels.job }}', http_config: { authorization: { credentials: bot-token } } }]`, `  webex_api_url: ${ep.url}/v1/messages`);
    const n = templated();
    n.alerts = n.alerts.map((a) => ({ ...a, alert: { ...a.alert, annotations: { summary: 'latency high' } } }));
    expect(await w.send(n, signal())).toEqual({ ok: true, retry: false });
    const got = ep.got.at(-1)!;
    expect(got.path).toBe('/v1/messages');
    expect(got.headers.authorization).toBe('Bearer bot-token');
    const m = createMessage.parse(got.json);
    expect(m.roomId).toBe('Y2lzY29zcGFyazovL3VzL1JPT00vapi');
    expect(m.markdown.startsWith('latency high\nAlerts Firing:\nLabels:\n')).toBe(true);
    expect(await w.send(n, signal())).toMatchObject({ ok: false, retry: true, retryAfterMs: 5000 });
  });

  it('cuts a long message at 7439 bytes without splitting a character', () => {
    const s = 'é'.repeat(4000);
    const cut = truncateBytes(s, 7439);
    expect(Buffer.byteLength(cut)).toBe(7438);
    expect(cut).toBe('é'.repeat(3719));
  });

  it('needs a room and the authorization credentials', () => {
    expect(() => integrationsOf(`    webex_configs: [{ http_config: { authorization: { credentials: t } } }]`)).toThrow(/webex_configs\[0\]\.room_id: is required/);
    expect(() => integrationsOf(`    webex_configs: [{ room_id: r }]`)).toThrow(/webex_configs\[0\]\.http_config\.authorization: give the bot's access token/);
  });
});
