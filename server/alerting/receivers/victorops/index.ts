/**
 * VictorOps (Splunk On-Call): the REST endpoint integration, POST {api_url}{api_key}/{routing_key}
 * with one incident per aggregation group (entity_id = SHA-256 of the group key): message_type
 * CRITICAL (or the configured INFO/WARNING) while firing, RECOVERY when resolved, as
 * Alertmanager's victorops_configs. api_key and api_url default to global.victorops_api_key(_file)
 * and global.victorops_api_url.
 */
import { z } from 'zod';
import type { Notification } from '../../receivers.js';
import { httpIntegration, requiredSecret } from '../http.js';
import { commonFields, defineReceiver, durationMs, expandValue, templateErrors, textField, truncate } from '../kind.js';
import { annotationsAndAlerts, SENDER, status, subject } from '../messages.js';
import { dedupKey } from '../pagerduty/index.js';

/** Fields the message sets itself: custom_fields may not override them. */
const RESERVED = ['routing_key', 'message_type', 'state_message', 'entity_display_name', 'monitoring_tool', 'entity_id', 'entity_state'];

const victoropsSchema = z.strictObject({
  ...commonFields,
  api_key: z.string().optional(),
  api_key_file: z.string().optional(),
  api_url: z.string().optional(),
  routing_key: z.string(),
  message_type: z.string().optional(),
  state_message: z.string().optional(),
  entity_display_name: z.string().optional(),
  monitoring_tool: z.string().optional(),
  custom_fields: z.record(z.string(), z.string()).optional(),
  timeout: durationMs.optional(),
});
type Config = z.infer<typeof victoropsSchema>;

const STATE_MESSAGE_MAX = 20480;
const FIRING_TYPES = new Set(['INFO', 'WARNING', 'CRITICAL']);

function victoropsMessage(c: Config, n: Notification): Record<string, string> {
  const configured = textField(c.message_type, () => 'CRITICAL')(n);
  const msg: Record<string, string> = {
    message_type: status(n) === 'resolved' ? 'RECOVERY' : FIRING_TYPES.has(configured) ? configured : 'CRITICAL',
    entity_id: dedupKey(n.groupKey),
    entity_display_name: textField(c.entity_display_name, subject)(n),
    state_message: truncate(textField(c.state_message, annotationsAndAlerts)(n), STATE_MESSAGE_MAX),
    monitoring_tool: textField(c.monitoring_tool, () => SENDER)(n),
  };
  for (const [k, v] of Object.entries(c.custom_fields ?? {})) msg[k] = expandValue(v, n);
  return msg;
}

export const victorops = defineReceiver({
  key: 'victorops_configs',
  name: 'victorops',
  sendResolved: true,
  globals: { victorops_api_key: 'api_key', victorops_api_key_file: 'api_key_file', victorops_api_url: 'api_url' },
  schema: victoropsSchema,
  check(c) {
    const out = templateErrors(c, ['routing_key', 'message_type', 'state_message', 'entity_display_name', 'monitoring_tool', 'custom_fields']);
    if (!c.routing_key) out.push([['routing_key'], 'must not be empty']);
    if ((c.api_key === undefined) === (c.api_key_file === undefined)) out.push([['api_key'], 'give exactly one of api_key and api_key_file (or global.victorops_api_key)']);
    for (const k of RESERVED) if (c.custom_fields?.[k] !== undefined) out.push([['custom_fields', k], `"${k}" is set by the message itself and cannot be a custom field`]);
    return out;
  },
  create(c) {
    const base = (c.api_url ?? 'https://alert.victorops.com/integrations/generic/20131114/alert/').replace(/\/?$/, '/');
    return httpIntegration(this, c, async (n) => {
      const key = await requiredSecret(c.api_key, c.api_key_file, 'api_key');
      return { url: `${base}${encodeURIComponent(key)}/${encodeURIComponent(expandValue(c.routing_key, n))}`, body: victoropsMessage(c, n) };
    });
  },
});
