/**
 * Slack: an incoming webhook (api_url) or the Web API's chat.postMessage (app_token, or a bot
 * token in http_config.authorization, with app_url / api_url pointing at chat.postMessage). The
 * body is Slack's legacy attachment message, the shape Alertmanager sends; Slack answers
 * 200 {"ok": false, "error": ...} for a refused message, which is a failure.
 */
import { z } from 'zod';
import type { Notification } from '../../receivers.js';
import { httpIntegration, okField } from '../http.js';
import { commonFields, defineReceiver, durationMs, expandValue, templateErrors, textField, truncate } from '../kind.js';
import { alertsURL, SENDER, status, subject } from '../messages.js';
import { resolveSecret } from '../secret.js';

const field = z.strictObject({ title: z.string(), value: z.string(), short: z.boolean().optional() });
const action = z.strictObject({
  type: z.string(),
  text: z.string(),
  url: z.string().optional(),
  style: z.string().optional(),
  name: z.string().optional(),
  value: z.string().optional(),
  confirm: z.strictObject({ text: z.string(), dismiss_text: z.string().optional(), ok_text: z.string().optional(), title: z.string().optional() }).optional(),
});

const slackSchema = z.strictObject({
  ...commonFields,
  api_url: z.string().optional(),
  api_url_file: z.string().optional(),
  app_token: z.string().optional(),
  app_token_file: z.string().optional(),
  app_url: z.string().optional(),
  channel: z.string().optional(),
  username: z.string().optional(),
  color: z.string().optional(),
  title: z.string().optional(),
  title_link: z.string().optional(),
  pretext: z.string().optional(),
  text: z.string().optional(),
  fields: z.array(field).optional(),
  short_fields: z.boolean().optional(),
  footer: z.string().optional(),
  fallback: z.string().optional(),
  callback_id: z.string().optional(),
  icon_emoji: z.string().optional(),
  icon_url: z.string().optional(),
  image_url: z.string().optional(),
  thumb_url: z.string().optional(),
  link_names: z.boolean().optional(),
  mrkdwn_in: z.array(z.string()).optional(),
  actions: z.array(action).optional(),
  timeout: durationMs.optional(),
});
type SlackConfig = z.infer<typeof slackSchema>;

const TEMPLATED = ['channel', 'username', 'color', 'title', 'title_link', 'pretext', 'text', 'footer', 'fallback', 'callback_id', 'icon_emoji', 'icon_url', 'image_url', 'thumb_url'];

/** The chat.postMessage / incoming-webhook body. */
function slackMessage(c: SlackConfig, n: Notification) {
  const title = textField(c.title, subject)(n);
  const titleLink = textField(c.title_link, alertsURL)(n);
  const attachment: Record<string, unknown> = {
    // Slack rejects a title over 1024 characters (Alertmanager truncates too).
    title: truncate(title, 1024),
    title_link: titleLink,
    pretext: textField(c.pretext, () => '')(n),
    text: textField(c.text, () => '')(n),
    fallback: textField(c.fallback, (x: Notification) => `${subject(x)} | ${alertsURL(x)}`)(n),
    callback_id: textField(c.callback_id, () => '')(n),
    footer: textField(c.footer, () => '')(n),
    color: textField(c.color, (x: Notification) => (status(x) === 'firing' ? 'danger' : 'good'))(n),
    mrkdwn_in: c.mrkdwn_in ?? ['fallback', 'pretext', 'text'],
  };
  const img = textField(c.image_url, () => '')(n);
  if (img) attachment.image_url = img;
  const thumb = textField(c.thumb_url, () => '')(n);
  if (thumb) attachment.thumb_url = thumb;
  if (c.fields?.length) attachment.fields = c.fields.map((f) => ({ title: expandValue(f.title, n), value: expandValue(f.value, n), short: f.short ?? c.short_fields ?? false }));
  if (c.actions?.length) attachment.actions = c.actions;
  const msg: Record<string, unknown> = {
    channel: textField(c.channel, () => '')(n),
    username: textField(c.username, () => SENDER)(n),
    attachments: [attachment],
  };
  const emoji = textField(c.icon_emoji, () => '')(n);
  const icon = textField(c.icon_url, () => '')(n);
  if (emoji) msg.icon_emoji = emoji;
  if (icon) msg.icon_url = icon;
  if (c.link_names) msg.link_names = true;
  return msg;
}

export const slack = defineReceiver({
  key: 'slack_configs',
  name: 'slack',
  sendResolved: false,
  globals: { slack_api_url: 'api_url', slack_api_url_file: 'api_url_file', slack_app_token: 'app_token', slack_app_token_file: 'app_token_file', slack_app_url: 'app_url' },
  schema: slackSchema,
  check(c) {
    const out = templateErrors(c, TEMPLATED);
    const hasApp = c.app_token !== undefined || c.app_token_file !== undefined;
    if (!hasApp && c.api_url === undefined && c.api_url_file === undefined) out.push([['api_url'], 'give api_url (or api_url_file, or global.slack_api_url) or app_token']);
    if (c.api_url !== undefined && c.api_url_file !== undefined) out.push([['api_url'], 'give api_url or api_url_file, not both']);
    return out;
  },
  create(c) {
    return httpIntegration(this, c, async (n) => {
      const token = await resolveSecret(c.app_token, c.app_token_file);
      const body = slackMessage(c, n);
      if (token !== undefined) return { url: c.app_url ?? 'https://slack.com/api/chat.postMessage', headers: { authorization: `Bearer ${token}` }, body, checkBody: okField };
      return { url: (await resolveSecret(c.api_url, c.api_url_file)) ?? '', body, checkBody: okField };
    });
  },
});
