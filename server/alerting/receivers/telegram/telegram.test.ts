import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { endpoint, integrationsOf, sampleNotification, signal } from '../testing.js';

// Bot API sendMessage (core.telegram.org/bots/api#sendmessage).
const sendMessage = z.strictObject({
  chat_id: z.union([z.number().int(), z.string()]),
  message_thread_id: z.number().int().optional(),
  text: z.string().min(1).max(4096),
  parse_mode: z.enum(['HTML', 'Markdown', 'MarkdownV2']).optional(),
  disable_notification: z.boolean().optional(),
});

let ep: Awaited<ReturnType<typeof endpoint>>;
beforeAll(async () => {
  ep = await endpoint((c, n) =>
    c.json?.chat_id === -1 ? { status: 400, body: '{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}' } : n === 1 ? { status: 429, headers: { 'retry-after': '3' }, body: '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}' } : { status: 200, body: '{"ok":true,"result":{}}' },
  );
});
afterAll(() => ep.close());

describe('telegram', () => {
  it('sends the alert list as escaped HTML to the chat, and honours 429', async () => {
    const [t] = integrationsOf(`    telegram_configs: [{ bot_token: '123:abc', chat_id: -1001, message_thread_id: 7 }]`, `  telegram_api_url: ${ep.url}`);
    const n = sampleNotification();
    n.alerts[0].alert.annotations.summary = 'p99 > 2s <b>';
    expect(await t.send(n, signal())).toEqual({ ok: true, retry: false });
    const got = ep.got.at(-1)!;
    expect(got.path).toBe('/bot123:abc/sendMessage');
    const m = sendMessage.parse(got.json);
    expect(m).toMatchObject({ chat_id: -1001, message_thread_id: 7, parse_mode: 'HTML', disable_notification: false });
    expect(m.text).toContain('Alerts Firing:');
    expect(m.text).toContain('p99 &gt; 2s &lt;b&gt;');
    const r = await t.send(n, signal());
    expect(r).toMatchObject({ ok: false, retry: true, retryAfterMs: 3000 });
    expect(r.error).not.toContain('123:abc');
  });

  it('fails without retrying when Telegram refuses the message', async () => {
    const [t] = integrationsOf(`    telegram_configs: [{ bot_token: '1:x', chat_id: -1, api_url: '${ep.url}' }]`);
    expect(await t.send(sampleNotification(), signal())).toMatchObject({ ok: false, retry: false, error: expect.stringContaining('chat not found') });
  });
});
