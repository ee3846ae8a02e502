/**
 * Telegram: the Bot API's sendMessage ({api_url}/bot<token>/sendMessage) to a chat, in HTML parse
 * mode by default (the text is escaped for it). Telegram answers {"ok": false, "description"}
 * for a refused message; 429 carries Retry-After.
 */
import { z } from 'zod';
import type { Notification } from '../../receivers.js';
import { httpIntegration, okField } from '../http.js';
import { commonFields, defineReceiver, durationMs, templateErrors, textField, truncate } from '../kind.js';
import { escapeHtml, firingResolvedText } from '../messages.js';
import { resolveSecret } from '../secret.js';

const telegramSchema = z.strictObject({
  ...commonFields,
  api_url: z.string().optional(),
  bot_token: z.string().optional(),
  bot_token_file: z.string().optional(),
  chat_id: z.number().int(),
  message_thread_id: z.number().int().optional(),
  message: z.string().optional(),
  disable_notifications: z.boolean().optional(),
  parse_mode: z.enum(['', 'HTML', 'Markdown', 'MarkdownV2']).optional(),
  timeout: durationMs.optional(),
});
type Config = z.infer<typeof telegramSchema>;

function telegramMessage(c: Config, n: Notification) {
  const mode = c.parse_mode ?? 'HTML';
  const def = (x: Notification) => (mode === 'HTML' ? escapeHtml(firingResolvedText(x)) : firingResolvedText(x));
  const body: Record<string, unknown> = {
    chat_id: c.chat_id,
    // Telegram refuses a message over 4096 characters.
    text: truncate(textField(c.message, def)(n), 4096),
    disable_notification: c.disable_notifications ?? false,
  };
  if (mode) body.parse_mode = mode;
  if (c.message_thread_id !== undefined) body.message_thread_id = c.message_thread_id;
  return body;
}

export const telegram = defineReceiver({
  key: 'telegram_configs',
  name: 'telegram',
  sendResolved: true,
  globals: { telegram_api_url: 'api_url' },
  schema: telegramSchema,
  check(c) {
    const out = templateErrors(c, ['message']);
    if ((c.bot_token === undefined) === (c.bot_token_file === undefined)) out.push([['bot_token'], 'give exactly one of bot_token and bot_token_file']);
    return out;
  },
  create(c) {
    const base = (c.api_url ?? 'https://api.telegram.org').replace(/\/$/, '');
    return httpIntegration(this, c, async (n) => ({
      url: `${base}/bot${(await resolveSecret(c.bot_token, c.bot_token_file)) ?? ''}/sendMessage`,
      body: telegramMessage(c, n),
      checkBody: okField,
    }));
  },
});
