/**
 * Microsoft Teams through an Office 365 connector (incoming webhook): a legacy MessageCard with
 * title, summary, text and a colour (Alertmanager's msteams_configs). Microsoft is retiring
 * connectors; msteamsv2_configs (workflows) is the replacement.
 */
import { z } from 'zod';
import type { Notification } from '../../receivers.js';
import { httpIntegration } from '../http.js';
import { commonFields, defineReceiver, durationMs, templateErrors, textField } from '../kind.js';
import { firingResolvedText, status, subject } from '../messages.js';
import { resolveSecret } from '../secret.js';

const msteamsSchema = z.strictObject({
  ...commonFields,
  webhook_url: z.string().optional(),
  webhook_url_file: z.string().optional(),
  title: z.string().optional(),
  summary: z.string().optional(),
  text: z.string().optional(),
  timeout: durationMs.optional(),
});
type Config = z.infer<typeof msteamsSchema>;

function messageCard(c: Config, n: Notification) {
  return {
    '@context': 'http://schema.org/extensions',
    type: 'MessageCard',
    title: textField(c.title, subject)(n),
    summary: textField(c.summary, subject)(n),
    text: textField(c.text, (x: Notification) => firingResolvedText(x, '# ').replace(/\n/g, '\n\n'))(n),
    themeColor: status(n) === 'firing' ? '8C1A1A' : '2DC72D',
  };
}

export const msteams = defineReceiver({
  key: 'msteams_configs',
  name: 'msteams',
  sendResolved: true,
  schema: msteamsSchema,
  check(c) {
    const out = templateErrors(c, ['title', 'summary', 'text']);
    if ((c.webhook_url === undefined) === (c.webhook_url_file === undefined)) out.push([['webhook_url'], 'give exactly one of webhook_url and webhook_url_file']);
    return out;
  },
  create(c) {
    return httpIntegration(this, c, async (n) => ({ url: (await resolveSecret(c.webhook_url, c.webhook_url_file)) ?? '', body: messageCard(c, n) }));
  },
});
