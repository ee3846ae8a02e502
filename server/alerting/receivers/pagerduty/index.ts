/**
 * PagerDuty: Events API v2 with a routing_key (trigger while any alert of the group fires,
 * resolve when all resolved; dedup_key = SHA-256 of the group key, so one incident per group),
 * or the v1 generic API with a service_key. Field sizes follow PagerDuty's limits
 * (summary 1024 characters).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Notification } from '../../receivers.js';
import { httpIntegration } from '../http.js';
import { commonFields, defineReceiver, durationMs, expandValue, templateErrors, textField, truncate } from '../kind.js';
import { alertList, alertsURL, firing, resolved, SENDER, status, subject } from '../messages.js';
import { resolveSecret } from '../secret.js';

const pagerdutySchema = z.strictObject({
  ...commonFields,
  routing_key: z.string().optional(),
  routing_key_file: z.string().optional(),
  service_key: z.string().optional(),
  service_key_file: z.string().optional(),
  url: z.string().optional(),
  client: z.string().optional(),
  client_url: z.string().optional(),
  description: z.string().optional(),
  details: z.record(z.string(), z.string()).optional(),
  images: z.array(z.strictObject({ src: z.string(), alt: z.string().optional(), href: z.string().optional() })).optional(),
  links: z.array(z.strictObject({ href: z.string(), text: z.string().optional() })).optional(),
  source: z.string().optional(),
  severity: z.string().optional(),
  class: z.string().optional(),
  component: z.string().optional(),
  group: z.string().optional(),
  timeout: durationMs.optional(),
});
type PagerdutyConfig = z.infer<typeof pagerdutySchema>;

const TEMPLATED = ['client', 'client_url', 'description', 'source', 'severity', 'class', 'component', 'group'];

/** One incident per aggregation group. */
export const dedupKey = (groupKey: string) => createHash('sha256').update(groupKey).digest('hex');

function details(c: PagerdutyConfig, n: Notification): Record<string, string> {
  if (c.details) {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(c.details)) out[k] = expandValue(v, n);
    return out;
  }
  return { firing: alertList(firing(n)), resolved: alertList(resolved(n)), num_firing: String(firing(n).length), num_resolved: String(resolved(n).length) };
}

/** The Events API v2 body. */
function pagerdutyEvent(c: PagerdutyConfig, routingKey: string, n: Notification) {
  const st = status(n);
  const client = textField(c.client, () => SENDER)(n);
  const ev: Record<string, unknown> = {
    routing_key: routingKey,
    event_action: st === 'firing' ? 'trigger' : 'resolve',
    dedup_key: dedupKey(n.groupKey),
    payload: {
      summary: truncate(textField(c.description, subject)(n), 1024),
      source: textField(c.source, () => client)(n),
      severity: textField(c.severity, () => 'error')(n),
      custom_details: details(c, n),
      ...(c.class ? { class: textField(c.class, () => '')(n) } : {}),
      ...(c.component ? { component: textField(c.component, () => '')(n) } : {}),
      ...(c.group ? { group: textField(c.group, () => '')(n) } : {}),
    },
    client,
    client_url: textField(c.client_url, alertsURL)(n),
  };
  if (c.images?.length) ev.images = c.images;
  if (c.links?.length) ev.links = c.links;
  return ev;
}

/** The v1 generic events body. */
function pagerdutyV1Event(c: PagerdutyConfig, serviceKey: string, n: Notification) {
  return {
    service_key: serviceKey,
    event_type: status(n) === 'firing' ? 'trigger' : 'resolve',
    incident_key: dedupKey(n.groupKey),
    description: truncate(textField(c.description, subject)(n), 1024),
    client: textField(c.client, () => SENDER)(n),
    client_url: textField(c.client_url, alertsURL)(n),
    details: details(c, n),
  };
}

export const pagerduty = defineReceiver({
  key: 'pagerduty_configs',
  name: 'pagerduty',
  sendResolved: true,
  globals: { pagerduty_url: 'url' },
  schema: pagerdutySchema,
  check(c) {
    const out = templateErrors(c, [...TEMPLATED, 'details']);
    const keys = [c.routing_key, c.routing_key_file, c.service_key, c.service_key_file].filter((x) => x !== undefined).length;
    if (keys !== 1) out.push([['routing_key'], 'give exactly one of routing_key, routing_key_file, service_key and service_key_file']);
    return out;
  },
  create(c) {
    const v1 = c.service_key !== undefined || c.service_key_file !== undefined;
    return httpIntegration(this, c, async (n) => {
      if (v1) return { url: c.url ?? 'https://events.pagerduty.com/generic/2010-04-15/create_event.json', body: pagerdutyV1Event(c, (await resolveSecret(c.service_key, c.service_key_file)) ?? '', n) };
      return { url: c.url ?? 'https://events.pagerduty.com/v2/enqueue', body: pagerdutyEvent(c, (await resolveSecret(c.routing_key, c.routing_key_file)) ?? '', n) };
    });
  },
});
