/**
 * Pushover: the Messages API (POST /1/messages.json, form-encoded) with the application token and
 * the user key, emergency priority (2, repeated every `retry` until acknowledged or `expire`)
 * while firing and normal (0) when resolved, as Alertmanager's pushover_configs. The fields go in
 * the body, not the query string, so the token stays out of URLs and logs.
 */
import { z } from 'zod';
import type { Integration, Notification } from '../../receivers.js';
import { httpIntegration, requiredSecret } from '../http.js';
import { commonFields, defineReceiver, durationMs, expandValue, templateErrors, textField, truncate } from '../kind.js';
import { alertsURL, annotationsAndAlerts, escapeHtml, subject } from '../messages.js';

const pushoverSchema = z.strictObject({
  ...commonFields,
  user_key: z.string().optional(),
  user_key_file: z.string().optional(),
  token: z.string().optional(),
  token_file: z.string().optional(),
  title: z.string().optional(),
  message: z.string().optional(),
  url: z.string().optional(),
  url_title: z.string().optional(),
  device: z.string().optional(),
  sound: z.string().optional(),
  priority: z.string().optional(),
  retry: durationMs.optional(),
  expire: durationMs.optional(),
  ttl: durationMs.optional(),
  html: z.boolean().optional(),
  monospace: z.boolean().optional(),
  timeout: durationMs.optional(),
});
export type PushoverConfig = z.infer<typeof pushoverSchema>;
type Config = PushoverConfig;

const PUSHOVER_URL = 'https://api.pushover.net/1/messages.json';
// Pushover's limits (characters).
const TITLE_MAX = 250;
const MESSAGE_MAX = 1024;
const URL_MAX = 512;

const seconds = (ms: number) => String(Math.floor(ms / 1000));

/** The form fields of one message (token and user included). */
function pushoverForm(c: Config, n: Notification, token: string, user: string): URLSearchParams {
  const f = new URLSearchParams();
  f.set('token', token);
  f.set('user', user);
  f.set('title', truncate(textField(c.title, subject)(n), TITLE_MAX));
  if (c.html) f.set('html', '1');
  if (c.monospace) f.set('monospace', '1');
  const def = c.html ? (x: Notification) => escapeHtml(annotationsAndAlerts(x)) : annotationsAndAlerts;
  f.set('message', truncate(textField(c.message, def, c.html)(n), MESSAGE_MAX).trim() || '(no details)');
  f.set('url', truncate(textField(c.url, alertsURL)(n), URL_MAX));
  f.set('url_title', expandValue(c.url_title, n));
  f.set('priority', textField(c.priority, (x: Notification) => (x.alerts.some((a) => a.status === 'firing') ? '2' : '0'))(n));
  f.set('retry', seconds(c.retry ?? 60_000));
  f.set('expire', seconds(c.expire ?? 3_600_000));
  f.set('device', expandValue(c.device, n));
  f.set('sound', expandValue(c.sound, n));
  if (c.ttl) f.set('ttl', seconds(c.ttl));
  return f;
}

/** The integration, sending to `apiURL` (Pushover's unless a test points it elsewhere). */
export function pushoverIntegration(c: Config, apiURL = PUSHOVER_URL): Integration {
  return httpIntegration({ name: 'pushover', sendResolved: true }, c, async (n) => {
    const form = pushoverForm(c, n, await requiredSecret(c.token, c.token_file, 'token'), await requiredSecret(c.user_key, c.user_key_file, 'user_key'));
    return { url: apiURL, raw: { contentType: 'application/x-www-form-urlencoded', text: form.toString() } };
  });
}

export const pushover = defineReceiver({
  key: 'pushover_configs',
  name: 'pushover',
  sendResolved: true,
  schema: pushoverSchema,
  check(c) {
    const out = templateErrors(c, ['title', 'message', 'url', 'url_title', 'device', 'sound', 'priority']);
    if ((c.user_key === undefined) === (c.user_key_file === undefined)) out.push([['user_key'], 'give exactly one of user_key and user_key_file']);
    if ((c.token === undefined) === (c.token_file === undefined)) out.push([['token'], 'give exactly one of token and token_file']);
    if (c.html && c.monospace) out.push([['monospace'], 'give at most one of html and monospace']);
    return out;
  },
  create(c) {
    return pushoverIntegration(c);
  },
});
