/**
 * Webex: the Messages API ("Create a Message", POST {api_url}) to a room, as Markdown, with the
 * bot's token in http_config.authorization (Alertmanager's webex_configs; api_url defaults to
 * global.webex_api_url, then Webex's endpoint).
 */
import { z } from 'zod';
import type { Notification } from '../../receivers.js';
import { httpIntegration } from '../http.js';
import { commonFields, defineReceiver, durationMs, expandValue, templateErrors, textField } from '../kind.js';
import { annotationsAndAlerts } from '../messages.js';

const webexSchema = z.strictObject({
  ...commonFields,
  api_url: z.string().optional(),
  room_id: z.string(),
  message: z.string().optional(),
  timeout: durationMs.optional(),
});
type Config = z.infer<typeof webexSchema>;

/** Webex refuses a message over 7439 bytes. */
const MAX_BYTES = 7439;

/** Cut to at most `max` UTF-8 bytes without splitting a character. */
export function truncateBytes(s: string, max: number): string {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= max) return s;
  let end = max;
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}

function webexMessage(c: Config, n: Notification) {
  return { markdown: truncateBytes(textField(c.message, annotationsAndAlerts)(n), MAX_BYTES), roomId: expandValue(c.room_id, n) };
}

export const webex = defineReceiver({
  key: 'webex_configs',
  name: 'webex',
  sendResolved: true,
  globals: { webex_api_url: 'api_url' },
  schema: webexSchema,
  check(c) {
    const out = templateErrors(c, ['message', 'room_id']);
    if (!c.room_id) out.push([['room_id'], 'must not be empty']);
    const auth = c.http_config?.authorization;
    if (!auth || (auth.credentials === undefined && auth.credentials_file === undefined)) out.push([['http_config', 'authorization'], "give the bot's access token as http_config.authorization.credentials (or credentials_file)"]);
    return out;
  },
  create(c) {
    const url = c.api_url ?? 'https://webexapis.com/v1/messages';
    return httpIntegration(this, c, async (n) => ({ url, body: webexMessage(c, n) }));
  },
});
