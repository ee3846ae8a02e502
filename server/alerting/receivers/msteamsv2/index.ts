/**
 * Microsoft Teams through a Power Automate workflow ("Post to a channel when a webhook request is
 * received"): a message whose attachment is an Adaptive Card (schema 1.2) with the subject as a
 * heading, the alert list, and a button to the alerts (Alertmanager's msteamsv2_configs).
 */
import { z } from 'zod';
import type { Notification } from '../../receivers.js';
import { httpIntegration } from '../http.js';
import { commonFields, defineReceiver, durationMs, templateErrors, textField } from '../kind.js';
import { alertsURL, firingResolvedText, status, subject } from '../messages.js';
import { resolveSecret } from '../secret.js';

const msteamsv2Schema = z.strictObject({
  ...commonFields,
  webhook_url: z.string().optional(),
  webhook_url_file: z.string().optional(),
  title: z.string().optional(),
  text: z.string().optional(),
  timeout: durationMs.optional(),
});
type Config = z.infer<typeof msteamsv2Schema>;

/** Markdown line breaks in a TextBlock need a blank line; lists keep theirs. */
const teamsText = (n: Notification) => firingResolvedText(n, '# ').replace(/\n/g, '\n\n');

function adaptiveCardMessage(c: Config, n: Notification) {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.2',
          body: [
            { type: 'TextBlock', text: textField(c.title, subject)(n), weight: 'Bolder', size: 'Medium', wrap: true, style: 'heading', color: status(n) === 'firing' ? 'Attention' : 'Good' },
            { type: 'TextBlock', text: textField(c.text, teamsText)(n), wrap: true },
          ],
          actions: [{ type: 'Action.OpenUrl', title: 'View alerts', url: alertsURL(n) }],
          msteams: { width: 'full' },
        },
      },
    ],
  };
}

export const msteamsv2 = defineReceiver({
  key: 'msteamsv2_configs',
  name: 'msteamsv2',
  sendResolved: true,
  schema: msteamsv2Schema,
  check(c) {
    const out = templateErrors(c, ['title', 'text']);
    if ((c.webhook_url === undefined) === (c.webhook_url_file === undefined)) out.push([['webhook_url'], 'give exactly one of webhook_url and webhook_url_file']);
    return out;
  },
  create(c) {
    return httpIntegration(this, c, async (n) => ({ url: (await resolveSecret(c.webhook_url, c.webhook_url_file)) ?? '', body: adaptiveCardMessage(c, n) }));
  },
});
