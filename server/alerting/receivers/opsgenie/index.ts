/**
 * Opsgenie: Alert API v2. A firing group creates (or, by alias, updates) an alert; a resolved
 * one closes it: POST {api_url}v2/alerts and {api_url}v2/alerts/{alias}/close?identifierType=alias,
 * with `Authorization: GenieKey <api_key>`. The alias is the SHA-256 of the group key.
 */
import { z } from 'zod';
import type { Notification } from '../../receivers.js';
import { httpIntegration } from '../http.js';
import { commonFields, defineReceiver, durationMs, expandValue, templateErrors, textField, truncate } from '../kind.js';
import { alertsURL, commonAnnotations, firingResolvedText, SENDER, status, subject } from '../messages.js';
import { dedupKey } from '../pagerduty/index.js';
import { resolveSecret } from '../secret.js';

const responder = z.strictObject({ id: z.string().optional(), name: z.string().optional(), username: z.string().optional(), type: z.string() });

const opsgenieSchema = z.strictObject({
  ...commonFields,
  api_key: z.string().optional(),
  api_key_file: z.string().optional(),
  api_url: z.string().optional(),
  message: z.string().optional(),
  description: z.string().optional(),
  source: z.string().optional(),
  details: z.record(z.string(), z.string()).optional(),
  entity: z.string().optional(),
  responders: z.array(responder).optional(),
  actions: z.string().optional(),
  tags: z.string().optional(),
  note: z.string().optional(),
  priority: z.string().optional(),
  update_alerts: z.boolean().optional(),
  timeout: durationMs.optional(),
});
type OpsgenieConfig = z.infer<typeof opsgenieSchema>;

const TEMPLATED = ['message', 'description', 'source', 'entity', 'actions', 'tags', 'note', 'priority'];

const defaultDescription = (n: Notification) => {
  const ann = commonAnnotations(n);
  return [Object.keys(ann).sort().map((k) => ann[k]).join(' '), firingResolvedText(n)].filter(Boolean).join('\n');
};

/** The create-alert body. */
function opsgenieAlert(c: OpsgenieConfig, n: Notification) {
  const list = (s: string | undefined) => expandValue(s, n).split(',').map((x) => x.trim()).filter(Boolean);
  const body: Record<string, unknown> = {
    // Opsgenie truncates nothing itself: a message over 130 characters is refused.
    message: truncate(textField(c.message, subject)(n), 130),
    alias: dedupKey(n.groupKey),
    description: truncate(textField(c.description, defaultDescription)(n), 15000),
    details: Object.fromEntries(Object.entries(c.details ?? {}).map(([k, v]) => [k, expandValue(v, n)])),
    source: textField(c.source, () => alertsURL(n))(n),
  };
  if (c.responders?.length) body.responders = c.responders;
  const tags = list(c.tags);
  if (tags.length) body.tags = tags;
  const actions = list(c.actions);
  if (actions.length) body.actions = actions;
  for (const k of ['note', 'priority', 'entity'] as const) {
    const v = expandValue(c[k], n);
    if (v) body[k] = v;
  }
  return body;
}

export const opsgenie = defineReceiver({
  key: 'opsgenie_configs',
  name: 'opsgenie',
  sendResolved: true,
  globals: { opsgenie_api_key: 'api_key', opsgenie_api_key_file: 'api_key_file', opsgenie_api_url: 'api_url' },
  schema: opsgenieSchema,
  check(c) {
    const out = templateErrors(c, [...TEMPLATED, 'details']);
    if ((c.api_key === undefined) === (c.api_key_file === undefined)) out.push([['api_key'], 'give exactly one of api_key and api_key_file (or global.opsgenie_api_key)']);
    if (c.priority && !c.priority.includes('{{') && !/^P[1-5]$/.test(c.priority)) out.push([['priority'], 'must be P1, P2, P3, P4 or P5']);
    return out;
  },
  create(c) {
    const base = (c.api_url ?? 'https://api.opsgenie.com/').replace(/\/?$/, '/');
    return httpIntegration(this, c, async (n) => {
      const headers = { authorization: `GenieKey ${(await resolveSecret(c.api_key, c.api_key_file)) ?? ''}` };
      if (status(n) === 'resolved') return { url: `${base}v2/alerts/${dedupKey(n.groupKey)}/close?identifierType=alias`, body: { source: SENDER }, headers };
      return { url: `${base}v2/alerts`, body: opsgenieAlert(c, n), headers };
    });
  },
});
