import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { allResolved, endpoint, integrationsOf, sampleNotification, signal } from '../testing.js';

// Slack's message payload with legacy attachments (api.slack.com/reference/messaging/attachments).
const attachment = z.strictObject({
  title: z.string().max(1024),
  title_link: z.url(),
  pretext: z.string(),
  text: z.string(),
  fallback: z.string().min(1),
  callback_id: z.string(),
  footer: z.string(),
  color: z.union([z.enum(['good', 'warning', 'danger']), z.string().regex(/^#[0-9a-fA-F]{6}$/)]),
  mrkdwn_in: z.array(z.enum(['pretext', 'text', 'fields', 'fallback'])),
  fields: z.array(z.strictObject({ title: z.string(), value: z.string(), short: z.boolean() })).optional(),
  image_url: z.string().optional(),
  thumb_url: z.string().optional(),
  actions: z.array(z.unknown()).optional(),
});
const message = z.strictObject({ channel: z.string(), username: z.string(), icon_emoji: z.string().optional(), icon_url: z.string().optional(), link_names: z.boolean().optional(), attachments: z.array(attachment).length(1) });

let ep: Awaited<ReturnType<typeof endpoint>>;
beforeAll(async () => {
  ep = await endpoint((c) => (c.path === '/api/chat.postMessage' && c.json.channel === '#nope' ? { status: 200, body: '{"ok":false,"error":"channel_not_found"}' } : c.path.startsWith('/api') ? { status: 200, body: '{"ok":true}' } : { status: 200, body: 'ok' }));
});
afterAll(() => ep.close());

describe('slack', () => {
  it('posts the attachment message Alertmanager sends to an incoming webhook, with the default wording', async () => {
    const [s] = integrationsOf(`    slack_configs: [{ channel: '#ops', send_resolved: true, fields: [{ title: env, value: prod }] }]`, `  slack_api_url: ${ep.url}/services/T0/B0/x`);
    expect(await s.send(sampleNotification(), signal())).toEqual({ ok: true, retry: false });
    const got = ep.got.at(-1)!;
    expect(got.path).toBe('/services/T0/B0/x');
    const m = message.parse(got.json);
    expect(m).toMatchObject({ channel: '#ops', username: 'Metronome' });
    expect(m.attachments[0]).toMatchObject({
      title: '[FIRING:2] HighLatency (api page)',
      title_link: 'http://metronome:8080/#/alerts?receiver=team-api',
      color: 'danger',
      fallback: '[FIRING:2] HighLatency (api page) | http://metronome:8080/#/alerts?receiver=team-api',
      fields: [{ title: 'env', value: 'prod', short: false }],
    });
    expect(s.sendResolved).toBe(true);
    await s.send(allResolved(), signal());
    expect(message.parse(ep.got.at(-1)!.json).attachments[0]).toMatchObject({ title: '[RESOLVED] HighLatency (api page)', color: 'good' });
  });

  it('calls chat.postMessage with the app token and treats {"ok": false} as a failure', async () => {
    const [s] = integrationsOf(`    slack_configs: [{ app_token: xoxb-1, app_url: '${ep.url}/api/chat.postMessage', channel: '#ops' }]`);
    expect(await s.send(sampleNotification(), signal())).toEqual({ ok: true, retry: false });
    expect(ep.got.at(-1)!.headers.authorization).toBe('Bearer xoxb-1');
    message.parse(ep.got.at(-1)!.json);
    const [bad] = integrationsOf(`    slack_configs: [{ app_token: xoxb-1, app_url: '${ep.url}/api/chat.postMessage', channel: '#nope' }]`);
    const r = await bad.send(sampleNotification(), signal());
    expect(r).toMatchObject({ ok: false, retry: false });
    expect(r.error).toContain('channel_not_found');
    expect(r.error).not.toContain('xoxb');
  });

  it('refuses a config with no URL or token, naming the field', () => {
    expect(() => integrationsOf(`    slack_configs: [{ channel: '#ops' }]`)).toThrow(/slack_configs\[0\]\.api_url: give api_url/);
  });
});
