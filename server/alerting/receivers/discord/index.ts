/**
 * Discord: an incoming webhook's "Execute Webhook" with one embed (the subject as its title, the
 * alert list as its description, red while firing and green when resolved) and optional
 * content, username and avatar (Alertmanager's discord_configs). Discord answers 429 with
 * Retry-After when a webhook posts too fast; the send queue waits that long.
 */
import { z } from 'zod';
import type { Notification } from '../../receivers.js';
import { httpIntegration, requiredSecret } from '../http.js';
import { commonFields, defineReceiver, durationMs, templateErrors, textField, truncate } from '../kind.js';
import { firingResolvedText, status, subject } from '../messages.js';

const discordSchema = z.strictObject({
  ...commonFields,
  webhook_url: z.string().optional(),
  webhook_url_file: z.string().optional(),
  content: z.string().optional(),
  title: z.string().optional(),
  message: z.string().optional(),
  username: z.string().optional(),
  avatar_url: z.string().optional(),
  timeout: durationMs.optional(),
});
type Config = z.infer<typeof discordSchema>;

// Discord's limits (characters): longer fields are refused, so they are cut with "…" here.
const TITLE_MAX = 256;
const DESCRIPTION_MAX = 4096;
const CONTENT_MAX = 2000;
const RED = 0x992d22;
const GREEN = 0x2ecc71;

function discordMessage(c: Config, n: Notification) {
  const body: Record<string, unknown> = {
    content: truncate(textField(c.content, () => '')(n), CONTENT_MAX),
    embeds: [
      {
        title: truncate(textField(c.title, subject)(n), TITLE_MAX),
        description: truncate(textField(c.message, (x: Notification) => firingResolvedText(x))(n), DESCRIPTION_MAX),
        color: status(n) === 'firing' ? RED : GREEN,
      },
    ],
  };
  if (c.username) body.username = c.username;
  if (c.avatar_url && URL.canParse(c.avatar_url)) body.avatar_url = c.avatar_url;
  return body;
}

export const discord = defineReceiver({
  key: 'discord_configs',
  name: 'discord',
  sendResolved: true,
  schema: discordSchema,
  check(c) {
    const out = templateErrors(c, ['content', 'title', 'message']);
    if ((c.webhook_url === undefined) === (c.webhook_url_file === undefined)) out.push([['webhook_url'], 'give exactly one of webhook_url and webhook_url_file']);
    return out;
  },
  create(c) {
    return httpIntegration(this, c, async (n) => ({ url: await requiredSecret(c.webhook_url, c.webhook_url_file, 'webhook_url'), body: discordMessage(c, n) }));
  },
});
