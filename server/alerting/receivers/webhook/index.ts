/** Alertmanager's webhook: the JSON body of notify/webhook (version 4) POSTed to a URL. */
import { z } from 'zod';
import { webhookPayload } from '../../receivers.js';
import { httpIntegration } from '../http.js';
import { commonFields, defineReceiver, durationMs } from '../kind.js';
import { resolveSecret } from '../secret.js';

const webhookSchema = z.strictObject({
  ...commonFields,
  url: z.string().optional(),
  url_file: z.string().optional(),
  max_alerts: z.number().int().nonnegative().optional(),
  timeout: durationMs.optional(),
});

const httpURL = (s: string) => {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
};

export const webhook = defineReceiver({
  key: 'webhook_configs',
  name: 'webhook',
  sendResolved: true,
  schema: webhookSchema,
  check(c) {
    if ((c.url === undefined) === (c.url_file === undefined)) return [[['url'], 'a webhook needs exactly one of url and url_file']];
    if (c.url !== undefined && !httpURL(c.url)) return [[['url'], 'must be an http:// or https:// URL']];
    return [];
  },
  create(c) {
    // url_file is read at each send, as Alertmanager does, never when the config is loaded.
    return httpIntegration(this, c, async (n) => {
      const url = (await resolveSecret(c.url, c.url_file)) ?? '';
      if (!httpURL(url)) throw new Error('url_file does not hold an http:// or https:// URL');
      return { url, body: webhookPayload(n, c.max_alerts ?? 0) };
    });
  },
});
